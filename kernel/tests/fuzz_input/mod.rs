//! One fuzz input through the whole host memory setup, with the invariants checked after it:
//! shared by the fuzz target (`fuzz/fuzz_targets/setup.rs`, `cargo xtask fuzz`) and the
//! replay of the inputs it found (`tests/fuzz_regressions.rs`, run by `cargo xtask test`).
//!
//! An input is `[flags] [n] [n bytes of command line] [blob]`:
//! - `flags` bits 0-1 pick the CPU's physical address size (48, 44, 40, 32 bits); bit 2 puts
//!   the blob at a fixed 0x48000000 instead of where QEMU's loader would (RAM base +
//!   min(RAM / 2, 128 MiB), 2 MiB aligned up);
//! - the command line replaces `/chosen/bootargs` (lossy UTF-8);
//! - the blob is the device tree, as `cargo xtask memmap --dtb` reads it.
//!
//! The run is `kernel::setup::dryrun::dry_run` (header check, memory scan, early params,
//! memblock, `/memreserve/`, `/reserved-memory` with the `shared-dma-pool` hook, paging_init,
//! NUMA, zones, memmaps) and `host::mem_init_with` (the hand-over to the buddy allocator), which
//! is Linux's order from `setup_arch` to `mem_init`. After each of the two: memblock's arrays
//! are sorted, non-overlapping and merged; every `/reserved-memory` region is what its node
//! claims. After `mem_init`: no free page is reserved, NOMAP or a hole, and for every node
//! free + reserved (reserved, NOMAP and holes, as whole frames) = its span.

use kernel::mm::buddy::{ArrayLinks, Zones, MAX_ORDER};
use kernel::mm::memblock::{Memblock, MemblockKind, Region};
use kernel::mm::{PhysAddr, PAGE_SIZE};
use kernel::of::cells::{self, Cells};
use kernel::of::reserved_mem::{shared_dma_pool_setup, ReservedMemOfId, ReservedMemTable};
use kernel::setup::dryrun::{dry_run, host::mem_init_with, DryRun, HostTables};

/// Host memory the fuzz target gives memmaps and links, at most (about 4 Mi frames, 16 GiB of
/// node span, per run); larger trees stop after `dry_run`, which still runs in full.
pub const FUZZ_HOST_LIMIT: u64 = 72 << 20;

static HOOKS: [ReservedMemOfId; 1] =
    [ReservedMemOfId { name: "shared_dma_pool", compatible: "shared-dma-pool", init: shared_dma_pool_setup }];

/// Formats every record and throws it away: the log lines' formatting runs too.
struct Sink;

impl log::Log for Sink {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        use std::io::Write;
        let _ = write!(std::io::sink(), "{}", r.args());
    }
    fn flush(&self) {}
}

static SINK: Sink = Sink;

/// Run one input; `Err` names the invariant that does not hold. Panics are failures too.
pub fn run(data: &[u8]) -> Result<(), String> {
    run_counted(data).map(|_| ())
}

/// Whether the input got as far as the buddy allocator with free pages in it (`None`: an
/// invariant broke).
#[allow(dead_code)]
pub fn reached_buddy(data: &[u8]) -> Option<bool> {
    run_counted(data).ok().map(|free| free > 0)
}

/// [`run`], returning the pages the buddy allocator got (0 when it was not reached).
fn run_counted(data: &[u8]) -> Result<u64, String> {
    let _ = log::set_logger(&SINK).map(|()| log::set_max_level(log::LevelFilter::Trace));
    let [flags, n, rest @ ..] = data else { return Ok(0) };
    let (cmdline, blob) = rest.split_at((*n as usize).min(rest.len()));
    let cmdline = String::from_utf8_lossy(cmdline);
    // What `kernel memmap` does to a blob before the boot reads it: RAM assumed for an empty
    // /memory (the rewrite must survive any bytes too).
    let _ = kernel::setup::dryrun::inputs::fill_empty_memory(blob);
    let pa_bits = [48, 44, 40, 32][(flags & 3) as usize];
    let ram_base = lowest_memory(blob).unwrap_or(0x4000_0000);
    let dtb_addr = if flags & 4 != 0 { Some(0x4800_0000) } else { qemu_dtb_addr(blob, ram_base) };
    // The image 2 MiB into RAM, as QEMU loads an arm64 Image (text_offset 0x200000 plus the
    // 64 KiB before _stext), with the section sizes of a typical build (init sections included).
    let (Some(dtb_addr), Some(text), Some(end)) =
        (dtb_addr, ram_base.checked_add(0x21_0000), ram_base.checked_add(0x40_0000))
    else {
        return Ok(0);
    };
    let opts = DryRun {
        dtb_addr: PhysAddr(dtb_addr),
        kernel: (PhysAddr(text), PhysAddr(end)),
        phys_addr_bits: pa_bits,
        initrd: None,
        cmdline: Some(&cmdline),
        sections: Some([0x3_0000, 0x1_0000, 0x1_0000, 0x2000, 0x3_0000]),
    };
    let mut mb = Box::new(Memblock::new());
    let Ok(state) = dry_run(blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}) else {
        return Ok(0); // refused with a message: nothing was set up
    };
    let root = cells::dt_root(&state.fdt);
    check_memblock(&mb).map_err(|e| format!("after dry_run: {e}"))?;
    check_reserved_mem(&state.fdt, root, &state.reserved)?;
    // `--lint` reads the same state; it must not panic on it either.
    let dma_phys_limit = state.bootmem.as_ref().ok().map(|b| b.dma_phys_limit);
    let placed = kernel::setup::dryrun::lint::Placed {
        mb: &mb,
        reserved: &state.reserved,
        opts: &opts,
        hooks: &HOOKS,
        dma_phys_limit,
        ram_assumed: false,
        placement_assumed: flags & 4 == 0,
    };
    let _ = kernel::setup::dryrun::lint::lint(&state.fdt, &placed);
    let after = |mb: &mut Memblock, zones: &Zones<'_, ArrayLinks<'_>>| -> Result<u64, String> {
        check_memblock(mb).map_err(|e| format!("after mem_init: {e}"))?;
        check_buddy(mb, zones)?;
        Ok(zones.nr_free_pages())
    };
    match mem_init_with(&mut mb, &state, &opts, FUZZ_HOST_LIMIT, after) {
        Ok(Ok(checked)) => checked,
        // The boot would have stopped in paging_init (the dry-run says so), the tree is larger
        // than the bound, or mem_init refused with a message.
        Ok(Err(_)) | Err(_) => Ok(0),
    }
}

/// The lowest base of the memory nodes' `reg` entries, if any.
fn lowest_memory(blob: &[u8]) -> Option<u64> {
    let fdt = kernel::of::fdt::Fdt::new(blob).ok()?;
    kernel::of::memory_regs(&fdt).filter_map(Result::ok).flatten().map(|(b, _)| b).min()
}

/// Where QEMU puts the blob: after the initrd area at RAM + min(RAM / 2, 128 MiB), 2 MiB
/// aligned; `None` when that passes the top of the address space.
fn qemu_dtb_addr(blob: &[u8], base: u64) -> Option<u64> {
    let fdt = kernel::of::fdt::Fdt::new(blob).ok()?;
    let ram = kernel::of::memory_regs(&fdt).filter_map(Result::ok).flatten().fold(0u64, |a, (_, s)| a.saturating_add(s));
    let at = base.checked_add((ram / 2).min(128 << 20))?;
    Some(at.checked_add((2 << 20) - 1)? & !((2 << 20) - 1))
}

/// Both arrays: every region non-empty and inside the address space, sorted, apart from the
/// next one, and not mergeable with it (Linux's `memblock_merge_regions` joins regions that
/// touch and have the same node and flags).
pub fn check_memblock(mb: &Memblock) -> Result<(), String> {
    for kind in [MemblockKind::Memory, MemblockKind::Reserved] {
        let regions = mb.ty(kind).regions();
        for (i, r) in regions.iter().enumerate() {
            if r.size == 0 || r.base.0.checked_add(r.size).is_none() {
                return Err(format!("{kind:?}[{i}] {} is empty or wraps", show(r)));
            }
        }
        for (i, w) in regions.windows(2).enumerate() {
            let (a, b) = (&w[0], &w[1]);
            if a.base.0 + a.size > b.base.0 {
                return Err(format!("{kind:?}[{i}] {} is not below the next, {}", show(a), show(b)));
            }
            if a.base.0 + a.size == b.base.0 && a.nid == b.nid && a.flags == b.flags {
                return Err(format!("{kind:?}[{i}] {} and the next, {}, are not merged", show(a), show(b)));
            }
        }
    }
    Ok(())
}

fn show(r: &Region) -> String {
    format!("[{:#x}+{:#x} flags {:#x} nid {}]", r.base.0, r.size, r.flags.0, r.nid)
}

/// Each saved `/reserved-memory` region is what its node claims: a `reg` node's first entry
/// exactly (Linux saves it whether the reservation worked or not); an allocated region inside
/// the address space, aligned to the node's `alignment` (when a power of two), and inside one
/// of its `alloc-ranges` when it has them.
fn check_reserved_mem(fdt: &kernel::of::fdt::Fdt, root: Cells, table: &ReservedMemTable) -> Result<(), String> {
    for r in table.iter() {
        let node = fdt.node_at(r.node).ok_or_else(|| format!("reserved-memory '{}': its node is gone", r.name))?;
        let claim = |name| node.property(name).and_then(|p| root.reg(p.value).ok());
        if node.property("reg").is_some() {
            let first = claim("reg").and_then(|mut reg| reg.next());
            if first != Some((r.base.0, r.size)) {
                return Err(format!("reserved-memory '{}': saved {:#x}+{:#x}, reg says {first:x?}", r.name, r.base.0, r.size));
            }
            continue;
        }
        if r.size == 0 {
            continue; // not allocated
        }
        let end = r.base.0.checked_add(r.size);
        let align = node.property("alignment").and_then(|a| cells::read_number(a.value, root.addr)).filter(|a| a.is_power_of_two());
        let inside = match claim("alloc-ranges") {
            Some(mut ranges) => ranges.any(|(s, l)| r.base.0 >= s && end.is_some_and(|e| e <= s.saturating_add(l))),
            None => end.is_some(),
        };
        if !inside || align.is_some_and(|a| r.base.0 % a != 0) {
            return Err(format!("reserved-memory '{}': allocated {:#x}+{:#x} outside its claim (alignment {align:x?})", r.name, r.base.0, r.size));
        }
    }
    Ok(())
}

/// Whether memory that is not NOMAP covers all of `[start, end)` (the regions are sorted and
/// apart, as `check_memblock` proved).
fn covered(memory: &[Region], start: u64, end: u64) -> bool {
    let mut at = start;
    for r in memory.iter().filter(|r| !r.is_nomap()) {
        if r.base.0 <= at && at < r.base.0 + r.size {
            at = r.base.0 + r.size;
        }
    }
    at >= end
}

/// After `mem_init`: every free block lies in its zone and in memory that is neither reserved
/// nor NOMAP; every memory frame of a node has a memmap entry (its section is present); and
/// the valid frames of each node's span are its free pages plus the frames its memmap marks
/// reserved, which are exactly the frames not wholly inside one usable memory region of the
/// node or touched by a reserved range (the rest of the span is holes of whole sections).
fn check_buddy(mb: &Memblock, zones: &Zones<'_, ArrayLinks<'_>>) -> Result<(), String> {
    let memory = mb.ty(MemblockKind::Memory).regions();
    let reserved = mb.ty(MemblockKind::Reserved).regions();
    let touches = |r: &Region, s: u64, e: u64| r.base.0 < e * PAGE_SIZE && s * PAGE_SIZE < r.base.0 + r.size;
    let mut bad = None;
    for z in zones.zones() {
        for order in 0..MAX_ORDER {
            let Some(area) = z.free_area(order) else { continue };
            area.for_each(zones.links(), &mut |pfn| {
                let (s, e) = (pfn, pfn + (1 << order));
                let in_zone = s >= z.zone_start_pfn() && e <= z.zone_end_pfn();
                // Merging joins buddies across memblock regions (a hotpluggable region next
                // to a plain one, say), as Linux's __free_one_page does: the block must lie in
                // usable memory, not in one region.
                let in_memory = covered(memory, s * PAGE_SIZE, e * PAGE_SIZE);
                let used = reserved.iter().chain(memory.iter().filter(|r| r.is_nomap())).find(|r| touches(r, s, e));
                if bad.is_none() && (!in_zone || !in_memory || used.is_some()) {
                    bad = Some(format!(
                        "free block pfn {s:#x} order {order} in node {} zone {}: in zone {in_zone}, in usable memory {in_memory}, overlaps {:?}",
                        z.nid(),
                        z.name(),
                        used.map(show)
                    ));
                }
            });
        }
    }
    if let Some(bad) = bad {
        return Err(bad);
    }
    for nid in 0..kernel::mm::memblock::MAX_NUMNODES {
        let Some(memmap) = zones.memmap(nid) else { continue };
        let (start, end) = (memmap.start_pfn().0, memmap.end_pfn().0);
        let free: u64 = zones.zones().filter(|z| z.nid() == nid).map(|z| z.free_pages()).sum();
        let marked = memmap.reserved_pages();
        // Usable frames, counted from memblock alone: wholly inside one memory region of the
        // node that is not NOMAP, touched by no NOMAP region and no reserved range.
        let mut blocked: Vec<(u64, u64)> = reserved
            .iter()
            .chain(memory.iter().filter(|r| r.is_nomap()))
            .map(|r| (r.base.0 / PAGE_SIZE, (r.base.0 + r.size).div_ceil(PAGE_SIZE)))
            .collect();
        blocked.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in blocked {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let valid = |s: u64, e: u64| memmap.valid().parts(s, e).map(|(s, e, _)| e - s).sum::<u64>();
        let mut usable = 0;
        // The node's span, as get_pfn_range_for_nid has it: its memory's whole pages. A frame
        // only partly memory at either end lies outside it, as in Linux.
        let node_memory = || memory.iter().filter(|r| kernel::mm::numa::node_of(r.nid) == nid as usize);
        let whole = node_memory().map(|r| (r.base.0.div_ceil(PAGE_SIZE), (r.base.0 + r.size) / PAGE_SIZE));
        let span = whole.filter(|(s, e)| s < e).fold(None, |span, (s, e)| match span {
            None => Some((s, e)),
            Some((a, b)) => Some((s.min(a), e.max(b))),
        });
        if span != Some((start, end)) {
            return Err(format!("node {nid}: memmap over [{start:#x}, {end:#x}), memory's whole pages over {span:x?}"));
        }
        // Every whole page of the node's memory has an entry. A frame only partly memory (at a
        // region's unaligned edge) holds no page to free, and may have none: where the other
        // part is another node's, neither node's runs take it.
        for r in node_memory() {
            let (s, e) = (r.base.0.div_ceil(PAGE_SIZE).max(start), ((r.base.0 + r.size) / PAGE_SIZE).min(end));
            if s < e && valid(s, e) != e - s {
                return Err(format!("node {nid}: memory {} has frames without a memmap entry", show(r)));
            }
        }
        for r in memory.iter().filter(|r| !r.is_nomap() && kernel::mm::numa::node_of(r.nid) == nid as usize) {
            let (s, e) = (r.base.0.div_ceil(PAGE_SIZE).max(start), ((r.base.0 + r.size) / PAGE_SIZE).min(end));
            if s < e {
                let hidden: u64 = merged.iter().map(|&(bs, be)| be.min(e).saturating_sub(bs.max(s))).sum();
                usable += e - s - hidden;
            }
        }
        let span = valid(start, end);
        if free + marked != span || free != usable {
            return Err(format!(
                "node {nid} has {span} valid frames in [{start:#x}, {end:#x}): {free} free + {marked} reserved, {usable} usable by memblock"
            ));
        }
    }
    Ok(())
}
