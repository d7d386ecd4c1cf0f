//! Property tests against a reference model: the set of allocated pages.
//!
//! Layout: one node [0,256) with DMA [0,100) and Normal [100,256) (a boundary aligned only to
//! 4 pages) and a reserved hole [40,48). The free ranges [0,40) and [48,256) are handed over,
//! then random allocations and frees run. After every step:
//! - the lists are consistent (`check_invariants`);
//! - an allocation returns an aligned block inside an allowed zone, none of whose pages is
//!   reserved or already allocated, from the highest allowed zone that had a block large
//!   enough; it fails only when no allowed zone had one;
//! - a second free of a block whose pages are all free again is refused;
//! - the free count is the handed-over total minus the model's allocated pages.
//!
//! At the end everything is freed: the count returns to the start, and the lists are exactly
//! the canonical decomposition of each zone's free pieces into maximal aligned blocks.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const END: u64 = 256;
const DMA_END: u64 = 100;
const HOLE: (u64, u64) = (40, 48);

#[derive(Clone, Debug)]
enum Op {
    /// order, highest zone allowed (Dma or Normal)
    Alloc(u32, bool),
    /// index into the live allocations
    Free(usize),
    /// index into the blocks freed so far
    FreeAgain(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..=6u32, any::<bool>()).prop_map(|(o, n)| Op::Alloc(o, n)),
        3 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::FreeAgain),
    ]
}

fn setup() -> Box<TestZones> {
    let mut z = zones();
    add_node(&mut z, 0, 0, END, &[HOLE]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), DMA_END, DMA_END - (HOLE.1 - HOLE.0)).unwrap();
    z.init_zone(0, ZoneType::Normal, Pfn(DMA_END), END - DMA_END, END - DMA_END).unwrap();
    z.free_range(Pfn(0), Pfn(HOLE.0)).unwrap();
    z.free_range(Pfn(HOLE.1), Pfn(END)).unwrap();
    z
}

/// Maximal aligned blocks of `[start, end)`, largest first from each position: the order at
/// p is the largest o <= 10 with p a multiple of 2^o and p + 2^o <= end.
fn canonical(start: u64, end: u64) -> Vec<(u64, u32)> {
    let mut v = vec![];
    let mut p = start;
    while p < end {
        let o = (0..MAX_ORDER).rev().find(|&o| p.is_multiple_of(1 << o) && p + (1 << o) <= end).unwrap();
        v.push((p, o));
        p += 1 << o;
    }
    v
}

fn free_blocks(z: &TestZones, ty: ZoneType) -> BTreeSet<(u64, u32)> {
    lists(z, 0, ty).into_iter().flat_map(|(o, hs)| hs.into_iter().map(move |h| (h, o))).collect()
}

/// Whether some allowed zone has a free block of at least `order`, and the highest such zone.
fn best_zone(z: &TestZones, order: u32, highest: ZoneType) -> Option<ZoneType> {
    [ZoneType::Normal, ZoneType::Dma]
        .into_iter()
        .filter(|&t| t <= highest)
        .find(|&t| (order..MAX_ORDER).any(|o| z.zone(0, t).unwrap().nr_free(o) > 0))
}

fn run(ops: &[Op]) {
    let mut z = setup();
    let total = END - (HOLE.1 - HOLE.0);
    assert_eq!(z.nr_free_pages(), total);
    let mut used: BTreeSet<u64> = BTreeSet::new();
    let mut live: Vec<(u64, u32)> = vec![];
    let mut freed: Vec<(u64, u32)> = vec![];
    for op in ops {
        match *op {
            Op::Alloc(order, normal) => {
                let highest = if normal { ZoneType::Normal } else { ZoneType::Dma };
                let expect_zone = best_zone(&z, order, highest);
                match z.alloc_pages(order, highest) {
                    Ok(Pfn(p)) => {
                        let zone_end = if expect_zone == Some(ZoneType::Dma) { DMA_END } else { END };
                        let zone_start = if expect_zone == Some(ZoneType::Dma) { 0 } else { DMA_END };
                        assert!(expect_zone.is_some(), "allocated with no block available");
                        assert_eq!(p % (1 << order), 0, "misaligned {p} o{order}");
                        assert!(p >= zone_start && p + (1 << order) <= zone_end, "{p} o{order} not in {expect_zone:?}");
                        for q in p..p + (1 << order) {
                            assert!(!(HOLE.0..HOLE.1).contains(&q), "reserved page {q} handed out");
                            assert!(used.insert(q), "page {q} handed out twice");
                        }
                        live.push((p, order));
                    }
                    Err(e) => {
                        assert_eq!(e, BuddyError::NoMemory { order, highest });
                        assert_eq!(expect_zone, None, "failed although a block was free");
                    }
                }
            }
            Op::Free(i) if !live.is_empty() => {
                let (p, o) = live.swap_remove(i % live.len());
                z.free_pages(Pfn(p), o).unwrap();
                for q in p..p + (1 << o) {
                    used.remove(&q);
                }
                freed.push((p, o));
            }
            Op::FreeAgain(i) if !freed.is_empty() => {
                let (p, o) = freed[i % freed.len()];
                if (p..p + (1 << o)).all(|q| !used.contains(&q)) {
                    let before = (free_blocks(&z, ZoneType::Dma), free_blocks(&z, ZoneType::Normal));
                    assert!(matches!(z.free_pages(Pfn(p), o), Err(BuddyError::DoubleFree { .. })));
                    assert_eq!(before, (free_blocks(&z, ZoneType::Dma), free_blocks(&z, ZoneType::Normal)));
                }
            }
            _ => {}
        }
        check_invariants(&z);
        assert_eq!(z.nr_free_pages(), total - used.len() as u64);
    }
    for (p, o) in live.drain(..) {
        z.free_pages(Pfn(p), o).unwrap();
    }
    check_invariants(&z);
    assert_eq!(z.nr_free_pages(), total);
    let dma: BTreeSet<_> = canonical(0, HOLE.0).into_iter().chain(canonical(HOLE.1, DMA_END)).collect();
    let normal: BTreeSet<_> = canonical(DMA_END, END).into_iter().collect();
    assert_eq!(free_blocks(&z, ZoneType::Dma), dma);
    assert_eq!(free_blocks(&z, ZoneType::Normal), normal);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_alloc_free_against_model(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops);
    }
}

#[test]
fn canonical_decomposition_of_the_layout() {
    // The model's own expectation for the fixture, by hand: DMA [0,40): 0 -> o5 [0,32) (o6
    // would pass 40), 32 -> o3 [32,40); [48,100): 48 (ffs 4) -> o4 [48,64), 64 -> o5 would
    // pass 100 -> ... -> o5 [64,96) is 96 <= 100: o5, 96 -> o2 [96,100). Normal [100,256):
    // 100 (ffs 2) -> o2, 104 (ffs 3) -> o3, 112 (ffs 4) -> o4, 128 (ffs 7) -> o7 [128,256).
    assert_eq!(canonical(0, 40), vec![(0, 5), (32, 3)]);
    assert_eq!(canonical(48, 100), vec![(48, 4), (64, 5), (96, 2)]);
    assert_eq!(canonical(100, 256), vec![(100, 2), (104, 3), (112, 4), (128, 7)]);
    let z = setup();
    let dma: BTreeSet<_> = [(0, 5), (32, 3), (48, 4), (64, 5), (96, 2)].into_iter().collect();
    assert_eq!(free_blocks(&z, ZoneType::Dma), dma);
}
