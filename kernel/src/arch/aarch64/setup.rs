//! setup_arch glue: the machine facts the platform-independent `of` and `mm` code needs
//! (physical address size, the kernel image, the hook table) and the one memblock instance.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::mm::memblock::Memblock;
use kernel::of::reserved_mem::ReservedMemOfId;

/// The physical address size from ID_AA64MMFR0_EL1.PARange, in bits.
pub fn phys_addr_bits() -> u32 {
    use aarch64_cpu::registers::{Readable, ID_AA64MMFR0_EL1};
    match ID_AA64MMFR0_EL1.get() & 0xf {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

static mut MEMBLOCK: Memblock = Memblock::new();
static MEMBLOCK_TAKEN: AtomicBool = AtomicBool::new(false);

/// The kernel's memblock, handed out exactly once (to `kernel_main`, which passes it down).
pub fn take_memblock() -> &'static mut Memblock {
    assert!(!MEMBLOCK_TAKEN.swap(true, Ordering::AcqRel), "memblock taken twice");
    // SAFETY: the flag above guarantees this is the only reference ever created.
    unsafe { &mut *core::ptr::addr_of_mut!(MEMBLOCK) }
}

extern "C" {
    static __reservedmem_of_table: u8;
    static __reservedmem_of_table_end: u8;
}

/// Every `reservedmem_of_declare!` entry, in link order (linker.ld keeps the section).
pub fn reservedmem_hooks() -> &'static [ReservedMemOfId] {
    // linker.ld places only `ReservedMemOfId` statics (8-byte aligned, size a multiple of 8)
    // between the two symbols.
    // SAFETY: so the range is an array of initialised entries, read-only for the kernel's life.
    unsafe {
        let start = core::ptr::addr_of!(__reservedmem_of_table) as *const ReservedMemOfId;
        let end = core::ptr::addr_of!(__reservedmem_of_table_end) as *const ReservedMemOfId;
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    }
}
