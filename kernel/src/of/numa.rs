//! The device tree's NUMA description: Linux 6.1's `of_numa_init` from
//! `drivers/of/of_numa.c` as far as memory goes (`of_numa_parse_memory_nodes`): the
//! `numa-node-id` of every node whose `device_type` is "memory" puts that node's `reg` ranges
//! on the node, through `mm::numa::numa_add_memblk`.
//!
//! Lines carry Linux's `OF: NUMA: ` prefix. A node id at or above `MAX_NUMNODES`, an unreadable
//! `numa-node-id` or a memory node without `reg` refuses the whole description (and
//! `mm::numa::arch_numa_init` falls back to one fake node). CPU nodes' `numa-node-id`
//! (`of_numa_parse_cpu_nodes`) and `numa-distance-map-v1` are not read: the kernel runs on one
//! CPU and uses the default distances. This module never touches memory.

use crate::mm::memblock::{Memblock, MAX_NUMNODES};
use crate::mm::numa::{numa_add_memblk, NodeMask, NumaError};
use crate::of::fdt::{Fdt, Node};
use crate::{error, warn};

/// `of_numa_init`. Like Linux's `for_each_node_by_type(np, "memory")`, it walks every node
/// of the tree, wherever it sits and whatever its `status` (the memory scan only takes the
/// root's available children), in the tree's order.
pub fn of_numa_init(fdt: &Fdt, mb: &mut Memblock, parsed: &mut NodeMask) -> Result<(), NumaError> {
    fdt.all_nodes().try_for_each(|node| parse_memory_node(&node, mb, parsed))
}

/// One step of `of_numa_parse_memory_nodes`: a node that is not memory, or has no
/// `numa-node-id`, is skipped.
fn parse_memory_node(node: &Node, mb: &mut Memblock, parsed: &mut NodeMask) -> Result<(), NumaError> {
    if node.property("device_type").and_then(|p| p.as_str()) != Some("memory") {
        return Ok(());
    }
    // of_property_read_u32: an absent property skips the node; a value shorter than one cell
    // is an error; a longer one is read from its first cell.
    let Some(prop) = node.property("numa-node-id") else { return Ok(()) };
    let added = match prop.value.get(..4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])) {
        None => Err(NumaError::BadProperty),
        Some(nid) if nid >= MAX_NUMNODES as u32 => {
            warn!("OF: NUMA: Node id {nid} exceeds maximum value");
            Err(NumaError::BadProperty)
        }
        Some(nid) => add_reg(node, mb, parsed, nid as i32),
    };
    if added.is_err() {
        error!("OF: NUMA: bad property in memory node");
    }
    added
}

/// Every `reg` range of `node` onto `nid`; no range at all is a bad property, as in Linux.
fn add_reg(node: &Node, mb: &mut Memblock, parsed: &mut NodeMask, nid: i32) -> Result<(), NumaError> {
    // of_address_to_resource fails on a missing or undecodable `reg`: no range at all.
    let Some(Ok(reg)) = node.reg() else { return Err(NumaError::BadProperty) };
    let mut entries = 0;
    for (base, size) in reg {
        entries += 1;
        numa_add_memblk(mb, parsed, nid, base, size)?;
    }
    if entries == 0 {
        return Err(NumaError::BadProperty);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Linux 6.1's of_numa_parse_memory_nodes on small trees: which lines, in which order, and
    //! what memblock holds afterwards (through `arch_numa_init`, as the boot runs it).

    use super::*;
    use crate::mm::memblock::MemblockKind;
    use crate::mm::numa::{arch_numa_init, tests::node_data_line};
    use crate::of::fdt_scan;
    use crate::of::testblob::{cells, Builder};
    use crate::testlog::capture;
    use std::boxed::Box;
    use std::string::String;
    use std::vec::Vec;

    const HALF: u64 = 0x2000_0000;
    const FAKE: &str = "NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]";

    /// A root with 2/2 cells and one child per `(name, base, extra properties)`, each of
    /// `device_type` "memory" and 512 MiB.
    fn tree(nodes: &[(&str, u64, &[(&str, &[u8])])]) -> Vec<u8> {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        for (name, base, extra) in nodes {
            b.begin(name);
            b.prop("device_type", b"memory\0");
            b.prop("reg", &cells(*base, HALF));
            for (prop, value) in *extra {
                b.prop(prop, value);
            }
            b.end();
        }
        b.end();
        b.finish(&[])
    }

    /// The memory scan, then the NUMA step; returns its lines and the memory regions'
    /// `(base, size, nid)`.
    fn numa(blob: &[u8]) -> (Vec<String>, Vec<(u64, u64, i32)>) {
        let fdt = Fdt::new(blob).unwrap();
        let mut mb = Box::new(Memblock::new());
        fdt_scan::scan_memory(&fdt, fdt_scan::scan_root(&fdt), &mut mb);
        let (_, lines) = capture(|| {
            arch_numa_init(&mut mb, &mut |mb, parsed| of_numa_init(&fdt, mb, parsed));
        });
        let regions = mb.ty(MemblockKind::Memory).regions().iter().map(|r| (r.base.0, r.size, r.nid)).collect();
        (lines, regions)
    }

    const NID0: &[(&str, &[u8])] = &[("numa-node-id", &[0, 0, 0, 0])];
    const NID1: &[(&str, &[u8])] = &[("numa-node-id", &[0, 0, 0, 1])];

    /// Both halves named: kept, each node's NODE_DATA at the top of its own memory.
    #[test]
    fn every_memory_node_named() {
        let (lines, regions) =
            numa(&tree(&[("memory@40000000", 0x4000_0000, NID0), ("memory@60000000", 0x6000_0000, NID1)]));
        assert_eq!(lines, [node_data_line(0x6000_0000), node_data_line(0x8000_0000)]);
        assert_eq!(regions, [(0x4000_0000, HALF, 0), (0x6000_0000, HALF, 1)]);
    }

    /// Only the upper node carries `numa-node-id`: of_numa_init succeeds (it skips the other),
    /// numa_register_nodes then finds the lower half on memblock's MAX_NUMNODES, warns with
    /// its bounds, and the fallback puts all memory on node 0 (one region again).
    #[test]
    fn only_some_memory_nodes_named() {
        let (lines, regions) =
            numa(&tree(&[("memory@40000000", 0x4000_0000, &[]), ("ram@60000000", 0x6000_0000, NID0)]));
        let warning = "NUMA: Warning: invalid memblk node 16 [mem 0x0000000040000000-0x000000005fffffff]";
        assert_eq!(lines, [warning.into(), FAKE.into(), node_data_line(0x8000_0000)]);
        assert_eq!(regions, [(0x4000_0000, 2 * HALF, 0)]);
    }

    /// `numa-node-id` 16 is MAX_NUMNODES, one too many: of_numa_parse_memory_nodes warns,
    /// calls the property bad and refuses the tree; numa_init returns before its "No NUMA
    /// configuration" check, so the fallback's lines follow directly.
    #[test]
    fn node_id_out_of_range() {
        let nid16: &[(&str, &[u8])] = &[("numa-node-id", &[0, 0, 0, 16])];
        let (lines, regions) =
            numa(&tree(&[("memory@40000000", 0x4000_0000, NID0), ("ram@60000000", 0x6000_0000, nid16)]));
        assert_eq!(
            lines,
            [
                "OF: NUMA: Node id 16 exceeds maximum value".into(),
                "OF: NUMA: bad property in memory node".into(),
                String::from(FAKE),
                node_data_line(0x8000_0000),
            ]
        );
        assert_eq!(regions, [(0x4000_0000, 2 * HALF, 0)]);
    }

    /// A value shorter than one cell cannot be read (of_property_read_u32 fails with
    /// -EOVERFLOW): a bad property, without the range warning. A longer one is read from its
    /// first cell, so `<1 7>` names node 1.
    #[test]
    fn short_and_long_values() {
        let short: &[(&str, &[u8])] = &[("numa-node-id", &[0, 1])];
        let (lines, _) =
            numa(&tree(&[("memory@40000000", 0x4000_0000, short), ("memory@60000000", 0x6000_0000, NID1)]));
        assert_eq!(
            lines,
            ["OF: NUMA: bad property in memory node".into(), String::from(FAKE), node_data_line(0x8000_0000)]
        );

        let long: &[(&str, &[u8])] = &[("numa-node-id", &[0, 0, 0, 1, 0, 0, 0, 7])];
        let (_, regions) =
            numa(&tree(&[("memory@40000000", 0x4000_0000, NID0), ("memory@60000000", 0x6000_0000, long)]));
        assert_eq!(regions, [(0x4000_0000, HALF, 0), (0x6000_0000, HALF, 1)]);
    }

    /// A memory node that names a node but has no `reg` range (here a `reg` shorter than one
    /// entry): of_address_to_resource finds nothing, so the loop runs zero times and the
    /// property is bad.
    #[test]
    fn named_node_without_reg_range() {
        let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 2 * HALF);
        b.begin("ram@0");
        b.prop("device_type", b"memory\0");
        b.prop("reg", &[0, 0, 0, 0]);
        b.prop("numa-node-id", &[0, 0, 0, 1]);
        b.end();
        b.end();
        let (lines, _) = numa(&b.finish(&[]));
        assert_eq!(
            lines,
            ["OF: NUMA: bad property in memory node".into(), String::from(FAKE), node_data_line(0x8000_0000)]
        );
    }
}
