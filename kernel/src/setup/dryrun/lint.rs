//! `cargo xtask memmap --lint`: what Linux 6.1 accepts in a tree's memory description silently,
//! or with a line that is easy to miss, found after the dry-run has placed everything. Each
//! finding has a stable ID, a severity, the node's path, the values and one sentence.
//!
//! | ID | severity | finding |
//! |---|---|---|
//! | `rmem-outside-ram` | error | a `/reserved-memory` region or `/memreserve/` entry not wholly inside RAM |
//! | `nomap-unaligned` | warning | a `no-map` region whose base or size is not 2 MiB aligned |
//! | `rmem-overlap` | error | two reserved regions overlap |
//! | `rmem-overlaps-boot` | error | a reserved region overlaps the kernel image, the DTB or the initrd |
//! | `memreserve-overlaps-rmem` | warning | a `/memreserve/` entry overlaps a `/reserved-memory` region |
//! | `alignment-not-power-of-two` | error | `alignment` is not a power of two |
//! | `alignment-larger-than-size` | warning | `alignment` is larger than the region |
//! | `alloc-ranges-outside-ram` | warning | an `alloc-ranges` entry holds no RAM |
//! | `dynamic-unplaced` | error | a size-only region that could not be placed |
//! | `reg-and-size` | warning | a region with both `reg` and `size` |
//! | `reusable-nomap` | error | a region both `reusable` and `no-map` |
//! | `no-hook` | info | a `compatible` that no reserved-memory init hook claims |
//! | `cma-above-dma-limit` | warning | a CMA region above ZONE_DMA's end when the tree limits DMA |
//! | `rmem-cells` | error | `/reserved-memory` without the root's `#address-cells`/`#size-cells` |
//! | `memory-reg-partial` | warning | a memory node's `reg` ending in a partial entry |
//!
//! It reads the tree and the dry-run's results (memblock's memory, the reserved-memory table);
//! it changes nothing and never panics on what a blob holds.

use super::DryRun;
use crate::mm::memblock::{Memblock, MemblockKind};
use crate::of::cells::{cell_count, dt_root, read_number};
use crate::of::chosen::{self, is_available};
use crate::of::fdt::Fdt;
use crate::of::reserved_mem::{ReservedMemOfId, ReservedMemTable};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

const SZ_2M: u64 = 2 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    /// The node's path (`/memreserve/` for a header entry).
    pub node: String,
    /// The values that make it a finding.
    pub values: String,
    /// One sentence: what Linux does with it.
    pub why: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}: {}: {}", self.severity, self.id, self.node, self.values, self.why)
    }
}

/// A reserved region as the tree and the dry-run's placement give it.
struct Region {
    node: String,
    base: u64,
    size: u64,
    memreserve: bool,
}

impl Region {
    fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
    fn overlaps(&self, (base, end): (u64, u64)) -> bool {
        self.base < end && base < self.end()
    }
    fn range(&self) -> String {
        range(self.base, self.end())
    }
}

fn range(base: u64, end: u64) -> String {
    format!("[{base:#x}-{:#x}]", end.wrapping_sub(1))
}

/// What the lint needs from the dry-run besides the tree.
pub struct Placed<'r, 'a> {
    pub mb: &'r Memblock,
    pub reserved: &'r ReservedMemTable<'a>,
    pub opts: &'r DryRun<'r>,
    pub hooks: &'r [ReservedMemOfId],
    /// ZONE_DMA's end (`arm64_dma_phys_limit`).
    pub dma_phys_limit: Option<u64>,
    /// The RAM was assumed, not given (`inputs::fill_empty_memory`): a region outside it is a
    /// warning, as the board's RAM may hold it.
    pub ram_assumed: bool,
    /// The kernel image and the DTB lie where QEMU's loader would put them, not where the
    /// board's bootloader was said to: an overlap with them is a warning.
    pub placement_assumed: bool,
}

/// Every finding for the tree `fdt` once the dry-run has placed it, errors first.
pub fn lint(fdt: &Fdt, placed: &Placed) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |id, severity, node: &str, values: String, why| {
        out.push(Finding { id, severity, node: node.to_string(), values, why });
    };
    let ram: Vec<(u64, u64)> = placed.mb.ty(MemblockKind::Memory).regions().iter().map(|r| (r.base.0, r.base.0.saturating_add(r.size))).collect();
    let in_ram = |base: u64, end: u64| {
        // memblock.memory is sorted and merged: walk it from `base` while it stays contiguous.
        let mut at = base;
        for &(b, e) in &ram {
            if b <= at && at < e {
                at = e;
            }
        }
        at >= end
    };
    let touches_ram = |base: u64, end: u64| ram.iter().any(|&(b, e)| b < end && base < e);

    let root = dt_root(fdt);
    let mut regions: Vec<Region> = fdt
        .memory_reservations()
        .take_while(|&(_, size)| size != 0)
        .map(|(base, size)| Region { node: "/memreserve/".into(), base, size, memreserve: true })
        .collect();
    for node in crate::of::fdt_scan::memory_nodes(fdt) {
        let Some(reg) = node.property("linux,usable-memory").or_else(|| node.property("reg")) else { continue };
        let entry = (root.addr + root.size) as usize * 4;
        if entry > 0 && reg.value.len() % entry != 0 {
            let values = format!("{} of {} bytes, {}-byte entries", reg.name, reg.value.len(), entry);
            add("memory-reg-partial", Severity::Warning, &format!("/{}", node.name), values, "Linux adds the whole entries and ignores the bytes after them, silently.");
        }
    }
    let rmem = fdt.find_node("/reserved-memory");
    let cells_ok = rmem.is_some_and(|n| {
        cell_count(n.property("#address-cells")) == Some(root.addr) && cell_count(n.property("#size-cells")) == Some(root.size)
    });
    if let Some(node) = rmem.filter(|_| !cells_ok) {
        let shown = |p| cell_count(node.property(p)).map_or("missing".into(), |c| format!("<{c}>"));
        let values = format!(
            "#address-cells {}, #size-cells {} where / has <{}>, <{}>",
            shown("#address-cells"),
            shown("#size-cells"),
            root.addr,
            root.size
        );
        add("rmem-cells", Severity::Error, "/reserved-memory", values, "Linux requires both, equal to the root's, and otherwise ignores every region under /reserved-memory (\"unsupported node format, ignoring\").");
    }
    let children = rmem.filter(|_| cells_ok).into_iter().flat_map(|n| n.children()).filter(is_available);
    for child in children {
        let path = format!("/reserved-memory/{}", child.name);
        let (reg, size) = (child.property("reg"), child.property("size"));
        let (nomap, reusable) = (child.property("no-map").is_some(), child.property("reusable").is_some());
        if reg.is_some() && size.is_some() {
            add("reg-and-size", Severity::Warning, &path, "reg and size".into(), "Linux reserves reg and ignores size, alignment and alloc-ranges.");
        }
        if nomap && reusable {
            add("reusable-nomap", Severity::Error, &path, "reusable, no-map".into(), "the OS cannot reuse memory it does not map: Linux's CMA and DMA pool hooks both refuse such a region.");
        }
        let placed_entry = placed.reserved.iter().find(|r| r.node == child.offset());
        let mut mine: Vec<(u64, u64)> = match reg.map(|r| root.reg(r.value)) {
            Some(Ok(entries)) => entries.filter(|&(_, s)| s != 0).collect(),
            Some(Err(_)) => Vec::new(),
            None => placed_entry.filter(|r| r.size != 0).map(|r| (r.base.0, r.size)).into_iter().collect(),
        };
        if reg.is_none() && size.is_some() {
            let want = size.and_then(|p| read_number(p.value, root.size));
            if let Some(want) = want.filter(|_| mine.is_empty()) {
                add("dynamic-unplaced", Severity::Error, &path, format!("size {want:#x}"), "no free RAM satisfies its size, alignment and alloc-ranges, so Linux reserves nothing and its driver finds no memory.");
            }
            if let Some(align) = child.property("alignment").and_then(|p| read_number(p.value, root.addr)) {
                if !align.is_power_of_two() {
                    add("alignment-not-power-of-two", Severity::Error, &path, format!("alignment {align:#x}"), "memblock rounds with masks that assume a power of two, so the region lands at an address that is not a multiple of it.");
                } else if want.is_some_and(|w| align > w) {
                    add("alignment-larger-than-size", Severity::Warning, &path, format!("alignment {align:#x}, size {:#x}", want.unwrap_or(0)), "the alignment wastes up to its own size of RAM below the region; check that it is not meant to be the size.");
                }
            }
            if let Some(Ok(ranges)) = child.property("alloc-ranges").map(|p| root.reg(p.value)) {
                for (b, s) in ranges.filter(|&(b, s)| !touches_ram(b, b.saturating_add(s))) {
                    add("alloc-ranges-outside-ram", Severity::Warning, &path, format!("alloc-ranges {}", range(b, b.saturating_add(s))), "no RAM lies in this range, so Linux never places the region there.");
                }
            }
        }
        if nomap {
            for &(b, s) in &mine {
                if b % SZ_2M != 0 || s % SZ_2M != 0 {
                    add("nomap-unaligned", Severity::Warning, &path, format!("no-map {}", range(b, b.saturating_add(s))), "the linear map must use 4 KiB pages instead of 2 MiB blocks around it, which costs page tables and TLB reach.");
                }
            }
        }
        if child.property("compatible").is_some() && placed_entry.is_some_and(|r| r.owner.is_none() && r.size != 0) {
            let compatible: Vec<&str> = child.compatible().collect();
            add("no-hook", Severity::Info, &path, format!("compatible \"{}\"", compatible.join("\", \"")), "no reserved-memory init hook claims it: the region stays reserved and only a driver that looks it up by phandle uses it.");
        }
        let cma = reusable && !nomap && child.is_compatible("shared-dma-pool");
        if let (true, Some(limit)) = (cma, placed.dma_phys_limit.filter(|_| crate::of::fdt_scan::dma_max_cpu_address(fdt).is_some())) {
            for &(b, s) in mine.iter().filter(|&&(b, s)| b.saturating_add(s) > limit) {
                add("cma-above-dma-limit", Severity::Warning, &path, format!("CMA {} above ZONE_DMA's end {limit:#x}", range(b, b.saturating_add(s))), "the tree's dma-ranges limit DMA, and devices behind them cannot reach this pool's pages.");
            }
        }
        regions.extend(mine.drain(..).map(|(base, size)| Region { node: path.clone(), base, size, memreserve: false }));
    }

    for r in &regions {
        if !in_ram(r.base, r.end()) && placed.ram_assumed {
            add("rmem-outside-ram", Severity::Warning, &r.node, r.range(), "it lies outside the RAM assumed for this tree: give the board's RAM with --mem to check it.");
        } else if !in_ram(r.base, r.end()) {
            add("rmem-outside-ram", Severity::Error, &r.node, r.range(), "Linux reserves or unmaps only the part inside RAM and ignores the rest without a word: either /memory misses RAM, or the memory is not RAM and does not belong in /reserved-memory.");
        }
    }
    for (i, a) in regions.iter().enumerate() {
        for b in regions[i + 1..].iter().filter(|b| b.overlaps((a.base, a.end()))) {
            let values = format!("{} {} and {} {}", a.node, a.range(), b.node, b.range());
            match (a.memreserve, b.memreserve) {
                (false, false) => add("rmem-overlap", Severity::Error, &b.node, values, "Linux prints OVERLAP DETECTED and gives both owners the same memory."),
                (true, true) => {}
                _ => add("memreserve-overlaps-rmem", Severity::Warning, &b.node, values, "the memory is reserved twice, and the /memreserve/ entry keeps it reserved even when the /reserved-memory region's owner frees it."),
            }
        }
    }
    let opts = placed.opts;
    let dtb = (opts.dtb_addr.0, opts.dtb_addr.0.saturating_add(fdt.total_size() as u64));
    let initrd = opts.initrd.or_else(|| chosen::initrd(fdt)).map(|(b, e)| (b.0, e.0));
    let boot = [("kernel image", Some((opts.kernel.0 .0, opts.kernel.1 .0))), ("DTB", Some(dtb)), ("initrd", initrd)];
    for r in &regions {
        for (what, (base, end)) in boot.iter().filter_map(|&(w, r)| Some((w, r?))) {
            let values = format!("{} overlaps the {what} {}", r.range(), range(base, end));
            if base < end && r.overlaps((base, end)) && placed.placement_assumed && what != "initrd" {
                add("rmem-overlaps-boot", Severity::Warning, &r.node, values, "that is where QEMU's loader would put it, so the board's bootloader must put it elsewhere: give --image and --dtb-addr to check its choice.");
            } else if base < end && r.overlaps((base, end)) {
                add("rmem-overlaps-boot", Severity::Error, &r.node, values, "the reservation's owner overwrites what the loader put there, or Linux refuses to boot.");
            }
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity));
    out
}

#[cfg(test)]
mod tests;
