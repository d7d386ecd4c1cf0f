//! `totalram_pages` through Linux 6.1's three steps, as the dry-run prints them on its debug
//! lines: memblock_free_all, then cma_init_reserved_areas (+ the CMA pages), then
//! free_initmem (+ the init pages of `--sections`).

use super::edge_tests::{run, run_with, tree};
use super::{DryRun, Ending};
use crate::mm::PhysAddr;
use std::string::String;

/// 1 GiB at 0x40000000 with a 2 MiB image at 0x40200000, `cmdline` and `sections`.
fn opts(cmdline: &'static str, sections: Option<[u64; 5]>) -> DryRun<'static> {
    DryRun {
        dtb_addr: PhysAddr(0x4800_0000),
        kernel: (PhysAddr(0x4020_0000), PhysAddr(0x4040_0000)),
        phys_addr_bits: 48,
        initrd: None,
        cmdline: Some(cmdline),
        sections,
    }
}

/// The figure of the debug line that starts with `totalram_pages: ` and ends in `step`.
fn totalram(lines: &[String], step: &str) -> u64 {
    let line = lines.iter().find(|l| l.starts_with("totalram_pages: ") && l.contains(step)).unwrap_or_else(|| panic!("no totalram line for {step}: {lines:#?}"));
    line["totalram_pages: ".len()..].split(' ').next().unwrap().parse().unwrap()
}

/// 1 GiB at 0x40000000, a 2 MiB image at 0x40200000 laid out as text 256K, rodata 64K, init
/// 192K (48 pages), data 64K, BSS 128K, and `cma=16M` (16 MiB / 4 KiB = 4096 pages):
/// - after memblock_free_all, totalram_pages is what the `Memory:` line shows available
///   (nothing is allocated between the two: nr_free_pages = totalram_pages);
/// - cma_init_reserved_areas adds the 4096 CMA pages;
/// - free_initmem adds the 48 init pages, printing `Freeing unused kernel memory: 192K`;
/// - the `Memory:` line's init figure is the same 192K (init data + init text).
#[test]
fn totalram_grows_by_the_cma_pages_then_by_the_init_pages() {
    let blob = tree(&[(0x4000_0000, 0x4000_0000)], None);
    let (k, m) = (1u64 << 10, 1u64 << 20);
    let opts = opts("cma=16M", Some([256 * k, 64 * k, 192 * k, 64 * k, 128 * k]));
    let (ending, lines, _) = run(&blob, &opts, 1 << 30);
    assert_eq!(ending, Ok(Ending::Complete), "{lines:#?}");
    let memory = lines.iter().find(|l| l.starts_with("Memory: ")).expect("a Memory: line");
    let available: u64 = memory["Memory: ".len()..].split('K').next().unwrap().parse().unwrap();
    assert!(memory.contains("(256K kernel code, 64K rwdata, 64K rodata, 192K init, 128K bss, "), "{memory}");
    assert!(memory.ends_with(&std::format!(", {}K cma-reserved)", 16 * m / k)), "{memory}");

    let after_free_all = totalram(&lines, "after memblock_free_all");
    assert_eq!(after_free_all, available / 4);
    let after_cma = totalram(&lines, "after cma_init_reserved_areas (+4096 CMA pages)");
    assert_eq!(after_cma, after_free_all + 4096);
    let after_init = totalram(&lines, "after free_initmem (+48 init pages)");
    assert_eq!(after_init, after_cma + 48);
    // In Linux's order: the Memory: line, then CMA, then the freeing line and its figure.
    let at = |p: &str| lines.iter().position(|l| l.starts_with(p)).unwrap_or_else(|| panic!("no {p}"));
    assert!(at("totalram_pages: ") < at("Memory: "));
    assert!(at("Memory: ") < at("Freeing unused kernel memory: "));
    assert_eq!(lines[at("Freeing unused kernel memory: ")], "Freeing unused kernel memory: 192K");
    assert!(lines[at("Freeing unused kernel memory: ") + 1].ends_with("after free_initmem (+48 init pages)"));
}

/// Without `--sections` the image has no init sections: free_initmem frees nothing and, as
/// Linux's free_reserved_area, prints no freeing line; the debug line says +0.
#[test]
fn without_init_sections_nothing_is_freed_and_nothing_printed() {
    let blob = tree(&[(0x4000_0000, 0x4000_0000)], None);
    let opts = opts("cma=0", None);
    let (ending, lines, _) = run(&blob, &opts, 1 << 30);
    assert_eq!(ending, Ok(Ending::Complete), "{lines:#?}");
    let after_free_all = totalram(&lines, "after memblock_free_all");
    assert_eq!(totalram(&lines, "after cma_init_reserved_areas (+0 CMA pages)"), after_free_all);
    assert_eq!(totalram(&lines, "after free_initmem (+0 init pages)"), after_free_all);
    assert!(!lines.iter().any(|l: &String| l.starts_with("Freeing ")), "{lines:#?}");
}

/// A reusable pool across the ZONE_DMA / ZONE_NORMAL boundary at 4 GiB cannot be activated:
/// cma_activate_area says so by the area's name, which for a /reserved-memory pool is its
/// node's (`rmem->name`; Debian's 6.1 prints "cma: CMA area pool@ff000000 could not be
/// activated" for this layout), and its pages are not added as CMA pages.
#[test]
fn an_area_across_zones_is_named_when_it_cannot_be_activated() {
    use crate::of::testblob::{cells, Builder};
    let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 0x1_4000_0000);
    b.begin("reserved-memory");
    b.prop("#address-cells", &2u32.to_be_bytes());
    b.prop("#size-cells", &2u32.to_be_bytes());
    b.prop("ranges", b"");
    b.begin("pool@ff000000");
    b.prop("compatible", b"shared-dma-pool\0");
    b.prop("reusable", b"");
    b.prop("reg", &cells(0xff00_0000, 0x200_0000));
    b.end();
    b.end();
    b.end();
    let blob = b.finish(&[]);
    use crate::of::reserved_mem::{shared_dma_pool_setup, ReservedMemOfId};
    let hooks = [ReservedMemOfId { name: "CMA", compatible: "shared-dma-pool", init: shared_dma_pool_setup }];
    let (ending, lines, _) = run_with(&blob, &opts("", None), 5 << 30, &hooks);
    assert_eq!(ending, Ok(Ending::Complete), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "cma: CMA area pool@ff000000 could not be activated"), "{lines:#?}");
    assert!(lines.iter().any(|l| l.ends_with("after cma_init_reserved_areas (+16384 CMA pages)")), "only the default area's 64 MiB: {lines:#?}");
}
