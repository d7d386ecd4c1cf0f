//! Property tests against a page-granular model of a 128-page window.
//!
//! The model keeps three page sets (memory, NOMAP, reserved) as bitmasks. Every operation is
//! applied to both; afterwards the arrays must be sorted, disjoint, merged and describe
//! exactly the model's sets. An allocation must return exactly the model's best candidate
//! (the highest fitting aligned position top-down, the lowest bottom-up), and fail only
//! when the model has none. Only NOMAP varies the flags, and NOMAP memory is never free, so
//! the free ranges are the model's maximal runs of free pages, as the prediction assumes.

use super::*;
use proptest::prelude::*;

const PAGES: u64 = 128;

#[derive(Clone, Debug)]
enum Op {
    Add(u64, u64),
    Remove(u64, u64),
    Reserve(u64, u64),
    Free(u64, u64),
    MarkNomap(u64, u64),
    ClearNomap(u64, u64),
    /// pages, log2 of the alignment in pages, min page, max page (0: ACCESSIBLE), bottom-up
    Alloc(u64, u32, u64, u64, bool),
}

fn range() -> impl Strategy<Value = (u64, u64)> {
    (0..PAGES, 1..=32u64).prop_map(|(p, n)| (p, n.min(PAGES - p)))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => range().prop_map(|(p, n)| Op::Add(p, n)),
        1 => range().prop_map(|(p, n)| Op::Remove(p, n)),
        2 => range().prop_map(|(p, n)| Op::Reserve(p, n)),
        2 => range().prop_map(|(p, n)| Op::Free(p, n)),
        1 => range().prop_map(|(p, n)| Op::MarkNomap(p, n)),
        1 => range().prop_map(|(p, n)| Op::ClearNomap(p, n)),
        3 => (1..=8u64, 0..4u32, 0..PAGES, 0..PAGES + 8, any::<bool>())
            .prop_map(|(n, a, lo, hi, up)| Op::Alloc(n, a, lo, hi, up)),
    ]
}

fn mask(p: u64, n: u64) -> u128 {
    if n == 0 {
        return 0;
    }
    let ones = if n >= 128 { u128::MAX } else { (1u128 << n) - 1 };
    ones << p
}

fn pages_of(regions: &[Region], pred: impl Fn(&Region) -> bool) -> u128 {
    let mut m = 0;
    for r in regions.iter().filter(|r| pred(r)) {
        assert_eq!(r.base.0 % SZ_4K, 0);
        assert_eq!(r.size % SZ_4K, 0);
        m |= mask(r.base.0 / SZ_4K, r.size / SZ_4K);
    }
    m
}

#[derive(Default)]
struct Model {
    mem: u128,
    nomap: u128,
    res: u128,
}

impl Model {
    fn free(&self) -> u128 {
        self.mem & !self.nomap & !self.res
    }

    /// The allocation memblock must return, by exhaustive search.
    fn best(&self, n: u64, align: u64, lo: u64, hi: u64, bottom_up: bool) -> Option<u64> {
        let lo = lo.max(1);
        let mut fits = (0..PAGES).filter(|q| q % align == 0 && *q >= lo && q + n <= hi).filter(|&q| {
            let m = mask(q, n);
            q + n <= PAGES && self.free() & m == m
        });
        if bottom_up {
            fits.next()
        } else {
            fits.next_back()
        }
    }
}

fn run(ops: &[Op]) {
    let mut m = mb();
    let mut model = Model::default();
    let b = |p: u64| pa(p * SZ_4K);
    for op in ops {
        match *op {
            Op::Add(p, n) => {
                m.add(b(p), n * SZ_4K).unwrap();
                model.mem |= mask(p, n);
            }
            Op::Remove(p, n) => {
                m.remove(b(p), n * SZ_4K).unwrap();
                model.mem &= !mask(p, n);
                model.nomap &= !mask(p, n);
            }
            Op::Reserve(p, n) => {
                m.reserve(b(p), n * SZ_4K).unwrap();
                model.res |= mask(p, n);
            }
            Op::Free(p, n) => {
                m.phys_free(b(p), n * SZ_4K).unwrap();
                model.res &= !mask(p, n);
            }
            Op::MarkNomap(p, n) => {
                m.mark_nomap(b(p), n * SZ_4K).unwrap();
                model.nomap |= mask(p, n) & model.mem;
            }
            Op::ClearNomap(p, n) => {
                m.clear_nomap(b(p), n * SZ_4K).unwrap();
                model.nomap &= !mask(p, n);
            }
            Op::Alloc(n, a, lo, hi, up) => {
                let align = 1u64 << a;
                m.set_bottom_up(up);
                let end = if hi == 0 { MEMBLOCK_ALLOC_ACCESSIBLE } else { b(hi) };
                let expect = model.best(n, align, lo, if hi == 0 { u64::MAX } else { hi }, up);
                let got = m.phys_alloc_range(n * SZ_4K, align * SZ_4K, b(lo), end);
                match (got, expect) {
                    (Ok(addr), Some(q)) => {
                        assert_eq!(addr, b(q), "{op:?}");
                        model.res |= mask(q, n);
                    }
                    (Err(MemblockError::NoMemory { .. }), None) => {}
                    (got, expect) => panic!("{op:?}: got {got:?}, model {expect:?}"),
                }
            }
        }
        check_invariants(&m.memory);
        check_invariants(&m.reserved);
        assert_eq!(pages_of(m.memory.regions(), |_| true), model.mem, "memory after {op:?}");
        assert_eq!(pages_of(m.memory.regions(), |r| r.is_nomap()), model.nomap, "nomap after {op:?}");
        assert_eq!(pages_of(m.reserved.regions(), |_| true), model.res, "reserved after {op:?}");
        // Free ranges: sorted, disjoint, not touching, and exactly the model's free pages.
        let free: Vec<_> = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).collect();
        let mut pages = 0;
        for w in free.windows(2) {
            assert!(w[0].1 < w[1].0, "free ranges not maximal/sorted: {w:?}");
        }
        for &(s, e, _) in &free {
            pages |= mask(s.0 / SZ_4K, (e.0 - s.0) / SZ_4K);
        }
        assert_eq!(pages, model.free(), "free ranges after {op:?}");
        let mut rev: Vec<_> = m.free_mem_ranges_rev(NUMA_NO_NODE, MemblockFlags::NONE).collect();
        rev.reverse();
        assert_eq!(rev, free);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_the_page_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}

#[test]
fn model_regression_alloc_between_nomap_and_reserved() {
    run(&[
        Op::Add(0, 64),
        Op::MarkNomap(10, 5),
        Op::Reserve(20, 3),
        Op::Alloc(4, 2, 0, 0, true),
        Op::Alloc(4, 2, 0, 0, false),
        Op::ClearNomap(0, 128),
        Op::Alloc(8, 3, 0, 30, false),
    ]);
}
