//! arm64's `zone_sizes_init` up to its call of `free_area_init`: the zones' upper limits
//! (`max_zone_phys`, `max_zone_pfns[]`) and `arm64_dma_phys_limit`, from the end of DRAM, the
//! device tree's `dma-ranges` and the architecture's [`MemoryParams`].

use crate::mm::addr::PAGE_SHIFT;
use crate::mm::memblock::Memblock;
use crate::mm::params::MemoryParams;

use super::MAX_NR_ZONES;

/// Linux's `fls64`: the 1-based index of the highest set bit, 0 for 0.
pub const fn fls64(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// The upper limits of the zones as page frame numbers (the `max_zone_pfns[]` that arm64's
/// `zone_sizes_init` hands to `free_area_init`), and `arm64_dma_phys_limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneLimits {
    /// `max_zone_pfns[ZONE_DMA]`.
    pub dma: u64,
    /// `max_zone_pfns[ZONE_DMA32]`.
    pub dma32: u64,
    /// `max_zone_pfns[ZONE_NORMAL]`: `max_pfn`.
    pub normal: u64,
    /// `arm64_dma_phys_limit` (exclusive physical address), used later for CMA and swiotlb.
    pub dma_phys_limit: u64,
    /// `kernelcore=`, `movablecore=`, `movable_node`: what shapes `ZONE_MOVABLE` (Linux
    /// keeps them in globals that `free_area_init` reads).
    pub movable: super::movable::MovableParams,
}

impl ZoneLimits {
    pub(super) fn max_zone_pfns(&self) -> [u64; MAX_NR_ZONES] {
        [self.dma, self.dma32, self.normal, 0]
    }
}

/// Linux arm64's `max_zone_phys`: the exclusive top of a zone reaching `zone_bits` of
/// address, clipped to the end of DRAM. When DRAM starts above 4 GiB the zone takes all of
/// it; when it starts above the `zone_bits` mask (but below 4 GiB), the zone reaches 4 GiB.
pub fn max_zone_phys(mb: &Memblock, zone_bits: u32) -> u64 {
    let mut zone_mask = if zone_bits >= 64 { u64::MAX } else { (1u64 << zone_bits) - 1 };
    let phys_start = mb.start_of_dram().0;
    if phys_start > u32::MAX as u64 {
        zone_mask = u64::MAX;
    } else if phys_start > zone_mask {
        zone_mask = u32::MAX as u64;
    }
    zone_mask.min(mb.end_of_dram().0.wrapping_sub(1)).wrapping_add(1)
}

/// arm64's `zone_sizes_init` up to the call of `free_area_init`.
///
/// `dt_dma_max_cpu_addr` is what `of_dma_get_max_cpu_address(NULL)` returns: the lowest
/// inclusive CPU-side end of any `dma-ranges` in the tree, or `None` where no node has one
/// (Linux then returns `PHYS_ADDR_MAX`). The ACPI IORT counterpart is `PHYS_ADDR_MAX` on a
/// device-tree boot. `zone_dma_bits` is the smallest of `params.zone_dma32_bits` (arm64: 32)
/// and the two `fls64` values, so without `dma-ranges` it is 32; on QEMU virt (RAM from 1 GiB)
/// `max_zone_phys(32)` is then `min(4 GiB - 1, end of DRAM - 1) + 1`, ZONE_DMA takes
/// everything below 4 GiB, and ZONE_DMA32, whose limit is the same `max_zone_phys(32)`, starts
/// where DMA ends: empty.
pub fn arm64_zone_limits(mb: &Memblock, params: &MemoryParams, dt_dma_max_cpu_addr: Option<u64>) -> ZoneLimits {
    let dma32_phys_limit = max_zone_phys(mb, params.zone_dma32_bits);
    let acpi_bits = fls64(u64::MAX);
    let dt_bits = fls64(dt_dma_max_cpu_addr.unwrap_or(u64::MAX));
    let zone_dma_bits = params.zone_dma32_bits.min(dt_bits).min(acpi_bits);
    let mut dma_phys_limit = max_zone_phys(mb, zone_dma_bits);
    let dma = dma_phys_limit >> PAGE_SHIFT;
    if dma_phys_limit == 0 {
        dma_phys_limit = dma32_phys_limit;
    }
    ZoneLimits {
        dma,
        dma32: dma32_phys_limit >> PAGE_SHIFT,
        // bootmem_init: max_pfn = PFN_DOWN(memblock_end_of_DRAM()).
        normal: mb.end_of_dram().pfn_down().0,
        dma_phys_limit,
        movable: Default::default(),
    }
}
