//! Host tests of the default CMA area and `cma=`, against Linux 6.1's `dma_contiguous_reserve`
//! and `cma_declare_contiguous_nid` worked by hand.

use super::*;
use crate::mm::memblock::Memblock;

const SZ_1G: u64 = 1 << 30;

/// 1 GiB of RAM at 1 GiB, as QEMU virt's `-m 1G`, with the top 3 MiB reserved (as a memmap
/// and NODE_DATA would be).
fn one_gig() -> Memblock {
    let mut mb = Memblock::new();
    mb.add(PhysAddr(SZ_1G), SZ_1G).unwrap();
    mb.reserve(PhysAddr(2 * SZ_1G - 3 * SZ_1M), 3 * SZ_1M).unwrap();
    mb
}

#[test]
fn cma_cmdline_reads_size_base_and_limit_as_early_cma() {
    // No '@': the size only; base and limit stay 0.
    assert_eq!(CmaCmdline::parse("32M"), CmaCmdline { size: 32 * SZ_1M, base: 0, limit: 0 });
    // '@' without '-': fixed, limit = base + size.
    assert_eq!(
        CmaCmdline::parse("16M@0x60000000"),
        CmaCmdline { size: 16 * SZ_1M, base: 0x6000_0000, limit: 0x6100_0000 }
    );
    // '@' and '-': a window.
    assert_eq!(
        CmaCmdline::parse("16m@1G-0x50000000"),
        CmaCmdline { size: 16 * SZ_1M, base: SZ_1G, limit: 0x5000_0000 }
    );
    // memparse stops at the first character it cannot read; anything but '@' after the
    // size ends early_cma there.
    assert_eq!(CmaCmdline::parse("0"), CmaCmdline::default());
    assert_eq!(CmaCmdline::parse("8MB@0x40000000"), CmaCmdline { size: 8 * SZ_1M, base: 0, limit: 0 });
    assert_eq!(CmaCmdline::parse("junk"), CmaCmdline::default());
}

#[test]
fn default_area_is_64_mib_top_down_below_the_dma_limit() {
    // Free RAM ends at 2 GiB - 3 MiB = 0x7fd00000; 64 MiB below that, aligned down to 2 MiB:
    // 0x7fd00000 - 0x4000000 = 0x7bd00000 -> 0x7bc00000.
    let mut mb = one_gig();
    let mut areas = CmaAreas::default();
    let a = areas.dma_contiguous_reserve(&mut mb, 2 * SZ_1G, None, CMA_SIZE_MBYTES * SZ_1M).unwrap();
    assert_eq!(a, CmaArea { base: PhysAddr(0x7bc0_0000), size: 64 * SZ_1M });
    assert!(mb.is_region_reserved(a.base, a.size));
    assert_eq!(areas.total_pages(), 64 * SZ_1M / PAGE_SIZE);
}

#[test]
fn the_dma_limit_bounds_the_default_area_when_ram_passes_4_gib() {
    // 6 GiB from 1 GiB: memory ends at 7 GiB >= 4 GiB + 64 MiB, so 6.1 first tries bottom-up
    // in [4 GiB, limit); the DMA limit is 4 GiB, an empty window. Then top-down below 4 GiB:
    // 0x1_0000_0000 - 64 MiB = 0xfc000000.
    let mut mb = Memblock::new();
    mb.add(PhysAddr(SZ_1G), 6 * SZ_1G).unwrap();
    let mut areas = CmaAreas::default();
    let a = areas.dma_contiguous_reserve(&mut mb, 4 * SZ_1G, None, 64 * SZ_1M).unwrap();
    assert_eq!(a.base, PhysAddr(0xfc00_0000));
    assert!(!mb.bottom_up(), "the bottom-up attempt is undone");
    // With no limit at all, the bottom-up attempt from 4 GiB succeeds.
    let mut areas = CmaAreas::default();
    let b = areas.dma_contiguous_reserve(&mut mb, 0, None, 64 * SZ_1M).unwrap();
    assert_eq!(b.base, PhysAddr(4 * SZ_1G));
}

#[test]
fn cma_zero_reserves_nothing_and_sizes_round_up_to_a_pageblock() {
    let mut mb = one_gig();
    let before = mb.reserved_size();
    let mut areas = CmaAreas::default();
    assert_eq!(areas.dma_contiguous_reserve(&mut mb, 2 * SZ_1G, Some(CmaCmdline::parse("0")), 64 * SZ_1M), None);
    assert_eq!((mb.reserved_size(), areas.total_pages()), (before, 0));
    // cma=1M: aligned up to 2 MiB, below 0x7fd00000 -> 0x7fb00000 - aligned 0x7fa00000.
    let a = areas.dma_contiguous_reserve(&mut mb, 2 * SZ_1G, Some(CmaCmdline::parse("1M")), 0).unwrap();
    assert_eq!(a, CmaArea { base: PhysAddr(0x7fa0_0000), size: 2 * SZ_1M });
}

#[test]
fn a_fixed_area_is_reserved_exactly_or_refused() {
    let mut mb = one_gig();
    let mut areas = CmaAreas::default();
    // cma=16M@0x60000000: limit = base + size, so fixed.
    let a = areas.dma_contiguous_reserve(&mut mb, 2 * SZ_1G, Some(CmaCmdline::parse("16M@0x60000000")), 0).unwrap();
    assert_eq!(a, CmaArea { base: PhysAddr(0x6000_0000), size: 16 * SZ_1M });
    // The same range again overlaps a reservation: -EBUSY, nothing added.
    let before = mb.reserved_size();
    let e = areas.declare_contiguous_nid(&mut mb, 0x6000_0000, 16 * SZ_1M, 0x6100_0000, 0, true, CmaName::new("test", None), NUMA_NO_NODE);
    assert_eq!(e, Err(CmaError::Busy));
    assert_eq!(mb.reserved_size(), before);
    // Off the 2 MiB alignment.
    let e = areas.declare_contiguous_nid(&mut mb, 0x6210_0000, 16 * SZ_1M, 0x6310_0000, 0, true, CmaName::new("test", None), NUMA_NO_NODE);
    assert_eq!(e, Err(CmaError::Inval));
    // Across the end of DRAM (arm64's low/high boundary): 0x7f000000 + 32 MiB > 0x80000000.
    let e = areas.declare_contiguous_nid(&mut mb, 0x7f00_0000, 32 * SZ_1M, 0x8100_0000, 0, true, CmaName::new("test", None), NUMA_NO_NODE);
    assert_eq!(e, Err(CmaError::Inval));
    assert_eq!(areas.iter().count(), 1);
}

#[test]
fn a_window_bounds_the_search_and_a_full_one_fails() {
    let mut mb = one_gig();
    let mut areas = CmaAreas::default();
    // cma=16M@0x40000000-0x50000000: not fixed (limit != base + size); top-down in the window.
    let c = CmaCmdline::parse("16M@0x40000000-0x50000000");
    let a = areas.dma_contiguous_reserve(&mut mb, 2 * SZ_1G, Some(c), 0).unwrap();
    assert_eq!(a.base, PhysAddr(0x4f00_0000));
    // Larger than the window: Size (..) of region .. exceeds limit: -EINVAL.
    let c = CmaCmdline::parse("512M@0x40000000-0x50000000");
    assert_eq!(areas.dma_contiguous_reserve(&mut mb, 2 * SZ_1G, Some(c), 0), None);
    // More than the free memory below the limit: -ENOMEM.
    let e = areas.declare_contiguous_nid(&mut mb, 0, SZ_1G, 0, 0, false, CmaName::new("test", None), NUMA_NO_NODE);
    assert_eq!(e, Err(CmaError::NoMemory));
    assert_eq!(areas.iter().count(), 1);
}

#[test]
fn an_alignment_must_be_a_power_of_two_and_raises_the_pageblock_one() {
    let mut mb = one_gig();
    let mut areas = CmaAreas::default();
    // 3 MiB is not a power of two: -EINVAL before anything is reserved.
    let before = mb.reserved_size();
    let e = areas.declare_contiguous_nid(&mut mb, 0, 2 * SZ_1M, 0, 3 * SZ_1M, false, CmaName::new("test", None), NUMA_NO_NODE);
    assert_eq!((e, mb.reserved_size()), (Err(CmaError::Inval), before));
    // 4 MiB is; the size rounds up to it too (ALIGN(size, alignment)): 4 MiB top-down below
    // the free end 0x7fd00000: 0x7fd00000 - 0x400000 = 0x7f900000, aligned down to 4 MiB ->
    // 0x7f800000 (with the default 2 MiB alignment, 2 MiB would go at 0x7fb00000).
    let a = areas.declare_contiguous_nid(&mut mb, 0, 2 * SZ_1M, 0, 4 * SZ_1M, false, CmaName::new("test", None), NUMA_NO_NODE).unwrap();
    assert_eq!(a, CmaArea { base: PhysAddr(0x7f80_0000), size: 4 * SZ_1M });
}

#[test]
fn slots_run_out_at_max_cma_areas() {
    let mut mb = one_gig();
    let mut areas = CmaAreas::default();
    for _ in 0..MAX_CMA_AREAS {
        areas.declare_contiguous_nid(&mut mb, 0, 2 * SZ_1M, 0, 0, false, CmaName::new("test", None), NUMA_NO_NODE).unwrap();
    }
    let e = areas.declare_contiguous_nid(&mut mb, 0, 2 * SZ_1M, 0, 0, false, CmaName::new("test", None), NUMA_NO_NODE);
    assert_eq!(e, Err(CmaError::NoSlots));
}

/// The failures of cma= say what Linux 6.1's cma_declare_contiguous_nid says (mm/cma.c,
/// pr_fmt "cma: ", %pa as 0x and 16 hex digits), then "Failed to reserve %ld MiB" with the
/// size after rounding to the alignment (2 MiB here, CMA_MIN_ALIGNMENT_BYTES).
#[test]
fn failures_are_worded_as_linux_words_them() {
    let said = |base: u64, size: u64, limit: u64, fixed: bool| {
        let mut mb = one_gig();
        let mut areas = CmaAreas::default();
        crate::testlog::capture(|| areas.declare_contiguous_nid(&mut mb, base, size, limit, 0, fixed, CmaName::new("test", None), NUMA_NO_NODE)).1
    };
    // A fixed base off the 2 MiB alignment: refused before rounding, the size as given.
    assert_eq!(
        said(0x6210_0000, 16 * SZ_1M, 0x6310_0000, true),
        ["cma: Region at 0x0000000062100000 must be aligned to 0x0000000000200000 bytes", "cma: Failed to reserve 16 MiB"]
    );
    // A fixed area across the end of DRAM (arm64's highmem_start): 0x7f000000 + 32 MiB.
    assert_eq!(
        said(0x7f00_0000, 32 * SZ_1M, 0x8100_0000, true),
        [
            "cma: Region at 0x000000007f000000 defined on low/high memory boundary (0x0000000080000000)",
            "cma: Failed to reserve 32 MiB",
        ]
    );
    // cma=4G on 1 GiB (the cma-too-large scenario's log): the limit is memblock's end.
    assert_eq!(
        said(0, 4 * SZ_1G, 0, false),
        ["cma: Size (0x0000000100000000) of region at 0x0000000000000000 exceeds limit (0x0000000080000000)", "cma: Failed to reserve 4096 MiB"]
    );
    // 3 MiB rounds up to 4 MiB; a fixed range already reserved (the top 3 MiB): -EBUSY says
    // only the second line.
    assert_eq!(said(0x7fc0_0000, 3 * SZ_1M, 0x8000_0000, true), ["cma: Failed to reserve 4 MiB"]);
    // A bare `cma` on the command line: early_cma's own line, then do_early_param's.
    let mut lines = Vec::new();
    crate::cmdline::EarlyParams::parse("cma", &mut |l| lines.push(std::string::ToString::to_string(&l)));
    assert_eq!(lines, ["cma: Config string not provided", "Malformed early option 'cma'"]);
}

/// cma_pernuma=: an area on each online node, on that node (top-down within it), in node
/// order; none for 0; a node too small for it is said and skipped (after
/// cma_declare_contiguous_nid's own line), with Linux's errno.
#[test]
fn an_area_per_node() {
    let mut mb = Box::new(Memblock::new());
    mb.add(PhysAddr(0x4000_0000), 0x8000_0000).unwrap();
    mb.set_node(PhysAddr(0x4000_0000), 0x4000_0000, crate::mm::memblock::MemblockKind::Memory, 0).unwrap();
    mb.set_node(PhysAddr(0x8000_0000), 0x4000_0000, crate::mm::memblock::MemblockKind::Memory, 1).unwrap();
    let mut areas = CmaAreas::default();
    let (_, lines) = crate::testlog::capture(|| areas.dma_pernuma_cma_reserve(&mut mb, 16 << 20, [0, 1].into_iter()));
    assert_eq!(lines, ["cma: Reserved 16 MiB at 0x000000007f000000", "cma: Reserved 16 MiB at 0x00000000bf000000"]
        .iter().flat_map(|l| [String::from(*l), std::format!("cma: dma_pernuma_cma_reserve: reserved 16 MiB on node {}", if l.contains("7f") { 0 } else { 1 })])
        .collect::<Vec<_>>());
    assert_eq!(areas.total_pages(), 2 * 4096);

    let mut none = CmaAreas::default();
    let (_, lines) = crate::testlog::capture(|| none.dma_pernuma_cma_reserve(&mut mb, 0, [0, 1].into_iter()));
    assert_eq!((lines.len(), none.total_pages()), (0, 0));

    let (_, lines) = crate::testlog::capture(|| areas.dma_pernuma_cma_reserve(&mut mb, 2 << 30, [1].into_iter()));
    assert_eq!(lines, ["cma: Failed to reserve 2048 MiB", "cma: dma_pernuma_cma_reserve: reservation failed: err -12, node 1"]);
}

/// cmdline_parse_hugetlb_cma's forms, read as 6.1 reads them.
#[test]
fn hugetlb_cma_values() {
    let node = |pairs: &[(usize, u64)]| {
        let mut h = HugetlbCma::default();
        for &(n, s) in pairs {
            h.in_node[n] = s;
            h.size += s;
        }
        h
    };
    assert_eq!(HugetlbCma::parse("2G"), HugetlbCma { size: 2 << 30, ..Default::default() });
    assert_eq!(HugetlbCma::parse("0:1G,1:2G"), node(&[(0, 1 << 30), (1, 2 << 30)]));
    // A node past MAX_NUMNODES ends the list; anything but ',' after a size too.
    assert_eq!(HugetlbCma::parse("0:1G,16:1G"), node(&[(0, 1 << 30)]));
    assert_eq!(HugetlbCma::parse("0:1G;1:1G"), node(&[(0, 1 << 30)]));
    // A bare number after node entries makes the whole value one total, from its start: "0:..."
    // reads as 0.
    assert_eq!(HugetlbCma::parse("0:1G,2G"), HugetlbCma { size: 0, in_node: node(&[(0, 1 << 30)]).in_node });
    assert_eq!(HugetlbCma::parse("x"), HugetlbCma::default());
    // sscanf's %lu skips spaces before the node (a quoted `" 0:1G"`, which Debian's 6.1
    // reserves on node 0) and reads no sign; memparse for a total skips nothing (" 1G" is 0).
    assert_eq!(HugetlbCma::parse(" 0:1G, 1:2G"), node(&[(0, 1 << 30), (1, 2 << 30)]));
    assert_eq!(HugetlbCma::parse("+0:1G"), HugetlbCma::default());
    assert_eq!(HugetlbCma::parse(" 1G"), HugetlbCma::default());
    // A node number past 2^64 wraps as simple_strntoull's does: 2^64 + 1 is node 1.
    assert_eq!(HugetlbCma::parse("18446744073709551617:1G"), node(&[(1, 1 << 30)]));
}

/// hugetlb_cma_reserve on two nodes of 2 GiB (1 GiB gigantic pages): the total spread in whole
/// gigantic pages, node by node until reserved; per-node sizes as given; too small or offline
/// nodes said and dropped.
#[test]
fn hugetlb_cma_per_node() {
    let setup = || {
        let mut mb = Box::new(Memblock::new());
        mb.add(PhysAddr(0x4000_0000), 0x1_0000_0000).unwrap();
        mb.set_node(PhysAddr(0x4000_0000), 0x8000_0000, crate::mm::memblock::MemblockKind::Memory, 0).unwrap();
        mb.set_node(PhysAddr(0xc000_0000), 0x8000_0000, crate::mm::memblock::MemblockKind::Memory, 1).unwrap();
        mb
    };
    let mut online = crate::mm::numa::NodeMask::default();
    online.set(0);
    online.set(1);
    let run = |ask: &str| {
        let mut mb = setup();
        let mut areas = CmaAreas::default();
        let lines = crate::testlog::capture(|| areas.hugetlb_cma_reserve(&mut mb, &HugetlbCma::parse(ask), online, 1 << 30)).1;
        (lines, areas.total_pages() * 4096)
    };
    // 1500M: 750M per node, rounded up to 1 GiB (and said so); 1024M < 1500M, so node 1
    // gets min(1024M, 476M) rounded up to 1 GiB too (6.1 rounds each node's share, not the
    // total). Memory reaches 4 GiB + 1 GiB, so each search is bottom-up from 4 GiB first, on
    // the node: node 0 ([1 GiB, 3 GiB)) has nothing there and gets the top of its memory;
    // node 1 ([3 GiB, 5 GiB)) gets 4 GiB.
    let (lines, bytes) = run("1500M");
    assert_eq!(
        lines,
        [
            "hugetlb_cma: reserve 1500 MiB, up to 1024 MiB per node",
            "cma: Reserved 1024 MiB at 0x0000000080000000",
            "hugetlb_cma: reserved 1024 MiB on node 0",
            "cma: Reserved 1024 MiB at 0x0000000100000000",
            "hugetlb_cma: reserved 1024 MiB on node 1",
        ]
    );
    assert_eq!(bytes, 2 << 30);
    let (lines, bytes) = run("0:512M,1:1G,5:1G");
    assert_eq!(
        lines,
        [
            "hugetlb_cma: cma area of node 0 should be at least 1024 MiB",
            "hugetlb_cma: invalid node 5 specified",
            "cma: Reserved 1024 MiB at 0x0000000100000000",
            "hugetlb_cma: reserved 1024 MiB on node 1",
        ]
    );
    assert_eq!(bytes, 1 << 30);
    assert_eq!(run("512M").0, ["hugetlb_cma: cma area should be at least 1024 MiB"]);
    // 2^64 - 1 bytes: Linux's round_up wraps the share to 0, which cma_declare_contiguous_nid
    // refuses (-EINVAL) on each node; nothing is reserved, nothing panics.
    let (lines, bytes) = run("18446744073709551615");
    assert_eq!(lines.last().map(String::as_str), Some("hugetlb_cma: reservation failed: err -22, node 1"));
    assert_eq!(bytes, 0);
}
