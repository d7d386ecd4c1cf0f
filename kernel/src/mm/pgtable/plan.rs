//! The split of a mapping into blocks and pages, and the merging of memory ranges before it.
//!
//! Linux's `alloc_init_pud` maps a 1 GiB block for a PUD entry when the virtual start, the
//! virtual end and the physical address of that entry's part of the range are all 1 GiB
//! aligned (`use_1G_block`); otherwise `alloc_init_cont_pmd` does the same test with 2 MiB for
//! each PMD entry, and what remains is mapped with pages. The outcome is greedy: at each
//! address the largest block whose alignment VA and PA share and which fits is used, so pages
//! only appear at unaligned edges, and an unaligned edge never forces the rest of a range
//! into pages. [`plan`] computes that outcome without touching a table, as runs of equal
//! granule ([`Chunk`]).
//!
//! Linux maps each memblock region separately (`map_mem`), so two touching regions that are
//! not merged in memblock (different node or flags) get pages at their seam even when the
//! union would take a block. [`merge_ranges`] joins touching ranges first.

use super::{PMD_SIZE, PUD_SIZE};
use crate::mm::addr::{align_up, PhysAddr, PAGE_SIZE};

/// A run of equal-size entries at one level: `size / entry_size()` consecutive blocks (level
/// 1 or 2) or pages (level 3) mapping `[va, va + size)` to `[pa, pa + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub va: u64,
    pub pa: PhysAddr,
    pub size: u64,
    /// 1: 1 GiB PUD blocks, 2: 2 MiB PMD blocks, 3: 4 KiB PTE pages.
    pub level: usize,
}

impl Chunk {
    /// Bytes mapped by one entry of this chunk.
    pub const fn entry_size(&self) -> u64 {
        super::level_size(self.level)
    }

    /// Number of entries (blocks or pages) in this chunk.
    pub const fn count(&self) -> u64 {
        self.size / self.entry_size()
    }
}

/// Iterator returned by [`plan`].
#[derive(Clone, Debug)]
pub struct Plan {
    va: u64,
    pa: u64,
    remaining: u64,
}

/// The entries `__create_pgd_mapping` creates for `[va, va + size)` → `[pa, pa + size)`, as
/// runs of 1 GiB blocks, 2 MiB blocks and 4 KiB pages, lowest address first.
///
/// Like Linux, the start is rounded down and the end up to page boundaries (the page offset
/// of `va` is assumed to equal that of `pa`). `va + size` may be exactly 2^64. No table is
/// read: the plan is what an empty table tree receives.
pub fn plan(va: u64, pa: PhysAddr, size: u64) -> Plan {
    let offset = va & (PAGE_SIZE - 1);
    let remaining = align_up(size.saturating_add(offset), PAGE_SIZE);
    Plan { va: va - offset, pa: pa.0 & !(PAGE_SIZE - 1), remaining }
}

/// One decision at `(va, pa)` with `remaining` bytes left: the level used and how many
/// bytes of it can be taken before a larger block might become possible.
fn step(va: u64, pa: u64, remaining: u64) -> (usize, u64) {
    const GRANULES: [(usize, u64, u64); 3] =
        [(1, PUD_SIZE, 0), (2, PMD_SIZE, PUD_SIZE), (3, PAGE_SIZE, PMD_SIZE)];
    for (level, size, larger) in GRANULES {
        if (va | pa) & (size - 1) != 0 || remaining < size {
            continue;
        }
        let mut len = remaining & !(size - 1);
        // VA and PA stay congruent modulo `larger` as they advance: if they are now, the
        // next `larger` boundary is where a larger block may start, so stop there.
        if larger != 0 && va.wrapping_sub(pa) & (larger - 1) == 0 {
            let to_boundary = larger - (va & (larger - 1));
            len = len.min(to_boundary);
        }
        return (level, len);
    }
    unreachable!("the range is page aligned")
}

impl Plan {
    fn advance(&mut self, len: u64) {
        self.va = self.va.wrapping_add(len);
        self.pa = self.pa.wrapping_add(len);
        self.remaining -= len;
    }
}

impl Iterator for Plan {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.remaining == 0 {
            return None;
        }
        let (level, len) = step(self.va, self.pa, self.remaining);
        let mut chunk = Chunk { va: self.va, pa: PhysAddr(self.pa), size: len, level };
        self.advance(len);
        while self.remaining > 0 {
            let (next_level, len) = step(self.va, self.pa, self.remaining);
            if next_level != level {
                break;
            }
            chunk.size += len;
            self.advance(len);
        }
        Some(chunk)
    }
}

/// Iterator returned by [`merge_ranges`].
pub struct MergeRanges<I: Iterator<Item = (PhysAddr, PhysAddr)>> {
    inner: core::iter::Peekable<I>,
}

/// Join `[start, end)` ranges that touch or overlap, for input sorted by start (as memblock's
/// `mem_ranges` yields them; drop the node id first: `.map(|(s, e, _)| (s, e))`). Empty
/// ranges are dropped. Planning the merged ranges lets a block span a seam between regions.
pub fn merge_ranges<I>(ranges: I) -> MergeRanges<I::IntoIter>
where
    I: IntoIterator<Item = (PhysAddr, PhysAddr)>,
{
    MergeRanges { inner: ranges.into_iter().peekable() }
}

impl<I: Iterator<Item = (PhysAddr, PhysAddr)>> Iterator for MergeRanges<I> {
    type Item = (PhysAddr, PhysAddr);

    fn next(&mut self) -> Option<(PhysAddr, PhysAddr)> {
        let (start, mut end) = loop {
            let (s, e) = self.inner.next()?;
            if s < e {
                break (s, e);
            }
        };
        while let Some(&(s, e)) = self.inner.peek() {
            if s > end {
                break;
            }
            end = end.max(e);
            self.inner.next();
        }
        Some((start, end))
    }
}
