//! arm64 stage-1 translation table descriptors (4 KiB granule) and the kernel's protections.
//!
//! Bit names follow Linux's `arch/arm64/include/asm/pgtable-hwdef.h` (`PTE_VALID`,
//! `PTE_TABLE_BIT`, `PTE_AF`, …) and the protections its `asm/pgtable-prot.h` (`PAGE_KERNEL`,
//! `PAGE_KERNEL_RO`, `PAGE_KERNEL_ROX`, `PROT_DEVICE_nGnRE`). A [`Prot`] is, as Linux's
//! `pgprot_t`, the attribute bits of a level-3 *page* descriptor; a level-1/2 *block* descriptor
//! is the same with `PTE_TABLE_BIT` clear (Linux's `mk_pmd_sect_prot`/`mk_pud_sect_prot`).
//!
//! The memory attribute index refers to the MAIR_EL1 layout set up by `boot/head.S`, which
//! differs from Linux's numbering: 0 Device-nGnRE, 1 Normal write-back, 2 Normal non-cacheable.

/// Descriptor is valid (Linux's `PTE_VALID`).
pub const PTE_VALID: u64 = 1 << 0;
/// Bit 1: set in table and page descriptors, clear in block descriptors (`PTE_TABLE_BIT`).
pub const PTE_TABLE_BIT: u64 = 1 << 1;
/// Level 0-2 descriptor pointing to a next-level table (`PMD_TYPE_TABLE`).
pub const PMD_TYPE_TABLE: u64 = PTE_VALID | PTE_TABLE_BIT;
/// Level 1-2 block descriptor type (`PMD_TYPE_SECT`).
pub const PMD_TYPE_SECT: u64 = PTE_VALID;
/// Level 3 page descriptor type (`PTE_TYPE_PAGE`).
pub const PTE_TYPE_PAGE: u64 = PTE_VALID | PTE_TABLE_BIT;
/// Mask of the two type bits (`PMD_TYPE_MASK`).
pub const PMD_TYPE_MASK: u64 = 3;
/// Shift of AttrIndx[2:0], the MAIR_EL1 attribute index.
pub const PTE_ATTRINDX_SHIFT: u32 = 2;
/// AttrIndx field mask (`PTE_ATTRINDX_MASK`).
pub const PTE_ATTRINDX_MASK: u64 = 7 << PTE_ATTRINDX_SHIFT;
/// AP[1]: accessible from EL0 (`PTE_USER`); never set in kernel mappings.
pub const PTE_USER: u64 = 1 << 6;
/// AP[2]: read-only (`PTE_RDONLY`).
pub const PTE_RDONLY: u64 = 1 << 7;
/// SH[1:0] = 0b11, inner shareable (`PTE_SHARED`).
pub const PTE_SHARED: u64 = 3 << 8;
/// Access flag (`PTE_AF`); set up front, as hardware access-flag management is not used.
pub const PTE_AF: u64 = 1 << 10;
/// Not global (`PTE_NG`); not used by kernel mappings here.
pub const PTE_NG: u64 = 1 << 11;
/// Guarded page for BTI (`PTE_GP`); not used here.
pub const PTE_GP: u64 = 1 << 50;
/// Contiguous hint (`PTE_CONT`); not used here.
pub const PTE_CONT: u64 = 1 << 52;
/// Privileged execute-never (`PTE_PXN`).
pub const PTE_PXN: u64 = 1 << 53;
/// Unprivileged execute-never (`PTE_UXN`).
pub const PTE_UXN: u64 = 1 << 54;
/// UXNTable in a table descriptor (`PMD_TABLE_UXN`): nothing below is EL0-executable.
pub const PMD_TABLE_UXN: u64 = 1 << 60;
/// Output address bits [47:12] of a descriptor (`PTE_ADDR_MASK` for 48-bit PAs).
pub const PTE_ADDR_MASK: u64 = ((1 << 48) - 1) & !0xfff;

/// MAIR_EL1 index of Device-nGnRE memory (`boot/head.S` attr0; Linux's `MT_DEVICE_nGnRE`).
pub const MT_DEVICE_NGNRE: u64 = 0;
/// MAIR_EL1 index of Normal write-back memory (attr1; Linux's `MT_NORMAL`).
pub const MT_NORMAL: u64 = 1;
/// MAIR_EL1 index of Normal non-cacheable memory (attr2; Linux's `MT_NORMAL_NC`).
pub const MT_NORMAL_NC: u64 = 2;

/// The AttrIndx field for MAIR index `mt` (Linux's `PTE_ATTRINDX`).
pub const fn pte_attrindx(mt: u64) -> u64 {
    mt << PTE_ATTRINDX_SHIFT
}

/// Protection of a mapping: the attribute bits of a page descriptor (Linux's `pgprot_t`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prot(pub u64);

/// Linux's `PROT_DEFAULT` without `PTE_MAYBE_NG` (kernel mappings here are global).
const PROT_DEFAULT: u64 = PTE_TYPE_PAGE | PTE_AF | PTE_SHARED;
/// Linux's `PROT_NORMAL` without the software `PTE_WRITE` (DBM) bit.
const PROT_NORMAL: u64 = PROT_DEFAULT | PTE_PXN | PTE_UXN | pte_attrindx(MT_NORMAL);

impl Prot {
    /// Read-write, never executable, Normal memory (Linux's `PAGE_KERNEL`): the linear map,
    /// data and bss.
    pub const PAGE_KERNEL: Prot = Prot(PROT_NORMAL);
    /// Read-only, never executable (Linux's `PAGE_KERNEL_RO`): rodata.
    pub const PAGE_KERNEL_RO: Prot = Prot(PROT_NORMAL | PTE_RDONLY);
    /// Read-only, executable at EL1 only (Linux's `PAGE_KERNEL_ROX`): kernel text. It keeps
    /// `PTE_UXN`: EL0 never executes kernel text.
    pub const PAGE_KERNEL_ROX: Prot = Prot((PROT_NORMAL & !PTE_PXN) | PTE_RDONLY);
    /// Read-write, never executable, Device-nGnRE (Linux's `PROT_DEVICE_nGnRE`): MMIO.
    pub const PROT_DEVICE_NGNRE: Prot =
        Prot(PROT_DEFAULT | PTE_PXN | PTE_UXN | pte_attrindx(MT_DEVICE_NGNRE));

    /// The attributes of a leaf descriptor found at `level` (1-3), in page form: the output
    /// address is dropped and, for a block, `PTE_TABLE_BIT` is put back, so that a block and a
    /// page mapped with the same `Prot` compare equal.
    pub const fn from_leaf(desc: u64, level: usize) -> Prot {
        let attrs = desc & !PTE_ADDR_MASK;
        Prot(if level < 3 { attrs | PTE_TABLE_BIT } else { attrs })
    }

    /// The block descriptor for `pa` (Linux's `pfn_pmd(pfn, mk_pmd_sect_prot(prot))`).
    pub const fn block_desc(self, pa: u64) -> u64 {
        (pa & PTE_ADDR_MASK) | (self.0 & !PTE_TABLE_BIT)
    }

    /// The page descriptor for `pa` (Linux's `pfn_pte(pfn, prot)`).
    pub const fn page_desc(self, pa: u64) -> u64 {
        (pa & PTE_ADDR_MASK) | self.0 | PTE_TYPE_PAGE
    }

    /// Leaf descriptor for `pa` at `level`: a block at levels 1 and 2, a page at level 3.
    pub const fn leaf_desc(self, pa: u64, level: usize) -> u64 {
        if level < 3 {
            self.block_desc(pa)
        } else {
            self.page_desc(pa)
        }
    }

    /// Writable at EL1 (`PTE_RDONLY` clear).
    pub const fn is_writable(self) -> bool {
        self.0 & PTE_RDONLY == 0
    }

    /// Executable at EL1 (`PTE_PXN` clear).
    pub const fn is_kernel_exec(self) -> bool {
        self.0 & PTE_PXN == 0
    }

    /// Executable at EL0 (`PTE_UXN` clear); never true for the kernel's protections.
    pub const fn is_user_exec(self) -> bool {
        self.0 & PTE_UXN == 0
    }

    /// The MAIR_EL1 attribute index.
    pub const fn attr_index(self) -> u64 {
        (self.0 & PTE_ATTRINDX_MASK) >> PTE_ATTRINDX_SHIFT
    }
}

impl core::fmt::Debug for Prot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Prot({:#x})", self.0)
    }
}

/// The table descriptor pointing to `table` (Linux's `__pmd_populate(.., PMD_TYPE_TABLE |
/// PMD_TABLE_UXN)`). `PXNTable` is never set, so one table can hold executable and
/// non-executable leaves; the leaves' own `PTE_PXN` decides.
pub const fn table_desc(table: u64) -> u64 {
    (table & PTE_ADDR_MASK) | PMD_TYPE_TABLE | PMD_TABLE_UXN
}
