//! AArch64: the assembly entry, CPU identification, the generic timer, PSCI, the early
//! identity map and the exception vectors with their fault reports.

use core::arch::global_asm;

pub mod cpu;
pub mod exception;
pub mod idmap;
pub mod linear;
pub mod mmu;
pub mod provoke;
pub mod psci;
pub mod setup;
pub mod timer;

// The Image header, EL2 -> EL1, BSS, identity map, MMU on, exception vectors.
global_asm!(include_str!("../../../../boot/head.S"));
// memset and memcpy, 64 bytes a turn.
global_asm!(include_str!("../../../../boot/string.S"));

/// Where `boot/head.S` calls into Rust: `start_kernel` with the DTB's physical address (`x0`
/// at entry) and the exception level the loader entered at.
#[no_mangle]
extern "C" fn kernel_main(dtb_pa: u64, entry_el: u64) -> ! {
    crate::start_kernel(dtb_pa, entry_el)
}

/// The kernel image as the linker placed it.
pub mod image {
    use kernel::mm::PhysAddr;

    extern "C" {
        static _stext: u8;
        static _etext: u8;
        static __start_rodata: u8;
        static __end_rodata: u8;
        static __init_begin: u8;
        static _sinittext: u8;
        static _einittext: u8;
        static __initdata_begin: u8;
        static __init_end: u8;
        static _sdata: u8;
        static _edata: u8;
        static __bss_start: u8;
        static __bss_stop: u8;
        static stack_guard: u8;
        static boot_stack: u8;
        static boot_stack_top: u8;
        static _end: u8;
    }

    extern "C" {
        /// Set by head.S once running at the link address: virtual minus physical.
        static kimage_voffset: u64;
    }

    /// Linux's `kimage_voffset`.
    pub fn voffset() -> u64 {
        // SAFETY: written once by head.S before any Rust code runs, never again.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!(kimage_voffset)) }
    }

    /// `__pa_symbol`: the physical address of a kernel-image address.
    pub fn pa_symbol(va: u64) -> PhysAddr {
        PhysAddr(va - voffset())
    }

    /// The linker's section boundaries, as link (virtual) addresses.
    #[derive(Clone, Copy, Debug)]
    pub struct Layout {
        pub stext: u64,
        pub etext: u64,
        pub start_rodata: u64,
        pub end_rodata: u64,
        /// `[init_begin, init_end)`: the init sections, page aligned; the text in
        /// `[sinittext, einittext)`, the data from `initdata_begin` (page aligned).
        pub init_begin: u64,
        pub sinittext: u64,
        pub einittext: u64,
        pub initdata_begin: u64,
        pub init_end: u64,
        pub sdata: u64,
        pub edata: u64,
        pub bss_start: u64,
        pub bss_stop: u64,
        /// The unmapped page below the boot stack, then the stack itself.
        pub stack_guard: u64,
        pub stack: u64,
        pub stack_top: u64,
        pub end: u64,
    }

    pub fn layout() -> Layout {
        let a = |s: &u8| s as *const u8 as u64;
        // SAFETY: only the addresses of the linker's symbols are taken, never their bytes.
        unsafe {
            Layout {
                stext: a(&_stext),
                etext: a(&_etext),
                start_rodata: a(&__start_rodata),
                end_rodata: a(&__end_rodata),
                init_begin: a(&__init_begin),
                sinittext: a(&_sinittext),
                einittext: a(&_einittext),
                initdata_begin: a(&__initdata_begin),
                init_end: a(&__init_end),
                sdata: a(&_sdata),
                edata: a(&_edata),
                bss_start: a(&__bss_start),
                bss_stop: a(&__bss_stop),
                stack_guard: a(&stack_guard),
                stack: a(&boot_stack),
                stack_top: a(&boot_stack_top),
                end: a(&_end),
            }
        }
    }

    /// `[_stext, _end)`: what Linux's `arm64_memblock_init` reserves for the kernel (the
    /// 64 KiB from `_text`, the header, are not reserved).
    pub fn range() -> (PhysAddr, PhysAddr) {
        let l = layout();
        (pa_symbol(l.stext), pa_symbol(l.end))
    }
}

crate::arch::__init! {
/// The device tree the loader passed in x0: header validated, parsed, and checked to
/// describe some memory (`of::header::open`).
pub fn early_fdt(pa: kernel::mm::PhysAddr) -> Result<kernel::of::fdt::Fdt<'static>, kernel::of::DtbError> {
    use kernel::of::header::{open, FDT_HEADER_SIZE};
    let kernel = image::range();
    if pa.0 == 0 || !pa.is_aligned(8) {
        // Nothing to read: let validation name the problem without touching memory.
        return open(pa, &[0; FDT_HEADER_SIZE], |_| None, kernel);
    }
    // head.S identity-mapped the 4 MiB from the 2 MiB block containing `pa` as normal memory.
    // SAFETY: `pa` is 8-byte aligned and inside that mapping, so the 40 header bytes are readable.
    let header = unsafe { &*(pa.0 as *const [u8; FDT_HEADER_SIZE]) };
    open(pa, header, |totalsize| {
        // Validation bounded totalsize by 2 MiB, which lies inside the same mapped 4 MiB.
        // SAFETY: the whole blob is mapped, and nothing writes to it while the kernel runs.
        Some(unsafe { core::slice::from_raw_parts(pa.0 as *const u8, totalsize) })
    }, kernel)
}
}
