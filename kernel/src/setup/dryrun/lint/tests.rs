//! One tree per lint that triggers it and a near miss that does not, each run through the
//! dry-run's placement first, as `kernel memmap --lint` runs it.
//!
//! Every tree: a two-cell root, RAM [0x40000000-0xffffffff] (3 GiB), the kernel image at
//! [0x40210000-0x4040ffff] and the blob where QEMU's loader puts it (RAM + 128 MiB =
//! 0x48000000), then the case's `/reserved-memory` children.

use super::super::{dry_run, DryRun, HostTables};
use super::*;
use crate::mm::PhysAddr;
use crate::of::reserved_mem::shared_dma_pool_setup;
use crate::of::testblob::{cells, Builder};
use std::boxed::Box;
use std::vec;

static HOOKS: [ReservedMemOfId; 1] = [ReservedMemOfId { name: "DMA", compatible: "shared-dma-pool", init: shared_dma_pool_setup }];

type Props = Vec<(&'static str, Vec<u8>)>;

#[derive(Clone, Default)]
struct Tree {
    memreserve: Vec<(u64, u64)>,
    children: Vec<(&'static str, Props)>,
    /// A bus whose dma-ranges reach CPU addresses up to 0x5fffffff only.
    dma_limited: bool,
    /// `/reserved-memory`'s own `#address-cells` (the root's is 2).
    rmem_addr_cells: Option<u32>,
    /// The `reg` of a second memory node, `memory@100000000`.
    memory_reg: Option<Vec<u8>>,
}

fn reg(base: u64, size: u64) -> (&'static str, Vec<u8>) {
    ("reg", cells(base, size))
}
fn size(s: u64) -> (&'static str, Vec<u8>) {
    ("size", s.to_be_bytes().to_vec())
}
fn alignment(a: u64) -> (&'static str, Vec<u8>) {
    ("alignment", a.to_be_bytes().to_vec())
}
fn flag(name: &'static str) -> (&'static str, Vec<u8>) {
    (name, Vec::new())
}
fn compatible(c: &'static str) -> (&'static str, Vec<u8>) {
    ("compatible", [c.as_bytes(), b"\0"].concat())
}
fn one(name: &'static str, props: Props) -> Tree {
    Tree { children: vec![(name, props)], ..Tree::default() }
}

fn blob(t: &Tree) -> Vec<u8> {
    let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 0xc000_0000);
    if t.dma_limited {
        // child 0 -> CPU 0x40000000, 512 MiB: the last CPU address is 0x5fffffff.
        b.begin("soc");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.prop("ranges", b"");
        b.prop("dma-ranges", &[cells(0, 0x4000_0000), 0x2000_0000u64.to_be_bytes().to_vec()].concat());
        b.end();
    }
    if let Some(reg) = &t.memory_reg {
        b.begin("memory@100000000");
        b.prop("device_type", b"memory\0");
        b.prop("reg", reg);
        b.end();
    }
    b.begin("reserved-memory");
    b.prop("#address-cells", &t.rmem_addr_cells.unwrap_or(2).to_be_bytes());
    b.prop("#size-cells", &2u32.to_be_bytes());
    b.prop("ranges", b"");
    for (name, props) in &t.children {
        b.begin(name);
        for (p, v) in props {
            b.prop(p, v);
        }
        b.end();
    }
    b.end();
    b.end();
    b.finish(&t.memreserve)
}

/// The IDs `--lint` reports for the tree.
fn ids(t: &Tree) -> Vec<&'static str> {
    findings(t, false).iter().map(|f| f.id).collect()
}

/// What `--lint` reports for the tree; `assumed`: RAM, image and DTB placed by the dry-run, not
/// given.
fn findings(t: &Tree, assumed: bool) -> Vec<Finding> {
    let blob = blob(t);
    let opts = DryRun {
        dtb_addr: PhysAddr(0x4800_0000),
        kernel: (PhysAddr(0x4021_0000), PhysAddr(0x4041_0000)),
        phys_addr_bits: 48,
        initrd: None,
        cmdline: Some(""),
        sections: None,
    };
    let mut mb = Box::new(Memblock::new());
    let (findings, _) = crate::testlog::capture(|| {
        let state = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).expect("the tree is valid");
        let dma_phys_limit = state.bootmem.as_ref().ok().map(|b| b.dma_phys_limit);
        lint(&state.fdt, &Placed { mb: &mb, reserved: &state.reserved, opts: &opts, hooks: &HOOKS, dma_phys_limit, ram_assumed: assumed, placement_assumed: assumed })
    });
    findings
}

/// Each lint: a tree that triggers it, and a near miss that triggers nothing at all.
fn cases() -> Vec<(&'static str, Tree, Tree)> {
    vec![
        // RAM ends at 0x100000000: a region across that end, and one that ends exactly there.
        ("rmem-outside-ram", one("fw@fff00000", vec![reg(0xfff0_0000, 0x20_0000)]), one("fw@ffe00000", vec![reg(0xffe0_0000, 0x20_0000)])),
        (
            "nomap-unaligned",
            one("fw@50100000", vec![reg(0x5010_0000, 0x20_0000), flag("no-map")]),
            one("fw@50200000", vec![reg(0x5020_0000, 0x20_0000), flag("no-map")]),
        ),
        // [0x50000000, 0x50200000) and [0x50100000, ...) share 1 MiB; adjacent ones share none.
        (
            "rmem-overlap",
            Tree { children: vec![("a@50000000", vec![reg(0x5000_0000, 0x20_0000)]), ("b@50100000", vec![reg(0x5010_0000, 0x20_0000)])], ..Tree::default() },
            Tree { children: vec![("a@50000000", vec![reg(0x5000_0000, 0x20_0000)]), ("b@50200000", vec![reg(0x5020_0000, 0x20_0000)])], ..Tree::default() },
        ),
        // The image is [0x40210000, 0x40410000): inside it, and right after it.
        ("rmem-overlaps-boot", one("fw@40300000", vec![reg(0x4030_0000, 0x1000)]), one("fw@40410000", vec![reg(0x4041_0000, 0x1000)])),
        (
            "memreserve-overlaps-rmem",
            Tree { memreserve: vec![(0x5000_0000, 0x1000)], ..one("fw@50000000", vec![reg(0x5000_0000, 0x2000)]) },
            Tree { memreserve: vec![(0x5000_2000, 0x1000)], ..one("fw@50000000", vec![reg(0x5000_0000, 0x2000)]) },
        ),
        // 0x300000 has two bits set; 0x100000 (= the size) has one and is not larger.
        (
            "alignment-not-power-of-two",
            one("pool", vec![size(0x10_0000), alignment(0x30_0000)]),
            one("pool", vec![size(0x10_0000), alignment(0x10_0000)]),
        ),
        ("alignment-larger-than-size", one("pool", vec![size(0x10_0000), alignment(0x20_0000)]), one("pool", vec![size(0x10_0000), alignment(0x10_0000)])),
        // [0x100000000, +256 MiB) is above RAM; [0x50000000, +256 MiB) inside it.
        (
            "alloc-ranges-outside-ram",
            one("pool", vec![size(0x10_0000), ("alloc-ranges", [cells(0x1_0000_0000, 0x1000_0000), cells(0x5000_0000, 0x1000_0000)].concat())]),
            one("pool", vec![size(0x10_0000), ("alloc-ranges", cells(0x5000_0000, 0x1000_0000))]),
        ),
        // 4 GiB cannot fit in 3 GiB of RAM; 1 MiB can.
        ("dynamic-unplaced", one("pool", vec![size(0x1_0000_0000)]), one("pool", vec![size(0x10_0000)])),
        ("reg-and-size", one("fw@50000000", vec![reg(0x5000_0000, 0x1000), size(0x1000)]), one("fw@50000000", vec![reg(0x5000_0000, 0x1000)])),
        (
            "reusable-nomap",
            one("fw@50000000", vec![reg(0x5000_0000, 0x20_0000), flag("reusable"), flag("no-map")]),
            one("fw@50000000", vec![reg(0x5000_0000, 0x20_0000), flag("reusable")]),
        ),
        // No hook has "vendor,blob"; shared-dma-pool's DMA hook takes a no-map region.
        (
            "no-hook",
            one("fw@50000000", vec![reg(0x5000_0000, 0x20_0000), compatible("vendor,blob")]),
            one("fw@50000000", vec![reg(0x5000_0000, 0x20_0000), compatible("shared-dma-pool"), flag("no-map")]),
        ),
        // dma-ranges end at 0x5fffffff: ZONE_DMA is 31 bits, [0x40000000, 0x80000000). A CMA
        // pool at 0xc0000000 is above it; one at 0x60000000 inside.
        (
            "cma-above-dma-limit",
            Tree { dma_limited: true, ..one("cma@c0000000", vec![reg(0xc000_0000, 0x40_0000), compatible("shared-dma-pool"), flag("reusable")]) },
            Tree { dma_limited: true, ..one("cma@60000000", vec![reg(0x6000_0000, 0x40_0000), compatible("shared-dma-pool"), flag("reusable")]) },
        ),
        (
            "rmem-cells",
            Tree { rmem_addr_cells: Some(1), ..one("fw@50000000", vec![("reg", [0x5000_0000u32.to_be_bytes(), [0; 4], 0x1000u32.to_be_bytes()].concat())]) },
            one("fw@50000000", vec![reg(0x5000_0000, 0x1000)]),
        ),
        // 256 MiB at 4 GiB, then one cell more.
        (
            "memory-reg-partial",
            Tree { memory_reg: Some([cells(0x1_0000_0000, 0x1000_0000), vec![0; 4]].concat()), ..Tree::default() },
            Tree { memory_reg: Some(cells(0x1_0000_0000, 0x1000_0000)), ..Tree::default() },
        ),
    ]
}

#[test]
fn each_lint_fires_on_its_tree_and_not_on_the_near_miss() {
    let cases = cases();
    // Every ID of the module's table has its case.
    assert_eq!(cases.len(), 15);
    for (id, trigger, near) in cases {
        assert!(ids(&trigger).contains(&id), "{id}: not reported on its tree: {:?}", ids(&trigger));
        assert_eq!(ids(&near), Vec::<&str>::new(), "{id}: the near miss is not clean");
    }
}

#[test]
fn a_finding_is_one_line_with_id_severity_node_values_and_reason() {
    let f = Finding { id: "nomap-unaligned", severity: Severity::Warning, node: "/reserved-memory/fw@50100000".into(), values: "no-map [0x50100000-0x502fffff]".into(), why: "why." };
    assert_eq!(std::format!("{f}"), "warning [nomap-unaligned] /reserved-memory/fw@50100000: no-map [0x50100000-0x502fffff]: why.");
}

/// Outside RAM the dry-run assumed, or under an image placed by default, a region is a warning:
/// the board's RAM and bootloader decide. Given, the same trees are errors.
#[test]
fn what_the_dry_run_assumed_only_warns() {
    let outside = one("fw@fff00000", vec![reg(0xfff0_0000, 0x20_0000)]);
    let under_image = one("fw@40300000", vec![reg(0x4030_0000, 0x1000)]);
    for (tree, id) in [(outside, "rmem-outside-ram"), (under_image, "rmem-overlaps-boot")] {
        let severity = |assumed| findings(&tree, assumed).iter().find(|f| f.id == id).map(|f| f.severity);
        assert_eq!(severity(false), Some(Severity::Error), "{id} given");
        assert_eq!(severity(true), Some(Severity::Warning), "{id} assumed");
    }
}

/// Mutated trees (the mutation test's, from its base trees) through what `kernel memmap --lint`
/// adds to the boot's path: the RAM filled in, the image placed above it, the lint. None may
/// panic.
#[test]
fn mutated_trees_pass_the_inputs_and_the_lint_without_panicking() {
    use super::super::inputs::{fill_empty_memory, image_base};
    use super::super::mutation_tests::{base_trees, mutants};
    for (_, base) in base_trees() {
        mutants(&base, 300, 0x11a7, |_, blob| {
            let filled = fill_empty_memory(blob).map(|(b, _)| b);
            let blob = filled.as_deref().unwrap_or(blob);
            let (Some(text), Some(dtb_addr)) = (image_base(blob, 0x21_0000), super::super::qemu_dtb_addr(blob, None)) else { return };
            let Some(end) = text.checked_add(0x20_0000) else { return };
            let opts = DryRun { dtb_addr, kernel: (PhysAddr(text), PhysAddr(end)), phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None };
            let mut mb = Box::new(Memblock::new());
            crate::testlog::capture(|| {
                let Ok(state) = dry_run(blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}) else { return };
                let placed = Placed { mb: &mb, reserved: &state.reserved, opts: &opts, hooks: &HOOKS, dma_phys_limit: None, ram_assumed: true, placement_assumed: true };
                let _ = lint(&state.fdt, &placed);
            });
        });
    }
}
