//! Linux 6.1's `swiotlb_init` (kernel/dma/swiotlb.c, `swiotlb_init_remap`) as arm64's
//! `mem_init` calls it: when RAM reaches past what DMA can address (`max_pfn` above
//! `arm64_dma_phys_limit`) or `swiotlb=force` asks, a bounce buffer is taken from memblock
//! below the DMA limit (`memblock_alloc_low`) before `memblock_free_all`, so its pages stay
//! reserved and the `Memory:` line counts them as such.
//!
//! This kernel drives no DMA device, so the buffer is only placed and accounted; the slot
//! metadata Linux allocates beside it (`mem->slots`, `mem->areas`) is not.

use core::fmt;

use crate::mm::memblock::{Memblock, MEMBLOCK_LOW_LIMIT, NUMA_NO_NODE};
use crate::mm::{PhysAddr, PAGE_SIZE};

/// `IO_TLB_SHIFT`: a slab is 2 KiB.
pub const IO_TLB_SHIFT: u32 = 11;
/// `IO_TLB_SEGSIZE`: `swiotlb=N` is rounded up to a multiple of this many slabs.
pub const IO_TLB_SEGSIZE: u64 = 128;
/// `IO_TLB_MIN_SLABS`: 1 MiB of slabs, the smallest buffer a failed allocation halves to.
pub const IO_TLB_MIN_SLABS: u64 = (1 << 20) >> IO_TLB_SHIFT;
/// `IO_TLB_DEFAULT_SIZE`: 64 MiB.
pub const IO_TLB_DEFAULT_SIZE: u64 = 64 << 20;

/// What `swiotlb=` asked for (`setup_io_tlb_npages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwiotlbParams {
    /// `swiotlb=N`: slabs, rounded up to [`IO_TLB_SEGSIZE`].
    pub nslabs: Option<u64>,
    /// `,force`: bounce even when not needed.
    pub force: bool,
    /// `,noforce`: never set up.
    pub noforce: bool,
}

impl SwiotlbParams {
    /// Linux's `setup_io_tlb_npages`: `[N][,M][,force|noforce]`, N slabs (decimal, or `0x`
    /// hex, as `simple_strtoul(.., 0)`), M areas (accepted, and left to the CPU count here).
    pub fn parse(value: &str) -> SwiotlbParams {
        let mut p = SwiotlbParams::default();
        let mut s = value;
        let number = |s: &str| -> (Option<u64>, usize) {
            let (radix, digits) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => (16, h),
                None => (10, s),
            };
            let n = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
            let skip = s.len() - digits.len() + n;
            (u64::from_str_radix(&digits[..n], radix).ok(), skip)
        };
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            let (n, used) = number(s);
            p.nslabs = n.map(|n| n.next_multiple_of(IO_TLB_SEGSIZE));
            s = &s[used..];
        }
        s = s.strip_prefix(',').unwrap_or(s);
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            s = &s[number(s).1..];
        }
        s = s.strip_prefix(',').unwrap_or(s);
        match s {
            "force" => p.force = true,
            "noforce" => p.noforce = true,
            _ => {}
        }
        p
    }
}

/// The bounce buffer as placed: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoTlb {
    pub start: PhysAddr,
    pub end: PhysAddr,
    pub nslabs: u64,
}

/// `swiotlb_init(addressing_limit, SWIOTLB_VERBOSE)`: allocate the buffer below
/// `dma_phys_limit` (exclusive; `ARCH_LOW_ADDRESS_LIMIT` is one less) when `addressing_limit`
/// or `force`, unless `noforce`; print Linux's lines (`area num` from
/// `swiotlb_adjust_nareas` for `nr_cpus` possible CPUs, rounded up to a power of two; then
/// `mapped [mem ...] (NMB)` or the allocation failures, each halving the buffer).
pub fn swiotlb_init(
    mb: &mut Memblock,
    addressing_limit: bool,
    params: &SwiotlbParams,
    nr_cpus: u32,
    dma_phys_limit: u64,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Option<IoTlb> {
    if (!addressing_limit && !params.force) || params.noforce {
        return None;
    }
    let nareas = nr_cpus.max(1).next_power_of_two();
    out(format_args!("software IO TLB: area num {nareas}."));
    let mut nslabs = params.nslabs.unwrap_or(IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT);
    // swiotlb_adjust_nareas: at least one segment per area.
    if u64::from(nareas) * IO_TLB_SEGSIZE > nslabs {
        nslabs = u64::from(nareas) * IO_TLB_SEGSIZE;
        out(format_args!("software IO TLB: SWIOTLB bounce buffer size roundup to {}MB", (nslabs << IO_TLB_SHIFT) >> 20));
    }
    // swiotlb_memblock_alloc, halving the buffer on failure down to IO_TLB_MIN_SLABS (6.1.y
    // has this from "swiotlb: reduce the swiotlb buffer size on allocation failure").
    let default_nslabs = nslabs;
    let low_limit = PhysAddr(dma_phys_limit.saturating_sub(1));
    let (start, bytes) = loop {
        let bytes = (nslabs << IO_TLB_SHIFT).next_multiple_of(PAGE_SIZE);
        // memblock_alloc_low: zeroed in Linux; nothing here reads or writes it, so it is left as is.
        match mb.alloc_try_nid(bytes, PAGE_SIZE, MEMBLOCK_LOW_LIMIT, low_limit, NUMA_NO_NODE, |_, _| {}) {
            Ok(start) => break (start, bytes),
            Err(_) => {
                out(format_args!("software IO TLB: swiotlb_memblock_alloc: Failed to allocate {bytes} bytes tlb structure"));
                if nslabs <= IO_TLB_MIN_SLABS {
                    return None;
                }
                nslabs = (nslabs >> 1).next_multiple_of(IO_TLB_SEGSIZE);
            }
        }
    };
    if nslabs != default_nslabs {
        out(format_args!("software IO TLB: SWIOTLB bounce buffer size adjusted {default_nslabs} -> {nslabs} slabs"));
    }
    let tlb = IoTlb { start, end: start + bytes, nslabs };
    out(format_args!(
        "software IO TLB: mapped [mem {:#018x}-{:#018x}] ({}MB)",
        tlb.start.0,
        tlb.end.0,
        (nslabs << IO_TLB_SHIFT) >> 20
    ));
    Some(tlb)
}

#[cfg(test)]
mod tests;
