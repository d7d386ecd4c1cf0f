//! Device drivers: the PL011 console and the consumers of reserved memory.
//!
//! The reserved-memory hooks are platform-independent, so they also build for the host, where
//! the kernel binary is the dry-run (`cargo xtask memmap`) and gathers them the same way.
//!
//! With `arch`, this is the only layer allowed `unsafe` (register blocks, linker sections),
//! under the same rules: a `// SAFETY:` line over each block, a `# Safety` section on each
//! `unsafe fn`.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod demo_carveout;
#[cfg(target_os = "none")]
pub mod pl011;

use kernel::of::reserved_mem::ReservedMemOfId;

// Linux's kernel/dma "shared-dma-pool" hooks (CMA first, then the coherent pool).
kernel::reservedmem_of_declare!(
    SHARED_DMA_POOL,
    "shared-dma-pool",
    kernel::of::reserved_mem::shared_dma_pool_setup
);

extern "C" {
    // Bounds of the `__reservedmem_of_table` section: linker.ld defines them for the kernel,
    // and ELF linkers define `__start_`/`__stop_` symbols for such a section on the host.
    static __start___reservedmem_of_table: u8;
    static __stop___reservedmem_of_table: u8;
}

/// Every `reservedmem_of_declare!` entry, in link order.
pub fn reservedmem_hooks() -> &'static [ReservedMemOfId] {
    // Only `ReservedMemOfId` statics (8-byte aligned, size a multiple of 8) are placed in the
    // section, so the bytes between the two symbols are an array of initialised entries.
    // SAFETY: and they are read-only for the program's life.
    unsafe {
        let start = core::ptr::addr_of!(__start___reservedmem_of_table) as *const ReservedMemOfId;
        let end = core::ptr::addr_of!(__stop___reservedmem_of_table) as *const ReservedMemOfId;
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    }
}
