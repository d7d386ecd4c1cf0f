//! The device tree's NUMA description: Linux 6.1's `of_numa_init` from `drivers/of/of_numa.c`.
//! In its order: the `numa-node-id` of every `/cpus` node of `device_type` "cpu" names a node
//! (`of_numa_parse_cpu_nodes`; a node without memory becomes a memory-less node), the
//! `numa-node-id` of every node whose `device_type` is "memory" puts that node's `reg` ranges
//! on the node (`of_numa_parse_memory_nodes`, through `mm::numa::numa_add_memblk`), and the
//! first node compatible with "numa-distance-map-v1" sets the distances between nodes.
//!
//! Lines carry Linux's `OF: NUMA: ` prefix. A memory node's id at or above `MAX_NUMNODES`, an
//! unreadable `numa-node-id`, a memory node without `reg` or a bad distance matrix refuses the
//! whole description (and `mm::numa::arch_numa_init` falls back to one fake node); a CPU's id
//! out of range is only reported. This module never touches memory.

use crate::mm::memblock::{Memblock, MAX_NUMNODES};
use crate::mm::numa::{numa_add_memblk, NodeMask, NumaDesc, NumaError, LOCAL_DISTANCE};
use crate::of::cells::cell_count;
use crate::of::fdt::{Fdt, Node};
use crate::of::fdt_scan::cpu_nodes;
use crate::{error, info, trace, warn};

/// `of_numa_init`. Like Linux's `for_each_node_by_type(np, "memory")`, the memory step walks
/// every node of the tree, wherever it sits and whatever its `status` (the memory scan only
/// takes the root's available children), in the tree's order.
pub fn of_numa_init(fdt: &Fdt, mb: &mut Memblock, desc: &mut NumaDesc) -> Result<(), NumaError> {
    parse_cpu_nodes(fdt, &mut desc.parsed);
    // One walk: the memory nodes, and the first distance map (of_find_compatible_node), which
    // is read once every memory node has been.
    let mut map = None;
    fdt.all_nodes().try_for_each(|node| {
        if map.is_none() && node.is_compatible("numa-distance-map-v1") {
            map = Some(node);
        }
        parse_memory_node(&node, mb, &mut desc.parsed)
    })?;
    match map {
        Some(map) => parse_distance_map_v1(&map, desc),
        None => Ok(()),
    }
}

/// `of_node_to_nid` as `smp_init_cpus` asks it for a CPU it keeps
/// ([`smp_init_cpus`](crate::of::fdt_scan::smp_init_cpus)): the first `numa-node-id` on the
/// node, `/cpus` or `/`; one that cannot be read (shorter than a cell) is reported with the
/// name of the node that holds it (`%pOFn`: no unit address). `parents`: `/cpus` and `/`.
pub fn warn_unreadable_cpu_nid(cpu: &Node, parents: [Option<&Node>; 2]) {
    let [cpus, root] = parents;
    let holder = [Some(cpu), cpus, root].into_iter().flatten().find(|n| n.property("numa-node-id").is_some());
    if let Some(node) = holder.filter(|n| read_u32(n, "numa-node-id") == Some(Err(()))) {
        warn!("OF: NUMA: Invalid \"numa-node-id\" property in node {}", node.base_name());
    }
}

/// `of_property_read_u32`: `None` when the property is absent or shorter than one cell; a
/// longer value is read from its first cell.
fn read_u32(node: &Node, name: &str) -> Option<Result<u32, ()>> {
    let prop = node.property(name)?;
    Some(cell_count(Some(prop)).ok_or(()))
}

/// `of_numa_parse_cpu_nodes`: each CPU's node is a node, with or without memory. An id out of
/// range is reported and skipped; an unreadable one is skipped silently.
fn parse_cpu_nodes(fdt: &Fdt, parsed: &mut NodeMask) {
    for cpu in cpu_nodes(fdt) {
        let Some(Ok(nid)) = read_u32(&cpu, "numa-node-id") else { continue };
        trace!("OF: NUMA: CPU on {nid}");
        if nid >= MAX_NUMNODES as u32 {
            warn!("OF: NUMA: Node id {nid} exceeds maximum value");
        } else {
            parsed.set(nid as i32);
        }
    }
}

/// One step of `of_numa_parse_memory_nodes`: a node that is not memory, or has no
/// `numa-node-id`, is skipped.
fn parse_memory_node(node: &Node, mb: &mut Memblock, parsed: &mut NodeMask) -> Result<(), NumaError> {
    if node.property("device_type").and_then(|p| p.as_str()) != Some("memory") {
        return Ok(());
    }
    // An absent property skips the node; a value shorter than one cell is an error.
    let Some(nid) = read_u32(node, "numa-node-id") else { return Ok(()) };
    let added = match nid {
        Err(()) => Err(NumaError::BadProperty),
        Ok(nid) if nid >= MAX_NUMNODES as u32 => {
            warn!("OF: NUMA: Node id {nid} exceeds maximum value");
            Err(NumaError::BadProperty)
        }
        Ok(nid) => add_reg(node, mb, parsed, nid as i32),
    };
    if added.is_err() {
        error!("OF: NUMA: bad property in memory node");
    }
    added
}

/// Every `reg` range of `node` onto `nid`; no range at all is a bad property, as in Linux.
fn add_reg(node: &Node, mb: &mut Memblock, parsed: &mut NodeMask, nid: i32) -> Result<(), NumaError> {
    // of_address_to_resource(np, i) for i = 0, 1, ... while an entry is whole: a partial one
    // at the end ends the list; a missing or undecodable `reg` gives no range at all.
    let Some(value) = node.property("reg").map(|p| p.value) else { return Err(NumaError::BadProperty) };
    let Ok(reg) = node.bus_cells().reg_whole_entries(value) else { return Err(NumaError::BadProperty) };
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

/// `of_numa_parse_distance_map_v1`: `distance-matrix` is a list of `<from to distance>`
/// triples (a trailing partial one is ignored). A distance of a node to itself other than
/// `LOCAL_DISTANCE`, or between two nodes at or below it, refuses the description; the first
/// node of each triple before that is named (`node_set`), and `numa_set_distance` takes the
/// distance both ways, warning once about ids outside its table or a distance over 255.
///
/// A `from` id past `MAX_NUMNODES` names no node; Linux 6.1's `node_set` writes its bit past
/// `numa_nodes_parsed` (harmless for the ids booted, up to 1000; 0xffffffff faults in
/// `of_numa_init`), then `numa_set_distance` warns, as here.
fn parse_distance_map_v1(map: &Node, desc: &mut NumaDesc) -> Result<(), NumaError> {
    info!("OF: NUMA: parsing numa-distance-map-v1");
    let Some(matrix) = map.property("distance-matrix") else {
        error!("OF: NUMA: No distance-matrix property in distance-map");
        return Err(NumaError::BadProperty);
    };
    if matrix.value.is_empty() || matrix.value.len() % 4 != 0 {
        error!("OF: NUMA: Invalid distance-matrix");
        return Err(NumaError::BadProperty);
    }
    let mut cells = matrix.value.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    while let (Some(a), Some(b), Some(d)) = (cells.next(), cells.next(), cells.next()) {
        let local = u32::from(LOCAL_DISTANCE);
        if (a == b && d != local) || (a != b && d <= local) {
            error!("OF: NUMA: Invalid distance[node{} -> node{}] = {}", a as i32, b as i32, d as i32);
            return Err(NumaError::BadProperty);
        }
        // node_set: an id past MAX_NUMNODES names no node (numa_set_distance then warns).
        desc.parsed.set(a as i32);
        desc.distance.set(a as i32, b as i32, d as i32);
        if b > a {
            desc.distance.set(b as i32, a as i32, d as i32);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Linux 6.1's of_numa_parse_memory_nodes on small trees: which lines, in which order, and
    //! what memblock holds afterwards (through `arch_numa_init`, as the boot runs it).

    use super::*;
    use crate::mm::memblock::MemblockKind;
    use crate::mm::numa::{arch_numa_init, tests::{nd_size, node_data_line}, NumaNodes};
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
        tree_with(nodes, &[], None)
    }

    /// [`tree`] with a `/cpus` node holding one `cpu@N` per entry (with its `numa-node-id`
    /// when given) and, when given, a `/distance-map` with this `distance-matrix` value.
    fn tree_with(nodes: &[(&str, u64, &[(&str, &[u8])])], cpus: &[Option<u32>], matrix: Option<&[u8]>) -> Vec<u8> {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.begin("cpus");
        for (i, nid) in cpus.iter().enumerate() {
            b.begin(&std::format!("cpu@{i}"));
            b.prop("device_type", b"cpu\0");
            if let Some(nid) = nid {
                b.prop("numa-node-id", &nid.to_be_bytes());
            }
            b.end();
        }
        b.end();
        for (name, base, extra) in nodes {
            b.begin(name);
            b.prop("device_type", b"memory\0");
            b.prop("reg", &cells(*base, HALF));
            for (prop, value) in *extra {
                b.prop(prop, value);
            }
            b.end();
        }
        if let Some(matrix) = matrix {
            b.begin("distance-map");
            b.prop("compatible", b"numa-distance-map-v1\0");
            b.prop("distance-matrix", matrix);
            b.end();
        }
        b.end();
        b.finish(&[])
    }

    /// The memory scan, then the NUMA step; returns its lines and the memory regions'
    /// `(base, size, nid)`.
    fn numa(blob: &[u8]) -> (Vec<String>, Vec<(u64, u64, i32)>) {
        let (lines, regions, _) = numa_nodes(blob, false);
        (lines, regions)
    }

    /// [`numa`], with `numa=off` when `off`, and the nodes it registered.
    fn numa_nodes(blob: &[u8], off: bool) -> (Vec<String>, Vec<(u64, u64, i32)>, NumaNodes) {
        let fdt = Fdt::new(blob).unwrap();
        let mut mb = Box::new(Memblock::new());
        fdt_scan::scan_memory(&fdt, fdt_scan::scan_root(&fdt), &mut mb);
        let mut nodes = NumaNodes::default();
        let (_, lines) = capture(|| {
            nodes = arch_numa_init(&mut mb, off, &mut |mb, desc| of_numa_init(&fdt, mb, desc));
        });
        let regions = mb.ty(MemblockKind::Memory).regions().iter().map(|r| (r.base.0, r.size, r.nid)).collect();
        (lines, regions, nodes)
    }

    /// The cells of a `distance-matrix` value.
    fn matrix(triples: &[[u32; 3]]) -> Vec<u8> {
        triples.iter().flatten().flat_map(|c| c.to_be_bytes()).collect()
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

    // The cases below were booted on Debian's Linux 6.1 in QEMU (`-numa` options and trees
    // edited with dtc); the expected lines are what it printed, with NODE_DATA at our size.

    const NID2: &[(&str, &[u8])] = &[("numa-node-id", &[0, 0, 0, 2])];
    /// Node 0 at [1 GiB, 1.5 GiB), node 2 at [1.5 GiB, 2 GiB).
    const NODES_0_2: [(&str, u64, &[(&str, &[u8])]); 2] = [("memory@40000000", 0x4000_0000, NID0), ("memory@60000000", 0x6000_0000, NID2)];
    const NODES_0_1: [(&str, u64, &[(&str, &[u8])]); 2] = [("memory@40000000", 0x4000_0000, NID0), ("memory@60000000", 0x6000_0000, NID1)];

    fn online(nodes: &NumaNodes) -> Vec<i32> {
        nodes.online().iter().collect()
    }

    /// A CPU on node 1, which has no memory: node 1 is parsed, so numa_register_nodes gives it
    /// a NODE_DATA (from any node: the top of memory, on node 2) and puts it online. (The
    /// `CPU on` lines are pr_debug.)
    #[test]
    fn a_cpus_node_without_memory_is_a_memoryless_node() {
        let (lines, _, nodes) = numa_nodes(&tree_with(&NODES_0_2, &[Some(0), Some(1), Some(2)], None), false);
        assert_eq!(
            lines,
            [
                "OF: NUMA: CPU on 0".into(),
                "OF: NUMA: CPU on 1".into(),
                "OF: NUMA: CPU on 2".into(),
                node_data_line(0x6000_0000),
                "NUMA: Initmem setup node 1 [<memory-less node>]".into(),
                node_data_line(0x8000_0000),
                "NUMA: NODE_DATA(1) on node 2".into(),
                node_data_line(0x8000_0000 - nd_size()),
            ]
        );
        assert_eq!(online(&nodes), [0, 1, 2]);
    }

    /// A CPU's node id out of range is only reported (of_numa_parse_cpu_nodes returns
    /// nothing); a CPU without the property, or with a short one, names nothing.
    #[test]
    fn a_cpus_node_id_out_of_range_is_reported_and_skipped() {
        let (lines, _, nodes) = numa_nodes(&tree_with(&NODES_0_1, &[Some(20), None], None), false);
        assert_eq!(
            lines,
            [
                "OF: NUMA: CPU on 20".into(),
                "OF: NUMA: Node id 20 exceeds maximum value".into(),
                node_data_line(0x6000_0000),
                node_data_line(0x8000_0000)
            ]
        );
        assert_eq!(online(&nodes), [0, 1]);
    }

    /// `<0 1 40>` sets both directions; `<1 0 30>` only its own (node 0 is below node 1). A
    /// partial triple at the end is ignored.
    #[test]
    fn the_distance_map_sets_distances() {
        let mut m = matrix(&[[0, 0, 10], [0, 1, 40], [1, 1, 10]]);
        let (lines, _, nodes) = numa_nodes(&tree_with(&NODES_0_1, &[], Some(&m)), false);
        assert_eq!(lines[0], "OF: NUMA: parsing numa-distance-map-v1");
        assert_eq!(lines[1..], [node_data_line(0x6000_0000), node_data_line(0x8000_0000)]);
        let d = nodes.distance;
        assert_eq!([d.get(0, 1), d.get(1, 0), d.get(0, 0), d.get(1, 1), d.get(0, 2), d.get(2, 2)], [40, 40, 10, 10, 20, 10]);

        m = matrix(&[[1, 0, 30]]);
        m.extend_from_slice(&7u32.to_be_bytes());
        let (_, _, nodes) = numa_nodes(&tree_with(&NODES_0_1, &[], Some(&m)), false);
        assert_eq!([nodes.distance.get(1, 0), nodes.distance.get(0, 1)], [30, 20]);
    }

    /// Each refusal of the distance map refuses the description: one node is faked over all
    /// memory, with the default distances.
    #[test]
    fn a_bad_distance_map_fakes_one_node() {
        let cases: [(&[u8], &str); 5] = [
            (&[0, 0, 0, 10, 0], "OF: NUMA: Invalid distance-matrix"),
            (&[], "OF: NUMA: Invalid distance-matrix"),
            (&matrix(&[[0, 1, 5], [0, 0, 10]]), "OF: NUMA: Invalid distance[node0 -> node1] = 5"),
            (&matrix(&[[0, 1, 40], [0, 0, 11]]), "OF: NUMA: Invalid distance[node0 -> node0] = 11"),
            (&matrix(&[[0, 1, 10]]), "OF: NUMA: Invalid distance[node0 -> node1] = 10"),
        ];
        for (m, error) in cases {
            let (lines, regions, nodes) = numa_nodes(&tree_with(&NODES_0_1, &[], Some(m)), false);
            let want: [String; 4] =
                ["OF: NUMA: parsing numa-distance-map-v1".into(), error.into(), FAKE.into(), node_data_line(0x8000_0000)];
            assert_eq!(lines, want, "{m:?}");
            assert_eq!(regions, [(0x4000_0000, 2 * HALF, 0)]);
            assert_eq!((online(&nodes), nodes.distance.get(0, 1)), (std::vec![0], 20));
        }

        // No distance-matrix at all.
        let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 2 * HALF);
        b.begin("map");
        b.prop("compatible", b"numa-distance-map-v1\0");
        b.end();
        b.end();
        let (lines, _, _) = numa_nodes(&b.finish(&[]), false);
        assert_eq!(lines[..2], ["OF: NUMA: parsing numa-distance-map-v1", "OF: NUMA: No distance-matrix property in distance-map"]);
    }

    /// numa_set_distance's refusals keep the description: a distance over 255 and node ids
    /// outside its table are each reported once, and the entry is not set.
    #[test]
    fn numa_set_distance_refusals_warn_once() {
        let m = matrix(&[[0, 1, 300], [1, 0, 300], [0, 16, 20], [0, 17, 20], [0, 1, 30]]);
        let (lines, _, nodes) = numa_nodes(&tree_with(&NODES_0_1, &[], Some(&m)), false);
        assert_eq!(
            lines,
            [
                "OF: NUMA: parsing numa-distance-map-v1".into(),
                "NUMA: Warning: invalid distance parameter, from=0 to=1 distance=300".into(),
                "NUMA: Warning: node ids are out of bound, from=0 to=16 distance=20".into(),
                node_data_line(0x6000_0000),
                node_data_line(0x8000_0000),
            ]
        );
        assert_eq!([nodes.distance.get(0, 1), nodes.distance.get(1, 0)], [30, 30]);
    }

    /// The first node of each triple is parsed (`node_set`): a node only the map names is a
    /// memory-less node. An id past MAX_NUMNODES names none; numa_set_distance's warning
    /// (once) is all (booted: 40, 64, 100, 1000).
    #[test]
    fn the_distance_map_names_nodes() {
        let m = matrix(&[[3, 0, 20], [40, 0, 20], [u32::MAX, 0, 20]]);
        let (lines, _, nodes) = numa_nodes(&tree_with(&NODES_0_1, &[], Some(&m)), false);
        assert_eq!(
            lines,
            [
                "OF: NUMA: parsing numa-distance-map-v1".into(),
                "NUMA: Warning: node ids are out of bound, from=40 to=0 distance=20".into(),
                node_data_line(0x6000_0000),
                node_data_line(0x8000_0000),
                "NUMA: Initmem setup node 3 [<memory-less node>]".into(),
                node_data_line(0x8000_0000 - nd_size()),
                "NUMA: NODE_DATA(3) on node 1".into(),
            ]
        );
        assert_eq!(online(&nodes), [0, 1, 3]);
    }

    /// A `/cpus` child named `cpu@N` counts without `device_type` (Linux, booted: node 2 is a
    /// memory-less node). An unreadable `numa-node-id` that a CPU with `reg` finds on itself
    /// or a parent is reported when smp_init_cpus asks, naming the node that holds it
    /// (booted: "... in node cpu").
    #[test]
    fn cpu_nodes_by_name_and_unreadable_node_ids() {
        let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 2 * HALF);
        b.begin("cpus");
        b.prop("#address-cells", &1u32.to_be_bytes());
        b.prop("#size-cells", &0u32.to_be_bytes());
        b.prop("numa-node-id", &[0, 1]);
        b.begin("cpu@7");
        b.prop("reg", &7u32.to_be_bytes());
        b.prop("numa-node-id", &2u32.to_be_bytes());
        b.end();
        b.begin("cpu@8");
        b.prop("reg", &8u32.to_be_bytes());
        b.end();
        b.begin("l2-cache");
        b.prop("numa-node-id", &[0, 1]);
        b.end();
        b.end();
        b.end();
        let blob = b.finish(&[]);
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(fdt_scan::cpu_nodes(&fdt).map(|n| n.name).collect::<Vec<_>>(), ["cpu@7", "cpu@8"]);
        let (lines, _, nodes) = numa_nodes(&blob, false);
        assert!(lines.contains(&"OF: NUMA: CPU on 2".into()), "{lines:?}");
        // The memory names no node, so the description is refused (invalid memblk node) and
        // one node is faked; what counts here is that cpu@7 was read.
        assert_eq!(online(&nodes), [0]);
        let (possible, warned) = capture(|| fdt_scan::smp_init_cpus(&fdt, 0, fdt_scan::NR_CPUS, &mut |l, a| crate::printk::printk(l, a)));
        // cpu@7's own id is readable; cpu@8 has none, so /cpus's (unreadable) is the one. No
        // node holds the boot CPU's MPIDR (0): no secondary is enabled.
        assert_eq!(
            warned,
            ["OF: NUMA: Invalid \"numa-node-id\" property in node cpus", "missing boot CPU MPIDR, not enabling secondaries"]
        );
        assert_eq!(possible, 1);
    }

    /// A memory node whose `reg` ends in a partial entry keeps its whole entries, as
    /// of_address_to_resource reads them one by one (booted).
    #[test]
    fn a_partial_reg_entry_is_ignored() {
        let mut partial = cells(0x6000_0000, HALF);
        partial.extend_from_slice(&[0, 0, 0, 0]);
        let (lines, regions) = numa(&tree(&[("memory@40000000", 0x4000_0000, NID0), ("ram@60000000", 0x6000_0000, &[("reg", &partial), ("numa-node-id", &[0, 0, 0, 1])])]));
        assert!(!lines.iter().any(|l| l.contains("bad property")), "{lines:?}");
        assert_eq!(regions, [(0x4000_0000, HALF, 0), (0x6000_0000, HALF, 1)]);
    }

    /// `numa=off`: the firmware is not asked; dummy_numa_init says why it fakes the node.
    #[test]
    fn numa_off_fakes_one_node() {
        let (lines, regions, _) = numa_nodes(&tree_with(&NODES_0_1, &[Some(1)], None), true);
        assert_eq!(lines, ["NUMA: NUMA disabled".into(), String::from(FAKE), node_data_line(0x8000_0000)]);
        assert_eq!(regions, [(0x4000_0000, 2 * HALF, 0)]);
    }

    /// The whole NUMA path to the zonelists, on QEMU's three nodes with `-numa dist` (0-1 40,
    /// 0-2 15, 1-2 25) and a fourth node named only by the map: Linux 6.1 printed these
    /// fallback orders (node 3 is local first, then the nearest nodes with memory, ties to
    /// the lowest id).
    #[test]
    fn distances_order_the_fallback_lists() {
        let nodes = [("memory@40000000", 0x4000_0000, NID0), ("memory@60000000", 0x6000_0000, NID1), ("memory@80000000", 0x8000_0000, NID2)];
        let qemu = [[0, 0, 10], [0, 1, 40], [0, 2, 15], [1, 0, 40], [1, 1, 10], [1, 2, 25], [2, 0, 15], [2, 1, 25], [2, 2, 10], [3, 0, 20]];
        let blob = tree_with(&nodes, &[Some(0), Some(1), Some(2)], Some(&matrix(&qemu)));
        let fdt = Fdt::new(&blob).unwrap();
        let mut mb = Box::new(Memblock::new());
        fdt_scan::scan_memory(&fdt, fdt_scan::scan_root(&fdt), &mut mb);
        let (_, lines) = capture(|| {
            let numa = arch_numa_init(&mut mb, false, &mut |mb, desc| of_numa_init(&fdt, mb, desc));
            let limits = crate::mm::zone_sizes::arm64_zone_limits(&mb, &crate::mm::zone_sizes::tests::ARM64, None);
            let out = &mut |a: core::fmt::Arguments| crate::info!("{a}");
            let zones = crate::mm::zone_sizes::free_area_init(&mb, &limits, numa.online(), out, &mut |_| {});
            crate::mm::zone_sizes::build_all_zonelists(&zones, &|a, b| numa.distance.get(a, b), out);
        });
        let from = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).cloned().collect::<Vec<_>>();
        assert_eq!(
            from("Initmem setup node"),
            [
                "Initmem setup node 0 [mem 0x0000000040000000-0x000000005fffffff]",
                "Initmem setup node 1 [mem 0x0000000060000000-0x000000007fffffff]",
                "Initmem setup node 2 [mem 0x0000000080000000-0x000000009fffffff]",
                "Initmem setup node 3 as memoryless",
            ]
        );
        assert_eq!(
            from("Fallback order"),
            [
                "Fallback order for Node 0: 0 2 1 ",
                "Fallback order for Node 1: 1 2 0 ",
                "Fallback order for Node 2: 2 0 1 ",
                "Fallback order for Node 3: 3 0 1 2 ",
            ]
        );
        assert!(from("Built ")[0].starts_with("Built 4 zonelists, mobility grouping on."));
    }
}
