//! Host tests of memblock. Expected layouts are derived from Linux 6.1's rules, written next
//! to each case.

use super::*;

mod alloc;
mod basic;
mod dump;
mod props;

pub(super) const SZ_4K: u64 = 0x1000;
pub(super) const SZ_1M: u64 = 0x10_0000;

pub(super) fn pa(x: u64) -> PhysAddr {
    PhysAddr(x)
}

/// A memblock on the heap (the inline arrays make it ~6 KiB).
/// A memblock with 128 static slots in each array, the size the hand-worked growth tests
/// assume (Linux's `INIT_MEMBLOCK_REGIONS`; Debian's kernel has more, see
/// `INIT_MEMBLOCK_MEMORY_REGIONS`).
pub(super) fn mb() -> Box<Memblock> {
    Box::new(Memblock::with_slots(INIT_MEMBLOCK_REGIONS, INIT_MEMBLOCK_REGIONS))
}

/// `(base, size)` pairs of an array, for compact assertions.
pub(super) fn layout(t: &MemblockType) -> Vec<(u64, u64)> {
    t.regions().iter().map(|r| (r.base.0, r.size)).collect()
}

/// Grows arrays into leaked host memory; the physical address is only recorded.
pub(super) struct LeakMapper;

impl RegionMapper for LeakMapper {
    fn map(&self, _base: PhysAddr, count: usize) -> &'static mut [Region] {
        Box::leak(vec![Region::EMPTY; count].into_boxed_slice())
    }
}

pub(super) static LEAK_MAPPER: LeakMapper = LeakMapper;

/// Structural invariants every operation must keep.
pub(super) fn check_invariants(t: &MemblockType) {
    let rs = t.regions();
    assert_eq!(t.cnt(), rs.len());
    assert_eq!(t.total_size(), rs.iter().map(|r| r.size).sum::<u64>(), "{} total_size", t.name());
    for r in rs {
        assert!(r.size > 0, "{} has an empty region {r:?}", t.name());
        assert!(r.base.0.checked_add(r.size).is_some());
    }
    for w in rs.windows(2) {
        assert!(w[0].end() <= w[1].base, "{} unsorted/overlapping: {:?}", t.name(), w);
        assert!(
            !(w[0].end() == w[1].base && w[0].flags == w[1].flags && w[0].nid == w[1].nid),
            "{} not merged: {:?}",
            t.name(),
            w
        );
    }
}
