//! Host tests of `memblock_free_all`: a layout with holes, NOMAP memory, partial-page and
//! whole-page reservations, two nodes and the 4 GiB zone boundary inside a free range goes
//! to the buddy allocator; every free block is then checked against an independent model.
//!
//! The model: the free frames F are the frames of memory that are neither in a hole, nor
//! NOMAP, nor touched by a reservation. After every range is freed and merged, the buddy
//! allocator holds exactly the maximal naturally aligned blocks of F (order 10 at most) that
//! lie inside one zone: a block of order o at pfn p is free iff p is aligned to 2^o, all of
//! [p, p + 2^o) is in F and in p's zone, and the block of order o + 1 holding it is not
//! (or o = 10). That decomposition is unique, so the walk below must find exactly it.

use super::*;
use crate::mm::buddy::{ArrayLinks, PageState, SectionState, Zone, MAX_ORDER};
use crate::mm::numa::node_span;
use crate::mm::sparse::{self, SectionRun, PAGES_PER_SECTION};
use crate::mm::PhysAddr;
use crate::mm::zone_sizes::{arm64_zone_limits, free_area_init, tests::ARM64};
use std::boxed::Box;
use std::collections::BTreeSet;
use std::vec;
use std::vec::Vec;

const PAGE: u64 = PAGE_SIZE;
const G4: u64 = 1 << 32;

// The layout, by physical address (pfn = address / 4 KiB):
//
//  0xffc00000      0xffe00000  0xfff00000   4 GiB        0x100200000  0x100400000  0x100800000
//  | node 0 (2 MiB) |   hole   | node 0 (1 MiB below 4 GiB, 2 MiB above)|    hole   | node 1 (4 MiB) |
//  +----------------+----------+--------------------+-------------------+-----------+----------------+
//    r: 2 pages at +4K           r: 256 bytes at      NOMAP: 64 KiB at               r: the last page
//       (0xffc01000)                0xfff80800          0x100100000
//                                   (one page)
//
// ZONE_DMA ends at 4 GiB (no dma-ranges, DRAM below 4 GiB): DMA = [0xffc00, 0x100000),
// Normal = [0x100000, 0x100800). The free range [0xfff81, 0x100100) crosses 4 GiB and must be
// cut there. Node 1 lies entirely in Normal.
const NODE0_LOW: (u64, u64) = (0xffc0_0000, 0xffe0_0000);
const NODE0_HIGH: (u64, u64) = (0xfff0_0000, 0x1_0020_0000);
const NODE1: (u64, u64) = (0x1_0040_0000, 0x1_0080_0000);
const RESERVED: [(u64, u64); 3] = [(0xffc0_1000, 2 * PAGE), (0xfff8_0800, 0x100), (0x1_007f_f000, PAGE)];
const NOMAP: (u64, u64) = (0x1_0010_0000, 0x10000);

fn layout() -> Box<Memblock> {
    let mut mb = Box::new(Memblock::new());
    for (nid, (s, e)) in [(0, NODE0_LOW), (0, NODE0_HIGH), (1, NODE1)] {
        mb.add_node(PhysAddr(s), e - s, nid, MemblockFlags::NONE).unwrap();
    }
    for (base, size) in RESERVED {
        mb.reserve(PhysAddr(base), size).unwrap();
    }
    mb.mark_nomap(PhysAddr(NOMAP.0), NOMAP.1).unwrap();
    mb
}

/// F, from the picture: memory frames less holes, NOMAP and every page a reservation touches.
fn model_free() -> BTreeSet<u64> {
    let pfns = |(s, e): (u64, u64)| (s / PAGE)..(e / PAGE);
    let mut f: BTreeSet<u64> = [NODE0_LOW, NODE0_HIGH, NODE1].into_iter().flat_map(pfns).collect();
    for (base, size) in RESERVED.into_iter().chain([NOMAP]) {
        for pfn in (base / PAGE)..(base + size).div_ceil(PAGE) {
            f.remove(&pfn);
        }
    }
    f
}

/// The zone of a pfn in the picture: (node, DMA or Normal).
fn model_zone(pfn: u64) -> (i32, &'static str) {
    let nid = if pfn >= NODE1.0 / PAGE { 1 } else { 0 };
    (nid, if pfn < G4 / PAGE { "DMA" } else { "Normal" })
}

/// The maximal aligned blocks of `f` (order 10 at most) that stay inside one zone.
fn model_blocks(f: &BTreeSet<u64>) -> BTreeSet<(u64, u32)> {
    let fits = |p: u64, o: u32| {
        p % (1 << o) == 0 && (p..p + (1 << o)).all(|q| f.contains(&q) && model_zone(q) == model_zone(p))
    };
    let mut out = BTreeSet::new();
    for &p in f {
        // the largest order whose block at p fits; p starts a maximal block iff no larger
        // aligned block holding p fits
        let Some(o) = (0..MAX_ORDER).rev().find(|&o| fits(p, o)) else { continue };
        let parent_fits = (o + 1..MAX_ORDER).any(|big| fits(p & !((1 << big) - 1), big));
        if !parent_fits {
            out.insert((p, o));
        }
    }
    out
}

/// Each node's memmap and links over its present sections, sized as `alloc_memmaps` sizes
/// them, the run table written as the kernel writes it (in leaked host memory).
type NodeMemmaps = Vec<(i32, &'static mut NodeData<'static>, Memmap<'static>)>;
fn sparse_memmaps(mb: &Memblock, nids: &[i32]) -> (ArrayLinks<'static>, NodeMemmaps) {
    let mut links = ArrayLinks::new();
    let mut memmaps = Vec::new();
    for &nid in nids {
        let runs: &'static [SectionRun] = Box::leak(sparse::node_section_runs(mb, nid).collect::<Vec<_>>().into_boxed_slice());
        let frames: u64 = runs.iter().map(SectionRun::section_frames).sum();
        let slots = Box::leak(vec![[0u32; 2]; ArrayLinks::slots_for(frames) as usize].into_boxed_slice());
        assert!(links.add_node(runs, slots));
        // Memory not yet written may hold anything: nothing may read an entry before writing it.
        let pages = Box::leak(vec![PageState::from_raw(0xa5); frames as usize].into_boxed_slice());
        let sections = Box::leak(vec![SectionState::Live; Memmap::sections_for(frames) as usize].into_boxed_slice());
        let data = Box::leak(Box::new(NodeData::new(nid)));
        let memmap = Memmap::new(runs, pages, sections).unwrap();
        assert_eq!((memmap.start_pfn(), memmap.end_pfn()), node_span(mb, nid as usize).unwrap());
        memmaps.push((nid, data, memmap));
    }
    (links, memmaps)
}

#[test]
fn every_free_block_lands_in_its_zone_node_and_order() {
    let mut mb = layout();
    let limits = arm64_zone_limits(&mb, &ARM64, None);
    assert_eq!(limits.dma, G4 / PAGE, "ZONE_DMA ends at 4 GiB");
    let layout_zones = free_area_init(&mb, &limits, crate::mm::numa::NodeMask::default(), &mut |_| {}, &mut |_| {});

    // Node 0 has sections 31 and 32, node 1 shares section 32 (its own copy of it).
    let (links, memmaps) = sparse_memmaps(&mb, &[0, 1]);
    let mut zones = Box::new(Zones::new(links));
    let freed = memblock_free_all(&mut mb, &mut zones, memmaps, &layout_zones).unwrap();

    let f = model_free();
    assert_eq!(freed, f.len() as u64, "every free frame and nothing else is handed over");

    let mut found = BTreeSet::new();
    let populated: Vec<&Zone> = zones.zones().filter(|z| z.is_populated()).collect();
    // node 0: DMA and Normal; node 1: Normal
    assert_eq!(populated.iter().map(|z| (z.nid(), z.name())).collect::<Vec<_>>(), [(0, "DMA"), (0, "Normal"), (1, "Normal")]);
    for zone in populated {
        for order in 0..MAX_ORDER {
            zone.free_area(order).unwrap().for_each(zones.links(), &mut |pfn| {
                for q in [pfn, pfn + (1 << order) - 1] {
                    assert_eq!(
                        (zone.nid(), zone.name()),
                        model_zone(q),
                        "block of order {order} at pfn {pfn:#x} is on node {} zone {}'s list",
                        zone.nid(),
                        zone.name()
                    );
                }
                assert!(found.insert((pfn, order)), "block {pfn:#x} order {order} listed twice");
            });
        }
    }
    let want = model_blocks(&f);
    assert_eq!(found, want, "free blocks differ from the maximal aligned blocks of the free frames");
}

#[test]
fn the_model_cuts_at_four_gib() {
    // The worked example the model must reproduce on its own: the frames from 0xfff81 (past
    // the 256-byte reservation's page) up to 4 GiB are 0x7f frames: blocks 0xfff81/0,
    // 0xfff82/1, 0xfff84/2, 0xfff88/3, 0xfff90/4, 0xfffa0/5, 0xfffc0/6. Above 4 GiB up to the
    // NOMAP at 0x100100: one block of order 8 at 0x100000.
    let want = model_blocks(&model_free());
    for block in [(0xfff81, 0), (0xfff82, 1), (0xfff84, 2), (0xfff88, 3), (0xfff90, 4), (0xfffa0, 5), (0xfffc0, 6), (0x100000, 8)] {
        assert!(want.contains(&block), "{block:x?}");
    }
    assert!(!want.iter().any(|&(p, o)| p < G4 / PAGE && p + (1 << o) > G4 / PAGE));
}

// A node with a hole of whole sections, and a hole inside a present section:
//
//  0x40000000          0x48000000  0x48400000    0x1000000000  0x1000800000
//  | section 8: 128 MiB | 4 MiB RAM | rest of 9  |  hole (sections 10..0x200)  | 8 MiB  |
//  +--------------------+-----------+------------+----------------------------+--------+
//  present sections: 8, 9, 0x200 -> 3 * 32768 memmap entries, not the 0x1c1000 frames spanned.
//  ZONE_DMA [0x40000, 0x100000), Normal [0x100000, 0x1000800): Normal spans 0xf00800 frames
//  with 2048 present, as Linux reports it. Free: 32768 + 1024 frames below (33 order-10
//  blocks), 2048 above (2 more): 35840 frames, 35 blocks of order 10, nothing smaller.
#[test]
fn a_hole_of_whole_sections_has_no_memmap_and_is_never_free() {
    let mut mb = Box::new(Memblock::new());
    mb.add_node(PhysAddr(0x4000_0000), 0x840_0000, 0, MemblockFlags::NONE).unwrap();
    mb.add_node(PhysAddr(0x10_0000_0000), 0x80_0000, 0, MemblockFlags::NONE).unwrap();
    let limits = arm64_zone_limits(&mb, &ARM64, None);
    let layout_zones = free_area_init(&mb, &limits, crate::mm::numa::NodeMask::default(), &mut |_| {}, &mut |_| {});
    let normal = &layout_zones.nodes[0].zones[ZoneType::Normal.index()];
    assert_eq!((normal.spanned_pages, normal.present_pages), (0xf00800, 2048));
    let (links, memmaps) = sparse_memmaps(&mb, &[0]);
    assert_eq!(memmaps[0].2.valid().frames(), 2 * PAGES_PER_SECTION + 2048, "entries up to the last RAM frame, in section 0x200");
    let mut zones = Box::new(Zones::new(links));
    assert_eq!(memblock_free_all(&mut mb, &mut zones, memmaps, &layout_zones), Ok(35840));
    let mm = zones.memmap(0).unwrap();
    // The rest of section 9 past the RAM, and the hole, are not valid: no state, never free.
    assert_eq!(mm.reserved_pages(), 0);
    for pfn in [0x48400, 0x50000, 0x100000, 0xfffff] {
        assert!(!mm.covers(pfn) && mm.get(Pfn(pfn)).is_none(), "{pfn:#x}");
    }
    assert_eq!(zones.free_pages(Pfn(0x100000), 10), Err(BuddyError::NotInZone { pfn: Pfn(0x100000) }));
    let counts: Vec<u64> = zones.zones().map(|z| z.nr_free(10)).collect();
    assert_eq!(counts, [33, 2]);
    assert_eq!(zones.nr_free_pages(), 35840);
}

/// `free_pfn_ranges` hands over whole frames only and leaves out a range with none left.
//  memory [0x40000000, 0x40004000): frames 0x40000..0x40004
//  reserved [0x40000000, 0x40000800) and [0x40001000, 0x40002000)
//  free [0x40000800, 0x40001000): PFN_UP 0x40001, PFN_DOWN 0x40001 -> empty, left out;
//  free [0x40002000, 0x40004000): frames [0x40002, 0x40004), cut at max_low_pfn when lower.
#[test]
fn free_pfn_ranges_leave_out_ranges_without_a_whole_frame() {
    let mut mb = Box::new(Memblock::new());
    mb.add(PhysAddr(0x4000_0000), 4 * PAGE).unwrap();
    mb.reserve(PhysAddr(0x4000_0000), 0x800).unwrap();
    mb.reserve(PhysAddr(0x4000_1000), PAGE).unwrap();
    let ranges = |max_low| free_pfn_ranges(&mb, max_low).map(|(s, e)| (s.0, e.0)).collect::<Vec<_>>();
    assert_eq!(ranges(u64::MAX), [(0x40002, 0x40004)]);
    assert_eq!(ranges(0x40003), [(0x40002, 0x40003)]);
    // Cut at its start, the second range is empty too.
    assert_eq!(ranges(0x40002), []);
}

/// A node's memmap allocation: the memmap, then the links, then the run table right after the
/// links. 262144 frames (1 GiB) have sum_{o=0..10} 262144 / 2^o = 524032 link entries of 8
/// bytes: 0x3ff800 bytes, so the table starts 0x3ff800 past the links.
#[test]
fn the_run_table_follows_the_links() {
    let m = NodeMemmap {
        nid: 0,
        start_pfn: Pfn(0x40000),
        end_pfn: Pfn(0x80000),
        frames: 262144,
        runs: 1,
        pa: PhysAddr(0x7000_0000),
        links_pa: PhysAddr(0x7100_0000),
    };
    assert_eq!(m.link_slots(), 524032);
    assert_eq!(m.runs_pa(), PhysAddr(0x713f_f800));
    // Then the section states: one run of 24 bytes, then 8 states (1 GiB of 128 MiB
    // sections), ending 0x3ff820 past the links, inside the links allocation's 0x400000.
    let three = NodeMemmap { runs: 3, ..m };
    assert_eq!(three.sections_pa(), PhysAddr(0x713f_f800 + 3 * 24));
    assert_eq!((m.sections_pa(), m.sections()), (PhysAddr(0x713f_f818), 8));
    assert_eq!(m.allocations(), [0x40000, 0x400000]);
}

/// The links allocation holds the links, the run table and the state table in whole pages.
/// 64 sections (8 GiB): 64 * 524032 bytes of links = 8188 pages exactly, then 2 runs (48
/// bytes) and 64 states: 8189 pages. 512 sections (64 GiB): 65504 pages of links exactly, then
/// 150 runs (3600 bytes) and 512 states, 4112 bytes: two pages more, 65506.
#[test]
fn the_links_allocation_holds_both_tables() {
    let s = PAGES_PER_SECTION;
    assert_eq!(sparse::allocations(64 * s, 2), [64 * s, 8189 * 4096]);
    assert_eq!(sparse::allocations(512 * s, 150), [512 * s, 65506 * 4096]);
    assert_eq!(memmap_bytes(512 * s, 150), 512 * s + 65506 * 4096);
}
