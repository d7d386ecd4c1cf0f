//! Physical memory management: addresses, memblock, kernel page tables, and (later) zones,
//! memmap and the buddy allocator.

pub mod addr;
pub mod layout;
pub mod memblock;
pub mod paging;
pub mod pgtable;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
