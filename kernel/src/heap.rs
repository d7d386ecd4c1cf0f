//! The kernel heap: `linked_list_allocator` as the `#[global_allocator]`, fed with pages from
//! the buddy allocator and grown on demand.
//!
//! The heap takes a block of pages whenever none of the blocks it has can serve a request
//! (at least `MIN_CHUNK_ORDER`, more for a large request), up to `MAX_CHUNKS` blocks; the
//! mechanism that carves allocations out of them is `arch::global_alloc`. Blocks are never
//! returned.

use crate::arch::global_alloc::{GrowingHeap, PageSource};
use core::alloc::Layout;
use kernel::mm::PAGE_SIZE;

const MAX_CHUNKS: usize = 64;
/// 64 KiB: the smallest block the heap takes from the buddy allocator.
const MIN_CHUNK_ORDER: u32 = 4;

#[global_allocator]
static HEAP: GrowingHeap<MAX_CHUNKS> = GrowingHeap::new();

/// Start feeding the heap from `source` (once mm init has a page allocator).
pub fn init(source: PageSource) {
    HEAP.set_source(source, chunk_order);
}

/// The order of the block to take for `layout`: room for the request at its alignment plus
/// the allocator's bookkeeping, in a power of two of pages, at least `MIN_CHUNK_ORDER`.
fn chunk_order(layout: Layout) -> u32 {
    let need = layout.size() + layout.align() + 2 * core::mem::size_of::<usize>() * 4;
    let pages = need.div_ceil(PAGE_SIZE as usize).next_power_of_two();
    pages.trailing_zeros().max(MIN_CHUNK_ORDER)
}
