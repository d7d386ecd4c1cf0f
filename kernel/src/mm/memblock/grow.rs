//! Growing a region array (Linux's `memblock_double_array`).
//!
//! The only place where memblock needs to see memory: the bigger array is placed in memory
//! memblock itself picks and reserves, and a [`RegionMapper`](super::RegionMapper) gives the
//! slice view of it. Nothing else here reads or writes managed memory.

use core::panic::Location;

use super::{dump, Memblock, MemblockError, MemblockKind, Region};
use crate::mm::addr::{align_up, PhysAddr, PAGE_SIZE};

impl Memblock {


    /// Double the slots of `kind` (Linux's `memblock_double_array`). The new array is taken
    /// from memblock itself, away from `[new_area_start, +new_area_size)` when growing
    /// `reserved` (that range is about to be reserved), then reserved; a previously grown
    /// array is freed.
    pub(super) fn double_array(
        &mut self,
        kind: MemblockKind,
        new_area_start: PhysAddr,
        new_area_size: u64,
    ) -> Result<(), MemblockError> {
        let t = self.ty(kind);
        let (name, max) = (t.name, t.max);
        let Some(mapper) = self.mapper else {
            // Linux 6.1 fails silently here (6.5 panics with these words); the caller loses
            // the range, so name it.
            crate::error!(
                "memblock: cannot resize {} array to add [{:#018x}-{:#018x}]",
                name,
                new_area_start.0,
                new_area_start.0.saturating_add(new_area_size).saturating_sub(1)
            );
            return Err(MemblockError::RegionsFull { type_name: name, max });
        };
        let old_size = (max * core::mem::size_of::<Region>()) as u64;
        let new_size = old_size * 2;
        let old_alloc_size = align_up(old_size, PAGE_SIZE);
        let new_alloc_size = align_up(new_size, PAGE_SIZE);

        let (area_start, area_size) = match kind {
            MemblockKind::Reserved => (new_area_start.0, new_area_size),
            MemblockKind::Memory => (0, 0),
        };
        let limit = self.current_limit;
        let mut addr = self.find_in_range(
            PhysAddr(area_start.saturating_add(area_size)),
            limit,
            new_alloc_size,
            PAGE_SIZE,
        );
        if addr.is_none() && area_size != 0 {
            addr = self.find_in_range(
                PhysAddr(0),
                PhysAddr(area_start.min(limit.0)),
                new_alloc_size,
                PAGE_SIZE,
            );
        }
        let Some(addr) = addr else {
            crate::error!("memblock: Failed to double {} array from {} to {} entries !", name, max, max * 2);
            return Err(MemblockError::ResizeFailed { type_name: name, from: max, to: max * 2 });
        };
        if self.debug {
            dump::dbg_doubled(name, max * 2, addr, new_size);
        }

        let new_array = mapper.map(addr, max * 2);
        assert_eq!(new_array.len(), max * 2, "memblock: RegionMapper returned a short slice");
        let t = self.ty_mut(kind);
        new_array[..max].copy_from_slice(&t.slots()[..max]);
        new_array[max..].fill(Region::EMPTY);
        let old_grown = t.grown.replace(new_array).map(|_| t.grown_base);
        t.grown_base = addr;
        t.max = max * 2;

        // Like Linux, the old grown array goes back before the new one is reserved; the
        // static arrays are never freed.
        let here = Location::caller();
        if let Some(old_base) = old_grown {
            let _ = self.phys_free_at(old_base, old_alloc_size, here);
        }
        self.reserve_at(addr, new_alloc_size, here)
    }
}
