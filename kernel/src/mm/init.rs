//! From memblock to the buddy allocator: each node's memmap (allocated from memblock, as
//! Linux's `sparse_init` does before `free_area_init`) and `mem_init`'s `memblock_free_all`.
//!
//! The memmap is one byte per frame of the node's present sections (`buddy::PageState`, see
//! `mm::sparse`), plus about 16 bytes per frame of free-list links (`buddy::ArrayLinks`,
//! never initialised) with the tables of the node's section runs and section states behind
//! them: 4.25 MiB per GiB of RAM, against Linux's 16 MiB of 64-byte `struct page`s. Only
//! frames that are not free memory get written: holes inside present sections (Linux's
//! `init_unavailable_range`), reserved ranges (`reserve_bootmem_region`) and NOMAP memory,
//! each writing the entries of the sections it touches. Free memory enters the allocator in
//! the largest naturally aligned blocks, one link write per block, and a section wholly free
//! is left unwritten (`buddy::SectionState`).

use crate::mm::buddy::{BuddyError, FreePageLinks, Memmap, NodeData, ZoneType, Zones};
use crate::mm::memblock::{
    Memblock, MemblockFlags, MemblockKind, MAX_NUMNODES, MEMBLOCK_ALLOC_ACCESSIBLE, MEMBLOCK_LOW_LIMIT,
};
use crate::mm::numa;
use crate::mm::sparse;
pub use crate::mm::sparse::{memmap_bytes, NodeMemmap};
use crate::mm::zone_sizes::NodeZones;
use crate::mm::{Pfn, PAGE_SIZE};

/// Allocate each node's memmap from memblock, on the node (placement only: the caller maps
/// it, and writes the run table from [`sparse::node_section_runs`] while memblock
/// still describes the same memory). A node whose memmap cannot be allocated is left out,
/// with an error.
pub fn alloc_memmaps(mb: &mut Memblock) -> [Option<NodeMemmap>; MAX_NUMNODES as usize] {
    let mut out = [None; MAX_NUMNODES as usize];
    for (nid, slot) in (0..MAX_NUMNODES).zip(out.iter_mut()) {
        let Some((start_pfn, end_pfn)) = numa::node_span(mb, nid as usize) else { continue };
        let (runs, frames) = sparse::node_section_runs(mb, nid).fold((0, 0), |(n, f), r| (n + 1, f + r.section_frames()));
        let [memmap, links] = sparse::allocations(frames, runs as u64);
        let mut alloc =
            |size: u64| mb.alloc_try_nid_raw(size, PAGE_SIZE, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
        match alloc(memmap).and_then(|pa| Ok((pa, alloc(links)?))) {
            Ok((pa, links_pa)) => *slot = Some(NodeMemmap { nid, start_pfn, end_pfn, frames, runs, pa, links_pa }),
            Err(e) => crate::error!("Failed to allocate memmap for node {nid}: {e}"),
        }
    }
    out
}

/// Mark every frame of `memmap` that is not free memory: holes inside present sections,
/// reserved, NOMAP.
fn mark_unavailable(mb: &Memblock, nid: i32, memmap: &mut Memmap) -> Result<(), BuddyError> {
    let (span_start, span_end) = (memmap.start_pfn(), memmap.end_pfn());
    let clip = |s: u64, e: u64| (Pfn(s.max(span_start.0)), Pfn(e.min(span_end.0)));
    // Holes: the gaps between the node's memory regions (only their frames in present
    // sections have entries to mark).
    let mut at = span_start.0;
    for (s, e) in numa::node_pfn_ranges(mb, numa::node_of(nid)) {
        if s.0 > at {
            memmap.mark_reserved(Pfn(at), s)?;
        }
        at = at.max(e.0);
    }
    if at < span_end.0 {
        memmap.mark_reserved(Pfn(at), span_end)?;
    }
    // NOMAP memory and reserved ranges (whole frames they touch).
    let nomap = mb.ty(MemblockKind::Memory).regions().iter().filter(|r| r.is_nomap()).map(|r| (r.base, r.base + r.size));
    for (s, e) in nomap.chain(mb.reserved_mem_ranges().map(|(s, e, _)| (s, e))) {
        let (s, e) = clip(s.pfn_down().0, e.pfn_up().0);
        if s < e {
            memmap.mark_reserved(s, e)?;
        }
    }
    Ok(())
}

/// The whole frames of every free range (memory that is neither reserved nor NOMAP), each cut
/// at `max_low_pfn`, empty ones left out: what Linux's `__free_memory_core` hands over.
pub fn free_pfn_ranges(mb: &Memblock, max_low_pfn: u64) -> impl Iterator<Item = (Pfn, Pfn)> + '_ {
    mb.free_mem_ranges(crate::mm::memblock::NUMA_NO_NODE, MemblockFlags::NONE)
        .map(move |(s, e, _)| (s.pfn_up(), Pfn(e.pfn_down().0.min(max_low_pfn))))
        .filter(|(s, e)| s < e)
}

/// Build the zones over the nodes' memmaps and hand every free range over
/// (`memblock_free_all`), then close memblock and print `totalram_pages` on a debug line.
/// Returns the pages handed over (Linux's `totalram_pages` after `mem_init`).
pub fn memblock_free_all<'a, L: FreePageLinks>(
    mb: &mut Memblock,
    zones: &mut Zones<'a, L>,
    memmaps: impl IntoIterator<Item = (i32, &'a mut NodeData<'a>, Memmap<'a>)>,
    layout: &NodeZones,
) -> Result<u64, BuddyError> {
    for (nid, data, mut memmap) in memmaps {
        mark_unavailable(mb, nid, &mut memmap)?;
        zones.add_node(nid, data, memmap)?;
    }
    for (nid, node) in layout.nodes.iter().enumerate().filter(|(_, n)| n.online) {
        for (ty, z) in ZoneType::ALL.iter().zip(&node.zones).filter(|(_, z)| z.spanned_pages > 0) {
            zones.init_zone(nid as i32, *ty, Pfn(z.zone_start_pfn), z.spanned_pages, z.present_pages)?;
        }
    }
    let mut freed = 0;
    for (s, e) in free_pfn_ranges(mb, mb.end_of_dram().pfn_down().0) {
        freed += zones.free_range(s, e)?;
    }
    mb.close();
    crate::trace!("totalram_pages: {} after memblock_free_all", zones.totalram_pages());
    Ok(freed)
}

#[cfg(test)]
#[path = "init_tests.rs"]
mod tests;
