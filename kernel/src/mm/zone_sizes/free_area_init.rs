//! Linux 6.1's `free_area_init` for boot: each online node's span (`get_pfn_range_for_nid`),
//! its zones' spanned, present and managed pages (`calculate_node_totalpages`,
//! `free_area_init_core`), and the lines from "Zone ranges:" to "Initmem setup node"; the
//! holes follow in `memmap_init`.

use core::fmt;

use crate::mm::addr::{align_up, PAGE_SHIFT};
use crate::mm::buddy::ArrayLinks;
use crate::mm::memblock::Memblock;
use crate::mm::numa::{self, node_of, NodeMask};

use super::limits::ZoneLimits;
use super::movable::{adjust_zone_range, find_zone_movable_pfns, movable_zone};
use super::memmap_init::memmap_init;
use super::{MAX_NR_ZONES, NR_NODES, STRUCT_PAGE_SIZE, ZONE_MOVABLE, ZONE_NAMES};

/// One zone of one node after `calculate_node_totalpages` and `free_area_init_core`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZoneInfo {
    /// `zone_start_pfn` (0 for a zone spanning nothing).
    pub zone_start_pfn: u64,
    /// `spanned_pages`: the zone's range clipped to the node's.
    pub spanned_pages: u64,
    /// `present_pages`: spanned pages that memblock memory (NOMAP included) covers.
    pub present_pages: u64,
    /// Pages of `struct page` charged to the zone ([`memmap_pages`]).
    pub memmap_pages: u64,
    /// `managed_pages` as `free_area_init_core` leaves it (`zone_init_internals`): present
    /// pages minus the memory map (when it fits) minus `dma_reserve` (always 0 on arm64).
    /// `memblock_free_all` later resets and recounts it from the pages it frees.
    pub managed_pages: u64,
    /// Pages `memmap_init` counted in the zone's "pages in unavailable ranges" lines.
    pub unavailable_pages: u64,
}

impl ZoneInfo {
    /// Linux's `populated_zone`.
    pub const fn populated(&self) -> bool {
        self.present_pages != 0
    }

    /// First page frame past the zone.
    pub const fn end_pfn(&self) -> u64 {
        self.zone_start_pfn + self.spanned_pages
    }
}

/// One node (`pg_data_t`) after `free_area_init_node`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Whether the node is online: it owns at least one memblock memory region, or NUMA
    /// registered it without memory.
    pub online: bool,
    /// `node_start_pfn` (from `get_pfn_range_for_nid`).
    pub node_start_pfn: u64,
    /// End of the node's last memory range (exclusive).
    pub node_end_pfn: u64,
    /// `node_spanned_pages`: the sum of the zones' spanned pages.
    pub node_spanned_pages: u64,
    /// `node_present_pages`: the sum of the zones' present pages.
    pub node_present_pages: u64,
    pub zones: [ZoneInfo; MAX_NR_ZONES],
}

/// The result of [`free_area_init`]: every node's zones and the zone boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeZones {
    pub nodes: [NodeInfo; NR_NODES],
    /// `arch_zone_lowest_possible_pfn[]`.
    pub zone_lowest_pfn: [u64; MAX_NR_ZONES],
    /// `arch_zone_highest_possible_pfn[]` (exclusive).
    pub zone_highest_pfn: [u64; MAX_NR_ZONES],
    /// `zone_movable_pfn[]`: where each node's `ZONE_MOVABLE` starts (0: none).
    pub zone_movable_pfn: [u64; NR_NODES],
    /// `kernelcore=mirror`.
    pub mirrored_kernelcore: bool,
}

impl NodeZones {
    /// `nr_online_nodes`.
    pub fn nr_online_nodes(&self) -> u32 {
        self.nodes.iter().filter(|n| n.online).count() as u32
    }

    /// `get_num_physpages`: present pages of all online nodes (NOMAP memory included).
    pub fn num_physpages(&self) -> u64 {
        self.nodes.iter().filter(|n| n.online).map(|n| n.node_present_pages).sum()
    }
}

/// Linux's `calc_memmap_size`: pages of `struct page` for a zone. With sparsemem, a zone
/// whose span exceeds its present pages by more than a sixteenth is charged for its present
/// pages only; otherwise for its whole span.
pub const fn memmap_pages(spanned_pages: u64, present_pages: u64) -> u64 {
    let pages = if spanned_pages > present_pages + (present_pages >> 4) {
        present_pages
    } else {
        spanned_pages
    };
    align_up(pages * STRUCT_PAGE_SIZE, 1 << PAGE_SHIFT) >> PAGE_SHIFT
}

/// Whole-page memory ranges `(start_pfn, end_pfn, node)` of all nodes, in address order
/// (`for_each_mem_pfn_range(i, MAX_NUMNODES, ...)`, see [`numa::pfn_ranges`]).
pub(super) fn pfn_ranges(mb: &Memblock) -> impl Iterator<Item = (u64, u64, usize)> + '_ {
    numa::pfn_ranges(mb).map(|(s, e, node)| (s.0, e.0, node))
}

/// [`numa::node_span`] as frame numbers, `(0, 0)` for a node without memory.
fn pfn_range_for_node(mb: &Memblock, node: usize) -> (u64, u64) {
    numa::node_span(mb, node).map_or((0, 0), |(s, e)| (s.0, e.0))
}

/// `__absent_pages_in_range` for one node: pages of `[start, end)` no memory range covers.
fn absent_pages(mb: &Memblock, node: usize, start: u64, end: u64) -> u64 {
    let covered: u64 = pfn_ranges(mb)
        .filter(|r| r.2 == node)
        .map(|(s, e, _)| e.clamp(start, end) - s.clamp(start, end))
        .sum();
    (end - start) - covered
}

/// Linux 6.1's `free_area_init` (with `find_zone_movable_pfns_for_nodes`,
/// `free_area_init_node`, `calculate_node_totalpages`, `free_area_init_core` and
/// `memmap_init`), writing its `KERN_INFO` lines to `out` in Linux's order:
///
/// ```text
/// Zone ranges:
///   DMA      [mem 0x0000000040000000-0x000000007fffffff]
///   DMA32    empty
///   Normal   empty
/// Movable zone start for each node
/// Early memory node ranges
///   node   0: [mem 0x0000000040000000-0x000000007fffffff]
/// Initmem setup node 0 [mem 0x0000000040000000-0x000000007fffffff]
/// On node 0, zone DMA: 1 pages in unavailable ranges      (only where there are holes)
/// ```
///
/// The online nodes are those with memory and those the NUMA step registered without any
/// (`registered`, Linux's memory-less nodes: "as memoryless").
///
/// All "Initmem setup" lines come first, one per online node; the unavailable-range lines
/// follow from `memmap_init`, which walks the memory ranges after every node is set up. The
/// `pr_debug` lines of `calculate_node_totalpages` and `free_area_init_core` go to `dbg`
/// (see [`free_area_init_node`]), interleaved with `out`'s as Linux prints them; the `pr_warn`
/// for a memory map larger than its zone goes to `out`.
pub fn free_area_init(
    mb: &Memblock,
    limits: &ZoneLimits,
    registered: NodeMask,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
    dbg: &mut dyn FnMut(fmt::Arguments<'_>),
) -> NodeZones {
    let max_zone_pfn = limits.max_zone_pfns();
    let mut lowest = [0u64; MAX_NR_ZONES];
    let mut highest = [0u64; MAX_NR_ZONES];
    // Zones are laid out upwards from the start of DRAM; a limit below the previous zone's
    // end gives an empty zone there.
    let mut start_pfn = mb.start_of_dram().pfn_down().0;
    for zone in 0..MAX_NR_ZONES {
        if zone == ZONE_MOVABLE {
            continue;
        }
        let end_pfn = max_zone_pfn[zone].max(start_pfn);
        lowest[zone] = start_pfn;
        highest[zone] = end_pfn;
        start_pfn = end_pfn;
    }

    let zone_movable_pfn = find_zone_movable_pfns(mb, &lowest, &highest, &limits.movable, out);

    out(format_args!("Zone ranges:"));
    for zone in 0..MAX_NR_ZONES {
        if zone == ZONE_MOVABLE {
            continue;
        }
        if lowest[zone] == highest[zone] {
            out(format_args!("  {:<8} empty", ZONE_NAMES[zone]));
        } else {
            out(format_args!(
                "  {:<8} [mem {:#018x}-{:#018x}]",
                ZONE_NAMES[zone],
                lowest[zone] << PAGE_SHIFT,
                (highest[zone] << PAGE_SHIFT) - 1
            ));
        }
    }
    out(format_args!("Movable zone start for each node"));
    for (nid, &pfn) in zone_movable_pfn.iter().enumerate().filter(|(_, p)| **p != 0) {
        out(format_args!("  Node {}: {:#018x}", nid, pfn << PAGE_SHIFT));
    }
    out(format_args!("Early memory node ranges"));
    for (s, e, node) in pfn_ranges(mb) {
        out(format_args!("  node {:>3}: [mem {:#018x}-{:#018x}]", node, s << PAGE_SHIFT, (e << PAGE_SHIFT) - 1));
    }

    let mut nz = NodeZones {
        nodes: [NodeInfo::default(); NR_NODES],
        zone_lowest_pfn: lowest,
        zone_highest_pfn: highest,
        zone_movable_pfn,
        mirrored_kernelcore: limits.movable.mirror,
    };
    for r in mb.memory.regions() {
        nz.nodes[node_of(r.nid)].online = true;
    }
    for nid in registered.iter() {
        nz.nodes[nid as usize].online = true;
    }
    for nid in 0..NR_NODES {
        if nz.nodes[nid].online {
            free_area_init_node(mb, &mut nz, nid, out, dbg);
        }
    }
    memmap_init(mb, &mut nz, out);
    nz
}

/// This kernel's own memory map for a zone with `frames` frames in present sections, in
/// pages: one byte of page state per frame (`buddy::PageState`) and the free-list side arrays
/// (`buddy::ArrayLinks`, [`ArrayLinks::ENTRY_BYTES`] per possible block of every order), as
/// `mm::init::alloc_memmaps` allocates them (per node, with the node's run table; per zone
/// here, rounded up). A zone's holes cost nothing when whole sections are missing.
pub const fn own_memmap_pages(frames: u64) -> u64 {
    let bytes = frames + ArrayLinks::slots_for(frames) * ArrayLinks::ENTRY_BYTES;
    align_up(bytes, 1 << PAGE_SHIFT) >> PAGE_SHIFT
}

/// Linux 6.1's `zone_batchsize` (with an MMU): about a thousandth of the zone's managed pages,
/// at most 1 MiB of pages, divided by 4, at least 1, then `2^n - 1` below one and a half
/// times that.
pub const fn zone_batchsize(managed_pages: u64) -> u64 {
    let mut batch = managed_pages >> 10;
    let max = (1 << 20) >> PAGE_SHIFT;
    if batch > max {
        batch = max;
    }
    batch /= 4;
    if batch < 1 {
        batch = 1;
    }
    let x = batch + batch / 2;
    (1 << (63 - x.leading_zeros())) - 1
}

/// `free_area_init_node` + `calculate_node_totalpages` + the accounting of
/// `free_area_init_core`, with their `pr_debug` lines to `dbg`:
///
/// ```text
/// On node 0 totalpages: 262144
///   DMA zone: 1088 pages used for memmap
///   DMA zone: 0 pages reserved
///   DMA zone: 262144 pages, LIFO batch:63
/// ```
///
/// The memmap line prints this kernel's own cost ([`own_memmap_pages`]): it is what the
/// line means (the pages the zone gives up to describe itself), and the seed's reader takes
/// it as such. The managed pages, and so the LIFO batch and "Total pages", stay Linux's
/// (64-byte `struct page`s, [`memmap_pages`]) so that those lines compare with Linux's.
fn free_area_init_node(
    mb: &Memblock,
    nz: &mut NodeZones,
    nid: usize,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
    dbg: &mut dyn FnMut(fmt::Arguments<'_>),
) {
    let (node_start, node_end) = pfn_range_for_node(mb, nid);
    if node_start != node_end {
        let last = if node_end != 0 { (node_end << PAGE_SHIFT) - 1 } else { 0 };
        out(format_args!("Initmem setup node {} [mem {:#018x}-{:#018x}]", nid, node_start << PAGE_SHIFT, last));
    } else {
        out(format_args!("Initmem setup node {} as memoryless", nid));
    }
    let (lowest, highest) = (nz.zone_lowest_pfn, nz.zone_highest_pfn);
    let movable_zone = movable_zone(&lowest, &highest);
    let (movable_pfn, mirror) = (nz.zone_movable_pfn[nid], nz.mirrored_kernelcore);
    let node = &mut nz.nodes[nid];
    node.node_start_pfn = node_start;
    node.node_end_pfn = node_end;
    for (j, zone) in node.zones.iter_mut().enumerate() {
        let (zone_low, zone_high) = (lowest[j], highest[j]);
        // The zone's part of the node, ZONE_MOVABLE taken out of (or given) its range.
        let range = (node_start.clamp(zone_low, zone_high), node_end.clamp(zone_low, zone_high));
        let (zs, ze) = adjust_zone_range(j, movable_pfn, node_end, highest[movable_zone], mirror, range);
        // zone_spanned_pages_in_node
        let (spanned, zone_start) = if ze < node_start || zs > node_end {
            (0, 0)
        } else {
            let (s, e) = (zs.max(node_start), ze.min(node_end));
            (e.saturating_sub(s), s)
        };
        // zone_absent_pages_in_node
        let absent = if node_start == 0 && node_end == 0 { 0 } else { absent_pages(mb, nid, zs, ze.max(zs)) };
        zone.zone_start_pfn = if spanned != 0 { zone_start } else { 0 };
        zone.spanned_pages = spanned;
        zone.present_pages = spanned - absent;
        node.node_spanned_pages += spanned;
        node.node_present_pages += zone.present_pages;
    }
    // calculate_node_totalpages ends with the node's present pages.
    dbg(format_args!("On node {} totalpages: {}", nid, node.node_present_pages));
    for (j, zone) in node.zones.iter_mut().enumerate() {
        // free_area_init_core: charge the memory map where it fits; dma_reserve is 0.
        let mut freesize = zone.present_pages;
        zone.memmap_pages = memmap_pages(zone.spanned_pages, zone.present_pages);
        if freesize >= zone.memmap_pages {
            freesize -= zone.memmap_pages;
            let (zs, ze) = (zone.zone_start_pfn, zone.zone_start_pfn + zone.spanned_pages);
            let sections = crate::mm::sparse::node_section_runs(mb, nid as i32);
            let frames = sections.map(|r| r.end_pfn.min(ze).saturating_sub(r.start_pfn.max(zs))).sum();
            let own = own_memmap_pages(frames);
            if own != 0 {
                dbg(format_args!("  {} zone: {} pages used for memmap", ZONE_NAMES[j], own));
            }
        } else {
            out(format_args!(
                "  {} zone: {} memmap pages exceeds freesize {}",
                ZONE_NAMES[j], zone.memmap_pages, freesize
            ));
        }
        // dma_reserve is always 0 on arm64; Linux says so for the first zone when it has pages.
        if j == 0 && freesize > 0 {
            dbg(format_args!("  {} zone: 0 pages reserved", ZONE_NAMES[j]));
        }
        zone.managed_pages = freesize;
        // zone_init_internals → zone_pcp_init, on the managed pages just set.
        if zone.populated() {
            dbg(format_args!(
                "  {} zone: {} pages, LIFO batch:{}",
                ZONE_NAMES[j],
                zone.present_pages,
                zone_batchsize(zone.managed_pages)
            ));
        }
    }
}
