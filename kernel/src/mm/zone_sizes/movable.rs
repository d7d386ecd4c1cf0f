//! `ZONE_MOVABLE` at boot: Linux 6.1's `kernelcore=`, `movablecore=` and `movable_node`
//! (`cmdline_parse_core`, `find_zone_movable_pfns_for_nodes`,
//! `adjust_zone_range_for_zone_movable` in mm/page_alloc.c).
//!
//! Each node's `ZONE_MOVABLE` starts at a frame (`zone_movable_pfn[nid]`, 0 for none) and
//! takes the rest of the node's highest zone (`movable_zone`) from there; the zones below it end
//! where it starts. What only the kernel may use (`kernelcore`, or what `movablecore` leaves)
//! is spread over the nodes with memory as evenly as their ranges allow; `movable_node` makes
//! hotpluggable memory movable; `kernelcore=mirror` makes memory that is not mirrored movable
//! (a device tree has no mirrored memory, so that is all memory from 4 GiB up).

use super::{MAX_NR_ZONES, NR_NODES, ZONE_MOVABLE};
use crate::mm::memblock::{Memblock, MemblockKind};
use crate::mm::numa::{node_of, pfn_ranges};
use crate::mm::addr::PAGE_SHIFT;

/// `MAX_ORDER_NR_PAGES`: `ZONE_MOVABLE` starts on a boundary of this many pages.
const MAX_ORDER_NR_PAGES: u64 = 1 << 10;

/// A `kernelcore=` or `movablecore=` value (`cmdline_parse_core`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Core {
    #[default]
    None,
    /// Pages (the bytes given, shifted down to pages).
    Pages(u64),
    /// A percentage of all memory (Linux warns above 100 and goes on).
    Percent(u64),
}

impl Core {
    /// `cmdline_parse_core`: a number followed by `%` is a percentage; anything else is read
    /// by `memparse` as bytes.
    pub fn parse(value: &str) -> Core {
        let n = crate::cmdline::simple_strtoull(value);
        if n.rest.starts_with('%') {
            return Core::Percent(n.value);
        }
        Core::Pages(crate::cmdline::memparse(value).value >> PAGE_SHIFT)
    }
}

/// The options that shape `ZONE_MOVABLE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MovableParams {
    pub kernelcore: Core,
    pub movablecore: Core,
    /// `kernelcore=mirror`.
    pub mirror: bool,
    /// `movable_node`.
    pub movable_node: bool,
}

/// `find_usable_zone_for_movable`: the zone `ZONE_MOVABLE` is carved from, the highest one
/// with a range.
pub fn movable_zone(lowest: &[u64; MAX_NR_ZONES], highest: &[u64; MAX_NR_ZONES]) -> usize {
    (0..MAX_NR_ZONES).rev().filter(|&z| z != ZONE_MOVABLE).find(|&z| highest[z] > lowest[z]).unwrap_or(0)
}

/// `find_zone_movable_pfns_for_nodes`: where `ZONE_MOVABLE` starts on each node (0: none).
/// `lowest` and `highest` are `arch_zone_{lowest,highest}_possible_pfn[]`. Prints Linux's
/// warning for `kernelcore=mirror` without mirrored memory below 4 GiB.
pub fn find_zone_movable_pfns(
    mb: &Memblock,
    lowest: &[u64; MAX_NR_ZONES],
    highest: &[u64; MAX_NR_ZONES],
    params: &MovableParams,
    out: &mut dyn FnMut(core::fmt::Arguments<'_>),
) -> [u64; NR_NODES] {
    let mut zmp = [0u64; NR_NODES];
    if *params == MovableParams::default() {
        return zmp;
    }
    let movable_zone = movable_zone(lowest, highest);
    let regions = mb.ty(MemblockKind::Memory).regions();
    let earliest = |zmp: &mut [u64; NR_NODES], nid: usize, pfn: u64| {
        zmp[nid] = if zmp[nid] != 0 { zmp[nid].min(pfn) } else { pfn };
    };
    if params.movable_node {
        for r in regions.iter().filter(|r| r.is_hotpluggable()) {
            earliest(&mut zmp, node_of(r.nid), r.base.0 >> PAGE_SHIFT);
        }
        return align_and_clip(mb, zmp);
    }
    if params.mirror {
        let mut below_4g = false;
        // No region of a device tree is mirrored.
        for r in regions.iter() {
            let start = r.base.0.div_ceil(1 << PAGE_SHIFT);
            if start < (1 << 32) >> PAGE_SHIFT {
                below_4g = true;
                continue;
            }
            earliest(&mut zmp, node_of(r.nid), start);
        }
        if below_4g {
            out(format_args!("This configuration results in unmirrored kernel memory."));
        }
        return align_and_clip(mb, zmp);
    }
    // early_calculate_totalpages, and the nodes with memory (N_MEMORY).
    let mut totalpages = 0u64;
    let mut with_memory = [false; NR_NODES];
    for (s, e, nid) in pfn_ranges(mb) {
        totalpages += e.0 - s.0;
        if e.0 > s.0 {
            with_memory[nid] = true;
        }
    }
    let mut usable_nodes = with_memory.iter().filter(|&&m| m).count() as u64;
    let percent = |p: u64| (totalpages.wrapping_mul(100).wrapping_mul(p)) / 10000;
    let mut required_kernelcore = match params.kernelcore {
        Core::None => 0,
        Core::Pages(p) => p,
        Core::Percent(p) => percent(p),
    };
    let required_movablecore = match params.movablecore {
        Core::None => 0,
        Core::Pages(p) => p,
        Core::Percent(p) => percent(p),
    };
    if required_movablecore != 0 {
        let movable = required_movablecore.next_multiple_of(MAX_ORDER_NR_PAGES).min(totalpages);
        required_kernelcore = required_kernelcore.max(totalpages - movable);
    }
    if required_kernelcore == 0 || required_kernelcore >= totalpages {
        return zmp;
    }
    let usable_startpfn = lowest[movable_zone];
    loop {
        // Spread kernelcore memory as evenly as possible over the nodes.
        let mut kernelcore_node = required_kernelcore / usable_nodes;
        for nid in (0..NR_NODES).filter(|&n| with_memory[n]) {
            if required_kernelcore < kernelcore_node {
                kernelcore_node = required_kernelcore / usable_nodes;
            }
            let mut remaining = kernelcore_node;
            for (s, e, _) in pfn_ranges(mb).filter(|r| r.2 == nid) {
                let (mut start, end) = (s.0.max(zmp[nid]), e.0);
                if start >= end {
                    continue;
                }
                if start < usable_startpfn {
                    let kernel_pages = end.min(usable_startpfn) - start;
                    remaining -= kernel_pages.min(remaining);
                    required_kernelcore -= kernel_pages.min(required_kernelcore);
                    if end <= usable_startpfn {
                        zmp[nid] = end;
                        continue;
                    }
                    start = usable_startpfn;
                }
                let size = (end - start).min(remaining);
                zmp[nid] = start + size;
                required_kernelcore -= required_kernelcore.min(size);
                remaining -= size;
                if remaining == 0 {
                    break;
                }
            }
        }
        // Still some kernelcore to place: again with one node fewer.
        usable_nodes -= 1;
        if !(usable_nodes != 0 && required_kernelcore > usable_nodes) {
            break;
        }
    }
    align_and_clip(mb, zmp)
}

/// `find_zone_movable_pfns_for_nodes`'s end: each start rounded up to `MAX_ORDER_NR_PAGES`,
/// and none where that is past the node's end.
fn align_and_clip(mb: &Memblock, mut zmp: [u64; NR_NODES]) -> [u64; NR_NODES] {
    for (nid, pfn) in zmp.iter_mut().enumerate() {
        *pfn = pfn.next_multiple_of(MAX_ORDER_NR_PAGES);
        let end = crate::mm::numa::node_span(mb, nid).map_or(0, |(_, e)| e.0);
        if *pfn >= end {
            *pfn = 0;
        }
    }
    zmp
}

/// `adjust_zone_range_for_zone_movable`: zone `zone` of a node whose `ZONE_MOVABLE` starts at
/// `movable_pfn` (0: none), clipped from `[start, end)`. `movable_zone_end` is
/// `arch_zone_highest_possible_pfn[movable_zone]`.
pub fn adjust_zone_range(zone: usize, movable_pfn: u64, node_end: u64, movable_zone_end: u64, mirror: bool, range: (u64, u64)) -> (u64, u64) {
    let (mut start, mut end) = range;
    if movable_pfn == 0 {
        return (start, end);
    }
    if zone == ZONE_MOVABLE {
        start = movable_pfn;
        end = node_end.min(movable_zone_end);
    } else if !mirror && start < movable_pfn && end > movable_pfn {
        end = movable_pfn;
    } else if start >= movable_pfn {
        start = end;
    }
    (start, end)
}
