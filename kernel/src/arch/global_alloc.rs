//! The mechanism behind the kernel's `#[global_allocator]`: `linked_list_allocator` heaps
//! over blocks of pages taken on demand, as a `GlobalAlloc`. `crate::heap` holds the policy
//! (how large a block, from where); this holds only what must trust raw pointers.
//!
//! linked_list_allocator manages one contiguous region per `Heap`, and blocks from the page
//! allocator are not contiguous with each other, so the allocator is a small array of `Heap`s:
//! an allocation tries each in turn and, when none can serve it, a new block becomes the next
//! `Heap`. Freed memory goes back to the `Heap` whose block holds it; blocks are never
//! returned. The lock only guards against re-entry (an allocation from inside the allocator),
//! which fails the allocation instead of waiting.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{null_mut, NonNull};
use kernel::mm::PAGE_SIZE;
use linked_list_allocator::Heap;
use spinning_top::{const_spinlock, Spinlock};

/// Where the heap gets memory: `2^order` pages, as a kernel virtual address, given away for
/// good (mapped, and used by nothing else).
pub type PageSource = fn(order: u32) -> Option<u64>;

/// The order of the block to take for a request that no block could serve.
pub type OrderFor = fn(Layout) -> u32;

/// At most `N` blocks of pages. Its initial state is all zeros, so the static sits in `.bss`.
pub struct GrowingHeap<const N: usize> {
    inner: Spinlock<Blocks<N>>,
}

struct Blocks<const N: usize> {
    heaps: [Heap; N],
    used: usize,
    source: Option<(PageSource, OrderFor)>,
}

impl<const N: usize> GrowingHeap<N> {
    /// An empty heap: every allocation fails until `set_source`.
    pub const fn new() -> Self {
        let blocks = Blocks { heaps: [const { Heap::empty() }; N], used: 0, source: None };
        GrowingHeap { inner: const_spinlock(blocks) }
    }

    /// Start taking blocks from `source`, of the order `order_for` picks.
    pub fn set_source(&self, source: PageSource, order_for: OrderFor) {
        if let Some(mut blocks) = self.inner.try_lock() {
            blocks.source = Some((source, order_for));
        }
    }
}

impl<const N: usize> Blocks<N> {
    fn grow(&mut self, layout: Layout) -> bool {
        let Some((source, order_for)) = self.source else { return false };
        if self.used == N {
            return false;
        }
        let order = order_for(layout);
        let Some(va) = source(order) else { return false };
        // SAFETY: the source hands out 2^order pages of mapped memory that nothing else uses.
        self.heaps[self.used] = unsafe { Heap::new(va as *mut u8, (PAGE_SIZE as usize) << order) };
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

// SAFETY: allocations come from disjoint page blocks owned by this heap; `dealloc` returns a
// pointer to the `Heap` whose block contains it, which is the one that allocated it.
unsafe impl<const N: usize> GlobalAlloc for GrowingHeap<N> {
    /// # Safety
    /// `GlobalAlloc::alloc`'s: `layout` has a non-zero size.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.inner.try_lock() {
            Some(mut blocks) => blocks.alloc(layout),
            None => null_mut(),
        }
    }

    /// # Safety
    /// `GlobalAlloc::dealloc`'s: `ptr` came from `alloc` on this heap with this `layout`.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(mut blocks) = self.inner.try_lock() {
            let used = blocks.used;
            if let Some(heap) = blocks.heaps[..used].iter_mut().find(|h| h.bottom() <= ptr && ptr < h.top()) {
                // SAFETY: `ptr` was allocated from this heap with `layout` (GlobalAlloc contract).
                unsafe { heap.deallocate(NonNull::new_unchecked(ptr), layout) };
            }
        }
    }
}
