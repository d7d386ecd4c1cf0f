//! The kernel heap: `linked_list_allocator` as the `#[global_allocator]`, fed with pages from
//! the buddy allocator and grown on demand.
//!
//! linked_list_allocator manages one contiguous region per `Heap`, and buddy blocks are not
//! contiguous with each other, so the heap is a small array of `Heap`s: an allocation tries
//! each in turn and, when none can serve it, a new block (at least `MIN_CHUNK_ORDER`, more
//! for a large request) is taken from the page source and becomes the next `Heap`. Freed
//! memory goes back to the `Heap` whose block holds it; blocks are never returned.
//!
//! The kernel runs on one CPU with interrupts masked, so the lock only guards against
//! re-entry (an allocation from inside the allocator), which fails the allocation instead.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};
use linked_list_allocator::Heap;

const MAX_CHUNKS: usize = 64;
/// 64 KiB: the smallest block the heap takes from the buddy allocator.
const MIN_CHUNK_ORDER: u32 = 4;
const PAGE_SIZE: usize = 4096;

/// Where the heap gets memory: `2^order` pages, as a kernel virtual address.
pub type PageSource = fn(order: u32) -> Option<u64>;

struct Inner {
    heaps: [Heap; MAX_CHUNKS],
    used: usize,
    source: Option<PageSource>,
}

pub struct GrowingHeap {
    inner: UnsafeCell<Inner>,
    busy: AtomicBool,
}

// SAFETY: every access to `inner` happens with `busy` held (see `with`).
unsafe impl Sync for GrowingHeap {}

#[global_allocator]
static HEAP: GrowingHeap = GrowingHeap {
    inner: UnsafeCell::new(Inner { heaps: [const { Heap::empty() }; MAX_CHUNKS], used: 0, source: None }),
    busy: AtomicBool::new(false),
};

/// Start feeding the heap from `source` (once mm init has a page allocator).
pub fn init(source: PageSource) {
    HEAP.with(|inner| inner.source = Some(source));
}

impl GrowingHeap {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: `busy` was false and is now ours: no other reference to `inner` exists.
        let r = f(unsafe { &mut *self.inner.get() });
        self.busy.store(false, Ordering::Release);
        Some(r)
    }
}

impl Inner {
    fn grow(&mut self, layout: Layout) -> bool {
        let Some(source) = self.source else { return false };
        if self.used == MAX_CHUNKS {
            return false;
        }
        // Room for the request at its alignment plus the allocator's bookkeeping.
        let need = layout.size() + layout.align() + 2 * core::mem::size_of::<usize>() * 4;
        let pages = need.div_ceil(PAGE_SIZE).next_power_of_two();
        let order = pages.trailing_zeros().max(MIN_CHUNK_ORDER);
        let Some(va) = source(order) else { return false };
        // SAFETY: the source hands out 2^order pages of mapped memory that nothing else uses.
        self.heaps[self.used] = unsafe { Heap::new(va as *mut u8, PAGE_SIZE << order) };
        self.used += 1;
        true
    }

    fn alloc(&mut self, layout: Layout) -> *mut u8 {
        loop {
            for heap in &mut self.heaps[..self.used] {
                if let Ok(p) = heap.allocate_first_fit(layout) {
                    return p.as_ptr();
                }
            }
            if !self.grow(layout) {
                return null_mut();
            }
        }
    }
}

// SAFETY: allocations come from disjoint buddy blocks owned by this heap; `dealloc` returns a
// pointer to the `Heap` whose block contains it, which is the one that allocated it.
unsafe impl GlobalAlloc for GrowingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|inner| inner.alloc(layout)).unwrap_or(null_mut())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.with(|inner| {
            let used = inner.used;
            if let Some(heap) = inner.heaps[..used].iter_mut().find(|h| h.bottom() <= ptr && ptr < h.top()) {
                // SAFETY: `ptr` was allocated from this heap with `layout` (GlobalAlloc contract).
                unsafe { heap.deallocate(NonNull::new_unchecked(ptr), layout) };
            }
        });
    }
}
