//! Physical memory management: addresses, memblock, the kernel's page tables (`pgtable`,
//! `paging`), zones and their accounting (`zone_sizes`), CMA areas (`cma`), and the buddy allocator with its memmap
//! (`buddy`, `init`); NUMA nodes and the one node span all of them read (`numa`). What depends
//! on the architecture comes in as a value (`params`).

pub mod addr;
pub mod buddy;
pub mod cma;
pub mod crashkernel;
pub mod init;
pub mod memblock;
pub mod numa;
pub mod paging;
pub mod params;
pub mod pgtable;
pub mod sparse;
pub mod swiotlb;
pub mod zone_sizes;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
