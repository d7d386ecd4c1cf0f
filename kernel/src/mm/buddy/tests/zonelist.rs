//! Which zone and node an allocation comes from.

use super::*;

#[test]
fn highest_allowed_zone_first_then_lower() {
    //  | DMA [0,16) | DMA32 [16,32) | Normal [32,48) |   each handed over as one o4 block
    let mut z = zones();
    add_node(&mut z, 0, 0, 48, &[]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 16, 16).unwrap();
    z.init_zone(0, ZoneType::Dma32, Pfn(16), 16, 16).unwrap();
    z.init_zone(0, ZoneType::Normal, Pfn(32), 16, 16).unwrap();
    assert_eq!(z.free_range(Pfn(0), Pfn(48)), Ok(48));
    // GFP_KERNEL-like: Normal first, its block's low page.
    assert_eq!(z.alloc_pages(0, ZoneType::Normal), Ok(Pfn(32)));
    // GFP_DMA32-like: DMA32's whole block, then DMA32 is empty and DMA serves the next one.
    assert_eq!(z.alloc_pages(4, ZoneType::Dma32), Ok(Pfn(16)));
    assert_eq!(z.alloc_pages(4, ZoneType::Dma32), Ok(Pfn(0)));
    // GFP_DMA-like: DMA is empty now, and higher zones are never used for it.
    assert_eq!(z.alloc_pages(0, ZoneType::Dma), Err(BuddyError::NoMemory { order: 0, highest: ZoneType::Dma }));
    // Movable allows everything; Movable has no pages, Normal still has 15 (o0 [33] first).
    assert_eq!(z.alloc_pages(0, ZoneType::Movable), Ok(Pfn(33)));
    check_invariants(&z);
}

#[test]
fn preferred_node_first_then_the_others_in_order() {
    // Node 0: Normal [0,16); node 1: Normal [16,32); both one o4 block.
    let mut z = zones();
    add_node(&mut z, 0, 0, 16, &[]);
    add_node(&mut z, 1, 16, 32, &[]);
    z.init_zone(0, ZoneType::Normal, Pfn(0), 16, 16).unwrap();
    z.init_zone(1, ZoneType::Normal, Pfn(16), 16, 16).unwrap();
    z.free_range(Pfn(0), Pfn(32)).unwrap();
    // Node 1 preferred: its low page, leaving o0 [17] o1 [18] o2 [20] o3 [24] there.
    assert_eq!(z.alloc_pages_node(1, 0, ZoneType::Normal), Ok(Pfn(16)));
    // No preference: node 0 first, which gives up its whole block...
    assert_eq!(z.alloc_pages(4, ZoneType::Normal), Ok(Pfn(0)));
    // ...so the next one falls back to node 1's o0 list.
    assert_eq!(z.alloc_pages(0, ZoneType::Normal), Ok(Pfn(17)));
    assert_eq!(z.alloc_pages_node(16, 0, ZoneType::Normal), Err(BuddyError::BadNode { nid: 16 }));
    assert_eq!(z.zone(1, ZoneType::Normal).unwrap().free_pages(), 14);
    check_invariants(&z);
}
