//! The architecture's memory parameters, as the platform-independent core receives them.
//!
//! `mm` holds no architecture's numbers of its own: the functions that depend on them
//! (`paging_init`, `memstart`, `arm64_zone_limits`) take a [`MemoryParams`] value, and the
//! library's `arm64` module defines the one this kernel boots with (`ARM64_4K_48`, Linux 6.1
//! arm64 with 4 KiB pages and 48-bit virtual addresses), next to the virtual layout it belongs
//! to. This module must never hold such a value: a test states the parameters it runs with.

/// What an architecture tells the memory code about itself (Linux's names in backquotes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryParams {
    /// `PHYS_MASK_SHIFT`: the physical address bits the kernel's tables can map; memory
    /// above `1 << min(this, the CPU's PA bits)` is dropped by `arm64_memblock_init`.
    pub phys_mask_shift: u32,
    /// `ARM64_MEMSTART_ALIGN`: `memstart_addr` (`PHYS_OFFSET`) is the start of DRAM rounded
    /// down to this.
    pub memstart_align: u64,
    /// The size of the linear map: memory past `memstart_addr` plus this is dropped.
    pub linear_region_size: u64,
    /// The 32 of arm64's `zone_sizes_init`: the highest `zone_dma_bits` can be (the device
    /// tree's `dma-ranges` may lower it), and the address bits `ZONE_DMA32` reaches.
    pub zone_dma32_bits: u32,
    /// The fixmap slot of the early console (`FIX_EARLYCON_MEM_BASE`).
    pub fixmap_console: u64,
    /// The fixmap window of the device tree (`FIX_FDT`), above the console's slot.
    pub fixmap_fdt: u64,
}
