//! The memmap: one byte of state per page frame of a node (the part of Linux's `struct page`
//! that the buddy allocator reads).
//!
//! Linux keeps a 64-byte `struct page` per frame; the buddy core only needs three facts about
//! a page: whether it is reserved (`PG_reserved`), whether it heads a free block (`PageBuddy`)
//! and that block's order (`buddy_order`, kept in `page->private`). One byte holds them all,
//! so the memmap of 64 GiB is 16 MiB instead of 1 GiB. The free lists themselves are not
//! here: they live in side arrays (see [`super::links`]).
//!
//! A memmap has an entry for each valid frame of a node: the frames of its present sections
//! (see [`crate::mm::sparse`]), holes inside those sections included; a frame of a section
//! without RAM has none, and is never free. The caller marks what is not RAM or already in
//! use with [`Memmap::mark_reserved`] (Linux's `reserve_bootmem_region` and
//! `init_unavailable_range`).
//!
//! The entries are handed in as memblock left them and written a section at a time, the first
//! time something in the section changes ([`SectionState`]); until then a section reads as a
//! zeroed memmap would, or, once handed over whole to the allocator, as free blocks of the top
//! order. So the boot writes no entry of the sections that are wholly free: Linux 6.1 writes
//! every `struct page` before `mem_init` (or, with `DEFERRED_STRUCT_PAGE_INIT`, those of the
//! first section of each node, the rest in threads after); here the boot's memmap work is
//! one state per section and one list link per 4 MiB block.

use super::migrate::{MigrateType, PAGEBLOCK_NR_PAGES};
use super::BuddyError;
use crate::mm::addr::Pfn;
use crate::mm::sparse::{SectionRun, ValidPfns};

/// The two top bits of a memmap byte: in the byte of a pageblock's first frame of the node,
/// the pageblock's migrate type (see [`super::migrate`]); never part of a page's state.
const PAGEBLOCK_BITS: u8 = 0xc0;
const PAGEBLOCK_SHIFT: u32 = 6;

/// The state of one page frame: Linux's `PG_reserved`, `PageBuddy` and `buddy_order`.
///
/// The zero value is an ordinary page that is neither reserved nor free (allocated, or not
/// yet handed to the buddy allocator).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct PageState(u8);

impl PageState {
    /// An ordinary page: allocated, or not handed over yet.
    pub const NORMAL: PageState = PageState(0);
    /// The low four bits: the order of the free block this page heads (valid with `BUDDY`).
    pub const ORDER_MASK: u8 = 0x0f;
    /// The page heads a free block on a free list (Linux's `PageBuddy`).
    pub const BUDDY: u8 = 0x10;
    /// The page is reserved and never enters the allocator (Linux's `PG_reserved`).
    pub const RESERVED: u8 = 0x20;

    /// The state of the head of a free block of `order` (Linux's `set_buddy_order`).
    pub const fn buddy(order: u32) -> PageState {
        PageState(Self::BUDDY | (order as u8 & Self::ORDER_MASK))
    }

    /// Any byte as an entry: what memory not yet written may hold (tests).
    #[cfg(test)]
    pub(crate) const fn from_raw(b: u8) -> PageState {
        PageState(b)
    }

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the page heads a free block (Linux's `PageBuddy`).
    pub const fn is_buddy(self) -> bool {
        self.0 & Self::BUDDY != 0
    }

    /// Whether the page is reserved (Linux's `PageReserved`).
    pub const fn is_reserved(self) -> bool {
        self.0 & Self::RESERVED != 0
    }

    /// The order of the free block this page heads, if it heads one (Linux's `buddy_order`).
    pub const fn buddy_order(self) -> Option<u32> {
        if self.is_buddy() {
            Some((self.0 & Self::ORDER_MASK) as u32)
        } else {
            None
        }
    }
}

impl core::fmt::Debug for PageState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.buddy_order(), self.is_reserved()) {
            (Some(o), false) => write!(f, "Buddy({o})"),
            (None, true) => write!(f, "Reserved"),
            (None, false) => write!(f, "Normal"),
            (Some(o), true) => write!(f, "Invalid({:#x}, order {o})", self.0),
        }
    }
}

/// What a section's entries hold. The entries of a section are written only once something
/// in it changes other than the whole section becoming free or reserved: until then they may
/// hold anything, and the section's state says what they stand for. So a boot that hands whole
/// free sections to the allocator touches no memmap byte of them (their list links are
/// written, one entry per top-order block), nor of whole sections it reserves (the memmap's
/// own links, 4 MiB per GiB): its cost follows the sections, not the pages.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SectionState {
    /// Not written yet: every frame reads as an ordinary page ([`PageState::NORMAL`]), every
    /// pageblock as movable, as a zeroed memmap would.
    #[default]
    Blank = 0,
    /// Not written yet, and wholly free: the first frame of every block of the top order
    /// heads a free block of that order, every other frame is ordinary, every pageblock
    /// movable.
    Free = 1,
    /// Written: the entries hold the state.
    Live = 2,
    /// Not written yet, and wholly reserved: every frame reads as reserved, every pageblock
    /// as movable.
    Reserved = 3,
}

impl SectionState {
    /// What the entry of `pfn` stands for in a section in this state that is not written.
    fn unwritten(self, pfn: u64) -> PageState {
        match self {
            SectionState::Free if pfn.is_multiple_of(1 << TOP_ORDER) => PageState::buddy(TOP_ORDER),
            SectionState::Reserved => PageState(PageState::RESERVED),
            _ => PageState::NORMAL,
        }
    }
}

/// Memmap entries per [`SectionState`]: a section's frames (the memmap is packed by whole
/// sections, so entry `i` is in section slot `i / SECTION_ENTRIES`).
const SECTION_ENTRIES: usize = crate::mm::sparse::PAGES_PER_SECTION as usize;
/// The order of the blocks a [`SectionState::Free`] section is made of.
const TOP_ORDER: u32 = super::MAX_ORDER - 1;

/// The memmap of one node: the state of every valid frame of the node (see [`ValidPfns`],
/// whose first and last frames are the node's span), the migrate type of every pageblock
/// in the top bits of its first frame's byte, and the [`SectionState`] of each section. As
/// small as two slices and a table (it lives in `NODE_DATA`).
pub struct Memmap<'a> {
    valid: ValidPfns<'a>,
    pages: &'a mut [PageState],
    sections: &'a mut [SectionState],
}

impl<'a> Memmap<'a> {
    /// Entries of the section table a memmap of `frames` entries needs.
    pub const fn sections_for(frames: u64) -> u64 {
        frames.div_ceil(SECTION_ENTRIES as u64)
    }

    /// A memmap for the valid frames `valid` (a node's present sections, or
    /// [`crate::mm::sparse::dense`] for a node without holes), one entry each in `pages`,
    /// which may hold anything: every section starts [`SectionState::Blank`] in `sections`.
    /// `None` when `pages` holds fewer entries than `valid` indexes, or `sections` fewer than
    /// [`sections_for`](Self::sections_for) them.
    pub fn new(valid: &'a [SectionRun], pages: &'a mut [PageState], sections: &'a mut [SectionState]) -> Option<Self> {
        let valid = ValidPfns::runs(valid)?;
        let frames = valid.frames();
        if (pages.len() as u64) < frames || (sections.len() as u64) < Self::sections_for(frames) {
            return None;
        }
        sections.fill(SectionState::Blank);
        Some(Memmap { valid, pages, sections })
    }

    /// First frame of the node's span.
    pub fn start_pfn(&self) -> Pfn {
        Pfn(self.valid.span().0)
    }

    /// First frame past the node's span.
    pub fn end_pfn(&self) -> Pfn {
        Pfn(self.valid.span().1)
    }

    /// The frames that have an entry.
    pub fn valid(&self) -> ValidPfns<'a> {
        self.valid
    }

    /// Whether `pfn` is valid (Linux's `pfn_valid`, for this node).
    pub fn covers(&self, pfn: u64) -> bool {
        self.entry(pfn).is_some()
    }

    /// The state of `pfn`, `None` outside the span or for an invalid frame.
    pub fn get(&self, pfn: Pfn) -> Option<PageState> {
        self.state(pfn.0)
    }

    #[inline]
    pub(super) fn state(&self, pfn: u64) -> Option<PageState> {
        Some(self.state_at(self.entry(pfn)?, pfn))
    }

    /// The state of entry `i`, the entry of frame `pfn`: its byte in a live section, else
    /// what the section's state stands for.
    #[inline]
    fn state_at(&self, i: usize, pfn: u64) -> PageState {
        // Both loads at once: the byte is only used when the section is live.
        let (byte, section) = (self.pages[i].0, self.sections[i / SECTION_ENTRIES]);
        if section == SectionState::Live {
            PageState(byte & !PAGEBLOCK_BITS)
        } else {
            section.unwritten(pfn)
        }
    }

    /// The state of `pfn`'s section, `None` for an invalid frame.
    pub fn section_state(&self, pfn: Pfn) -> Option<SectionState> {
        Some(self.sections[self.entry(pfn.0)? / SECTION_ENTRIES])
    }

    /// Write the entries of entry `i`'s section, if they are not yet, with what its state
    /// stands for; the section is [`SectionState::Live`] after.
    #[inline]
    fn materialize(&mut self, i: usize) {
        if self.sections[i / SECTION_ENTRIES] != SectionState::Live {
            self.write_section(i / SECTION_ENTRIES);
        }
    }

    /// [`materialize`](Self::materialize) of section `slot`, which is not live: once per
    /// section, off the allocator's fast path.
    #[cold]
    #[inline(never)]
    fn write_section(&mut self, slot: usize) {
        let state = self.sections[slot];
        let start = slot * SECTION_ENTRIES;
        let end = (start + SECTION_ENTRIES).min(self.pages.len());
        let entries = &mut self.pages[start..end];
        let reserved = state == SectionState::Reserved;
        entries.fill(if reserved { PageState(PageState::RESERVED) } else { PageState::NORMAL });
        if state == SectionState::Free {
            for p in entries.iter_mut().step_by(1 << TOP_ORDER) {
                *p = PageState::buddy(TOP_ORDER);
            }
        }
        self.sections[slot] = SectionState::Live;
    }

    /// The index of `pfn`'s entry, if it is valid.
    #[inline]
    fn entry(&self, pfn: u64) -> Option<usize> {
        usize::try_from(self.valid.index(pfn)?).ok().filter(|&i| i < self.pages.len())
    }

    /// Set the state of a frame known to be covered (callers check the zone first).
    pub(super) fn set(&mut self, pfn: u64, state: PageState) {
        if let Some(i) = self.entry(pfn) {
            self.materialize(i);
            let p = &mut self.pages[i];
            *p = PageState((p.0 & PAGEBLOCK_BITS) | (state.0 & !PAGEBLOCK_BITS));
        }
    }

    /// Index of the byte that holds the migrate type of `pfn`'s pageblock: its first frame's,
    /// or, when the pageblock's first frame is not valid (RAM starting inside the pageblock),
    /// the first valid frame of `pfn`'s run.
    fn pageblock_index(&self, pfn: u64) -> Option<usize> {
        let run_start = self.valid.run_start(pfn)?;
        self.entry((pfn & !(PAGEBLOCK_NR_PAGES - 1)).max(run_start))
    }

    /// The migrate type of `pfn`'s pageblock (Linux's `get_pfnblock_migratetype`); movable
    /// outside the span.
    pub fn pageblock_type(&self, pfn: u64) -> MigrateType {
        let Some(i) = self.pageblock_index(pfn) else { return MigrateType::Movable };
        let (byte, section) = (self.pages[i].0, self.sections[i / SECTION_ENTRIES]);
        if section == SectionState::Live {
            MigrateType::from_bits(byte >> PAGEBLOCK_SHIFT)
        } else {
            MigrateType::Movable
        }
    }

    /// Set the migrate type of `pfn`'s pageblock (Linux's `set_pageblock_migratetype`).
    pub(super) fn set_pageblock_type(&mut self, pfn: u64, mt: MigrateType) {
        if let Some(i) = self.pageblock_index(pfn) {
            self.materialize(i);
            let p = &mut self.pages[i];
            p.0 = (p.0 & !PAGEBLOCK_BITS) | (mt.to_bits() << PAGEBLOCK_SHIFT);
        }
    }

    /// The valid parts of `[start_pfn, end_pfn)` (which must lie in the node's span, or an
    /// error naming the range), each as its first frame and the index of its first entry.
    fn parts(&self, start_pfn: Pfn, end_pfn: Pfn) -> Result<impl Iterator<Item = (u64, u64, usize)> + 'a, BuddyError> {
        let (start, end) = (start_pfn.0, end_pfn.0);
        let (span_start, span_end) = self.valid.span();
        if start > end || start < span_start || end > span_end {
            return Err(BuddyError::OutsideMemmap { start: start_pfn, end: end_pfn });
        }
        Ok(self.valid.parts(start, end).map(|(s, e, i)| (s, e, i as usize)))
    }

    /// The first valid frame of `[start_pfn, end_pfn)` whose state satisfies `pred`, found a
    /// section's entries at a time (a section not written yet holds at most two states).
    pub(super) fn find(&self, start_pfn: Pfn, end_pfn: Pfn, pred: impl Fn(PageState) -> bool) -> Result<Option<u64>, BuddyError> {
        for (s, e, i0) in self.parts(start_pfn, end_pfn)? {
            let mut pfn = s;
            while pfn < e {
                let i = i0 + (pfn - s) as usize;
                let section_end = (pfn + (SECTION_ENTRIES - i % SECTION_ENTRIES) as u64).min(e);
                let found = match self.sections[i / SECTION_ENTRIES] {
                    SectionState::Live => {
                        let n = (section_end - pfn) as usize;
                        self.pages[i..i + n].iter().position(|p| pred(PageState(p.0 & !PAGEBLOCK_BITS))).map(|k| pfn + k as u64)
                    }
                    SectionState::Free => (pfn..section_end).find(|&p| pred(self.state_at(i + (p - pfn) as usize, p))),
                    // One state for every frame.
                    st @ (SectionState::Blank | SectionState::Reserved) => pred(st.unwritten(pfn)).then_some(pfn),
                };
                if found.is_some() {
                    return Ok(found);
                }
                pfn = section_end;
            }
        }
        Ok(None)
    }

    /// Check that no head of a block of the top order in `[start_pfn, end_pfn)` is reserved
    /// or heads a free block already (what freeing checks of each block's head).
    pub(super) fn check_top_heads(&self, start_pfn: Pfn, end_pfn: Pfn) -> Result<(), BuddyError> {
        const STEP: u64 = 1 << TOP_ORDER;
        for (s, e, i0) in self.parts(start_pfn, end_pfn)? {
            let mut pfn = s.next_multiple_of(STEP);
            while pfn < e {
                let i = i0 + (pfn - s) as usize;
                if self.sections[i / SECTION_ENTRIES] == SectionState::Blank {
                    // Every head of the section is an ordinary page: on to the next section.
                    pfn += (SECTION_ENTRIES - i % SECTION_ENTRIES) as u64;
                    continue;
                }
                let state = self.state_at(i, pfn);
                if state.is_reserved() {
                    return Err(BuddyError::Reserved { pfn: Pfn(pfn) });
                }
                if let Some(o) = state.buddy_order() {
                    return Err(BuddyError::DoubleFree { pfn: Pfn(pfn), head: Pfn(pfn), order: o });
                }
                pfn += STEP;
            }
        }
        Ok(())
    }

    /// Make every head of a block of the top order in `[start_pfn, end_pfn)` the head of a
    /// free block, and call `f` with runs of consecutive heads (the first, how many) and
    /// their pageblocks' migrate type (a head is its pageblock's first frame), in address
    /// order. A whole section not written yet ([`SectionState::Blank`]) becomes
    /// [`SectionState::Free`] without a memmap write, one run. The caller checked the heads
    /// ([`check_top_heads`](Self::check_top_heads)).
    pub(super) fn set_top_heads(&mut self, start_pfn: Pfn, end_pfn: Pfn, f: &mut dyn FnMut(u64, u64, MigrateType)) -> Result<(), BuddyError> {
        const STEP: u64 = 1 << TOP_ORDER;
        let section = SECTION_ENTRIES as u64;
        for (s, e, i0) in self.parts(start_pfn, end_pfn)? {
            let mut pfn = s.next_multiple_of(STEP);
            while pfn < e {
                // A part's entries are side by side: a section starting at `pfn` and ending
                // inside the part is a whole section of the memmap.
                let i = i0 + (pfn - s) as usize;
                let slot = i / SECTION_ENTRIES;
                let whole = pfn.is_multiple_of(section) && i.is_multiple_of(SECTION_ENTRIES) && pfn + section <= e;
                if whole && self.sections[slot] == SectionState::Blank {
                    self.sections[slot] = SectionState::Free;
                    f(pfn, section / STEP, MigrateType::Movable);
                    pfn += section;
                    continue;
                }
                self.materialize(i);
                let p = &mut self.pages[i];
                p.0 = (p.0 & PAGEBLOCK_BITS) | PageState::buddy(TOP_ORDER).0;
                f(pfn, 1, MigrateType::from_bits(p.0 >> PAGEBLOCK_SHIFT));
                pfn += STEP;
            }
        }
        Ok(())
    }

    /// Set (`set`) or clear the reserved mark of every entry of `[start_pfn, end_pfn)`;
    /// returns how many entries changed. A whole section not written yet changes state
    /// (blank and reserved) instead of being written.
    fn mark(&mut self, start_pfn: Pfn, end_pfn: Pfn, set: bool) -> Result<u64, BuddyError> {
        let (was, now) = if set { (SectionState::Blank, SectionState::Reserved) } else { (SectionState::Reserved, SectionState::Blank) };
        let mut changed = 0;
        for (s, e, i0) in self.parts(start_pfn, end_pfn)? {
            let end = i0 + (e - s) as usize;
            let mut a = i0;
            while a < end {
                let slot = a / SECTION_ENTRIES;
                let b = ((slot + 1) * SECTION_ENTRIES).min(end);
                let whole = a == slot * SECTION_ENTRIES && b == (slot + 1) * SECTION_ENTRIES;
                match self.sections[slot] {
                    st if whole && st == was => {
                        self.sections[slot] = now;
                        changed += SECTION_ENTRIES as u64;
                    }
                    // Wholly marked, or wholly not, already: any part of it is as asked.
                    st if st == now => {}
                    st => {
                        self.materialize(a);
                        let part = &mut self.pages[a..b];
                        if st == was {
                            // Just written from a uniform state: every entry changes, to the
                            // one value that state's opposite stands for.
                            changed += part.len() as u64;
                            part.fill(if set { PageState(PageState::RESERVED) } else { PageState::NORMAL });
                        } else {
                            changed += part.iter().filter(|p| p.is_reserved() != set).count() as u64;
                            for p in part {
                                p.0 = if set { p.0 | PageState::RESERVED } else { p.0 & !PageState::RESERVED };
                            }
                        }
                    }
                }
                a = b;
            }
        }
        Ok(changed)
    }

    /// Clear the reserved mark of `[start_pfn, end_pfn)` (Linux's `__ClearPageReserved` on
    /// each page, as `init_cma_reserved_pageblock` does before freeing). Returns how many
    /// pages were reserved.
    pub(super) fn clear_reserved(&mut self, start_pfn: Pfn, end_pfn: Pfn) -> Result<u64, BuddyError> {
        self.mark(start_pfn, end_pfn, false)
    }

    /// Mark the valid frames of `[start_pfn, end_pfn)` reserved (Linux's
    /// `reserve_bootmem_region`, which sets `PG_reserved` on each page). Holes in the node's
    /// present sections must be marked too, as Linux's `init_unavailable_range` does; frames
    /// of sections that are not present have no entry to mark. Returns how many pages became
    /// reserved (pages already reserved are not counted twice). Only possible before the
    /// memmap is handed to [`super::Zones::add_node`], so a free block can never be marked.
    pub fn mark_reserved(&mut self, start_pfn: Pfn, end_pfn: Pfn) -> Result<u64, BuddyError> {
        self.mark(start_pfn, end_pfn, true)
    }

    /// Number of reserved frames (counted: for checks, not for a hot path).
    pub fn reserved_pages(&self) -> u64 {
        let valid = self.valid;
        let (s, e) = valid.span();
        valid.parts(s, e).map(|(s, e, i)| (s..e).filter(|&p| self.state_at((i + p - s) as usize, p).is_reserved()).count() as u64).sum()
    }
}
