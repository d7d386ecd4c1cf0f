//! One zone's buddy lists: freeing with merging, and taking a block with splitting.
//!
//! Linux functions here: `__free_one_page` (with `find_buddy_page_pfn`, `page_is_buddy`,
//! `buddy_merge_likely`), `__rmqueue` with `__rmqueue_smallest`, `expand`,
//! `__rmqueue_fallback`, `find_suitable_fallback`, `steal_suitable_fallback` and
//! `move_freepages_block`. A zone only ever touches the
//! memmap entries and links of frames inside its own span: a buddy outside the span (another
//! zone, a hole past the node) never merges, whatever its state.

use super::links::{FreeArea, FreePageLinks};
use super::memmap::{Memmap, PageState};
use super::migrate::{MigrateType, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
use super::MAX_ORDER;

/// Zone types of arm64 Linux 6.1 with `CONFIG_ZONE_DMA` and `CONFIG_ZONE_DMA32`
/// (`enum zone_type`), lowest first. As an allocation constraint, the highest zone allowed
/// (Linux's `gfp_zone`: `GFP_DMA` → `Dma`, `GFP_DMA32` → `Dma32`, `GFP_KERNEL` → `Normal`,
/// `GFP_HIGHUSER_MOVABLE` → `Movable`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum ZoneType {
    Dma = 0,
    Dma32 = 1,
    Normal = 2,
    Movable = 3,
}

impl ZoneType {
    /// All zone types, lowest first.
    pub const ALL: [ZoneType; super::MAX_NR_ZONES] =
        [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::Movable];

    /// The name Linux prints (`zone_names[]`).
    pub const fn name(self) -> &'static str {
        crate::mm::zone_sizes::ZONE_NAMES[self as usize]
    }

    /// Index into a node's zone array.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A zone of a node (Linux's `struct zone`, the parts the buddy allocator uses).
#[derive(Clone, Copy, Debug)]
pub struct Zone {
    pub(super) ty: ZoneType,
    pub(super) nid: i32,
    pub(super) zone_start_pfn: u64,
    pub(super) spanned_pages: u64,
    pub(super) present_pages: u64,
    pub(super) managed_pages: u64,
    pub(super) free_pages: u64,
    pub(super) free_cma_pages: u64,
    pub(super) free_area: [FreeArea; MAX_ORDER as usize],
}

impl Zone {
    pub(super) const fn empty(ty: ZoneType, nid: i32) -> Zone {
        Zone {
            ty,
            nid,
            zone_start_pfn: 0,
            spanned_pages: 0,
            present_pages: 0,
            managed_pages: 0,
            free_pages: 0,
            free_cma_pages: 0,
            free_area: FreeArea::all(),
        }
    }

    /// "DMA", "DMA32", "Normal" or "Movable".
    pub fn name(&self) -> &'static str {
        self.ty.name()
    }

    /// Node the zone belongs to.
    pub fn nid(&self) -> i32 {
        self.nid
    }

    /// First frame of the span.
    pub fn zone_start_pfn(&self) -> u64 {
        self.zone_start_pfn
    }

    /// First frame past the span (Linux's `zone_end_pfn`).
    pub fn zone_end_pfn(&self) -> u64 {
        self.zone_start_pfn + self.spanned_pages
    }

    /// Frames in the span, holes included.
    pub fn spanned_pages(&self) -> u64 {
        self.spanned_pages
    }

    /// Frames of RAM in the span (spanned minus holes).
    pub fn present_pages(&self) -> u64 {
        self.present_pages
    }

    /// Frames handed to the allocator (Linux's `managed_pages`).
    pub fn managed_pages(&self) -> u64 {
        self.managed_pages
    }

    /// Frames currently free (Linux's `NR_FREE_PAGES`).
    pub fn free_pages(&self) -> u64 {
        self.free_pages
    }

    /// Frames currently free in MIGRATE_CMA pageblocks (Linux's `NR_FREE_CMA_PAGES`).
    pub fn free_cma_pages(&self) -> u64 {
        self.free_cma_pages
    }

    /// The free lists of `order` (`None` for an order of 11 or more).
    pub fn free_area(&self, order: u32) -> Option<&FreeArea> {
        self.free_area.get(order as usize)
    }

    /// Number of free blocks of `order` (0 for an order of 11 or more).
    pub fn nr_free(&self, order: u32) -> u64 {
        self.free_area(order).map_or(0, FreeArea::nr_free)
    }

    /// Whether the zone has RAM (Linux's `populated_zone`).
    pub fn is_populated(&self) -> bool {
        self.present_pages != 0
    }

    /// Whether `pfn` lies in the span (Linux's `zone_spans_pfn`).
    pub fn spans(&self, pfn: u64) -> bool {
        pfn >= self.zone_start_pfn && pfn - self.zone_start_pfn < self.spanned_pages
    }

    /// Whether `pfn` heads a free block of exactly `order` in this zone (Linux's
    /// `page_is_buddy`; the span check stands for its same-zone check).
    fn is_free_block(&self, mm: &Memmap<'_>, pfn: u64, order: u32) -> bool {
        self.spans(pfn) && mm.state(pfn) == Some(PageState::buddy(order))
    }

    /// The free block of an order above `order` that contains `pfn`, if any: a block being
    /// freed must not lie inside one. The candidate of order `o` is the block headed at `pfn`
    /// with its low `o` bits cleared; consecutive orders share a head while the next bit of
    /// `pfn` is clear, so one memmap read answers for all of them (the head's order is at most
    /// one value): one read per set bit of `pfn` above `order`, not one per order.
    pub(super) fn containing_free_block(&self, mm: &Memmap<'_>, pfn: u64, order: u32) -> Option<(u64, u32)> {
        let mut o = order + 1;
        while o < MAX_ORDER {
            let head = pfn & !((1u64 << o) - 1);
            // Orders o..=last all have `head` as their candidate.
            let last = (o + (pfn >> o).trailing_zeros()).min(MAX_ORDER - 1);
            if self.spans(head) {
                if let Some(found) = mm.state(head).and_then(PageState::buddy_order).filter(|h| (o..=last).contains(h)) {
                    return Some((head, found));
                }
            }
            o = last + 1;
        }
        None
    }

    /// Count `pages` (may be negative) freed or taken in a pageblock of type `mt` (Linux's
    /// `__mod_zone_freepage_state`: NR_FREE_PAGES, and NR_FREE_CMA_PAGES for CMA).
    pub(super) fn account_free(&mut self, mt: MigrateType, pages: i64) {
        self.free_pages = self.free_pages.wrapping_add_signed(pages);
        if mt == MigrateType::Cma {
            self.free_cma_pages = self.free_cma_pages.wrapping_add_signed(pages);
        }
    }

    /// Free the block `[pfn, pfn + 2^order)` onto the lists of its pageblock's migrate type,
    /// merging it with its free buddies up to the top order (Linux's `__free_one_page`).
    /// From pageblock order up, a buddy in a pageblock of another type merges only when
    /// both types are mergeable (never across CMA and non-CMA). `to_tail` forces the merged
    /// block to the end of its list (Linux's `FPI_TO_TAIL`, used when memory is first handed
    /// over); otherwise it goes to the tail only when the next merge up looks likely
    /// (`buddy_merge_likely`), so that it stays free longer. The caller has checked the block.
    pub(super) fn free_one_page(
        &mut self,
        mm: &mut Memmap<'_>,
        links: &mut impl FreePageLinks,
        mut pfn: u64,
        mut order: u32,
        to_tail: bool,
    ) {
        let mt = mm.pageblock_type(pfn);
        self.account_free(mt, 1 << order);
        let mut buddy_pfn = pfn;
        while order < MAX_ORDER - 1 {
            // The buddy differs from pfn in exactly bit `order` (Linux's __find_buddy_pfn).
            buddy_pfn = pfn ^ (1 << order);
            if !self.is_free_block(mm, buddy_pfn, order) {
                break;
            }
            if order >= PAGEBLOCK_ORDER {
                let buddy_mt = mm.pageblock_type(buddy_pfn);
                if buddy_mt != mt && !(mt.is_mergeable() && buddy_mt.is_mergeable()) {
                    break;
                }
            }
            self.free_area[order as usize].remove(links, buddy_pfn);
            mm.set(buddy_pfn, PageState::NORMAL);
            pfn &= buddy_pfn;
            order += 1;
        }
        mm.set(pfn, PageState::buddy(order));
        let tail = to_tail || self.buddy_merge_likely(mm, pfn, buddy_pfn, order);
        let area = &mut self.free_area[order as usize];
        if tail {
            area.push_back(links, pfn, mt);
        } else {
            area.push_front(links, pfn, mt);
        }
    }

    /// Free the blocks of the top order in `[start, end)` (aligned to it, in this zone,
    /// checked) as [`free_one_page`](Self::free_one_page) with `to_tail` frees them one by
    /// one, in address order: a top-order block has no buddy to merge with, so each goes to
    /// the tail of its pageblock type's list; consecutive blocks of one type are chained in one
    /// go ([`FreeArea::append_run`]).
    pub(super) fn free_top_blocks(&mut self, mm: &mut Memmap<'_>, links: &mut impl FreePageLinks, start: u64, end: u64) {
        const TOP: u32 = MAX_ORDER - 1;
        let mut pending: Option<(u64, u64, MigrateType)> = None;
        let flush = |zone: &mut Zone, links: &mut _, (first, count, mt): (u64, u64, MigrateType)| {
            zone.account_free(mt, (count << TOP) as i64);
            zone.free_area[TOP as usize].append_run(links, first, count, mt);
        };
        let set = mm.set_top_heads(super::Pfn(start), super::Pfn(end), &mut |pfn, n, mt| match &mut pending {
            Some((first, count, m)) if *m == mt && *first + (*count << TOP) == pfn => *count += n,
            _ => {
                if let Some(run) = pending.replace((pfn, n, mt)) {
                    flush(self, links, run);
                }
            }
        });
        debug_assert!(set.is_ok(), "the caller checked the range");
        if let Some(run) = pending {
            flush(self, links, run);
        }
    }

    /// Whether the block just freed at `pfn` (whose last buddy looked at was `buddy_pfn`)
    /// is one free buddy away from merging one order higher still.
    fn buddy_merge_likely(&self, mm: &Memmap<'_>, pfn: u64, buddy_pfn: u64, order: u32) -> bool {
        if order >= MAX_ORDER - 2 {
            return false;
        }
        let higher = buddy_pfn & pfn;
        let higher_buddy = higher ^ (1 << (order + 1));
        self.is_free_block(mm, higher_buddy, order + 1)
    }

    /// Take a block of `order` from the smallest non-empty list of type `mt` of at least that
    /// order, putting the unused upper halves back on the lists of `mt` (Linux's
    /// `__rmqueue_smallest` and `expand`).
    fn rmqueue_smallest(
        &mut self,
        mm: &mut Memmap<'_>,
        links: &mut impl FreePageLinks,
        order: u32,
        mt: MigrateType,
    ) -> Option<u64> {
        let current = (order..MAX_ORDER).find(|&o| self.free_area[o as usize].first(mt).is_some())?;
        let pfn = self.free_area[current as usize].first(mt)?;
        self.free_area[current as usize].remove(links, pfn);
        mm.set(pfn, PageState::NORMAL);
        let mut high = current;
        while high > order {
            high -= 1;
            let half = pfn + (1 << high);
            self.free_area[high as usize].push_front(links, half, mt);
            mm.set(half, PageState::buddy(high));
        }
        self.account_free(mt, -(1 << order));
        Some(pfn)
    }

    /// Take a block of `order` for an allocation of type `mt` (Linux's `__rmqueue`, with
    /// `ALLOC_CMA` for movable allocations, as `gfp_to_alloc_flags_cma` sets it): a movable
    /// allocation takes CMA pages first when they are more than half the zone's free pages,
    /// then its own lists, then CMA; any allocation then steals from `fallbacks[]` and
    /// retries. Only movable allocations ever get CMA pages.
    pub(super) fn rmqueue(
        &mut self,
        mm: &mut Memmap<'_>,
        links: &mut impl FreePageLinks,
        order: u32,
        mt: MigrateType,
    ) -> Option<u64> {
        let cma_ok = mt == MigrateType::Movable;
        if cma_ok && self.free_cma_pages > self.free_pages / 2 {
            if let Some(pfn) = self.rmqueue_smallest(mm, links, order, MigrateType::Cma) {
                return Some(pfn);
            }
        }
        loop {
            if let Some(pfn) = self.rmqueue_smallest(mm, links, order, mt) {
                return Some(pfn);
            }
            if cma_ok {
                if let Some(pfn) = self.rmqueue_smallest(mm, links, order, MigrateType::Cma) {
                    return Some(pfn);
                }
            }
            if !self.rmqueue_fallback(mm, links, order, mt) {
                return None;
            }
        }
    }

    /// The first type of `fallbacks[mt]` with a free block of `order`, and whether a block
    /// of that order may claim its pageblock (Linux's `find_suitable_fallback` with
    /// `only_stealable` false, and `can_steal_fallback`).
    fn find_suitable_fallback(&self, order: u32, mt: MigrateType) -> Option<(MigrateType, bool)> {
        let area = &self.free_area[order as usize];
        if area.nr_free() == 0 {
            return None;
        }
        let can_steal = order >= PAGEBLOCK_ORDER / 2 || matches!(mt, MigrateType::Unmovable | MigrateType::Reclaimable);
        mt.fallbacks().iter().find(|&&f| area.first(f).is_some()).map(|&f| (f, can_steal))
    }

    /// Move a free block of another type to the lists of `start` (Linux's
    /// `__rmqueue_fallback` without `ALLOC_NOFRAGMENT`): the largest block any fallback type
    /// has, except that a movable allocation that may not claim the block's pageblock takes
    /// the smallest instead. Returns whether a block moved.
    fn rmqueue_fallback(&mut self, mm: &mut Memmap<'_>, links: &mut impl FreePageLinks, order: u32, start: MigrateType) -> bool {
        let mut found = None;
        for current in (order..MAX_ORDER).rev() {
            let Some((fallback, can_steal)) = self.find_suitable_fallback(current, start) else { continue };
            found = if !can_steal && start == MigrateType::Movable && current > order {
                (order..MAX_ORDER).find_map(|o| self.find_suitable_fallback(o, start).map(|f| (o, f)))
            } else {
                Some((current, (fallback, can_steal)))
            };
            break;
        }
        let Some((current, (fallback, can_steal))) = found else { return false };
        let Some(pfn) = self.free_area[current as usize].first(fallback) else { return false };
        self.steal_suitable_fallback(mm, links, pfn, current, start, can_steal);
        true
    }

    /// Linux's `steal_suitable_fallback`: a block of pageblock order or more takes its
    /// pageblocks over; a smaller one that may claim its pageblock moves every free block
    /// of the pageblock to `start`'s lists, and the pageblock changes type when at least half
    /// of it is free or alike (for an allocation that is not movable in a movable pageblock,
    /// every page in use counts as alike: nothing here is on an LRU); otherwise only the
    /// block itself moves.
    fn steal_suitable_fallback(
        &mut self,
        mm: &mut Memmap<'_>,
        links: &mut impl FreePageLinks,
        pfn: u64,
        order: u32,
        start: MigrateType,
        whole_block: bool,
    ) {
        let old = mm.pageblock_type(pfn);
        if order >= PAGEBLOCK_ORDER {
            let mut pb = pfn;
            while pb < pfn + (1 << order) {
                mm.set_pageblock_type(pb, start);
                pb += PAGEBLOCK_NR_PAGES;
            }
        } else if whole_block {
            let free = self.move_freepages_block(mm, links, pfn, start);
            let alike = if start != MigrateType::Movable && old == MigrateType::Movable {
                PAGEBLOCK_NR_PAGES - free
            } else {
                0
            };
            if free != 0 {
                if free + alike >= PAGEBLOCK_NR_PAGES / 2 {
                    mm.set_pageblock_type(pfn, start);
                }
                return;
            }
        }
        self.free_area[order as usize].move_to(links, pfn, start);
    }

    /// Move every free block inside the pageblock of `pfn` (clipped to the zone) to the
    /// lists of `mt`; returns their pages (Linux's `move_freepages_block`).
    fn move_freepages_block(&mut self, mm: &Memmap<'_>, links: &mut impl FreePageLinks, pfn: u64, mt: MigrateType) -> u64 {
        let start = pfn & !(PAGEBLOCK_NR_PAGES - 1);
        let end = start + PAGEBLOCK_NR_PAGES;
        if !self.spans(start) || !self.spans(end - 1) {
            return 0;
        }
        let (mut at, mut moved) = (start, 0);
        while at < end {
            match mm.state(at).and_then(PageState::buddy_order) {
                Some(o) => {
                    self.free_area[o as usize].move_to(links, at, mt);
                    moved += 1 << o;
                    at += 1 << o;
                }
                None => at += 1,
            }
        }
        moved
    }
}
