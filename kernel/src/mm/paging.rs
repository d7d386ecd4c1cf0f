//! arm64 `paging_init` without the hardware: which tables the kernel builds, from memblock,
//! in which order. The boot runs it with table memory it can touch; the dry-run with tables
//! kept on the host, so both take the same table pages from memblock and print the same
//! `memblock=debug` lines. The switch to the new tables is the arch layer's.
//!
//! What is mapped (Linux 6.1 `map_kernel` + `map_mem` + the fixmap):
//! - the kernel image at its link address with W^X: text read-only and executable, rodata
//!   read-only, data and BSS read-write, both never-execute;
//! - the linear map at `PAGE_OFFSET` of every memory range that is not NOMAP, normal
//!   write-back memory, never-execute, with the largest blocks alignment allows (adjacent
//!   ranges are merged first); the alias of the kernel's text and rodata read-only, as Linux
//!   does not give them a writable alias;
//! - the fixmap: the console's page as device memory, the device tree read-only.

use crate::mm::memblock::{Memblock, MemblockFlags, INIT_MEMBLOCK_MEMORY_REGIONS, MEMBLOCK_ALLOC_NOLEAKTRACE, NUMA_NO_NODE};
use crate::mm::params::MemoryParams;
use crate::mm::pgtable::{map_range, merge_ranges, phys_to_virt, PgtableError, Prot, TableMem};
use crate::mm::{PhysAddr, PAGE_SIZE};

/// A part of the kernel image and its protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub va: u64,
    pub pa: PhysAddr,
    pub size: u64,
    pub prot: Prot,
}

/// What paging_init maps besides memory.
#[derive(Clone, Copy, Debug)]
pub struct PagingInputs<'s> {
    /// The image, in order: text, rodata, data + BSS (page aligned).
    pub image: &'s [Segment],
    /// `[start, end)` of the image that must have no writable alias (text and rodata).
    pub image_ro: (PhysAddr, PhysAddr),
    /// The console's registers.
    pub console: Option<(PhysAddr, u64)>,
    /// The device tree blob.
    pub fdt: (PhysAddr, u64),
}

/// The tables built, and where things now are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelTables {
    /// Level-0 table for TTBR1 (Linux's `swapper_pg_dir`).
    pub root: PhysAddr,
    /// `memstart_addr` (`PHYS_OFFSET`): the physical address at `PAGE_OFFSET`.
    pub memstart: PhysAddr,
    /// The console's registers in the fixmap.
    pub console_va: Option<u64>,
    /// The device tree blob in the fixmap.
    pub fdt_va: u64,
}

/// Table memory as the architecture reaches it: zero and access a page by physical address.
pub trait TableAccess {
    /// Zero the 4 KiB page at `pa` (just taken from memblock).
    fn zero(&mut self, pa: PhysAddr);
    fn read(&self, table: PhysAddr, index: usize) -> u64;
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64);
}

/// `TableMem` whose tables come from memblock, as Linux's `early_pgtable_alloc`.
pub struct MemblockTables<'m, A: TableAccess> {
    pub mb: &'m mut Memblock,
    pub access: A,
}

impl<A: TableAccess> TableMem for MemblockTables<'_, A> {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let pa = self.mb.phys_alloc_range(PAGE_SIZE, PAGE_SIZE, PhysAddr(0), MEMBLOCK_ALLOC_NOLEAKTRACE).ok()?;
        self.access.zero(pa);
        Some(pa)
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        self.access.read(table, index)
    }
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        self.access.write(table, index, desc)
    }
}

/// The ranges the linear map covers: memory that is not NOMAP, adjacent ranges merged.
pub fn linear_ranges(mb: &Memblock) -> ([(PhysAddr, PhysAddr); INIT_MEMBLOCK_MEMORY_REGIONS], usize) {
    let mut out = [(PhysAddr(0), PhysAddr(0)); INIT_MEMBLOCK_MEMORY_REGIONS];
    let mut n = 0;
    for range in merge_ranges(mb.mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s, e))) {
        if let Some(slot) = out.get_mut(n) {
            *slot = range;
            n += 1;
        }
    }
    (out, n)
}

/// `memstart_addr`: the start of DRAM rounded down to `ARM64_MEMSTART_ALIGN`.
pub fn memstart(mb: &Memblock, params: &MemoryParams) -> PhysAddr {
    mb.start_of_dram().align_down(params.memstart_align)
}

/// Build the kernel's tables (see the module documentation). Errors are Linux's panics in
/// `early_pgtable_alloc` and the `BUG_ON`s of the mapping code. `params` places the linear map
/// (`memstart_align`) and the fixmap.
pub fn paging_init<A: TableAccess>(
    mb: &mut Memblock,
    access: A,
    inputs: &PagingInputs,
    params: &MemoryParams,
) -> Result<KernelTables, PgtableError> {
    let (ranges, n) = linear_ranges(mb);
    let memstart = memstart(mb, params);
    let (fixmap_console, fixmap_fdt) = (params.fixmap_console, params.fixmap_fdt);
    let mut mem = MemblockTables { mb, access };
    let root = mem.alloc_table().ok_or(PgtableError::TableAlloc { level: 0 })?;

    // map_kernel
    for seg in inputs.image {
        map_range(&mut mem, root, seg.va, seg.pa, seg.size, seg.prot)?;
    }
    // map_mem: the kernel's text and rodata get a read-only alias, the rest read-write. Like
    // Linux's __create_pgd_mapping, each range is widened to whole pages: a NOMAP region that
    // does not start or end on a page boundary leaves the pages it shares with memory mapped
    // (two ranges may then map the same page, with the same descriptor).
    let (ro_start, ro_end) = inputs.image_ro;
    for &(start, end) in &ranges[..n] {
        let mut map = |s: PhysAddr, e: PhysAddr, prot| match e > s {
            true => {
                let (s, e) = (s.align_down(PAGE_SIZE), e.align_up(PAGE_SIZE));
                map_range(&mut mem, root, phys_to_virt(s, memstart), s, e - s, prot)
            }
            false => Ok(()),
        };
        map(start, end.min(ro_start).max(start), Prot::PAGE_KERNEL)?;
        map(start.max(ro_start), end.min(ro_end), Prot::PAGE_KERNEL_RO)?;
        map(start.max(ro_end).min(end), end, Prot::PAGE_KERNEL)?;
    }
    // The fixmap: the console page, then the blob's pages.
    let console_va = match inputs.console {
        Some((base, size)) => {
            // The size is the tree's `reg`: the fixmap slot bounds what is mapped, so a size
            // near 2^64 is clamped to the slot rather than summed past the top of the space.
            let page = base.align_down(PAGE_SIZE);
            // The console's `reg` size comes from the tree: a size near 2^64 saturates, and
            // the window below caps what is mapped anyway (Linux maps one earlycon page).
            let len = PhysAddr(base.0.saturating_add(size.max(1))).align_up(PAGE_SIZE) - page;
            map_range(&mut mem, root, fixmap_console, page, len.min(fixmap_fdt - fixmap_console), Prot::PROT_DEVICE_NGNRE)?;
            Some(fixmap_console + (base.0 - page.0))
        }
        None => None,
    };
    let (fdt, fdt_size) = inputs.fdt;
    let fdt_page = fdt.align_down(PAGE_SIZE);
    map_range(&mut mem, root, fixmap_fdt, fdt_page, (fdt + fdt_size).align_up(PAGE_SIZE) - fdt_page, Prot::PAGE_KERNEL_RO)?;
    Ok(KernelTables { root, memstart, console_va, fdt_va: fixmap_fdt + (fdt.0 - fdt_page.0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memstart_follows_the_alignment_it_is_given() {
        // DRAM from 0x4020_0000: rounded down to 1 GiB (arm64 with 4 KiB pages) the linear
        // map starts at 0x4000_0000; an architecture aligning to 2 MiB keeps 0x4020_0000.
        let mut mb = std::boxed::Box::new(Memblock::new());
        mb.add(PhysAddr(0x4020_0000), 0x1000_0000).unwrap();
        let params = |memstart_align| MemoryParams {
            phys_mask_shift: 48,
            memstart_align,
            linear_region_size: 1 << 47,
            zone_dma32_bits: 32,
            fixmap_console: 0,
            fixmap_fdt: 0,
        };
        assert_eq!(memstart(&mb, &params(1 << 30)), PhysAddr(0x4000_0000));
        assert_eq!(memstart(&mb, &params(2 << 20)), PhysAddr(0x4020_0000));
    }

    use crate::mm::pgtable::desc::{PTE_ADDR_MASK, PTE_RDONLY, PTE_TABLE_BIT, PTE_VALID};
    use crate::mm::pgtable::{table_index, PAGE_OFFSET};
    use crate::mm::zone_sizes::tests::ARM64;
    use std::collections::BTreeMap;

    /// Tables kept in a map from the table's address to its 512 descriptors.
    struct Tables<'t>(&'t mut BTreeMap<u64, [u64; 512]>);

    impl TableAccess for Tables<'_> {
        fn zero(&mut self, pa: PhysAddr) {
            self.0.insert(pa.0, [0; 512]);
        }
        fn read(&self, table: PhysAddr, index: usize) -> u64 {
            self.0.get(&table.0).map_or(0, |t| t[index])
        }
        fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
            self.0.entry(table.0).or_insert([0; 512])[index] = desc;
        }
    }

    /// The block or page descriptor that maps `va`, if any.
    fn leaf(tables: &BTreeMap<u64, [u64; 512]>, root: PhysAddr, va: u64) -> Option<u64> {
        let mut table = root.0;
        for level in 0..4 {
            let d = tables.get(&table)?[table_index(va, level)];
            if d & PTE_VALID == 0 {
                return None;
            }
            if level == 3 || d & PTE_TABLE_BIT == 0 {
                return Some(d);
            }
            table = d & PTE_ADDR_MASK;
        }
        None
    }

    /// RAM [0x4000_0000, 0x4800_0000) whose first 2 KiB are NOMAP, the kernel's text and
    /// rodata at [0x4000_0000, 0x4008_0000), a console at 0x0900_0010.
    ///
    /// The linear map starts at 0x4000_0800, inside the read-only range: the read-write part
    /// below it, [0x4000_0800, 0x4000_0800), is empty and must map nothing, or its page
    /// (widened to [0x4000_0000, 0x4000_1000)) would be mapped read-write and then clash with
    /// the read-only mapping of the same page. memstart is 0x4000_0000 (1 GiB aligned), so the
    /// page's alias is PAGE_OFFSET. Past 0x4008_0000 the map is read-write again.
    /// The console's page goes to the fixmap slot; its registers sit 0x10 into it.
    #[test]
    fn an_empty_part_of_a_linear_range_maps_nothing() {
        let mut mb = std::boxed::Box::new(Memblock::new());
        mb.add(PhysAddr(0x4000_0000), 0x800_0000).unwrap();
        mb.mark_nomap(PhysAddr(0x4000_0000), 0x800).unwrap();
        let inputs = PagingInputs {
            image: &[],
            image_ro: (PhysAddr(0x4000_0000), PhysAddr(0x4008_0000)),
            console: Some((PhysAddr(0x0900_0010), 0x1000)),
            fdt: (PhysAddr(0x4400_0000), 0x1000),
        };
        let mut tables = BTreeMap::new();
        let k = paging_init(&mut mb, Tables(&mut tables), &inputs, &ARM64).unwrap();
        assert_eq!(k.memstart, PhysAddr(0x4000_0000));
        assert_eq!((k.console_va, k.fdt_va), (Some(ARM64.fixmap_console + 0x10), ARM64.fixmap_fdt));
        let rdonly = |va| leaf(&tables, k.root, va).map(|d| d & PTE_RDONLY != 0);
        assert_eq!(rdonly(PAGE_OFFSET), Some(true));
        assert_eq!(rdonly(PAGE_OFFSET + 0x7_f000), Some(true));
        assert_eq!(rdonly(PAGE_OFFSET + 0x8_0000), Some(false));
        assert_eq!(rdonly(PAGE_OFFSET + 0x800_0000), None, "past the end of RAM");
    }
}
