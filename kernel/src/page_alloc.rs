//! The page allocator the kernel runs with after mm init: the buddy allocator of
//! `kernel::mm::buddy` over memory reached through the linear map.
//!
//! The memmap and the free-list links live in memblock memory seen through the linear map
//! (`arch::linear`). The kernel runs on one CPU with interrupts masked; the lock only turns
//! re-entry into a failed allocation.

use kernel::mm::buddy::{ArrayLinks, BuddyError, Memmap, MigrateType, ZoneType, Zones};
use kernel::mm::memblock::{Memblock, MAX_NUMNODES, NUMA_NO_NODE};
use kernel::mm::sparse::{self, SectionRun};
use kernel::mm::init::NodeMemmap;
use kernel::mm::{Pfn, PhysAddr, PAGE_SHIFT};
use spinning_top::{const_spinlock, Spinlock};

use crate::arch::{linear, mmu::va};

const NODES: usize = MAX_NUMNODES as usize;

/// Each node's present sections, written into the table behind its links (memblock must
/// still describe the memory `alloc_memmaps` placed them for).
pub fn sections(mb: &Memblock, memmaps: &[Option<NodeMemmap>; NODES]) -> [Option<&'static [SectionRun]>; NODES] {
    let mut out = [None; NODES];
    for (slot, m) in out.iter_mut().zip(memmaps).filter_map(|(s, m)| Some((s, m.as_ref()?))) {
        *slot = linear::section_runs(m, sparse::node_section_runs(mb, m.nid));
        assert!(slot.is_some(), "node {}: the section runs changed since the memmap was placed", m.nid);
    }
    out
}

/// The links arrays of every node, through the linear map.
pub fn links(memmaps: &[Option<NodeMemmap>; NODES], runs: &[Option<&'static [SectionRun]>; NODES]) -> ArrayLinks<'static> {
    let mut links = ArrayLinks::new();
    for (m, r) in memmaps.iter().zip(runs).filter_map(|(m, r)| Some((m.as_ref()?, (*r)?))) {
        let ok = links.add_node(r, linear::links(m));
        assert!(ok, "node {} too large for 32-bit links", m.nid);
    }
    links
}

/// A node's memmap over its present sections `runs`, through the linear map.
pub fn memmap(m: &NodeMemmap, runs: &'static [SectionRun]) -> Memmap<'static> {
    let (pages, sections) = linear::memmap(m);
    Memmap::new(runs, pages, sections).expect("one memmap byte per frame and one state per section")
}

static ZONES: Spinlock<Option<Zones<'static, ArrayLinks<'static>>>> = const_spinlock(None);

/// Run `f` on the zones; `None` before `install` or on re-entry.
pub fn with<R>(f: impl FnOnce(&mut Zones<'static, ArrayLinks<'static>>) -> R) -> Option<R> {
    ZONES.try_lock()?.as_mut().map(f)
}

/// Build the kernel's page allocator in place with `links`, let `fill` hand memory to it,
/// then feed the heap from it.
pub fn install<E>(
    links: ArrayLinks<'static>,
    fill: impl FnOnce(&mut Zones<'static, ArrayLinks<'static>>) -> Result<(), E>,
) -> Result<(), E> {
    let Some(mut slot) = ZONES.try_lock() else { panic!("page allocator installed while in use") };
    let r = fill(slot.insert(Zones::new(links)));
    drop(slot);
    if r.is_ok() {
        // Kernel heap memory is GFP_KERNEL: unmovable, never in a CMA pageblock.
        crate::heap::init(|order| alloc_pages_type(order, ZoneType::Normal, MigrateType::Unmovable).ok().map(|(_, va)| va));
    }
    r
}

/// `alloc_pages`: 2^order movable pages from the highest zone allowed down; the frame and
/// its linear-map address.
pub fn alloc_pages(order: u32, highest: ZoneType) -> Result<(Pfn, u64), BuddyError> {
    alloc_pages_type(order, highest, MigrateType::Movable)
}

/// [`alloc_pages`] for an allocation of migrate type `mt`.
pub fn alloc_pages_type(order: u32, highest: ZoneType, mt: MigrateType) -> Result<(Pfn, u64), BuddyError> {
    let pfn = with(|z| z.alloc_pages_type(NUMA_NO_NODE, order, highest, mt))
        .unwrap_or(Err(BuddyError::NoMemory { order, highest }))?;
    Ok((pfn, va(PhysAddr(pfn.0 << PAGE_SHIFT))))
}

/// `__free_pages`.
pub fn free_pages(pfn: Pfn, order: u32) -> Result<(), BuddyError> {
    with(|z| z.free_pages(pfn, order)).unwrap_or(Err(BuddyError::NotInZone { pfn }))
}
