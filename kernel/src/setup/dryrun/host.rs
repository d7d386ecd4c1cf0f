//! The dry-run's `mem_init` on the host (`kernel_main` after `bootmem_init`): zonelists, then
//! the hand-over of free memory to the buddy allocator over memmaps and free-list links kept
//! in host vectors instead of memblock memory, then `buddyinfo` when asked.
//!
//! The vectors are sized from the tree (one memmap byte and about 16 bytes of links per frame
//! of each node's span), so a tree that claims 128 TiB of RAM would ask the host for
//! terabytes: the total is bounded ([`HostLimit`]) and checked before anything is allocated,
//! and an allocation the host refuses is an error too, never an abort.

use super::{BootStop, DryRun, DryRunState};
use crate::mm::buddy::{ArrayLinks, Memmap, NodeData, PageState, Zones};
use crate::mm::memblock::Memblock;
use std::vec::Vec;

/// Host memory the simulation of `mem_init` may take by default: 2 GiB, which covers nodes
/// spanning about 120 GiB in all (17 bytes a frame).
pub const DEFAULT_HOST_LIMIT: u64 = 2 << 30;

/// The host cannot simulate `mem_init` for this tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostLimit {
    /// The memmaps and links would take `need` bytes of host memory, more than `limit`.
    TooLarge { need: u64, limit: u64 },
    /// The host refused an allocation of `bytes`.
    Refused { bytes: u64 },
    /// A node spans more frames than the free-list links can index.
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
                write!(f, "node {nid} spans {frames:#x} frames, more than the free lists can index")
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
/// asks. `Ok(Err(stop))` is a boot that would panic (its panic line is printed); `Err` is a tree
/// the host cannot simulate.
pub fn mem_init(mb: &mut Memblock, state: &DryRunState, opts: &DryRun, limit: u64) -> Result<Result<(), BootStop>, HostLimit> {
    mem_init_with(mb, state, opts, limit, |_, _| ())
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
    let bootmem = match &state.bootmem {
        Ok(b) => b,
        Err(stop) => return Ok(Err(*stop)),
    };
    super::super::build_all_zonelists(bootmem);
    let nodes: Vec<_> = bootmem.memmaps.iter().flatten().copied().collect();
    let frames_of = |m: &crate::mm::init::NodeMemmap| m.end_pfn.0.saturating_sub(m.start_pfn.0);
    let per_frame = |frames: u64| frames.saturating_add(ArrayLinks::slots_for(frames).saturating_mul(ArrayLinks::ENTRY_BYTES));
    let need = nodes.iter().map(|m| per_frame(frames_of(m))).fold(0u64, u64::saturating_add);
    if need > limit {
        return Err(HostLimit::TooLarge { need, limit });
    }
    let mut slots = Vec::new();
    let mut pages = Vec::new();
    for m in &nodes {
        slots.push(vec_of::<[u32; 2]>(ArrayLinks::slots_for(frames_of(m)))?);
        let online = bootmem.node_data[m.nid as usize].is_some();
        pages.push(if online { Some(vec_of::<PageState>(frames_of(m))?) } else { None });
    }
    let mut data: Vec<NodeData> = nodes.iter().map(|m| NodeData::new(m.nid)).collect();
    let mut links = ArrayLinks::new();
    for (m, s) in nodes.iter().zip(slots.iter_mut()) {
        if !links.add_node(m.start_pfn.0, frames_of(m), s) {
            return Err(HostLimit::NodeTooLarge { nid: m.nid, frames: frames_of(m) });
        }
    }
    let memmaps = nodes.iter().zip(pages.iter_mut()).zip(data.iter_mut()).filter_map(|((m, p), d)| {
        let p = p.as_mut()?;
        p.fill(PageState::NORMAL);
        Some((m.nid, d, Memmap::new(m.start_pfn, p)))
    });
    let cma = bootmem.cma.total_pages();
    let mut zones = std::boxed::Box::new(Zones::new(links));
    match super::super::mem_init(mb, bootmem, memmaps, &mut zones, &opts.kernel_sections(), cma, &state.swiotlb) {
        Ok(io_tlb) => state.io_tlb.set(io_tlb),
        Err(e) => return Ok(Err(BootStop::MemInit(e).report())),
    }
    let checked = after(mb, &zones);
    bootmem.cma.init_reserved_areas(&mut zones);
    if state.buddyinfo {
        zones.fmt_buddyinfo(&mut |line| log::info!("{line}"));
    }
    Ok(Ok(checked))
}
