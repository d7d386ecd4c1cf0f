//! `build_all_zonelists` at boot: each online node's fallback order (`find_next_best_node`),
//! `vm_total_pages` ("Total pages") and `policy_zone`.

use core::fmt;

use super::free_area_init::{NodeZones, ZoneInfo};
use super::{MIGRATE_TYPES, NR_NODES, PAGEBLOCK_NR_PAGES, ZONE_DMA, ZONE_MOVABLE, ZONE_NAMES};

impl NodeZones {
    /// `nr_free_pagecache_pages` as `build_all_zonelists` computes it during `start_kernel`:
    /// the managed pages of every zone in the zonelist, minus each zone's high watermark.
    /// Watermarks are still zero then (`init_per_zone_wmark_min` is an initcall), and managed
    /// pages are those of `free_area_init_core` (`memblock_free_all` has not run yet), so this
    /// is the sum of [`ZoneInfo::managed_pages`] over all nodes.
    pub fn zonelist_total_pages(&self) -> u64 {
        self.online_zones().map(|z| z.managed_pages).sum()
    }

    /// `policy_zone` after the zonelists are built: the highest populated zone below
    /// `ZONE_MOVABLE` on any online node, `ZONE_DMA` when none is higher.
    pub fn policy_zone(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.online)
            .flat_map(|n| n.zones.iter().enumerate())
            .filter(|(k, z)| *k != ZONE_MOVABLE && z.populated())
            .map(|(k, _)| k)
            .max()
            .unwrap_or(ZONE_DMA)
    }

    fn online_zones(&self) -> impl Iterator<Item = &ZoneInfo> {
        self.nodes.iter().filter(|n| n.online).flat_map(|n| n.zones.iter())
    }
}

/// `find_next_best_node` with node distances from `distance` and every node holding CPUs:
/// the local node first, then the nearest unused node with memory, ties going to nodes above
/// the local one, then to the least loaded, then to the lowest id.
fn find_next_best_node(
    nz: &NodeZones,
    local: usize,
    used: &mut [bool; NR_NODES],
    load: &[u32; NR_NODES],
    distance: &dyn Fn(usize, usize) -> u32,
) -> Option<usize> {
    if !used[local] {
        used[local] = true;
        return Some(local);
    }
    let mut best: Option<(u64, usize)> = None;
    for n in 0..NR_NODES {
        if used[n] || nz.nodes[n].node_present_pages == 0 {
            continue;
        }
        let val = (distance(local, n) as u64 + u64::from(n < local)) * NR_NODES as u64 + load[n] as u64;
        if best.is_none_or(|(b, _)| val < b) {
            best = Some((val, n));
        }
    }
    let (_, n) = best?;
    used[n] = true;
    Some(n)
}

/// The default NUMA distance (`LOCAL_DISTANCE` 10 on the diagonal, `REMOTE_DISTANCE` 20
/// elsewhere), which arm64 uses when the device tree has no `distance-map`.
pub fn default_distance(a: usize, b: usize) -> u32 {
    if a == b {
        10
    } else {
        20
    }
}

/// `build_all_zonelists(NULL)` at boot: one "Fallback order for Node %d: " line per online
/// node (the node ids each followed by a space), then the "Built ..." and "Policy zone: ..."
/// lines ([`fmt_zonelists`]). Returns `vm_total_pages`.
pub fn build_all_zonelists(
    nz: &NodeZones,
    distance: &dyn Fn(usize, usize) -> u32,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) -> u64 {
    let mut load = [0u32; NR_NODES];
    for local in (0..NR_NODES).filter(|&n| nz.nodes[n].online) {
        let mut used = [false; NR_NODES];
        let mut order = [0usize; NR_NODES];
        let mut nr = 0;
        let mut prev = local;
        while let Some(node) = find_next_best_node(nz, local, &mut used, &load, distance) {
            // A penalty on the first node of each distance group spreads the fallbacks.
            if distance(local, node) != distance(local, prev) {
                load[node] += 1;
            }
            order[nr] = node;
            nr += 1;
            prev = node;
        }
        out(format_args!("Fallback order for Node {}: {}", local, NodeList(&order[..nr])));
    }
    let total = nz.zonelist_total_pages();
    fmt_zonelists(nz.nr_online_nodes(), total, Some(nz.policy_zone()), out);
    total
}

struct NodeList<'a>(&'a [usize]);

impl fmt::Display for NodeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|n| write!(f, "{n} "))
    }
}

/// The end of `build_all_zonelists`: "Built %u zonelists, mobility grouping %s.  Total
/// pages: %ld" and, under `CONFIG_NUMA`, "Policy zone: %s". Mobility grouping is off when
/// the total is below one pageblock per migrate type.
pub fn fmt_zonelists(
    nr_online_nodes: u32,
    total_pages: u64,
    policy_zone: Option<usize>,
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) {
    let grouping = if total_pages < PAGEBLOCK_NR_PAGES * MIGRATE_TYPES { "off" } else { "on" };
    out(format_args!(
        "Built {} zonelists, mobility grouping {}.  Total pages: {}",
        nr_online_nodes, grouping, total_pages
    ));
    if let Some(z) = policy_zone {
        out(format_args!("Policy zone: {}", ZONE_NAMES[z]));
    }
}
