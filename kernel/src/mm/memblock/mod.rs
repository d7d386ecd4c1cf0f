//! memblock: the early physical memory allocator (Linux 6.1 `mm/memblock.c`).
//!
//! Two sorted arrays of regions describe physical memory before any page allocator exists:
//! `memory` (what firmware says is RAM) and `reserved` (what is already in use: the kernel
//! image, the DTB, earlier allocations). Free memory is `memory` minus `reserved`, minus the
//! regions marked `NOMAP`. Every operation keeps both arrays sorted, non-overlapping and
//! merged, and reproduces Linux's behaviour and debug lines (`memblock=debug`).
//!
//! Linux functions and where they live here:
//! - `memblock_add[_node]`, `memblock_remove`, `memblock_reserve`, `memblock_phys_free`,
//!   `memblock_isolate_range`, `memblock_add_range`, `memblock_merge_regions`: this file;
//! - `memblock_double_array`: `grow.rs`;
//! - `memblock_set_node`, `memblock_mark_*`/`clear_*`, `memblock_trim_memory`,
//!   `memblock_enforce_memory_limit`, `memblock_cap_memory_range`, `memblock_is_*`: `limits.rs`;
//! - `memblock_find_in_range_node`, `memblock_alloc_range_nid` and the `memblock_alloc*`
//!   family: [`alloc`];
//! - `for_each_*mem*_range` (`__next_mem_range[_rev]`, `__next_mem_pfn_range`): [`iter`];
//! - `memblock_dump_all` and the debug line formats: [`dump`].
//!
//! memblock never touches the memory it manages: it hands out physical addresses, and the
//! caller maps and zeroes them. Growing a region array past its static slots is the
//! one place where it needs to see memory; it asks a [`RegionMapper`] (installed by
//! [`Memblock::allow_resize`]) for a view of the physical range it picked.

use core::ops::Range;
use core::panic::Location;

use crate::mm::addr::PhysAddr;

pub mod alloc;
pub mod dump;
mod grow;
pub mod iter;
mod limits;

#[cfg(test)]
mod tests;

/// Linux's `INIT_MEMBLOCK_REGIONS`, the base every static region array is sized from.
pub const INIT_MEMBLOCK_REGIONS: usize = 128;
/// `CONFIG_NR_CPUS` of Debian's arm64 Linux 6.1 configuration.
pub const NR_CPUS: usize = 256;
/// Slots of the static `memory` array (Linux's `INIT_MEMBLOCK_MEMORY_REGIONS`): with
/// `CONFIG_EFI`, as Debian's arm64 kernel has, memblock.c makes it 8 times
/// `INIT_MEMBLOCK_REGIONS`, because an EFI memory map can describe that many ranges; 1024.
pub const INIT_MEMBLOCK_MEMORY_REGIONS: usize = 8 * INIT_MEMBLOCK_REGIONS;
/// Slots of the static `reserved` array (Linux's `INIT_MEMBLOCK_RESERVED_REGIONS`): arm64's
/// memblock header adds one reservation per possible CPU (each CPU's per-cpu area) and one
/// more to `INIT_MEMBLOCK_REGIONS`; 385. Before paging_init the arrays cannot grow, so a tree
/// with a few hundred reservations boots only with slots as many as Linux's.
pub const INIT_MEMBLOCK_RESERVED_REGIONS: usize = INIT_MEMBLOCK_REGIONS + NR_CPUS + 1;
/// "Any node" for allocations and iterators.
pub const NUMA_NO_NODE: i32 = -1;
/// `1 << CONFIG_NODES_SHIFT`; arm64's Kconfig default `NODES_SHIFT` is 4 in Linux 6.1.
/// Memory added without a node carries this value as its nid, as Linux's `memblock_add` does.
pub const MAX_NUMNODES: i32 = 16;

/// `end` argument meaning "up to `current_limit`" (Linux's `MEMBLOCK_ALLOC_ACCESSIBLE`).
pub const MEMBLOCK_ALLOC_ACCESSIBLE: PhysAddr = PhysAddr(0);
/// `end` argument meaning "anywhere" (Linux's `MEMBLOCK_ALLOC_ANYWHERE`, `~0`).
pub const MEMBLOCK_ALLOC_ANYWHERE: PhysAddr = PhysAddr(u64::MAX);
/// `end` argument meaning "up to `current_limit`, not tracked by kmemleak".
pub const MEMBLOCK_ALLOC_NOLEAKTRACE: PhysAddr = PhysAddr(1);
/// Default lower bound of the `memblock_alloc*` family.
pub const MEMBLOCK_LOW_LIMIT: PhysAddr = PhysAddr(0);
/// Alignment used when a caller asks for alignment 0 (arm64 `L1_CACHE_BYTES`).
pub const SMP_CACHE_BYTES: u64 = 64;

/// Attributes of a memory region (Linux's `enum memblock_flags`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MemblockFlags(pub u32);

impl MemblockFlags {
    pub const NONE: Self = Self(0);
    /// Hot-pluggable memory.
    pub const HOTPLUG: Self = Self(0x1);
    /// Mirrored (reliable) memory.
    pub const MIRROR: Self = Self(0x2);
    /// Not to be added to the kernel's linear map.
    pub const NOMAP: Self = Self(0x4);
    /// Memory detected and managed by a driver.
    pub const DRIVER_MANAGED: Self = Self(0x8);
    /// Reserved memory whose `struct page`s are not initialised.
    pub const RSRV_NOINIT: Self = Self(0x10);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl core::ops::BitOr for MemblockFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// One contiguous range of physical memory `[base, base + size)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Region {
    pub base: PhysAddr,
    pub size: u64,
    pub flags: MemblockFlags,
    pub nid: i32,
}

impl Region {
    /// A zeroed slot, as Linux's statically initialised arrays hold.
    pub const EMPTY: Region = Region { base: PhysAddr(0), size: 0, flags: MemblockFlags::NONE, nid: 0 };

    pub const fn new(base: u64, size: u64) -> Self {
        Region { base: PhysAddr(base), size, flags: MemblockFlags::NONE, nid: MAX_NUMNODES }
    }

    /// First address past the region. Never wraps: every region is capped by [`cap_size`].
    pub const fn end(&self) -> PhysAddr {
        PhysAddr(self.base.0 + self.size)
    }

    pub const fn is_nomap(&self) -> bool {
        self.flags.contains(MemblockFlags::NOMAP)
    }

    pub const fn is_hotpluggable(&self) -> bool {
        self.flags.contains(MemblockFlags::HOTPLUG)
    }

    pub const fn is_mirror(&self) -> bool {
        self.flags.contains(MemblockFlags::MIRROR)
    }

    pub const fn is_driver_managed(&self) -> bool {
        self.flags.contains(MemblockFlags::DRIVER_MANAGED)
    }
}

/// Gives memblock a writable view of physical memory it picked for a grown region array.
///
/// The kernel implements it through its linear map; host tests leak a `Vec`. The returned
/// slice must have exactly `count` elements and stay valid for the rest of the boot.
pub trait RegionMapper: Sync {
    fn map(&self, base: PhysAddr, count: usize) -> &'static mut [Region];
}

/// Errors of memblock operations (Linux returns `-ENOMEM` or 0 for all of them).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemblockError {
    /// A region array is full and resizing is not allowed yet.
    RegionsFull { type_name: &'static str, max: usize },
    /// Resizing was allowed but no memory was found for the bigger array.
    ResizeFailed { type_name: &'static str, from: usize, to: usize },
    /// No free range satisfies an allocation.
    NoMemory { size: u64, align: u64, start: PhysAddr, end: PhysAddr, nid: i32 },
    /// An allocation after `memblock_free_all` handed free memory to the page allocator.
    Closed { size: u64 },
}

impl core::fmt::Display for MemblockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MemblockError::RegionsFull { type_name, max } => write!(
                f,
                "memblock: {type_name} array is full ({max} regions) and resizing is not allowed yet"
            ),
            MemblockError::ResizeFailed { type_name, from, to } => {
                write!(f, "memblock: failed to double {type_name} array from {from} to {to} entries")
            }
            MemblockError::NoMemory { size, align, start, end, nid } => write!(
                f,
                "memblock: no free range for {size:#x} bytes align={align:#x} in \
                 [0x{:016x}-0x{:016x}) nid={nid}",
                start.0, end.0
            ),
            MemblockError::Closed { size } => write!(
                f,
                "memblock: allocation of {size:#x} bytes after memblock_free_all: use the page allocator"
            ),
        }
    }
}

/// Which of the two arrays an operation works on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemblockKind {
    Memory,
    Reserved,
}

/// Adjust `size` so that `base + size` does not pass the top of the address space
/// (Linux's `memblock_cap_size`).
pub const fn cap_size(base: PhysAddr, size: u64) -> u64 {
    let room = u64::MAX - base.0;
    if size < room {
        size
    } else {
        room
    }
}

/// One array of regions (Linux's `struct memblock_type`).
///
/// Like Linux, an empty array keeps one zero-sized "dummy" slot, so the internal count is 1
/// when there is nothing in it; [`regions`](Self::regions) and [`cnt`](Self::cnt) hide it,
/// while the dump shows it as Linux does.
pub struct MemblockType {
    name: &'static str,
    /// Room for the larger of the two static arrays; `max` says how much of it is in use.
    inline: [Region; INIT_MEMBLOCK_MEMORY_REGIONS],
    grown: Option<&'static mut [Region]>,
    grown_base: PhysAddr,
    cnt: usize,
    max: usize,
    total_size: u64,
}

impl MemblockType {
    /// An empty array of `max` static slots (at most [`INIT_MEMBLOCK_MEMORY_REGIONS`]).
    pub const fn new(name: &'static str, max: usize) -> Self {
        assert!(max >= 1 && max <= INIT_MEMBLOCK_MEMORY_REGIONS);
        MemblockType {
            name,
            inline: [Region::EMPTY; INIT_MEMBLOCK_MEMORY_REGIONS],
            grown: None,
            grown_base: PhysAddr(0),
            cnt: 1,
            max,
            total_size: 0,
        }
    }

    /// The regions in use, sorted by base; empty when the array holds nothing.
    pub fn regions(&self) -> &[Region] {
        if self.is_empty() {
            &[]
        } else {
            &self.slots()[..self.cnt]
        }
    }

    /// Number of regions in use (0 for an empty array; Linux's `cnt` would be 1 there).
    pub fn cnt(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            self.cnt
        }
    }

    /// Capacity of the current array (Linux's `max`).
    pub fn max(&self) -> usize {
        self.max
    }

    /// Sum of the sizes of all regions.
    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Physical base of the grown array, if the array was ever doubled.
    pub fn grown_array(&self) -> Option<PhysAddr> {
        self.grown.as_ref().map(|_| self.grown_base)
    }

    /// Whether any region overlaps `[base, base + size)` (Linux's `memblock_overlaps_region`).
    pub fn overlaps_region(&self, base: PhysAddr, size: u64) -> bool {
        let end = base.0 + cap_size(base, size);
        self.regions().iter().any(|r| base.0 < r.end().0 && r.base.0 < end)
    }

    /// Index of the region containing `addr` (Linux's `memblock_search`).
    pub fn search(&self, addr: PhysAddr) -> Option<usize> {
        let regions = self.regions();
        let idx = regions.partition_point(|r| r.end() <= addr);
        (idx < regions.len() && regions[idx].base <= addr).then_some(idx)
    }

    fn is_empty(&self) -> bool {
        self.cnt == 1 && self.slots()[0].size == 0
    }

    /// Linux's raw `cnt`, counting the dummy slot of an empty array.
    fn raw_cnt(&self) -> usize {
        self.cnt
    }

    fn slots(&self) -> &[Region] {
        match &self.grown {
            Some(g) => g,
            None => &self.inline[..self.max],
        }
    }

    fn slots_mut(&mut self) -> &mut [Region] {
        match &mut self.grown {
            Some(g) => g,
            None => &mut self.inline[..self.max],
        }
    }

    fn insert_region(&mut self, idx: usize, base: u64, size: u64, nid: i32, flags: MemblockFlags) {
        assert!(self.cnt < self.max, "memblock: insert into a full {} array", self.name);
        let cnt = self.cnt;
        let slots = self.slots_mut();
        slots.copy_within(idx..cnt, idx + 1);
        slots[idx] = Region { base: PhysAddr(base), size, flags, nid };
        self.cnt += 1;
        self.total_size += size;
    }

    fn remove_region(&mut self, idx: usize) {
        let cnt = self.cnt;
        self.total_size -= self.slots()[idx].size;
        self.slots_mut().copy_within(idx + 1..cnt, idx);
        self.cnt -= 1;
        if self.cnt == 0 {
            debug_assert_eq!(self.total_size, 0);
            self.cnt = 1;
            self.slots_mut()[0] =
                Region { base: PhysAddr(0), size: 0, flags: MemblockFlags::NONE, nid: MAX_NUMNODES };
        }
    }

    /// Merge neighbours that touch and share flags and node (Linux's `memblock_merge_regions`).
    fn merge_regions(&mut self) {
        let mut i = 0;
        while i + 1 < self.cnt {
            let (this, next) = (self.slots()[i], self.slots()[i + 1]);
            if this.end() != next.base || this.nid != next.nid || this.flags != next.flags {
                assert!(this.end() <= next.base, "memblock: {} regions overlap", self.name);
                i += 1;
                continue;
            }
            let cnt = self.cnt;
            let slots = self.slots_mut();
            slots[i].size += next.size;
            slots.copy_within(i + 2..cnt, i + 1);
            self.cnt -= 1;
        }
    }

    /// One pass of `memblock_add_range` over `[base, end)`: count the pieces that fall in
    /// holes between the regions, and with `insert` also put them in. Linux runs the same
    /// loop twice, counting first, so that a range that does not fit changes nothing.
    fn fill_holes(&mut self, mut base: u64, end: u64, nid: i32, flags: MemblockFlags, insert: bool) -> usize {
        let mut nr_new = 0;
        let mut i = 0;
        while i < self.cnt {
            let r = self.slots()[i];
            let (rbase, rend) = (r.base.0, r.end().0);
            if rbase >= end {
                break;
            }
            if rend > base {
                if rbase > base {
                    nr_new += 1;
                    if insert {
                        self.insert_region(i, base, rbase - base, nid, flags);
                        i += 1;
                    }
                }
                base = rend.min(end);
            }
            i += 1;
        }
        if base < end {
            nr_new += 1;
            if insert {
                self.insert_region(i, base, end - base, nid, flags);
            }
        }
        nr_new
    }

    /// Split region `idx` at `at`, an address strictly inside it: the part below `at` becomes
    /// a new region at `idx`, the part above moves to `idx + 1`; node and flags are kept.
    fn split_at(&mut self, idx: usize, at: u64) {
        let r = self.slots()[idx];
        let below = at - r.base.0;
        let upper = &mut self.slots_mut()[idx];
        upper.base = PhysAddr(at);
        upper.size -= below;
        self.total_size -= below;
        self.insert_region(idx, r.base.0, below, r.nid, r.flags);
    }
}

/// The allocator state (Linux's `struct memblock` plus the file's static flags).
///
/// The two arrays are public fields, read as Linux reads `memblock.memory` (their contents
/// change only through `Memblock`'s methods); every other setting is private behind its
/// Linux-named accessor (`memblock_set_bottom_up`, `memblock_set_current_limit`, ...).
pub struct Memblock {
    pub memory: MemblockType,
    pub reserved: MemblockType,
    /// Allocate from low addresses upwards instead of from the top.
    bottom_up: bool,
    /// Highest address `MEMBLOCK_ALLOC_ACCESSIBLE` allocations may return (exclusive).
    current_limit: PhysAddr,
    debug: bool,
    mapper: Option<&'static dyn RegionMapper>,
    has_mirror: bool,
    mirrored_kernelcore: bool,
    movable_node: bool,
    warned_max_numnodes: bool,
    /// Set by `close` once memblock_free_all has handed free memory to the page allocator.
    closed: bool,
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

impl Memblock {
    /// Empty memblock, usable in a `static` initialiser.
    /// Empty arrays of Linux's static sizes ([`INIT_MEMBLOCK_MEMORY_REGIONS`],
    /// [`INIT_MEMBLOCK_RESERVED_REGIONS`]).
    pub const fn new() -> Self {
        Self::with_slots(INIT_MEMBLOCK_MEMORY_REGIONS, INIT_MEMBLOCK_RESERVED_REGIONS)
    }

    /// Empty arrays of `memory` and `reserved` static slots (tests of array growth use small
    /// ones).
    pub const fn with_slots(memory: usize, reserved: usize) -> Self {
        Memblock {
            bottom_up: false,
            current_limit: MEMBLOCK_ALLOC_ANYWHERE,
            memory: MemblockType::new("memory", memory),
            reserved: MemblockType::new("reserved", reserved),
            debug: false,
            mapper: None,
            has_mirror: false,
            mirrored_kernelcore: false,
            movable_node: false,
            warned_max_numnodes: false,
            closed: false,
        }
    }

    /// After `memblock_free_all` the free memory belongs to the page allocator: from then on
    /// every allocation fails with [`MemblockError::Closed`] (Linux discards memblock's
    /// allocator with the init sections and would use freed memory).
    pub fn close(&mut self) {
        self.closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// `memblock=debug`: log every operation and let [`dump_all`](Self::dump_all) print.
    pub fn set_debug(&mut self, on: bool) {
        self.debug = on;
    }

    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Allow the region arrays to grow past [`INIT_MEMBLOCK_REGIONS`] (Linux's
    /// `memblock_allow_resize`). Call it once the reservations that must not be overwritten
    /// by a grown array (kernel, initrd, DTB) are in place.
    pub fn allow_resize(&mut self, mapper: &'static dyn RegionMapper) {
        self.mapper = Some(mapper);
    }

    /// `kernelcore=mirror`: without it, `mark_mirror` is ignored (Linux 6.1).
    pub fn set_mirrored_kernelcore(&mut self, on: bool) {
        self.mirrored_kernelcore = on;
    }

    /// `movable_node`: iterators then skip hot-pluggable memory unless asked for it.
    pub fn set_movable_node(&mut self, on: bool) {
        self.movable_node = on;
    }

    pub fn movable_node(&self) -> bool {
        self.movable_node
    }

    /// Whether some memory was marked mirrored (Linux's `memblock_has_mirror`).
    pub fn has_mirror(&self) -> bool {
        self.has_mirror
    }

    /// Linux's `memblock_set_bottom_up`.
    pub fn set_bottom_up(&mut self, enable: bool) {
        self.bottom_up = enable;
    }

    pub fn bottom_up(&self) -> bool {
        self.bottom_up
    }

    /// Linux's `memblock_set_current_limit`.
    pub fn set_current_limit(&mut self, limit: PhysAddr) {
        self.current_limit = limit;
    }

    pub fn current_limit(&self) -> PhysAddr {
        self.current_limit
    }

    pub fn ty(&self, kind: MemblockKind) -> &MemblockType {
        match kind {
            MemblockKind::Memory => &self.memory,
            MemblockKind::Reserved => &self.reserved,
        }
    }

    fn ty_mut(&mut self, kind: MemblockKind) -> &mut MemblockType {
        match kind {
            MemblockKind::Memory => &mut self.memory,
            MemblockKind::Reserved => &mut self.reserved,
        }
    }

    // ---- adding and removing ------------------------------------------------------------

    /// Add `[base, base + size)` to `kind`; overlaps with existing regions leave those
    /// untouched, only the holes are filled, then compatible neighbours merge
    /// (Linux's `memblock_add_range`). Either every piece is inserted or none is.
    fn add_range(
        &mut self,
        kind: MemblockKind,
        base: PhysAddr,
        size: u64,
        nid: i32,
        flags: MemblockFlags,
    ) -> Result<(), MemblockError> {
        let size = cap_size(base, size);
        if size == 0 {
            return Ok(());
        }
        let end = base.0 + size;
        let t = self.ty_mut(kind);
        if t.slots()[0].size == 0 {
            debug_assert!(t.cnt == 1 && t.total_size == 0);
            t.slots_mut()[0] = Region { base, size, flags, nid };
            t.total_size = size;
            return Ok(());
        }
        loop {
            let t = self.ty_mut(kind);
            if t.cnt + t.fill_holes(base.0, end, nid, flags, false) <= t.max {
                break;
            }
            self.double_array(kind, base, size)?;
        }
        let t = self.ty_mut(kind);
        t.fill_holes(base.0, end, nid, flags, true);
        t.merge_regions();
        Ok(())
    }

    /// Split the regions of `kind` at `base` and `base + size` so that the range is covered
    /// by whole regions, and return their index range (Linux's `memblock_isolate_range`).
    /// Like Linux, it needs two free slots even when no split turns out to be necessary.
    pub fn isolate_range(
        &mut self,
        kind: MemblockKind,
        base: PhysAddr,
        size: u64,
    ) -> Result<Range<usize>, MemblockError> {
        let size = cap_size(base, size);
        if size == 0 {
            return Ok(0..0);
        }
        let (base, end) = (base.0, base.0 + size);
        while self.ty(kind).cnt + 2 > self.ty(kind).max {
            self.double_array(kind, PhysAddr(base), size)?;
        }
        let t = self.ty_mut(kind);
        let (mut start_rgn, mut end_rgn) = (0, 0);
        let mut idx = 0;
        while idx < t.cnt {
            let r = t.slots()[idx];
            let (rbase, rend) = (r.base.0, r.end().0);
            if rbase >= end {
                break;
            }
            if rend > base {
                if rbase < base {
                    // Crosses `base`: split there, and look at the upper part on the next
                    // step.
                    t.split_at(idx, base);
                } else if rend > end {
                    // Crosses `end`: split there, and look at the lower part again.
                    t.split_at(idx, end);
                    continue;
                } else {
                    if end_rgn == 0 {
                        start_rgn = idx;
                    }
                    end_rgn = idx + 1;
                }
            }
            idx += 1;
        }
        Ok(start_rgn..end_rgn)
    }

    /// Linux's `memblock_remove_range`.
    fn remove_range(&mut self, kind: MemblockKind, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        let range = self.isolate_range(kind, base, size)?;
        let t = self.ty_mut(kind);
        for i in range.rev() {
            t.remove_region(i);
        }
        Ok(())
    }

    /// Register RAM on node `nid` with `flags` (Linux's `memblock_add_node`).
    #[track_caller]
    pub fn add_node(
        &mut self,
        base: PhysAddr,
        size: u64,
        nid: i32,
        flags: MemblockFlags,
    ) -> Result<(), MemblockError> {
        if self.debug {
            dump::dbg_range("memblock_add_node", base, size, Some((nid, flags)), Location::caller());
        }
        self.add_range(MemblockKind::Memory, base, size, nid, flags)
    }

    /// Register RAM without a node (Linux's `memblock_add`: nid is `MAX_NUMNODES`).
    #[track_caller]
    pub fn add(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        if self.debug {
            dump::dbg_range("memblock_add", base, size, None, Location::caller());
        }
        self.add_range(MemblockKind::Memory, base, size, MAX_NUMNODES, MemblockFlags::NONE)
    }

    /// Forget RAM (Linux's `memblock_remove`).
    #[track_caller]
    pub fn remove(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        if self.debug {
            dump::dbg_range("memblock_remove", base, size, None, Location::caller());
        }
        self.remove_range(MemblockKind::Memory, base, size)
    }

    /// [`remove`](Self::remove) without its `memblock=debug` line: for what this kernel
    /// removes where Linux does not, so that a debug log still diffs line for line.
    pub fn remove_quietly(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.remove_range(MemblockKind::Memory, base, size)
    }

    /// Mark a range as in use (Linux's `memblock_reserve`).
    #[track_caller]
    pub fn reserve(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.reserve_at(base, size, Location::caller())
    }

    fn reserve_at(
        &mut self,
        base: PhysAddr,
        size: u64,
        caller: &Location<'_>,
    ) -> Result<(), MemblockError> {
        if self.debug {
            dump::dbg_range("memblock_reserve", base, size, None, caller);
        }
        self.add_range(MemblockKind::Reserved, base, size, MAX_NUMNODES, MemblockFlags::NONE)
    }

    /// Give a reserved range back (Linux's `memblock_phys_free`).
    #[track_caller]
    pub fn phys_free(&mut self, base: PhysAddr, size: u64) -> Result<(), MemblockError> {
        self.phys_free_at(base, size, Location::caller())
    }

    fn phys_free_at(
        &mut self,
        base: PhysAddr,
        size: u64,
        caller: &Location<'_>,
    ) -> Result<(), MemblockError> {
        if self.debug {
            dump::dbg_range("memblock_phys_free", base, size, None, caller);
        }
        self.remove_range(MemblockKind::Reserved, base, size)
    }
}
