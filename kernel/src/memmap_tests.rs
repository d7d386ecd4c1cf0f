//! Host tests of the memory map: it tiles the address space, every reserved byte of a boot has
//! an owner from the boot's own records, free memory is what the buddy allocator got, and a
//! 4 KiB reservation next to a large bank keeps its own line.

use super::*;
use crate::mm::memblock::Memblock;
use crate::of::testblob::Builder;
use crate::setup::dryrun::host::mem_init_with;
use crate::setup::dryrun::{dry_run, DryRun, HostTables};
use crate::setup::tests::{reserved_memory_blob, HOOKS};
use std::boxed::Box;
use std::string::{String, ToString};
use std::vec::Vec;

const KERNEL: (PhysAddr, PhysAddr) = (PhysAddr(0x4020_0000), PhysAddr(0x4040_0000));

fn opts(dtb_addr: u64, kernel: (PhysAddr, PhysAddr)) -> DryRun<'static> {
    DryRun { dtb_addr: PhysAddr(dtb_addr), kernel, phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None }
}

/// The boot on `blob` through mem_init; the map's lines and the buddy's free pages.
fn map_of(blob: &[u8], opts: &DryRun) -> (Vec<String>, u64) {
    let mut mb = Box::new(Memblock::new());
    let ((lines, free), _) = crate::testlog::capture(|| {
        let state = dry_run(blob, opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).expect("a valid blob");
        let free = mem_init_with(&mut mb, &state, opts, 1 << 30, |_, zones| zones.nr_free_pages())
            .expect("within the host limit")
            .expect("the boot completes");
        let mut lines = Vec::new();
        fmt_map(&state.map_facts(&mb, opts).expect("bootmem_init ran"), &mut |a| lines.push(a.to_string()));
        (lines, free)
    });
    (lines, free)
}

/// A range line split into (start, end inclusive, size, kind, node, zone, owner).
fn ranges(lines: &[String]) -> Vec<(u64, u64, String, String, String, String, String)> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("memmap: 0x"))
        .map(|l| {
            let mut w = l.splitn(6, char::is_whitespace).filter(|w| !w.is_empty());
            let (s, e) = w.next().unwrap().split_once("-0x").unwrap();
            let rest: Vec<&str> = l.split_whitespace().collect();
            (
                u64::from_str_radix(s, 16).unwrap(),
                u64::from_str_radix(e, 16).unwrap(),
                rest[1].to_string(),
                rest[2].to_string(),
                rest[3].to_string(),
                rest[4].to_string(),
                rest[5..].join(" "),
            )
        })
        .collect()
}

#[test]
fn the_map_tiles_the_address_space_and_free_memory_is_the_buddys() {
    let (lines, free_pages) = map_of(&reserved_memory_blob(), &opts(0x4800_0000, KERNEL));
    let r = ranges(&lines);
    // From 0 to the end of the 1 GiB bank at 0x40000000, each range starting where the last
    // ended: a hole first, then memory.
    assert_eq!(r[0].0, 0);
    assert_eq!((r[0].1, r[0].3.as_str()), (0x3fff_ffff, "hole"));
    for w in r.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 1, "{:?} then {:?}", w[0], w[1]);
    }
    assert_eq!(r.last().unwrap().1, 0x7fff_ffff);
    // The free ranges are what memblock_free_all handed over: the buddy's own count.
    let free: u64 = r.iter().filter(|p| p.3 == "free").map(|p| p.1 + 1 - p.0).sum();
    assert_eq!(free, free_pages * PAGE_SIZE);
    let total = lines.last().unwrap();
    assert!(total.ends_with(&std::format!("free {}K", free >> 10)), "{total}");
}

#[test]
fn every_reserved_byte_of_a_boot_has_its_owner() {
    let (lines, _) = map_of(&reserved_memory_blob(), &opts(0x4800_0000, KERNEL));
    let r = ranges(&lines);
    let owner = |start: u64| r.iter().find(|p| p.0 == start).map(|p| (p.3.clone(), p.6.clone()));
    assert!(r.iter().all(|p| p.6 != "unattributed"), "{lines:#?}");
    // The image is one segment without --sections.
    assert_eq!(owner(0x4020_0000), Some(("reserved".into(), "kernel image".into())));
    assert_eq!(owner(0x4800_0000), Some(("reserved".into(), "dtb".into())));
    // fixed@50000000: reg, claimed by test,record; nomap@52000000: no-map in memory.
    assert_eq!(
        owner(0x5000_0000),
        Some(("reserved".into(), "reserved-memory /reserved-memory/fixed@50000000 - static - hook=test,record".into()))
    );
    assert_eq!(owner(0x5200_0000), Some(("nomap".into(), "reserved-memory /reserved-memory/nomap@52000000 no-map static - hook=-".into())));
    // refused@53000000: the hook refused it and the boot freed it again: free memory.
    assert_eq!(owner(0x5300_0000), None, "merged into the free range before it");
    assert!(r.iter().any(|p| p.0 < 0x5300_0000 && 0x5300_0000 <= p.1 && p.3 == "free"));
    // dynamic: size-only, placed at 0x60e00000 (the tests of of::reserved_mem derive it).
    assert_eq!(owner(0x60e0_0000), Some(("reserved".into(), "reserved-memory /reserved-memory/dynamic - dynamic - hook=test,record".into())));
    // memblock's own allocations, each named by the step that made it.
    for class in ["page-tables", "memmap node 0", "memmap-links node 0", "node-data node 0", "cma default"] {
        assert!(r.iter().any(|p| p.6 == class), "no {class}: {lines:#?}");
    }
}

#[test]
fn a_page_next_to_a_large_bank_keeps_its_line_and_a_misplaced_image_shows_outside_ram() {
    // 64 GiB from 0x80000000, a 4 KiB /memreserve/ at 0x90000000, the image left at QEMU's
    // 0x40200000 below the bank: reserved, outside every memory node.
    let mut b = Builder::root_with_memory("memory@80000000", 0x8000_0000, 64 << 30);
    b.end();
    let blob = b.finish(&[(0x9000_0000, 0x1000)]);
    let (lines, _) = map_of(&blob, &opts(0x8800_0000, KERNEL));
    let r = ranges(&lines);
    let page = r.iter().find(|p| p.0 == 0x9000_0000).expect("the reservation's line");
    assert_eq!((page.1, page.2.as_str(), page.6.as_str()), (0x9000_0fff, "4K", "memreserve #0"));
    let image = r.iter().find(|p| p.0 == 0x4020_0000).expect("the image's line");
    assert_eq!((image.3.as_str(), image.4.as_str(), image.6.as_str()), ("reserved", "-", "kernel image"));
    // Holes on both sides of the image.
    assert_eq!(r[0].3, "hole");
    assert_eq!(r.iter().find(|p| p.0 == 0x4040_0000).map(|p| p.3.as_str()), Some("hole"));
}

#[test]
fn table_pages_join_the_range_they_touch() {
    //  0x3000 0x2000 0x1000 taken top-down, then 0x9000 apart
    //  |  3  |  2  |  1  |      |  9  |   ->  [0x1000, 0x4000) and [0x9000, 0xa000)
    let mut t = TablePages::default();
    for pa in [0x3000, 0x2000, 0x1000, 0x9000] {
        t.record(PhysAddr(pa));
    }
    assert_eq!(t.ranges().collect::<Vec<_>>(), [(0x1000, 0x4000), (0x9000, 0xa000)]);
}

#[test]
fn sizes_take_the_largest_unit_that_divides_them() {
    assert_eq!(std::format!("{}", Size(4096)), "4K");
    assert_eq!(std::format!("{}", Size(64 << 30)), "64G");
    assert_eq!(std::format!("{}", Size(2112 << 10)), "2112K");
    assert_eq!(std::format!("{}", Size(8441)), "8441B");
    assert_eq!(std::format!("{:>6}", Size(1 << 20)), "    1M");
}

/// A node of 2 GiB at 0x80000000 and 6 GiB at 0x8800000000 (64 present sections, spanning
/// 548 GiB): the map gives its memmap and links exactly their two allocations (2 MiB, and
/// 8189 pages: see `a_large_hole_costs_memmap_for_its_ram_only`), not sizes over the span,
/// and every reserved byte still has an owner.
#[test]
fn a_node_with_a_large_hole_has_its_memmap_owned_at_its_size() {
    let blob = crate::setup::dryrun::edge_tests::tree(&[(0x8000_0000, 2 << 30), (0x88_0000_0000, 6 << 30)], None);
    let (lines, _) = map_of(&blob, &opts(0x8800_0000, (PhysAddr(0x8020_0000), PhysAddr(0x8040_0000))));
    let r = ranges(&lines);
    assert!(r.iter().all(|p| p.6 != "unattributed"), "{lines:#?}");
    let size = |owner: &str| r.iter().filter(|p| p.6 == owner).map(|p| p.1 + 1 - p.0).sum::<u64>();
    assert_eq!(size("memmap node 0"), 2 << 20, "{lines:#?}");
    assert_eq!(size("memmap-links node 0"), 8189 * 4096, "{lines:#?}");
}
