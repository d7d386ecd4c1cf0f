//! Reserved memory from the device tree, as Linux 6.1's `early_init_fdt_scan_reserved_mem`
//! (drivers/of/fdt.c) and `fdt_init_reserved_mem` (drivers/of/of_reserved_mem.c) handle it:
//! `/memreserve/` entries, then every available child of `/reserved-memory` — static `reg`
//! regions reserved or marked NOMAP, size-only regions allocated top-down within their
//! `alloc-ranges` — then the overlap check and the init hook each region's `compatible` names.
//!
//! Hooks are declared next to their driver with `reservedmem_of_declare!`; the kernel gathers
//! them from the `__reservedmem_of_table` linker section and passes them in as a slice, so this
//! module needs no central list. Messages carry Linux's prefixes: `OF: fdt: ` for the scan,
//! `OF: reserved mem: ` for the init stage.

use crate::mm::memblock::{Memblock, MemblockKind, MEMBLOCK_ALLOC_ANYWHERE, SMP_CACHE_BYTES};
use crate::mm::PhysAddr;
use crate::of::cells::{cell_count, read_number, Cells};
use crate::of::chosen::is_available;
use crate::of::fdt::{Fdt, Node, NodeOffset};
use crate::{error, info, trace};

/// Linux's `MAX_RESERVED_REGIONS`.
pub const MAX_RESERVED_REGIONS: usize = 64;
const SZ_1M: u64 = 1 << 20;
pub use crate::mm::cma::CMA_MIN_ALIGNMENT_BYTES;

/// One `/reserved-memory` region (Linux's `struct reserved_mem`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservedMem<'a> {
    /// Node name with its unit address, e.g. `mca@b8000000`.
    pub name: &'a str,
    /// Where the region's node is in the blob (Linux keeps `fdt_node`, its offset, too).
    pub node: NodeOffset,
    pub phandle: Option<u32>,
    pub base: PhysAddr,
    pub size: u64,
    /// `reusable`: the OS may use the region while its owner does not (CMA).
    pub reusable: bool,
    /// The compatible whose hook initialised the region.
    pub owner: Option<&'static str>,
    /// A CMA pool with `linux,cma-default`: the default area (`dma_contiguous_default_area`),
    /// so `dma_contiguous_reserve` reserves none of its own.
    pub cma_default: bool,
}

/// Why a hook refused a region (Linux's errno values, by meaning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookError {
    /// Not for this hook (`-ENOENT`): the next matching entry is tried.
    NoEnt,
    /// Invalid region for this hook (`-EINVAL`).
    Inval,
    /// Busy (`-EBUSY`).
    Busy,
    /// Out of memory (`-ENOMEM`).
    NoMem,
}

/// What the hooks may read besides their region: the state Linux keeps in globals by the
/// time `fdt_init_reserved_mem` runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookEnv {
    /// `cma=` was on the command line (`size_cmdline != -1`).
    pub cma_cmdline: bool,
    /// CMA pools created so far (`cma_area_count`): once every `MAX_CMA_AREAS` slot is
    /// taken, `cma_init_reserved_mem` refuses the next.
    pub cma_pools: core::cell::Cell<usize>,
}

/// An init hook: gets the region, its node and the [`HookEnv`].
pub type InitFn = fn(&mut ReservedMem, &Node, &HookEnv) -> Result<(), HookError>;

/// One `RESERVEDMEM_OF_DECLARE` entry.
#[repr(C)]
pub struct ReservedMemOfId {
    pub name: &'static str,
    pub compatible: &'static str,
    pub init: InitFn,
}

/// Declare a reserved-memory init hook next to its driver:
/// `reservedmem_of_declare!(IDENT, "vendor,compatible", init_fn);`
/// The entry lands in the `__reservedmem_of_table` section, which linker.ld keeps.
#[macro_export]
macro_rules! reservedmem_of_declare {
    ($name:ident, $compat:expr, $init:path) => {
        #[used]
        #[link_section = "__reservedmem_of_table"]
        static $name: $crate::of::reserved_mem::ReservedMemOfId = $crate::of::reserved_mem::ReservedMemOfId {
            name: stringify!($name),
            compatible: $compat,
            init: $init,
        };
    };
}

/// The regions found, in Linux's order after the overlap sort.
#[derive(Clone, Debug)]
pub struct ReservedMemTable<'a> {
    entries: [Option<ReservedMem<'a>>; MAX_RESERVED_REGIONS],
    count: usize,
}

impl<'a> Default for ReservedMemTable<'a> {
    fn default() -> Self {
        ReservedMemTable { entries: [None; MAX_RESERVED_REGIONS], count: 0 }
    }
}

impl<'a> ReservedMemTable<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &ReservedMem<'a>> {
        self.entries[..self.count].iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `fdt_reserved_mem_save_node`.
    fn save(&mut self, rmem: ReservedMem<'a>) {
        if self.count == MAX_RESERVED_REGIONS {
            error!("OF: reserved mem: not enough space for all defined regions.");
            return;
        }
        self.entries[self.count] = Some(rmem);
        self.count += 1;
    }

    /// The table over `to`, a byte-identical copy of its blob elsewhere: names re-read by offset.
    pub fn rebase<'b>(&self, to: &Fdt<'b>) -> ReservedMemTable<'b> {
        let mut t = ReservedMemTable { entries: [None; MAX_RESERVED_REGIONS], count: self.count };
        for (new, old) in t.entries.iter_mut().zip(&self.entries) {
            *new = old.and_then(|r| Some(ReservedMem { name: to.node_at(r.node)?.name, ..r }));
        }
        t
    }

    /// `of_reserved_mem_lookup`: by node name (with unit address).
    pub fn lookup_by_name(&self, name: &str) -> Option<&ReservedMem<'a>> {
        self.iter().find(|r| r.name == name)
    }

    /// By the region node's phandle (what `memory-region` holds).
    pub fn lookup_by_phandle(&self, phandle: u32) -> Option<&ReservedMem<'a>> {
        if phandle == 0 {
            return None;
        }
        self.iter().find(|r| r.phandle == Some(phandle))
    }

    /// The `idx`-th `memory-region` of a device node, as `of_reserved_mem_device_init_by_idx`
    /// resolves it: by phandle.
    pub fn lookup_device_region(&self, device: &Node, idx: usize) -> Option<&ReservedMem<'a>> {
        let prop = device.property("memory-region")?;
        let cell = prop.value.chunks_exact(4).nth(idx)?;
        self.lookup_by_phandle(u32::from_be_bytes(cell.try_into().ok()?))
    }
}

fn phandle_of(node: &Node) -> Option<u32> {
    let one_cell = |name| node.property(name).and_then(|p| p.as_u32()); // as fdt_get_phandle
    one_cell("phandle").or_else(|| one_cell("linux,phandle"))
}

/// `early_init_dt_reserve_memory`: NOMAP regions are refused when they overlap memory that
/// is already reserved (`-EBUSY`); the others are reserved.
fn reserve_memory(mb: &mut Memblock, base: PhysAddr, size: u64, nomap: bool) -> bool {
    if nomap {
        if mb.overlaps_region(MemblockKind::Memory, base, size) && mb.is_region_reserved(base, size) {
            return false;
        }
        return mb.mark_nomap(base, size).is_ok();
    }
    mb.reserve(base, size).is_ok()
}

/// `early_init_fdt_scan_reserved_mem` up to (not including) `fdt_init_reserved_mem`:
/// `/memreserve/`, then the `/reserved-memory` children.
pub fn scan<'a>(fdt: &Fdt<'a>, cells: Cells, mb: &mut Memblock) -> ReservedMemTable<'a> {
    let mut table = ReservedMemTable::default();
    for (base, size) in fdt.memory_reservations() {
        if size == 0 {
            break;
        }
        let _ = mb.reserve(PhysAddr(base), size);
    }
    let Some(node) = fdt.find_node("/reserved-memory") else { return table };
    let cell = |name| cell_count(node.property(name)); // __reserved_mem_check_root
    if cell("#size-cells") != Some(cells.size)
        || cell("#address-cells") != Some(cells.addr)
        || node.property("ranges").is_none()
    {
        error!("OF: fdt: Reserved memory: unsupported node format, ignoring");
        return table;
    }
    for child in node.children() {
        if !is_available(&child) {
            continue;
        }
        let uname = child.name;
        let reusable = child.property("reusable").is_some();
        let node = child.offset();
        let saved = |base, size| ReservedMem { name: uname, node, phandle: None, base, size, reusable, owner: None, cma_default: false };
        match child.property("reg") {
            Some(reg) => {
                // Linux's line for a partial entry, here for all `cells` refuses (see of::cells).
                let Ok(entries) = cells.reg(reg.value) else {
                    error!("OF: fdt: Reserved memory: invalid reg property in '{uname}', skipping node.");
                    continue;
                };
                let nomap = child.property("no-map").is_some();
                for (i, (base, size)) in entries.enumerate() {
                    let base = PhysAddr(base);
                    if size != 0 && reserve_memory(mb, base, size, nomap) {
                        trace!(
                            "OF: fdt: Reserved memory: reserved region for node '{uname}': base 0x{:016x}, size {} MiB",
                            base.0,
                            size / SZ_1M
                        );
                    } else {
                        error!(
                            "OF: fdt: Reserved memory: failed to reserve memory for node '{uname}': base 0x{:016x}, size {} MiB",
                            base.0,
                            size / SZ_1M
                        );
                    }
                    if i == 0 {
                        table.save(saved(base, size));
                    }
                }
            }
            None if child.property("size").is_some() => table.save(saved(PhysAddr(0), 0)),
            None => {}
        }
    }
    table
}

/// `__reserved_mem_alloc_size`: place a size-only region.
fn alloc_size(
    mb: &mut Memblock,
    node: &Node,
    uname: &str,
    cells: Cells,
) -> Result<(PhysAddr, u64), HookError> {
    let prop = node.property("size").ok_or(HookError::Inval)?;
    // Linux checks the length and reads any width: more than two cells are refused too.
    let Some(size) = read_number(prop.value, cells.size) else {
        error!("OF: reserved mem: invalid size property in '{uname}' node.");
        return Err(HookError::Inval);
    };
    let mut align = 0;
    if let Some(a) = node.property("alignment") {
        let Some(a) = read_number(a.value, cells.addr) else {
            error!("OF: reserved mem: invalid alignment property in '{uname}' node.");
            return Err(HookError::Inval);
        };
        align = a;
    }
    let nomap = node.property("no-map").is_some();
    if node.is_compatible("shared-dma-pool") && node.property("reusable").is_some() && !nomap {
        align = align.max(CMA_MIN_ALIGNMENT_BYTES);
    }
    let mut try_range = |start: u64, end: u64| -> Option<PhysAddr> {
        let end = if end == 0 { MEMBLOCK_ALLOC_ANYWHERE } else { PhysAddr(end) };
        let align = if align == 0 { SMP_CACHE_BYTES } else { align };
        let base = mb.phys_alloc_range(size, align, PhysAddr(start), end).ok()?;
        if nomap && mb.mark_nomap(base, size).is_err() {
            let _ = mb.phys_free(base, size);
            return None;
        }
        Some(base)
    };
    let found = match node.property("alloc-ranges") {
        Some(ranges) => {
            // Linux's `len % t_len` check, and what the cells cannot decode (see `scan`).
            let Ok(mut entries) = cells.reg(ranges.value) else {
                error!("OF: reserved mem: invalid alloc-ranges property in '{uname}', skipping node.");
                return Err(HookError::Inval);
            };
            // `end = start + size` in u64: an end that wraps lies below the start, and
            // that range holds nothing (Linux then fails the node, as here).
            entries.find_map(|(start, len)| try_range(start, start.wrapping_add(len)))
        }
        None => try_range(0, 0),
    };
    match found {
        Some(base) => {
            trace!(
                "OF: reserved mem: allocated memory for '{uname}' node: base 0x{:016x}, size {} MiB",
                base.0,
                size / SZ_1M
            );
            Ok((base, size))
        }
        None => {
            error!("OF: reserved mem: failed to allocate memory for node '{uname}': size {} MiB", size / SZ_1M);
            Err(HookError::NoMem)
        }
    }
}

/// Linux's `sort()` (lib/sort.c): a bottom-up heapsort. Not stable, so equal keys (every
/// size-only region is (0, 0) when sorted) end up in the order this algorithm leaves them,
/// which decides the order regions are allocated and initialised in; any other sort would
/// print Linux's lines in a different order.
pub fn linux_sort<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> core::cmp::Ordering) {
    let ge = |v: &[T], i: usize, j: usize| cmp(&v[i], &v[j]) != core::cmp::Ordering::Less;
    let mut n = v.len();
    if n < 2 {
        return;
    }
    let mut a = n / 2;
    loop {
        if a > 0 {
            a -= 1; // building the heap: sift element `a` down
        } else {
            n -= 1; // sorting: move the root to the end
            if n == 0 {
                break;
            }
            v.swap(0, n);
        }
        // Follow the larger child down to a leaf, then back up to where `a` belongs.
        let mut b = a;
        let mut c;
        loop {
            c = 2 * b + 1;
            if c + 1 >= n {
                break;
            }
            b = if ge(v, c, c + 1) { c } else { c + 1 };
        }
        if c + 1 == n {
            b = c;
        }
        while b != a && ge(v, a, b) {
            b = (b - 1) / 2;
        }
        // Rotate the path a..=b: each element on it moves up a level, `a`'s value lands at b.
        let target = b;
        while b != a {
            b = (b - 1) / 2;
            v.swap(b, target);
        }
    }
}

/// `__rmem_check_for_overlap`: sort by (base, size) and report neighbours that overlap.
fn check_for_overlap(table: &mut ReservedMemTable) {
    if table.count < 2 {
        return;
    }
    let entries = &mut table.entries[..table.count];
    linux_sort(entries, |a, b| a.map(|r| (r.base, r.size)).cmp(&b.map(|r| (r.base, r.size))));
    for pair in entries.windows(2) {
        let (Some(this), Some(next)) = (pair[0], pair[1]) else { continue };
        let this_end = this.base.0.saturating_add(this.size);
        if this_end > next.base.0 {
            error!("OF: reserved mem: OVERLAP DETECTED!");
            error!(
                "{} (0x{:016x}--0x{:016x}) overlaps with {} (0x{:016x}--0x{:016x})",
                this.name,
                this.base.0,
                this_end,
                next.name,
                next.base.0,
                next.base.0.saturating_add(next.size)
            );
        }
    }
}

/// `__reserved_mem_init_node`: run the hooks whose compatible the node lists, in table order.
fn init_node(rmem: &mut ReservedMem, node: &Node, hooks: &[ReservedMemOfId], env: &HookEnv) -> Result<(), HookError> {
    let mut ret = Err(HookError::NoEnt);
    for hook in hooks.iter().filter(|h| node.is_compatible(h.compatible)) {
        ret = (hook.init)(rmem, node, env);
        if ret.is_ok() {
            rmem.owner = Some(hook.compatible);
            info!("OF: reserved mem: initialized node {}, compatible id {}", rmem.name, hook.compatible);
            break;
        }
    }
    ret
}

/// `fdt_init_reserved_mem`: overlap check, then for each region its phandle, the allocation
/// of size-only regions, and the init hook; a region whose hook fails is handed back.
pub fn init<'a>(
    fdt: &Fdt<'a>,
    cells: Cells,
    mb: &mut Memblock,
    table: &mut ReservedMemTable<'a>,
    hooks: &[ReservedMemOfId],
    env: &HookEnv,
) {
    check_for_overlap(table);
    for rmem in table.entries[..table.count].iter_mut().flatten() {
        let Some(node) = fdt.node_at(rmem.node) else { continue };
        let nomap = node.property("no-map").is_some();
        rmem.phandle = phandle_of(&node);
        let mut err = Ok(());
        if rmem.size == 0 {
            match alloc_size(mb, &node, rmem.name, cells) {
                Ok((base, size)) => (rmem.base, rmem.size) = (base, size),
                Err(e) => err = Err(e),
            }
        }
        if err.is_ok() {
            match init_node(rmem, &node, hooks, env) {
                Ok(()) | Err(HookError::NoEnt) => {}
                Err(_) => {
                    info!("OF: reserved mem: node {} compatible matching fail", rmem.name);
                    let _ = if nomap { mb.clear_nomap(rmem.base, rmem.size) } else { mb.phys_free(rmem.base, rmem.size) };
                }
            }
        }
    }
}

/// `rmem_cma_setup` then `rmem_dma_setup`, the two "shared-dma-pool" hooks in Linux's link
/// order: a reusable region without `no-map`, suitably aligned, becomes a CMA pool (the
/// default area with `linux,cma-default`, unless `cma=` on the command line takes its place:
/// then it is bypassed); any other non-reusable region a coherent DMA pool.
pub fn shared_dma_pool_setup(rmem: &mut ReservedMem, node: &Node, env: &HookEnv) -> Result<(), HookError> {
    let reusable = rmem.reusable;
    let default_cma = node.property("linux,cma-default").is_some();
    if env.cma_cmdline && default_cma {
        info!("Reserved memory: bypass {} node, using cmdline CMA params instead", rmem.name);
    } else if reusable && node.property("no-map").is_none() {
        if (rmem.base.0 | rmem.size) & (CMA_MIN_ALIGNMENT_BYTES - 1) != 0 {
            error!("Reserved memory: incorrect alignment of CMA region");
        } else if env.cma_pools.get() == crate::mm::cma::MAX_CMA_AREAS {
            error!("cma: Not enough slots for CMA reserved regions!");
            error!("Reserved memory: unable to setup CMA region");
        } else {
            env.cma_pools.set(env.cma_pools.get() + 1);
            rmem.cma_default = default_cma;
            info!(
                "Reserved memory: created CMA memory pool at 0x{:016x}, size {} MiB",
                rmem.base.0,
                rmem.size / SZ_1M
            );
            return Ok(());
        }
    }
    if reusable {
        return Err(HookError::Inval);
    }
    info!("Reserved memory: created DMA memory pool at 0x{:016x}, size {} MiB", rmem.base.0, rmem.size / SZ_1M);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::linux_sort;
    use std::vec::Vec;

    /// Three equal keys, worked through lib/sort.c by hand: heap building leaves [x y z]
    /// (the root compares equal to its larger child and stays); then the root swaps with the
    /// last slot, [z y x], and sifting z finds nothing smaller to pass; then [y z x]; done.
    #[test]
    fn equal_keys_end_in_linux_order() {
        let mut v = ['x', 'y', 'z'];
        linux_sort(&mut v, |_, _| core::cmp::Ordering::Equal);
        assert_eq!(v, ['y', 'z', 'x']);
    }

    #[test]
    fn sorts_like_any_sort_on_distinct_keys() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..40 {
            let mut v: Vec<u64> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % 1000
                })
                .collect();
            let mut expected = v.clone();
            expected.sort();
            linux_sort(&mut v, |a, b| a.cmp(b));
            assert_eq!(v, expected, "length {len}");
        }
    }
}
