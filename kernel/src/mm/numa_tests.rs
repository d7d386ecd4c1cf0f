//! Host tests of the NUMA step: the one node span that zone sizing and the memmap share, and
//! Linux's fallback to a fake node. Expected lines are worked out from Linux 6.1's
//! `drivers/base/arch_numa.c` in the comments.

use super::*;
use crate::mm::memblock::{Region, MAX_NUMNODES};
use crate::testlog::capture;
use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec::Vec;

const MIB: u64 = 1 << 20;

/// `[1 GiB, 2 GiB)` of memory, as memblock_add leaves it: no node (nid MAX_NUMNODES).
fn one_gib() -> Box<Memblock> {
    let mut mb = Box::new(Memblock::new());
    mb.add(PhysAddr(0x4000_0000), 1024 * MIB).unwrap();
    mb
}

fn nids(mb: &Memblock) -> Vec<(u64, u64, i32)> {
    mb.ty(MemblockKind::Memory).regions().iter().map(|r: &Region| (r.base.0, r.size, r.nid)).collect()
}

/// `NODE_DATA`'s size: `sizeof(pg_data_t)` (here the buddy's `NodeData`) rounded up to a
/// cache line.
pub(crate) fn nd_size() -> u64 {
    (core::mem::size_of::<NodeData>() as u64).next_multiple_of(SMP_CACHE_BYTES)
}

/// The `NODE_DATA` line for an allocation placed top-down just below `top`.
pub(crate) fn node_data_line(top: u64) -> String {
    format!("NUMA: NODE_DATA [mem {:#010x}-{:#010x}]", top - nd_size(), top - 1)
}

/// The region's node id is not a configured node (20 >= MAX_NUMNODES): zone sizing and the
/// memmap must agree on which node spans it (node 0, see `node_of`), or mem_init hands the
/// buddy pages of a zone whose node has no memmap there.
///
/// ```text
///   0x4000_0000        0x6000_0000        0x8000_0000
///   |   nid 0 (512M)   |  nid 20 (512M)   |     -> node 0 spans pfn 0x40000..0x80000
/// ```
#[test]
fn an_unconfigured_nid_gets_one_span_from_zones_and_memmap() {
    let mut mb = one_gib();
    mb.set_node(PhysAddr(0x4000_0000), 512 * MIB, MemblockKind::Memory, 0).unwrap();
    mb.set_node(PhysAddr(0x6000_0000), 512 * MIB, MemblockKind::Memory, 20).unwrap();
    assert_eq!(node_span(&mb, 0), Some((Pfn(0x40000), Pfn(0x80000))));
    assert_eq!(node_span(&mb, 1), None);

    let limits = crate::mm::zone_sizes::arm64_zone_limits(&mb, &crate::mm::zone_sizes::tests::ARM64, None);
    let zones = crate::mm::zone_sizes::free_area_init(&mb, &limits, NodeMask::default(), &mut |_| {}, &mut |_| {});
    let node0 = zones.nodes[0];
    assert_eq!((node0.node_start_pfn, node0.node_end_pfn), (0x40000, 0x80000));

    let memmaps = crate::mm::init::alloc_memmaps(&mut mb);
    let m = memmaps[0].expect("node 0 has a memmap");
    assert_eq!((m.start_pfn.0, m.end_pfn.0), (node0.node_start_pfn, node0.node_end_pfn));
    assert!(memmaps[1..].iter().all(Option::is_none));
}

/// No node named anywhere (a tree without `numa-node-id`): numa_init says so, and
/// dummy_numa_init puts all memory on node 0 over [start_of_DRAM, end_of_DRAM - 1]. Its
/// NODE_DATA is the first allocation, top-down: just below 2 GiB.
#[test]
fn no_configuration_fakes_one_node() {
    let mut mb = one_gib();
    let mut table = None;
    let (_, lines) = capture(|| table = Some(arch_numa_init(&mut mb, false, &mut |_, _| Ok(()))));
    assert_eq!(
        lines,
        [
            "NUMA: No NUMA configuration found".into(),
            "NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]".into(),
            node_data_line(0x8000_0000),
        ]
    );
    assert_eq!(nids(&mb), [(0x4000_0000, 1024 * MIB, 0)]);
    let table = table.unwrap();
    assert_eq!(table.node_data[0], Some(PhysAddr(0x8000_0000 - nd_size())));
    assert!(table.node_data[1..].iter().all(Option::is_none));
}

/// The firmware names node 0 for the upper half only. numa_nodes_parsed is not empty, so
/// there is no "No NUMA configuration" line; numa_register_nodes finds the lower half still on
/// memblock's MAX_NUMNODES (16) and warns with its `%pap` bounds, the description is dropped
/// and dummy_numa_init puts everything on node 0 (the two halves merge again).
///
/// ```text
///   0x4000_0000        0x6000_0000        0x8000_0000
///   |   nid 16         |  nid 0           |   -> warn about the first, then one node 0
/// ```
#[test]
fn partial_description_warns_and_fakes_one_node() {
    let mut mb = one_gib();
    let mut table = None;
    let (_, lines) = capture(|| {
        table = Some(arch_numa_init(&mut mb, false, &mut |mb, d| numa_add_memblk(mb, &mut d.parsed, 0, 0x6000_0000, 512 * MIB)))
    });
    assert_eq!(
        lines,
        [
            format!("NUMA: Warning: invalid memblk node {MAX_NUMNODES} [mem 0x0000000040000000-0x000000005fffffff]"),
            "NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]".into(),
            node_data_line(0x8000_0000),
        ]
    );
    assert_eq!(nids(&mb), [(0x4000_0000, 1024 * MIB, 0)]);
    assert!(table.unwrap().node_data[1..].iter().all(Option::is_none));
}

/// A description refused while parsing (of_numa_init's error): numa_init returns before its
/// "No NUMA configuration" check, so only the fallback's lines follow, and the node that was
/// already applied is overwritten by node 0.
#[test]
fn refused_description_fakes_one_node_without_no_configuration_line() {
    let mut mb = one_gib();
    let (_, lines) = capture(|| {
        arch_numa_init(&mut mb, false, &mut |mb, d| {
            numa_add_memblk(mb, &mut d.parsed, 3, 0x4000_0000, 512 * MIB)?;
            Err(NumaError::BadProperty)
        });
    });
    assert_eq!(
        lines,
        ["NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]".into(), node_data_line(0x8000_0000)]
    );
    assert_eq!(nids(&mb), [(0x4000_0000, 1024 * MIB, 0)]);
}

/// Two nodes covering all memory are kept: each gets its NODE_DATA at the top of its own
/// memory (node 0's just below 0x6000_0000, node 1's below 2 GiB), in node order.
#[test]
fn complete_description_registers_every_node() {
    let mut mb = one_gib();
    let mut table = None;
    let (_, lines) = capture(|| {
        table = Some(arch_numa_init(&mut mb, false, &mut |mb, d| {
            numa_add_memblk(mb, &mut d.parsed, 0, 0x4000_0000, 512 * MIB)?;
            numa_add_memblk(mb, &mut d.parsed, 1, 0x6000_0000, 512 * MIB)
        }))
    });
    assert_eq!(lines, [node_data_line(0x6000_0000), node_data_line(0x8000_0000)]);
    assert_eq!(nids(&mb), [(0x4000_0000, 512 * MIB, 0), (0x6000_0000, 512 * MIB, 1)]);
    let table = table.unwrap();
    assert_eq!(table.node_data[..2], [Some(PhysAddr(0x6000_0000 - nd_size())), Some(PhysAddr(0x8000_0000 - nd_size()))]);
}

/// A parsed node whose memory memblock does not hold (e.g. cut off by `mem=`) is registered
/// memory-less: setup_node_data says so and still places its NODE_DATA, which falls back to
/// any node (node 0, below node 0's own) and says where it landed.
#[test]
fn node_without_memory_is_registered_memoryless() {
    let mut mb = one_gib();
    let (_, lines) = capture(|| {
        arch_numa_init(&mut mb, false, &mut |mb, d| {
            numa_add_memblk(mb, &mut d.parsed, 0, 0x4000_0000, 1024 * MIB)?;
            numa_add_memblk(mb, &mut d.parsed, 2, 0x1_0000_0000, 512 * MIB)
        });
    });
    let second = 0x8000_0000 - nd_size();
    assert_eq!(
        lines,
        [
            node_data_line(0x8000_0000),
            "NUMA: Initmem setup node 2 [<memory-less node>]".into(),
            node_data_line(second),
            "NUMA: NODE_DATA(2) on node 0".into(),
        ]
    );
}

#[test]
fn node_mask_ignores_ids_that_are_not_nodes() {
    let mut m = NodeMask::default();
    for nid in [-1, 3, 16, 20, 15] {
        m.set(nid);
    }
    assert_eq!(m.iter().collect::<Vec<_>>(), [3, 15]);
}
