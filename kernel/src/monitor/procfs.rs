//! The monitor's `/proc`-style listings: `iomem` (Linux's `/proc/iomem`, as arm64's
//! `request_standard_resources` and `reserve_memblock_reserved_regions` fill it), `zoneinfo`
//! (the relevant lines of `/proc/zoneinfo`, `zoneinfo_show_print`) and `rmem` (the
//! reserved-memory table, which Linux has no file for).
//!
//! `/proc/iomem` here: one top-level entry per memblock memory region, `System RAM`, or
//! `reserved` when it is no-map; inside it, `Kernel code` and `Kernel data` (see [`Facts`]), then, where Linux has nothing, each /reserved-memory region by
//! its node name; then memblock's reserved ranges split around those (Linux's
//! `reserve_region_with_split`) as `reserved`. Addresses are `%08llx`, inclusive, nesting two
//! spaces deep, as `r_show` prints them.

use core::fmt;

use super::Facts;
use crate::mm::buddy::{FreePageLinks, Zones, ZoneType, MAX_ORDER};
use crate::mm::memblock::{MAX_NUMNODES, dump::Pa};
use crate::of::reserved_mem::MAX_RESERVED_REGIONS;

/// A named child of a memory region: `[start, end)`.
#[derive(Clone, Copy)]
struct Named<'n> {
    start: u64,
    end: u64,
    name: &'n str,
}

/// Children one region can have by name: kernel code, kernel data, every reserved region.
const MAX_NAMED: usize = 2 + MAX_RESERVED_REGIONS;

/// The named children of `[start, end)`, sorted by address, as `request_resource` accepts
/// them: each must not overlap one accepted before it.
struct Children<'n> {
    v: [Named<'n>; MAX_NAMED],
    len: usize,
}

impl<'n> Children<'n> {
    fn new() -> Self {
        Children { v: [Named { start: 0, end: 0, name: "" }; MAX_NAMED], len: 0 }
    }

    fn request(&mut self, n: Named<'n>) {
        let clash = self.v[..self.len].iter().any(|o| n.start < o.end && o.start < n.end);
        if n.start >= n.end || clash || self.len == MAX_NAMED {
            return;
        }
        let at = self.v[..self.len].iter().position(|o| o.start > n.start).unwrap_or(self.len);
        self.v.copy_within(at..self.len, at + 1);
        self.v[at] = n;
        self.len += 1;
    }

    fn as_slice(&self) -> &[Named<'n>] {
        &self.v[..self.len]
    }
}

fn entry(out: &mut dyn FnMut(fmt::Arguments<'_>), depth: usize, start: u64, end: u64, name: &str) {
    out(format_args!("{:indent$}{:08x}-{:08x} : {}", "", start, end - 1, name, indent = depth * 2));
}

/// `/proc/iomem`, one line per call of `out`.
pub fn iomem(facts: &Facts, out: &mut dyn FnMut(fmt::Arguments<'_>)) -> fmt::Result {
    let code = (facts.kernel_code.0 .0, facts.kernel_code.1 .0);
    let data = (facts.kernel_data.0 .0, facts.kernel_data.1 .0);
    for region in facts.memblock.memory.regions() {
        let (rs, re) = (region.base.0, region.base.0 + region.size);
        entry(out, 0, rs, re, if region.is_nomap() { "reserved" } else { "System RAM" });

        let mut named = Children::new();
        for (range, name) in [(code, "Kernel code"), (data, "Kernel data")] {
            if rs <= range.0 && range.1 <= re {
                named.request(Named { start: range.0, end: range.1, name });
            }
        }
        for r in facts.rmem.iter() {
            let (start, end) = (r.base.0.max(rs), r.base.0.saturating_add(r.size).min(re));
            named.request(Named { start, end, name: r.name });
        }

        // Print in address order: each named child before the reserved piece after it.
        let named = named.as_slice();
        let mut shown = 0;
        let mut piece = |out: &mut dyn FnMut(fmt::Arguments<'_>), start: u64, end: u64| {
            while shown < named.len() && named[shown].start < start {
                entry(out, 1, named[shown].start, named[shown].end, named[shown].name);
                shown += 1;
            }
            if start < end {
                entry(out, 1, start, end, "reserved");
            }
        };
        for r in facts.memblock.reserved.regions() {
            let (s, e) = (r.base.0.max(rs), r.base.0.saturating_add(r.size).min(re));
            if s >= e {
                continue;
            }
            // reserve_region_with_split: the parts of [s, e) no named child holds.
            let mut cur = s;
            for n in named.iter().filter(|n| n.start < e) {
                if n.end <= cur {
                    continue;
                }
                if cur < n.start {
                    piece(out, cur, n.start);
                }
                cur = cur.max(n.end);
            }
            if cur < e {
                piece(out, cur, e);
            }
        }
        piece(out, u64::MAX, 0);
    }
    Ok(())
}

/// The reserved-memory table: name, range, `no-map`/`reusable`, and the compatible whose hook
/// claimed the region (`-` when none did).
pub fn rmem(facts: &Facts, out: &mut dyn FnMut(fmt::Arguments<'_>)) -> fmt::Result {
    if facts.rmem.is_empty() {
        out(format_args!("rmem: no /reserved-memory regions"));
    }
    for r in facts.rmem.iter() {
        let nomap = facts.fdt.node_at(r.node).is_some_and(|n| n.property("no-map").is_some());
        let flags = match (nomap, r.reusable) {
            (true, true) => "no-map,reusable",
            (true, false) => "no-map",
            (false, true) => "reusable",
            (false, false) => "-",
        };
        let end = Pa(r.base.0.wrapping_add(r.size).wrapping_sub(1));
        out(format_args!(
            "{:<24} [mem {}-{}] {:<15} hook: {}",
            r.name,
            Pa(r.base.0),
            end,
            flags,
            r.owner.unwrap_or("-")
        ));
    }
    Ok(())
}

/// The `/proc/zoneinfo` lines about pages, every zone of every online node (populated or
/// not, as Linux lists them), plus the free blocks per order (kernel-specific: Linux shows
/// them in `/proc/buddyinfo` only).
pub fn zoneinfo<L: FreePageLinks>(zones: &Zones<'_, L>, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    for nid in 0..MAX_NUMNODES {
        for zone in ZoneType::ALL.iter().filter_map(|&ty| zones.zone(nid, ty)) {
            out(format_args!("Node {}, zone {:>8}", nid, zone.name()));
            out(format_args!("  pages free     {}", zone.free_pages()));
            out(format_args!("        spanned  {}", zone.spanned_pages()));
            out(format_args!("        present  {}", zone.present_pages()));
            out(format_args!("        managed  {}", zone.managed_pages()));
            // "If unpopulated, no other information is useful."
            if !zone.is_populated() {
                continue;
            }
            out(format_args!("  free per order:{}", PerOrder(|o| zone.nr_free(o))));
            out(format_args!("  start_pfn:           {}", zone.zone_start_pfn()));
        }
    }
}

/// ` %6lu` for each order.
struct PerOrder<F: Fn(u32) -> u64>(F);

impl<F: Fn(u32) -> u64> fmt::Display for PerOrder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (0..MAX_ORDER).try_for_each(|o| write!(f, " {:>6}", (self.0)(o)))
    }
}
