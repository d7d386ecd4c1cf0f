//! The early device-tree scan of Linux's `drivers/of/fdt.c`: the root's cell sizes
//! (`early_init_dt_scan_root`) and the memory nodes (`early_init_dt_scan_memory` with
//! `early_init_dt_add_memory_arch`), feeding `memblock.memory`.
//!
//! Lines carry Linux's `OF: fdt: ` prefix. This module never touches memory; it reads the
//! blob through `fdt` and calls memblock.

use crate::mm::memblock::Memblock;
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::of::chosen::is_available;
use crate::of::fdt::{Fdt, Node};
use log::{trace, warn};

/// Linux's `OF_ROOT_NODE_ADDR_CELLS_DEFAULT` / `OF_ROOT_NODE_SIZE_CELLS_DEFAULT`.
const ROOT_CELLS_DEFAULT: u32 = 1;

/// The root's `#address-cells` and `#size-cells` (Linux's `dt_root_addr_cells`,
/// `dt_root_size_cells`), defaulting to 1 each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootCells {
    pub addr: u32,
    pub size: u32,
}

fn u32_prop(node: &Node, name: &str) -> Option<u32> {
    let v = node.property(name)?.value;
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

/// `early_init_dt_scan_root`.
pub fn scan_root(fdt: &Fdt) -> RootCells {
    let root = fdt.root();
    let get = |name| root.as_ref().and_then(|r| u32_prop(r, name)).unwrap_or(ROOT_CELLS_DEFAULT);
    let cells = RootCells { addr: get("#address-cells"), size: get("#size-cells") };
    trace!("OF: fdt: dt_root_size_cells = {:x}", cells.size);
    trace!("OF: fdt: dt_root_addr_cells = {:x}", cells.addr);
    cells
}

/// Read `cells` big-endian 32-bit cells as one number (Linux's `dt_mem_next_cell`; more than
/// two cells keep the low 64 bits).
pub fn read_number(bytes: &[u8], cells: u32) -> u64 {
    bytes
        .chunks_exact(4)
        .take(cells as usize)
        .fold(0u64, |acc, c| (acc << 32) | u32::from_be_bytes(c.try_into().unwrap()) as u64)
}

/// `(base, size)` pairs of a `reg`-style property decoded with `cells`; a trailing partial
/// entry is ignored, as Linux's loops do.
pub fn reg_entries(value: &[u8], addr_cells: u32, size_cells: u32) -> impl Iterator<Item = (u64, u64)> + '_ {
    // Cell counts come from the blob: absurd ones give no entries rather than an overflow.
    let entry = cell_bytes(addr_cells.saturating_add(size_cells)).unwrap_or(0);
    value.chunks_exact(entry.max(1)).filter(move |_| entry > 0).map(move |e| {
        let (a, s) = e.split_at(addr_cells as usize * 4);
        (read_number(a, addr_cells), read_number(s, size_cells))
    })
}

/// The byte length of `cells` cells, `None` when it cannot be a property length.
pub fn cell_bytes(cells: u32) -> Option<usize> {
    (cells as usize).checked_mul(4).filter(|&n| n <= u32::MAX as usize)
}

impl RootCells {
    /// Bytes of one `reg` entry (address and size), `None` when the cells are absurd.
    pub fn entry_bytes(self) -> Option<usize> {
        cell_bytes(self.addr.saturating_add(self.size))
    }

    /// `reg`-style entries of `value` decoded with the root's cells.
    pub fn entries(self, value: &[u8]) -> impl Iterator<Item = (u64, u64)> + '_ {
        reg_entries(value, self.addr, self.size)
    }
}

/// `early_init_dt_add_memory_arch`: page-align the bank, clip it to the physical address
/// range (`max_addr` = highest addressable byte), and add it to memblock.
pub fn add_memory_arch(mb: &mut Memblock, mut base: u64, mut size: u64, max_addr: u64) {
    let offset = base & (PAGE_SIZE - 1);
    let end = base.wrapping_add(size);
    if size < PAGE_SIZE - offset {
        warn!("OF: fdt: Ignoring memory block 0x{base:x} - 0x{end:x}");
        return;
    }
    if offset != 0 {
        size -= PAGE_SIZE - offset;
        base += PAGE_SIZE - offset;
    }
    size &= !(PAGE_SIZE - 1);
    if base > max_addr {
        warn!("OF: fdt: Ignoring memory block 0x{base:x} - 0x{:x}", base.wrapping_add(size));
        return;
    }
    if base.saturating_add(size) - 1 > max_addr {
        warn!("OF: fdt: Ignoring memory range 0x{:x} - 0x{:x}", max_addr as u128 + 1, base as u128 + size as u128);
        size = max_addr - base + 1;
    }
    if let Err(e) = mb.add(PhysAddr(base), size) {
        warn!("OF: fdt: cannot add memory 0x{base:x} - 0x{:x}: {e}", base + size);
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
/// `reg`; zero sizes are skipped; `hotpluggable` marks the bank HOTPLUG. `phys_addr_bits` is
/// the CPU's physical address size: memory above it is clipped with Linux's warning.
/// (`numa-node-id` is not read here, as in Linux 6.1: the NUMA step applies it later.)
pub fn scan_memory(fdt: &Fdt, cells: RootCells, mb: &mut Memblock, phys_addr_bits: u32) {
    let max_addr = if phys_addr_bits >= 64 { u64::MAX } else { (1u64 << phys_addr_bits) - 1 };
    for node in memory_nodes(fdt) {
        let Some(reg) = node.property("linux,usable-memory").or_else(|| node.property("reg")) else {
            continue;
        };
        let hotpluggable = node.property("hotpluggable").is_some();
        trace!("OF: fdt: memory scan node {}, reg size {},", node.name, reg.value.len());
        for (base, size) in cells.entries(reg.value) {
            if size == 0 {
                continue;
            }
            trace!("OF: fdt:  - {base:x}, {size:x}");
            add_memory_arch(mb, base, size, max_addr);
            if hotpluggable && mb.mark_hotplug(PhysAddr(base), size).is_err() {
                warn!("OF: fdt: failed to mark hotplug range 0x{base:x} - 0x{:x}", base + size);
            }
        }
    }
}

/// Linux's `of_dma_get_max_cpu_address(NULL)`: the lowest last CPU address any `dma-ranges`
/// in the tree reaches (over available nodes), `None` when no node has `dma-ranges`. Each
/// entry is (child address, parent address, size) in the node's, its parent's and the node's
/// cells; the parent address is taken as the CPU address (buses between are 1:1, as on the
/// boards this kernel targets; Linux translates through every parent's `ranges`).
pub fn dma_max_cpu_address(fdt: &Fdt) -> Option<u64> {
    fn walk(node: &Node, depth: usize, best: &mut Option<u64>) {
        if let Some(p) = node.property("dma-ranges").filter(|p| !p.value.is_empty()) {
            let (child_a, size_c) = node.cells();
            let (parent_a, _) = node.parent_cells();
            let entry = cell_bytes(child_a.saturating_add(parent_a).saturating_add(size_c)).unwrap_or(0);
            let mut end = 0u64;
            for e in p.value.chunks_exact(entry.max(1)).filter(|_| entry > 0) {
                let cpu = read_number(&e[child_a as usize * 4..], parent_a);
                let size = read_number(&e[(child_a + parent_a) as usize * 4..], size_c);
                if size > 0 {
                    end = end.max(cpu.saturating_add(size - 1));
                }
            }
            *best = Some(best.map_or(end, |b| b.min(end)));
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
