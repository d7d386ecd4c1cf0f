//! The page allocator the kernel runs with after mm init: the buddy allocator of
//! `kernel::mm::buddy` over memory reached through the linear map.
//!
//! The memmap and the free-list links live in memblock memory seen through the linear map. The kernel runs on one CPU with interrupts masked; the
//! flag only turns re-entry into a failed allocation.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::mm::buddy::{ArrayLinks, BuddyError, Memmap, NodeData, PageState, ZoneType, Zones};
use kernel::mm::init::NodeMemmap;
use kernel::mm::{Pfn, PhysAddr, PAGE_SHIFT};

use crate::arch::mmu::va;

/// The links arrays of every node, through the linear map.
pub fn links(memmaps: &[Option<NodeMemmap>]) -> ArrayLinks<'static> {
    let mut links = ArrayLinks::new();
    for m in memmaps.iter().flatten() {
        let ptr = va(m.links_pa) as *mut [u32; 2];
        let frames = m.len() as u64;
        // Any bit pattern is a valid [u32; 2], and only entries written first are read.
        // SAFETY: memblock reserved slots_for(frames) entries for these links alone, mapped.
        let slots = unsafe { core::slice::from_raw_parts_mut(ptr, ArrayLinks::slots_for(frames) as usize) };
        assert!(links.add_node(m.start_pfn.0, frames, slots), "node {} too large for 32-bit links", m.nid);
    }
    links
}

/// Node `nid`'s `NODE_DATA` at `pa`, initialised, through the linear map.
pub fn node_data(nid: i32, pa: PhysAddr) -> &'static mut NodeData<'static> {
    let ptr = va(pa) as *mut NodeData<'static>;
    // memblock reserved size_of::<NodeData>() bytes at `pa`, 64-byte aligned (enough for
    // NodeData), for this node alone.
    // SAFETY: so they are ours, mapped, and written here before any use.
    unsafe {
        ptr.write(NodeData::new(nid));
        &mut *ptr
    }
}

/// A node's memmap, zeroed, through the linear map.
pub fn memmap(m: &NodeMemmap) -> Memmap<'static> {
    let ptr = va(m.pa) as *mut PageState;
    crate::arch::mmu::zero(ptr as u64, m.len());
    // PageState is one byte, and zero is its "ordinary page" value.
    // SAFETY: memblock reserved these bytes for this memmap alone, mapped and now zeroed.
    let pages = unsafe { core::slice::from_raw_parts_mut(ptr, m.len()) };
    Memmap::new(m.start_pfn, pages)
}

struct Global {
    zones: UnsafeCell<Option<Zones<'static, ArrayLinks<'static>>>>,
    busy: AtomicBool,
}

// SAFETY: `zones` is only reached through `with`, which holds `busy`.
unsafe impl Sync for Global {}

static GLOBAL: Global = Global { zones: UnsafeCell::new(None), busy: AtomicBool::new(false) };

/// Run `f` on the zones; `None` before `install` or on re-entry.
pub fn with<R>(f: impl FnOnce(&mut Zones<'static, ArrayLinks<'static>>) -> R) -> Option<R> {
    if GLOBAL.busy.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: `busy` is held: this is the only reference.
    let r = unsafe { (*GLOBAL.zones.get()).as_mut().map(f) };
    GLOBAL.busy.store(false, Ordering::Release);
    r
}

/// Build the kernel's page allocator in place with `links`, let `fill` hand memory to it,
/// then feed the heap from it.
pub fn install<E>(
    links: ArrayLinks<'static>,
    fill: impl FnOnce(&mut Zones<'static, ArrayLinks<'static>>) -> Result<(), E>,
) -> Result<(), E> {
    let held = GLOBAL.busy.swap(true, Ordering::Acquire);
    assert!(!held, "page allocator installed while in use");
    // SAFETY: `busy` is held: this is the only reference.
    let slot = unsafe { &mut *GLOBAL.zones.get() };
    let r = fill(slot.insert(Zones::new(links)));
    GLOBAL.busy.store(false, Ordering::Release);
    if r.is_ok() {
        crate::heap::init(|order| alloc_pages(order, ZoneType::Normal).ok().map(|(_, va)| va));
    }
    r
}

/// `alloc_pages`: 2^order pages from the highest zone allowed down; the frame and its
/// linear-map address.
pub fn alloc_pages(order: u32, highest: ZoneType) -> Result<(Pfn, u64), BuddyError> {
    let pfn = with(|z| z.alloc_pages(order, highest)).unwrap_or(Err(BuddyError::NoMemory { order, highest }))?;
    Ok((pfn, va(PhysAddr(pfn.0 << PAGE_SHIFT))))
}

/// `__free_pages`.
pub fn free_pages(pfn: Pfn, order: u32) -> Result<(), BuddyError> {
    with(|z| z.free_pages(pfn, order)).unwrap_or(Err(BuddyError::NotInZone { pfn }))
}
