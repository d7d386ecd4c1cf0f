//! Deliberate faults for `selftest=`: each function makes one access the self-test expects
//! to fault, so that the exception report (`exception.rs`) runs and the machine stops. They
//! return only when the access did not fault, which the self-test then reports as a failure.

/// Read the byte at `va` (`selftest=nomap`: a NOMAP region's linear-map address).
pub fn read_u8(va: u64) -> u8 {
    // SAFETY: deliberately unsound: the address is not mapped, the read must fault.
    unsafe { core::ptr::read_volatile(va as *const u8) }
}

/// Read the 8 bytes at `va` (`selftest=fault`: an address nothing maps).
pub fn read_u64(va: u64) -> u64 {
    // SAFETY: deliberately unsound: the read must fault and end in the report.
    unsafe { core::ptr::read_volatile(va as *const u64) }
}

/// Write `word` over the kernel text at `va` (`selftest=wx`), which is mapped read-only.
pub fn write_text(va: u64, word: u32) {
    let l = super::image::layout();
    assert!((l.stext..l.etext).contains(&va), "{va:#x} is not kernel text");
    // SAFETY: deliberately unsound: text is read-only, the write must fault.
    unsafe { core::ptr::write_volatile(va as *mut u32, word) };
}

crate::arch::__init! {
/// An init function (`selftest=initmem`): it returns its argument plus one while the init
/// sections are mapped; after `free_initmem` the call itself must fault.
#[inline(never)]
pub fn init_text_probe(x: u64) -> u64 {
    core::hint::black_box(x) + 1
}
}
