//! Every error, and that a failed call changes nothing.

use super::*;

/// A Normal zone [0,16) handed over whole (o4: [0]), and the same lists for comparison.
fn sixteen() -> Box<TestZones> {
    let mut z = one_zone(ZoneType::Normal, 16);
    z.free_range(Pfn(0), Pfn(16)).unwrap();
    z
}

#[test]
fn bad_order() {
    // Orders run 0..=10; 11 is Linux's MAX_ORDER itself.
    let mut z = sixteen();
    assert_eq!(z.free_pages(Pfn(0), 11), Err(BuddyError::BadOrder { order: 11 }));
    assert_eq!(z.alloc_pages(11, ZoneType::Normal), Err(BuddyError::BadOrder { order: 11 }));
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(4, vec![0])]);
}

#[test]
fn misaligned() {
    // pfn 2 is aligned to order 1 but not to order 2 (4 pages). Checked before anything else
    // about the page, so even a free page reports misalignment.
    let mut z = sixteen();
    assert_eq!(z.free_pages(Pfn(2), 2), Err(BuddyError::Misaligned { pfn: Pfn(2), order: 2 }));
}

#[test]
fn not_in_a_zone_or_crossing_its_end() {
    //  memmap [0,64)   zone Normal [0,24)   pfn 40: covered by the memmap, in no zone.
    let mut z = zones();
    add_node(&mut z, 0, 0, 64, &[]);
    z.init_zone(0, ZoneType::Normal, Pfn(0), 24, 24).unwrap();
    assert_eq!(z.free_pages(Pfn(40), 0), Err(BuddyError::NotInZone { pfn: Pfn(40) }));
    assert_eq!(z.free_pages(Pfn(1 << 40), 0), Err(BuddyError::NotInZone { pfn: Pfn(1 << 40) }));
    // [16,32) of order 4 starts in the zone but ends past 24.
    assert_eq!(z.free_pages(Pfn(16), 4), Err(BuddyError::CrossesZone { pfn: Pfn(16), order: 4 }));
    // A range running into the hole past the zone: nothing is handed over, not even [0,24).
    assert_eq!(z.free_range(Pfn(0), Pfn(30)), Err(BuddyError::NotInZone { pfn: Pfn(24) }));
    assert_eq!(z.nr_free_pages(), 0);
    assert_eq!(z.totalram_pages(), 0);
}

#[test]
fn double_free_of_a_head_and_inside_a_block() {
    let mut z = sixteen();
    // pfn 0 heads the o4 block.
    assert_eq!(
        z.free_pages(Pfn(0), 4),
        Err(BuddyError::DoubleFree { pfn: Pfn(0), head: Pfn(0), order: 4 })
    );
    // pfn 5 lies inside [0,16): the order-1 and -2 heads (4) and the order-3 head (0) are not
    // free blocks of those orders, the order-4 head 0 is.
    assert_eq!(
        z.free_pages(Pfn(5), 0),
        Err(BuddyError::DoubleFree { pfn: Pfn(5), head: Pfn(0), order: 4 })
    );
    // Allocate, free, free again: the second free finds pfn 0 heading o4 again.
    let p = z.alloc_pages(0, ZoneType::Normal).unwrap();
    z.free_pages(p, 0).unwrap();
    assert_eq!(
        z.free_pages(p, 0),
        Err(BuddyError::DoubleFree { pfn: Pfn(0), head: Pfn(0), order: 4 })
    );
    // Handing over a range that is already free fails the same way and changes nothing.
    assert!(matches!(z.free_range(Pfn(0), Pfn(16)), Err(BuddyError::DoubleFree { .. })));
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(4, vec![0])]);
    assert_eq!(z.totalram_pages(), 16);
    check_invariants(&z);
}

#[test]
fn reserved_pages_are_refused() {
    // [8,16) reserved; freeing page 8, or a range whose block head is 8, is refused.
    let mut z = zones();
    add_node(&mut z, 0, 0, 16, &[(8, 16)]);
    z.init_zone(0, ZoneType::Normal, Pfn(0), 16, 8).unwrap();
    assert_eq!(z.free_pages(Pfn(8), 0), Err(BuddyError::Reserved { pfn: Pfn(8) }));
    // [0,16) would be one o4 block with head 0, which is not reserved; [4,12) is cut into
    // o2 [4,8) and o2 [8,12), and the second head is reserved: nothing is freed.
    assert_eq!(z.free_range(Pfn(4), Pfn(12)), Err(BuddyError::Reserved { pfn: Pfn(8) }));
    assert_eq!(z.nr_free_pages(), 0);
}

#[test]
fn bad_range_and_empty_range() {
    let mut z = one_zone(ZoneType::Normal, 16);
    assert_eq!(z.free_range(Pfn(5), Pfn(4)), Err(BuddyError::BadRange { start: Pfn(5), end: Pfn(4) }));
    assert_eq!(z.free_range(Pfn(4), Pfn(4)), Ok(0));
}

#[test]
fn exhaustion_is_an_error() {
    // 16 pages: one o4 allocation takes all; the next order-0 request finds nothing.
    let mut z = sixteen();
    assert_eq!(z.alloc_pages(4, ZoneType::Normal), Ok(Pfn(0)));
    assert_eq!(
        z.alloc_pages(0, ZoneType::Normal),
        Err(BuddyError::NoMemory { order: 0, highest: ZoneType::Normal })
    );
    // 16 pages but asked for 32.
    z.free_pages(Pfn(0), 4).unwrap();
    assert_eq!(
        z.alloc_pages(5, ZoneType::Movable),
        Err(BuddyError::NoMemory { order: 5, highest: ZoneType::Movable })
    );
    // Memory only in Normal: a DMA request must not take it.
    assert_eq!(z.alloc_pages(0, ZoneType::Dma), Err(BuddyError::NoMemory { order: 0, highest: ZoneType::Dma }));
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(4, vec![0])]);
}

#[test]
fn setup_errors() {
    let mut z = zones();
    add_node(&mut z, 0, 0, 64, &[]);
    // Node 0 twice; node 1 overlapping node 0's [0,64) at [32,96).
    assert_eq!(z.add_node(0, node_data(0), dense_memmap(100, 4)), Err(BuddyError::NodeOverlap { nid: 0 }));
    assert_eq!(z.add_node(1, node_data(1), dense_memmap(32, 64)), Err(BuddyError::NodeOverlap { nid: 1 }));
    // Node ids outside 0..16.
    assert_eq!(z.add_node(16, node_data(16), dense_memmap(100, 4)), Err(BuddyError::BadNode { nid: 16 }));
    assert_eq!(z.add_node(-1, node_data(-1), dense_memmap(100, 4)), Err(BuddyError::BadNode { nid: -1 }));
    // A zone on a node without memmap, past the memmap, overlapping, set twice, or with more
    // present than spanned pages.
    assert_eq!(z.init_zone(2, ZoneType::Normal, Pfn(0), 8, 8), Err(BuddyError::BadNode { nid: 2 }));
    assert_eq!(
        z.init_zone(0, ZoneType::Normal, Pfn(60), 8, 8),
        Err(BuddyError::OutsideMemmap { start: Pfn(60), end: Pfn(68) })
    );
    z.init_zone(0, ZoneType::Dma, Pfn(0), 32, 32).unwrap();
    let bad = |zone| Err(BuddyError::BadZone { nid: 0, zone });
    assert_eq!(z.init_zone(0, ZoneType::Normal, Pfn(16), 32, 32), bad(ZoneType::Normal));
    assert_eq!(z.init_zone(0, ZoneType::Dma, Pfn(32), 8, 8), bad(ZoneType::Dma));
    assert_eq!(z.init_zone(0, ZoneType::Normal, Pfn(32), 8, 9), bad(ZoneType::Normal));
    assert_eq!(z.init_zone(0, ZoneType::Normal, Pfn(32), 0, 0), bad(ZoneType::Normal));
    // Reserving outside a memmap.
    let mut mm = dense_memmap(100, 4);
    assert_eq!(mm.mark_reserved(Pfn(99), Pfn(101)), Err(BuddyError::OutsideMemmap { start: Pfn(99), end: Pfn(101) }));
    // Overlapping reservations count each page once: [100,102) then [101,104) -> 2 + 2.
    assert_eq!(mm.mark_reserved(Pfn(100), Pfn(102)), Ok(2));
    assert_eq!(mm.mark_reserved(Pfn(101), Pfn(104)), Ok(2));
    assert_eq!(mm.reserved_pages(), 4);
}

/// Spans are half-open: a node that ends where another begins does not overlap it, in either
/// order of bringing them online.
#[test]
fn adjacent_nodes_do_not_overlap() {
    let mut z = zones();
    add_node(&mut z, 0, 0, 64, &[]);
    // Node 1 [64,96) starts at node 0's end (64): no page in common.
    assert_eq!(z.add_node(1, node_data(1), dense_memmap(64, 32)), Ok(()));
    // Node 2 [200,232) first, then node 3 [168,200) ending at node 2's start.
    assert_eq!(z.add_node(2, node_data(2), dense_memmap(200, 32)), Ok(()));
    assert_eq!(z.add_node(3, node_data(3), dense_memmap(168, 32)), Ok(()));
    // One page more at either end is an overlap: [95,96) is node 1's last page.
    assert_eq!(z.add_node(4, node_data(4), dense_memmap(95, 8)), Err(BuddyError::NodeOverlap { nid: 4 }));
}
