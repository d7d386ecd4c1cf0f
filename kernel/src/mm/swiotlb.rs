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

/// What `swiotlb=` set, as Linux keeps it: `default_nslabs`, `default_nareas` (0: none
/// given), `swiotlb_force_bounce` and `swiotlb_force_disable`. Each `swiotlb=` changes only
/// what it names, so a later one keeps what an earlier one set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwiotlbParams {
    /// Slabs of 2 KiB (64 MiB's worth unless `swiotlb=N` set it).
    pub nslabs: u64,
    /// Areas, a power of two once set; 0 until `swiotlb=N,M` sets it (then `swiotlb_init`
    /// takes the CPU count).
    pub nareas: u32,
    /// `force`: bounce even when not needed.
    pub force: bool,
    /// `noforce`: never set up.
    pub noforce: bool,
}

impl Default for SwiotlbParams {
    fn default() -> Self {
        SwiotlbParams { nslabs: IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT, nareas: 0, force: false, noforce: false }
    }
}

/// A line swiotlb prints while its parameters are adjusted (`swiotlb_adjust_nareas`): at the
/// option, when `swiotlb=N,M` names the areas; else in `swiotlb_init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwiotlbLine {
    /// `area num %d.`: the count goes through a C `int`.
    AreaNum(u32),
    /// The buffer grown to a power of two of slabs, at least one segment per area.
    Roundup { nslabs: u64 },
}

impl fmt::Display for SwiotlbLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SwiotlbLine::AreaNum(n) => write!(f, "software IO TLB: area num {}.", n as i32),
            SwiotlbLine::Roundup { nslabs } => {
                write!(f, "software IO TLB: SWIOTLB bounce buffer size roundup to {}MB", (nslabs << IO_TLB_SHIFT) >> 20)
            }
        }
    }
}

impl SwiotlbParams {
    /// One `swiotlb=` value on top of the defaults (see [`parse_into`](Self::parse_into)),
    /// its lines dropped.
    pub fn parse(value: &str) -> SwiotlbParams {
        let mut p = SwiotlbParams::default();
        p.parse_into(value, &mut |_| {});
        p
    }

    /// Linux's `setup_io_tlb_npages`: `[N][,M][,force|noforce]`. N slabs (`simple_strtoul`
    /// with base 0: hex after `0x`, octal after `0`), aligned up to [`IO_TLB_SEGSIZE`]; M
    /// areas, adjusted (and said) at once; then exactly `force` or `noforce`, or nothing.
    pub fn parse_into(&mut self, value: &str, out: &mut dyn FnMut(SwiotlbLine)) {
        use crate::cmdline::simple_strtoull;
        let mut s = value;
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            let n = simple_strtoull(s);
            // ALIGN on an unsigned long: wraps to 0 past 2^64 - 128.
            self.nslabs = n.value.wrapping_add(IO_TLB_SEGSIZE - 1) & !(IO_TLB_SEGSIZE - 1);
            s = n.rest;
        }
        s = s.strip_prefix(',').unwrap_or(s);
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            let n = simple_strtoull(s);
            // The count is passed on as an unsigned int.
            self.adjust_nareas(n.value as u32, out);
            s = n.rest;
        }
        s = s.strip_prefix(',').unwrap_or(s);
        match s {
            "force" => self.force = true,
            "noforce" => self.noforce = true,
            _ => {}
        }
    }

    /// `swiotlb_adjust_nareas`: 0 areas is 1, others round up to a power of two (in 32 bits,
    /// so past 2^31 to 0, as `roundup_pow_of_two` stored in an unsigned int); said; then
    /// `round_up_default_nslabs`: at least one segment per area, and a power of two of slabs.
    fn adjust_nareas(&mut self, nareas: u32, out: &mut dyn FnMut(SwiotlbLine)) {
        let nareas = match nareas {
            0 => 1,
            n => n.checked_next_power_of_two().unwrap_or(0),
        };
        self.nareas = nareas;
        out(SwiotlbLine::AreaNum(nareas));
        if nareas == 0 {
            return;
        }
        // IO_TLB_SEGSIZE * default_nareas is an unsigned int product.
        let floor = (IO_TLB_SEGSIZE as u32).wrapping_mul(nareas) as u64;
        if self.nslabs < floor {
            self.nslabs = floor;
        } else if self.nslabs.is_power_of_two() {
            return;
        }
        self.nslabs = self.nslabs.checked_next_power_of_two().unwrap_or(0);
        out(SwiotlbLine::Roundup { nslabs: self.nslabs });
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
/// `swiotlb_adjust_nareas` for `nr_cpus` possible CPUs when `swiotlb=` gave no area count;
/// then `mapped [mem ...] (NMB)` or the allocation failures, each halving the buffer).
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
    // The areas default to the possible CPUs when `swiotlb=` named none.
    let mut params = *params;
    if params.nareas == 0 {
        params.adjust_nareas(nr_cpus, &mut |line| out(format_args!("{line}")));
    }
    let mut nslabs = params.nslabs;
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
