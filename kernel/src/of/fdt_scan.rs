//! The early device-tree scan of Linux's `drivers/of/fdt.c`: the root's cell sizes
//! (`early_init_dt_scan_root`) and the memory nodes (`early_init_dt_scan_memory` with
//! `early_init_dt_add_memory_arch`), feeding `memblock.memory`.
//!
//! Lines carry Linux's `OF: fdt: ` prefix. This module never touches memory; it reads the
//! blob through `fdt` and calls memblock.

use crate::mm::memblock::Memblock;
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::of::cells::{self, cell_count, number, Cells};
use crate::of::chosen::is_available;
use crate::of::fdt::{Fdt, Node};
use crate::{trace, warn};

/// `early_init_dt_scan_root`: the root's cells (`cells::dt_root`), with Linux's debug lines.
pub fn scan_root(fdt: &Fdt) -> Cells {
    let cells = cells::dt_root(fdt);
    trace!("OF: fdt: dt_root_size_cells = {:x}", cells.size);
    trace!("OF: fdt: dt_root_addr_cells = {:x}", cells.addr);
    cells
}

/// `early_init_dt_add_memory_arch`: page-align the bank, clip it to the physical address
/// range (`max_addr` = highest addressable byte), and add it to memblock.
///
/// The bank comes from the tree, so nothing here may wrap. Linux computes in `u64` and wraps
/// silently: a base in the last page aligns up to 0 there, leaving a size of 0 that
/// `memblock_add` ignores. Here such a bank is refused with Linux's "Ignoring memory block"
/// line (it holds no whole page), and the ends the lines print are exact (`u128`).
pub fn add_memory_arch(mb: &mut Memblock, mut base: u64, mut size: u64, max_addr: u64) {
    let offset = base & (PAGE_SIZE - 1);
    let end = |base: u64, size: u64| base as u128 + size as u128;
    let to_page = if offset == 0 { 0 } else { PAGE_SIZE - offset };
    if size < PAGE_SIZE - offset {
        warn!("OF: fdt: Ignoring memory block 0x{base:x} - 0x{:x}", end(base, size));
        return;
    }
    let Some(aligned) = base.checked_add(to_page) else {
        warn!("OF: fdt: Ignoring memory block 0x{base:x} - 0x{:x}", end(base, size));
        return;
    };
    size = (size - to_page) & !(PAGE_SIZE - 1);
    base = aligned;
    if base > max_addr {
        warn!("OF: fdt: Ignoring memory block 0x{base:x} - 0x{:x}", end(base, size));
        return;
    }
    if size == 0 {
        return; // less than a page after the aligned base: Linux adds nothing, silently
    }
    // In u128: a bank that runs past 2^64 is clipped here like one past max_addr.
    if end(base, size) - 1 > max_addr as u128 {
        warn!("OF: fdt: Ignoring memory range 0x{:x} - 0x{:x}", max_addr as u128 + 1, end(base, size));
        size = max_addr - base + 1;
    }
    if let Err(e) = mb.add(PhysAddr(base), size) {
        warn!("OF: fdt: cannot add memory 0x{base:x} - 0x{:x}: {e}", end(base, size));
    }
}

/// The memory nodes Linux scans: direct children of `/` whose `device_type` is "memory"
/// (whatever their name) and that are available. The memory scan and the DTB's own in-RAM
/// check read these (the NUMA step, `of::numa`, reads every memory node, as Linux does).
pub fn memory_nodes<'a>(fdt: &Fdt<'a>) -> impl Iterator<Item = Node<'a>> + 'a {
    fdt.root().into_iter().flat_map(|root| root.children()).filter(|node| {
        node.property("device_type").and_then(|p| p.as_str()) == Some("memory") && is_available(node)
    })
}

/// `early_init_dt_scan_memory`: every `memory_nodes` entry; `linux,usable-memory` replaces
/// `reg`, read in whole entries (a partial one at the end is ignored, silently, as Linux does;
/// `memmap --lint` names it); zero sizes are skipped; `hotpluggable` marks the bank HOTPLUG.
/// Every bank is added up to the top of the space (arm64's `MAX_MEMBLOCK_ADDR` is `U64_MAX`):
/// memory above what the CPU and the page tables address is removed later, silently, by
/// `arm64_memblock_init`. Root cells that cannot decode any value (`cells::RegError`) skip the
/// node with a line saying why, where Linux would loop forever (no cells) or read the low bits
/// of wider numbers.
/// (`numa-node-id` is not read here, as in Linux 6.1: the NUMA step applies it later.)
pub fn scan_memory(fdt: &Fdt, cells: Cells, mb: &mut Memblock) {
    for node in memory_nodes(fdt) {
        let Some(reg) = node.property("linux,usable-memory").or_else(|| node.property("reg")) else {
            continue;
        };
        let hotpluggable = node.property("hotpluggable").is_some();
        trace!("OF: fdt: memory scan node {}, reg size {},", node.name, reg.value.len());
        let entries = match cells.reg_whole_entries(reg.value) {
            Ok(entries) => entries,
            Err(e) => {
                warn!("OF: fdt: invalid {} property in '{}', skipping node: {e}", reg.name, node.name);
                continue;
            }
        };
        for (base, size) in entries {
            if size == 0 {
                continue;
            }
            trace!("OF: fdt:  - {base:x}, {size:x}");
            add_memory_arch(mb, base, size, u64::MAX);
            if hotpluggable && mb.mark_hotplug(PhysAddr(base), size).is_err() {
                warn!("OF: fdt: failed to mark hotplug range 0x{base:x} - 0x{:x}", base as u128 + size as u128);
            }
        }
    }
}

/// Linux's `of_dma_get_max_cpu_address(NULL)`: the lowest last CPU address any `dma-ranges`
/// in the tree reaches (over available nodes), `None` when no node has `dma-ranges`. Each
/// entry is (child address, parent address, size) in the node's `child_cells`, its
/// `bus_cells` and its `child_cells` again (Linux's range parser: `of_bus_n_addr_cells`,
/// `of_n_addr_cells`, `of_bus_n_size_cells`); the parent address is taken as the CPU address
/// (buses between are 1:1, as on the boards this kernel targets; Linux translates through every
/// parent's `ranges`). A value the cells cannot decode is reported and does not count.
pub fn dma_max_cpu_address(fdt: &Fdt) -> Option<u64> {
    fn walk(node: &Node, depth: usize, best: &mut Option<u64>) {
        if let Some(p) = node.property("dma-ranges").filter(|p| !p.value.is_empty()) {
            let (child, parent) = (node.child_cells(), node.bus_cells());
            match cells::entries(p.value, &[child.addr, parent.addr, child.size]) {
                Ok(entries) => {
                    let mut end = 0u64;
                    for e in entries {
                        let (cpu, size) = e[child.addr as usize * 4..].split_at(parent.addr as usize * 4);
                        if number(size) > 0 {
                            end = end.max(number(cpu).saturating_add(number(size) - 1));
                        }
                    }
                    *best = Some(best.map_or(end, |b| b.min(end)));
                }
                Err(e) => warn!("OF: invalid dma-ranges property in '{}': {e}", node.name),
            }
        }
        if depth < 64 {
            for child in node.children().filter(is_available) {
                walk(&child, depth + 1, best);
            }
        }
    }
    let mut best = None;
    if let Some(root) = fdt.root() {
        walk(&root, 0, &mut best);
    }
    best
}

/// `for_each_of_cpu_node`: the `/cpus` children named `cpu` (whatever their unit address) or
/// with `device_type = "cpu"`.
pub fn cpu_nodes<'f>(fdt: &Fdt<'f>) -> impl Iterator<Item = Node<'f>> {
    let cpus = fdt.find_node("/cpus");
    cpus.into_iter().flat_map(|c| c.children()).filter(|c| {
        c.base_name() == "cpu" || c.property("device_type").and_then(|p| p.as_str()) == Some("cpu")
    })
}

/// arm64's `MPIDR_HWID_BITMASK`: the affinity fields a CPU node's `reg` may hold.
const MPIDR_HWID_BITMASK: u64 = 0xff_00ff_ffff;
/// Debian's `CONFIG_NR_CPUS` (`nr_cpu_ids` without `nr_cpus=`).
pub const NR_CPUS: u32 = 256;

/// A line `smp_init_cpus` prints, at its level.
pub type SmpReport<'r> = dyn FnMut(log::Level, core::fmt::Arguments<'_>) + 'r;

/// arm64's `smp_init_cpus` over the tree (`of_parse_and_init_cpus`, then `smp_cpu_setup` for
/// each secondary): the number of possible CPUs, `num_possible_cpus()`, with Linux's lines.
/// Every CPU node ([`cpu_nodes`]) takes the next logical id, the boot CPU's (`reg` equal to
/// `boot_hwid`, the running CPU's MPIDR affinity) excepted; one whose `reg` (in `/cpus`'s
/// `#address-cells`) is unreadable or not an MPIDR, or repeats another's, is skipped (the
/// repeat said), as is one past [`NR_CPUS`]. Each CPU kept has its NUMA node read, whose
/// unreadable `numa-node-id` is said (`early_map_cpu_to_node`). More CPUs than `nr_cpu_ids`
/// ([`NR_CPUS`], or less by `nr_cpus=`) are clipped with a warning. Without the boot CPU's
/// node no secondary is enabled; a secondary below `nr_cpu_ids` is possible when its
/// `enable-method` is `psci`, or `spin-table` with a 64-bit `cpu-release-addr`, each failure
/// said.
pub fn smp_init_cpus(fdt: &Fdt, boot_hwid: u64, nr_cpu_ids: u32, report: &mut SmpReport) -> u32 {
    use log::Level::{Error, Warn};
    let (cpus, root) = (fdt.find_node("/cpus"), fdt.root());
    let parents = [cpus.as_ref(), root.as_ref()];
    // of_n_addr_cells from a CPU node: its parent's #address-cells, else the root's, else 1.
    let ac = parents.into_iter().flatten().find_map(|n| cell_count(n.property("#address-cells"))).unwrap_or(1);
    let hwid = |cpu: &Node| -> Option<u64> {
        let reg = cpu.property("reg")?.value;
        let len = (ac as usize).checked_mul(4).filter(|&l| l > 0 && l <= reg.len())?;
        Some(number(&reg[..len]))
    };
    // Logical ids 1.. in node order: (hwid, node) for each one set.
    let mut map: [Option<(u64, Node)>; NR_CPUS as usize] = [const { None }; NR_CPUS as usize];
    let (mut cpu_count, mut boot_valid) = (1u32, false);
    for cpu in cpu_nodes(fdt) {
        let id = hwid(&cpu).filter(|h| h & !MPIDR_HWID_BITMASK == 0);
        if let Some(id) = id {
            let duplicate = map[1..(cpu_count as usize).min(NR_CPUS as usize)].iter().flatten().any(|(h, _)| *h == id);
            if duplicate {
                report(Error, format_args!("/cpus/{}: duplicate cpu reg properties in the DT", cpu.name));
            } else if id == boot_hwid {
                if boot_valid {
                    report(Error, format_args!("/cpus/{}: duplicate boot cpu reg property in DT", cpu.name));
                } else {
                    boot_valid = true;
                    crate::of::numa::warn_unreadable_cpu_nid(&cpu, parents);
                    continue;
                }
            } else if cpu_count < NR_CPUS {
                crate::of::numa::warn_unreadable_cpu_nid(&cpu, parents);
                map[cpu_count as usize] = Some((id, cpu));
            }
        }
        cpu_count = cpu_count.saturating_add(1);
    }
    if cpu_count > nr_cpu_ids {
        report(Warn, format_args!("Number of cores ({cpu_count}) exceeds configured maximum of {nr_cpu_ids} - clipping"));
    }
    if !boot_valid {
        report(Error, format_args!("missing boot CPU MPIDR, not enabling secondaries"));
        return 1;
    }
    let mut possible = 1;
    let secondaries = map.iter().take(nr_cpu_ids as usize).enumerate();
    for (logical, (_, cpu)) in secondaries.filter_map(|(i, m)| Some((i, m.as_ref()?))) {
        let method = cpu.property("enable-method").map(|p| p.value.split(|&c| c == 0).next().unwrap_or_default());
        let ok = match method {
            None => {
                report(Error, format_args!("/cpus/{}: missing enable-method property", cpu.name));
                false
            }
            Some(b"psci") => true,
            Some(b"spin-table") => {
                let addr = cpu.property("cpu-release-addr").is_some_and(|p| p.value.len() >= 8);
                if !addr {
                    report(Error, format_args!("CPU {logical}: missing or invalid cpu-release-addr property"));
                }
                addr
            }
            Some(other) => {
                report(Warn, format_args!("Unsupported enable-method: {}", core::str::from_utf8(other).unwrap_or("?")));
                false
            }
        };
        possible += u32::from(ok);
    }
    possible
}
