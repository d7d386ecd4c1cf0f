//! One zone's buddy lists: freeing with merging, and taking a block with splitting.
//!
//! Linux functions here: `__free_one_page` (with `find_buddy_page_pfn`, `page_is_buddy`,
//! `buddy_merge_likely`), `__rmqueue_smallest` and `expand`. A zone only ever touches the
//! memmap entries and links of frames inside its own span: a buddy outside the span (another
//! zone, a hole past the node) never merges, whatever its state.

use super::links::{FreeArea, FreePageLinks};
use super::memmap::{Memmap, PageState};
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
    pub(super) name: &'static str,
    pub(super) nid: i32,
    pub(super) zone_start_pfn: u64,
    pub(super) spanned_pages: u64,
    pub(super) present_pages: u64,
    pub(super) managed_pages: u64,
    pub(super) free_pages: u64,
    pub(super) free_area: [FreeArea; MAX_ORDER as usize],
}

impl Zone {
    pub(super) const fn empty(ty: ZoneType, nid: i32) -> Zone {
        Zone {
            name: ty.name(),
            nid,
            zone_start_pfn: 0,
            spanned_pages: 0,
            present_pages: 0,
            managed_pages: 0,
            free_pages: 0,
            free_area: FreeArea::all(),
        }
    }

    /// "DMA", "DMA32", "Normal" or "Movable".
    pub fn name(&self) -> &'static str {
        self.name
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

    /// The free list of `order` (`None` for an order of 11 or more).
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
    /// freed must not lie inside one. Costs one memmap read per order.
    pub(super) fn containing_free_block(&self, mm: &Memmap<'_>, pfn: u64, order: u32) -> Option<(u64, u32)> {
        (order + 1..MAX_ORDER).find_map(|o| {
            let head = pfn & !((1u64 << o) - 1);
            self.is_free_block(mm, head, o).then_some((head, o))
        })
    }

    /// Free the block `[pfn, pfn + 2^order)`, merging it with its free buddies up to the top
    /// order (Linux's `__free_one_page`). `to_tail` forces the merged block to the end of its
    /// list (Linux's `FPI_TO_TAIL`, used when memory is first handed over); otherwise it goes
    /// to the tail only when the next merge up looks likely (`buddy_merge_likely`), so that
    /// it stays free longer. The caller has checked the block.
    pub(super) fn free_one_page(
        &mut self,
        mm: &mut Memmap<'_>,
        links: &mut impl FreePageLinks,
        mut pfn: u64,
        mut order: u32,
        to_tail: bool,
    ) {
        self.free_pages += 1 << order;
        let mut buddy_pfn = pfn;
        while order < MAX_ORDER - 1 {
            // The buddy differs from pfn in exactly bit `order` (Linux's __find_buddy_pfn).
            buddy_pfn = pfn ^ (1 << order);
            if !self.is_free_block(mm, buddy_pfn, order) {
                break;
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
            area.push_back(links, pfn);
        } else {
            area.push_front(links, pfn);
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

    /// Take a block of `order` from the smallest non-empty list of at least that order,
    /// putting the unused upper halves back (Linux's `__rmqueue_smallest` and `expand`).
    pub(super) fn rmqueue_smallest(
        &mut self,
        mm: &mut Memmap<'_>,
        links: &mut impl FreePageLinks,
        order: u32,
    ) -> Option<u64> {
        let current = (order..MAX_ORDER).find(|&o| self.free_area[o as usize].nr_free() != 0)?;
        let pfn = self.free_area[current as usize].first()?;
        self.free_area[current as usize].remove(links, pfn);
        mm.set(pfn, PageState::NORMAL);
        let mut high = current;
        while high > order {
            high -= 1;
            let half = pfn + (1 << high);
            self.free_area[high as usize].push_front(links, half);
            mm.set(half, PageState::buddy(high));
        }
        self.free_pages -= 1 << order;
        Some(pfn)
    }
}
