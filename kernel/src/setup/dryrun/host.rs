//! The dry-run's `mem_init` on the host (`kernel_main` after `bootmem_init`): zonelists, then
//! the hand-over of free memory to the buddy allocator over memmaps and free-list links kept
//! in host vectors instead of memblock memory, then `buddyinfo` when asked.
//!
//! The vectors are sized from the tree (one memmap byte and about 16 bytes of links per frame
//! of each node's present sections), so a tree that claims 128 TiB of RAM would ask the host for
//! terabytes: the total is bounded ([`HostLimit`]) and checked before anything is allocated,
//! and an allocation the host refuses is an error too, never an abort.

use super::{BootStop, DryRun, DryRunState};
use crate::mm::buddy::{ArrayLinks, Memmap, NodeData, PageState, SectionState, Zones};
use crate::mm::memblock::Memblock;
use crate::mm::PhysAddr;
use crate::mm::sparse::{self, SectionRun};
use std::vec::Vec;

/// Host memory the simulation of `mem_init` may take by default: 2 GiB, which covers about
/// 120 GiB of present sections in all (17 bytes a frame), whatever the holes between them.
pub const DEFAULT_HOST_LIMIT: u64 = 2 << 30;

/// The host cannot simulate `mem_init` for this tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostLimit {
    /// The memmaps and links would take `need` bytes of host memory, more than `limit`.
    TooLarge { need: u64, limit: u64 },
    /// The host refused an allocation of `bytes`.
    Refused { bytes: u64 },
    /// A node has more frames in present sections than the free-list links can index.
    NodeTooLarge { nid: i32, frames: u64 },
}

impl core::fmt::Display for HostLimit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            HostLimit::TooLarge { need, limit } => write!(
                f,
                "simulating mem_init needs {} MiB of host memory for the nodes' memmaps and free lists, more than the {} MiB allowed",
                need >> 20,
                limit >> 20
            ),
            HostLimit::Refused { bytes } => write!(f, "the host refused {} MiB for the memmaps and free lists", bytes >> 20),
            HostLimit::NodeTooLarge { nid, frames } => {
                write!(f, "node {nid} has {frames:#x} frames in present sections, more than the free lists can index")
            }
        }
    }
}

/// A zeroed (default) vector of `len` entries, or the host's refusal as an error.
fn vec_of<T: Clone + Default>(len: u64) -> Result<Vec<T>, HostLimit> {
    let bytes = len.saturating_mul(core::mem::size_of::<T>() as u64);
    let refused = HostLimit::Refused { bytes };
    let len = usize::try_from(len).map_err(|_| refused)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| refused)?;
    v.resize(len, T::default());
    Ok(v)
}

/// What `kernel_main` does after `bootmem_init` that needs no hardware: zonelists, then
/// `mem_init` with `limit` bytes of host memory at most, then `buddyinfo` when the command line
/// asks, `drivers` (the boot's driver probes), and `free_initmem` of the init sections
/// `opts.sections` gives. `Ok(Err(stop))` is a boot that would panic (its panic line is
/// printed); `Err` is a tree the host cannot simulate.
pub fn mem_init(
    mb: &mut Memblock,
    state: &DryRunState,
    opts: &DryRun,
    limit: u64,
    drivers: impl FnOnce(),
) -> Result<Result<(), BootStop>, HostLimit> {
    simulate(mb, state, opts, limit, |_, _| (), drivers)
}

/// [`mem_init`] with `after`, which sees memblock and the zones as `memblock_free_all` leaves
/// them (every free page in the buddy allocator, the CMA areas not yet), before the host
/// vectors are freed: the fuzz target checks its invariants there.
pub fn mem_init_with<R>(
    mb: &mut Memblock,
    state: &DryRunState,
    opts: &DryRun,
    limit: u64,
    after: impl FnOnce(&mut Memblock, &Zones<'_, ArrayLinks<'_>>) -> R,
) -> Result<Result<R, BootStop>, HostLimit> {
    simulate(mb, state, opts, limit, after, || ())
}

/// [`mem_init_with`], with `drivers` run where the boot probes its drivers: after the CMA
/// areas join the buddy allocator (and `buddyinfo`), before `free_initmem`.
fn simulate<R>(
    mb: &mut Memblock,
    state: &DryRunState,
    opts: &DryRun,
    limit: u64,
    after: impl FnOnce(&mut Memblock, &Zones<'_, ArrayLinks<'_>>) -> R,
    drivers: impl FnOnce(),
) -> Result<Result<R, BootStop>, HostLimit> {
    let bootmem = match &state.bootmem {
        Ok(b) => b,
        Err(stop) => return Ok(Err(*stop)),
    };
    super::super::build_all_zonelists(bootmem);
    let nodes: Vec<_> = bootmem.memmaps.iter().flatten().copied().collect();
    let need = nodes.iter().map(|m| m.bytes()).fold(0u64, u64::saturating_add);
    if need > limit {
        return Err(HostLimit::TooLarge { need, limit });
    }
    // What the kernel writes into the links allocation's tail: each node's section runs.
    let runs: Vec<Vec<SectionRun>> = nodes.iter().map(|m| sparse::node_section_runs(mb, m.nid).collect()).collect();
    let mut slots = Vec::new();
    let mut pages = Vec::new();
    for m in &nodes {
        slots.push(vec_of::<[u32; 2]>(m.link_slots())?);
        let online = bootmem.numa.node_data[m.nid as usize].is_some();
        let memmap = || Ok::<_, HostLimit>((vec_of::<PageState>(m.frames)?, vec_of::<SectionState>(Memmap::sections_for(m.frames))?));
        pages.push(if online { Some(memmap()?) } else { None });
    }
    let mut data: Vec<NodeData> = nodes.iter().map(|m| NodeData::new(m.nid)).collect();
    let mut links = ArrayLinks::new();
    for ((m, s), r) in nodes.iter().zip(slots.iter_mut()).zip(&runs) {
        if !links.add_node(r, s) {
            return Err(HostLimit::NodeTooLarge { nid: m.nid, frames: m.frames });
        }
    }
    let memmaps = nodes.iter().zip(pages.iter_mut()).zip(data.iter_mut()).zip(&runs).filter_map(|(((m, p), d), r)| {
        let (pages, sections) = p.as_mut()?;
        Some((m.nid, d, Memmap::new(r, pages, sections)?))
    });
    let cma = bootmem.cma.total_pages();
    let mut zones = std::boxed::Box::new(Zones::new(links));
    match super::super::mem_init(mb, bootmem, memmaps, &mut zones, &opts.kernel_sections(), cma, &state.swiotlb) {
        Ok(io_tlb) => state.io_tlb.set(io_tlb),
        Err(e) => return Ok(Err(BootStop::MemInit(e).report())),
    }
    let checked = after(mb, &zones);
    super::super::cma_init_reserved_areas(&bootmem.cma, &mut zones);
    if state.buddyinfo {
        zones.fmt_buddyinfo(&mut |line| crate::info!("{line}"));
    }
    drivers();
    let (init_start, init_end) = opts.kernel_sections().init;
    if let Err(e) = crate::mm::buddy::reserved::free_initmem(&mut zones, PhysAddr(init_start), PhysAddr(init_end)) {
        crate::error!("free_initmem: {e}");
    }
    Ok(Ok(checked))
}
