//! Zones and nodes at boot: the accounting and log lines of Linux 6.1 arm64's
//! `zone_sizes_init` → `free_area_init`, `build_all_zonelists` and `mem_init` →
//! `memblock_free_all` / `mem_init_print_info`, computed from a [`Memblock`].
//!
//! Everything here is arithmetic on memblock's arrays; no `struct page` is touched. The
//! numbers are Linux's, with Linux's configuration as Debian ships it for arm64: 4 KiB pages,
//! `CONFIG_ZONE_DMA` and `CONFIG_ZONE_DMA32` on, `CONFIG_NUMA` on (`MAX_NUMNODES` 16),
//! `CONFIG_SPARSEMEM_VMEMMAP` with 128 MiB sections (`SECTION_SIZE_BITS` 27), 2 MiB pageblocks
//! (`pageblock_order` 9), `CONFIG_CMA` and `CONFIG_MEMORY_ISOLATION` on (six migrate types),
//! no `CONFIG_HIGHMEM`. `ZONE_DEVICE` is not modelled (see [`ZONE_NAMES`]).
//!
//! The memory map is sized as Linux sizes it: 64 bytes of `struct page` per page
//! ([`STRUCT_PAGE_SIZE`]). This kernel's own memory map is far smaller, but the printed
//! "Total pages" and the zones' managed pages at zonelist time use Linux's figure so the lines
//! match a Linux dmesg.
//!
//! `kernelcore=`, `movablecore=` and `movable_node` are not modelled: `ZONE_MOVABLE` is always
//! empty, as it is on a boot without those options.

use core::fmt;

use crate::mm::addr::{align_down, align_up, PAGE_SHIFT};
use crate::mm::memblock::{Memblock, MAX_NUMNODES};
use crate::mm::numa::{self, node_of};

/// Number of zone types: DMA, DMA32, Normal, Movable (Linux's `MAX_NR_ZONES` for this config).
pub use crate::mm::buddy::MAX_NR_ZONES;
/// Number of node slots (`MAX_NUMNODES`).
pub const NR_NODES: usize = MAX_NUMNODES as usize;
/// Zone names as Linux prints them (`zone_names[]`).
///
/// Debian's arm64 6.1 config also enables `CONFIG_ZONE_DEVICE`, which adds a fifth zone
/// `Device` to Linux's list and a "  Device   empty" line to "Zone ranges:". It is never
/// populated at boot; it is left out here, so that line has to be accounted for when
/// comparing against such a kernel.
pub const ZONE_NAMES: [&str; MAX_NR_ZONES] = ["DMA", "DMA32", "Normal", "Movable"];
/// Index of `ZONE_DMA`.
pub const ZONE_DMA: usize = 0;
/// Index of `ZONE_DMA32`.
pub const ZONE_DMA32: usize = 1;
/// Index of `ZONE_NORMAL`.
pub const ZONE_NORMAL: usize = 2;
/// Index of `ZONE_MOVABLE`.
pub const ZONE_MOVABLE: usize = 3;

/// `sizeof(struct page)` on arm64 Linux 6.1.
pub const STRUCT_PAGE_SIZE: u64 = 64;
/// `PAGES_PER_SECTION`: 128 MiB sections of 4 KiB pages.
pub const PAGES_PER_SECTION: u64 = 1 << (27 - PAGE_SHIFT);
/// `pageblock_nr_pages`: `pageblock_order` is `HUGETLB_PAGE_ORDER` (9) with 4 KiB pages.
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << 9;
/// `MIGRATE_TYPES` with `CONFIG_CMA` and `CONFIG_MEMORY_ISOLATION`: unmovable, movable,
/// reclaimable, high-atomic, CMA, isolate.
pub const MIGRATE_TYPES: u64 = 6;

/// Linux's `fls64`: the 1-based index of the highest set bit, 0 for 0.
pub const fn fls64(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// The upper limits of the zones as page frame numbers (the `max_zone_pfns[]` that arm64's
/// `zone_sizes_init` hands to `free_area_init`), and `arm64_dma_phys_limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneLimits {
    /// `max_zone_pfns[ZONE_DMA]`.
    pub dma: u64,
    /// `max_zone_pfns[ZONE_DMA32]`.
    pub dma32: u64,
    /// `max_zone_pfns[ZONE_NORMAL]`: `max_pfn`.
    pub normal: u64,
    /// `arm64_dma_phys_limit` (exclusive physical address), used later for CMA and swiotlb.
    pub dma_phys_limit: u64,
}

impl ZoneLimits {
    fn max_zone_pfns(&self) -> [u64; MAX_NR_ZONES] {
        [self.dma, self.dma32, self.normal, 0]
    }
}

/// Linux arm64's `max_zone_phys`: the exclusive top of a zone reaching `zone_bits` of
/// address, clipped to the end of DRAM. When DRAM starts above 4 GiB the zone takes all of
/// it; when it starts above the `zone_bits` mask (but below 4 GiB), the zone reaches 4 GiB.
pub fn max_zone_phys(mb: &Memblock, zone_bits: u32) -> u64 {
    let mut zone_mask = if zone_bits >= 64 { u64::MAX } else { (1u64 << zone_bits) - 1 };
    let phys_start = mb.start_of_dram().0;
    if phys_start > u32::MAX as u64 {
        zone_mask = u64::MAX;
    } else if phys_start > zone_mask {
        zone_mask = u32::MAX as u64;
    }
    zone_mask.min(mb.end_of_dram().0.wrapping_sub(1)).wrapping_add(1)
}

/// arm64's `zone_sizes_init` up to the call of `free_area_init`.
///
/// `dt_dma_max_cpu_addr` is what `of_dma_get_max_cpu_address(NULL)` returns: the lowest
/// inclusive CPU-side end of any `dma-ranges` in the tree, or `None` where no node has one
/// (Linux then returns `PHYS_ADDR_MAX`). The ACPI IORT counterpart is `PHYS_ADDR_MAX` on a
/// device-tree boot. `zone_dma_bits` is the smallest of 32 and the two `fls64` values, so
/// without `dma-ranges` it is 32; on QEMU virt (RAM from 1 GiB) `max_zone_phys(32)` is then
/// `min(4 GiB - 1, end of DRAM - 1) + 1`, ZONE_DMA takes everything below 4 GiB, and
/// ZONE_DMA32, whose limit is the same `max_zone_phys(32)`, starts where DMA ends: empty.
pub fn arm64_zone_limits(mb: &Memblock, dt_dma_max_cpu_addr: Option<u64>) -> ZoneLimits {
    let dma32_phys_limit = max_zone_phys(mb, 32);
    let acpi_bits = fls64(u64::MAX);
    let dt_bits = fls64(dt_dma_max_cpu_addr.unwrap_or(u64::MAX));
    let zone_dma_bits = 32.min(dt_bits).min(acpi_bits);
    let mut dma_phys_limit = max_zone_phys(mb, zone_dma_bits);
    let dma = dma_phys_limit >> PAGE_SHIFT;
    if dma_phys_limit == 0 {
        dma_phys_limit = dma32_phys_limit;
    }
    ZoneLimits {
        dma,
        dma32: dma32_phys_limit >> PAGE_SHIFT,
        // bootmem_init: max_pfn = PFN_DOWN(memblock_end_of_DRAM()).
        normal: mb.end_of_dram().pfn_down().0,
        dma_phys_limit,
    }
}

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
    /// Whether the node is online: it owns at least one memblock memory region.
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

    /// `nr_free_pagecache_pages` as `build_all_zonelists` computes it during `start_kernel`:
    /// the managed pages of every zone in the zonelist, minus each zone's high watermark.
    /// Watermarks are still zero then (`init_per_zone_wmark_min` is an initcall), and managed
    /// pages are those of `free_area_init_core` (`memblock_free_all` has not run yet), so this
    /// is the sum of [`ZoneInfo::managed_pages`] over all nodes.
    pub fn zonelist_total_pages(&self) -> u64 {
        self.online_zones().map(|z| z.managed_pages).sum()
    }

    /// `policy_zone` after the zonelists are built: the highest populated zone below
    /// `ZONE_MOVABLE` on any online node, `ZONE_DMA` when none is higher.
    pub fn policy_zone(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.online)
            .flat_map(|n| n.zones.iter().enumerate())
            .filter(|(k, z)| *k != ZONE_MOVABLE && z.populated())
            .map(|(k, _)| k)
            .max()
            .unwrap_or(ZONE_DMA)
    }

    fn online_zones(&self) -> impl Iterator<Item = &ZoneInfo> {
        self.nodes.iter().filter(|n| n.online).flat_map(|n| n.zones.iter())
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
fn pfn_ranges(mb: &Memblock) -> impl Iterator<Item = (u64, u64, usize)> + '_ {
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

/// Sparsemem's `pfn_valid` for boot memory: the section holding `pfn` has memory in it
/// (`memblocks_present` marks every section a memory range touches, NOMAP ones included,
/// and early sections are valid over their whole span).
fn section_present(mb: &Memblock, pfn: u64) -> bool {
    let sec = align_down(pfn, PAGES_PER_SECTION);
    let sec_end = sec + PAGES_PER_SECTION;
    pfn_ranges(mb).any(|(s, e, _)| s < sec_end && sec < e)
}

/// `init_unavailable_range`: count the pages of `[spfn, epfn)` that get a reserved
/// `struct page`; pageblocks in sections without memory are skipped.
fn unavailable_pages(mb: &Memblock, spfn: u64, epfn: u64) -> u64 {
    let mut count = 0;
    let mut pfn = spfn;
    while pfn < epfn {
        if !section_present(mb, align_down(pfn, PAGEBLOCK_NR_PAGES)) {
            // Every pageblock of an empty section is skipped; go to the next section.
            pfn = align_down(pfn, PAGES_PER_SECTION) + PAGES_PER_SECTION;
            continue;
        }
        let next = (align_down(pfn, PAGES_PER_SECTION) + PAGES_PER_SECTION).min(epfn);
        count += next - pfn;
        pfn = next;
    }
    count
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
/// All "Initmem setup" lines come first, one per online node; the unavailable-range lines
/// follow from `memmap_init`, which walks the memory ranges after every node is set up. The
/// `pr_debug` lines of `free_area_init_core` are not written; the `pr_warn` for a memory map
/// larger than its zone is.
pub fn free_area_init(mb: &Memblock, limits: &ZoneLimits, out: &mut dyn FnMut(fmt::Arguments<'_>)) -> NodeZones {
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
    // No kernelcore=/movablecore=: no node has a ZONE_MOVABLE start, so no "  Node %d:" line.
    out(format_args!("Movable zone start for each node"));
    out(format_args!("Early memory node ranges"));
    for (s, e, node) in pfn_ranges(mb) {
        out(format_args!("  node {:>3}: [mem {:#018x}-{:#018x}]", node, s << PAGE_SHIFT, (e << PAGE_SHIFT) - 1));
    }

    let mut nz = NodeZones {
        nodes: [NodeInfo::default(); NR_NODES],
        zone_lowest_pfn: lowest,
        zone_highest_pfn: highest,
    };
    for r in mb.memory.regions() {
        nz.nodes[node_of(r.nid)].online = true;
    }
    for nid in 0..NR_NODES {
        if nz.nodes[nid].online {
            free_area_init_node(mb, &mut nz, nid, out);
        }
    }
    memmap_init(mb, &mut nz, out);
    nz
}

/// `free_area_init_node` + `calculate_node_totalpages` + the accounting of
/// `free_area_init_core`.
fn free_area_init_node(mb: &Memblock, nz: &mut NodeZones, nid: usize, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    let (node_start, node_end) = pfn_range_for_node(mb, nid);
    if node_start != node_end {
        let last = if node_end != 0 { (node_end << PAGE_SHIFT) - 1 } else { 0 };
        out(format_args!("Initmem setup node {} [mem {:#018x}-{:#018x}]", nid, node_start << PAGE_SHIFT, last));
    } else {
        out(format_args!("Initmem setup node {} as memoryless", nid));
    }
    let (lowest, highest) = (nz.zone_lowest_pfn, nz.zone_highest_pfn);
    let node = &mut nz.nodes[nid];
    node.node_start_pfn = node_start;
    node.node_end_pfn = node_end;
    for (j, zone) in node.zones.iter_mut().enumerate() {
        let (zone_low, zone_high) = (lowest[j], highest[j]);
        // zone_spanned_pages_in_node
        let (spanned, zone_start) = if zone_high < node_start || zone_low > node_end {
            (0, 0)
        } else {
            let s = zone_low.max(node_start);
            let e = zone_high.min(node_end);
            (e - s, s)
        };
        // zone_absent_pages_in_node
        let absent = if node_start == 0 && node_end == 0 {
            0
        } else {
            let s = node_start.clamp(zone_low, zone_high);
            let e = node_end.clamp(zone_low, zone_high);
            absent_pages(mb, nid, s, e)
        };
        zone.zone_start_pfn = if spanned != 0 { zone_start } else { 0 };
        zone.spanned_pages = spanned;
        zone.present_pages = spanned - absent;
        node.node_spanned_pages += spanned;
        node.node_present_pages += zone.present_pages;

        // free_area_init_core: charge the memory map where it fits; dma_reserve is 0.
        let mut freesize = zone.present_pages;
        zone.memmap_pages = memmap_pages(spanned, zone.present_pages);
        if freesize >= zone.memmap_pages {
            freesize -= zone.memmap_pages;
        } else {
            out(format_args!(
                "  {} zone: {} memmap pages exceeds freesize {}",
                ZONE_NAMES[j], zone.memmap_pages, freesize
            ));
        }
        zone.managed_pages = freesize;
    }
}

/// Linux 6.1's `memmap_init` as far as the holes go: for each memory range, in address
/// order, and each populated zone of its node, the range is clipped to the zone; the gap
/// between the end of the previous clipped range and this one is an unavailable range of
/// this zone. After the last range, the rest of its section is one more, charged to the
/// highest populated zone of the last range's node.
fn memmap_init(mb: &Memblock, nz: &mut NodeZones, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    let mut hole_pfn = 0u64;
    let mut last: Option<(u64, usize, usize)> = None; // (end_pfn, nid, zone_id)
    let mut zone_id = 0;
    for (start, end, nid) in pfn_ranges(mb) {
        for j in 0..MAX_NR_ZONES {
            let zone = nz.nodes[nid].zones[j];
            if !zone.populated() {
                continue;
            }
            // memmap_init_zone_range
            let (zs, ze) = (zone.zone_start_pfn, zone.end_pfn());
            let (s, e) = (start.clamp(zs, ze), end.clamp(zs, ze));
            if s < e {
                if hole_pfn < s {
                    init_unavailable_range(mb, nz, hole_pfn, s, j, nid, out);
                }
                hole_pfn = e;
            }
            zone_id = j;
        }
        last = Some((end, nid, zone_id));
    }
    if let Some((end, nid, zone_id)) = last {
        let end = align_up(end, PAGES_PER_SECTION);
        if hole_pfn < end {
            init_unavailable_range(mb, nz, hole_pfn, end, zone_id, nid, out);
        }
    }
}

fn init_unavailable_range(
    mb: &Memblock,
    nz: &mut NodeZones,
    spfn: u64,
    epfn: u64,
    zone: usize,
    nid: usize,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) {
    let count = unavailable_pages(mb, spfn, epfn);
    if count != 0 {
        nz.nodes[nid].zones[zone].unavailable_pages += count;
        out(format_args!("On node {}, zone {}: {} pages in unavailable ranges", nid, ZONE_NAMES[zone], count));
    }
}

/// `find_next_best_node` with node distances from `distance` and every node holding CPUs:
/// the local node first, then the nearest unused node with memory, ties going to nodes above
/// the local one, then to the least loaded, then to the lowest id.
fn find_next_best_node(
    nz: &NodeZones,
    local: usize,
    used: &mut [bool; NR_NODES],
    load: &[u32; NR_NODES],
    distance: &dyn Fn(usize, usize) -> u32,
) -> Option<usize> {
    if !used[local] {
        used[local] = true;
        return Some(local);
    }
    let mut best: Option<(u64, usize)> = None;
    for n in 0..NR_NODES {
        if used[n] || nz.nodes[n].node_present_pages == 0 {
            continue;
        }
        let val = (distance(local, n) as u64 + u64::from(n < local)) * NR_NODES as u64 + load[n] as u64;
        if best.is_none_or(|(b, _)| val < b) {
            best = Some((val, n));
        }
    }
    let (_, n) = best?;
    used[n] = true;
    Some(n)
}

/// The default NUMA distance (`LOCAL_DISTANCE` 10 on the diagonal, `REMOTE_DISTANCE` 20
/// elsewhere), which arm64 uses when the device tree has no `distance-map`.
pub fn default_distance(a: usize, b: usize) -> u32 {
    if a == b {
        10
    } else {
        20
    }
}

/// `build_all_zonelists(NULL)` at boot: one "Fallback order for Node %d: " line per online
/// node (the node ids each followed by a space), then the "Built ..." and "Policy zone: ..."
/// lines ([`fmt_zonelists`]). Returns `vm_total_pages`.
pub fn build_all_zonelists(
    nz: &NodeZones,
    distance: &dyn Fn(usize, usize) -> u32,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) -> u64 {
    let mut load = [0u32; NR_NODES];
    for local in (0..NR_NODES).filter(|&n| nz.nodes[n].online) {
        let mut used = [false; NR_NODES];
        let mut order = [0usize; NR_NODES];
        let mut nr = 0;
        let mut prev = local;
        while let Some(node) = find_next_best_node(nz, local, &mut used, &load, distance) {
            // A penalty on the first node of each distance group spreads the fallbacks.
            if distance(local, node) != distance(local, prev) {
                load[node] += 1;
            }
            order[nr] = node;
            nr += 1;
            prev = node;
        }
        out(format_args!("Fallback order for Node {}: {}", local, NodeList(&order[..nr])));
    }
    let total = nz.zonelist_total_pages();
    fmt_zonelists(nz.nr_online_nodes(), total, Some(nz.policy_zone()), out);
    total
}

struct NodeList<'a>(&'a [usize]);

impl fmt::Display for NodeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|n| write!(f, "{n} "))
    }
}

/// The end of `build_all_zonelists`: "Built %u zonelists, mobility grouping %s.  Total
/// pages: %ld" and, under `CONFIG_NUMA`, "Policy zone: %s". Mobility grouping is off when
/// the total is below one pageblock per migrate type.
pub fn fmt_zonelists(
    nr_online_nodes: u32,
    total_pages: u64,
    policy_zone: Option<usize>,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) {
    let grouping = if total_pages < PAGEBLOCK_NR_PAGES * MIGRATE_TYPES { "off" } else { "on" };
    out(format_args!(
        "Built {} zonelists, mobility grouping {}.  Total pages: {}",
        nr_online_nodes, grouping, total_pages
    ));
    if let Some(z) = policy_zone {
        out(format_args!("Policy zone: {}", ZONE_NAMES[z]));
    }
}

/// `memblock_free_all`'s count, which becomes `totalram_pages` and, with nothing allocated
/// yet, `nr_free_pages()`: the whole pages of every free range (memory that is neither
/// reserved nor NOMAP), each range cut at `max_low_pfn` (`__free_memory_core`). arm64's
/// `free_unused_memmap` returns early under `SPARSEMEM_VMEMMAP`, so it frees nothing.
pub fn memblock_free_all_pages(mb: &Memblock, max_low_pfn: u64) -> u64 {
    crate::mm::init::free_pfn_ranges(mb, max_low_pfn).map(|(s, e)| e.0 - s.0).sum()
}

/// The kernel image's section boundaries, as physical or virtual addresses (only
/// differences and containment are used), half-open `(start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelSections {
    /// `[_stext, _etext)`.
    pub text: (u64, u64),
    /// `[__start_rodata, __end_rodata)`.
    pub rodata: (u64, u64),
    /// `[_sdata, _edata)`.
    pub rwdata: (u64, u64),
    /// `[__init_begin, __init_end)`.
    pub init: (u64, u64),
    /// `[_sinittext, _einittext)`.
    pub inittext: (u64, u64),
    /// `[__bss_start, __bss_stop)`.
    pub bss: (u64, u64),
}

/// The page counts the Memory line reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemCounts {
    /// `get_num_physpages()`: [`NodeZones::num_physpages`].
    pub physpages: u64,
    /// `nr_free_pages()` after `memblock_free_all`.
    pub nr_free_pages: u64,
    /// `totalram_pages()`: what `memblock_free_all` freed ([`memblock_free_all_pages`] counts
    /// it without freeing).
    pub totalram_pages: u64,
    /// `totalcma_pages`: pages of CMA areas, not yet handed to the buddy allocator.
    pub totalcma_pages: u64,
}

/// Linux 6.1's `mem_init_print_info`:
///
/// `Memory: %luK/%luK available (%luK kernel code, %luK rwdata, %luK rodata, %luK init,
/// %luK bss, %luK reserved, %luK cma-reserved)`
///
/// with available = free pages, the total = physpages, sizes in KiB rounded down, init =
/// init data + init text, reserved = physpages - totalram - totalcma. Before printing, a
/// section that contains another has the contained one's size taken off (when it is larger
/// than it): init text inside `[__init_begin, __init_end)` comes off the init size, init text
/// inside text off the code size, `__init_begin` inside rwdata takes the init size off rwdata,
/// and rodata inside text or rwdata comes off that section.
pub fn fmt_mem_init_info(counts: &MemCounts, s: &KernelSections, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    let size = |r: (u64, u64)| r.1 - r.0;
    let mut codesize = size(s.text);
    let mut datasize = size(s.rwdata);
    let rosize = size(s.rodata);
    let bss_size = size(s.bss);
    let mut init_data_size = size(s.init);
    let init_code_size = size(s.inittext);
    let adj = |range: (u64, u64), size: &mut u64, pos: u64, by: u64| {
        if range.0 <= pos && pos < range.1 && *size > by {
            *size -= by;
        }
    };
    adj(s.init, &mut init_data_size, s.inittext.0, init_code_size);
    adj(s.text, &mut codesize, s.inittext.0, init_code_size);
    adj(s.rwdata, &mut datasize, s.init.0, init_data_size);
    adj(s.text, &mut codesize, s.rodata.0, rosize);
    adj(s.rwdata, &mut datasize, s.rodata.0, rosize);

    let k = |pages: u64| pages << (PAGE_SHIFT - 10);
    let reserved = counts.physpages.wrapping_sub(counts.totalram_pages).wrapping_sub(counts.totalcma_pages);
    out(format_args!(
        "Memory: {}K/{}K available ({}K kernel code, {}K rwdata, {}K rodata, {}K init, {}K bss, \
         {}K reserved, {}K cma-reserved)",
        k(counts.nr_free_pages),
        k(counts.physpages),
        codesize >> 10,
        datasize >> 10,
        rosize >> 10,
        (init_data_size + init_code_size) >> 10,
        bss_size >> 10,
        k(reserved),
        k(counts.totalcma_pages)
    ));
}


#[cfg(test)]
mod tests;
