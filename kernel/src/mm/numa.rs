//! NUMA nodes at boot: Linux 6.1's `drivers/base/arch_numa.c` (`arch_numa_init`, `numa_init`,
//! `numa_add_memblk`, `numa_register_nodes`, `setup_node_data`, `dummy_numa_init`) and
//! `get_pfn_range_for_nid`, the one answer to "which frames does node N span" that zone sizing,
//! the memmap and `NODE_DATA` all read.
//!
//! The firmware's description is read elsewhere (`of::numa::of_numa_init` for the device tree)
//! and comes in through [`NumaDesc`]: memory through [`numa_add_memblk`], nodes named without
//! memory (a CPU's node) in its mask, distances through [`NumaDistance::set`]. When it is
//! missing, invalid or covers only part of memory, or `numa=off` asks, [`arch_numa_init`]
//! falls back to one fake node over all memory, as Linux does, so after it every memory region
//! carries a node in `0..MAX_NUMNODES`. This module never reads the device tree and never
//! touches the memory it places.

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

/// Linux's `LOCAL_DISTANCE`: a node's distance to itself.
pub const LOCAL_DISTANCE: u8 = 10;
/// Linux's `REMOTE_DISTANCE`: the distance between two nodes nobody described.
pub const REMOTE_DISTANCE: u8 = 20;

const NODES: usize = MAX_NUMNODES as usize;

/// `numa_distance`: the table `numa_alloc_distance` fills with the defaults (arm64 sizes it
/// `nr_node_ids` square, `MAX_NUMNODES` at this point) and `numa_set_distance` changes.
/// The table is only written out when a distance is first set: until then every entry is
/// the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NumaDistance {
    table: Option<[[u8; NODES]; NODES]>,
    /// The `pr_warn_once` state of `numa_set_distance`'s two warnings.
    warned_bounds: bool,
    warned_value: bool,
}

impl NumaDistance {
    /// `__node_distance`: the table's entry; outside it (or before any is set), local or
    /// remote.
    pub fn get(&self, from: usize, to: usize) -> u32 {
        match self.table.as_ref().and_then(|t| t.get(from)).and_then(|row| row.get(to)) {
            Some(&d) => d.into(),
            None if from == to => LOCAL_DISTANCE.into(),
            None => REMOTE_DISTANCE.into(),
        }
    }

    /// The table with every default filled in (`numa_alloc_distance`).
    fn table(&mut self) -> &mut [[u8; NODES]; NODES] {
        self.table.get_or_insert_with(|| {
            let mut table = [[REMOTE_DISTANCE; NODES]; NODES];
            for (i, row) in table.iter_mut().enumerate() {
                row[i] = LOCAL_DISTANCE;
            }
            table
        })
    }

    /// `numa_set_distance`: node ids outside the table, a distance that does not fit in a
    /// byte, or a node's distance to itself other than `LOCAL_DISTANCE` are refused with
    /// Linux's warning, each kind once a boot.
    pub fn set(&mut self, from: i32, to: i32, distance: i32) {
        let (Ok(f), Ok(t)) = (usize::try_from(from), usize::try_from(to)) else {
            return self.out_of_bound(from, to, distance);
        };
        if f >= NODES || t >= NODES {
            return self.out_of_bound(from, to, distance);
        }
        match u8::try_from(distance) {
            Ok(d) if from != to || d == LOCAL_DISTANCE => self.table()[f][t] = d,
            _ => {
                if !core::mem::replace(&mut self.warned_value, true) {
                    warn!("NUMA: Warning: invalid distance parameter, from={from} to={to} distance={distance}");
                }
            }
        }
    }

    fn out_of_bound(&mut self, from: i32, to: i32, distance: i32) {
        if !core::mem::replace(&mut self.warned_bounds, true) {
            warn!("NUMA: Warning: node ids are out of bound, from={from} to={to} distance={distance}");
        }
    }
}

/// What a firmware description hands `numa_init`: Linux's `numa_nodes_parsed` and
/// `numa_distance`, fresh for each attempt (a refused description's distances go with it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NumaDesc {
    pub parsed: NodeMask,
    pub distance: NumaDistance,
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

/// The nodes `arch_numa_init` registered: each one's `NODE_DATA` (a registered node is
/// online, with or without memory) and the distances between them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NumaNodes {
    pub node_data: NodeDataTable,
    pub distance: NumaDistance,
}

impl NumaNodes {
    /// `node_online_map`: the nodes with a `NODE_DATA`.
    pub fn online(&self) -> NodeMask {
        let mut mask = NodeMask::default();
        for (nid, _) in self.node_data.iter().enumerate().filter(|(_, d)| d.is_some()) {
            mask.set(nid as i32);
        }
        mask
    }
}

/// `arch_numa_init`: the firmware's description through `firmware` (`of_numa_init`) unless
/// `numa_off` (`numa=off`), else one fake node over all memory (`dummy_numa_init`).
pub fn arch_numa_init(mb: &mut Memblock, numa_off: bool, firmware: &mut NumaInitFn) -> NumaNodes {
    if !numa_off {
        if let Ok(nodes) = numa_init(mb, firmware) {
            return nodes;
        }
    }
    numa_init(mb, &mut |mb, desc| dummy_numa_init(mb, desc, numa_off)).unwrap_or_default()
}

/// A way to learn the nodes (`of_numa_init`, `dummy_numa_init`): it puts memory on nodes with
/// [`numa_add_memblk`], which notes each node in the mask, and may name nodes and distances.
pub type NumaInitFn<'f> = dyn FnMut(&mut Memblock, &mut NumaDesc) -> Result<(), NumaError> + 'f;

/// `numa_init`: run `init_func`, refuse an empty description, then register the nodes.
fn numa_init(mb: &mut Memblock, init_func: &mut NumaInitFn) -> Result<NumaNodes, NumaError> {
    let mut desc = NumaDesc::default();
    init_func(mb, &mut desc)?;
    if desc.parsed.is_empty() {
        info!("NUMA: No NUMA configuration found");
        return Err(NumaError::NoConfiguration);
    }
    let node_data = numa_register_nodes(mb, desc.parsed)?;
    Ok(NumaNodes { node_data, distance: desc.distance })
}

/// `dummy_numa_init`: node 0 over `[start_of_DRAM, end_of_DRAM)`, after saying why when
/// `numa=off` asked for it.
fn dummy_numa_init(mb: &mut Memblock, desc: &mut NumaDesc, numa_off: bool) -> Result<(), NumaError> {
    let (start, end) = (mb.start_of_dram(), mb.end_of_dram());
    if numa_off {
        info!("NUMA: NUMA disabled");
    }
    info!("NUMA: Faking a node at [mem {:#018x}-{:#018x}]", start.0, end.0.wrapping_sub(1));
    numa_add_memblk(mb, &mut desc.parsed, 0, start.0, end.0 - start.0).inspect_err(|_| error!("NUMA: NUMA init failed"))
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
