//! The boot's memory setup on a blob read from a file, for the host dry-run behind
//! `cargo xtask memmap` (the `kernel` binary on the host, `dryrun.rs`): what the dry-run is told
//! instead of what a boot finds out ([`DryRun`]), the same calls as `kernel_main` from the DTB
//! header to `bootmem_init` ([`dry_run`]), and what is left for the steps that need memory of
//! their own ([`DryRunState`]).
//!
//! It lives in the library, not in the binary, because the library's host tests run it on
//! hand-built blobs and on thousands of mutated trees (`mutation_tests`); the fuzz target (`fuzz/`)
//! runs it with [`host::mem_init`] on arbitrary bytes. It only places: memblock never touches
//! the memory it manages. On the host, [`host::mem_init`] runs the rest that needs memory of
//! its own (`mem_init` over memmaps and free lists in host vectors, bounded in size).
//!
//! How the simulated boot ends is [`Ending`], and the `kernel memmap` binary's exit status
//! says which (`cargo xtask memmap` passes it on):
//!
//! | status | meaning |
//! |---|---|
//! | 0 | the boot would go on to `boot: complete` |
//! | 1 | the dry-run itself cannot run: arguments, file, or a tree whose memory the host cannot simulate within its bound ([`host::HostLimit`]) |
//! | 2 | the boot would refuse the blob (`Error: invalid device tree blob …`) and power off |
//! | 3 | the boot would stop with `Kernel panic - not syncing: …`, printed as the boot would |
//! | 4 | the boot would complete, and `--lint` found an error-level finding ([`lint`]) |

use super::{bootmem_init, setup_arch_memory, BootInputs, Bootmem};
use crate::cmdline::EarlyParams;
use crate::mm::memblock::Memblock;
use crate::mm::zone_sizes::KernelSections;
use crate::mm::PhysAddr;
use crate::of::chosen;
use crate::of::fdt::Fdt;
use crate::of::reserved_mem::{ReservedMemOfId, ReservedMemTable};

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
    /// Sizes of text, rodata, the init sections, data and BSS, which follow each other from
    /// the image base. The init sections are freed after boot (`free_initmem`).
    pub sections: Option<[u64; 5]>,
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
    let bootargs = chosen::bootargs(&fdt);
    let cmdline = opts.cmdline.unwrap_or_else(|| bootargs.as_str());
    let (params, malformed) = EarlyParams::parse_collect(cmdline);
    set_loglevel(params.console_loglevel(), params.dyndbg);
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
    let mut tables = crate::memmap::Recording::new(tables);
    let bootmem = match paging_init(mb, &mut tables, &paging, super::ARCH) {
        Ok(t) => {
            if params.ptdump {
                let read = crate::memmap::ReadOnly(&tables.inner);
                crate::mm::pgtable::dump(&read, t.root, &crate::arm64::PTDUMP_MARKERS, &mut |a| crate::info!("{a}"));
            }
            let mut bootmem = bootmem_init(&fdt, mb, &reserved, &params);
            // smp_init_cpus (after the psci lines, which the dry-run has not), booted on the
            // CPU of MPIDR affinity 0 as QEMU virt's first CPU is.
            crate::setup::smp_init_cpus(&fdt, 0, params.nr_cpu_ids, &mut bootmem);
            Ok(bootmem)
        }
        Err(e) => Err(BootStop::PagingInit(e).report()),
    };
    let initrd = crate::memmap::initrd_pages(machine.initrd);
    Ok(DryRunState {
        fdt,
        reserved,
        bootmem,
        buddyinfo: params.buddyinfo,
        swiotlb: params.swiotlb,
        dtb: inputs.dtb,
        initrd,
        page_tables: tables.pages,
        io_tlb: core::cell::Cell::new(None),
    })
}

/// Why the simulated boot would stop after the blob check: the `panic!` of `kernel_main`
/// that the same error reaches there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootStop {
    /// paging_init failed (Linux's `early_pgtable_alloc` panics when no table page is left).
    PagingInit(crate::mm::pgtable::PgtableError),
    /// The hand-over to the buddy allocator failed.
    MemInit(crate::mm::buddy::BuddyError),
}

impl core::fmt::Display for BootStop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::mm::pgtable::PgtableError;
        match self {
            // Linux's early_pgtable_alloc panics with these words, and so does kernel_main.
            BootStop::PagingInit(PgtableError::TableAlloc { .. }) => write!(f, "Failed to allocate page table page"),
            BootStop::PagingInit(e) => write!(f, "paging_init: {e}"),
            BootStop::MemInit(e) => write!(f, "mem_init: {e}"),
        }
    }
}

impl BootStop {
    /// Print the panic line the boot would print, and hand the reason on.
    fn report(self) -> BootStop {
        crate::error!("Kernel panic - not syncing: {self}");
        self
    }
}

/// How the simulated boot ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It would reach `boot: complete`: the tree is accepted, maybe with warnings.
    Complete,
    /// The header check refuses the blob (the boot prints `Error: invalid device tree blob`).
    Refused(crate::of::DtbError),
    /// The boot would panic with this reason.
    Panic(BootStop),
}

impl Ending {
    /// The dry-run's exit status for this ending (the table in the module documentation).
    pub fn exit_status(&self) -> i32 {
        match self {
            Ending::Complete => 0,
            Ending::Refused(_) => 2,
            Ending::Panic(_) => 3,
        }
    }
}

/// What the dry-run leaves for the steps that need memory of their own (the host binary
/// runs `mem_init` over memmaps it allocates).
pub struct DryRunState<'a> {
    pub fdt: Fdt<'a>,
    pub reserved: ReservedMemTable<'a>,
    /// Why the boot would have stopped in paging_init, when it would.
    pub bootmem: Result<Bootmem, BootStop>,
    /// The command line asked for `buddyinfo`.
    pub buddyinfo: bool,
    /// `swiotlb=`, for mem_init.
    pub swiotlb: crate::mm::swiotlb::SwiotlbParams,
    /// `[base, base + totalsize)` of the blob.
    pub dtb: (PhysAddr, u64),
    /// The initrd's pages as the boot reserved them.
    pub initrd: Option<(PhysAddr, PhysAddr)>,
    /// The table pages paging_init took from memblock.
    pub page_tables: crate::memmap::TablePages,
    /// The swiotlb buffer, once mem_init placed one.
    pub io_tlb: core::cell::Cell<Option<crate::mm::swiotlb::IoTlb>>,
}

impl<'a> DryRunState<'a> {
    /// What the memory map is made of, once mem_init has run with `mb` (`memmap`).
    pub fn map_facts<'f>(&'f self, mb: &'f Memblock, opts: &DryRun) -> Option<crate::memmap::MapFacts<'f, 'a>> {
        Some(crate::memmap::MapFacts {
            memblock: mb,
            fdt: &self.fdt,
            rmem: &self.reserved,
            bootmem: self.bootmem.as_ref().ok()?,
            kernel: opts.kernel,
            sections: opts.kernel_sections(),
            dtb: self.dtb,
            initrd: self.initrd,
            page_tables: &self.page_tables,
            io_tlb: self.io_tlb.get(),
        })
    }
}

impl DryRun<'_> {
    /// The image as paging_init maps it: from the section sizes when known.
    fn image_segments(&self) -> ([crate::mm::paging::Segment; 3], (PhysAddr, PhysAddr)) {
        use crate::arm64::KIMAGE_VADDR;
        use crate::mm::paging::Segment;
        use crate::mm::pgtable::Prot;
        let (text, size) = (self.kernel.0, self.image_size());
        let end = text + size;
        let [t, r, ..] = self.sections_in_image().unwrap_or([size, 0, 0, 0, 0]);
        // The image is 2 MiB aligned both at KIMAGE_VADDR and in memory, so `text` (the
        // physical `_stext`) has the same offset in its 2 MiB block as the virtual one.
        let va = KIMAGE_VADDR + (text.0 & ((2 << 20) - 1));
        // An image too large for the kernel's VA region (a dry-run's `--image`) saturates here
        // and paging_init refuses it, as the boot could not map it either.
        let seg = |off: u64, len: u64, prot| Segment { va: va.saturating_add(off), pa: text + off, size: len, prot };
        let segs = [
            seg(0, t, Prot::PAGE_KERNEL_ROX),
            seg(t, r, Prot::PAGE_KERNEL_RO),
            seg(t + r, size - t - r, Prot::PAGE_KERNEL),
        ];
        let ro_end = if self.sections.is_some() { text + (t + r) } else { end };
        (segs, (text, ro_end))
    }

    /// `[_stext, _end)`'s size; an image given with its end below its start is empty.
    fn image_size(&self) -> u64 {
        self.kernel.1 .0.saturating_sub(self.kernel.0 .0)
    }

    /// The section sizes, each cut to what the image has left after the ones before it (the
    /// sizes are the dry-run's `--sections`, which nothing else bounds).
    fn sections_in_image(&self) -> Option<[u64; 5]> {
        let mut left = self.image_size();
        self.sections.map(|sizes| {
            sizes.map(|s| {
                let s = s.min(left);
                left -= s;
                s
            })
        })
    }

    /// The sections the `Memory:` line reports and `free_initmem` frees, laid out from the
    /// image base (physical addresses). The init sections are one range: the dry-run does not
    /// know how much of it is text, and the `Memory:` line's init figure is their sum anyway.
    pub fn kernel_sections(&self) -> KernelSections {
        let base = self.kernel.0 .0;
        let [t, r, i, w, b] = self.sections_in_image().unwrap_or_default();
        let init = base + t + r;
        KernelSections {
            text: (base, base + t),
            rodata: (base + t, init),
            init: (init, init + i),
            inittext: (init, init),
            rwdata: (init + i, init + i + w),
            bss: (init + i + w, init + i + w + b),
        }
    }
}

/// Where QEMU's `-kernel` loader puts this blob (hw/arm/boot.c,
/// `arm_setup_direct_kernel_boot`): the initrd area starts at the RAM base plus
/// min(RAM / 2, 128 MiB); the DTB follows the initrd (`initrd`, else the tree's), aligned up
/// to 2 MiB for AArch64. `None` when the tree has no memory node, or the place would lie past
/// the end of the address space. The sizes come from the tree: their sum saturates (QEMU's RAM
/// size is one number; only min(RAM / 2, 128 MiB) matters here, which saturation keeps).
pub fn qemu_dtb_addr(blob: &[u8], initrd: Option<(PhysAddr, PhysAddr)>) -> Option<PhysAddr> {
    const SZ_2M: u64 = 2 << 20;
    const SZ_128M: u64 = 128 << 20;
    let fdt = Fdt::new(blob).ok()?;
    let ranges = || crate::of::memory_regs(&fdt).filter_map(Result::ok).flatten();
    let base = ranges().map(|(b, _)| b).min()?;
    let ram = ranges().map(|(_, size)| size).fold(0u64, u64::saturating_add);
    let initrd_start = base.checked_add((ram / 2).min(SZ_128M))?;
    let initrd_end = match initrd.or_else(|| chosen::initrd(&fdt)) {
        Some((_, end)) => end.0,
        None => initrd_start,
    };
    Some(PhysAddr(initrd_end.checked_add(SZ_2M - 1)? & !(SZ_2M - 1)))
}

#[cfg(not(target_os = "none"))]
pub mod fdt_edit;
#[cfg(not(target_os = "none"))]
pub mod host;
#[cfg(not(target_os = "none"))]
pub mod inputs;
#[cfg(not(target_os = "none"))]
pub mod lint;

#[cfg(test)]
pub(crate) mod edge_tests;
#[cfg(test)]
mod totalram_tests;
#[cfg(test)]
pub(crate) mod mutation_tests;

/// Page tables kept on the host: paging_init's placement without touching memory.
#[cfg(not(target_os = "none"))]
#[derive(Default)]
pub struct HostTables(alloc::collections::BTreeMap<u64, alloc::boxed::Box<[u64; 512]>>);

#[cfg(not(target_os = "none"))]
impl crate::mm::paging::TableAccess for HostTables {
    fn zero(&mut self, pa: PhysAddr) {
        self.0.insert(pa.0, alloc::boxed::Box::new([0; 512]));
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        self.0.get(&table.0).map_or(0, |t| t[index])
    }
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        self.0.entry(table.0).or_insert_with(|| alloc::boxed::Box::new([0; 512]))[index] = desc;
    }
}

