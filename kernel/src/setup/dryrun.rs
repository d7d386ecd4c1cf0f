//! The boot's memory setup on a blob read from a file, for the host dry-run behind
//! `cargo xtask memmap` (the `kernel` binary on the host, `dryrun.rs`): what the dry-run is told
//! instead of what a boot finds out ([`DryRun`]), the same calls as `kernel_main` from the DTB
//! header to `bootmem_init` ([`dry_run`]), and what is left for the steps that need memory of
//! their own ([`DryRunState`]).
//!
//! It lives in the library, not in the binary, because the library's host tests run it on
//! hand-built blobs, and the fuzz target (`fuzz/`) runs it with [`mem_init_on_host`] on
//! arbitrary bytes. It only places: memblock never touches the memory it manages; the memmaps
//! and free-list links `mem_init` writes are host vectors, sized from the tree and bounded.

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
    let (_, reserved) = setup_arch_memory(&fdt, mb, &inputs, &params, &malformed, hooks);
    // paging_init takes the same table pages from memblock as the boot, given the image's
    // section sizes; without them the image is one segment, which needs the same tables as
    // long as the image lies in one 2 MiB block.
    use crate::mm::paging::{paging_init, PagingInputs};
    let (image, image_ro) = opts.image_segments();
    let console = chosen::stdout_console(&fdt).ok().or_else(|| chosen::first_pl011(&fdt)).map(|c| (c.base, c.size));
    let paging = PagingInputs { image: &image, image_ro, console, fdt: inputs.dtb };
    let bootmem = match paging_init(mb, tables, &paging, super::ARCH) {
        Ok(_) => Some(bootmem_init(&fdt, mb)),
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
        use crate::arm64::KIMAGE_VADDR;
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

/// Frames of memmap the host dry-run allocates at most, over all nodes: 2^26 frames are node
/// spans of 256 GiB, which cost 64 MiB of memmap and about 1 GiB of free-list links on the
/// host. A tree that claims more (up to 2^64 bytes) is refused with a message rather than
/// aborting the dry-run on a failed allocation.
#[cfg(not(target_os = "none"))]
pub const HOST_MEMMAP_FRAMES_MAX: u64 = 1 << 26;

/// What the boot does after `setup_arch` that needs no hardware, on the host: zonelists, then
/// `mem_init` over memmaps and free-list links held in host vectors (at most `max_frames`
/// frames in all). `after` sees memblock and the zones once every free page is in the buddy
/// allocator; the vectors are freed when it returns.
#[cfg(not(target_os = "none"))]
pub fn mem_init_on_host<R>(
    state: &DryRunState,
    mb: &mut Memblock,
    opts: &DryRun,
    max_frames: u64,
    after: impl FnOnce(&mut Memblock, &crate::mm::buddy::Zones<'_, crate::mm::buddy::ArrayLinks<'_>>) -> R,
) -> Result<Option<R>, alloc::string::String> {
    use crate::mm::buddy::{ArrayLinks, Memmap, NodeData, PageState, Zones};
    use alloc::{boxed::Box, format, vec, vec::Vec};
    let Some(bootmem) = state.bootmem.as_ref() else { return Ok(None) };
    super::build_all_zonelists(bootmem);
    let maps: Vec<_> = bootmem.memmaps.iter().flatten().copied().collect();
    let frames: u64 = maps.iter().map(|m| m.len() as u64).fold(0, u64::saturating_add);
    if frames > max_frames {
        return Err(format!(
            "the nodes span {frames} frames; the dry-run holds memmaps of at most {max_frames} frames"
        ));
    }
    let mut slots: Vec<Vec<[u32; 2]>> =
        maps.iter().map(|m| vec![[0u32; 2]; ArrayLinks::slots_for(m.len() as u64) as usize]).collect();
    let mut pages: Vec<Vec<PageState>> = maps.iter().map(|m| vec![PageState::NORMAL; m.len()]).collect();
    let mut data: Vec<NodeData> = maps.iter().map(|m| NodeData::new(m.nid)).collect();
    let mut links = ArrayLinks::new();
    for (m, s) in maps.iter().zip(slots.iter_mut()) {
        if !links.add_node(m.start_pfn.0, m.len() as u64, s) {
            return Err(format!("node {}: no free-list links for {} frames", m.nid, m.len()));
        }
    }
    let memmaps = maps
        .iter()
        .zip(pages.iter_mut())
        .zip(data.iter_mut())
        .filter(|((m, _), _)| bootmem.node_data[m.nid as usize].is_some())
        .map(|((m, p), d)| (m.nid, d, Memmap::new(m.start_pfn, p)));
    let cma = super::cma_pages(&state.reserved);
    let mut zones = Box::new(Zones::new(links));
    super::mem_init(mb, bootmem, memmaps, &mut zones, &opts.kernel_sections(), cma).map_err(|e| format!("mem_init: {e}"))?;
    Ok(Some(after(mb, &zones)))
}
