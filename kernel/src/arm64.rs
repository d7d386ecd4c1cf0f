//! The arm64 facts the kernel boots with, in one place: Linux 6.1 arm64 with 4 KiB pages and
//! VA_BITS = 48 (arch/arm64/include/asm/memory.h, without KASAN): the memory parameters the
//! platform-independent core receives ([`ARM64_4K_48`], handed to `mm` as a value), and the
//! kernel's virtual address layout with the conversions of the linear map.
//!
//! ```text
//! 0xffff000000000000  PAGE_OFFSET   linear map of all memory that is not NOMAP
//! 0xffff800000000000  PAGE_END      = MODULES_VADDR
//! 0xffff800008000000  MODULES_END   = KIMAGE_VADDR = VMALLOC_START: the kernel image
//! 0xfffffbfffdc00000  FIXADDR_START fixmap: the console and the device tree
//! 0xfffffbfffe000000  FIXADDR_TOP
//! 0xfffffc0000000000  VMEMMAP_START
//! ```
//!
//! The values live here, in the library, not in the binary's `arch/aarch64`, because the
//! host dry-run and the host tests of `setup` need the same numbers as the boot; `mm` never
//! imports this module (`setup` and the binary pass the values in). The page-table format
//! itself (`mm::pgtable`: descriptors, four levels, `PAGE_OFFSET`) stays in `mm`: it is data
//! the host tests build and walk.

use crate::mm::params::MemoryParams;

pub use crate::mm::pgtable::{phys_to_virt, virt_to_phys, PAGE_END, PAGE_OFFSET, VA_BITS};

/// Linux 6.1 arm64, 4 KiB pages, 48-bit VAs, as Debian builds it.
pub const ARM64_4K_48: MemoryParams = MemoryParams {
    // 48-bit physical addresses without LPA.
    phys_mask_shift: 48,
    // ARM64_MEMSTART_ALIGN with 4 KiB pages: the linear map starts on a 1 GiB boundary.
    memstart_align: 1 << 30,
    // The linear region of a 48-bit VA kernel: half the kernel VA space, PAGE_END - PAGE_OFFSET.
    linear_region_size: PAGE_END - PAGE_OFFSET,
    // zone_sizes_init: zone_dma_bits = min3(32, dt, acpi); max_zone_phys(32) for DMA32.
    zone_dma32_bits: 32,
    fixmap_console: FIXMAP_CONSOLE,
    fixmap_fdt: FIXMAP_FDT,
};

/// Linux's `SEGMENT_ALIGN` between `_text` (the image's first byte, its header) and `_stext`
/// (linker.ld lays the image out the same way): the kernel is reserved from `_stext`, but
/// `mem=` gives back memory from `_text`.
pub const TEXT_TO_STEXT: u64 = 0x10000;

pub const MODULES_VADDR: u64 = PAGE_END;
pub const MODULES_END: u64 = MODULES_VADDR + (128 << 20);
/// Where the kernel image is linked (linker.ld says the same).
pub const KIMAGE_VADDR: u64 = MODULES_END;
pub const VMALLOC_START: u64 = MODULES_END;
/// `VMEMMAP_START`: `-(1 << (VA_BITS - VMEMMAP_SHIFT))`, VMEMMAP_SHIFT = PAGE_SHIFT - 6 (a
/// 64-byte `struct page`).
pub const VMEMMAP_START: u64 = 0u64.wrapping_sub(1 << (VA_BITS - (12 - 6)));
/// `FIXADDR_TOP`: 32 MiB below the vmemmap (where PCI I/O space sits in Linux).
pub const FIXADDR_TOP: u64 = 0xffff_fbff_fe00_0000;
/// Our fixmap: 4 MiB, enough for a 2 MiB device tree at any page offset plus the console.
pub const FIXADDR_SIZE: u64 = 4 << 20;
pub const FIXADDR_START: u64 = FIXADDR_TOP - FIXADDR_SIZE;
/// The fixmap slot of the early console (Linux's `FIX_EARLYCON_MEM_BASE`): one page.
pub const FIXMAP_CONSOLE: u64 = FIXADDR_START;
/// The fixmap window of the device tree (Linux's `FIX_FDT`): from the second 2 MiB block.
pub const FIXMAP_FDT: u64 = FIXADDR_START + (2 << 20);

/// The markers Linux's ptdump prints between the ranges (`address_markers[]`).
pub const PTDUMP_MARKERS: [(u64, &str); 8] = [
    (PAGE_OFFSET, "Linear Mapping start"),
    (PAGE_END, "Linear Mapping end"),
    (MODULES_VADDR, "Modules start"),
    (MODULES_END, "Modules end"),
    (VMALLOC_START, "vmalloc() area"),
    (FIXADDR_START, "Fixmap start"),
    (FIXADDR_TOP, "Fixmap end"),
    (VMEMMAP_START, "vmemmap start"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::PhysAddr;

    #[test]
    fn constants_are_linux_6_1_for_48_bit_vas() {
        assert_eq!(PAGE_OFFSET, 0xffff_0000_0000_0000);
        assert_eq!(PAGE_END, 0xffff_8000_0000_0000);
        assert_eq!(KIMAGE_VADDR, 0xffff_8000_0800_0000);
        assert_eq!(VMEMMAP_START, 0xffff_fc00_0000_0000);
        assert_eq!(FIXADDR_START, 0xffff_fbff_fdc0_0000);
    }

    #[test]
    fn memory_params_are_linux_6_1_arm64_4k_48() {
        // PHYS_MASK_SHIFT is CONFIG_ARM64_PA_BITS = 48; ARM64_MEMSTART_ALIGN is
        // SZ_1G with 4 KiB pages (the PUD size); the linear region is 1 << (VA_BITS - 1) =
        // 128 TiB; the fixmap's console slot is FIXADDR_START, the blob's window 2 MiB above.
        let p = ARM64_4K_48;
        assert_eq!((p.phys_mask_shift, p.memstart_align, p.linear_region_size), (48, 1 << 30, 1 << 47));
        assert_eq!(p.zone_dma32_bits, 32);
        assert_eq!((p.fixmap_console, p.fixmap_fdt), (0xffff_fbff_fdc0_0000, 0xffff_fbff_fde0_0000));
    }

    #[test]
    fn linear_map_round_trips() {
        let off = PhysAddr(0x4000_0000);
        assert_eq!(phys_to_virt(PhysAddr(0x4000_0000), off), PAGE_OFFSET);
        assert_eq!(phys_to_virt(PhysAddr(0x1_2345_6000), off), 0xffff_0000_e345_6000);
        assert_eq!(virt_to_phys(0xffff_0000_e345_6000, off), PhysAddr(0x1_2345_6000));
    }
}
