//! Walks over memblock ranges (Linux's `for_each_mem_range`, `for_each_free_mem_range[_reverse]`,
//! `for_each_reserved_mem_range`, `for_each_mem_pfn_range`).
//!
//! [`MemRanges`] is `__next_mem_range`/`__next_mem_range_rev` as an iterator: it walks the
//! regions of array A and, when an array B is given, yields the parts of A that lie in the
//! gaps between B's regions. With A = memory and B = reserved that is the free memory. Memory
//! regions are filtered as Linux's `should_skip_region` does: by node, and by the flags asked
//! for (`NOMAP` and `DRIVER_MANAGED` regions only when asked, hot-pluggable ones skipped under
//! `movable_node` unless asked, only mirrored ones when `MIRROR` is asked). Empty pieces,
//! which Linux can produce between two touching but unmerged reservations, are not yielded.

use super::{Memblock, MemblockFlags, Region, MAX_NUMNODES, NUMA_NO_NODE};
use crate::mm::addr::{PhysAddr, Pfn};

/// Iterator over `(start, end, nid)` ranges; see the module documentation.
pub struct MemRanges<'a> {
    a: &'a [Region],
    a_is_memory: bool,
    b: Option<&'a [Region]>,
    nid: i32,
    flags: MemblockFlags,
    movable_node: bool,
    reverse: bool,
    idx_a: isize,
    idx_b: isize,
}

impl<'a> MemRanges<'a> {
    fn new(
        mb: &'a Memblock,
        a: &'a [Region],
        a_is_memory: bool,
        b: Option<&'a [Region]>,
        nid: i32,
        flags: MemblockFlags,
        reverse: bool,
    ) -> Self {
        // Linux warns that MAX_NUMNODES is deprecated here and treats it as "any node".
        let nid = if nid == MAX_NUMNODES { NUMA_NO_NODE } else { nid };
        let (idx_a, idx_b) = if reverse {
            (a.len() as isize - 1, b.map_or(0, |b| b.len() as isize))
        } else {
            (0, 0)
        };
        MemRanges { a, a_is_memory, b, nid, flags, movable_node: mb.movable_node, reverse, idx_a, idx_b }
    }

    fn should_skip(&self, m: &Region) -> bool {
        if !self.a_is_memory {
            return false;
        }
        let f = self.flags;
        (self.nid != NUMA_NO_NODE && self.nid != m.nid)
            || (self.movable_node && m.is_hotpluggable() && !f.contains(MemblockFlags::HOTPLUG))
            || (f.contains(MemblockFlags::MIRROR) && !m.is_mirror())
            || (!f.contains(MemblockFlags::NOMAP) && m.is_nomap())
            || (!f.contains(MemblockFlags::DRIVER_MANAGED) && m.is_driver_managed())
    }

    /// The gap before `b[idx]`: from the end of `b[idx - 1]` (or 0) to `b[idx].base` (or the
    /// top of the address space past the last region).
    fn gap(b: &[Region], idx: usize) -> (u64, u64) {
        let start = if idx > 0 { b[idx - 1].end().0 } else { 0 };
        let end = if idx < b.len() { b[idx].base.0 } else { u64::MAX };
        (start, end)
    }

    fn next_forward(&mut self) -> Option<(u64, u64, i32)> {
        while (self.idx_a as usize) < self.a.len() {
            let m = self.a[self.idx_a as usize];
            let (m_start, m_end) = (m.base.0, m.end().0);
            if self.should_skip(&m) {
                self.idx_a += 1;
                continue;
            }
            let Some(b) = self.b else {
                self.idx_a += 1;
                return Some((m_start, m_end, m.nid));
            };
            while (self.idx_b as usize) <= b.len() {
                let (r_start, r_end) = Self::gap(b, self.idx_b as usize);
                if r_start >= m_end {
                    break;
                }
                if m_start < r_end {
                    // The one that ends first moves on.
                    if m_end <= r_end {
                        self.idx_a += 1;
                    } else {
                        self.idx_b += 1;
                    }
                    return Some((m_start.max(r_start), m_end.min(r_end), m.nid));
                }
                self.idx_b += 1;
            }
            self.idx_a += 1;
        }
        None
    }

    fn next_reverse(&mut self) -> Option<(u64, u64, i32)> {
        while self.idx_a >= 0 {
            let m = self.a[self.idx_a as usize];
            let (m_start, m_end) = (m.base.0, m.end().0);
            if self.should_skip(&m) {
                self.idx_a -= 1;
                continue;
            }
            let Some(b) = self.b else {
                self.idx_a -= 1;
                return Some((m_start, m_end, m.nid));
            };
            while self.idx_b >= 0 {
                let (r_start, r_end) = Self::gap(b, self.idx_b as usize);
                if r_end <= m_start {
                    break;
                }
                if m_end > r_start {
                    // The one that starts last moves on.
                    if m_start >= r_start {
                        self.idx_a -= 1;
                    } else {
                        self.idx_b -= 1;
                    }
                    return Some((m_start.max(r_start), m_end.min(r_end), m.nid));
                }
                self.idx_b -= 1;
            }
            self.idx_a -= 1;
        }
        None
    }
}

impl Iterator for MemRanges<'_> {
    type Item = (PhysAddr, PhysAddr, i32);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let raw = if self.reverse { self.next_reverse() } else { self.next_forward() };
            let (start, end, nid) = raw?;
            if start < end {
                return Some((PhysAddr(start), PhysAddr(end), nid));
            }
        }
    }
}

/// Iterator over `(start_pfn, end_pfn, nid)` of memory regions (Linux's
/// `for_each_mem_pfn_range`): partial pages at both ends are dropped, and regions without a
/// whole page are skipped.
pub struct MemPfnRanges<'a> {
    regions: core::slice::Iter<'a, Region>,
    nid: i32,
}

impl Iterator for MemPfnRanges<'_> {
    type Item = (Pfn, Pfn, i32);

    fn next(&mut self) -> Option<Self::Item> {
        for r in self.regions.by_ref() {
            let (start, end) = (r.base.pfn_up(), r.end().pfn_down());
            if start >= end {
                continue;
            }
            if self.nid == MAX_NUMNODES || self.nid == NUMA_NO_NODE || r.nid == self.nid {
                return Some((start, end, r.nid));
            }
        }
        None
    }
}

impl Memblock {
    /// Memory regions passing the `nid`/`flags` filter (Linux's `__for_each_mem_range` with
    /// no second array). Linux's `for_each_mem_range` is `mem_ranges(NUMA_NO_NODE, HOTPLUG)`.
    pub fn mem_ranges(&self, nid: i32, flags: MemblockFlags) -> MemRanges<'_> {
        MemRanges::new(self, self.memory.regions(), true, None, nid, flags, false)
    }

    /// Free memory, lowest first (Linux's `for_each_free_mem_range`).
    pub fn free_mem_ranges(&self, nid: i32, flags: MemblockFlags) -> MemRanges<'_> {
        MemRanges::new(self, self.memory.regions(), true, Some(self.reserved.regions()), nid, flags, false)
    }

    /// Free memory, highest first (Linux's `for_each_free_mem_range_reverse`).
    pub fn free_mem_ranges_rev(&self, nid: i32, flags: MemblockFlags) -> MemRanges<'_> {
        MemRanges::new(self, self.memory.regions(), true, Some(self.reserved.regions()), nid, flags, true)
    }

    /// Reserved ranges (Linux's `for_each_reserved_mem_range`).
    pub fn reserved_mem_ranges(&self) -> MemRanges<'_> {
        MemRanges::new(self, self.reserved.regions(), false, None, NUMA_NO_NODE, MemblockFlags::NONE, false)
    }

    /// Whole pages of memory on `nid` (`MAX_NUMNODES` or `NUMA_NO_NODE` for all nodes).
    pub fn mem_pfn_ranges(&self, nid: i32) -> MemPfnRanges<'_> {
        MemPfnRanges { regions: self.memory.regions().iter(), nid }
    }
}
