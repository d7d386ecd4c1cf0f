//! setup_arch glue: the machine facts the platform-independent `of` and `mm` code needs
//! (physical address size) and the one memblock instance.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::mm::memblock::Memblock;

crate::arch::__init! {
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
}

static mut MEMBLOCK: Memblock = Memblock::new();
crate::arch::__init! {
    static MEMBLOCK_TAKEN: AtomicBool = AtomicBool::new(false);
}

crate::arch::__init! {
/// The kernel's memblock, handed out exactly once (to `start_kernel`, which passes it down).
pub fn take_memblock() -> &'static mut Memblock {
    assert!(!MEMBLOCK_TAKEN.swap(true, Ordering::AcqRel), "memblock taken twice");
    // SAFETY: the flag above guarantees this is the only reference ever created.
    unsafe { &mut *core::ptr::addr_of_mut!(MEMBLOCK) }
}
}
