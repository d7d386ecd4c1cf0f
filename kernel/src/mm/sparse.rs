//! Memory sections: which frames have a memmap entry, and where (Linux 6.1's `mm/sparse.c`
//! with arm64's `SECTION_SIZE_BITS` 27: `memblocks_present`, `sparse_init_nid`, `pfn_valid`).
//!
//! Physical memory is cut into 128 MiB sections; a section is present when some memory region
//! touches it, and only present sections get memmap entries and free-list links. A node's
//! present sections come as runs of consecutive sections ([`SectionRun`]), each with the index
//! of its first frame in the node's memmap: the memmap and the links are packed over the
//! present frames only, so their cost follows the RAM, not the node's span (2 GiB at
//! 0x80000000 and 6 GiB at 0x8800000000 cost 64 sections' worth, not 4384). A frame outside
//! every present section is invalid (Linux's `pfn_valid` is false): it has no state, is never
//! a buddy, and a free block never merges across into it.
//!
//! Linux allocates the memmap of all present sections of a node in one block
//! (`sparse_buffer_init`); so does [`crate::mm::init::alloc_memmaps`], one block for the
//! memmap and one for the links with the run table behind them. Never reads or writes memory:
//! callers give it the table.

use crate::mm::buddy::{ArrayLinks, Memmap};
use crate::mm::memblock::Memblock;
use crate::mm::numa;
use crate::mm::{Pfn, PhysAddr, PAGE_SHIFT, PAGE_SIZE};

/// arm64's `SECTION_SIZE_BITS` in Linux 6.1 (4 KiB pages): 128 MiB sections.
pub const SECTION_SIZE_BITS: u32 = 27;
/// Frames per section (Linux's `PAGES_PER_SECTION`): 32768.
pub const PAGES_PER_SECTION: u64 = 1 << (SECTION_SIZE_BITS - PAGE_SHIFT);

/// Frames `[start_pfn, end_pfn)` of one run of consecutive present sections, from its first
/// memory frame to its last, whose memmap entries start at index `base` of the node's memmap.
/// The memmap holds whole sections: `base` counts the frames of the sections before the run's
/// first section, plus the frames of that section before `start_pfn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SectionRun {
    pub start_pfn: u64,
    pub end_pfn: u64,
    pub base: u64,
}

impl SectionRun {
    /// Bytes of one table entry.
    pub const BYTES: u64 = core::mem::size_of::<SectionRun>() as u64;

    fn frames(&self) -> u64 {
        self.end_pfn - self.start_pfn
    }

    /// Frames of the whole sections the run lies in: the memmap entries it takes.
    pub fn section_frames(&self) -> u64 {
        self.end_pfn.next_multiple_of(PAGES_PER_SECTION) - (self.start_pfn & !(PAGES_PER_SECTION - 1))
    }
}

/// The frames a node's memmap covers and the index of each (Linux's `pfn_valid` and
/// `pfn_to_page`, for one node): its runs, sorted and disjoint, each run's base following the
/// previous run's entries ([`ValidPfns::runs`] checks). The first frame of the first run and
/// the end of the last are the node's span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidPfns<'a>(&'a [SectionRun]);

impl<'a> ValidPfns<'a> {
    /// The runs of `table` when there is at least one and they are sorted, disjoint, non-empty
    /// and their bases never go back (each at least the previous base plus its frames),
    /// `None` otherwise.
    pub fn runs(table: &'a [SectionRun]) -> Option<Self> {
        let mut next = (0, table.first()?.base);
        for r in table {
            if r.start_pfn < next.0 || r.end_pfn <= r.start_pfn || r.base < next.1 {
                return None;
            }
            next = (r.end_pfn, r.base.checked_add(r.frames())?);
        }
        Some(ValidPfns(table))
    }

    /// The first valid frame and the end of the last: the node's span.
    pub fn span(&self) -> (u64, u64) {
        (self.0.first().map_or(0, |r| r.start_pfn), self.0.last().map_or(0, |r| r.end_pfn))
    }

    /// Number of memmap entries up to the last valid frame's: what a memmap over these frames
    /// must hold at least.
    pub fn frames(&self) -> u64 {
        self.0.last().map_or(0, |l| l.base + l.frames())
    }

    /// The run that holds `pfn`, `None` when it is not valid. Every buddy operation asks
    /// this: a node without holes of whole sections (the common case) has one run and needs no
    /// search.
    #[inline]
    fn run_of(&self, pfn: u64) -> Option<&'a SectionRun> {
        let run = match self.0 {
            [only] => only,
            runs => runs.get(runs.partition_point(|r| r.end_pfn <= pfn))?,
        };
        (run.start_pfn..run.end_pfn).contains(&pfn).then_some(run)
    }

    /// The memmap index of `pfn`, `None` when it is not valid.
    #[inline]
    pub fn index(&self, pfn: u64) -> Option<u64> {
        self.run_of(pfn).map(|run| run.base + (pfn - run.start_pfn))
    }

    /// The first frame of `pfn`'s run, `None` when `pfn` is not valid.
    #[inline]
    pub fn run_start(&self, pfn: u64) -> Option<u64> {
        self.run_of(pfn).map(|run| run.start_pfn)
    }

    /// The frame at memmap index `index` (the inverse of [`index`](Self::index)).
    #[inline]
    pub fn pfn(&self, index: u64) -> Option<u64> {
        let run = match self.0 {
            [only] => only,
            runs => runs.get(runs.partition_point(|r| r.base + r.frames() <= index))?,
        };
        (run.base..run.base + run.frames()).contains(&index).then(|| run.start_pfn + (index - run.base))
    }

    /// The valid parts of `[start, end)`, each as (first frame, end, memmap index of the
    /// first frame), in address order.
    pub fn parts(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64, u64)> + 'a {
        self.0.iter().filter_map(move |r| {
            let (s, e) = (start.max(r.start_pfn), end.min(r.end_pfn));
            (s < e).then(|| (s, e, r.base + (s - r.start_pfn)))
        })
    }
}

/// The runs of present sections of node `nid` (Linux's `memblocks_present` for one node, then
/// `sparse_init_nid`'s packing): every section a memory region of the node touches, NOMAP
/// regions included, consecutive sections joined; each run from its first memory frame to its
/// last, its base counting the whole sections before it ([`SectionRun::section_frames`] of
/// each run sum to the memmap's entries).
///
/// A gap that holds another node's memory (node spans may interleave, even inside a section)
/// ends the run: each frame is valid in one node's memmap only. A section cut so takes a slot
/// in each run that touches it.
pub fn node_section_runs(mb: &Memblock, nid: i32) -> impl Iterator<Item = SectionRun> + '_ {
    let node = numa::node_of(nid);
    let mut ranges = numa::node_pfn_ranges(mb, node).peekable();
    let mut sections_before = 0;
    let others_in = move |a: u64, b: u64| numa::pfn_ranges(mb).any(|(s, e, n)| n != node && s.0 < b && e.0 > a);
    core::iter::from_fn(move || {
        let (s, mut end_pfn) = ranges.next()?;
        let start_pfn = s.0;
        while let Some(&(s, e)) = ranges.peek() {
            if s.0 & !(PAGES_PER_SECTION - 1) > end_pfn.0.next_multiple_of(PAGES_PER_SECTION) {
                break;
            }
            if s.0 > end_pfn.0 && others_in(end_pfn.0, s.0) {
                break;
            }
            end_pfn = end_pfn.max(e);
            ranges.next();
        }
        let base = sections_before + (start_pfn & (PAGES_PER_SECTION - 1));
        let run = SectionRun { start_pfn, end_pfn: end_pfn.0, base };
        sections_before += run.section_frames();
        Some(run)
    })
}

/// A table of one run over `[start, start + frames)` with its entries from 0: a memmap
/// without holes (the host tests' nodes).
pub const fn dense(start: u64, frames: u64) -> [SectionRun; 1] {
    [SectionRun { start_pfn: start, end_pfn: start + frames, base: 0 }]
}

/// A node's memmap, placed: the node spans frames `[start_pfn, end_pfn)`, of which `frames`
/// lie in its `runs` runs of present sections; one memmap byte per such frame at `pa`, and at
/// `links_pa` their free-list links (`ArrayLinks::slots_for(frames)` entries of 8 bytes)
/// followed by the table of runs ([`runs_pa`](Self::runs_pa)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeMemmap {
    pub nid: i32,
    pub start_pfn: Pfn,
    pub end_pfn: Pfn,
    pub frames: u64,
    pub runs: usize,
    pub pa: PhysAddr,
    pub links_pa: PhysAddr,
}

impl NodeMemmap {
    /// Entries of free-list links.
    pub fn link_slots(&self) -> u64 {
        ArrayLinks::slots_for(self.frames)
    }

    /// Where the table of section runs starts: right after the links (8-byte entries, so
    /// the table is 8-byte aligned).
    pub fn runs_pa(&self) -> PhysAddr {
        PhysAddr(self.links_pa.0 + self.link_slots() * ArrayLinks::ENTRY_BYTES)
    }

    /// Where the table of section states (one byte per section of the memmap) starts: right
    /// after the table of runs.
    pub fn sections_pa(&self) -> PhysAddr {
        PhysAddr(self.runs_pa().0 + self.runs as u64 * SectionRun::BYTES)
    }

    /// Entries of the table of section states.
    pub fn sections(&self) -> u64 {
        Memmap::sections_for(self.frames)
    }

    /// Bytes of memmap, links and tables: what the node's memmap costs.
    pub fn bytes(&self) -> u64 {
        memmap_bytes(self.frames, self.runs as u64)
    }

    /// The two allocations, at `pa` and `links_pa`, in bytes (whole pages): the memmap, and
    /// the links with the tables of section runs and states.
    pub fn allocations(&self) -> [u64; 2] {
        allocations(self.frames, self.runs as u64)
    }
}

/// The two allocations of a node with `frames` frames in `runs` runs of present sections:
/// the memmap, and the links with the run table and the section states, each in whole pages.
pub(crate) fn allocations(frames: u64, runs: u64) -> [u64; 2] {
    let links = ArrayLinks::slots_for(frames) * ArrayLinks::ENTRY_BYTES + runs * SectionRun::BYTES + Memmap::sections_for(frames);
    [frames.next_multiple_of(PAGE_SIZE), links.next_multiple_of(PAGE_SIZE)]
}

/// Bytes a node's memmap takes from memblock (see [`NodeMemmap`]).
pub fn memmap_bytes(frames: u64, runs: u64) -> u64 {
    allocations(frames, runs).iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::memblock::MemblockFlags;
    use crate::mm::PhysAddr;
    use std::boxed::Box;
    use std::vec::Vec;

    const S: u64 = PAGES_PER_SECTION;

    //  0x80000000        0x100000000   0x8800000000               0x8980000000
    //  |  2 GiB, node 0  |   hole (542 GiB)  |  6 GiB, node 0        |
    //  sections 16..32                        sections 0x1100..0x1130
    //  -> two runs: 16 sections at base 0, 48 sections at base 16 * 32768
    #[test]
    fn a_large_hole_leaves_two_runs_of_present_sections() {
        let mut mb = Box::new(Memblock::new());
        mb.add_node(PhysAddr(0x8000_0000), 2 << 30, 0, MemblockFlags::NONE).unwrap();
        mb.add_node(PhysAddr(0x88_0000_0000), 6 << 30, 0, MemblockFlags::NONE).unwrap();
        let runs: Vec<_> = node_section_runs(&mb, 0).collect();
        assert_eq!(
            runs,
            [
                SectionRun { start_pfn: 16 * S, end_pfn: 32 * S, base: 0 },
                SectionRun { start_pfn: 0x1100 * S, end_pfn: 0x1130 * S, base: 16 * S },
            ]
        );
        let valid = ValidPfns::runs(&runs).unwrap();
        assert_eq!(valid.frames(), 64 * S, "8 GiB of sections, not the 548 GiB span");
        // The last frame of the low bank, the first of the hole, the first of the high bank.
        assert_eq!(valid.index(32 * S - 1), Some(16 * S - 1));
        assert_eq!(valid.index(32 * S), None);
        assert_eq!(valid.index(0x1100 * S - 1), None);
        assert_eq!(valid.index(0x1100 * S), Some(16 * S));
        assert_eq!(valid.index(16 * S - 1), None, "below the first section");
        assert_eq!(valid.index(0x1130 * S), None, "past the last section");
        for i in [0, 16 * S - 1, 16 * S, 64 * S - 1] {
            assert_eq!(valid.pfn(i).and_then(|p| valid.index(p)), Some(i));
        }
        assert_eq!(valid.pfn(64 * S), None);
    }

    //  section 0            section 1            section 2            section 3
    //  |  r1 (4 KiB at +1M) |                    | r2 ... r3 ...      | r3 ends at +1M
    //  r1 and r2 are one section apart: two runs; r2 and r3 share section 2: one run. Each run
    //  goes from its first memory frame to its last; its base counts whole sections before it
    //  and the frames of its own first section before its start: runs take 1 and 2 sections.
    #[test]
    fn regions_in_touching_sections_join_and_partial_sections_count_whole() {
        let mut mb = Box::new(Memblock::new());
        let sec = S << PAGE_SHIFT;
        mb.add_node(PhysAddr(0x10_0000), 0x1000, 0, MemblockFlags::NONE).unwrap();
        mb.add_node(PhysAddr(2 * sec + 0x1000), 0x1000, 0, MemblockFlags::NONE).unwrap();
        mb.add_node(PhysAddr(2 * sec + 0x10_0000), sec, 0, MemblockFlags::NONE).unwrap();
        // Another node's memory never counts.
        mb.add_node(PhysAddr(5 * sec), sec, 1, MemblockFlags::NONE).unwrap();
        let runs: Vec<_> = node_section_runs(&mb, 0).collect();
        assert_eq!(
            runs,
            [
                SectionRun { start_pfn: 0x100, end_pfn: 0x101, base: 0x100 },
                SectionRun { start_pfn: 2 * S + 1, end_pfn: 3 * S + 0x100, base: S + 1 },
            ]
        );
        assert_eq!(runs.iter().map(SectionRun::section_frames).collect::<Vec<_>>(), [S, 2 * S]);
        let valid = ValidPfns::runs(&runs).unwrap();
        assert_eq!(valid.span(), (0x100, 3 * S + 0x100));
        assert_eq!(valid.frames(), 2 * S + 0x100, "entries up to the last frame's, inside the 3 sections");
        assert_eq!(valid.parts(0, 3 * S).collect::<Vec<_>>(), [(0x100, 0x101, 0x100), (2 * S + 1, 3 * S, S + 1)]);
        assert_eq!((valid.index(0xff), valid.index(0x101), valid.index(2 * S)), (None, None, None));
        // [0x101, 2 * S + 1) runs from the first run's end to the second's start: no valid
        // frame, so no part, not two empty ones.
        assert_eq!(valid.parts(0x101, 2 * S + 1).count(), 0);
        // A frame's run starts at the run's first memory frame, not at its section's start.
        assert_eq!((valid.run_start(0x100), valid.run_start(3 * S + 0xff)), (Some(0x100), Some(2 * S + 1)));
        assert_eq!((valid.run_start(0xff), valid.run_start(2 * S)), (None, None));
    }

    //  section 0            section 1
    //  | r1 (4 KiB at +1M)  | r2 (4 KiB at +4K)  |
    //  r1 ends in section 0, r2 starts in section 1, the next one: both sections are present
    //  and consecutive, so one run from r1's first frame to r2's last, the frames between
    //  them holes inside it.
    #[test]
    fn regions_in_consecutive_sections_are_one_run() {
        let mut mb = Box::new(Memblock::new());
        let sec = S << PAGE_SHIFT;
        mb.add_node(PhysAddr(0x10_0000), 0x1000, 0, MemblockFlags::NONE).unwrap();
        mb.add_node(PhysAddr(sec + 0x1000), 0x1000, 0, MemblockFlags::NONE).unwrap();
        let runs: Vec<_> = node_section_runs(&mb, 0).collect();
        assert_eq!(runs, [SectionRun { start_pfn: 0x100, end_pfn: S + 2, base: 0x100 }]);
    }

    //  section 0
    //  | node 0 [0, 0x10)  node 1 [0x10, 0x11)  node 0 [0x11, 0x20) ...
    //  Node 1's frame in the middle of node 0's section ends node 0's run there: node 0 has
    //  two runs, the second in a section slot of its own (base S + 0x11), so no frame is
    //  valid in both memmaps (Linux runs such trees: booted, with a 4 KiB stripe).
    #[test]
    fn another_nodes_memory_in_a_gap_ends_the_run() {
        let mut mb = Box::new(Memblock::new());
        mb.add_node(PhysAddr(0), 0x10 << PAGE_SHIFT, 0, MemblockFlags::NONE).unwrap();
        mb.add_node(PhysAddr(0x10 << PAGE_SHIFT), 1 << PAGE_SHIFT, 1, MemblockFlags::NONE).unwrap();
        mb.add_node(PhysAddr(0x11 << PAGE_SHIFT), 0xf << PAGE_SHIFT, 0, MemblockFlags::NONE).unwrap();
        let runs: Vec<_> = node_section_runs(&mb, 0).collect();
        assert_eq!(
            runs,
            [SectionRun { start_pfn: 0, end_pfn: 0x10, base: 0 }, SectionRun { start_pfn: 0x11, end_pfn: 0x20, base: S + 0x11 }]
        );
        let other: Vec<_> = node_section_runs(&mb, 1).collect();
        assert_eq!(other, [SectionRun { start_pfn: 0x10, end_pfn: 0x11, base: 0x10 }]);
        let (a, b) = (ValidPfns::runs(&runs).unwrap(), ValidPfns::runs(&other).unwrap());
        assert!((0..0x20).all(|pfn| a.index(pfn).is_some() != b.index(pfn).is_some()), "each frame in one memmap");
    }

    #[test]
    fn a_table_out_of_order_is_refused() {
        let run = |s: u64, e: u64, base: u64| SectionRun { start_pfn: s, end_pfn: e, base };
        assert!(ValidPfns::runs(&[run(0, 8, 0), run(16, 24, 8)]).is_some());
        assert!(ValidPfns::runs(&[run(0, 8, 3), run(16, 24, 40)]).is_some(), "entries left unused");
        assert!(ValidPfns::runs(&[run(0, 8, 0), run(16, 24, 7)]).is_none(), "bases going back");
        assert!(ValidPfns::runs(&[]).is_none(), "no run");
        assert!(ValidPfns::runs(&[run(16, 24, 0), run(0, 8, 8)]).is_none(), "unsorted");
        assert!(ValidPfns::runs(&[run(0, 8, 0), run(4, 12, 8)]).is_none(), "overlapping");
        assert!(ValidPfns::runs(&[run(0, 0, 0)]).is_none(), "empty run");
    }
}
