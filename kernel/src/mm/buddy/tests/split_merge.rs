//! Handing ranges over, splitting on allocation and merging on free.

use super::*;

#[test]
fn sixteen_pages_become_one_order_4_block_and_split_back() {
    // [0, 16): pfn 0 has every low bit clear, so the order is capped at 10, then lowered
    // until the block fits the 16 pages: order 4.    o4: [0]
    let mut z = one_zone(ZoneType::Normal, 16);
    assert_eq!(z.free_range(Pfn(0), Pfn(16)), Ok(16));
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(4, vec![0])]);
    assert_eq!(z.zone(0, ZoneType::Normal).unwrap().managed_pages(), 16);

    // Order 0 from the only block: take [0, 16) and give back the upper halves
    // [8,16) o3, [4,8) o2, [2,4) o1, [1,2) o0; pfn 0 is returned.
    //   o0: [1]  o1: [2]  o2: [4]  o3: [8]
    assert_eq!(z.alloc_pages(0, ZoneType::Normal), Ok(Pfn(0)));
    assert_eq!(
        lists(&z, 0, ZoneType::Normal),
        vec![(0, vec![1]), (1, vec![2]), (2, vec![4]), (3, vec![8])]
    );
    assert_eq!(z.nr_free_pages(), 15);
    check_invariants(&z);

    // Freeing pfn 0 merges with 1 (o0), then 2 (o1), 4 (o2), 8 (o3): back to o4: [0].
    z.free_pages(Pfn(0), 0).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(4, vec![0])]);
    assert_eq!(z.nr_free_pages(), 16);
    check_invariants(&z);
}

#[test]
fn unaligned_range_3_to_37() {
    //  3: ffs 0 -> o0 [3,4)     4: ffs 2 -> o2 [4,8)    8: ffs 3 -> o3 [8,16)
    // 16: ffs 4 -> o4 [16,32)  32: ffs 5, but 64 > 37 -> lowered to o2 [32,36)
    // 36: ffs 2, 40 > 37 -> o1, 38 > 37 -> o0 [36,37)
    // No two are buddies of the same order (3's buddy 2, 36's buddy 37 are not free; 32's
    // order-2 buddy 36 is only an order-0 block), so nothing merges. Blocks go to the tail,
    // so each list is in address order:   o0: [3, 36]  o2: [4, 32]  o3: [8]  o4: [16]
    let mut z = one_zone(ZoneType::Normal, 64);
    assert_eq!(z.free_range(Pfn(3), Pfn(37)), Ok(34));
    assert_eq!(
        lists(&z, 0, ZoneType::Normal),
        vec![(0, vec![3, 36]), (2, vec![4, 32]), (3, vec![8]), (4, vec![16])]
    );
    assert_eq!(z.nr_free_pages(), 34);
    check_invariants(&z);
}

#[test]
fn a_large_range_costs_one_block_per_4_mib() {
    // 64 GiB = 2^24 pages from pfn 0: 2^24 / 2^10 = 16384 blocks of order 10, nothing else.
    // The memmap is 16 MiB; only the block heads are touched.
    let mut z = one_zone(ZoneType::Normal, 1 << 24);
    assert_eq!(z.free_range(Pfn(0), Pfn(1 << 24)), Ok(1 << 24));
    let zone = z.zone(0, ZoneType::Normal).unwrap();
    assert_eq!(zone.nr_free(10), 16384);
    assert_eq!((0..10).map(|o| zone.nr_free(o)).sum::<u64>(), 0);
    assert_eq!(z.links().0.len(), 16384);
}

#[test]
fn zone_boundary_stops_merging() {
    //  |   DMA [0,24)   | DMA32 [24,64)            |
    //  | o4 0 | o3 16   | o3 24 | o5 32            |
    // The range is cut at 24: in DMA, 0 -> o4 [0,16), 16 -> o3 [16,24); in DMA32, 24 (ffs 3)
    // -> o3 [24,32), 32 (ffs 5) -> o5 [32,64). [16,24) and [24,32) are order-3 buddies, but
    // in different zones: they stay apart.
    let mut z = zones();
    add_node(&mut z, 0, 0, 64, &[]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 24, 24).unwrap();
    z.init_zone(0, ZoneType::Dma32, Pfn(24), 40, 40).unwrap();
    assert_eq!(z.free_range(Pfn(0), Pfn(64)), Ok(64));
    assert_eq!(lists(&z, 0, ZoneType::Dma), vec![(3, vec![16]), (4, vec![0])]);
    assert_eq!(lists(&z, 0, ZoneType::Dma32), vec![(3, vec![24]), (5, vec![32])]);
    assert_eq!(z.zone(0, ZoneType::Dma).unwrap().managed_pages(), 24);
    assert_eq!(z.zone(0, ZoneType::Dma32).unwrap().managed_pages(), 40);

    // Allocate [24,32) from DMA32 and free it again: it returns to DMA32's o3 list, not
    // merged with DMA's [16,24).
    assert_eq!(z.alloc_pages(3, ZoneType::Dma32), Ok(Pfn(24)));
    z.free_pages(Pfn(24), 3).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Dma32), vec![(3, vec![24]), (5, vec![32])]);
    check_invariants(&z);
}

#[test]
fn reserved_and_missing_buddies_never_merge() {
    //  | o3 [0,8) | reserved [8,16) | o3 [16,24) | (memmap and zone end at 24)
    // [0,8)'s order-3 buddy is reserved; [16,24)'s order-3 buddy [24,32) is past the zone
    // and the memmap: no merge either way, and no read outside the memmap.
    let mut z = zones();
    add_node(&mut z, 0, 0, 24, &[(8, 16)]);
    assert_eq!(z.memmap(0).unwrap().reserved_pages(), 8);
    z.init_zone(0, ZoneType::Normal, Pfn(0), 24, 16).unwrap();
    z.free_range(Pfn(0), Pfn(8)).unwrap();
    z.free_range(Pfn(16), Pfn(24)).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(3, vec![0, 16])]);

    // Splitting next to the hole and freeing again rebuilds the same two blocks.
    assert_eq!(z.alloc_pages(0, ZoneType::Normal), Ok(Pfn(0)));
    assert_eq!(z.alloc_pages(2, ZoneType::Normal), Ok(Pfn(4)));
    z.free_pages(Pfn(4), 2).unwrap();
    z.free_pages(Pfn(0), 0).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(3, vec![0, 16])]);
    check_invariants(&z);
}

#[test]
fn merge_likely_blocks_go_to_the_tail() {
    // Start: o1: [6]  o3: [8] (handed over as [6,8) and [8,16); pfns 0..6 were never handed
    // over, i.e. allocated).
    let mut z = one_zone(ZoneType::Normal, 32);
    z.free_range(Pfn(6), Pfn(16)).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(1, vec![6]), (3, vec![8])]);

    // free 4 (o0): buddy 5 is busy, so it stays order 0; the order-1 block above, [4,6), has
    // its buddy [6,8) free: a merge is likely, tail.                o0: [4]
    // free 2 (o1): buddy [0,2) busy; the order-2 buddy of [0,4) is 4, which heads only an
    // order-0 block: not likely, front.                             o1: [2, 6]
    // free 1 (o0): buddy 0 busy; the order-1 buddy of [0,2) is [2,4), free: tail.
    //                                                               o0: [4, 1]
    z.free_pages(Pfn(4), 0).unwrap();
    z.free_pages(Pfn(2), 1).unwrap();
    z.free_pages(Pfn(1), 0).unwrap();
    assert_eq!(
        lists(&z, 0, ZoneType::Normal),
        vec![(0, vec![4, 1]), (1, vec![2, 6]), (3, vec![8])]
    );

    // free 0: + 1 -> o1 [0,2), + [2,4) -> o2 [0,4); 4 is order 0, stop. Then free 5:
    // + 4 -> o1 [4,6), + [6,8) -> o2 [4,8), + [0,4) -> o3 [0,8), + [8,16) -> o4 [0,16);
    // [16,32) was never handed over: stop.                          o4: [0]
    z.free_pages(Pfn(0), 0).unwrap();
    z.free_pages(Pfn(5), 0).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(4, vec![0])]);
    assert_eq!(z.nr_free_pages(), 16);
    check_invariants(&z);
}

#[test]
fn buddyinfo_matches_proc_format() {
    // Node 0: DMA [0,64) with [3,37) free (o0 2, o2 2, o3 1, o4 1, from the unaligned test),
    //         DMA32 [64,128) spanned but with no present page: not populated, not printed.
    // Node 1: Normal [1024,2048), all free: 1024 is aligned to 2^10, one o10 block.
    // Format: "Node %d, zone %8s " then "%6lu " per order; "DMA" pads to 8 with 5 spaces.
    let mut z = zones();
    add_node(&mut z, 0, 0, 128, &[]);
    add_node(&mut z, 1, 1024, 2048, &[]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 64, 64).unwrap();
    z.init_zone(0, ZoneType::Dma32, Pfn(64), 64, 0).unwrap();
    z.init_zone(1, ZoneType::Normal, Pfn(1024), 1024, 1024).unwrap();
    z.free_range(Pfn(3), Pfn(37)).unwrap();
    z.free_range(Pfn(1024), Pfn(2048)).unwrap();
    let mut text = String::new();
    z.fmt_buddyinfo(&mut |args| {
        text.push_str(&args.to_string());
        text.push('\n');
    });
    let expected = concat!(
        "Node 0, zone      DMA      2      0      2      1      1      0      0      0      0      0      0 \n",
        "Node 1, zone   Normal      0      0      0      0      0      0      0      0      0      0      1 \n",
    );
    assert_eq!(text, expected);
}

/// The top-order blocks of a range are handed over in runs (`free_top_blocks`), with the
/// lists `free_one_page(.., to_tail)` would build one block at a time: every block at the tail
/// of its pageblock's type, in address order.
///
/// Zone over pfn 0..0x2400 (9 blocks of order 10). Before the hand-over, block 3 (0xc00)
/// has an unmovable pageblock and block 6 (0x1800) a CMA one; pfn 0x2000 is reserved.
/// `free_range(0x200, 0x2000)`: 0x200 is of order 9 (then 0x400..0x2000, seven top blocks).
///   o9  movable: [0x200]
///   o10 movable: [0x400, 0x800, 0x1000, 0x1400, 0x1c00]   unmovable: [0xc00]   cma: [0x1800]
/// free_pages = 0x1e00 (0x2000 - 0x200), of which 0x400 in the CMA pageblock's block.
#[test]
fn top_order_runs_keep_address_order_per_pageblock_type() {
    let mut z = zones();
    add_node(&mut z, 0, 0, 0x2400, &[(0x2000, 0x2001)]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 0x2400, 0x2400).unwrap();
    {
        let node = z.nodes[0].as_deref_mut().unwrap();
        let mm = node.memmap.as_mut().unwrap();
        mm.set_pageblock_type(0xc00, MigrateType::Unmovable);
        mm.set_pageblock_type(0x1800, MigrateType::Cma);
    }
    assert_eq!(z.free_range(Pfn(0x200), Pfn(0x2000)), Ok(0x1e00));
    let zone = z.zone(0, ZoneType::Dma).unwrap();
    let list = |o: u32, mt: MigrateType| {
        let mut v = vec![];
        zone.free_area(o).unwrap().for_each_of(mt, z.links(), &mut |p| v.push(p));
        v
    };
    assert_eq!(list(9, MigrateType::Movable), [0x200]);
    assert_eq!(list(10, MigrateType::Movable), [0x400, 0x800, 0x1000, 0x1400, 0x1c00]);
    assert_eq!(list(10, MigrateType::Unmovable), [0xc00]);
    assert_eq!(list(10, MigrateType::Cma), [0x1800]);
    assert_eq!((zone.free_pages(), zone.free_cma_pages(), zone.managed_pages()), (0x1e00, 0x400, 0x1e00));
    check_invariants(&z);

    // 0x0..0x200 is one block of order 9, which merges with 0x200 into order 10 at 0x0 and
    // goes to the tail of the movable list; `lists` walks the types in Linux's order
    // (unmovable, movable, reclaimable, CMA).
    assert_eq!(z.free_range(Pfn(0x0), Pfn(0x200)), Ok(0x200));
    assert_eq!(lists(&z, 0, ZoneType::Dma), [(10, vec![0xc00, 0x400, 0x800, 0x1000, 0x1400, 0x1c00, 0x0, 0x1800])]);
    check_invariants(&z);
}

/// A reserved head among the top-order blocks fails the whole range before anything is
/// freed, as for any other block: pfn 0x1000 (the head of block 4 of 0x0..0x2000) is reserved.
#[test]
fn a_reserved_top_block_head_frees_nothing() {
    let mut z = zones();
    add_node(&mut z, 0, 0, 0x2000, &[(0x1000, 0x1001)]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 0x2000, 0x2000).unwrap();
    assert_eq!(z.free_range(Pfn(0), Pfn(0x2000)), Err(BuddyError::Reserved { pfn: Pfn(0x1000) }));
    let zone = z.zone(0, ZoneType::Dma).unwrap();
    assert_eq!((zone.free_pages(), zone.managed_pages()), (0, 0));
    assert!(lists(&z, 0, ZoneType::Dma).is_empty());
    // A top block freed twice is a double free, named at its head.
    assert_eq!(z.free_range(Pfn(0), Pfn(0x400)), Ok(0x400));
    assert_eq!(
        z.free_range(Pfn(0), Pfn(0x800)),
        Err(BuddyError::DoubleFree { pfn: Pfn(0), head: Pfn(0), order: 10 })
    );
}

/// Linux's buddy_merge_likely looks one order up for every order below MAX_ORDER - 2 = 9: an
/// order-8 block is put at the tail when its order-9 neighbour is free, an order-9 block
/// always at the front.
#[test]
fn merge_likely_stops_below_order_nine() {
    // Nothing handed over. free 1536 (o8): buddy 1792 busy; the order-9 buddy of [1536,2048)
    // is 1024, not free: front.                                       o8: [1536]
    // free 512 (o9): buddy 0 busy; order 9 is not looked at: front.  o9: [512]
    // free 0 (o8): buddy 256 busy; the order-9 buddy of [0,512) is 512, free: tail.
    //                                                                 o8: [1536, 0]
    let mut z = one_zone(ZoneType::Normal, 2048);
    z.free_pages(Pfn(1536), 8).unwrap();
    z.free_pages(Pfn(512), 9).unwrap();
    z.free_pages(Pfn(0), 8).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(8, vec![1536, 0]), (9, vec![512])]);

    // Nothing handed over. free 2048 (o9): buddy 2560 busy: front.    o9: [2048]
    // free 1024 (o10).                                                o10: [1024]
    // free 0 (o9): buddy 512 busy; its order-10 buddy 1024 is free, but order 9 is not
    // looked at: front.                                               o9: [0, 2048]
    let mut z = one_zone(ZoneType::Normal, 4096);
    z.free_pages(Pfn(2048), 9).unwrap();
    z.free_pages(Pfn(1024), 10).unwrap();
    z.free_pages(Pfn(0), 9).unwrap();
    assert_eq!(lists(&z, 0, ZoneType::Normal), vec![(9, vec![0, 2048]), (10, vec![1024])]);
    check_invariants(&z);
}
