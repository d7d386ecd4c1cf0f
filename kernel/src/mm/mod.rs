//! Physical memory management: addresses, memblock, the kernel's page tables (`pgtable`,
//! `paging`, `layout`), zones and their accounting (`zone`), and the buddy allocator with its
//! memmap (`buddy`, `init`); NUMA nodes and the one node span all of them read (`numa`).

pub mod addr;
pub mod buddy;
pub mod init;
pub mod layout;
pub mod memblock;
pub mod numa;
pub mod paging;
pub mod pgtable;
pub mod zone;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
