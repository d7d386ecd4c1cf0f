//! Physical memory management: addresses, memblock, and the buddy allocator with its zones
//! and memmap.

pub mod addr;
pub mod buddy;
pub mod memblock;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
