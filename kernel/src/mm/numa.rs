//! NUMA nodes at boot: Linux 6.1's `drivers/base/arch_numa.c` (`arch_numa_init`, `numa_init`,
//! `numa_add_memblk`, `numa_register_nodes`, `setup_node_data`, `dummy_numa_init`) and
//! `get_pfn_range_for_nid`, the one answer to "which frames does node N span" that zone sizing,
//! the memmap and `NODE_DATA` all read.
//!
//! The firmware's description is read elsewhere (`of::numa::of_numa_init` for the device tree)
//! and comes in through [`numa_add_memblk`]. When it is missing, invalid or covers only part
//! of memory, [`arch_numa_init`] falls back to one fake node over all memory, as Linux does, so
//! after it every memory region carries a node in `0..MAX_NUMNODES`. This module never reads
//! the device tree and never touches the memory it places.

use crate::mm::buddy::NodeData;
use crate::mm::memblock::{Memblock, MemblockError, MemblockKind, MAX_NUMNODES, SMP_CACHE_BYTES};
use crate::mm::{Pfn, PhysAddr};
use core::fmt;
use crate::{error, info, warn};

/// Linux's `numa_nodes_parsed`: the nodes the firmware named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeMask(u32);

impl NodeMask {
    /// `node_set`; ids outside `0..MAX_NUMNODES` are not nodes and are ignored.
    pub fn set(&mut self, nid: i32) {
        if (0..MAX_NUMNODES).contains(&nid) {
            self.0 |= 1 << nid;
        }
    }

    pub fn contains(self, nid: i32) -> bool {
        (0..MAX_NUMNODES).contains(&nid) && self.0 & (1 << nid) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `for_each_node_mask`: the set nodes in increasing order.
    pub fn iter(self) -> impl Iterator<Item = i32> {
        (0..MAX_NUMNODES).filter(move |&nid| self.contains(nid))
    }
}

/// Why a NUMA description was refused (each is reported where it is found, with Linux's line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumaError {
    /// The firmware's description is malformed (`numa-node-id` unreadable or out of range,
    /// a memory node without `reg`).
    BadProperty,
    /// `memblock_set_node` failed.
    Memblock(MemblockError),
    /// No node was named at all.
    NoConfiguration,
    /// A memory region was left without a valid node.
    InvalidMemblk { nid: i32 },
}

impl fmt::Display for NumaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumaError::BadProperty => write!(f, "bad NUMA property in the firmware description"),
            NumaError::Memblock(e) => write!(f, "{e}"),
            NumaError::NoConfiguration => write!(f, "no NUMA configuration"),
            NumaError::InvalidMemblk { nid } => write!(f, "invalid memblk node {nid}"),
        }
    }
}

/// The node a memory region counts on: its own when it is a node (`0..MAX_NUMNODES`), node 0
/// otherwise. After [`arch_numa_init`] every region has a node; before it (or when no NUMA step
/// runs, as in host tests of the zones) regions keep memblock's `MAX_NUMNODES` and count on
/// node 0, where `dummy_numa_init` would put them.
pub fn node_of(nid: i32) -> usize {
    if (0..MAX_NUMNODES).contains(&nid) {
        nid as usize
    } else {
        0
    }
}

/// `for_each_mem_pfn_range(i, MAX_NUMNODES, ...)`: whole-page memory ranges of every node, in
/// address order, each with the node it counts on ([`node_of`]).
pub fn pfn_ranges(mb: &Memblock) -> impl Iterator<Item = (Pfn, Pfn, usize)> + '_ {
    mb.mem_pfn_ranges(MAX_NUMNODES).map(|(s, e, nid)| (s, e, node_of(nid)))
}

/// `for_each_mem_pfn_range(i, nid, ...)`: the whole-page memory ranges of `node`.
pub fn node_pfn_ranges(mb: &Memblock, node: usize) -> impl Iterator<Item = (Pfn, Pfn)> + '_ {
    pfn_ranges(mb).filter(move |r| r.2 == node).map(|(s, e, _)| (s, e))
}

/// `get_pfn_range_for_nid`: the first and last-plus-one frame of `node`'s memory, `None` when
/// it has none.
pub fn node_span(mb: &Memblock, node: usize) -> Option<(Pfn, Pfn)> {
    node_pfn_ranges(mb, node).fold(None, |span, (s, e)| match span {
        None => Some((s, e)),
        Some((a, b)) => Some((a.min(s), b.max(e))),
    })
}

/// `numa_add_memblk`: put the memory of `[base, base + size)` on node `nid` and note the node
/// as parsed. (Linux passes the end; a size cannot wrap for a bank ending at 2^64.)
pub fn numa_add_memblk(
    mb: &mut Memblock,
    parsed: &mut NodeMask,
    nid: i32,
    base: u64,
    size: u64,
) -> Result<(), NumaError> {
    if let Err(e) = mb.set_node(PhysAddr(base), size, MemblockKind::Memory, nid) {
        error!(
            "NUMA: memblock [0x{:x} - 0x{:x}] failed to add on node {}",
            base,
            base.wrapping_add(size).wrapping_sub(1),
            nid
        );
        return Err(NumaError::Memblock(e));
    }
    parsed.set(nid);
    Ok(())
}

/// Each node's `NODE_DATA`, `None` for a node that was not registered.
pub type NodeDataTable = [Option<PhysAddr>; MAX_NUMNODES as usize];

/// `arch_numa_init`: the firmware's description through `firmware` (`of_numa_init`), else one
/// fake node over all memory (`dummy_numa_init`). Returns each registered node's `NODE_DATA`.
pub fn arch_numa_init(mb: &mut Memblock, firmware: &mut NumaInitFn) -> NodeDataTable {
    if let Ok(table) = numa_init(mb, firmware) {
        return table;
    }
    numa_init(mb, &mut dummy_numa_init).unwrap_or([None; MAX_NUMNODES as usize])
}

/// A way to learn the nodes (`of_numa_init`, `dummy_numa_init`): it puts memory on nodes with
/// [`numa_add_memblk`], which notes each node in the mask.
pub type NumaInitFn<'f> = dyn FnMut(&mut Memblock, &mut NodeMask) -> Result<(), NumaError> + 'f;

/// `numa_init`: run `init_func`, refuse an empty description, then register the nodes.
fn numa_init(mb: &mut Memblock, init_func: &mut NumaInitFn) -> Result<NodeDataTable, NumaError> {
    let mut parsed = NodeMask::default();
    init_func(mb, &mut parsed)?;
    if parsed.is_empty() {
        info!("NUMA: No NUMA configuration found");
        return Err(NumaError::NoConfiguration);
    }
    numa_register_nodes(mb, parsed)
}

/// `dummy_numa_init`: node 0 over `[start_of_DRAM, end_of_DRAM)`.
fn dummy_numa_init(mb: &mut Memblock, parsed: &mut NodeMask) -> Result<(), NumaError> {
    let (start, end) = (mb.start_of_dram(), mb.end_of_dram());
    info!("NUMA: Faking a node at [mem {:#018x}-{:#018x}]", start.0, end.0.wrapping_sub(1));
    numa_add_memblk(mb, parsed, 0, start.0, end.0 - start.0).inspect_err(|_| error!("NUMA: NUMA init failed"))
}

/// `numa_register_nodes`: every memory region must have a node (the first that has none is
/// reported, and the description refused); then each parsed node gets its `NODE_DATA`.
fn numa_register_nodes(mb: &mut Memblock, parsed: NodeMask) -> Result<NodeDataTable, NumaError> {
    if let Some(r) = mb.ty(MemblockKind::Memory).regions().iter().find(|r| !(0..MAX_NUMNODES).contains(&r.nid)) {
        let last = r.base.0.wrapping_add(r.size).wrapping_sub(1);
        warn!("NUMA: Warning: invalid memblk node {} [mem {:#018x}-{:#018x}]", r.nid, r.base.0, last);
        return Err(NumaError::InvalidMemblk { nid: r.nid });
    }
    let mut table = [None; MAX_NUMNODES as usize];
    for nid in parsed.iter() {
        table[nid as usize] = setup_node_data(mb, nid);
    }
    Ok(table)
}

/// `setup_node_data`: the node's `NODE_DATA` (the buddy allocator's `NodeData`) from memblock,
/// on the node when it can. Linux panics when it cannot; this reports it and leaves the node
/// out.
fn setup_node_data(mb: &mut Memblock, nid: i32) -> Option<PhysAddr> {
    let size = NodeData::ALLOC_BYTES;
    if node_span(mb, nid as usize).is_none() {
        info!("NUMA: Initmem setup node {nid} [<memory-less node>]");
    }
    match mb.phys_alloc_try_nid(size, SMP_CACHE_BYTES, nid) {
        Ok(pa) => {
            info!("NUMA: NODE_DATA [mem {:#010x}-{:#010x}]", pa.0, pa.0 + size - 1);
            // early_pfn_to_nid: the node of the memory region holding the frame.
            let regions = mb.ty(MemblockKind::Memory).regions();
            let tnid = regions.iter().find(|r| r.base <= pa && pa.0 - r.base.0 < r.size).map_or(nid, |r| r.nid);
            if tnid != nid {
                info!("NUMA: NODE_DATA({nid}) on node {tnid}");
            }
            Some(pa)
        }
        Err(e) => {
            error!("Cannot allocate {size} bytes for node {nid} data: {e}");
            None
        }
    }
}

#[cfg(test)]
#[path = "numa_tests.rs"]
pub(crate) mod tests;
