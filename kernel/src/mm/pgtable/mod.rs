//! Kernel page tables: the platform-independent part of arm64 `paging_init` (Linux 6.1
//! `arch/arm64/mm/mmu.c` and `arch/arm64/mm/ptdump.c`).
//!
//! Geometry: 4 KiB granule, 48-bit virtual addresses, four levels, named as Linux names them:
//! level 0 PGD (512 GiB per entry), level 1 PUD (1 GiB), level 2 PMD (2 MiB), level 3 PTE
//! (4 KiB). Blocks exist at levels 1 and 2.
//!
//! Pieces and their Linux counterparts:
//! - [`desc`]: descriptor bits and the kernel's protections (`pgtable-hwdef.h`, `pgtable-prot.h`);
//! - [`plan`]: the split of a range into 1 GiB / 2 MiB blocks and pages that
//!   `alloc_init_pud`/`alloc_init_cont_pmd`/`alloc_init_cont_pte` make, and the merging of
//!   contiguous memory ranges before it;
//! - [`map`]: `__create_pgd_mapping` (without the contiguous hint) and a table walker;
//! - [`ptdump`]: the text of `/sys/kernel/debug/kernel_page_tables` (`ptdump_walk`).
//!
//! The tables are data: this module never touches memory. Every table access goes through a
//! [`TableMem`], which the arch layer implements on the target (memblock allocations reached
//! through a mapping) and the tests implement on the host heap.

pub mod desc;
pub mod map;
pub mod plan;
pub mod ptdump;

#[cfg(test)]
mod tests;

use core::fmt;

use crate::mm::addr::PhysAddr;

pub use desc::Prot;
pub use map::{map_range, translate, unmap_range, Translation};
pub use plan::{merge_ranges, plan, Chunk, Plan};
pub use ptdump::{dump, dump_range};

/// Number of virtual address bits (Linux's `VA_BITS`).
pub const VA_BITS: u32 = 48;
/// Number of physical address bits an output address can have.
pub const PA_BITS: u32 = 48;
/// Entries in a table of any level (`PTRS_PER_PTE` and friends).
pub const PTRS_PER_TABLE: usize = 512;
/// Number of translation levels.
pub const LEVELS: usize = 4;
/// Address shift of one entry at each level: `PGDIR_SHIFT`, `PUD_SHIFT`, `PMD_SHIFT`,
/// `PAGE_SHIFT`.
pub const LEVEL_SHIFT: [u32; LEVELS] = [39, 30, 21, 12];
/// Bytes covered by one level-1 entry (`PUD_SIZE`, 1 GiB).
pub const PUD_SIZE: u64 = 1 << 30;
/// Bytes covered by one level-2 entry (`PMD_SIZE`, 2 MiB).
pub const PMD_SIZE: u64 = 1 << 21;
/// Bytes covered by one level-0 entry (`PGDIR_SIZE`, 512 GiB).
pub const PGDIR_SIZE: u64 = 1 << 39;

/// Bytes covered by one entry at `level` (0-3).
pub const fn level_size(level: usize) -> u64 {
    1 << LEVEL_SHIFT[level]
}

/// Index of `va` in a table at `level` (Linux's `pgd_index`, `pud_index`, …).
pub const fn table_index(va: u64, level: usize) -> usize {
    ((va >> LEVEL_SHIFT[level]) as usize) & (PTRS_PER_TABLE - 1)
}

/// Start of the linear map for a 48-bit VA kernel (Linux 6.1's `PAGE_OFFSET`, `-(1 << 48)`).
pub const PAGE_OFFSET: u64 = 0xffff_0000_0000_0000;
/// End of the linear map (Linux 6.1's `PAGE_END`, `-(1 << 47)`): it spans 128 TiB.
pub const PAGE_END: u64 = 0xffff_8000_0000_0000;
/// Top of the lower (TTBR0) half: addresses below it are user/identity-map addresses.
pub const TTBR0_TOP: u64 = 1 << VA_BITS;

/// Linear-map virtual address of `pa` (Linux's `__phys_to_virt`: `(pa - PHYS_OFFSET) |
/// PAGE_OFFSET`), where `phys_offset` is `memstart_addr`. The caller keeps `pa` inside
/// `[phys_offset, phys_offset + (PAGE_END - PAGE_OFFSET))`.
pub const fn phys_to_virt(pa: PhysAddr, phys_offset: PhysAddr) -> u64 {
    pa.0.wrapping_sub(phys_offset.0) | PAGE_OFFSET
}

/// Physical address of a linear-map address (Linux's `__lm_to_phys`: `(va & ~PAGE_OFFSET) +
/// PHYS_OFFSET`).
pub const fn virt_to_phys(va: u64, phys_offset: PhysAddr) -> PhysAddr {
    PhysAddr((va & !PAGE_OFFSET).wrapping_add(phys_offset.0))
}

/// Whether `va` is in the linear map (Linux's `__is_lm_address`).
pub const fn is_lm_address(va: u64) -> bool {
    va >= PAGE_OFFSET && va < PAGE_END
}

/// Memory holding translation tables, as the table code sees it.
///
/// A table is a 4 KiB page of 512 descriptors named by its physical address. On the target
/// the arch layer allocates tables from memblock (Linux's `early_pgtable_alloc`) and reads and
/// writes them through a mapping; the host tests keep them in a map.
pub trait TableMem {
    /// A zeroed, page-aligned 4 KiB table, or `None` when memory is exhausted.
    fn alloc_table(&mut self) -> Option<PhysAddr>;
    /// Descriptor `index` (0-511) of `table`.
    fn read(&self, table: PhysAddr, index: usize) -> u64;
    /// Store `desc` as descriptor `index` of `table`.
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64);
}

/// Why a mapping could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgtableError {
    /// `va`, `pa` or `size` is not a multiple of the page size.
    Misaligned { va: u64, pa: PhysAddr, size: u64 },
    /// `[va, va + size)` is not inside one canonical half of the 48-bit VA space.
    VaOutOfRange { va: u64, size: u64 },
    /// `[pa, pa + size)` does not fit in 48 physical address bits.
    PaOutOfRange { pa: PhysAddr, size: u64 },
    /// No memory for a table at `level` (Linux panics in `early_pgtable_alloc`).
    TableAlloc { level: usize },
    /// The entry for `va` at `level` already holds `old`, which is neither empty nor the
    /// descriptor `new` being written (Linux's `pgattr_change_is_safe` failing, or a block
    /// where a table is needed: a `BUG_ON` there).
    Conflict { va: u64, level: usize, old: u64, new: u64 },
    /// Nothing maps `va`, which an unmap expected mapped.
    NotMapped { va: u64 },
}

impl fmt::Display for PgtableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PgtableError::Misaligned { va, pa, size } => {
                write!(f, "unaligned mapping va {va:#x} pa {pa:#x} size {size:#x}")
            }
            PgtableError::VaOutOfRange { va, size } => {
                write!(f, "virtual range {va:#x}+{size:#x} is not canonical")
            }
            PgtableError::PaOutOfRange { pa, size } => {
                write!(f, "physical range {pa:#x}+{size:#x} exceeds {PA_BITS} bits")
            }
            PgtableError::TableAlloc { level } => write!(f, "out of memory for a level {level} table"),
            PgtableError::Conflict { va, level, old, new } => write!(
                f,
                "va {va:#x}: level {level} entry {old:#018x} would be overwritten by {new:#018x}"
            ),
            PgtableError::NotMapped { va } => write!(f, "va {va:#x} is not mapped"),
        }
    }
}
