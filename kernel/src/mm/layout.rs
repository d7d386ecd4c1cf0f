//! The kernel's virtual address layout: arm64 Linux 6.1 with 4 KiB pages and VA_BITS = 48
//! (arch/arm64/include/asm/memory.h, without KASAN), and the conversions of the linear map.
//!
//! ```text
//! 0xffff000000000000  PAGE_OFFSET   linear map of all memory that is not NOMAP
//! 0xffff800000000000  PAGE_END      = MODULES_VADDR
//! 0xffff800008000000  MODULES_END   = KIMAGE_VADDR = VMALLOC_START: the kernel image
//! 0xfffffbfffdc00000  FIXADDR_START fixmap: the console and the device tree
//! 0xfffffbfffe000000  FIXADDR_TOP
//! 0xfffffc0000000000  VMEMMAP_START
//! ```

pub use crate::mm::pgtable::{phys_to_virt, virt_to_phys, PAGE_END, PAGE_OFFSET, VA_BITS};

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
    fn linear_map_round_trips() {
        let off = PhysAddr(0x4000_0000);
        assert_eq!(phys_to_virt(PhysAddr(0x4000_0000), off), PAGE_OFFSET);
        assert_eq!(phys_to_virt(PhysAddr(0x1_2345_6000), off), 0xffff_0000_e345_6000);
        assert_eq!(virt_to_phys(0xffff_0000_e345_6000, off), PhysAddr(0x1_2345_6000));
    }
}
