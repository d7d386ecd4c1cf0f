//! allocator.

pub mod addr;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
