//! Host tests of the page table code. Expected chunk lists and dump lines are derived from
//! Linux 6.1's rules (`alloc_init_pud`'s alignment tests, `note_page`'s coalescing), written
//! next to each case.

use std::collections::HashMap;

use super::desc::*;
use super::*;
use crate::mm::addr::PAGE_SIZE;
use crate::mm::memblock::{Memblock, MemblockFlags, NUMA_NO_NODE};

const SZ_4K: u64 = 0x1000;
const SZ_1M: u64 = 0x10_0000;
const SZ_2M: u64 = 0x20_0000;
const SZ_1G: u64 = 0x4000_0000;

/// Where QEMU virt's RAM starts; the linear map's `PHYS_OFFSET` in these tests.
const PHYS_OFFSET: PhysAddr = PhysAddr(0x4000_0000);

fn pa(x: u64) -> PhysAddr {
    PhysAddr(x)
}

fn chunk(va: u64, pa: u64, size: u64, level: usize) -> Chunk {
    Chunk { va, pa: PhysAddr(pa), size, level }
}

/// Identity-mapped plan, collected.
fn plan_id(start: u64, end: u64) -> Vec<Chunk> {
    plan(start, pa(start), end - start).collect()
}

/// Tables on the host heap, at made-up physical addresses from 0x7_0000_0000 up; allocation
/// fails once `limit` tables exist.
struct HostTables {
    tables: HashMap<u64, Box<[u64; PTRS_PER_TABLE]>>,
    next: u64,
    limit: usize,
}

impl HostTables {
    fn new() -> Self {
        HostTables { tables: HashMap::new(), next: 0x7_0000_0000, limit: usize::MAX }
    }

    /// A table store and its root table.
    fn with_root() -> (Self, PhysAddr) {
        let mut mem = HostTables::new();
        let root = mem.alloc_table().unwrap();
        (mem, root)
    }

    fn count(&self) -> usize {
        self.tables.len()
    }
}

impl TableMem for HostTables {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        if self.tables.len() >= self.limit {
            return None;
        }
        let at = self.next;
        self.next += PAGE_SIZE;
        self.tables.insert(at, Box::new([0; PTRS_PER_TABLE]));
        Some(PhysAddr(at))
    }

    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        self.tables[&table.0][index]
    }

    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        self.tables.get_mut(&table.0).expect("write to a table that was never allocated")[index] = desc;
    }
}


// ---------------------------------------------------------------------------------------
// Planner
// ---------------------------------------------------------------------------------------

#[test]
fn plan_range_not_2m_aligned() {
    //  0x4030_0000   0x4040_0000            0x8000_0000   0x8040_0000  0x8050_0000
    //  | 256 pages  |  510 x 2M  ...        | 2 x 2M      | 256 pages |
    //
    // The start is 1 MiB into a 2 MiB block: pages up to the 2 MiB boundary. From there
    // 2 MiB blocks up to the 1 GiB boundary at 0x8000_0000; only 4 MiB + 1 MiB remain
    // there, too little for a 1 GiB block, so 2 MiB blocks go on (one run of 512) and the
    // last 1 MiB is pages again.
    assert_eq!(
        plan_id(0x4030_0000, 0x8050_0000),
        [
            chunk(0x4030_0000, 0x4030_0000, SZ_1M, 3),
            chunk(0x4040_0000, 0x4040_0000, 512 * SZ_2M, 2),
            chunk(0x8040_0000, 0x8040_0000, SZ_1M, 3),
        ]
    );
    assert_eq!(plan_id(0x4030_0000, 0x8050_0000)[1].count(), 512);
}

#[test]
fn plan_blocks_need_va_and_pa_aligned_alike() {
    // VA and PA differ by 4 KiB modulo 2 MiB: no block can ever be aligned on both sides,
    // so 4 MiB is 1024 pages in one run.
    assert_eq!(plan(0x4000_0000, pa(0x4000_1000), 4 * SZ_1M).collect::<Vec<_>>(), [chunk(
        0x4000_0000,
        0x4000_1000,
        4 * SZ_1M,
        3
    )]);
    // VA and PA are congruent modulo 2 MiB but not 1 GiB: 2 GiB is 1024 PMD blocks, never
    // a PUD block, even where the VA alone is 1 GiB aligned.
    let va = PAGE_OFFSET + SZ_2M;
    assert_eq!(plan(va, pa(0x4000_0000), 2 * SZ_1G).collect::<Vec<_>>(), [chunk(
        va,
        0x4000_0000,
        2 * SZ_1G,
        2
    )]);
}

#[test]
fn plan_rounds_to_pages_like_linux() {
    // __create_pgd_mapping maps from virt & PAGE_MASK to PAGE_ALIGN(virt + size).
    assert_eq!(plan(0x4000_0800, pa(0x4000_0800), 0x1000).collect::<Vec<_>>(), [chunk(
        0x4000_0000,
        0x4000_0000,
        2 * SZ_4K,
        3
    )]);
    assert_eq!(plan(0x4000_0000, pa(0x4000_0000), 0).count(), 0);
}

#[test]
fn plan_around_a_4k_nomap_hole() {
    //  0x4000_0000        0x6000_0000 0x6000_1000      0x6020_0000     0x8000_0000   0xc000_0000
    //  | 256 x 2M        |X|  511 pages               |  255 x 2M      |   1 x 1G    |
    //                   NOMAP
    //
    // mem_ranges skips the NOMAP page, leaving two ranges. The first is 512 MiB from a
    // 1 GiB boundary: too short for a PUD block, all PMD blocks. The second starts one page
    // past a 2 MiB boundary: pages only up to the next 2 MiB boundary, then 2 MiB blocks up
    // to 1 GiB, then a 1 GiB block. One page of hole costs 511 pages, not the region.
    let mut mb = Box::new(Memblock::new());
    mb.add(pa(0x4000_0000), 2 * SZ_1G).unwrap();
    mb.mark_nomap(pa(0x6000_0000), SZ_4K).unwrap();
    let ranges: Vec<_> = mb.mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s, e)).collect();
    assert_eq!(ranges, [(pa(0x4000_0000), pa(0x6000_0000)), (pa(0x6000_1000), pa(0xc000_0000))]);

    let chunks: Vec<_> = ranges.iter().flat_map(|&(s, e)| plan_id(s.0, e.0)).collect();
    assert_eq!(
        chunks,
        [
            chunk(0x4000_0000, 0x4000_0000, 256 * SZ_2M, 2),
            chunk(0x6000_1000, 0x6000_1000, 511 * SZ_4K, 3),
            chunk(0x6020_0000, 0x6020_0000, 255 * SZ_2M, 2),
            chunk(0x8000_0000, 0x8000_0000, SZ_1G, 1),
        ]
    );
}

#[test]
fn plan_above_4g_through_the_linear_map() {
    //  0x8_3fe0_0000  0x8_4000_0000                 0xa_4000_0000  0xa_4000_3000
    //  | 1 x 2M      |       8 x 1G                 | 3 pages     |
    //
    // PHYS_OFFSET is 1 GiB aligned, so linear-map VAs are congruent to PAs modulo 1 GiB and
    // PUD blocks are possible wherever the PA allows them.
    let (start, end) = (0x8_3fe0_0000, 0xa_4000_3000);
    let va = phys_to_virt(pa(start), PHYS_OFFSET);
    assert_eq!(va, 0xffff_0007_ffe0_0000);
    let chunks: Vec<_> = plan(va, pa(start), end - start).collect();
    assert_eq!(
        chunks,
        [
            chunk(0xffff_0007_ffe0_0000, 0x8_3fe0_0000, SZ_2M, 2),
            chunk(0xffff_0008_0000_0000, 0x8_4000_0000, 8 * SZ_1G, 1),
            chunk(0xffff_000a_0000_0000, 0xa_4000_0000, 3 * SZ_4K, 3),
        ]
    );

    let (mut mem, root) = HostTables::with_root();
    map_range(&mut mem, root, va, pa(start), end - start, Prot::PAGE_KERNEL).unwrap();
    let t = translate(&mem, root, phys_to_virt(pa(0x9_0000_1234), PHYS_OFFSET)).unwrap();
    assert_eq!((t.pa, t.level), (pa(0x9_0000_1234), 1));
}

#[test]
fn plan_region_ending_at_the_top_of_48_bit_pa() {
    //  0xffff_bf7f_f000  0xffff_bf80_0000  0xffff_c000_0000     0x1_0000_0000_0000
    //  | 1 page         |  4 x 2M         |   1 x 1G          | = 2^48
    //
    // Identity-mapped in the lower half, whose top is also 2^48.
    let (start, end) = (0xffff_bf7f_f000, 0x1_0000_0000_0000);
    assert_eq!(
        plan_id(start, end),
        [
            chunk(0xffff_bf7f_f000, 0xffff_bf7f_f000, SZ_4K, 3),
            chunk(0xffff_bf80_0000, 0xffff_bf80_0000, 4 * SZ_2M, 2),
            chunk(0xffff_c000_0000, 0xffff_c000_0000, SZ_1G, 1),
        ]
    );

    let (mut mem, root) = HostTables::with_root();
    map_range(&mut mem, root, start, pa(start), end - start, Prot::PAGE_KERNEL).unwrap();
    let last = translate(&mem, root, end - 1).unwrap();
    assert_eq!((last.pa, last.level), (pa(end - 1), 1));
    assert_eq!(translate(&mem, root, start).unwrap().level, 3);
    assert_eq!(translate(&mem, root, start - 1), None);

    // One page more does not fit in 48 bits, neither as PA nor as lower-half VA.
    assert_eq!(
        map_range(&mut mem, root, PAGE_OFFSET, pa(end - SZ_4K), 2 * SZ_4K, Prot::PAGE_KERNEL),
        Err(PgtableError::PaOutOfRange { pa: pa(end - SZ_4K), size: 2 * SZ_4K })
    );
    assert_eq!(
        map_range(&mut mem, root, end - SZ_4K, pa(0), 2 * SZ_4K, Prot::PAGE_KERNEL),
        Err(PgtableError::VaOutOfRange { va: end - SZ_4K, size: 2 * SZ_4K })
    );
}

#[test]
fn adjacent_regions_separately_and_merged() {
    //  0x4000_0000  0x4010_0000                                   0x8000_0000
    //  | node 0    | node 1                                       |
    //
    // memblock keeps regions of different nodes apart. Mapped one by one, as Linux's
    // map_mem does: the 1 MiB of node 0 is 256 pages; node 1 starts 1 MiB into a 2 MiB
    // block, so 256 pages, then 511 x 2 MiB up to 0x8000_0000. Merged first, the union is
    // exactly one 1 GiB block.
    let mut mb = Box::new(Memblock::new());
    mb.add_node(pa(0x4000_0000), SZ_1M, 0, MemblockFlags::NONE).unwrap();
    mb.add_node(pa(0x4010_0000), SZ_1G - SZ_1M, 1, MemblockFlags::NONE).unwrap();
    let ranges: Vec<_> = mb.mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s, e)).collect();
    assert_eq!(ranges.len(), 2);

    let separate: Vec<_> = ranges.iter().flat_map(|&(s, e)| plan_id(s.0, e.0)).collect();
    assert_eq!(
        separate,
        [
            chunk(0x4000_0000, 0x4000_0000, SZ_1M, 3),
            chunk(0x4010_0000, 0x4010_0000, SZ_1M, 3),
            chunk(0x4020_0000, 0x4020_0000, 511 * SZ_2M, 2),
        ]
    );
    let merged: Vec<_> = merge_ranges(ranges.iter().copied()).collect();
    assert_eq!(merged, [(pa(0x4000_0000), pa(0x8000_0000))]);
    let merged_plan: Vec<_> = merged.iter().flat_map(|&(s, e)| plan_id(s.0, e.0)).collect();
    assert_eq!(merged_plan, [chunk(0x4000_0000, 0x4000_0000, SZ_1G, 1)]);

    // In tables: root, PUD, PMD and PTE tables separately; root and PUD merged.
    let (mut mem, root) = HostTables::with_root();
    for &(s, e) in &ranges {
        map_range(&mut mem, root, s.0, s, e - s, Prot::PAGE_KERNEL).unwrap();
    }
    assert_eq!(mem.count(), 4);
    let (mut mem, root) = HostTables::with_root();
    for (s, e) in merge_ranges(ranges.iter().copied()) {
        map_range(&mut mem, root, s.0, s, e - s, Prot::PAGE_KERNEL).unwrap();
    }
    assert_eq!(mem.count(), 2);
    assert_eq!(translate(&mem, root, 0x4010_0000).unwrap().level, 1);
}

#[test]
fn merge_ranges_joins_touching_and_overlapping_only() {
    let input = [
        (pa(0x1000), pa(0x2000)),
        (pa(0x2000), pa(0x3000)), // touches: joined
        (pa(0x2800), pa(0x2900)), // inside: joined, end unchanged
        (pa(0x5000), pa(0x5000)), // empty: dropped
        (pa(0x6000), pa(0x7000)), // after a gap: new range
    ];
    let merged: Vec<_> = merge_ranges(input).collect();
    assert_eq!(merged, [(pa(0x1000), pa(0x3000)), (pa(0x6000), pa(0x7000))]);
    assert_eq!(merge_ranges(core::iter::empty()).count(), 0);
}

// ---------------------------------------------------------------------------------------
// Mapping and translation
// ---------------------------------------------------------------------------------------

#[test]
fn map_then_translate_round_trips() {
    // 1 GiB + 2 MiB + 8 KiB of linear map, from a 1 GiB boundary: one entry of each size.
    let (mut mem, root) = HostTables::with_root();
    let start = pa(0x4000_0000);
    let size = SZ_1G + SZ_2M + 2 * SZ_4K;
    let va = phys_to_virt(start, PHYS_OFFSET);
    map_range(&mut mem, root, va, start, size, Prot::PAGE_KERNEL).unwrap();

    for (off, level) in [(0, 1), (SZ_1G - 1, 1), (SZ_1G, 2), (SZ_1G + SZ_2M + 0x1abc, 3), (size - 1, 3)] {
        let t = translate(&mem, root, va + off).unwrap();
        assert_eq!(t.pa, start + off, "offset {off:#x}");
        assert_eq!(t.level, level, "offset {off:#x}");
        assert_eq!(t.prot, Prot::PAGE_KERNEL, "blocks and pages report the same protection");
        assert_eq!(virt_to_phys(va + off, PHYS_OFFSET), t.pa);
    }
    assert_eq!(translate(&mem, root, va + size), None);
    assert_eq!(translate(&mem, root, va - 1), None);

    // The raw descriptors: a block has bit 1 clear, a page and a table have it set.
    let t = translate(&mem, root, va).unwrap();
    let attrs = PTE_UXN | PTE_PXN | PTE_AF | PTE_SHARED | pte_attrindx(MT_NORMAL) | PTE_VALID;
    assert_eq!(t.desc, 0x4000_0000 | attrs);
    let t = translate(&mem, root, va + SZ_1G + SZ_2M).unwrap();
    assert_eq!(t.desc & PMD_TYPE_MASK, PTE_TYPE_PAGE);
    let pgd_entry = mem.read(root, table_index(va, 0));
    assert_eq!(pgd_entry & !PTE_ADDR_MASK, PMD_TYPE_TABLE | PMD_TABLE_UXN);
}

/// Pages across tables: 1100 pages from 8 pages before a PTE table's end, with VA and PA
/// not 2 MiB congruent so that no block fits, fill the last 8 entries of one table, all 512
/// of the next two, then 68 of a fourth: every page where it belongs, four PTE tables under
/// one PMD table, and a second call over the same range and one more page writes one page.
#[test]
fn pages_across_pte_tables_each_land_in_place() {
    let (mut mem, root) = HostTables::with_root();
    let va = PAGE_OFFSET + SZ_2M - 8 * SZ_4K;
    let start = pa(0x4000_0000 + 5 * SZ_4K);
    let pages = 1100;
    map_range(&mut mem, root, va, start, pages * SZ_4K, Prot::PAGE_KERNEL).unwrap();
    for k in 0..pages {
        let t = translate(&mem, root, va + k * SZ_4K).unwrap();
        assert_eq!((t.pa, t.level), (start + k * SZ_4K, 3), "page {k}");
    }
    assert_eq!(translate(&mem, root, va - SZ_4K), None);
    assert_eq!(translate(&mem, root, va + pages * SZ_4K), None);
    // The root, one PUD, one PMD and four PTE tables.
    assert_eq!(mem.count(), 7);
    map_range(&mut mem, root, va, start, (pages + 1) * SZ_4K, Prot::PAGE_KERNEL).unwrap();
    assert_eq!(translate(&mem, root, va + pages * SZ_4K).map(|t| t.pa), Some(start + pages * SZ_4K));
    assert_eq!(mem.count(), 7);
    // A range that fills one PTE table exactly allocates that table and nothing past it.
    let (mut mem, root) = HostTables::with_root();
    map_range(&mut mem, root, PAGE_OFFSET + SZ_2M, start, 512 * SZ_4K, Prot::PAGE_KERNEL).unwrap();
    assert_eq!(mem.count(), 4, "the root, a PUD, a PMD and one PTE table");
    assert_eq!(translate(&mem, root, PAGE_OFFSET + 2 * SZ_2M), None);
}

#[test]
fn linear_map_arithmetic() {
    assert_eq!(phys_to_virt(pa(0x4000_0000), PHYS_OFFSET), PAGE_OFFSET);
    assert_eq!(phys_to_virt(pa(0x4812_3456), PHYS_OFFSET), 0xffff_0000_0812_3456);
    assert_eq!(virt_to_phys(0xffff_0000_0812_3456, PHYS_OFFSET), pa(0x4812_3456));
    assert!(is_lm_address(PAGE_OFFSET) && is_lm_address(PAGE_END - 1) && !is_lm_address(PAGE_END));
    assert_eq!(table_index(PAGE_END, 0), 256);
}

#[test]
fn kernel_protections_are_w_xor_x() {
    // (prot, writable, EL1-executable, memory type)
    let cases = [
        (Prot::PAGE_KERNEL, true, false, MT_NORMAL),
        (Prot::PAGE_KERNEL_RO, false, false, MT_NORMAL),
        (Prot::PAGE_KERNEL_ROX, false, true, MT_NORMAL),
        (Prot::PROT_DEVICE_NGNRE, true, false, MT_DEVICE_NGNRE),
    ];
    for (prot, writable, exec, mt) in cases {
        assert_eq!(prot.is_writable(), writable, "{prot:?}");
        assert_eq!(prot.is_kernel_exec(), exec, "{prot:?}");
        assert!(!(prot.is_writable() && prot.is_kernel_exec()), "{prot:?} is W+X");
        assert!(!prot.is_user_exec(), "{prot:?}: kernel mappings are always UXN");
        assert_eq!(prot.attr_index(), mt);
        assert_eq!(prot.0 & (PTE_USER | PTE_NG | PTE_CONT), 0);
        assert_eq!(prot.0 & (PTE_AF | PTE_SHARED | PTE_TYPE_PAGE), PTE_AF | PTE_SHARED | PTE_TYPE_PAGE);
    }
    // Text: read-only and executable at EL1, UXN only.
    assert_eq!(Prot::PAGE_KERNEL_ROX.0 & (PTE_RDONLY | PTE_PXN | PTE_UXN), PTE_RDONLY | PTE_UXN);
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn table_allocation_failure_is_an_error() {
    // A page at 0x4000_0000 needs PUD, PMD and PTE tables below the root. With room for
    // the root and two more, the PTE table (level 3) is the one that fails.
    let (mut mem, root) = HostTables::with_root();
    mem.limit = 3;
    assert_eq!(
        map_range(&mut mem, root, 0x4000_0000, pa(0x4000_0000), SZ_4K, Prot::PAGE_KERNEL),
        Err(PgtableError::TableAlloc { level: 3 })
    );
    assert_eq!(translate(&mem, root, 0x4000_0000), None);
    // A 2 MiB block needs no PTE table and fits.
    map_range(&mut mem, root, 0x4020_0000, pa(0x4020_0000), SZ_2M, Prot::PAGE_KERNEL).unwrap();
}

#[test]
fn conflicting_mappings_are_refused() {
    let (mut mem, root) = HostTables::with_root();
    let va = PAGE_OFFSET;
    map_range(&mut mem, root, va, pa(0x4000_0000), 4 * SZ_2M, Prot::PAGE_KERNEL).unwrap();
    let block = translate(&mem, root, va).unwrap().desc;

    // The very same mapping again is allowed (Linux: pgattr_change_is_safe(old, old)).
    map_range(&mut mem, root, va, pa(0x4000_0000), 4 * SZ_2M, Prot::PAGE_KERNEL).unwrap();

    // Another protection on a live block.
    let ro = Prot::PAGE_KERNEL_RO;
    assert_eq!(
        map_range(&mut mem, root, va + SZ_2M, pa(0x4020_0000), SZ_2M, ro),
        Err(PgtableError::Conflict {
            va: va + SZ_2M,
            level: 2,
            old: block | 0x20_0000,
            new: ro.block_desc(0x4020_0000)
        })
    );
    // Another physical address.
    assert!(matches!(
        map_range(&mut mem, root, va, pa(0x8000_0000), SZ_2M, Prot::PAGE_KERNEL),
        Err(PgtableError::Conflict { level: 2, .. })
    ));
    // Pages inside a block: a table would be needed where the block is.
    assert_eq!(
        map_range(&mut mem, root, va + SZ_4K, pa(0x4000_1000), SZ_4K, Prot::PAGE_KERNEL),
        Err(PgtableError::Conflict {
            va: va + SZ_4K,
            level: 2,
            old: block,
            new: Prot::PAGE_KERNEL.page_desc(0x4000_1000)
        })
    );
    // A refused call changes nothing, even where its first part was free:
    //  0          2M          4M
    //  | free     | RW block  |     map [0, 4M) RO  ->  Conflict at 2M, [0, 2M) still free
    let (mut mem, root) = HostTables::with_root();
    map_range(&mut mem, root, SZ_2M, pa(SZ_2M), SZ_2M, Prot::PAGE_KERNEL).unwrap();
    let tables = mem.count();
    assert!(matches!(
        map_range(&mut mem, root, 0, pa(0), 2 * SZ_2M, Prot::PAGE_KERNEL_RO),
        Err(PgtableError::Conflict { va: SZ_2M, level: 2, .. })
    ));
    assert_eq!(translate(&mem, root, 0), None);
    assert_eq!(mem.count(), tables);
}

#[test]
fn non_canonical_ranges_are_refused() {
    let (mut mem, root) = HostTables::with_root();
    // Straddles PAGE_OFFSET from the non-canonical hole below it.
    let va = PAGE_OFFSET - SZ_2M;
    assert_eq!(
        map_range(&mut mem, root, va, pa(0), 2 * SZ_2M, Prot::PAGE_KERNEL),
        Err(PgtableError::VaOutOfRange { va, size: 2 * SZ_2M })
    );
    // Wraps past 2^64.
    assert_eq!(
        map_range(&mut mem, root, u64::MAX - SZ_4K + 1, pa(0), 2 * SZ_4K, Prot::PAGE_KERNEL),
        Err(PgtableError::VaOutOfRange { va: u64::MAX - SZ_4K + 1, size: 2 * SZ_4K })
    );
    assert_eq!(mem.count(), 1);
}

#[test]
fn unaligned_requests_are_refused() {
    let (mut mem, root) = HostTables::with_root();
    for (va, p, size) in [(0x800, 0x800, SZ_4K), (0, 0, 0x800), (0, 0x800, SZ_4K)] {
        assert_eq!(
            map_range(&mut mem, root, va, pa(p), size, Prot::PAGE_KERNEL),
            Err(PgtableError::Misaligned { va, pa: pa(p), size })
        );
    }
    assert_eq!(mem.count(), 1);
}

#[test]
fn the_last_page_of_the_address_space_can_be_mapped() {
    // va + size is exactly 2^64.
    let (mut mem, root) = HostTables::with_root();
    let va = u64::MAX - SZ_4K + 1;
    map_range(&mut mem, root, va, pa(0x900_0000), SZ_4K, Prot::PROT_DEVICE_NGNRE).unwrap();
    assert_eq!(translate(&mem, root, u64::MAX).unwrap().pa, pa(0x900_0fff));
}

// ---------------------------------------------------------------------------------------
// ptdump
// ---------------------------------------------------------------------------------------

fn dump_lines(mem: &HostTables, root: PhysAddr, markers: &[(u64, &str)]) -> Vec<String> {
    let mut lines = Vec::new();
    dump(mem, root, markers, &mut |args| lines.push(args.to_string()));
    lines
}

// Attribute columns: each of Linux's pte_bits prints " " and its string: valid " ", user
// "   ", "RW" or "ro", "NX" or "x ", "SHD", "AF", nG "  ", contiguous "   ", "   " for a
// page or "BLK" for a block, "UXN", GP "  ", then the memory type.
const NORMAL_BLK: &str = "       RW NX SHD AF        BLK UXN    MEM/NORMAL";
const NORMAL_PAGE: &str = "       RW NX SHD AF            UXN    MEM/NORMAL";
const DEVICE_PAGE: &str = "       RW NX SHD AF            UXN    DEVICE/nGnRE";
const TEXT_PAGE: &str = "       ro x  SHD AF            UXN    MEM/NORMAL";

#[test]
fn ptdump_of_a_linear_map_with_a_hole_and_a_device_page() {
    // Linear map of [0x4000_0000, 0x8000_0000) minus a 1 MiB NOMAP hole at 0x4800_0000, and the
    // UART page 0x900_0000 as device memory at PAGE_END:
    //
    //  VA ffff0000_00000000      08000000 08100000 08200000                 40000000
    //     | 64 x 2M             | hole   | 256 pg | 447 x 2M               |
    //
    // The walk notes, in order: PMD blocks (one run, 128M); the PTE table of the 2 MiB
    // around the hole, whose 256 empty entries are a PTE-level hole run (1M, no attributes)
    // and whose 256 pages a run of their own; PMD blocks again (894M); the other 511 PUD
    // entries as one PUD hole (511G); PGD entries 1-255 as a PGD hole up to PAGE_END
    // (127.5 TiB, printed 130560G as 1023.5T is not whole). Reaching PAGE_END, the second
    // marker, prints its header after the line that ends there. Then the device page, the
    // 511 empty PTEs after it (2044K), the empty PMDs (1022M) and PUDs (511G), and the PGD
    // hole to the top, which the final flush closes at address 0.
    let mut mb = Box::new(Memblock::new());
    mb.add(pa(0x4000_0000), SZ_1G).unwrap();
    mb.mark_nomap(pa(0x4800_0000), SZ_1M).unwrap();
    let (mut mem, root) = HostTables::with_root();
    for (s, e) in merge_ranges(mb.mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s, e))) {
        map_range(&mut mem, root, phys_to_virt(s, PHYS_OFFSET), s, e - s, Prot::PAGE_KERNEL).unwrap();
    }
    map_range(&mut mem, root, PAGE_END, pa(0x900_0000), SZ_4K, Prot::PROT_DEVICE_NGNRE).unwrap();

    let markers = [(PAGE_OFFSET, "Linear Mapping start"), (PAGE_END, "Linear Mapping end")];
    let expected = [
        "---[ Linear Mapping start ]---".to_string(),
        format!("0xffff000000000000-0xffff000008000000         128M PMD{NORMAL_BLK}"),
        "0xffff000008000000-0xffff000008100000           1M PTE".to_string(),
        format!("0xffff000008100000-0xffff000008200000           1M PTE{NORMAL_PAGE}"),
        format!("0xffff000008200000-0xffff000040000000         894M PMD{NORMAL_BLK}"),
        "0xffff000040000000-0xffff008000000000         511G PUD".to_string(),
        "0xffff008000000000-0xffff800000000000      130560G PGD".to_string(),
        "---[ Linear Mapping end ]---".to_string(),
        format!("0xffff800000000000-0xffff800000001000           4K PTE{DEVICE_PAGE}"),
        "0xffff800000001000-0xffff800000200000        2044K PTE".to_string(),
        "0xffff800000200000-0xffff800040000000        1022M PMD".to_string(),
        "0xffff800040000000-0xffff808000000000         511G PUD".to_string(),
        "0xffff808000000000-0x0000000000000000      130560G PGD".to_string(),
    ];
    assert_eq!(dump_lines(&mem, root, &markers), expected);
}

#[test]
fn ptdump_splits_runs_at_markers_and_attribute_changes() {
    // Text (ROX) then rodata (RO) pages, then two PMD blocks of data (RW), with a marker in
    // the middle of the RW blocks: the run of equal blocks is cut there.
    //
    //  VA ffff8000_08000000  ...08001000 ...08002000 ...08200000  ...08400000 ...08600000
    //     | text           | rodata    | empty PTEs| RW 2M      ^ RW 2M      |
    //                                                           "Marker"
    let (mut mem, root) = HostTables::with_root();
    let base = 0xffff_8000_0800_0000;
    map_range(&mut mem, root, base, pa(0x4020_0000), SZ_4K, Prot::PAGE_KERNEL_ROX).unwrap();
    map_range(&mut mem, root, base + SZ_4K, pa(0x4020_1000), SZ_4K, Prot::PAGE_KERNEL_RO).unwrap();
    map_range(&mut mem, root, base + SZ_2M, pa(0x4040_0000), 2 * SZ_2M, Prot::PAGE_KERNEL).unwrap();

    let markers = [(PAGE_END, "Kernel"), (base + 2 * SZ_2M, "Marker")];
    let lines = dump_lines(&mem, root, &markers);
    let expected = [
        "---[ Kernel ]---".to_string(),
        // PMD entries 0-63 of the first PUD are empty (128M), then the PTE table.
        "0xffff800000000000-0xffff800008000000         128M PMD".to_string(),
        format!("0xffff800008000000-0xffff800008001000           4K PTE{TEXT_PAGE}"),
        format!(
            "0xffff800008001000-0xffff800008002000           4K PTE{}",
            NORMAL_PAGE.replace("RW", "ro")
        ),
        "0xffff800008002000-0xffff800008200000        2040K PTE".to_string(),
        format!("0xffff800008200000-0xffff800008400000           2M PMD{NORMAL_BLK}"),
        "---[ Marker ]---".to_string(),
        format!("0xffff800008400000-0xffff800008600000           2M PMD{NORMAL_BLK}"),
        "0xffff800008600000-0xffff800040000000         890M PMD".to_string(),
        "0xffff800040000000-0xffff808000000000         511G PUD".to_string(),
        "0xffff808000000000-0x0000000000000000      130560G PGD".to_string(),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn ptdump_of_an_empty_tree_is_one_hole() {
    // Every PGD entry from PAGE_OFFSET up is empty: one run of 256 TiB, no markers given.
    let (mem, root) = HostTables::with_root();
    assert_eq!(dump_lines(&mem, root, &[]), ["0xffff000000000000-0x0000000000000000         256T PGD"]);
}

#[test]
fn ptdump_of_a_range_cuts_the_runs_at_both_ends() {
    // The text and rodata pages of the test above, dumped over [base + 2K, base + 1M):
    //
    //  VA ffff8000_08000000 +800 +1000      +2000                     +100000
    //     | text   [range starts here | rodata | empty PTEs ...        ] range ends
    //
    // The first run starts at the range's start, mid-page (the walk notes the address it
    // starts at); the empty PTEs after rodata are one run cut at the end: 1M - 8K = 1016K.
    // No marker line: the range has none.
    let (mut mem, root) = HostTables::with_root();
    let base = 0xffff_8000_0800_0000;
    map_range(&mut mem, root, base, pa(0x4020_0000), SZ_4K, Prot::PAGE_KERNEL_ROX).unwrap();
    map_range(&mut mem, root, base + SZ_4K, pa(0x4020_1000), SZ_4K, Prot::PAGE_KERNEL_RO).unwrap();
    let mut lines = Vec::new();
    assert!(dump_range(&mem, root, (base + 0x800, base + SZ_1M), &mut |a| lines.push(a.to_string())));
    let expected = [
        format!("0xffff800008000800-0xffff800008001000           2K PTE{TEXT_PAGE}"),
        format!("0xffff800008001000-0xffff800008002000           4K PTE{}", NORMAL_PAGE.replace("RW", "ro")),
        "0xffff800008002000-0xffff800008100000        1016K PTE".to_string(),
    ];
    assert_eq!(lines, expected);

    // Empty, reversed and half-crossing ranges are refused without output.
    for bad in [(base, base), (base + SZ_1M, base), (0x1000, PAGE_OFFSET + 0x1000), (0, TTBR0_TOP + 1)] {
        assert!(!dump_range(&mem, root, bad, &mut |a| panic!("printed {a} for {bad:x?}")));
    }
}

// ---------------------------------------------------------------------------------------
// Properties of the planner
// ---------------------------------------------------------------------------------------

mod props {
    use super::*;
    use crate::mm::addr::align_up;
    use proptest::prelude::*;

    /// Whether `[start, end)` contains a `size`-aligned block of VA whose PA is aligned too.
    fn holds_block(c: &Chunk, size: u64) -> bool {
        if c.va.wrapping_sub(c.pa.0) & (size - 1) != 0 {
            return false;
        }
        let first = align_up(c.va, size);
        first >= c.va && first.checked_add(size).is_some_and(|e| e <= c.va + c.size)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Chunks tile the range in order, every entry is aligned on both sides, and a
        /// smaller granule is only used where no larger block would fit.
        #[test]
        fn plan_tiles_the_range_greedily(
            va_page in 0u64..(1 << 24),
            pa_shift in prop_oneof![Just(0u64), 0u64..(1 << 20), Just(512), Just(1 << 18)],
            pages in 1u64..(1 << 20),
        ) {
            let va = va_page * PAGE_SIZE;
            let pa = (va_page + pa_shift) * PAGE_SIZE;
            let size = pages * PAGE_SIZE;
            let chunks: Vec<_> = plan(va, PhysAddr(pa), size).collect();
            let mut at = va;
            for (i, c) in chunks.iter().enumerate() {
                prop_assert_eq!(c.va, at);
                prop_assert_eq!(c.pa.0 - pa, c.va - va);
                prop_assert!(c.size > 0 && c.size % c.entry_size() == 0);
                prop_assert_eq!((c.va | c.pa.0) & (c.entry_size() - 1), 0);
                if i > 0 {
                    prop_assert_ne!(chunks[i - 1].level, c.level, "equal runs are joined");
                }
                if c.level == 3 {
                    prop_assert!(!holds_block(c, PMD_SIZE), "{:?} could hold a 2 MiB block", c);
                }
                if c.level >= 2 {
                    prop_assert!(!holds_block(c, PUD_SIZE), "{:?} could hold a 1 GiB block", c);
                }
                at += c.size;
            }
            prop_assert_eq!(at, va + size);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Unmapping (free_initmem)

#[test]
fn unmap_clears_the_pages_of_the_range_and_nothing_else() {
    // An image-like map at KIMAGE_VADDR: text 16 KiB ROX, init 12 KiB ROX + 4 KiB RW, data
    // 8 KiB RW, all pages (the image is not 2 MiB long). Unmapping init [16K, 32K) clears
    // its four level-3 entries: text and data still translate, init does not.
    const KIMAGE: u64 = 0xffff_8000_0800_0000;
    let (mut mem, root) = HostTables::with_root();
    let base = pa(0x4020_0000);
    for (off, size, prot) in [(0, 0x4000, Prot::PAGE_KERNEL_ROX), (0x4000, 0x3000, Prot::PAGE_KERNEL_ROX), (0x7000, 0x1000, Prot::PAGE_KERNEL), (0x8000, 0x2000, Prot::PAGE_KERNEL)] {
        map_range(&mut mem, root, KIMAGE + off, base + off, size, prot).unwrap();
    }
    let tables = mem.count();
    let mut flushed = Vec::new();
    assert_eq!(unmap_range(&mut mem, root, KIMAGE + 0x4000, 0x4000, &mut |va| flushed.push(va)), Ok(4));
    assert_eq!(flushed, [KIMAGE + 0x4000, KIMAGE + 0x5000, KIMAGE + 0x6000, KIMAGE + 0x7000]);
    for off in (0x4000..0x8000).step_by(0x1000) {
        assert_eq!(translate(&mem, root, KIMAGE + off), None, "init page at {off:#x} still mapped");
    }
    assert_eq!(translate(&mem, root, KIMAGE + 0x3fff).unwrap().pa, base + 0x3fff);
    assert_eq!(translate(&mem, root, KIMAGE + 0x8000).unwrap().pa, base + 0x8000);
    assert_eq!(mem.count(), tables, "tables are kept, only entries are cleared");
    // A second unmap finds the first page unmapped and changes nothing.
    assert_eq!(unmap_range(&mut mem, root, KIMAGE + 0x4000, 0x1000, &mut |_| panic!("nothing to flush")), Err(PgtableError::NotMapped { va: KIMAGE + 0x4000 }));
}

#[test]
fn unmap_refuses_a_block_reaching_outside_and_writes_nothing() {
    // 4 MiB of linear map from a 2 MiB boundary: two level-2 blocks. Unmapping the first
    // 2 MiB clears one block; unmapping 4 KiB inside the second would need a split: refused,
    // and the block stays.
    let (mut mem, root) = HostTables::with_root();
    let va = phys_to_virt(pa(0x4000_0000), PHYS_OFFSET);
    map_range(&mut mem, root, va, pa(0x4000_0000), 2 * SZ_2M, Prot::PAGE_KERNEL).unwrap();
    let r = unmap_range(&mut mem, root, va + SZ_2M + SZ_4K, SZ_4K, &mut |_| panic!("nothing to flush"));
    assert!(matches!(r, Err(PgtableError::Conflict { level: 2, new: 0, .. })), "{r:?}");
    assert_eq!(translate(&mem, root, va + SZ_2M + SZ_4K).unwrap().level, 2);
    let mut flushed = Vec::new();
    assert_eq!(unmap_range(&mut mem, root, va, SZ_2M, &mut |v| flushed.push(v)), Ok(SZ_2M / SZ_4K));
    assert_eq!(flushed, [va]);
    assert_eq!(translate(&mem, root, va), None);
    assert_eq!(translate(&mem, root, va + SZ_2M).unwrap().pa, pa(0x4000_0000 + SZ_2M));
}

/// Each error names what was wrong and where, in hex (the dry-run prints it after
/// `paging_init: `, the boot in its panic).
#[test]
fn errors_say_what_was_refused() {
    let said = |e: PgtableError| e.to_string();
    assert_eq!(
        said(PgtableError::Misaligned { va: 0x1000, pa: pa(0x4000_0800), size: 0x1000 }),
        "unaligned mapping va 0x1000 pa 0x40000800 size 0x1000"
    );
    assert_eq!(said(PgtableError::VaOutOfRange { va: 1 << 48, size: SZ_4K }), "virtual range 0x1000000000000+0x1000 is not canonical");
    assert_eq!(said(PgtableError::PaOutOfRange { pa: pa(1 << 48), size: SZ_4K }), "physical range 0x1000000000000+0x1000 exceeds 48 bits");
    assert_eq!(said(PgtableError::TableAlloc { level: 2 }), "out of memory for a level 2 table");
    assert_eq!(
        said(PgtableError::Conflict { va: 0xffff_0000_0000_0000, level: 3, old: 0x403, new: 0x483 }),
        "va 0xffff000000000000: level 3 entry 0x0000000000000403 would be overwritten by 0x0000000000000483"
    );
    assert_eq!(said(PgtableError::NotMapped { va: 0x2000 }), "va 0x2000 is not mapped");
}

/// With a 4 KiB granule a level-0 descriptor is a table or invalid: one with the block type
/// (bits [1:0] = 0b01) translates nothing, while the same at level 1 is a 1 GiB block.
#[test]
fn a_level_0_block_is_not_a_mapping() {
    let (mut mem, root) = HostTables::with_root();
    let block = Prot::PAGE_KERNEL.block_desc(0x4000_0000);
    mem.write(root, table_index(0, 0), block);
    assert_eq!(translate(&mem, root, 0x1234), None);
    // Level 1 under a real table: [1 GiB, 2 GiB) -> 0x4000_0000, offset kept.
    let pud = mem.alloc_table().unwrap();
    mem.write(root, table_index(0, 0), table_desc(pud.0));
    mem.write(pud, table_index(SZ_1G, 1), block);
    let t = translate(&mem, root, SZ_1G + 0x1234).unwrap();
    assert_eq!((t.pa, t.level), (pa(0x4000_1234), 1));
}

/// A table descriptor (ARM ARM, VMSAv8-64 table descriptor): the next table's address, bits
/// [1:0] = 0b11, and UXNTable, bit 60, so nothing below is executable at EL0 (Linux's
/// PMD_TABLE_UXN); PXNTable (bit 59) stays clear.
#[test]
fn table_descriptor_bits() {
    assert_eq!(table_desc(0x4000_1000), (1 << 60) | 0x4000_1000 | 0b11);
}

/// The kernel's protections as raw page-descriptor bits (ARM ARM VMSAv8-64 stage 1: bits [1:0]
/// 0b11 page, AttrIndx [4:2], AP[2] bit 7 read-only, SH [9:8] 0b11 inner shareable, AF bit
/// 10, PXN bit 53, UXN bit 54), with this kernel's MAIR indices (Normal 1, Device 0):
/// PAGE_KERNEL = 0x3 | 1 << 2 | 0x300 | 0x400 | PXN | UXN = 0x0060_0000_0000_0707; RO adds
/// 0x80; ROX is RO without PXN; PROT_DEVICE_nGnRE has AttrIndx 0.
#[test]
fn protections_are_the_architectures_bits() {
    assert_eq!(Prot::PAGE_KERNEL.0, 0x0060_0000_0000_0707);
    assert_eq!(Prot::PAGE_KERNEL_RO.0, 0x0060_0000_0000_0787);
    assert_eq!(Prot::PAGE_KERNEL_ROX.0, 0x0040_0000_0000_0787);
    assert_eq!(Prot::PROT_DEVICE_NGNRE.0, 0x0060_0000_0000_0703);
}

/// ptdump, like translate, takes a level-0 descriptor of the block type for no mapping: no
/// line of the dump shows its attributes.
#[test]
fn ptdump_shows_no_level_0_block() {
    let (mut mem, root) = HostTables::with_root();
    mem.write(root, table_index(PAGE_OFFSET, 0), Prot::PAGE_KERNEL.block_desc(0));
    let lines = dump_lines(&mem, root, &[(PAGE_OFFSET, "Linear Mapping start"), (PAGE_END, "Linear Mapping end")]);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| !l.contains(NORMAL_BLK)), "{lines:#?}");
}
