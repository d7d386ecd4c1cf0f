//! Region attributes (flags, nodes), trimming, `mem=` limits and queries (Linux's
//! `memblock_setclr_flag`, `memblock_set_node`, `memblock_trim_memory`,
//! `memblock_enforce_memory_limit`, `memblock_cap_memory_range`, `memblock_is_*`).
//!
//! Like the rest of memblock, these only change or read the two arrays.

use super::{cap_size, Memblock, MemblockError, MemblockFlags, MemblockKind};
use crate::mm::addr::{align_down, align_up, PhysAddr};

impl Memblock {
    /// Set or clear `flag` on the memory regions inside the range (Linux's
    /// `memblock_setclr_flag`).
    fn setclr_flag(&mut self, base: PhysAddr, size: u64, set: bool, flag: MemblockFlags) -> Result<(), MemblockError> {
        let range = self.isolate_range(MemblockKind::Memory, base, size)?;
        let slots = self.memory.slots_mut();
        for r in &mut slots[range] {
            r.flags = if set { r.flags.union(flag) } else { r.flags.difference(flag) };
        }
        self.memory.merge_regions();
        Ok(())
    }

    pub fn mark_hotplug(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.setclr_flag(base, size, true, MemblockFlags::HOTPLUG)
    }

    pub fn clear_hotplug(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.setclr_flag(base, size, false, MemblockFlags::HOTPLUG)
    }

    /// Mark mirrored memory; a no-op unless `kernelcore=mirror` was given, as in Linux 6.1.
    pub fn mark_mirror(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        if !self.mirrored_kernelcore {
            return Ok(());
        }
        self.has_mirror = true;
        self.setclr_flag(base, size, true, MemblockFlags::MIRROR)
    }

    /// Keep a range out of the linear map (it stays in `memory` but is never allocated).
    pub fn mark_nomap(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.setclr_flag(base, size, true, MemblockFlags::NOMAP)
    }

    pub fn clear_nomap(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.setclr_flag(base, size, false, MemblockFlags::NOMAP)
    }

    /// Assign a node to the regions of `kind` inside the range (Linux's `memblock_set_node`).
    pub fn set_node(&mut self, base: PhysAddr, size: u64, kind: MemblockKind, nid: i32) -> Result<(), MemblockError> {
        let range = self.isolate_range(kind, base, size)?;
        let t = self.ty_mut(kind);
        for r in &mut t.slots_mut()[range] {
            r.nid = nid;
        }
        t.merge_regions();
        Ok(())
    }

    // ---- trimming and limits ------------------------------------------------------------

    /// Shrink every memory region to `align` boundaries, dropping those that vanish
    /// (Linux's `memblock_trim_memory`). Unlike Linux, which leaves `total_size` stale when
    /// it shrinks a region in place, this keeps `total_size` equal to the sum of the sizes.
    pub fn trim_memory(&mut self, align: u64) {
        let t = &mut self.memory;
        let mut i = 0;
        while i < t.cnt() {
            let r = t.slots()[i];
            let (orig_start, orig_end) = (r.base.0, r.end().0);
            let start = align_up(orig_start, align);
            let end = align_down(orig_end, align);
            if start == orig_start && end == orig_end {
                i += 1;
            } else if start < end {
                t.total_size -= r.size - (end - start);
                let r = &mut t.slots_mut()[i];
                r.base = PhysAddr(start);
                r.size = end - start;
                i += 1;
            } else {
                t.remove_region(i);
            }
        }
    }

    /// The address below which the first `limit` bytes of memory lie, or `None` when
    /// memory is smaller than `limit` (Linux's `__find_max_addr`).
    fn find_max_addr(&self, mut limit: u64) -> Option<PhysAddr> {
        for r in self.memory.regions() {
            if limit <= r.size {
                return Some(PhysAddr(r.base.0 + limit));
            }
            limit -= r.size;
        }
        None
    }

    /// `mem=`: keep only the first `limit` bytes of memory, truncating both arrays
    /// (Linux's `memblock_enforce_memory_limit`).
    pub fn enforce_memory_limit(&mut self, limit: u64) {
        if limit == 0 {
            return;
        }
        let Some(max_addr) = self.find_max_addr(limit) else { return };
        let rest = u64::MAX - max_addr.0;
        let _ = self.remove_range(MemblockKind::Memory, max_addr, rest);
        let _ = self.remove_range(MemblockKind::Reserved, max_addr, rest);
    }

    /// Keep only `[base, base + size)` of memory, except `NOMAP` regions, and truncate
    /// `reserved` to it (Linux's `memblock_cap_memory_range`).
    pub fn cap_memory_range(&mut self, base: PhysAddr, size: u64) {
        if size == 0 {
            return;
        }
        if self.memory.total_size == 0 {
            crate::warn!("memblock_cap_memory_range: No memory registered yet");
            return;
        }
        let Ok(range) = self.isolate_range(MemblockKind::Memory, base, size) else { return };
        let t = &mut self.memory;
        for i in (range.end..t.raw_cnt()).rev() {
            if !t.slots()[i].is_nomap() {
                t.remove_region(i);
            }
        }
        for i in (0..range.start).rev() {
            if !t.slots()[i].is_nomap() {
                t.remove_region(i);
            }
        }
        let end = base.0 + cap_size(base, size);
        let _ = self.remove_range(MemblockKind::Reserved, PhysAddr(0), base.0);
        let _ = self.remove_range(MemblockKind::Reserved, PhysAddr(end), u64::MAX - end);
    }

    /// Like [`enforce_memory_limit`](Self::enforce_memory_limit) but keeps `NOMAP` regions
    /// (Linux's `memblock_mem_limit_remove_map`).
    pub fn mem_limit_remove_map(&mut self, limit: u64) {
        if limit == 0 {
            return;
        }
        if let Some(max_addr) = self.find_max_addr(limit) {
            self.cap_memory_range(PhysAddr(0), max_addr.0);
        }
    }

    // ---- queries ------------------------------------------------------------------------

    pub fn overlaps_region(&self, kind: MemblockKind, base: PhysAddr, size: u64) -> bool {
        self.ty(kind).overlaps_region(base, size)
    }

    /// Whether `[base, base + size)` lies inside one memory region.
    pub fn is_region_memory(&self, base: PhysAddr, size: u64) -> bool {
        let end = base.0 + cap_size(base, size);
        match self.memory.search(base) {
            Some(i) => self.memory.regions()[i].end().0 >= end,
            None => false,
        }
    }

    /// Whether `[base, base + size)` overlaps any reservation.
    pub fn is_region_reserved(&self, base: PhysAddr, size: u64) -> bool {
        self.reserved.overlaps_region(base, size)
    }

    pub fn is_memory(&self, addr: PhysAddr) -> bool {
        self.memory.search(addr).is_some()
    }

    /// Whether `addr` is memory that the linear map covers (not `NOMAP`).
    pub fn is_map_memory(&self, addr: PhysAddr) -> bool {
        self.memory.search(addr).is_some_and(|i| !self.memory.regions()[i].is_nomap())
    }

    pub fn is_reserved(&self, addr: PhysAddr) -> bool {
        self.reserved.search(addr).is_some()
    }

    /// Base of the first memory region (0 when there is none, as Linux's dummy entry gives).
    pub fn start_of_dram(&self) -> PhysAddr {
        self.memory.regions().first().map_or(PhysAddr(0), |r| r.base)
    }

    /// End of the last memory region (0 when there is none).
    pub fn end_of_dram(&self) -> PhysAddr {
        self.memory.regions().last().map_or(PhysAddr(0), |r| r.end())
    }

    pub fn phys_mem_size(&self) -> u64 {
        self.memory.total_size
    }

    pub fn reserved_size(&self) -> u64 {
        self.reserved.total_size
    }
}
