//! A memmap with holes of invalid frames (`pfn_valid` false): no state, never freed, never
//! merged into; and the array links packed over the valid frames.

use super::*;
use crate::mm::sparse::{SectionRun, ValidPfns};

//  pfn  0        8        16       24       32
//       | valid  | hole   | valid  | valid  |       runs [0,8) at 0, [16,32) at 8 (packed)
//       +--------+--------+--------+--------+
//  zone Normal [0,32), 24 present. Freed: [0,8) stays order 3 (its buddy 8 is invalid);
//  [16,32) is one order-4 block (16 is aligned to 16); the order-5 block [0,32) would hold
//  the hole, so 0 and 16 never merge: o3: [0]  o4: [16].
const RUNS: [SectionRun; 2] =
    [SectionRun { start_pfn: 0, end_pfn: 8, base: 0 }, SectionRun { start_pfn: 16, end_pfn: 32, base: 8 }];

fn holed() -> Box<TestZones> {
    let pages = Box::leak(vec![PageState::from_raw(0xa5); 24].into_boxed_slice());
    let sections = Box::leak(vec![SectionState::Live; 1].into_boxed_slice());
    assert!(Memmap::new(&RUNS, &mut [PageState::NORMAL; 23], &mut [SectionState::Blank]).is_none(), "one entry short");
    assert!(Memmap::new(&RUNS, &mut [PageState::NORMAL; 24], &mut []).is_none(), "no section state");
    let mut mm = Memmap::new(&RUNS, pages, sections).unwrap();
    // Marking the whole span touches the 24 valid frames only; clear them again.
    assert_eq!(mm.mark_reserved(Pfn(0), Pfn(32)), Ok(24));
    assert_eq!(mm.clear_reserved(Pfn(4), Pfn(20)), Ok(8), "[4,8) and [16,20): the hole has no entries");
    assert_eq!(mm.clear_reserved(Pfn(0), Pfn(32)), Ok(16));
    assert_eq!(mm.mark_reserved(Pfn(0), Pfn(33)), Err(BuddyError::OutsideMemmap { start: Pfn(0), end: Pfn(33) }));
    let mut z = zones();
    z.add_node(0, node_data(0), mm).unwrap();
    z.init_zone(0, ZoneType::Normal, Pfn(0), 32, 24).unwrap();
    z
}

#[test]
fn a_hole_of_invalid_frames_is_never_free_nor_merged_into() {
    let mut z = holed();
    let mm = z.memmap(0).unwrap();
    assert_eq!((mm.covers(7), mm.covers(8), mm.covers(15), mm.covers(16)), (true, false, false, true));
    assert_eq!(mm.get(Pfn(8)), None);
    assert_eq!(z.free_range(Pfn(0), Pfn(8)), Ok(8));
    assert_eq!(z.free_range(Pfn(16), Pfn(32)), Ok(16));
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(3, vec![0]), (4, vec![16])]);
    // The hole is in the zone's span but in no zone for the allocator.
    assert_eq!(z.free_pages(Pfn(8), 3), Err(BuddyError::NotInZone { pfn: Pfn(8) }));
    assert_eq!(z.free_range(Pfn(8), Pfn(16)), Err(BuddyError::NotInZone { pfn: Pfn(8) }));
    assert_eq!(z.alloc_pages(5, ZoneType::Normal), Err(BuddyError::NoMemory { order: 5, highest: ZoneType::Normal }));
    // Taking [0,8) in single pages and giving them back rebuilds order 3 and no more.
    let taken: Vec<u64> = (0..8).map(|_| z.alloc_pages(0, ZoneType::Normal).unwrap().0).collect();
    assert!(taken.iter().all(|&p| p < 8 || (16..32).contains(&p)));
    for p in taken {
        z.free_pages(Pfn(p), 0).unwrap();
    }
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(3, vec![0]), (4, vec![16])]);
}

#[test]
fn array_links_index_valid_frames_only() {
    // 24 valid frames need 24 + 12 + 6 + 3 + 2 + 1 * 6 = 53 entries, not the 32-frame span's 68.
    let valid = ValidPfns::runs(&RUNS).unwrap();
    assert_eq!(ArrayLinks::slots_for(valid.frames()), 53);
    let slots = Box::leak(vec![[0u32; 2]; 53].into_boxed_slice());
    let mut links = ArrayLinks::new();
    assert!(links.add_node(&RUNS, slots));
    // A link from the last valid frame before the hole to the first after it, and back.
    links.set(7, 0, Link { prev: Link::NIL, next: 16 });
    links.set(16, 0, Link { prev: 7, next: 31 });
    links.set(16, 4, Link { prev: 0, next: Link::NIL });
    assert_eq!(links.get(7, 0), Link { prev: Link::NIL, next: 16 });
    assert_eq!(links.get(16, 0), Link { prev: 7, next: 31 });
    assert_eq!(links.get(16, 4), Link { prev: 0, next: Link::NIL });
}

#[test]
#[should_panic(expected = "in no node's array")]
fn array_links_of_a_hole_frame_are_a_setup_error() {
    let slots = Box::leak(vec![[0u32; 2]; 53].into_boxed_slice());
    let mut links = ArrayLinks::new();
    assert!(links.add_node(&RUNS, slots));
    links.get(8, 0);
}

/// Each order has its own entries: the head of every block of every order of a 16-frame node
/// (16 + 8 + 4 + 2 + 1 + 6 * 1 = 37 entries) keeps what was stored for it.
#[test]
fn array_links_keep_every_order_apart() {
    let runs = crate::mm::sparse::dense(0, 16);
    assert_eq!(ArrayLinks::slots_for(16), 37);
    let slots = Box::leak(vec![[0u32; 2]; 37].into_boxed_slice());
    let mut links = ArrayLinks::new();
    assert!(links.add_node(Box::leak(Box::new(runs)), slots));
    let heads = || (0..=10u32).flat_map(|o| (0..16u64).step_by(1 << o.min(4)).map(move |p| (p, o)));
    for (pfn, order) in heads() {
        links.set(pfn, order, Link { prev: pfn, next: order.into() });
    }
    for (pfn, order) in heads() {
        assert_eq!(links.get(pfn, order), Link { prev: pfn, next: order.into() }, "pfn {pfn} order {order}");
    }
}

/// Node spans may interleave, as Linux allows: node 0's valid frames [0,8) and [16,32) lie on
/// both sides of node 1's [8,16). Each frame has one node (the one whose memmap covers it):
/// node 1's block is freed into node 1's zone, and node 0's order-3 block at 0 does not merge
/// with it. A node whose valid frames meet another's is refused.
#[test]
fn interleaved_nodes_share_no_frame() {
    let mut z = holed();
    let inner = |start, frames| {
        let pages = Box::leak(vec![PageState::NORMAL; frames as usize].into_boxed_slice());
        let runs = Box::leak(Box::new([SectionRun { start_pfn: start, end_pfn: start + frames, base: 0 }]));
        Memmap::new(&runs[..], pages, Box::leak(Box::new([SectionState::Blank]))).unwrap()
    };
    assert_eq!(z.add_node(2, node_data(2), inner(12, 8)), Err(BuddyError::NodeOverlap { nid: 2 }), "[16,20) is node 0's");
    assert_eq!(z.add_node(1, node_data(1), inner(8, 8)), Ok(()));
    z.init_zone(1, ZoneType::Normal, Pfn(8), 8, 8).unwrap();
    // memblock_free_all's ranges never cross a memory region, so never a node: one each.
    assert_eq!(z.free_range(Pfn(8), Pfn(16)), Ok(8));
    assert_eq!(z.free_range(Pfn(0), Pfn(8)), Ok(8), "its buddy at 8 is free, in node 1");
    assert_eq!(z.free_range(Pfn(16), Pfn(32)), Ok(16));
    assert_eq!(lists(&z, 0, ZoneType::Normal), [(3, vec![0]), (4, vec![16])]);
    assert_eq!(lists(&z, 1, ZoneType::Normal), [(3, vec![8])]);
    check_invariants(&z);
}
