//! Host tests of the zone accounting. Every expected value is worked out from Linux 6.1's
//! rules in the comment next to it.

use super::*;
use crate::mm::memblock::{Memblock, MemblockKind};
use crate::mm::params::MemoryParams;
use core::fmt;
use crate::mm::numa::NodeMask;
use crate::mm::PhysAddr;
use std::string::{String, ToString};
use std::vec::Vec;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Linux 6.1 arm64 with 4 KiB pages and 48-bit VAs (what the library's `arm64::ARM64_4K_48` says;
/// `mm` is handed the value and never imports it). Only `zone_dma32_bits` matters here:
/// arm64's `zone_sizes_init` caps `zone_dma_bits` at 32 and sizes ZONE_DMA32 with 32 bits.
pub(crate) const ARM64: MemoryParams = MemoryParams {
    phys_mask_shift: 48,
    memstart_align: GIB,
    linear_region_size: 1 << 47,
    zone_dma32_bits: 32,
    fixmap_console: 0xffff_fbff_fdc0_0000,
    fixmap_fdt: 0xffff_fbff_fde0_0000,
};

fn mb() -> Box<Memblock> {
    Box::new(Memblock::new())
}

/// A memblock with `(base, size, nid)` memory regions.
fn memory(regions: &[(u64, u64, i32)]) -> Box<Memblock> {
    let mut m = mb();
    for &(base, size, nid) in regions {
        m.add(PhysAddr(base), size).unwrap();
        m.set_node(PhysAddr(base), size, MemblockKind::Memory, nid).unwrap();
    }
    m
}

fn collect(f: impl FnOnce(&mut dyn FnMut(fmt::Arguments<'_>))) -> Vec<String> {
    let mut v = Vec::new();
    f(&mut |a| v.push(a.to_string()));
    v
}

/// Runs zone_sizes_init + free_area_init without dma-ranges; returns lines and result.
fn boot(m: &Memblock) -> (Vec<String>, NodeZones) {
    let limits = arm64_zone_limits(m, &ARM64, None);
    let mut nz = None;
    let lines = collect(|out| nz = Some(free_area_init(m, &limits, NodeMask::default(), out, &mut |_| {})));
    (lines, nz.unwrap())
}

fn zonelists(nz: &NodeZones) -> (Vec<String>, u64) {
    let mut total = 0;
    let lines = collect(|out| total = build_all_zonelists(nz, &default_distance, out));
    (lines, total)
}

/// The expected lines of one QEMU scenario, shared with `cargo xtask test` (see
/// `kernel/testdata/zones/README.md`): every line that is not a `#` comment.
fn expected(file: &str) -> Vec<&str> {
    file.lines().filter(|l| !l.starts_with('#')).collect()
}

/// free_area_init's lines, then build_all_zonelists', as the boot prints them (with other
/// lines between the two groups); the zones and `vm_total_pages`.
fn boot_and_zonelists(m: &Memblock) -> (Vec<String>, NodeZones, u64) {
    let (mut lines, nz) = boot(m);
    let (zl, total) = zonelists(&nz);
    lines.extend(zl);
    (lines, nz, total)
}

const ZONES_1G: &str = include_str!("../../../testdata/zones/zones-1G.txt");
const ZONES_6G: &str = include_str!("../../../testdata/zones/zones-6G.txt");
const ZONES_MEM_LIMIT: &str = include_str!("../../../testdata/zones/zones-mem-limit.txt");
const ZONES_NUMA_2: &str = include_str!("../../../testdata/zones/zones-numa-2.txt");
const ZONES_HOLE: &str = include_str!("../../../testdata/zones/zones-hole.txt");

#[test]
fn qemu_virt_1g() {
    // -m 1G: RAM [1 GiB, 2 GiB). No dma-ranges: zone_dma_bits = min(32, 64, 64) = 32.
    // max_zone_phys(32): DRAM starts at 0x4000_0000, neither above 4 GiB nor above the
    // 32-bit mask, so the mask stays 0xffff_ffff; min(mask, 0x7fff_ffff) + 1 = 0x8000_0000
    // for DMA and DMA32 alike; Normal is max_pfn = 0x80000.
    let m = memory(&[(GIB, GIB, 0)]);
    let limits = arm64_zone_limits(&m, &ARM64, None);
    assert_eq!(limits, ZoneLimits { dma: 0x80000, dma32: 0x80000, normal: 0x80000, dma_phys_limit: 0x8000_0000, movable: Default::default() });

    // The lines and their derivation: testdata/zones/zones-1G.txt.
    let (lines, nz, total) = boot_and_zonelists(&m);
    assert_eq!(lines, expected(ZONES_1G));
    // 0x40000 = 262144 pages spanned and present; memmap 262144 * 64 / 4096 = 4096 pages;
    // managed 258048, the "Total pages" of a Linux 6.1 arm64 guest with 1 GiB.
    let dma = nz.nodes[0].zones[ZONE_DMA];
    assert_eq!(
        dma,
        ZoneInfo {
            zone_start_pfn: 0x40000,
            spanned_pages: 262144,
            present_pages: 262144,
            memmap_pages: 4096,
            managed_pages: 258048,
            unavailable_pages: 0
        }
    );
    assert_eq!(nz.num_physpages(), 262144);
    assert_eq!(nz.nr_online_nodes(), 1);
    assert_eq!(total, 258048);
}

#[test]
fn memory_without_a_node_is_node_0() {
    // Without a NUMA step the regions keep nid MAX_NUMNODES; they count as node 0.
    let mut m = mb();
    m.add(PhysAddr(GIB), GIB).unwrap();
    let (lines, nz) = boot(&m);
    assert_eq!(lines[6], "  node   0: [mem 0x0000000040000000-0x000000007fffffff]");
    assert_eq!(nz.zonelist_total_pages(), 258048);
}

#[test]
fn qemu_virt_6g() {
    // -m 6G: RAM [1 GiB, 7 GiB). The lines and their derivation: testdata/zones/zones-6G.txt.
    let m = memory(&[(GIB, 6 * GIB, 0)]);
    let (lines, nz, total) = boot_and_zonelists(&m);
    assert_eq!(lines, expected(ZONES_6G));
    // Each zone spans 3 GiB = 786432 pages, all present; memmap 786432 / 64 = 12288;
    // managed 774144 each, 1548288 in all; physpages 6 GiB = 1572864.
    let z = nz.nodes[0].zones;
    assert_eq!((z[ZONE_DMA].zone_start_pfn, z[ZONE_DMA].spanned_pages), (0x40000, 786432));
    assert_eq!((z[ZONE_NORMAL].zone_start_pfn, z[ZONE_NORMAL].spanned_pages), (0x100000, 786432));
    assert_eq!(z[ZONE_DMA32], ZoneInfo::default());
    assert_eq!(z[ZONE_NORMAL].managed_pages, 774144);
    assert_eq!(nz.zonelist_total_pages(), 1548288);
    assert_eq!(total, 1548288);
    assert_eq!(nz.num_physpages(), 1572864);
    assert_eq!(nz.policy_zone(), ZONE_NORMAL);
}

#[test]
fn qemu_virt_mem_limit() {
    // -m 1G with mem=512M: what memblock holds after mem_limit_remove_map.
    let m = memory(&[(GIB, GIB / 2, 0)]);
    let (lines, nz, _) = boot_and_zonelists(&m);
    assert_eq!(lines, expected(ZONES_MEM_LIMIT));
    // 0x20000 = 131072 pages present, in DMA.
    assert_eq!(nz.num_physpages(), 131072);
}

#[test]
fn qemu_virt_numa_2() {
    // -m 1G in two QEMU NUMA nodes of 512 MiB each.
    let m = memory(&[(GIB, GIB / 2, 0), (GIB + GIB / 2, GIB / 2, 1)]);
    let (lines, nz, _) = boot_and_zonelists(&m);
    assert_eq!(lines, expected(ZONES_NUMA_2));
    // Each node's DMA is the zone clipped to the node: 131072 pages, 2048 of memmap.
    for (nid, start) in [(0, 0x40000), (1, 0x60000)] {
        let dma = nz.nodes[nid].zones[ZONE_DMA];
        assert_eq!((dma.zone_start_pfn, dma.spanned_pages, dma.managed_pages), (start, 131072, 129024));
    }
}

#[test]
fn qemu_virt_hole() {
    // -m 1G with /chosen/linux,usable-memory-range leaving out [0x5000_0000, 0x5040_0000).
    let m = memory(&[(GIB, 0x1000_0000, 0), (0x5040_0000, 0x8000_0000 - 0x5040_0000, 0)]);
    let (lines, nz, _) = boot_and_zonelists(&m);
    assert_eq!(lines, expected(ZONES_HOLE));
    // 0x400 pages of hole, all counted unavailable; present 262144 - 1024.
    let dma = nz.nodes[0].zones[ZONE_DMA];
    assert_eq!((dma.spanned_pages, dma.present_pages, dma.unavailable_pages), (262144, 261120, 1024));
}

#[test]
fn nomap_region_is_its_own_node_range() {
    // 1 GiB with 2 MiB at 0x5000_0000 marked NOMAP: memblock splits memory into three
    // regions, and the node-range walk prints each. NOMAP memory still counts as present,
    // so the zone figures equal the plain 1 GiB case (262144 present, 258048 managed).
    let mut m = memory(&[(GIB, GIB, 0)]);
    m.mark_nomap(PhysAddr(0x5000_0000), 2 * MIB).unwrap();
    let (lines, nz) = boot(&m);
    assert_eq!(
        lines[5..],
        [
            "Early memory node ranges",
            "  node   0: [mem 0x0000000040000000-0x000000004fffffff]",
            "  node   0: [mem 0x0000000050000000-0x00000000501fffff]",
            "  node   0: [mem 0x0000000050200000-0x000000007fffffff]",
            "Initmem setup node 0 [mem 0x0000000040000000-0x000000007fffffff]",
        ]
    );
    assert_eq!(nz.nodes[0].zones[ZONE_DMA].present_pages, 262144);
    assert_eq!(nz.zonelist_total_pages(), 258048);
    // memblock_free_all frees no NOMAP page: 262144 - 512.
    assert_eq!(memblock_free_all_pages(&m, 0x80000), 261632);
}

#[test]
fn holes_inside_a_section_and_at_the_end() {
    // RAM [0x4000_0000, 0x4800_0000) and [0x4810_0000, 0x7ff0_0000): a 1 MiB hole at pfn
    // 0x48000..0x48100, in section 9 (0x48000..0x50000) which holds memory, so all 256 pages
    // count; and memory ends at pfn 0x7ff00, 256 pages short of the section end 0x80000,
    // which memmap_init counts after the last range, in the last range's highest zone.
    let m = memory(&[(GIB, 0x800_0000, 0), (0x4810_0000, 0x7ff0_0000 - 0x4810_0000, 0)]);
    let (lines, nz) = boot(&m);
    assert_eq!(
        lines,
        [
            "Zone ranges:",
            "  DMA      [mem 0x0000000040000000-0x000000007fefffff]",
            "  DMA32    empty",
            "  Normal   empty",
            "Movable zone start for each node",
            "Early memory node ranges",
            "  node   0: [mem 0x0000000040000000-0x0000000047ffffff]",
            "  node   0: [mem 0x0000000048100000-0x000000007fefffff]",
            "Initmem setup node 0 [mem 0x0000000040000000-0x000000007fefffff]",
            "On node 0, zone DMA: 256 pages in unavailable ranges",
            "On node 0, zone DMA: 256 pages in unavailable ranges",
        ]
    );
    // Spanned 0x7ff00 - 0x40000 = 261888, present 261888 - 256 = 261632. The span exceeds
    // present by 256, not by more than present / 16, so the memmap covers the span:
    // 261888 * 64 / 4096 = 4092 pages; managed 261632 - 4092 = 257540.
    let dma = nz.nodes[0].zones[ZONE_DMA];
    assert_eq!((dma.spanned_pages, dma.present_pages, dma.memmap_pages), (261888, 261632, 4092));
    assert_eq!(dma.managed_pages, 257540);
    assert_eq!(dma.unavailable_pages, 512);
}

#[test]
fn a_hole_across_a_zone_boundary_is_one_range_of_the_higher_zone() {
    // RAM [0x4000_0000, 0xfff0_0000) and [0x1_0010_0000, 0x1_4000_0000): the hole is pfn
    // 0xfff00..0x100100, across DMA's end at 4 GiB (pfn 0x100000). Linux's memmap_init walks
    // each memory range over every populated zone: the first range clipped to Normal is empty
    // (start == end), which memmap_init_zone_range skips without touching hole_pfn, so the
    // whole hole is initialised once, when the second range reaches Normal: one call for
    // 0xfff00..0x100100, in zone Normal, 256 + 256 pages (both sections hold memory).
    let m = memory(&[(GIB, 0xfff0_0000 - GIB, 0), (0x1_0010_0000, 0x1_4000_0000 - 0x1_0010_0000, 0)]);
    let (lines, _) = boot(&m);
    let unavailable: Vec<&String> = lines.iter().filter(|l| l.contains("unavailable")).collect();
    assert_eq!(unavailable, ["On node 0, zone Normal: 512 pages in unavailable ranges"], "{lines:#?}");
}

#[test]
fn hole_over_an_empty_section_counts_only_the_populated_one() {
    // RAM [0x4000_0000, 0x4800_0000) and [0x5010_0000, 0x8000_0000): the hole is pfn
    // 0x48000..0x50100. Section 9 (0x48000..0x50000) holds no memory and is skipped
    // pageblock by pageblock; section 10 holds the second region, so 0x50000..0x50100 =
    // 256 pages count.
    let m = memory(&[(GIB, 0x800_0000, 0), (0x5010_0000, 0x8000_0000 - 0x5010_0000, 0)]);
    let (lines, nz) = boot(&m);
    assert_eq!(lines[9..], ["On node 0, zone DMA: 256 pages in unavailable ranges"]);
    // Spanned 262144, present 262144 - 0x8100 (33024) = 229120; 229120 + 229120/16 =
    // 243440 < 262144, so the memmap is charged for present pages only: 229120 / 64 = 3580.
    let dma = nz.nodes[0].zones[ZONE_DMA];
    assert_eq!((dma.spanned_pages, dma.present_pages, dma.memmap_pages), (262144, 229120, 3580));
    assert_eq!(dma.managed_pages, 229120 - 3580);
}

#[test]
fn two_numa_nodes() {
    // Node 0: [1 GiB, 2 GiB); node 1: [0x8010_0000, 3 GiB). DMA reaches min(4 GiB - 1,
    // 3 GiB - 1) + 1 = 3 GiB; DMA32 and Normal empty.
    let m = memory(&[(GIB, GIB, 0), (0x8010_0000, 0xc000_0000 - 0x8010_0000, 1)]);
    let (lines, nz) = boot(&m);
    // Both "Initmem setup" lines come before memmap_init's: the 1 MiB gap between the nodes
    // (pfn 0x80000..0x80100, in section 16 which holds node 1's memory) is charged to the
    // zone where the next memory starts: node 1's DMA.
    assert_eq!(
        lines,
        [
            "Zone ranges:",
            "  DMA      [mem 0x0000000040000000-0x00000000bfffffff]",
            "  DMA32    empty",
            "  Normal   empty",
            "Movable zone start for each node",
            "Early memory node ranges",
            "  node   0: [mem 0x0000000040000000-0x000000007fffffff]",
            "  node   1: [mem 0x0000000080100000-0x00000000bfffffff]",
            "Initmem setup node 0 [mem 0x0000000040000000-0x000000007fffffff]",
            "Initmem setup node 1 [mem 0x0000000080100000-0x00000000bfffffff]",
            "On node 1, zone DMA: 256 pages in unavailable ranges",
        ]
    );
    // Node 0's DMA: 262144 pages, managed 258048. Node 1's DMA is clipped to the node:
    // [0x80100, 0xc0000) = 261888 pages, all present, memmap 4092, managed 257796.
    let n1 = nz.nodes[1].zones[ZONE_DMA];
    assert_eq!((n1.zone_start_pfn, n1.spanned_pages, n1.managed_pages), (0x80100, 261888, 257796));
    assert_eq!(nz.nodes[0].zones[ZONE_DMA].managed_pages, 258048);
    assert_eq!(nz.num_physpages(), 262144 + 261888);
    // With LOCAL 10 / REMOTE 20 each node falls back to itself, then the other.
    let (lines, total) = zonelists(&nz);
    assert_eq!(total, 258048 + 257796);
    assert_eq!(
        lines,
        [
            "Fallback order for Node 0: 0 1 ",
            "Fallback order for Node 1: 1 0 ",
            "Built 2 zonelists, mobility grouping on.  Total pages: 515844",
            "Policy zone: DMA",
        ]
    );
}

#[test]
fn three_node_fallback_order() {
    // Equal remote distances. Node 0: nodes 1 and 2 tie at (20 + 0) * 16; the lower id wins,
    // and node 1, first of the remote group, takes a load of 1: "0 1 2". Node 1: node 2
    // scores 320, node 0 (below 1) scores (20 + 1) * 16 = 336: "1 2 0", node 2 loaded.
    // Node 2: node 0 scores 336, node 1 336 + 1: "2 0 1".
    let m = memory(&[(GIB, GIB, 0), (2 * GIB, GIB, 1), (3 * GIB, GIB, 2)]);
    let (_, nz) = boot(&m);
    let (lines, _) = zonelists(&nz);
    assert_eq!(lines[..3], ["Fallback order for Node 0: 0 1 2 ", "Fallback order for Node 1: 1 2 0 ", "Fallback order for Node 2: 2 0 1 "]);
}

#[test]
fn zone_limits_follow_max_zone_phys() {
    // dma-ranges ending at 0x3fff_ffff: fls64 = 30, zone_dma_bits = 30.
    // RAM from 0 to 4 GiB: DMA's mask 0x3fff_ffff applies: DMA [0, 1 GiB), DMA32
    // [1 GiB, 4 GiB).
    let m = memory(&[(0, 4 * GIB, 0)]);
    let l = arm64_zone_limits(&m, &ARM64, Some(0x3fff_ffff));
    assert_eq!((l.dma, l.dma32, l.normal, l.dma_phys_limit), (0x40000, 0x100000, 0x100000, GIB));
    let mut lines = Vec::new();
    free_area_init(&m, &l, NodeMask::default(), &mut |a| lines.push(a.to_string()), &mut |_| {});
    assert_eq!(
        lines[1..4],
        [
            "  DMA      [mem 0x0000000000000000-0x000000003fffffff]",
            "  DMA32    [mem 0x0000000040000000-0x00000000ffffffff]",
            "  Normal   empty",
        ]
    );
    // The same limit on QEMU virt: DRAM starts at 1 GiB, above the 30-bit mask, so the
    // mask becomes 4 GiB - 1 and DMA again ends with the 1 GiB of RAM at 2 GiB.
    let m = memory(&[(GIB, GIB, 0)]);
    assert_eq!(arm64_zone_limits(&m, &ARM64, Some(0x3fff_ffff)).dma, 0x80000);
    // DRAM starting above 4 GiB: the mask is PHYS_ADDR_MAX and DMA takes everything.
    let m = memory(&[(0x8_0000_0000, GIB, 0)]);
    let l = arm64_zone_limits(&m, &ARM64, None);
    assert_eq!((l.dma, l.dma32, l.normal), (0x840000, 0x840000, 0x840000));
}

#[test]
fn memmap_size_rule() {
    // No holes: the span, 64 bytes per page, rounded up to pages.
    assert_eq!(memmap_pages(262144, 262144), 4096);
    assert_eq!(memmap_pages(1, 1), 1);
    assert_eq!(memmap_pages(0, 0), 0);
    // 1700 > 1000 + 62: present pages only: 1000 * 64 = 64000 B -> 16 pages.
    assert_eq!(memmap_pages(1700, 1000), 16);
    // 1062 is not > 1000 + 62: the span: 1062 * 64 = 67968 B -> 17 pages.
    assert_eq!(memmap_pages(1062, 1000), 17);
}

#[test]
fn small_memory_turns_mobility_grouping_off() {
    // Below 512 pages per pageblock * 6 migrate types = 3072 pages grouping is off.
    let lines = collect(|out| fmt_zonelists(1, 3071, None, out));
    assert_eq!(lines, ["Built 1 zonelists, mobility grouping off.  Total pages: 3071"]);
    let lines = collect(|out| fmt_zonelists(1, 3072, Some(ZONE_DMA32), out));
    assert_eq!(lines, ["Built 1 zonelists, mobility grouping on.  Total pages: 3072", "Policy zone: DMA32"]);
}

#[test]
fn free_all_counts_whole_free_pages() {
    // 1 GiB with [0x4020_0000, 0x4030_0800) reserved: free [0x4000_0000, 0x4020_0000) =
    // 512 pages, and [0x4030_0800, 0x8000_0000) from pfn_up = 0x40301 to 0x80000 =
    // 0x3fcff = 261375 pages; 261887 in all. A max_low_pfn of 0x60000 cuts the second
    // range to 0x60000 - 0x40301 = 130303 pages.
    let mut m = memory(&[(GIB, GIB, 0)]);
    m.reserve(PhysAddr(0x4020_0000), 0x10_0800).unwrap();
    assert_eq!(memblock_free_all_pages(&m, 0x80000), 261887);
    assert_eq!(memblock_free_all_pages(&m, 0x60000), 512 + 130303);
}

#[test]
fn memory_line_arm64_layout() {
    // An arm64-shaped image: rodata follows text, init text sits inside the init region,
    // rwdata and bss follow init; nothing lies inside text or rwdata.
    // code 0xb40000 B = 11520K; rodata 0x10b0000 B = 17088K; init region 0x3a0000 B, less
    // the 0xe0000 B of init text it holds, plus that init text back again = 3712K;
    // rwdata 0x1e0000 B = 1920K; bss 0x10d000 B = 1076K.
    // Pages: physpages 262144 (1048576K); free = totalram = 249211 (996844K); CMA 2048
    // (8192K); reserved 262144 - 249211 - 2048 = 10885 pages = 43540K.
    let s = KernelSections {
        text: (0x1_0000, 0xb5_0000),
        rodata: (0xb5_0000, 0x1c0_0000),
        init: (0x1c0_0000, 0x1fa_0000),
        inittext: (0x1c2_0000, 0x1d0_0000),
        rwdata: (0x1fa_0000, 0x218_0000),
        bss: (0x218_0000, 0x228_d000),
    };
    let c = MemCounts { physpages: 262144, nr_free_pages: 249211, totalram_pages: 249211, totalcma_pages: 2048 };
    let lines = collect(|out| fmt_mem_init_info(&c, &s, out));
    assert_eq!(
        lines,
        [
            "Memory: 996844K/1048576K available (11520K kernel code, 1920K rwdata, 17088K rodata, \
             3712K init, 1076K bss, 43540K reserved, 8192K cma-reserved)"
        ]
    );
}

#[test]
fn memory_line_overlap_adjustments() {
    // text [0, 0x100000) holds init text [0x10000, 0x14000) and rodata [0x80000, 0xa0000);
    // rwdata [0x200000, 0x300000) holds the init region [0x280000, 0x290000).
    // init text is not inside the init region: init data stays 0x10000.
    // code: 0x100000 - 0x4000 (init text) - 0x20000 (rodata) = 0xdc000 = 880K.
    // rwdata: 0x100000 - 0x10000 (init region) = 0xf0000 = 960K. rodata 128K.
    // init: 0x10000 + 0x4000 = 80K. bss 0x400 = 1K.
    // free 890 pages = 3560K of 1000 = 4000K; reserved 1000 - 900 - 0 = 100 pages = 400K.
    let s = KernelSections {
        text: (0, 0x10_0000),
        inittext: (0x1_0000, 0x1_4000),
        rodata: (0x8_0000, 0xa_0000),
        rwdata: (0x20_0000, 0x30_0000),
        init: (0x28_0000, 0x29_0000),
        bss: (0x30_0000, 0x30_0400),
    };
    let c = MemCounts { physpages: 1000, nr_free_pages: 890, totalram_pages: 900, totalcma_pages: 0 };
    let lines = collect(|out| fmt_mem_init_info(&c, &s, out));
    assert_eq!(
        lines,
        [
            "Memory: 3560K/4000K available (880K kernel code, 960K rwdata, 128K rodata, 80K init, \
             1K bss, 400K reserved, 0K cma-reserved)"
        ]
    );
}

/// Both channels of free_area_init in one list, debug lines marked with a leading `D`.
fn boot_with_debug(m: &Memblock) -> Vec<String> {
    let limits = arm64_zone_limits(m, &ARM64, None);
    let lines = core::cell::RefCell::new(Vec::new());
    free_area_init(m, &limits, NodeMask::default(), &mut |a| lines.borrow_mut().push(a.to_string()), &mut |a| {
        lines.borrow_mut().push(std::format!("D{a}"))
    });
    lines.into_inner()
}

/// The pr_debug lines of calculate_node_totalpages and free_area_init_core (seed 001's), in
/// Linux's place: after the node's "Initmem setup" line, zone by zone.
#[test]
fn zone_debug_lines_follow_initmem_setup() {
    // -m 1G: DMA spans and holds 262144 pages. Our memmap for it: one byte per frame,
    // 262144, and 8 bytes for each of sum_{o=0..10} 262144 / 2^o = 262144 * (2 - 1/1024) =
    // 524032 link entries, 4192256: 4454400 bytes, 1087.5 pages, rounded up to 1088.
    // Managed pages are Linux's 262144 - 4096 = 258048; zone_batchsize: 258048 >> 10 = 252
    // (under 256, 1 MiB of pages), / 4 = 63, 63 + 31 = 94, rounded down to 64, less 1: 63,
    // the seed's "LIFO batch:63".
    let lines = boot_with_debug(&memory(&[(GIB, GIB, 0)]));
    let at = lines.iter().position(|l| l.starts_with("Initmem setup node 0")).unwrap();
    assert_eq!(
        lines[at + 1..at + 5],
        [
            "DOn node 0 totalpages: 262144",
            "D  DMA zone: 1088 pages used for memmap",
            "D  DMA zone: 0 pages reserved",
            "D  DMA zone: 262144 pages, LIFO batch:63",
        ]
    );
    assert_eq!(lines.len(), at + 5, "nothing for the empty DMA32 and Normal: {lines:#?}");

    // -m 6G: DMA and Normal span 786432 pages each (3 GiB): our memmap 786432 + 8 *
    // 786432 * (2 - 1/1024) = 786432 + 12576768 = 13363200 bytes, 3262.5 pages: 3263.
    // Managed 786432 - 12288 = 774144; 774144 >> 10 = 756, capped at 256, / 4 = 64,
    // 64 + 32 = 96, rounded down to 64, less 1: 63. "pages reserved" is said for DMA only.
    let lines = boot_with_debug(&memory(&[(GIB, 6 * GIB, 0)]));
    let at = lines.iter().position(|l| l.starts_with("Initmem setup node 0")).unwrap();
    assert_eq!(
        lines[at + 1..],
        [
            "DOn node 0 totalpages: 1572864",
            "D  DMA zone: 3263 pages used for memmap",
            "D  DMA zone: 0 pages reserved",
            "D  DMA zone: 786432 pages, LIFO batch:63",
            "D  Normal zone: 3263 pages used for memmap",
            "D  Normal zone: 786432 pages, LIFO batch:63",
        ]
    );
}

/// free_area_init_core says "pages reserved" for a node's first zone only when that zone has
/// pages left (freesize > dma_reserve = 0): node 1 lies wholly above the 4 GiB DMA limit, so
/// its DMA zone is empty and it says nothing of it.
#[test]
fn an_empty_dma_zone_reserves_nothing() {
    // Node 0 [1 GiB, 2 GiB): as -m 1G above. Node 1 [4 GiB, 5 GiB): 262144 pages, all
    // Normal, the same memmap (1088 pages) and batch (63).
    let lines = boot_with_debug(&memory(&[(GIB, GIB, 0), (4 * GIB, GIB, 1)]));
    let at = lines.iter().position(|l| l.starts_with("Initmem setup node 1")).unwrap();
    assert_eq!(
        lines[at + 1..],
        [
            "DOn node 1 totalpages: 262144",
            "D  Normal zone: 1088 pages used for memmap",
            "D  Normal zone: 262144 pages, LIFO batch:63",
        ]
    );
}

/// Without a distance-map, arm64's numa_distance is LOCAL_DISTANCE (10) from a node to itself
/// and REMOTE_DISTANCE (20) to any other (include/linux/topology.h). The zonelists cannot tell
/// (every remote node is equally far either way), so it is read directly.
#[test]
fn default_distances_are_linuxs() {
    assert_eq!([(0, 0), (3, 3), (0, 1), (1, 0), (2, 15)].map(|(a, b)| default_distance(a, b)), [10, 10, 20, 20, 20]);
}

/// zone_batchsize at its edges: under 1024 managed pages the batch is 1, and 1 + 0 rounds to
/// 1, less 1: 0; 4096 pages: 4 / 4 = 1, likewise 0; 8192: 8 / 4 = 2, 2 + 1 = 3 → 2 - 1 = 1;
/// 1 GiB or more: capped at 256 / 4 = 64 → 63.
#[test]
fn zone_batchsize_is_linuxs() {
    assert_eq!([0, 1000, 4096, 8192, 262144, 1 << 30].map(zone_batchsize), [0, 0, 0, 1, 63, 63]);
}

/// kernelcore= / movablecore= / kernelcore=mirror on one node from 1 GiB, each booted on
/// Debian's Linux 6.1 in QEMU (-m as given): the "  Node 0:" line is Linux's, and so is the
/// policy zone (ZONE_NORMAL emptied into ZONE_MOVABLE leaves DMA the highest below it).
#[test]
fn zone_movable_starts_where_linux_puts_it() {
    let run = |gib_mb: u64, arg: &str| {
        let mut m = Memblock::new();
        m.add(PhysAddr(0x4000_0000), gib_mb << 20).unwrap();
        let mut limits = arm64_zone_limits(&m, &ARM64, None);
        let p = crate::cmdline::EarlyParams::parse(arg, &mut |_| {});
        limits.movable = p.movable;
        let mut nz = None;
        let lines = collect(|out| nz = Some(free_area_init(&m, &limits, NodeMask::default(), out, &mut |_| {})));
        let node: Vec<String> = lines.iter().filter(|l| l.starts_with("  Node ") || l.starts_with("This configuration")).cloned().collect();
        (node, nz.unwrap().policy_zone())
    };
    let start = |addr: u64| std::vec![std::format!("  Node 0: {addr:#018x}")];
    assert_eq!(run(4096, "kernelcore=1G"), (start(0x1_0000_0000), ZONE_DMA));
    assert_eq!(run(4096, "movablecore=1G"), (start(0x1_0000_0000), ZONE_DMA));
    assert_eq!(run(4096, "kernelcore=50%"), (start(0x1_0000_0000), ZONE_DMA));
    assert_eq!(run(2048, "kernelcore=512M"), (start(0x6000_0000), ZONE_DMA));
    assert_eq!(run(6144, "movablecore=30%"), (start(0x1_4cc0_0000), ZONE_NORMAL));
    // adjust_zone_range_for_zone_movable: ZONE_NORMAL ends where ZONE_MOVABLE starts, which
    // runs to the node's end; ZONE_DMA, below it, is untouched.
    let mut m = Memblock::new();
    m.add(PhysAddr(0x4000_0000), 6 << 30).unwrap();
    let mut limits = arm64_zone_limits(&m, &ARM64, None);
    limits.movable.movablecore = Core::Percent(30);
    let nz = free_area_init(&m, &limits, NodeMask::default(), &mut |_| {}, &mut |_| {});
    let spans: Vec<(u64, u64)> = nz.nodes[0].zones.iter().map(|z| (z.zone_start_pfn, z.spanned_pages)).collect();
    assert_eq!(spans, [(0x40000, 0xc0000), (0, 0), (0x100000, 0x4cc00), (0x14cc00, 0x73400)]);
    assert_eq!(run(3072, "movablecore=100M"), (start(0xf9c0_0000), ZONE_DMA));
    assert_eq!(run(4096, "kernelcore=5G"), (Vec::new(), ZONE_NORMAL), "more than there is: no ZONE_MOVABLE");
    assert_eq!(run(4096, "kernelcore=0"), (Vec::new(), ZONE_NORMAL), "none asked: no ZONE_MOVABLE");
    assert_eq!(run(6144, "kernelcore=mirror"), (std::vec![String::from("This configuration results in unmirrored kernel memory.")], ZONE_NORMAL));
}

/// kernelcore= / movablecore= over several nodes (2 × 2 GiB, and 1 + 1 + 2 GiB, from 1 GiB),
/// each booted on Debian's Linux 6.1 with the same -numa layout: its "  Node N:" lines. With
/// movable_node, hotpluggable memory starts ZONE_MOVABLE on its node (rounded up to 1024
/// pages), from Linux's find_zone_movable_pfns_for_nodes.
#[test]
fn zone_movable_over_nodes() {
    let run = |nodes: &[(u64, u64)], hotplug: Option<(u64, u64)>, arg: &str| {
        let mut m = Memblock::new();
        for (nid, &(base, size)) in nodes.iter().enumerate() {
            m.add_node(PhysAddr(base), size, nid as i32, crate::mm::memblock::MemblockFlags::NONE).unwrap();
        }
        if let Some((base, size)) = hotplug {
            m.mark_hotplug(PhysAddr(base), size).unwrap();
        }
        let mut limits = arm64_zone_limits(&m, &ARM64, None);
        limits.movable = crate::cmdline::EarlyParams::parse(arg, &mut |_| {}).movable;
        let lines = collect(|out| {
            free_area_init(&m, &limits, NodeMask::default(), out, &mut |_| {});
        });
        lines.into_iter().filter(|l| l.starts_with("  Node ")).collect::<Vec<_>>()
    };
    const G: u64 = 1 << 30;
    let two = [(G, 2 * G), (3 * G, 2 * G)];
    let three = [(G, G), (2 * G, G), (3 * G, 2 * G)];
    let node = |n: usize, addr: u64| std::vec![std::format!("  Node {n}: {addr:#018x}")];
    assert_eq!(run(&two, None, "kernelcore=1G"), node(1, 0x1_0000_0000));
    assert_eq!(run(&two, None, "movablecore=3G"), node(1, 0x1_0000_0000));
    assert_eq!(run(&two, None, "kernelcore=3500M"), node(1, 0x1_1ac0_0000));
    assert_eq!(run(&two, None, "movablecore=20%"), node(1, 0x1_0cc0_0000));
    assert_eq!(run(&three, None, "kernelcore=2G"), node(2, 0x1_0000_0000));
    assert_eq!(run(&three, None, "kernelcore=3900M"), node(2, 0x1_33c0_0000));
    assert_eq!(run(&three, None, "movablecore=1500M"), node(2, 0x1_0000_0000));
    // movable_node: node 1's hotpluggable part from 0x120000000 (kernelcore= is ignored).
    assert_eq!(run(&two, Some((0x1_2000_0000, G / 2)), "movable_node kernelcore=1G"), node(1, 0x1_2000_0000));
    // kernelcore=mirror: nothing is mirrored. A region that starts below 4 GiB stays the
    // kernel's (Linux's warning, not a "  Node" line), even where it reaches past 4 GiB; one
    // that starts above becomes movable from its start.
    assert_eq!(run(&two, None, "kernelcore=mirror"), Vec::<String>::new());
    assert_eq!(run(&[(G, 3 * G), (4 * G, 2 * G)], None, "kernelcore=mirror"), node(1, 0x1_0000_0000));
}
