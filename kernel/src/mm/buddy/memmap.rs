//! The memmap: one byte of state per page frame of a node (the part of Linux's `struct page`
//! that the buddy allocator reads).
//!
//! Linux keeps a 64-byte `struct page` per frame; the buddy core only needs three facts about
//! a page: whether it is reserved (`PG_reserved`), whether it heads a free block (`PageBuddy`)
//! and that block's order (`buddy_order`, kept in `page->private`). One byte holds them all,
//! so the memmap of 64 GiB is 16 MiB instead of 1 GiB. The free lists themselves are not
//! here: they live in the free pages (see [`super::links`]).
//!
//! A memmap has an entry for each valid frame of a node: the frames of its present sections
//! (see [`crate::mm::sparse`]), holes inside those sections included; a frame of a section
//! without RAM has none, and is never free. It is handed in zeroed by the caller, who then
//! marks what is not RAM or already in use with [`Memmap::mark_reserved`] (Linux's
//! `reserve_bootmem_region` and `init_unavailable_range`).

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

/// The memmap of one node: the state of every valid frame of the node (see [`ValidPfns`],
/// whose first and last frames are the node's span), and the migrate type of every pageblock
/// in the top bits of its first frame's byte. As small as a slice and a table (it lives in
/// `NODE_DATA`).
pub struct Memmap<'a> {
    valid: ValidPfns<'a>,
    pages: &'a mut [PageState],
}

impl<'a> Memmap<'a> {
    /// A memmap for the valid frames `valid` (a node's present sections, or
    /// [`crate::mm::sparse::dense`] for a node without holes), one entry each. `pages` must be
    /// zeroed ([`PageState::NORMAL`]); it is not scanned, so that building a memmap costs
    /// nothing. `None` when `pages` holds fewer entries than `valid` indexes.
    pub fn new(valid: &'a [SectionRun], pages: &'a mut [PageState]) -> Option<Self> {
        let valid = ValidPfns::runs(valid)?;
        (pages.len() as u64 >= valid.frames()).then_some(Memmap { valid, pages })
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

    pub(super) fn state(&self, pfn: u64) -> Option<PageState> {
        let p = self.pages[self.entry(pfn)?];
        Some(PageState(p.0 & !PAGEBLOCK_BITS))
    }

    /// The index of `pfn`'s entry, if it is valid.
    #[inline]
    fn entry(&self, pfn: u64) -> Option<usize> {
        usize::try_from(self.valid.index(pfn)?).ok().filter(|&i| i < self.pages.len())
    }

    /// Set the state of a frame known to be covered (callers check the zone first).
    pub(super) fn set(&mut self, pfn: u64, state: PageState) {
        if let Some(i) = self.entry(pfn) {
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
        self.pageblock_index(pfn).map_or(MigrateType::Movable, |i| {
            MigrateType::from_bits(self.pages[i].0 >> PAGEBLOCK_SHIFT)
        })
    }

    /// Set the migrate type of `pfn`'s pageblock (Linux's `set_pageblock_migratetype`).
    pub(super) fn set_pageblock_type(&mut self, pfn: u64, mt: MigrateType) {
        if let Some(i) = self.pageblock_index(pfn) {
            let p = &mut self.pages[i];
            p.0 = (p.0 & !PAGEBLOCK_BITS) | (mt.to_bits() << PAGEBLOCK_SHIFT);
        }
    }

    /// The valid parts of `[start_pfn, end_pfn)` (which must lie in the node's span, or an
    /// error naming the range), each as its first frame and its entries.
    fn parts_mut(&mut self, start_pfn: Pfn, end_pfn: Pfn) -> Result<impl Iterator<Item = (u64, &mut [PageState])>, BuddyError> {
        let (start, end) = (start_pfn.0, end_pfn.0);
        let (span_start, span_end) = self.valid.span();
        if start > end || start < span_start || end > span_end {
            return Err(BuddyError::OutsideMemmap { start: start_pfn, end: end_pfn });
        }
        let mut rest: &mut [PageState] = self.pages;
        let mut at = 0;
        let parts = self.valid.parts(start, end);
        Ok(parts.map(move |(s, e, i)| {
            let (i, n) = (i as usize, (e - s) as usize);
            let taken = core::mem::take(&mut rest);
            let (_, tail) = taken.split_at_mut(i - at);
            let (part, tail) = tail.split_at_mut(n);
            rest = tail;
            at = i + n;
            (s, part)
        }))
    }

    /// Call `f` with each head of a block of `order` whose first frame lies in `[start_pfn,
    /// end_pfn)` and is valid, in address order, with its frame and its entry; stops at the
    /// first error `f` returns.
    fn for_each_head(
        &mut self,
        start_pfn: Pfn,
        end_pfn: Pfn,
        order: u32,
        f: &mut dyn FnMut(u64, &mut PageState) -> Result<(), BuddyError>,
    ) -> Result<(), BuddyError> {
        let step = 1u64 << order;
        for (s, part) in self.parts_mut(start_pfn, end_pfn)? {
            let mut k = s.next_multiple_of(step) - s;
            while let Some(p) = part.get_mut(k as usize) {
                f(s + k, p)?;
                k += step;
            }
        }
        Ok(())
    }

    /// Check that no head of a block of `order` in `[start_pfn, end_pfn)` is reserved or
    /// heads a free block already (what freeing checks of each block's head).
    pub(super) fn check_heads(&mut self, start_pfn: Pfn, end_pfn: Pfn, order: u32) -> Result<(), BuddyError> {
        self.for_each_head(start_pfn, end_pfn, order, &mut |pfn, p| {
            let p = PageState(p.0 & !PAGEBLOCK_BITS);
            if p.is_reserved() {
                return Err(BuddyError::Reserved { pfn: Pfn(pfn) });
            }
            match p.buddy_order() {
                Some(o) => Err(BuddyError::DoubleFree { pfn: Pfn(pfn), head: Pfn(pfn), order: o }),
                None => Ok(()),
            }
        })
    }

    /// Make every head of a block of `order` (at least pageblock order) in `[start_pfn,
    /// end_pfn)` the head of a free block of that order, and call `f` with its frame and its
    /// pageblock's migrate type (the head is its pageblock's first frame), in address order.
    pub(super) fn set_heads(&mut self, start_pfn: Pfn, end_pfn: Pfn, order: u32, f: &mut dyn FnMut(u64, MigrateType)) -> Result<(), BuddyError> {
        debug_assert!(order >= super::PAGEBLOCK_ORDER);
        self.for_each_head(start_pfn, end_pfn, order, &mut |pfn, p| {
            p.0 = (p.0 & PAGEBLOCK_BITS) | PageState::buddy(order).0;
            f(pfn, MigrateType::from_bits(p.0 >> PAGEBLOCK_SHIFT));
            Ok(())
        })
    }

    /// Set (`set`) or clear the reserved mark of every entry of `[start_pfn, end_pfn)`;
    /// returns how many entries changed.
    fn mark(&mut self, start_pfn: Pfn, end_pfn: Pfn, set: bool) -> Result<u64, BuddyError> {
        let mut changed = 0;
        for (_, part) in self.parts_mut(start_pfn, end_pfn)? {
            changed += part.iter().filter(|p| p.is_reserved() != set).count() as u64;
            for p in part {
                p.0 = if set { p.0 | PageState::RESERVED } else { p.0 & !PageState::RESERVED };
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
        valid.parts(s, e).map(|(s, e, i)| self.pages[i as usize..(i + e - s) as usize].iter().filter(|p| p.is_reserved()).count() as u64).sum()
    }
}
