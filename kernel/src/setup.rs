//! The memory part of arm64's `setup_arch`, in Linux 6.1's order, on explicit inputs:
//! `setup_machine_fdt` (reserve the blob, scan root, /chosen and memory), `parse_early_param`,
//! `arm64_memblock_init` (physical-size and linear-map clipping, `mem=`, initrd, kernel image,
//! `early_init_fdt_scan_reserved_mem`), and later `bootmem_init`.
//!
//! The boot and the host dry-run (`cargo xtask memmap`) both call [`setup_arch_memory`] and
//! [`bootmem_init`], so the two print the same lines for the same tree.

use crate::cmdline::{EarlyParams, Malformed};
use crate::mm::memblock::Memblock;
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::of::chosen;
use crate::of::fdt::Fdt;
use crate::of::fdt_scan::{self, RootCells};
use crate::of::reserved_mem::{self, ReservedMemOfId, ReservedMemTable};
use log::{debug, info, warn};

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
    pub cells: RootCells,
    pub initrd: Option<(PhysAddr, PhysAddr)>,
}

/// `setup_machine_fdt` + `early_init_dt_scan_nodes`: runs before `parse_early_param`, so none
/// of this shows in `memblock=debug` output, as in Linux.
pub fn setup_machine_fdt(fdt: &Fdt, mb: &mut Memblock, inputs: &BootInputs) -> MachineFdt {
    let _ = mb.reserve(inputs.dtb.0, inputs.dtb.1);
    let cells = fdt_scan::scan_root(fdt);
    let initrd = inputs.initrd_override.or_else(|| chosen::initrd(fdt)).filter(|(s, e)| s <= e);
    if let Some((start, end)) = initrd {
        debug!("OF: fdt: initrd_start=0x{:x}  initrd_end=0x{:x}", start.0, end.0);
    }
    fdt_scan::scan_memory(fdt, cells, mb, inputs.phys_addr_bits);
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

/// `bootmem_init`: the NUMA step, then `memblock_dump_all` (which prints with `memblock=debug`).
pub fn bootmem_init(fdt: &Fdt, mb: &mut Memblock, machine: &MachineFdt) {
    numa_init(fdt, mb, machine.cells);
    mb.dump_all();
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
pub fn numa_init(fdt: &Fdt, mb: &mut Memblock, cells: RootCells) {
    use crate::mm::memblock::MemblockKind;
    let mut found = false;
    for node in fdt_scan::memory_nodes(fdt) {
        let nid = node.property("numa-node-id").and_then(|p| p.as_u32());
        let (Some(nid), Some(reg)) = (nid, node.property("reg")) else { continue };
        for (base, size) in cells.entries(reg.value) {
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

/// What the host dry-run is told instead of what a boot finds out.
#[derive(Clone, Copy, Debug)]
pub struct DryRun<'c> {
    /// Where the loader would have put the blob.
    pub dtb_addr: PhysAddr,
    /// `[_text, _end)` of the kernel image.
    pub kernel: (PhysAddr, PhysAddr),
    pub phys_addr_bits: u32,
    /// Replaces `/chosen/linux,initrd-*`.
    pub initrd: Option<(PhysAddr, PhysAddr)>,
    /// Replaces `/chosen/bootargs`.
    pub cmdline: Option<&'c str>,
}

/// The boot's memory setup on a blob read from a file: the same validation and the same
/// calls as `kernel_main`, placement only (memblock never touches the memory it manages).
/// `set_loglevel` hears the console level the command line asks for before anything prints.
pub fn dry_run<'a>(
    blob: &'a [u8],
    opts: &DryRun<'a>,
    mb: &mut Memblock,
    hooks: &[ReservedMemOfId],
    tables: impl crate::mm::paging::TableAccess,
    set_loglevel: &mut dyn FnMut(u8),
) -> Result<(Fdt<'a>, ReservedMemTable<'a>), crate::of::DtbError> {
    let fdt = crate::of::header::open(opts.dtb_addr, blob, |n| blob.get(..n), opts.kernel)?;
    let cmdline = opts.cmdline.unwrap_or_else(|| chosen::bootargs(&fdt));
    let (params, malformed) = EarlyParams::parse_collect(cmdline);
    set_loglevel(params.loglevel);
    let inputs = BootInputs {
        dtb: (opts.dtb_addr, fdt.total_size() as u64),
        kernel: opts.kernel,
        phys_addr_bits: opts.phys_addr_bits,
        initrd_override: opts.initrd,
    };
    let (machine, reserved) = setup_arch_memory(&fdt, mb, &inputs, &params, &malformed, hooks);
    // paging_init takes the same table pages from memblock as the boot: the image is one
    // segment here, which needs the same tables as the boot's three as long as the image
    // lies in one 2 MiB block (the boot-versus-dry-run test would show otherwise).
    use crate::mm::layout::KIMAGE_VADDR;
    use crate::mm::paging::{paging_init, PagingInputs, Segment};
    let (text, end) = opts.kernel;
    let image = [Segment { va: KIMAGE_VADDR, pa: text, size: (end - text + PAGE_SIZE - 1) & !(PAGE_SIZE - 1), prot: crate::mm::pgtable::Prot::PAGE_KERNEL }];
    let console = chosen::stdout_console(&fdt).ok().or_else(|| chosen::first_pl011(&fdt)).map(|c| (c.base, c.size));
    let paging = PagingInputs { image: &image, image_ro: opts.kernel, console, fdt: inputs.dtb };
    match paging_init(mb, tables, &paging) {
        Ok(_) => {}
        Err(crate::mm::pgtable::PgtableError::TableAlloc { .. }) => {
            log::error!("Kernel panic - not syncing: Failed to allocate page table page");
            return Ok((fdt, reserved));
        }
        Err(e) => {
            log::error!("Kernel panic - not syncing: paging_init: {e}");
            return Ok((fdt, reserved));
        }
    }
    bootmem_init(&fdt, mb, &machine);
    Ok((fdt, reserved))
}

#[cfg(test)]
#[path = "setup_tests.rs"]
mod tests;
