//! The memory part of arm64's `setup_arch`, in Linux 6.1's order, on explicit inputs:
//! `setup_machine_fdt` (reserve the blob, scan root, /chosen and memory), `parse_early_param`,
//! `arm64_memblock_init` (physical-size and linear-map clipping, `mem=`, initrd, kernel image,
//! `early_init_fdt_scan_reserved_mem`), and later `bootmem_init`.
//!
//! The boot and the host dry-run (`cargo xtask memmap`, [`dryrun`]) both call
//! [`setup_arch_memory`] and [`bootmem_init`], so the two print the same lines for the same
//! tree. The NUMA step is `mm::numa` fed by `of::numa`; this file only keeps the order.

use crate::arm64::ARM64_4K_48;
use crate::cmdline::{EarlyLine, EarlyParams};
use crate::mm::cma::{CmaAreas, CMA_SIZE_MBYTES};
use crate::mm::crashkernel::{self, Crashkernel};
use crate::mm::buddy::{BuddyError, FreePageLinks, Memmap, NodeData, Zones};
use crate::mm::init::{alloc_memmaps, memblock_free_all, NodeMemmap};
use crate::mm::memblock::{Memblock, MAX_NUMNODES};
use crate::mm::numa::{self, NumaNodes};
use crate::mm::params::MemoryParams;
use crate::mm::swiotlb::{swiotlb_init, SwiotlbParams};
use crate::mm::zone_sizes::{self, KernelSections, MemCounts, NodeZones};
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::of::{self, chosen};
use crate::of::fdt::Fdt;
use crate::of::{cells::Cells, fdt_scan};
use crate::of::reserved_mem::{self, HookEnv, ReservedMemOfId, ReservedMemTable};
use crate::{error, info, trace, warn};

/// The architecture's memory parameters, which this file hands to `mm`.
const ARCH: &MemoryParams = &ARM64_4K_48;

/// What the kernel knows about itself and the blob it was handed.
#[derive(Clone, Copy, Debug)]
pub struct BootInputs {
    /// `[base, base + totalsize)` of the DTB.
    pub dtb: (PhysAddr, u64),
    /// `[_stext, _end)`: what the kernel reserves for itself (`_text`, where the loader put
    /// the image, is [`TEXT_TO_STEXT`](crate::arm64::TEXT_TO_STEXT) below).
    pub kernel: (PhysAddr, PhysAddr),
    /// The CPU's physical address size in bits.
    pub phys_addr_bits: u32,
    /// `[start, end)` of an initrd that replaces what `/chosen` says (the dry-run's `--initrd`).
    pub initrd_override: Option<(PhysAddr, PhysAddr)>,
}

/// What `setup_machine_fdt` learnt.
#[derive(Clone, Copy, Debug)]
pub struct MachineFdt {
    pub cells: Cells,
    pub initrd: Option<(PhysAddr, PhysAddr)>,
    /// `/chosen/linux,elfcorehdr`: `(address, size)`.
    pub elfcorehdr: Option<(u64, u64)>,
}

/// `setup_machine_fdt` + `early_init_dt_scan_nodes` (root cells, /chosen, memory nodes,
/// `linux,usable-memory-range`): runs before `parse_early_param`, so none of this shows in
/// `memblock=debug` output, as in Linux.
pub fn setup_machine_fdt(fdt: &Fdt, mb: &mut Memblock, inputs: &BootInputs) -> MachineFdt {
    let _ = mb.reserve(inputs.dtb.0, inputs.dtb.1);
    let cells = fdt_scan::scan_root(fdt);
    let initrd = inputs.initrd_override.or_else(|| chosen::initrd(fdt)).filter(|(s, e)| s <= e);
    if let Some((start, end)) = initrd {
        trace!("OF: fdt: initrd_start=0x{:x}  initrd_end=0x{:x}", start.0, end.0);
    }
    let elfcorehdr = chosen::elfcorehdr(fdt, cells);
    if let Some((addr, size)) = elfcorehdr {
        trace!("OF: fdt: elfcorehdr_start=0x{addr:x} elfcorehdr_size=0x{size:x}");
    }
    fdt_scan::scan_memory(fdt, cells, mb);
    // early_init_dt_check_for_usable_mem_range: keep the first range, add the others.
    let usable = chosen::usable_memory_ranges(fdt, cells);
    if usable[0].1 != 0 {
        for (i, (base, size)) in usable.iter().enumerate().filter(|(_, r)| r.1 != 0) {
            trace!("OF: fdt: cap_mem_regions[{i}]: base=0x{base:016x}, size=0x{size:016x}");
        }
        mb.cap_memory_range(PhysAddr(usable[0].0), usable[0].1);
        for &(base, size) in usable[1..].iter().filter(|r| r.1 != 0) {
            let _ = mb.add(PhysAddr(base), size);
        }
    }
    MachineFdt { cells, initrd, elfcorehdr }
}

/// `setup_arch` up to `paging_init`: `setup_machine_fdt` and the machine model line,
/// `parse_early_param` (the lines it prints, in command-line order; `memblock=debug`, `mem=`), `efi_init`'s
/// line, then `arm64_memblock_init`. Returns what later steps need.
pub fn setup_arch_memory<'a>(
    fdt: &Fdt<'a>,
    mb: &mut Memblock,
    inputs: &BootInputs,
    params: &EarlyParams,
    early_lines: &[Option<EarlyLine>],
    hooks: &[ReservedMemOfId],
) -> (MachineFdt, ReservedMemTable<'a>) {
    let mut machine = setup_machine_fdt(fdt, mb, inputs);
    // `initrd=`/`initrdmem=`, parsed after the tree, set the same phys_initrd_start and size.
    if let Some((start, size)) = params.initrd {
        machine.initrd = Some((PhysAddr(start), PhysAddr(start.saturating_add(size))));
    }
    // `elfcorehdr=` likewise sets elfcorehdr_addr, and its size when it gives one.
    if let Some((addr, size)) = params.elfcorehdr {
        let size = size.or(machine.elfcorehdr.map(|(_, s)| s)).unwrap_or(0);
        machine.elfcorehdr = Some((addr, size));
    }
    // Linux's setup_machine_fdt prints nothing when the root has neither.
    if let Some(model) = chosen::machine_name(fdt) {
        info!("Machine model: {model}");
    }
    for line in early_lines.iter().flatten() {
        line.print();
    }
    mb.set_debug(params.memblock_debug);
    // efi_init, between parse_early_param and arm64_memblock_init. This kernel boots from a
    // device tree only: where Linux would go on through UEFI, it says that it does not.
    match chosen::uefi_params(fdt) {
        chosen::UefiParams::NotFound => info!("efi: UEFI not found."),
        chosen::UefiParams::Missing(p) => error!("efi: Can't find property '{p}' in DT!"),
        chosen::UefiParams::Found => {
            warn!("efi: /chosen describes a UEFI boot; this kernel takes memory from the device tree's memory nodes, not the UEFI memory map")
        }
    }
    let env = HookEnv { cma_cmdline: params.cma.is_some(), ..Default::default() };
    let reserved = arm64_memblock_init(fdt, mb, inputs, &machine, params.memory_limit, hooks, &env);
    (machine, reserved)
}

/// What `bootmem_init` set up for `mem_init`.
#[derive(Clone, Copy, Debug)]
pub struct Bootmem {
    /// Nodes and zones as `free_area_init` sized them.
    pub zones: NodeZones,
    /// Each node's memmap, placed in memblock (not yet mapped or zeroed).
    pub memmaps: [Option<NodeMemmap>; MAX_NUMNODES as usize],
    /// Each registered node's `NODE_DATA`, placed in memblock, and the node distances.
    pub numa: NumaNodes,
    /// `arm64_dma_phys_limit` (exclusive), which swiotlb stays below.
    pub dma_phys_limit: u64,
    /// `num_possible_cpus()`: 1 until [`smp_init_cpus`] counts them.
    pub nr_cpus: u32,
    /// The CMA areas: the reusable `shared-dma-pool` regions, then the default area.
    pub cma: CmaAreas,
    /// What `crashkernel=` reserved.
    pub crashkernel: Crashkernel,
}

/// `bootmem_init`: the NUMA step with each node's `NODE_DATA`, `cma_pernuma=`'s areas, the memmap (`sparse_init`), the zones (`zone_sizes_init`,
/// with its `Zone ranges` .. `Initmem setup node` lines), the default CMA area below the DMA
/// limit (`dma_contiguous_reserve`, of `cma=` or [`CMA_SIZE_MBYTES`]), `crashkernel=`'s
/// reservation, then `memblock_dump_all` (which prints with `memblock=debug`). `reserved` holds the CMA pools `/reserved-memory`
/// declared, which take their `cma_areas[]` slots first, as `rmem_cma_setup` runs earlier.
pub fn bootmem_init(fdt: &Fdt, mb: &mut Memblock, reserved: &ReservedMemTable, params: &EarlyParams) -> Bootmem {
    let numa = numa::arch_numa_init(mb, params.numa_off, &mut |mb, desc| of::numa::of_numa_init(fdt, mb, desc));
    // The /reserved-memory pools took their cma_areas[] slots in rmem_cma_setup, earlier.
    let mut areas = CmaAreas::default();
    let mut default_area = false;
    for r in reserved.iter().filter(|r| r.reusable && r.owner == Some("shared-dma-pool")) {
        let name = crate::mm::cma::CmaName::new(r.name, None);
        default_area |= areas.init_reserved_mem(mb, r.base, r.size, name).is_ok() && r.cma_default;
    }
    // arm64_hugetlb_cma_reserve: gigantic pages are PUD-sized, 1 GiB with 4 KiB pages.
    areas.hugetlb_cma_reserve(mb, &params.hugetlb_cma, numa.online(), 1 << 30);
    areas.dma_pernuma_cma_reserve(mb, params.cma_pernuma, numa.online().iter());
    let memmaps = alloc_memmaps(mb);
    let mut limits = zone_sizes::arm64_zone_limits(mb, ARCH, fdt_scan::dma_max_cpu_address(fdt));
    limits.movable = params.movable;
    let zones =
        zone_sizes::free_area_init(mb, &limits, numa.online(), &mut |line| info!("{line}"), &mut |line| trace!("{line}"));
    if !default_area {
        areas.dma_contiguous_reserve(mb, limits.dma_phys_limit, params.cma, CMA_SIZE_MBYTES << 20);
    }
    let crashkernel =
        crashkernel::reserve_crashkernel(mb, params.cmdline, limits.dma_phys_limit, 1 << ARCH.phys_mask_shift);
    mb.dump_all();
    Bootmem { zones, memmaps, numa, dma_phys_limit: limits.dma_phys_limit, nr_cpus: 1, cma: areas, crashkernel }
}

/// arm64's `smp_init_cpus`, at the end of setup_arch: its lines, and the possible CPUs kept
/// for swiotlb's areas (`boot_hwid`: the running CPU's MPIDR affinity; `nr_cpu_ids`: from
/// `nr_cpus=`).
pub fn smp_init_cpus(fdt: &Fdt, boot_hwid: u64, nr_cpu_ids: u32, bootmem: &mut Bootmem) {
    let report = &mut |level, args: core::fmt::Arguments<'_>| crate::printk::printk(level, args);
    bootmem.nr_cpus = fdt_scan::smp_init_cpus(fdt, boot_hwid, nr_cpu_ids, report);
}

/// `build_all_zonelists`, as `start_kernel` calls it after `setup_arch`.
pub fn build_all_zonelists(bootmem: &Bootmem) {
    let distance = |a, b| bootmem.numa.distance.get(a, b);
    zone_sizes::build_all_zonelists(&bootmem.zones, &distance, &mut |line| info!("{line}"));
}

/// `mem_init`: hand the free memory to the buddy allocator over the nodes' memmaps
/// (`memblock_free_all`) into `zones` (fresh, and large: the caller keeps it in place), then
/// print the `Memory:` line. `cma_pages` are the pages of the CMA areas (`totalcma_pages`),
/// reserved until CMA activates them. First, as arm64's `mem_init` does, `swiotlb_init` when
/// RAM ends above the DMA limit (or `swiotlb=force`): its buffer comes from memblock and stays
/// reserved; where it lies is returned, for the memory map (`memmap`).
pub fn mem_init<'a, L: FreePageLinks>(
    mb: &mut Memblock,
    bootmem: &Bootmem,
    memmaps: impl IntoIterator<Item = (i32, &'a mut NodeData<'a>, Memmap<'a>)>,
    zones: &mut Zones<'a, L>,
    sections: &KernelSections,
    cma_pages: u64,
    swiotlb: &SwiotlbParams,
) -> Result<Option<crate::mm::swiotlb::IoTlb>, BuddyError> {
    // max_pfn > PFN_DOWN(arm64_dma_phys_limit)
    let addressing_limit = mb.end_of_dram().pfn_down().0 > bootmem.dma_phys_limit / PAGE_SIZE;
    let io_tlb = swiotlb_init(mb, addressing_limit, swiotlb, bootmem.nr_cpus, bootmem.dma_phys_limit, &mut |line| info!("{line}"));
    let totalram = memblock_free_all(mb, zones, memmaps, &bootmem.zones)?;
    let counts = MemCounts {
        physpages: bootmem.zones.num_physpages(),
        nr_free_pages: zones.nr_free_pages(),
        totalram_pages: totalram,
        totalcma_pages: cma_pages,
    };
    zone_sizes::fmt_mem_init_info(&counts, sections, &mut |line| info!("{line}"));
    Ok(io_tlb)
}

/// `arm64_memblock_init`.
pub fn arm64_memblock_init<'a>(
    fdt: &Fdt<'a>,
    mb: &mut Memblock,
    inputs: &BootInputs,
    machine: &MachineFdt,
    memory_limit: Option<u64>,
    hooks: &[ReservedMemOfId],
    env: &HookEnv,
) -> ReservedMemTable<'a> {
    // Memory beyond what the kernel's page tables (PHYS_MASK_SHIFT) can address, silently as
    // Linux does (its memblock=debug line included); and beyond what the CPU can, which Linux
    // 6.1 keeps and faults on when it places a page table there: removed without a line.
    let _ = mb.remove(PhysAddr(1 << ARCH.phys_mask_shift), u64::MAX);
    if inputs.phys_addr_bits < ARCH.phys_mask_shift {
        let _ = mb.remove_quietly(PhysAddr(1 << inputs.phys_addr_bits), u64::MAX);
    }

    let memstart = crate::mm::paging::memstart(mb, ARCH);
    if mb.end_of_dram().0 - memstart.0 > ARCH.linear_region_size {
        warn!("Memory doesn't fit in the linear mapping, VA_BITS too small");
    }
    let linear_end = memstart.0.saturating_add(ARCH.linear_region_size).max(inputs.kernel.1 .0);
    let _ = mb.remove(PhysAddr(linear_end), u64::MAX);

    // The image goes back into memory from _text, as Linux's memblock_add(__pa_symbol(_text),
    // _end - _text); it is reserved from _stext below.
    if let Some(limit) = memory_limit {
        mb.mem_limit_remove_map(limit);
        let (stext, end) = inputs.kernel;
        let text = PhysAddr(stext.0.saturating_sub(crate::arm64::TEXT_TO_STEXT));
        let _ = mb.add(text, end - text);
    }

    // phys_initrd_size, end - start, is what 6.1 tests; the pages around it are what it
    // removes (clearing every flag), adds back and reserves.
    if let Some((start, end)) = machine.initrd.filter(|(start, end)| end > start) {
        let base = start.align_down(PAGE_SIZE);
        let size = initrd_pages_size(base, end);
        let dram = mb.start_of_dram();
        if base < dram || base.0 as u128 + size as u128 > dram.0.saturating_add(ARCH.linear_region_size) as u128 {
            warn!("initrd not fully accessible via the linear mapping -- please check your bootloader ...");
        } else {
            let _ = mb.remove(base, size);
            let _ = mb.add(base, size);
            let _ = mb.reserve(base, size);
        }
    }

    let (stext, end) = inputs.kernel;
    let _ = mb.reserve(stext, end - stext);

    let mut table = reserved_mem::scan(fdt, machine.cells, mb);
    // fdt_reserve_elfcorehdr, between the scan and the hooks.
    if let Some((addr, size)) = machine.elfcorehdr.filter(|&(_, size)| size != 0) {
        if mb.is_region_reserved(PhysAddr(addr), size) {
            warn!("OF: fdt: elfcorehdr is overlapped");
        } else {
            let _ = mb.reserve(PhysAddr(addr), size);
            info!("OF: fdt: Reserving {} KiB of memory at 0x{addr:x} for elfcorehdr", size >> 10);
        }
    }
    reserved_mem::init(fdt, machine.cells, mb, &mut table, hooks, env);
    table
}

/// The size of the initrd's pages from `base` (its start rounded down) to its end rounded up.
/// The ends come from /chosen (or --initrd): an end in the last page rounds up past 2^64, where
/// Linux's u64 sum wraps to a small size and reserves a bogus range. Here the size is then
/// 2^64 - 1, outside the linear map like any other: Linux's warning, no reservation.
fn initrd_pages_size(base: PhysAddr, end: PhysAddr) -> u64 {
    match end.0.checked_add(PAGE_SIZE - 1) {
        Some(e) => (e & !(PAGE_SIZE - 1)) - base.0,
        None => u64::MAX,
    }
}

/// `cma_init_reserved_areas` (a core_initcall, after the `Memory:` line): every CMA area
/// joins the buddy allocator as MIGRATE_CMA pageblocks, then the debug line with
/// `totalram_pages` after it. Returns the pages handed over.
pub fn cma_init_reserved_areas<L: FreePageLinks>(cma: &CmaAreas, zones: &mut Zones<'_, L>) -> u64 {
    let pages = cma.init_reserved_areas(zones);
    trace!("totalram_pages: {} after cma_init_reserved_areas (+{pages} CMA pages)", zones.totalram_pages());
    pages
}

pub mod dryrun;

#[cfg(test)]
#[path = "setup_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
mod linux_detail_tests;
