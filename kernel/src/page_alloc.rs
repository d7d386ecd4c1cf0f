//! The page allocator the kernel runs with after mm init: the buddy allocator of
//! `kernel::mm::buddy` over memory reached through the linear map.
//!
//! The free lists live in the free pages themselves (`LinearLinks`), the memmap in memblock
//! memory seen through the linear map. The kernel runs on one CPU with interrupts masked; the
//! flag only turns re-entry into a failed allocation.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::mm::buddy::{BuddyError, FreePageLinks, Link, Memmap, PageState, ZoneType, Zones};
use kernel::mm::init::NodeMemmap;
use kernel::mm::{Pfn, PhysAddr, PAGE_SHIFT};

use crate::arch::mmu::va;

/// Free-list links in the first 16 bytes of each free block's head page.
pub struct LinearLinks;

impl FreePageLinks for LinearLinks {
    fn get(&self, pfn: u64) -> Link {
        // SAFETY: the buddy allocator only asks for the head page of a free block, which is
        // linear-mapped memory nothing else uses.
        unsafe { (va(PhysAddr(pfn << PAGE_SHIFT)) as *const Link).read() }
    }
    fn set(&mut self, pfn: u64, link: Link) {
        // SAFETY: as for `get`: the page is free and belongs to the allocator.
        unsafe { (va(PhysAddr(pfn << PAGE_SHIFT)) as *mut Link).write(link) }
    }
}

/// A node's memmap, zeroed, through the linear map.
pub fn memmap(m: &NodeMemmap) -> Memmap<'static> {
    let ptr = va(m.pa) as *mut PageState;
    // SAFETY: memblock reserved these bytes for this memmap alone, and they are in the linear
    // map; PageState is one byte and zero is its "ordinary page" value.
    let pages = unsafe {
        core::ptr::write_bytes(ptr, 0, m.len());
        core::slice::from_raw_parts_mut(ptr, m.len())
    };
    Memmap::new(m.start_pfn, pages)
}

struct Global {
    zones: UnsafeCell<Option<Zones<'static, LinearLinks>>>,
    busy: AtomicBool,
}

// SAFETY: `zones` is only reached through `with`, which holds `busy`.
unsafe impl Sync for Global {}

static GLOBAL: Global = Global { zones: UnsafeCell::new(None), busy: AtomicBool::new(false) };

/// Run `f` on the zones; `None` before `install` or on re-entry.
pub fn with<R>(f: impl FnOnce(&mut Zones<'static, LinearLinks>) -> R) -> Option<R> {
    if GLOBAL.busy.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: `busy` is held: this is the only reference.
    let r = unsafe { (*GLOBAL.zones.get()).as_mut().map(f) };
    GLOBAL.busy.store(false, Ordering::Release);
    r
}

/// Make `zones` the kernel's page allocator and feed the heap from it.
pub fn install(zones: Zones<'static, LinearLinks>) {
    let ok = GLOBAL.busy.swap(true, Ordering::Acquire);
    assert!(!ok, "page allocator installed while in use");
    // SAFETY: `busy` is held.
    unsafe { *GLOBAL.zones.get() = Some(zones) };
    GLOBAL.busy.store(false, Ordering::Release);
    crate::heap::init(|order| alloc_pages(order, ZoneType::Normal).ok().map(|(_, va)| va));
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
