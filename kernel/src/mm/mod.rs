//! Physical memory management: addresses, memblock, zones, and (later) the memmap and the buddy
//! allocator.

pub mod addr;
pub mod memblock;
pub mod zone;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
