//! CMA pages in the buddy allocator: `init_cma_reserved_pageblock` (Linux 6.1's
//! `cma_init_reserved_areas` → `cma_activate_area`), and taking a contiguous range of free
//! pages back out (`alloc_contig_range`, without migration) and returning it (`cma_release`).
//!
//! Nothing migrates here: a page in use inside the requested range makes the take fail
//! cleanly, with nothing changed (Linux would migrate a movable page away, or fail with
//! -EBUSY for an unmovable one).

use super::{BuddyError, FreePageLinks, MigrateType, PageState, ZoneIdx, ZoneType, Zones, MAX_ORDER, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
use crate::mm::addr::Pfn;

impl<'a, L: FreePageLinks> Zones<'a, L> {
    /// Give the reserved, pageblock-aligned frames `[start, end)`, all in one zone, to the
    /// allocator as MIGRATE_CMA pageblocks: clear their reserved mark, set each pageblock's
    /// type and free it as one block of pageblock order, counting it as managed (Linux's
    /// `init_cma_reserved_pageblock`). Returns the pages handed over. Fails without changing
    /// anything when the range is misaligned, crosses zones, or holds a free page.
    pub fn init_cma_reserved_pageblocks(&mut self, start: Pfn, end: Pfn) -> Result<u64, BuddyError> {
        let (s, e) = (start.0, end.0);
        if s > e {
            return Err(BuddyError::BadRange { start, end });
        }
        if (s | e) & (PAGEBLOCK_NR_PAGES - 1) != 0 {
            let pfn = if s & (PAGEBLOCK_NR_PAGES - 1) != 0 { s } else { e };
            return Err(BuddyError::Misaligned { pfn: Pfn(pfn), order: PAGEBLOCK_ORDER });
        }
        if s == e {
            return Ok(0);
        }
        let zi = self.zone_of(s).ok_or(BuddyError::NotInZone { pfn: start })?;
        if self.zone_of(e - 1) != Some(zi) {
            return Err(BuddyError::CrossesZone { pfn: start, order: PAGEBLOCK_ORDER });
        }
        self.with_zone(zi, |zone, mm, links| {
            if let Some(pfn) = mm.find(start, end, PageState::is_buddy)? {
                return Err(BuddyError::DoubleFree { pfn: Pfn(pfn), head: Pfn(pfn), order: 0 });
            }
            mm.clear_reserved(Pfn(s), Pfn(e))?;
            let mut pb = s;
            while pb < e {
                mm.set_pageblock_type(pb, MigrateType::Cma);
                zone.managed_pages += PAGEBLOCK_NR_PAGES;
                zone.free_one_page(mm, links, pb, PAGEBLOCK_ORDER, false);
                pb += PAGEBLOCK_NR_PAGES;
            }
            Ok(e - s)
        })
        .unwrap_or(Err(BuddyError::NotInZone { pfn: start }))
    }

    /// Take the free frames `[start, end)` out of the allocator, all of them or none (Linux's
    /// `alloc_contig_range` when nothing needs migrating: `isolate_freepages_range`, which
    /// splits a free block that reaches past either end and frees the outer parts back).
    /// Fails with the first frame that is not free.
    pub fn take_free_range(&mut self, start: Pfn, end: Pfn) -> Result<(), BuddyError> {
        let (s, e) = (start.0, end.0);
        if s > e {
            return Err(BuddyError::BadRange { start, end });
        }
        // Plan: every frame must lie in a free block, in one zone.
        let zi = self.zone_of(s).ok_or(BuddyError::NotInZone { pfn: start })?;
        let mut pfn = s;
        while pfn < e {
            let block = self.free_block_at(zi, pfn).ok_or(BuddyError::NoMemory { order: 0, highest: ZoneType::Movable })?;
            pfn = block.0 + (1 << block.1);
        }
        // Then take: each block leaves its list; what lies outside the range goes back.
        let mut pfn = s;
        while pfn < e {
            let Some((head, order)) = self.free_block_at(zi, pfn) else { break };
            let block_end = head + (1 << order);
            self.with_zone(zi, |zone, mm, links| {
                let mt = mm.pageblock_type(head);
                zone.free_area[order as usize].remove(links, head);
                mm.set(head, PageState::NORMAL);
                zone.account_free(mt, -(1 << order));
            });
            for (a, b) in [(head, s.max(head)), (e.min(block_end), block_end)] {
                self.free_aligned(zi, a, b);
            }
            pfn = block_end;
        }
        Ok(())
    }

    /// Free `[start, end)` back, in the largest aligned blocks (Linux's `free_contig_range`
    /// as `cma_release` calls it). Every frame must be in use (not free, not reserved), in
    /// one zone; nothing is freed otherwise.
    pub fn free_contig_range(&mut self, start: Pfn, end: Pfn) -> Result<(), BuddyError> {
        let (s, e) = (start.0, end.0);
        if s > e {
            return Err(BuddyError::BadRange { start, end });
        }
        if s == e {
            return Ok(());
        }
        let zi = self.zone_of(s).ok_or(BuddyError::NotInZone { pfn: start })?;
        if self.zone_of(e - 1) != Some(zi) {
            return Err(BuddyError::CrossesZone { pfn: start, order: 0 });
        }
        for pfn in s..e {
            if let Some((head, order)) = self.free_block_at(zi, pfn) {
                return Err(BuddyError::DoubleFree { pfn: Pfn(pfn), head: Pfn(head), order });
            }
            let reserved = self.with_zone(zi, |_, mm, _| mm.state(pfn).is_some_and(|st| st.is_reserved()));
            if reserved == Some(true) {
                return Err(BuddyError::Reserved { pfn: Pfn(pfn) });
            }
        }
        self.free_aligned(zi, s, e);
        Ok(())
    }

    /// The free block `(head, order)` holding `pfn` in zone `zi`, if any.
    fn free_block_at(&mut self, zi: ZoneIdx, pfn: u64) -> Option<(u64, u32)> {
        self.with_zone(zi, |zone, mm, _| {
            if !zone.spans(pfn) {
                return None;
            }
            match mm.state(pfn).and_then(PageState::buddy_order) {
                Some(o) => Some((pfn, o)),
                None => zone.containing_free_block(mm, pfn, 0),
            }
        })
        .flatten()
    }

    /// Free `[a, b)` of zone `zi` in the largest naturally aligned blocks, with merging.
    fn free_aligned(&mut self, zi: ZoneIdx, a: u64, b: u64) {
        let mut pfn = a;
        while pfn < b {
            let mut order = pfn.trailing_zeros().min(MAX_ORDER - 1);
            while b - pfn < 1 << order {
                order -= 1;
            }
            self.with_zone(zi, |zone, mm, links| zone.free_one_page(mm, links, pfn, order, false));
            pfn += 1 << order;
        }
    }
}
