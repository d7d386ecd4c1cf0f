//! Host tests of the `/reserved-memory` table's counting (`ReservedMemTable::len` and
//! `is_empty`), which nothing else in the kernel reads: what `fdt_reserved_mem_save_node`
//! saves, one entry per available child with `reg` or `size`; and of what
//! `fdt_init_reserved_mem` says: overlaps, and the `shared-dma-pool` hook's CMA alignment.

use crate::mm::memblock::Memblock;
use crate::mm::PhysAddr;
use crate::of::fdt::Fdt;
use crate::of::fdt_scan::scan_root;
use crate::of::reserved_mem::{init, scan, shared_dma_pool_setup, HookEnv, ReservedMemOfId, ReservedMemTable, MAX_RESERVED_REGIONS};
use crate::testlog::capture;
use std::string::String;
use crate::of::testblob::{cells, with_reserved_memory as blob, Builder};
use std::boxed::Box;
use std::format;
use std::vec::Vec;

fn memblock() -> Box<Memblock> {
    let mut mb = Box::new(Memblock::new());
    mb.add(PhysAddr(0x4000_0000), 0x4000_0000).unwrap();
    mb
}

#[test]
fn counts_the_saved_regions_only() {
    // Five children: a static region with two `reg` entries (saved once, for its first
    // entry), a size-only region (saved with base 0), a disabled region (skipped before
    // anything is read), a node with neither `reg` nor `size` (nothing to save), and a
    // second static region. Saved: 3.
    let blob = blob(|b| {
        b.begin("two@48000000");
        let mut reg = cells(0x4800_0000, 0x10_0000);
        reg.extend(cells(0x4900_0000, 0x10_0000));
        b.prop("reg", &reg);
        b.end();
        b.begin("pool");
        b.prop("size", &0x20_0000u64.to_be_bytes());
        b.end();
        b.begin("off@4a000000");
        b.prop("reg", &cells(0x4a00_0000, 0x10_0000));
        b.prop("status", b"disabled\0");
        b.end();
        b.begin("empty");
        b.end();
        b.begin("one@4b000000");
        b.prop("reg", &cells(0x4b00_0000, 0x10_0000));
        b.end();
    });
    let fdt = Fdt::new(&blob).unwrap();
    let table = scan(&fdt, scan_root(&fdt), &mut memblock());
    assert_eq!(table.len(), 3);
    assert!(!table.is_empty());
    let names: Vec<&str> = table.iter().map(|r| r.name).collect();
    assert_eq!(names, ["two@48000000", "pool", "one@4b000000"]);
}

#[test]
fn no_reserved_memory_node_is_an_empty_table() {
    let mut b = Builder::new();
    b.begin("");
    b.end();
    let blob = b.finish(&[]);
    let fdt = Fdt::new(&blob).unwrap();
    let table = scan(&fdt, scan_root(&fdt), &mut memblock());
    assert_eq!(table.len(), 0);
    assert!(table.is_empty());
}

#[test]
fn the_table_stops_at_max_reserved_regions() {
    // One more size-only child than Linux's 64 slots: the 65th is refused (and said), the
    // first 64 stay, in blob order.
    let blob = blob(|b| {
        for i in 0..=MAX_RESERVED_REGIONS {
            b.begin(&format!("r{i}"));
            b.prop("size", &0x1000u64.to_be_bytes());
            b.end();
        }
    });
    let fdt = Fdt::new(&blob).unwrap();
    let table = scan(&fdt, scan_root(&fdt), &mut memblock());
    assert_eq!(table.len(), MAX_RESERVED_REGIONS);
    assert_eq!(table.iter().count(), MAX_RESERVED_REGIONS);
    assert_eq!(table.iter().last().unwrap().name, format!("r{}", MAX_RESERVED_REGIONS - 1));
}

/// `__reserved_mem_check_root`: a `/reserved-memory` whose cell counts differ from the root's,
/// or that has no `ranges`, is ignored whole: no child is reserved or saved. Each blob has
/// exactly one of the three defects, so each condition is tested on its own.
#[test]
fn each_root_defect_alone_ignores_the_node() {
    for defect in ["#size-cells", "#address-cells", "ranges"] {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.begin("reserved-memory");
        for cells_name in ["#address-cells", "#size-cells"] {
            let n: u32 = if defect == cells_name { 1 } else { 2 };
            b.prop(cells_name, &n.to_be_bytes());
        }
        if defect != "ranges" {
            b.prop("ranges", b"");
        }
        b.begin("region@48000000");
        b.prop("reg", &cells(0x4800_0000, 0x10_0000));
        b.end();
        b.end();
        b.end();
        let blob = b.finish(&[]);
        let fdt = Fdt::new(&blob).unwrap();
        let mut mb = memblock();
        let table = scan(&fdt, scan_root(&fdt), &mut mb);
        assert!(table.is_empty(), "{defect}");
        assert!(!mb.is_region_reserved(PhysAddr(0x4800_0000), 0x10_0000), "{defect}");
    }
}

/// `__reserved_mem_alloc_size` raises the alignment to CMA's pageblock (2 MiB) only for a
/// region that is `shared-dma-pool`, `reusable` and not `no-map`, all three. A 4 KiB size-only
/// region in memory [0x40000000, 0x80000000) is placed top-down: at 0x80000000 - 0x1000 =
/// 0x7ffff000 with the default alignment (64 bytes, which 0x7ffff000 meets), at 0x7fe00000
/// (0x7ffff000 rounded down to 2 MiB) with the raised one. Each case lacks one of the three.
#[test]
fn only_a_reusable_mappable_shared_dma_pool_gets_cma_alignment() {
    let cases: [(&str, &[u8], bool, bool, u64); 4] = [
        ("all three", b"shared-dma-pool\0", true, false, 0x7fe0_0000),
        ("not reusable", b"shared-dma-pool\0", false, false, 0x7fff_f000),
        ("another compatible", b"vendor,pool\0", true, false, 0x7fff_f000),
        ("no-map", b"shared-dma-pool\0", true, true, 0x7fff_f000),
    ];
    for (what, compatible, reusable, nomap, base) in cases {
        let blob = blob(|b| {
            b.begin("pool");
            b.prop("compatible", compatible);
            b.prop("size", &0x1000u64.to_be_bytes());
            if reusable {
                b.prop("reusable", b"");
            }
            if nomap {
                b.prop("no-map", b"");
            }
            b.end();
        });
        let fdt = Fdt::new(&blob).unwrap();
        let cells = scan_root(&fdt);
        let mut mb = memblock();
        let mut table = scan(&fdt, cells, &mut mb);
        init(&fdt, cells, &mut mb, &mut table, &[], &Default::default());
        let r = table.iter().next().unwrap();
        assert_eq!((r.base, r.size), (PhysAddr(base), 0x1000), "{what}");
    }
}

/// `blob` scanned, then `fdt_init_reserved_mem` with the shared-dma-pool hook and `env`:
/// what init says, memblock and the table after it.
fn scan_and_init<'b>(blob: &'b [u8], env: &HookEnv) -> (Vec<String>, Box<Memblock>, ReservedMemTable<'b>) {
    let fdt = Fdt::new(blob).unwrap();
    let cells = scan_root(&fdt);
    let mut mb = memblock();
    let mut table = scan(&fdt, cells, &mut mb);
    let hooks = [ReservedMemOfId { name: "CMA", compatible: "shared-dma-pool", init: shared_dma_pool_setup }];
    let lines = capture(|| init(&fdt, cells, &mut mb, &mut table, &hooks, env)).1;
    (lines, mb, table)
}

/// The children `(name, base, size, reusable shared-dma-pool)` as static regions, scanned, then
/// `fdt_init_reserved_mem` with the shared-dma-pool hook; returns what init says.
fn init_lines(children: &[(&str, u64, u64, bool)]) -> Vec<String> {
    let blob = blob(|b| {
        for &(name, base, size, pool) in children {
            b.begin(name);
            b.prop("reg", &cells(base, size));
            if pool {
                b.prop("compatible", b"shared-dma-pool\0");
                b.prop("reusable", b"");
            }
            b.end();
        }
    });
    scan_and_init(&blob, &Default::default()).0
}

/// `__rmem_check_for_overlap` runs from two regions on: two that overlap by 1 MiB are
/// reported, with each end as base + size (pr_err, `%pa` as 0x and 16 digits).
#[test]
fn two_overlapping_regions_are_reported() {
    let lines = init_lines(&[("a@48000000", 0x4800_0000, 0x20_0000, false), ("b@48100000", 0x4810_0000, 0x20_0000, false)]);
    assert_eq!(
        lines,
        [
            "OF: reserved mem: OVERLAP DETECTED!",
            "a@48000000 (0x0000000048000000--0x0000000048200000) overlaps with b@48100000 (0x0000000048100000--0x0000000048300000)",
        ]
    );
    // Touching is not overlapping: [0x48000000, 0x48200000) then [0x48200000, ...).
    assert_eq!(init_lines(&[("a@48000000", 0x4800_0000, 0x20_0000, false), ("c@48200000", 0x4820_0000, 0x20_0000, false)]), [] as [&str; 0]);
}

/// `rmem_cma_setup` wants base and size both multiples of CMA_MIN_ALIGNMENT_BYTES (2 MiB):
/// a 4 MiB pool at 0x48100000 (1 MiB aligned only) is refused; `rmem_dma_setup` then refuses
/// it too (reusable), and `fdt_init_reserved_mem` says the match failed and frees it. The same
/// pool at 0x48200000 becomes a CMA pool.
#[test]
fn a_cma_pool_must_be_pageblock_aligned() {
    assert_eq!(
        init_lines(&[("pool@48100000", 0x4810_0000, 0x40_0000, true)]),
        ["Reserved memory: incorrect alignment of CMA region", "OF: reserved mem: node pool@48100000 compatible matching fail"]
    );
    assert_eq!(
        init_lines(&[("pool@48200000", 0x4820_0000, 0x40_0000, true)]),
        [
            "Reserved memory: created CMA memory pool at 0x0000000048200000, size 4 MiB",
            "OF: reserved mem: initialized node pool@48200000, compatible id shared-dma-pool",
        ]
    );
}

/// `linux,cma-default` on a CMA pool: the pool becomes the default area (so
/// `dma_contiguous_reserve` adds none). With `cma=` on the command line, rmem_cma_setup bypasses
/// the node (-EBUSY), rmem_dma_setup refuses it (reusable), and fdt_init_reserved_mem frees it.
/// (Both booted on Linux 6.1: the lines and the freed range are its.) A pool without the
/// property is not the default either way.
#[test]
fn a_default_cma_pool_is_the_default_area_unless_cma_is_given() {
    let run = |default: bool, cma_cmdline: bool| {
        let blob = blob(|b| {
            b.begin("linux,cma");
            b.prop("compatible", b"shared-dma-pool\0");
            b.prop("reusable", b"");
            b.prop("reg", &cells(0x4820_0000, 0x40_0000));
            if default {
                b.prop("linux,cma-default", b"");
            }
            b.end();
        });
        let (lines, mb, table) = scan_and_init(&blob, &HookEnv { cma_cmdline, ..Default::default() });
        let r = table.iter().next().copied().unwrap();
        (lines, r.cma_default, r.owner, mb.is_region_reserved(PhysAddr(0x4820_0000), 0x40_0000))
    };
    let created = [
        "Reserved memory: created CMA memory pool at 0x0000000048200000, size 4 MiB",
        "OF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool",
    ];
    assert_eq!(run(true, false), (created.map(String::from).to_vec(), true, Some("shared-dma-pool"), true));
    assert_eq!(run(false, false), (created.map(String::from).to_vec(), false, Some("shared-dma-pool"), true));
    assert_eq!(run(false, true), (created.map(String::from).to_vec(), false, Some("shared-dma-pool"), true));
    let bypassed = [
        "Reserved memory: bypass linux,cma node, using cmdline CMA params instead",
        "OF: reserved mem: node linux,cma compatible matching fail",
    ];
    assert_eq!(run(true, true), (bypassed.map(String::from).to_vec(), false, None, false));
}

/// cma_init_reserved_mem in rmem_cma_setup: the 21st CMA pool finds every MAX_CMA_AREAS slot
/// taken (Linux 6.1, booted with 21 pools: these lines, and the pool is freed).
#[test]
fn the_cma_pool_past_the_last_slot_is_refused_and_freed() {
    let blob = blob(|b| {
        for i in 0..21u64 {
            b.begin(&format!("p{i}@{:x}", 0x5000_0000 + i * 0x40_0000));
            b.prop("compatible", b"shared-dma-pool\0");
            b.prop("reusable", b"");
            b.prop("reg", &cells(0x5000_0000 + i * 0x40_0000, 0x40_0000));
            b.end();
        }
    });
    let (lines, mb, table) = scan_and_init(&blob, &Default::default());
    let last = 0x5000_0000 + 20 * 0x40_0000u64;
    assert_eq!(
        lines[lines.len() - 3..],
        [
            "cma: Not enough slots for CMA reserved regions!".to_string(),
            "Reserved memory: unable to setup CMA region".into(),
            format!("OF: reserved mem: node p20@{last:x} compatible matching fail"),
        ]
    );
    assert!(!mb.is_region_reserved(PhysAddr(last), 0x40_0000));
    assert_eq!(table.iter().filter(|r| r.owner.is_some()).count(), 20);
}
