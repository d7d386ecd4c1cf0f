//! The memory part of arm64's `setup_arch`, in Linux 6.1's order, on explicit inputs:
//! `setup_machine_fdt` (reserve the blob, scan root, /chosen and memory), `parse_early_param`,
//! `arm64_memblock_init` (physical-size and linear-map clipping, `mem=`, initrd, kernel image,
//! `early_init_fdt_scan_reserved_mem`), and later `bootmem_init`.
//!
//! The boot and the host dry-run (`cargo xtask memmap`) both call [`setup_arch_memory`] and
//! [`bootmem_init`], so the two print the same lines for the same tree.

use crate::cmdline::{EarlyParams, Malformed};
use crate::mm::buddy::{BuddyError, FreePageLinks, Memmap, NodeData, Zones};
use crate::mm::init::{alloc_memmaps, memblock_free_all, NodeMemmap};
use crate::mm::memblock::{Memblock, MAX_NUMNODES};
use crate::mm::zone::{self, KernelSections, MemCounts, NodeZones};
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::of::chosen;
use crate::of::fdt::Fdt;
use crate::of::{cells::Cells, fdt_scan};
use crate::of::reserved_mem::{self, ReservedMemOfId, ReservedMemTable};
use log::{error, info, trace, warn};

/// Linux arm64's `PHYS_MASK_SHIFT` (48-bit physical addresses without LPA).
pub const PHYS_MASK_SHIFT: u32 = 48;
/// `ARM64_MEMSTART_ALIGN` with 4 KiB pages: the linear map starts on a 1 GiB boundary.
pub const ARM64_MEMSTART_ALIGN: u64 = 1 << 30;
/// The linear region of a 48-bit VA kernel: half the kernel VA space.
pub const LINEAR_REGION_SIZE: u64 = 1 << 47;

/// What the kernel knows about itself and the blob it was handed.
#[derive(Clone, Copy, Debug)]
pub struct BootInputs {
    /// `[base, base + totalsize)` of the DTB.
    pub dtb: (PhysAddr, u64),
    /// `[_text, _end)`.
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
    fdt_scan::scan_memory(fdt, cells, mb, inputs.phys_addr_bits);
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
    MachineFdt { cells, initrd }
}

/// `setup_arch` up to `paging_init`: `setup_machine_fdt` and the machine model line,
/// `parse_early_param` (its malformed-option warnings, `memblock=debug`, `mem=`), then
/// `arm64_memblock_init`. Returns what later steps need.
pub fn setup_arch_memory<'a>(
    fdt: &Fdt<'a>,
    mb: &mut Memblock,
    inputs: &BootInputs,
    params: &EarlyParams,
    malformed: &[Option<Malformed>],
    hooks: &[ReservedMemOfId],
) -> (MachineFdt, ReservedMemTable<'a>) {
    let machine = setup_machine_fdt(fdt, mb, inputs);
    match chosen::machine_name(fdt) {
        Some(model) => info!("Machine model: {model}"),
        None => warn!("Machine model: unknown (no /model or /compatible)"),
    }
    for m in malformed.iter().flatten() {
        warn!("{m}");
    }
    mb.set_debug(params.memblock_debug);
    if let Some(limit) = params.memory_limit {
        info!("Memory limited to {}MB", limit >> 20);
    }
    let reserved = arm64_memblock_init(fdt, mb, inputs, &machine, params.memory_limit, hooks);
    (machine, reserved)
}

/// What `bootmem_init` set up for `mem_init`.
#[derive(Clone, Copy, Debug)]
pub struct Bootmem {
    /// Nodes and zones as `free_area_init` sized them.
    pub zones: NodeZones,
    /// Each node's memmap, placed in memblock (not yet mapped or zeroed).
    pub memmaps: [Option<NodeMemmap>; MAX_NUMNODES as usize],
    /// Each node's `NODE_DATA`, placed in memblock.
    pub node_data: [Option<PhysAddr>; MAX_NUMNODES as usize],
}

/// `bootmem_init`: the NUMA step with each node's `NODE_DATA`, the memmap (`sparse_init`), the zones (`zone_sizes_init`,
/// with its `Zone ranges` .. `Initmem setup node` lines), then `memblock_dump_all` (which
/// prints with `memblock=debug`).
pub fn bootmem_init(fdt: &Fdt, mb: &mut Memblock, machine: &MachineFdt) -> Bootmem {
    numa_init(fdt, mb, machine.cells);
    let node_data = register_nodes(mb);
    let memmaps = alloc_memmaps(mb);
    let limits = zone::arm64_zone_limits(mb, fdt_scan::dma_max_cpu_address(fdt));
    let zones = zone::free_area_init(mb, &limits, &mut |line| info!("{line}"));
    mb.dump_all();
    Bootmem { zones, memmaps, node_data }
}

/// `build_all_zonelists`, as `start_kernel` calls it after `setup_arch`.
pub fn build_all_zonelists(bootmem: &Bootmem) {
    zone::build_all_zonelists(&bootmem.zones, &zone::default_distance, &mut |line| info!("{line}"));
}

/// `mem_init`: hand the free memory to the buddy allocator over the nodes' memmaps
/// (`memblock_free_all`) into `zones` (fresh, and large: the caller keeps it in place), then
/// print the `Memory:` line. `cma_pages` are the pages of CMA pools, reserved until CMA
/// activates them.
pub fn mem_init<'a, L: FreePageLinks>(
    mb: &mut Memblock,
    bootmem: &Bootmem,
    memmaps: impl IntoIterator<Item = (i32, &'a mut NodeData<'a>, Memmap<'a>)>,
    zones: &mut Zones<'a, L>,
    sections: &KernelSections,
    cma_pages: u64,
) -> Result<(), BuddyError> {
    let totalram = memblock_free_all(mb, zones, memmaps, &bootmem.zones)?;
    let counts = MemCounts {
        physpages: bootmem.zones.num_physpages(),
        nr_free_pages: zones.nr_free_pages(),
        totalram_pages: totalram,
        totalcma_pages: cma_pages,
    };
    zone::fmt_mem_init_info(&counts, sections, &mut |line| info!("{line}"));
    Ok(())
}

/// Pages of the CMA pools the `shared-dma-pool` hook set up.
pub fn cma_pages(reserved: &ReservedMemTable) -> u64 {
    reserved.iter().filter(|r| r.reusable && r.owner == Some("shared-dma-pool")).map(|r| r.size / PAGE_SIZE).sum()
}

/// `arm64_memblock_init`.
pub fn arm64_memblock_init<'a>(
    fdt: &Fdt<'a>,
    mb: &mut Memblock,
    inputs: &BootInputs,
    machine: &MachineFdt,
    memory_limit: Option<u64>,
    hooks: &[ReservedMemOfId],
) -> ReservedMemTable<'a> {
    // Memory beyond what the CPU (and the kernel's page tables) can address.
    let pa_limit = 1u64 << PHYS_MASK_SHIFT.min(inputs.phys_addr_bits);
    let _ = mb.remove(PhysAddr(pa_limit), u64::MAX);

    let memstart = mb.start_of_dram().align_down(ARM64_MEMSTART_ALIGN);
    if mb.end_of_dram().0 - memstart.0 > LINEAR_REGION_SIZE {
        warn!("Memory doesn't fit in the linear mapping, VA_BITS too small");
    }
    let linear_end = memstart.0.saturating_add(LINEAR_REGION_SIZE).max(inputs.kernel.1 .0);
    let _ = mb.remove(PhysAddr(linear_end), u64::MAX);

    if let Some(limit) = memory_limit {
        mb.mem_limit_remove_map(limit);
        let (text, end) = inputs.kernel;
        let _ = mb.add(text, end - text);
    }

    if let Some((start, end)) = machine.initrd {
        let base = start.align_down(PAGE_SIZE);
        let size = end.align_up(PAGE_SIZE) - base;
        let dram = mb.start_of_dram();
        if size > 0 {
            if base < dram || base.0 + size > dram.0.saturating_add(LINEAR_REGION_SIZE) {
                warn!("initrd not fully accessible via the linear mapping -- please check your bootloader ...");
            } else {
                let _ = mb.add(base, size);
                let _ = mb.clear_nomap(base, size);
                let _ = mb.reserve(base, size);
            }
        }
    }

    let (text, end) = inputs.kernel;
    let _ = mb.reserve(text, end - text);

    let mut table = reserved_mem::scan(fdt, machine.cells, mb);
    reserved_mem::init(fdt, machine.cells, mb, &mut table, hooks);
    table
}

/// The NUMA step of `bootmem_init` (`arch_numa_init`): `numa-node-id` of the memory nodes
/// (`of_numa_init`) or, without any, one fake node over all memory (`dummy_numa_init`).
pub fn numa_init(fdt: &Fdt, mb: &mut Memblock, cells: Cells) {
    use crate::mm::memblock::MemblockKind;
    let mut found = false;
    for node in fdt_scan::memory_nodes(fdt) {
        let nid = node.property("numa-node-id").and_then(|p| p.as_u32());
        let (Some(nid), Some(reg)) = (nid, node.property("reg")) else { continue };
        for (base, size) in cells.reg(reg.value).into_iter().flatten() {
            found = true;
            let _ = mb.set_node(PhysAddr(base), size, MemblockKind::Memory, nid as i32);
        }
    }
    if !found {
        let (start, end) = (mb.start_of_dram(), mb.end_of_dram());
        info!("NUMA: No NUMA configuration found");
        info!("NUMA: Faking a node at [mem {:#018x}-{:#018x}]", start.0, end.0 - 1);
        let _ = mb.set_node(PhysAddr(0), u64::MAX, MemblockKind::Memory, 0);
    }
}

/// `numa_register_nodes` / `setup_node_data`: each node with memory gets its `NODE_DATA`
/// (the buddy allocator's `NodeData`) from memblock, on the node when it can.
pub fn register_nodes(mb: &mut Memblock) -> [Option<PhysAddr>; MAX_NUMNODES as usize] {
    use crate::mm::memblock::SMP_CACHE_BYTES;
    let size = (core::mem::size_of::<NodeData>() as u64).next_multiple_of(SMP_CACHE_BYTES);
    let mut out = [None; MAX_NUMNODES as usize];
    for (nid, slot) in (0..MAX_NUMNODES).zip(out.iter_mut()) {
        if crate::mm::init::node_span(mb, nid).is_none() {
            continue;
        }
        match mb.phys_alloc_try_nid(size, SMP_CACHE_BYTES, nid) {
            Ok(pa) => {
                info!("NUMA: NODE_DATA [mem {:#010x}-{:#010x}]", pa.0, pa.0 + size - 1);
                let tnid = mb.ty(crate::mm::memblock::MemblockKind::Memory)
                    .regions()
                    .iter()
                    .find(|r| r.base <= pa && pa.0 < r.base.0 + r.size)
                    .map_or(nid, |r| r.nid);
                if tnid != nid {
                    info!("NUMA: NODE_DATA({nid}) on node {tnid}");
                }
                *slot = Some(pa);
            }
            Err(e) => error!("Cannot allocate {size} bytes for node {nid} data: {e}"),
        }
    }
    out
}

/// What the host dry-run is told instead of what a boot finds out.
#[derive(Clone, Copy, Debug)]
pub struct DryRun<'c> {
    /// Where the loader would have put the blob.
    pub dtb_addr: PhysAddr,
    /// `[_stext, _end)` of the kernel image.
    pub kernel: (PhysAddr, PhysAddr),
    pub phys_addr_bits: u32,
    /// Replaces `/chosen/linux,initrd-*`.
    pub initrd: Option<(PhysAddr, PhysAddr)>,
    /// Replaces `/chosen/bootargs`.
    pub cmdline: Option<&'c str>,
    /// Sizes of text, rodata, data and BSS, which follow each other from the image base.
    pub sections: Option<[u64; 4]>,
}

/// The boot's memory setup on a blob read from a file: the same validation and the same
/// calls as `kernel_main`, placement only (memblock never touches the memory it manages).
/// `set_loglevel` hears the console level (and whether `dyndbg=` is on) before anything prints.
pub fn dry_run<'a>(
    blob: &'a [u8],
    opts: &DryRun<'a>,
    mb: &mut Memblock,
    hooks: &[ReservedMemOfId],
    tables: impl crate::mm::paging::TableAccess,
    set_loglevel: &mut dyn FnMut(u8, bool),
) -> Result<DryRunState<'a>, crate::of::DtbError> {
    let fdt = crate::of::header::open(opts.dtb_addr, blob, |n| blob.get(..n), opts.kernel)?;
    let cmdline = opts.cmdline.unwrap_or_else(|| chosen::bootargs(&fdt));
    let (params, malformed) = EarlyParams::parse_collect(cmdline);
    set_loglevel(params.loglevel, params.dyndbg);
    let inputs = BootInputs {
        dtb: (opts.dtb_addr, fdt.total_size() as u64),
        kernel: opts.kernel,
        phys_addr_bits: opts.phys_addr_bits,
        initrd_override: opts.initrd,
    };
    let (machine, reserved) = setup_arch_memory(&fdt, mb, &inputs, &params, &malformed, hooks);
    // paging_init takes the same table pages from memblock as the boot, given the image's
    // section sizes; without them the image is one segment, which needs the same tables as
    // long as the image lies in one 2 MiB block.
    use crate::mm::paging::{paging_init, PagingInputs};
    let (image, image_ro) = opts.image_segments();
    let console = chosen::stdout_console(&fdt).ok().or_else(|| chosen::first_pl011(&fdt)).map(|c| (c.base, c.size));
    let paging = PagingInputs { image: &image, image_ro, console, fdt: inputs.dtb };
    let bootmem = match paging_init(mb, tables, &paging) {
        Ok(_) => Some(bootmem_init(&fdt, mb, &machine)),
        Err(crate::mm::pgtable::PgtableError::TableAlloc { .. }) => {
            log::error!("Kernel panic - not syncing: Failed to allocate page table page");
            None
        }
        Err(e) => {
            log::error!("Kernel panic - not syncing: paging_init: {e}");
            None
        }
    };
    Ok(DryRunState { fdt, reserved, bootmem, buddyinfo: params.buddyinfo })
}

/// What the dry-run leaves for the steps that need memory of their own (the host binary
/// runs `mem_init` over memmaps it allocates).
pub struct DryRunState<'a> {
    pub fdt: Fdt<'a>,
    pub reserved: ReservedMemTable<'a>,
    /// `None` when the boot would have stopped in paging_init.
    pub bootmem: Option<Bootmem>,
    /// The command line asked for `buddyinfo`.
    pub buddyinfo: bool,
}

impl DryRun<'_> {
    /// The image as paging_init maps it: from the section sizes when known.
    fn image_segments(&self) -> ([crate::mm::paging::Segment; 3], (PhysAddr, PhysAddr)) {
        use crate::mm::layout::KIMAGE_VADDR;
        use crate::mm::paging::Segment;
        use crate::mm::pgtable::Prot;
        let (text, end) = self.kernel;
        let size = end - text;
        let [t, r, _, _] = self.sections.unwrap_or([size, 0, 0, 0]);
        let (t, r) = (t.min(size), r.min(size - t.min(size)));
        // The image is 2 MiB aligned both at KIMAGE_VADDR and in memory, so `text` (the
        // physical `_stext`) has the same offset in its 2 MiB block as the virtual one.
        let va = KIMAGE_VADDR + (text.0 & ((2 << 20) - 1));
        let seg = |off: u64, len: u64, prot| Segment { va: va + off, pa: text + off, size: len, prot };
        let segs = [
            seg(0, t, Prot::PAGE_KERNEL_ROX),
            seg(t, r, Prot::PAGE_KERNEL_RO),
            seg(t + r, size - t - r, Prot::PAGE_KERNEL),
        ];
        let ro_end = if self.sections.is_some() { text + (t + r) } else { end };
        (segs, (text, ro_end))
    }

    /// The sections the `Memory:` line reports, laid out from the image base.
    pub fn kernel_sections(&self) -> KernelSections {
        let base = self.kernel.0 .0;
        let [t, r, w, b] = self.sections.unwrap_or_default();
        KernelSections {
            text: (base, base + t),
            rodata: (base + t, base + t + r),
            rwdata: (base + t + r, base + t + r + w),
            bss: (base + t + r + w, base + t + r + w + b),
            ..KernelSections::default()
        }
    }
}

#[cfg(test)]
#[path = "setup_tests.rs"]
mod tests;
