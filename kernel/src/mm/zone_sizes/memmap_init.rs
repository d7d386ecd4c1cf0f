//! Linux 6.1's `memmap_init` as far as the holes go: which pages of each zone get a reserved
//! `struct page` because no memory lies there (`init_unavailable_range`), and the "pages in
//! unavailable ranges" lines.

use core::fmt;

use crate::mm::addr::{align_down, align_up};
use crate::mm::memblock::Memblock;

use super::free_area_init::{pfn_ranges, NodeZones};
use super::{MAX_NR_ZONES, PAGEBLOCK_NR_PAGES, PAGES_PER_SECTION, ZONE_NAMES};

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

/// Linux 6.1's `memmap_init` as far as the holes go: for each memory range, in address
/// order, and each populated zone of its node, the range is clipped to the zone; the gap
/// between the end of the previous clipped range and this one is an unavailable range of
/// this zone. After the last range, the rest of its section is one more, charged to the
/// highest populated zone of the last range's node.
pub(super) fn memmap_init(mb: &Memblock, nz: &mut NodeZones, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
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
