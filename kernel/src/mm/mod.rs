//! Physical memory management: addresses, memblock, the kernel's page tables (`pgtable`,
//! `paging`, `layout`), and the buddy allocator with its zones and memmap.

pub mod addr;
pub mod buddy;
pub mod init;
pub mod layout;
pub mod memblock;
pub mod paging;
pub mod pgtable;

pub use addr::{PhysAddr, Pfn, PAGE_SHIFT, PAGE_SIZE};
