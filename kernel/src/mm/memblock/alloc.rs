//! Allocation: finding a free range and reserving it (Linux's `memblock_find_in_range_node`,
//! `memblock_alloc_range_nid`, `memblock_phys_alloc*` and `memblock_alloc*`).
//!
//! Rules, as in Linux 6.1:
//! - `end` of `MEMBLOCK_ALLOC_ACCESSIBLE` (0) or `MEMBLOCK_ALLOC_NOLEAKTRACE` (1) means
//!   `current_limit`; the `memblock_alloc*` family also clamps any larger `end` to it;
//! - the first page is never handed out (`start` is raised to `PAGE_SIZE`);
//! - top-down by default: the highest fitting aligned address of the free ranges; bottom-up
//!   when set: the lowest (6.1 has no fallback between the two directions);
//! - alignment 0 becomes `SMP_CACHE_BYTES` (Linux dumps the stack there); any other is used
//!   as Linux's `round_down`/`round_up` use it, as the mask `align - 1`: a power of two aligns,
//!   any other value (a tree's `alignment` may be one) gives what those masks give;
//! - a node request falls back to any node unless `exact_nid`; when some memory is mirrored,
//!   mirrored memory is tried first, then everything with Linux's warning;
//! - no computation wraps near the top of the address space.
//!
//! The functions return physical addresses. Nothing here reads or writes the memory: the
//! zeroing variant calls back into the caller, which owns the mapping.

use core::panic::Location;

use super::dump::{fmt_alloc, Pa};
use super::{
    Memblock, MemblockError, MemblockFlags, MAX_NUMNODES, MEMBLOCK_ALLOC_ACCESSIBLE, MEMBLOCK_ALLOC_NOLEAKTRACE,
    MEMBLOCK_LOW_LIMIT, NUMA_NO_NODE, SMP_CACHE_BYTES,
};
use crate::mm::addr::{PhysAddr, PAGE_SIZE};

fn clamp(x: u64, lo: u64, hi: u64) -> u64 {
    x.max(lo).min(hi)
}

impl Memblock {
    /// Linux's `choose_memblock_flags`: prefer mirrored memory once some exists.
    fn choose_flags(&self) -> MemblockFlags {
        if self.has_mirror() {
            MemblockFlags::MIRROR
        } else {
            MemblockFlags::NONE
        }
    }

    /// Find (without reserving) `size` free bytes aligned to `align` inside `[start, end)` on
    /// `nid` among regions matching `flags`. The candidate is Linux's: top-down
    /// `round_down(this_end - size, align)`, bottom-up `round_up(this_start, align)`, with the
    /// mask `align - 1` those macros use (so an `align` that is not a power of two gives
    /// Linux's result, not a multiple of it).
    pub fn find_in_range_node(
        &self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        nid: i32,
        flags: MemblockFlags,
    ) -> Option<PhysAddr> {
        let end = if end == MEMBLOCK_ALLOC_ACCESSIBLE || end == MEMBLOCK_ALLOC_NOLEAKTRACE {
            self.current_limit.0
        } else {
            end.0
        };
        let start = start.0.max(PAGE_SIZE);
        let end = end.max(start);
        let mask = align - 1;

        if self.bottom_up {
            for (s, e, _) in self.free_mem_ranges(nid, flags) {
                let (s, e) = (clamp(s.0, start, end), clamp(e.0, start, end));
                // round_up: ((x - 1) | mask) + 1; s >= start >= PAGE_SIZE, so x - 1 is fine.
                let Some(cand) = ((s - 1) | mask).checked_add(1) else { continue };
                if cand < e && e - cand >= size {
                    return Some(PhysAddr(cand));
                }
            }
        } else {
            for (s, e, _) in self.free_mem_ranges_rev(nid, flags) {
                let (s, e) = (clamp(s.0, start, end), clamp(e.0, start, end));
                if e < size {
                    continue;
                }
                let cand = (e - size) & !mask;
                if cand >= s {
                    return Some(PhysAddr(cand));
                }
            }
        }
        None
    }

    /// Linux's `memblock_find_in_range`: any node, mirrored memory first when there is some.
    pub(super) fn find_in_range(&self, start: PhysAddr, end: PhysAddr, size: u64, align: u64) -> Option<PhysAddr> {
        let mut flags = self.choose_flags();
        loop {
            let found = self.find_in_range_node(size, align, start, end, NUMA_NO_NODE, flags);
            if found.is_some() || !flags.contains(MemblockFlags::MIRROR) {
                return found;
            }
            crate::warn!("Could not allocate {} bytes of mirrored memory", Pa(size));
            flags = flags.difference(MemblockFlags::MIRROR);
        }
    }

    /// Find and reserve `size` bytes in `[start, end)` (Linux's `memblock_alloc_range_nid`).
    pub fn alloc_range_nid(
        &mut self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
        nid: i32,
        exact_nid: bool,
    ) -> Result<PhysAddr, MemblockError> {
        let here = Location::caller();
        if self.closed {
            let e = MemblockError::Closed { size };
            crate::error!("{e} ({}:{})", here.file(), here.line());
            return Err(e);
        }
        let mut nid = nid;
        if nid == MAX_NUMNODES {
            if !self.warned_max_numnodes {
                self.warned_max_numnodes = true;
                crate::warn!("Usage of MAX_NUMNODES is deprecated. Use NUMA_NO_NODE instead");
            }
            nid = NUMA_NO_NODE;
        }
        let align = if align == 0 {
            crate::warn!("memblock: alignment 0 requested, using {}", SMP_CACHE_BYTES);
            SMP_CACHE_BYTES
        } else {
            align
        };

        let mut flags = self.choose_flags();
        loop {
            if let Some(found) = self.find_in_range_node(size, align, start, end, nid, flags) {
                if self.reserve_at(found, size, here).is_ok() {
                    return Ok(found);
                }
            }
            if nid != NUMA_NO_NODE && !exact_nid {
                if let Some(found) = self.find_in_range_node(size, align, start, end, NUMA_NO_NODE, flags) {
                    if self.reserve_at(found, size, here).is_ok() {
                        return Ok(found);
                    }
                }
            }
            if !flags.contains(MemblockFlags::MIRROR) {
                return Err(MemblockError::NoMemory { size, align, start, end, nid });
            }
            flags = flags.difference(MemblockFlags::MIRROR);
            crate::warn!("Could not allocate {} bytes of mirrored memory", Pa(size));
        }
    }

    /// Allocate on any node inside `[start, end)` (Linux's `memblock_phys_alloc_range`).
    #[track_caller]
    pub fn phys_alloc_range(
        &mut self,
        size: u64,
        align: u64,
        start: PhysAddr,
        end: PhysAddr,
    ) -> Result<PhysAddr, MemblockError> {
        if self.debug() {
            let caller = Location::caller();
            crate::info!("{}", fmt_alloc("memblock_phys_alloc_range", size, align, None, (start, end), caller));
        }
        self.alloc_range_nid(size, align, start, end, NUMA_NO_NODE, false)
    }

    /// Allocate anywhere below `current_limit` (Linux's `memblock_phys_alloc`).
    #[track_caller]
    pub fn phys_alloc(&mut self, size: u64, align: u64) -> Result<PhysAddr, MemblockError> {
        self.phys_alloc_range(size, align, PhysAddr(0), MEMBLOCK_ALLOC_ACCESSIBLE)
    }

    /// Allocate preferably on `nid` (Linux's `memblock_phys_alloc_try_nid`; no trace line).
    pub fn phys_alloc_try_nid(&mut self, size: u64, align: u64, nid: i32) -> Result<PhysAddr, MemblockError> {
        self.alloc_range_nid(size, align, PhysAddr(0), MEMBLOCK_ALLOC_ACCESSIBLE, nid, false)
    }

    /// [`phys_alloc`](Self::phys_alloc) for a boot that cannot go on without the memory. The
    /// panic message follows the 6.1 callers' `"%s: Failed to allocate %lu bytes
    /// align=0x%lx\n"`, with the caller's location in place of `__func__`.
    #[track_caller]
    pub fn phys_alloc_or_panic(&mut self, size: u64, align: u64) -> PhysAddr {
        match self.phys_alloc(size, align) {
            Ok(addr) => addr,
            Err(_) => {
                let caller = Location::caller();
                panic!("{}:{}: Failed to allocate {} bytes align=0x{:x}", caller.file(), caller.line(), size, align)
            }
        }
    }

    /// Linux's `memblock_alloc_internal`: clamp `max_addr` to `current_limit`, and retry
    /// without the lower limit when that fails.
    fn alloc_internal(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        exact_nid: bool,
    ) -> Result<PhysAddr, MemblockError> {
        let max_addr = max_addr.min(self.current_limit);
        match self.alloc_range_nid(size, align, min_addr, max_addr, nid, exact_nid) {
            Err(MemblockError::NoMemory { .. }) if min_addr.0 != 0 => {
                self.alloc_range_nid(size, align, PhysAddr(0), max_addr, nid, exact_nid)
            }
            other => other,
        }
    }

    /// The `memblock_alloc_*_nid*` family: their debug line (named `func`), then the search.
    #[allow(clippy::too_many_arguments)]
    fn alloc_nid_logged(
        &mut self,
        func: &str,
        caller: &Location<'_>,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        exact_nid: bool,
    ) -> Result<PhysAddr, MemblockError> {
        if self.debug() {
            crate::info!("{}", fmt_alloc(func, size, align, Some(nid), (min_addr, max_addr), caller));
        }
        self.alloc_internal(size, align, min_addr, max_addr, nid, exact_nid)
    }

    /// Allocate without zeroing, preferably on `nid` (Linux's `memblock_alloc_try_nid_raw`).
    #[track_caller]
    pub fn alloc_try_nid_raw(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
    ) -> Result<PhysAddr, MemblockError> {
        self.alloc_nid_logged("memblock_alloc_try_nid_raw", Location::caller(), size, align, min_addr, max_addr, nid, false)
    }

    /// Allocate without zeroing, only on `nid` (Linux's `memblock_alloc_exact_nid_raw`).
    #[track_caller]
    pub fn alloc_exact_nid_raw(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
    ) -> Result<PhysAddr, MemblockError> {
        self.alloc_nid_logged("memblock_alloc_exact_nid_raw", Location::caller(), size, align, min_addr, max_addr, nid, true)
    }

    /// Allocate and have `zero(base, size)` clear the memory through the caller's mapping
    /// (Linux's `memblock_alloc_try_nid`, which memsets through the linear map).
    #[track_caller]
    pub fn alloc_try_nid(
        &mut self,
        size: u64,
        align: u64,
        min_addr: PhysAddr,
        max_addr: PhysAddr,
        nid: i32,
        zero: impl FnOnce(PhysAddr, u64),
    ) -> Result<PhysAddr, MemblockError> {
        let caller = Location::caller();
        let addr = self.alloc_nid_logged("memblock_alloc_try_nid", caller, size, align, min_addr, max_addr, nid, false)?;
        zero(addr, size);
        Ok(addr)
    }

    /// Zeroed allocation anywhere below `current_limit` (Linux's `memblock_alloc`).
    #[track_caller]
    pub fn alloc_zeroed(
        &mut self,
        size: u64,
        align: u64,
        zero: impl FnOnce(PhysAddr, u64),
    ) -> Result<PhysAddr, MemblockError> {
        self.alloc_try_nid(size, align, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, zero)
    }
}
