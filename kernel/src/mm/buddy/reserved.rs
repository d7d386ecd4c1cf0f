//! Reserved pages that join the allocator after boot: Linux 6.1's `free_reserved_area`
//! (mm/page_alloc.c), which `free_initmem` calls on the kernel's init sections.
//!
//! Each page of the range must still be reserved (memblock reserved the whole kernel image);
//! it loses the mark, is freed with merging and counts as managed (`free_reserved_page` →
//! `adjust_managed_page_count`), so `totalram_pages` grows by the pages freed. This module
//! never touches the pages themselves: poisoning them is the caller's.

use super::{BuddyError, FreePageLinks, Zones};
use crate::mm::addr::{Pfn, PhysAddr, PAGE_SHIFT, PAGE_SIZE};

impl<'a, L: FreePageLinks> Zones<'a, L> {
    /// `free_reserved_area(start, end, poison, s)` on physical addresses: the whole pages of
    /// `[start, end)` (start rounded up, end down, as Linux's `PAGE_ALIGN` and `& PAGE_MASK`)
    /// join the allocator, and with pages freed and a name `s`, Linux's line
    /// `Freeing <s> memory: <N>K` goes to `out`. Returns the pages freed. Every page must be
    /// reserved and in one zone, or nothing changes.
    pub fn free_reserved_area(
        &mut self,
        start: PhysAddr,
        end: PhysAddr,
        s: Option<&str>,
        out: &mut dyn FnMut(core::fmt::Arguments<'_>),
    ) -> Result<u64, BuddyError> {
        let (first, last) = (start.align_up(PAGE_SIZE).pfn_down(), end.pfn_down());
        if first >= last {
            return Ok(0);
        }
        let zi = self.zone_of(first.0).ok_or(BuddyError::NotInZone { pfn: first })?;
        if self.zone_of(last.0 - 1) != Some(zi) {
            return Err(BuddyError::CrossesZone { pfn: first, order: 0 });
        }
        let unreserved = self.with_zone(zi, |_, mm, _| (first.0..last.0).find(|&p| !mm.state(p).is_some_and(|st| st.is_reserved())));
        if let Some(Some(pfn)) = unreserved {
            return Err(BuddyError::NotReserved { pfn: Pfn(pfn) });
        }
        self.with_zone(zi, |_, mm, _| mm.clear_reserved(first, last)).unwrap_or(Ok(0))?;
        let pages = self.free_range(first, last)?;
        if let Some(s) = s {
            out(format_args!("Freeing {s} memory: {}K", pages << (PAGE_SHIFT - 10)));
        }
        Ok(pages)
    }
}

/// The generic part of arm64's `free_initmem`, once the arch layer has unmapped the init
/// sections `[start, end)` (physical): `free_reserved_area(…, "unused kernel")`, then the
/// debug line with `totalram_pages` after it. Returns the pages freed.
pub fn free_initmem<L: FreePageLinks>(zones: &mut Zones<'_, L>, start: PhysAddr, end: PhysAddr) -> Result<u64, BuddyError> {
    let freed = zones.free_reserved_area(start, end, Some("unused kernel"), &mut |a| crate::info!("{a}"))?;
    crate::trace!("totalram_pages: {} after free_initmem (+{freed} init pages)", zones.totalram_pages());
    Ok(freed)
}
