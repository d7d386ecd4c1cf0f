//! Migrate types: lists per type, Linux 6.1's fallbacks, CMA pageblocks (host tests).
//!
//! Zones here are 2048 frames, four pageblocks of 512: [0, 512) [512, 1024) [1024, 1536)
//! [1536, 2048).

use super::*;
use crate::mm::cma::CmaArea;
use crate::mm::PhysAddr;

/// 2048 frames in one DMA zone; `[0, cma_end)` reserved and then activated as CMA, the rest
/// freed as memblock_free_all would.
fn with_cma(cma_end: u64) -> Box<TestZones> {
    let mut z = zones();
    add_node(&mut z, 0, 0, 2048, &[(0, cma_end)]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 2048, 2048).unwrap();
    z.free_range(Pfn(cma_end), Pfn(2048)).unwrap();
    assert_eq!(z.init_cma_reserved_pageblocks(Pfn(0), Pfn(cma_end)), Ok(cma_end));
    z
}

fn dma(z: &TestZones) -> &Zone {
    z.zone(0, ZoneType::Dma).unwrap()
}

#[test]
fn cma_pages_enter_the_buddy_as_managed_free_cma_pageblocks() {
    // 1024 CMA frames, 1024 movable: all free, all managed.
    let z = with_cma(1024);
    let zone = dma(&z);
    assert_eq!((zone.managed_pages(), zone.free_pages(), zone.free_cma_pages()), (2048, 2048, 1024));
    let mm = z.memmap(0).unwrap();
    assert_eq!(mm.pageblock_type(0), MigrateType::Cma);
    assert_eq!(mm.pageblock_type(1023), MigrateType::Cma);
    assert_eq!(mm.pageblock_type(1024), MigrateType::Movable);
    // Both halves are order-10 blocks, each on its own type's list (1024 and 0 are buddies
    // of order 10, but CMA and movable never merge at pageblock order and up).
    let area = zone.free_area(10).unwrap();
    assert_eq!((area.nr_free(), area.first(MigrateType::Cma), area.first(MigrateType::Movable)), (2, Some(0), Some(1024)));
}

#[test]
fn a_non_movable_allocation_never_gets_a_cma_page() {
    let mut z = with_cma(1024);
    let mut got = 0;
    while let Ok(pfn) = z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Unmovable) {
        assert!(pfn.0 >= 1024, "unmovable allocation got CMA frame {:#x}", pfn.0);
        got += 1;
    }
    // Every non-CMA frame, then nothing: the 1024 CMA frames stay free.
    assert_eq!((got, dma(&z).free_pages(), dma(&z).free_cma_pages()), (1024, 1024, 1024));
    for mt in [MigrateType::Reclaimable, MigrateType::Unmovable] {
        assert!(z.alloc_pages_type(0, 0, ZoneType::Dma, mt).is_err());
    }
    // A movable allocation still gets the CMA frames.
    assert!(z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Movable).unwrap().0 < 1024);
}

#[test]
fn movable_takes_cma_first_only_when_cma_is_over_half_of_the_free_pages() {
    // Half CMA: 1024 > 2048 / 2 is false, so movable lists first: 1024.
    let mut z = with_cma(1024);
    assert_eq!(z.alloc_pages(0, ZoneType::Dma), Ok(Pfn(1024)));
    // Three quarters CMA: 1536 > 1024, CMA first. The CMA pageblocks 0 and 512 merged into
    // an order-10 block, 1024 stayed order 9 (its buddy 1536 is movable); the smallest CMA
    // block is split: frame 1024 (movable first would give 1536).
    let mut z = with_cma(1536);
    assert_eq!(z.alloc_pages(0, ZoneType::Dma), Ok(Pfn(1024)));
}

#[test]
fn unmovable_steals_the_largest_movable_block_and_its_pageblocks() {
    // All movable: two order-10 blocks, 0 first on the list (handed over to the tail in
    // order). __rmqueue_fallback takes the largest fallback block, order 10 >= pageblock
    // order: both its pageblocks become unmovable, and the block is split for order 0.
    let mut z = one_zone(ZoneType::Dma, 2048);
    z.free_range(Pfn(0), Pfn(2048)).unwrap();
    assert_eq!(z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Unmovable), Ok(Pfn(0)));
    let mm = z.memmap(0).unwrap();
    let types: Vec<_> = [0, 512, 1024, 1536].iter().map(|&p| mm.pageblock_type(p)).collect();
    assert_eq!(types, [MigrateType::Unmovable, MigrateType::Unmovable, MigrateType::Movable, MigrateType::Movable]);
    // A movable allocation now takes from its own lists: the other order-10 block.
    assert_eq!(z.alloc_pages(0, ZoneType::Dma), Ok(Pfn(1024)));
    // And the next unmovable one from the unmovable halves expand() left: frame 1.
    assert_eq!(z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Unmovable), Ok(Pfn(1)));
}

#[test]
fn a_small_steal_claims_the_pageblock_when_half_of_it_is_free() {
    // One pageblock, free as an order-8 block [256, 512) only (the rest in use). An
    // unmovable order-0 request may claim it (unmovable always may): move_freepages_block
    // finds 256 free frames, and with the 256 in use counted alike (a movable pageblock),
    // 512 >= 256: the pageblock becomes unmovable.
    let mut z = one_zone(ZoneType::Dma, 512);
    z.free_range(Pfn(256), Pfn(512)).unwrap();
    assert_eq!(z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Unmovable), Ok(Pfn(256)));
    assert_eq!(z.memmap(0).unwrap().pageblock_type(0), MigrateType::Unmovable);
}

/// One DMA pageblock [0, 512) taken whole by unmovable allocations of `order` (the first
/// steals the order-9 block and makes the pageblock unmovable), then every other one of those
/// blocks freed again (0, 2^(order+1), ...: 256 pages, none with a free buddy), all on the
/// unmovable lists.
fn unmovable_pageblock_half_free(order: u32) -> Box<TestZones> {
    let mut z = one_zone(ZoneType::Dma, 512);
    z.free_range(Pfn(0), Pfn(512)).unwrap();
    for _ in 0..512 >> order {
        z.alloc_pages_type(0, order, ZoneType::Dma, MigrateType::Unmovable).unwrap();
    }
    for i in 0..256 >> order {
        z.free_pages(Pfn(i << (order + 1)), order).unwrap();
    }
    assert_eq!(z.memmap(0).unwrap().pageblock_type(0), MigrateType::Unmovable);
    z
}

#[test]
fn a_movable_allocation_takes_the_smallest_block_it_may_not_claim() {
    // 32 free order-3 blocks (0, 16, ..., 496), and frames [10, 12) of the busy block [8, 16)
    // freed as an order-1 block: 258 free pages.
    let mut z = unmovable_pageblock_half_free(3);
    z.free_pages(Pfn(10), 1).unwrap();
    // A movable order-0 request: the largest fallback block is of order 3, below
    // pageblock_order / 2 = 4, so a movable allocation may not claim its pageblock
    // (can_steal_fallback) and __rmqueue_fallback takes the smallest fallback block instead:
    // [10, 12). Only that block moves; it is split, 10 returned. The pageblock stays
    // unmovable (claiming it would have moved all 258 free pages, over half of 512).
    assert_eq!(z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Movable), Ok(Pfn(10)));
    assert_eq!(z.memmap(0).unwrap().pageblock_type(0), MigrateType::Unmovable);
    assert_eq!(dma(&z).free_pages(), 257);
}

#[test]
fn a_movable_allocation_claims_the_pageblock_from_order_four() {
    // 16 free order-4 blocks (0, 32, ..., 480). A movable order-0 request: the fallback block
    // is of order 4 = pageblock_order / 2, so it may claim the pageblock
    // (can_steal_fallback): all 16 blocks move, 256 free pages are half the pageblock, which
    // becomes movable.
    let mut z = unmovable_pageblock_half_free(4);
    let pfn = z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Movable).unwrap().0;
    assert_eq!(pfn % 32 / 16, 0, "from a freed block: {pfn}");
    assert_eq!(z.memmap(0).unwrap().pageblock_type(0), MigrateType::Movable);
}

#[test]
fn a_claimed_pageblock_moves_only_its_own_free_blocks() {
    // [256, 520) handed over: [256, 512) of order 8 in pageblock 0, [512, 520) of order 3
    // heading pageblock 1; both movable. An unmovable order-0 request steals the largest
    // block, [256, 512), and claims pageblock 0 (256 free + 256 in use, alike): the free
    // blocks of [0, 512) move, not the one at 512. The request is served from [256, 512).
    let mut z = one_zone(ZoneType::Dma, 1024);
    z.free_range(Pfn(256), Pfn(520)).unwrap();
    assert_eq!(z.alloc_pages_type(0, 0, ZoneType::Dma, MigrateType::Unmovable), Ok(Pfn(256)));
    let mm = z.memmap(0).unwrap();
    assert_eq!((mm.pageblock_type(0), mm.pageblock_type(512)), (MigrateType::Unmovable, MigrateType::Movable));
    assert_eq!(dma(&z).free_area(3).unwrap().first(MigrateType::Movable), Some(512));
}

#[test]
fn cma_alloc_takes_aligned_free_ranges_and_release_returns_them() {
    let mut z = with_cma(1024);
    let area = CmaArea { base: PhysAddr(0), size: 1024 * 4096 };
    // 100 frames aligned to 16: the first candidate, 0.
    assert_eq!(area.alloc(&mut z, 100, 4), Some(Pfn(0)));
    // Next: 0..96 hold used frames (0..100), 112 is the first aligned candidate all free.
    assert_eq!(area.alloc(&mut z, 100, 4), Some(Pfn(112)));
    assert_eq!(dma(&z).free_cma_pages(), 1024 - 200);
    assert!(area.release(&mut z, Pfn(0), 100));
    assert!(!area.release(&mut z, Pfn(0), 100), "a second release is refused");
    assert!(area.release(&mut z, Pfn(112), 100));
    // Everything merged back: two order-10 blocks again.
    assert_eq!((dma(&z).free_cma_pages(), dma(&z).nr_free(10)), (1024, 2));
    // Larger than the area: no.
    assert_eq!(area.alloc(&mut z, 1025, 0), None);
}

#[test]
fn cma_alloc_may_take_the_whole_area() {
    // 1024 free CMA frames, asked for all 1024: the one candidate, frame 0, fits exactly.
    let mut z = with_cma(1024);
    let area = CmaArea { base: PhysAddr(0), size: 1024 * 4096 };
    assert_eq!(area.alloc(&mut z, 1024, 0), Some(Pfn(0)));
    assert_eq!(dma(&z).free_cma_pages(), 0);
}

#[test]
fn an_area_holds_only_ranges_wholly_inside_it() {
    // Frames [256, 768): 256 pages at 1 MiB, 512 pages long.
    let area = CmaArea { base: PhysAddr(256 * 4096), size: 512 * 4096 };
    assert!(area.holds(Pfn(256), 512), "the whole area");
    assert!(area.holds(Pfn(767), 1), "its last frame");
    assert!(!area.holds(Pfn(255), 1), "the frame below it, although it ends inside");
    assert!(!area.holds(Pfn(767), 2), "starting inside, ending past it");
    assert!(!area.holds(Pfn(300), u64::MAX), "an end that overflows");
}

#[test]
fn cma_pageblocks_must_start_and_end_on_pageblocks() {
    // All 2048 frames reserved. [1, 513) is one pageblock long but starts (and ends) one frame
    // past a pageblock boundary; [0, 513) ends one past. Both refused, the first misaligned
    // frame named, nothing handed over; [0, 512) is one whole pageblock.
    let mut z = zones();
    add_node(&mut z, 0, 0, 2048, &[(0, 2048)]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 2048, 2048).unwrap();
    let misaligned = |pfn| Err(BuddyError::Misaligned { pfn: Pfn(pfn), order: PAGEBLOCK_ORDER });
    assert_eq!(z.init_cma_reserved_pageblocks(Pfn(1), Pfn(513)), misaligned(1));
    assert_eq!(z.init_cma_reserved_pageblocks(Pfn(0), Pfn(513)), misaligned(513));
    assert_eq!(dma(&z).free_pages(), 0);
    assert_eq!(z.init_cma_reserved_pageblocks(Pfn(0), Pfn(512)), Ok(512));
}

#[test]
fn free_contig_range_may_end_at_the_zone_end() {
    // The zone's last pageblock [1536, 2048), taken and given back: its last frame, 2047, is
    // in the zone, so the range does not cross it; all 1024 movable frames are free again.
    let mut z = with_cma(1024);
    z.take_free_range(Pfn(1536), Pfn(2048)).unwrap();
    assert_eq!(dma(&z).free_pages(), 2048 - 512);
    assert_eq!(z.free_contig_range(Pfn(1536), Pfn(2048)), Ok(()));
    assert_eq!(dma(&z).free_pages(), 2048);
}

#[test]
fn cma_alloc_fails_cleanly_when_movable_pages_fill_the_area() {
    let mut z = with_cma(1024);
    let mut taken = 0;
    while z.alloc_pages(9, ZoneType::Dma).is_ok() {
        taken += 1;
    }
    // Four pageblocks: movable allocations took the CMA ones too.
    assert_eq!((taken, dma(&z).free_pages()), (4, 0));
    let area = CmaArea { base: PhysAddr(0), size: 1024 * 4096 };
    assert_eq!(area.alloc(&mut z, 1, 0), None);
    assert_eq!(dma(&z).free_pages(), 0, "a failed cma_alloc changes nothing");
}

/// Activating a range that holds a free page fails at that page and changes nothing: a free
/// page in a written section (pfn 700 of [512, 1024)), and a whole section that was handed
/// over free and never written (the second section of a zone of two).
#[test]
fn cma_activation_refuses_a_range_holding_a_free_page() {
    let mut z = zones();
    add_node(&mut z, 0, 0, 2048, &[(0, 2048)]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 2048, 2048).unwrap();
    z.nodes[0].as_deref_mut().unwrap().memmap.as_mut().unwrap().clear_reserved(Pfn(700), Pfn(701)).unwrap();
    assert_eq!(z.free_range(Pfn(700), Pfn(701)), Ok(1));
    assert_eq!(
        z.init_cma_reserved_pageblocks(Pfn(512), Pfn(1024)),
        Err(BuddyError::DoubleFree { pfn: Pfn(700), head: Pfn(700), order: 0 })
    );
    assert_eq!((dma(&z).managed_pages(), dma(&z).free_pages()), (1, 1));
    assert_eq!(z.memmap(0).unwrap().pageblock_type(512), MigrateType::Movable);

    let s = crate::mm::sparse::PAGES_PER_SECTION;
    let mut z = one_zone(ZoneType::Dma, 2 * s);
    assert_eq!(z.free_range(Pfn(s), Pfn(2 * s)), Ok(s));
    assert_eq!(z.memmap(0).unwrap().section_state(Pfn(s)), Some(SectionState::Free));
    assert_eq!(
        z.init_cma_reserved_pageblocks(Pfn(s), Pfn(s + 1024)),
        Err(BuddyError::DoubleFree { pfn: Pfn(s), head: Pfn(s), order: 0 })
    );
    assert_eq!(z.memmap(0).unwrap().section_state(Pfn(s)), Some(SectionState::Free), "nothing written");
}
