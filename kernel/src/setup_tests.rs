//! Host tests of the memory setup on hand-built blobs: the memory scan, /reserved-memory
//! (scan, allocation, hooks, lookup) and the dry-run's refusal to panic on broken input.

use super::*;
use super::dryrun::{dry_run, DryRun, HostTables};
use crate::mm::memblock::{MemblockFlags, MemblockKind, Region};
use crate::of::reserved_mem::{HookEnv, HookError, ReservedMem, ReservedMemOfId};
use crate::of::testblob::{cells, Builder};
use std::vec::Vec;

const KERNEL: (PhysAddr, PhysAddr) = (PhysAddr(0x4020_0000), PhysAddr(0x4040_0000));

pub(super) fn be32(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

pub(super) fn root(b: &mut Builder) {
    b.begin("");
    b.prop("#address-cells", &be32(2));
    b.prop("#size-cells", &be32(2));
    b.prop("model", b"test board\0");
}

pub(super) fn memory(b: &mut Builder, name: &str, reg: &[(u64, u64)], extra: &[(&str, &[u8])]) {
    b.begin(name);
    b.prop("device_type", b"memory\0");
    let reg: Vec<u8> = reg.iter().flat_map(|&(a, s)| cells(a, s)).collect();
    b.prop("reg", &reg);
    for (name, value) in extra {
        b.prop(name, value);
    }
    b.end();
}

pub(super) fn regions(mb: &Memblock, kind: MemblockKind) -> Vec<(u64, u64, u32)> {
    mb.ty(kind).regions().iter().map(|r: &Region| (r.base.0, r.size, r.flags.0)).collect()
}

pub(super) fn run(blob: &[u8], cmdline: &str) -> std::boxed::Box<Memblock> {
    let mut mb = std::boxed::Box::new(Memblock::new());
    let opts = DryRun {
        dtb_addr: PhysAddr(0x4800_0000),
        kernel: KERNEL,
        phys_addr_bits: 40,
        initrd: None,
        cmdline: Some(cmdline),
        sections: None,
    };
    dry_run(blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).expect("a valid blob");
    mb
}

/// Every memory node shape Linux's early_init_dt_scan_memory handles, with a 40-bit CPU.
#[test]
fn memory_scan_takes_every_memory_node_and_clips_to_the_cpu() {
    let mut b = Builder::new();
    root(&mut b);
    // The bank holding the DTB and the kernel; a zero-sized second entry is skipped.
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x2000_0000), (0x8000_0000, 0)], &[]);
    // Any name counts when device_type is "memory"; hotpluggable marks it HOTPLUG (0x1).
    memory(&mut b, "ram", &[(0x1_0000_0000, 0x1000_0000)], &[("hotpluggable", b"")]);
    // Disabled: not scanned at all.
    memory(&mut b, "memory@c0000000", &[(0xc000_0000, 0x10_0000)], &[("status", b"disabled\0")]);
    // linux,usable-memory replaces reg: 128 MiB of the 256 MiB.
    memory(&mut b, "memory@200000000", &[(0x2_0000_0000, 0x1000_0000)], &[("linux,usable-memory", &cells(0x2_0000_0000, 0x800_0000))]);
    // Straddles 2^40: the part above is removed (silently: see linux_detail_tests), the rest kept.
    memory(&mut b, "memory@ff00000000", &[(0xff_f000_0000, 0x2000_0000)], &[]);
    // Wholly above 2^40: ignored.
    memory(&mut b, "memory@10000000000", &[(0x100_0000_0000, 0x1000_0000)], &[]);
    // An unaligned bank shrinks to whole pages: [0x3000_0800, 0x3000_5800) -> [0x3000_1000, 0x3000_5000).
    memory(&mut b, "memory@30000800", &[(0x3000_0800, 0x5000)], &[]);
    // A reg ending in a partial entry (one cell more): the whole entry is added, the rest
    // ignored (booted on Linux 6.1: its memory[] has the bank, HOTPLUG).
    let mut partial = cells(0x7000_0000, 0x100_0000);
    partial.extend_from_slice(&[0, 0, 0, 0]);
    b.begin("ram@70000000");
    b.prop("device_type", b"memory\0");
    b.prop("reg", &partial);
    b.prop("hotpluggable", b"");
    b.end();
    b.end();
    let blob = b.finish(&[]);
    let mb = run(&blob, "");
    assert_eq!(
        regions(&mb, MemblockKind::Memory),
        [
            (0x3000_1000, 0x4000, 0),
            (0x4000_0000, 0x2000_0000, 0),
            (0x7000_0000, 0x100_0000, MemblockFlags::HOTPLUG.0),
            (0x1_0000_0000, 0x1000_0000, MemblockFlags::HOTPLUG.0),
            (0x2_0000_0000, 0x800_0000, 0),
            (0xff_f000_0000, 0x1000_0000, 0),
        ]
    );
}

std::thread_local! {
    /// What the recording hook saw, per test thread.
    static RECORDED: core::cell::RefCell<Vec<(std::string::String, u64, u64)>> = const { core::cell::RefCell::new(Vec::new()) };
}

fn record(rmem: &mut ReservedMem, _node: &crate::of::fdt::Node, _env: &HookEnv) -> Result<(), HookError> {
    RECORDED.with(|r| r.borrow_mut().push((rmem.name.into(), rmem.base.0, rmem.size)));
    Ok(())
}

fn refuse(_rmem: &mut ReservedMem, _node: &crate::of::fdt::Node, _env: &HookEnv) -> Result<(), HookError> {
    Err(HookError::Inval)
}

/// On the host the hook table is a slice (the kernel gathers the same entries from its
/// linker section).
pub(crate) static HOOKS: [ReservedMemOfId; 2] = [
    ReservedMemOfId { name: "TEST_RECORD", compatible: "test,record", init: record },
    ReservedMemOfId { name: "TEST_REFUSE", compatible: "test,refuse", init: refuse },
];

/// A root with 1 GiB of memory at 0x40000000 and an open `/reserved-memory` node in the
/// root's cells, for the caller's children.
fn begin_reserved_memory() -> Builder {
    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
    b.begin("reserved-memory");
    b.prop("#address-cells", &be32(2));
    b.prop("#size-cells", &be32(2));
    b.prop("ranges", b"");
    b
}

pub(crate) fn reserved_memory_blob() -> Vec<u8> {
    let mut b = begin_reserved_memory();
    // Fixed, claimed by the recording hook; phandle 7 for the lookup.
    b.begin("fixed@50000000");
    b.prop("compatible", b"test,record\0");
    b.prop("reg", &cells(0x5000_0000, 0x40_0000));
    b.prop("phandle", &be32(7));
    b.end();
    // no-map: memory gets NOMAP (0x4), nothing is reserved.
    b.begin("nomap@52000000");
    b.prop("reg", &cells(0x5200_0000, 0x10_0000));
    b.prop("no-map", b"");
    b.end();
    // The hook refuses it: Linux hands the region back (memblock_phys_free).
    b.begin("refused@53000000");
    b.prop("compatible", b"test,refuse\0");
    b.prop("reg", &cells(0x5300_0000, 0x10_0000));
    b.end();
    // Size-only, 2 MiB aligned, top-down in [0x60000000, 0x61000000): 0x60e00000.
    b.begin("dynamic");
    b.prop("compatible", b"test,record\0");
    b.prop("size", &cells(0, 0x20_0000)[8..]);
    b.prop("alignment", &cells(0, 0x20_0000)[8..]);
    b.prop("alloc-ranges", &cells(0x6000_0000, 0x100_0000));
    b.end();
    b.end();
    b.begin("device");
    b.prop("memory-region", &be32(7));
    b.end();
    b.end();
    b.finish(&[(0x5f00_0000, 0x1000)])
}

#[test]
fn reserved_memory_reserves_allocates_runs_hooks_and_hands_back() {
    let blob = reserved_memory_blob();
    let mut mb = std::boxed::Box::new(Memblock::new());
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None };
    let state = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).unwrap();
    let (fdt, table) = (state.fdt, state.reserved);
    assert_eq!(
        regions(&mb, MemblockKind::Memory),
        [(0x4000_0000, 0x1200_0000, 0), (0x5200_0000, 0x10_0000, MemblockFlags::NOMAP.0), (0x5210_0000, 0x2df0_0000, 0)]
    );
    let dtb_size = blob.len() as u64;
    let nd_size = (core::mem::size_of::<crate::mm::buddy::NodeData>() as u64).next_multiple_of(64);
    let node_data = 0x8000_0000 - 0x9000 - nd_size;
    let memmap_end = node_data & !0xfff;
    assert_eq!(
        regions(&mb, MemblockKind::Reserved),
        [
            (0x4020_0000, 0x20_0000, 0), // the kernel image
            (0x4800_0000, dtb_size, 0),  // the blob itself
            (0x5000_0000, 0x40_0000, 0), // fixed (refused@53000000 was handed back)
            (0x5f00_0000, 0x1000, 0),    // /memreserve/
            (0x60e0_0000, 0x20_0000, 0), // dynamic
            // paging_init's tables, top-down from the end of memory, nine of them: the root;
            // for the image at KIMAGE_VADDR (one 2 MiB block) a level-1 and a level-2 table;
            // for the linear map a level-1 and a level-2 table, and a level-3 table for
            // [0x52100000, 0x52200000), the part of the no-map hole's 2 MiB block that is
            // memory (everything else is 2 MiB blocks); for the blob in the fixmap a level-1,
            // a level-2 and a level-3 table (no console: the tree names none). Right below
            // them, merged, the node's NODE_DATA (64-byte aligned). Below that, from the next
            // page boundary down and merged into one region, bootmem_init's memmap (one byte
            // for each of the 262144 frames of the node: 0x40000) and its free-list links (8
            // bytes for each of 262144 * (2 - 2^-10) = 524032 entries, in pages: 0x400000).
            // Then dma_contiguous_reserve's default area: 64 MiB, top-down below the DMA limit
            // (the end of RAM, 0x80000000), aligned down to a pageblock (2 MiB) below them.
            ((memmap_end - 0x40000 - 0x40_0000 - 0x400_0000) & !0x1f_ffff, 0x400_0000, 0),
            (memmap_end - 0x40000 - 0x40_0000, 0x40000 + 0x40_0000, 0),
            (node_data, 0x8000_0000 - node_data, 0),
        ]
    );
    // Both test,record regions reached the hook; sorted by (base, size), the size-only one
    // ((0, 0) at sort time) comes first.
    assert_eq!(
        RECORDED.with(|r| r.borrow().clone()),
        [("dynamic".into(), 0x60e0_0000, 0x20_0000), ("fixed@50000000".into(), 0x5000_0000, 0x40_0000)]
    );
    let fixed = table.lookup_by_name("fixed@50000000").unwrap();
    assert_eq!(fixed.owner, Some("test,record"));
    let device = fdt.find_node("/device").unwrap();
    assert_eq!(table.lookup_device_region(&device, 0).map(|r| r.name), Some("fixed@50000000"));
    assert_eq!(table.lookup_device_region(&device, 1), None);
}

#[test]
fn mem_limit_applies_before_reserved_memory() {
    let blob = reserved_memory_blob();
    // mem=0x18000000 keeps [0x40000000, 0x58000000): the dynamic region's range lies above.
    let mb = run(&blob, "mem=0x18000000");
    let reserved = regions(&mb, MemblockKind::Reserved);
    assert!(!reserved.iter().any(|r| r.0 == 0x60e0_0000), "{reserved:x?}");
    assert_eq!(mb.end_of_dram(), PhysAddr(0x5800_0000));
}

/// The dry-run must turn any blob into Ok or an error value: every truncation and a bit
/// flipped in every byte of a valid blob.
#[test]
fn dry_run_never_panics_on_broken_blobs() {
    let blob = reserved_memory_blob();
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: None, sections: None };
    let attempt = |bytes: &[u8]| {
        let mut mb = std::boxed::Box::new(Memblock::new());
        let _ = dry_run(bytes, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {});
    };
    for len in 0..blob.len() {
        attempt(&blob[..len]);
    }
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = blob.clone();
            b[i] ^= bit;
            attempt(&b);
        }
    }
}

/// After paging_init the kernel reads the blob through a new mapping: the table's names must
/// then point into that copy, not into the old one, and each region's node is found there in
/// one step by its offset.
#[test]
fn reserved_table_rebases_onto_a_copy_of_the_blob() {
    let blob = reserved_memory_blob();
    let mut mb = std::boxed::Box::new(Memblock::new());
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None };
    let state = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).unwrap();
    let table = state.reserved;
    let copy = blob.clone();
    let moved = crate::of::fdt::Fdt::new(&copy).unwrap();
    let rebased = table.rebase(&moved);
    let names: Vec<&str> = rebased.iter().map(|r| r.name).collect();
    assert_eq!(names, table.iter().map(|r| r.name).collect::<Vec<_>>());
    let inside = copy.as_ptr_range();
    assert!(rebased.iter().all(|r| inside.contains(&r.name.as_ptr())));
    assert_eq!(rebased.lookup_by_phandle(7).map(|r| r.base), Some(PhysAddr(0x5000_0000)));
    // Each offset names the region's own node in the copy: fixed@50000000's reg is the region.
    let fixed = rebased.lookup_by_name("fixed@50000000").unwrap();
    let node = moved.node_at(fixed.node).unwrap();
    assert_eq!(node.reg().unwrap().unwrap().collect::<Vec<_>>(), [(0x5000_0000, 0x40_0000)]);
    for r in rebased.iter() {
        assert_eq!(moved.node_at(r.node).map(|n| n.name), Some(r.name));
    }
    let device = moved.find_node("/device").unwrap();
    assert_eq!(rebased.lookup_device_region(&device, 0).map(|r| r.name), Some("fixed@50000000"));
}

/// A bus whose DMA reaches only [0x40000000, 0x80000000) of CPU space limits ZONE_DMA: the
/// last CPU address is 0x7fffffff; a disabled bus with a lower limit does not count.
#[test]
fn dma_ranges_give_the_max_cpu_address() {
    let mut b = Builder::new();
    root(&mut b);
    b.begin("soc");
    b.prop("#address-cells", &be32(2));
    b.prop("#size-cells", &be32(2));
    let mut dma = cells(0, 0x4000_0000)[..8].to_vec(); // child address 0
    dma.extend(cells(0x4000_0000, 0x4000_0000)); // CPU address 0x40000000, size 1 GiB
    b.prop("dma-ranges", &dma);
    b.end();
    b.begin("offbus");
    b.prop("#address-cells", &be32(2));
    b.prop("#size-cells", &be32(2));
    b.prop("status", b"disabled\0");
    let mut low = cells(0, 0)[..8].to_vec();
    low.extend(cells(0, 0x1000_0000));
    b.prop("dma-ranges", &low);
    b.end();
    b.end();
    let blob = b.finish(&[]);
    let fdt = crate::of::fdt::Fdt::new(&blob).unwrap();
    assert_eq!(crate::of::fdt_scan::dma_max_cpu_address(&fdt), Some(0x7fff_ffff));
}

/// A tree whose root sizes addresses and sizes with `root_cells` (the value of both
/// properties), with a memory node holding the blob and a /reserved-memory that repeats the
/// root's cells, as Linux asks, around a carve-out.
fn zero_cells_blob(root_cells: &[u8]) -> Vec<u8> {
    let mut b = Builder::new();
    b.begin("");
    b.prop("#address-cells", root_cells);
    b.prop("#size-cells", root_cells);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
    b.begin("reserved-memory");
    b.prop("#address-cells", root_cells);
    b.prop("#size-cells", root_cells);
    b.prop("ranges", b"");
    b.begin("carveout@50000000");
    b.prop("reg", &cells(0x5000_0000, 0x40_0000));
    b.end();
    b.end();
    b.end();
    b.finish(&[])
}

/// The steps of `dry_run` after the blob check, on a tree that check refuses: what the boot's
/// scans do with it on their own.
fn setup_without_blob_check(blob: &[u8]) -> (std::boxed::Box<Memblock>, Vec<std::string::String>) {
    let fdt = crate::of::fdt::Fdt::new(blob).unwrap();
    let mut mb = std::boxed::Box::new(Memblock::new());
    let inputs = BootInputs { dtb: (PhysAddr(0x4800_0000), blob.len() as u64), kernel: KERNEL, phys_addr_bits: 48, initrd_override: None };
    let (params, malformed) = EarlyParams::parse_collect("");
    let ((machine, table), lines) =
        crate::testlog::capture(|| setup_arch_memory(&fdt, &mut mb, &inputs, &params, &malformed, &HOOKS));
    assert_eq!(machine.cells, crate::of::cells::Cells { addr: 0, size: 0 });
    assert!(table.is_empty(), "no region is kept");
    (mb, lines)
}

/// Root cell properties of 8 zero bytes: Linux reads their first cell, 0, so every `reg` of
/// the early scan has entries of no bytes (Linux's memory scan would loop forever on them and
/// its reserved-memory check divide by zero). The dry-run stops at the blob check, which finds
/// no memory node it can read, and says so; the scans behind it refuse each `reg` with a line.
#[test]
fn root_cells_of_eight_zero_bytes_are_refused_with_a_message() {
    use crate::of::cells::RegError;
    let blob = zero_cells_blob(&[0; 8]);
    let mut mb = std::boxed::Box::new(Memblock::new());
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None };
    let err = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).err();
    assert_eq!(err, Some(crate::of::DtbError::MemoryReg(RegError::ZeroWidth)));
    assert_eq!(
        std::format!("{}", err.unwrap()),
        "no memory node describes any memory, and one has an invalid reg property: \
         #address-cells and #size-cells are 0, so its entries have no bytes"
    );
    let (mb, lines) = setup_without_blob_check(&blob);
    assert!(regions(&mb, MemblockKind::Memory).is_empty());
    for line in [
        "OF: fdt: invalid reg property in 'memory@40000000', skipping node: #address-cells and #size-cells are 0, so its entries have no bytes",
        "OF: fdt: Reserved memory: invalid reg property in 'carveout@50000000', skipping node.",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line:?} not in {lines:#?}");
    }
}

/// `#address-cells = <0>` and `#size-cells = <0>` at the root and on /reserved-memory: the
/// memory node's and the carve-out's `reg` are zero-width, and each is refused with a line
/// naming the node and the property; nothing is added or reserved from them (the kernel image
/// and the blob are reserved as always).
#[test]
fn a_zero_width_reg_is_refused_with_a_message() {
    let blob = zero_cells_blob(&be32(0));
    let (mb, lines) = setup_without_blob_check(&blob);
    assert!(regions(&mb, MemblockKind::Memory).is_empty());
    assert_eq!(
        regions(&mb, MemblockKind::Reserved),
        [(0x4020_0000, 0x20_0000, 0), (0x4800_0000, blob.len() as u64, 0)],
        "the image and the blob, not the carve-out"
    );
    let refused: Vec<&str> = lines.iter().map(|l| l.as_str()).filter(|l| l.contains("invalid reg")).collect();
    assert_eq!(
        refused,
        [
            "OF: fdt: invalid reg property in 'memory@40000000', skipping node: #address-cells and #size-cells are 0, so its entries have no bytes",
            "OF: fdt: Reserved memory: invalid reg property in 'carveout@50000000', skipping node.",
        ]
    );
}

/// A small tree with one memory bank and the first `uefi` of Linux's UEFI properties in
/// `/chosen`.
fn efi_blob(uefi: usize) -> Vec<u8> {
    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
    b.begin("chosen");
    for name in &crate::of::chosen::UEFI_PARAMS[..uefi] {
        b.prop(name, &cells(0x4100_0000, 0)[..8]);
    }
    b.end();
    b.end();
    b.finish(&[])
}

/// Linux's efi_init runs after parse_early_param (so after `Memory limited to`) and before
/// arm64_memblock_init (so before any reserved-memory line); without a UEFI system table in
/// /chosen it says `efi: UEFI not found.`; with one but not the rest, it names the first
/// missing property (Debian's 6.1, booted with 1, 2 and 5 of them) and boots without UEFI.
#[test]
fn uefi_not_found_is_said_between_the_early_params_and_memblock_init() {
    let lines_of = |uefi: usize| {
        let blob = efi_blob(uefi);
        let mut mb = std::boxed::Box::new(Memblock::new());
        let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some("mem=512M memblock=debug"), sections: None };
        crate::testlog::capture(|| dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).map(|_| ())).1
    };
    let lines = lines_of(0);
    let at = |want: &str| lines.iter().position(|l| l.starts_with(want)).unwrap_or_else(|| panic!("{want:?} not in {lines:#?}"));
    let efi = at("efi: UEFI not found.");
    assert_eq!(lines[efi], "efi: UEFI not found.");
    assert!(at("Memory limited to 512MB") < efi);
    // memblock=debug: arm64_memblock_init's first reservation (the kernel image) comes after.
    assert!(efi < at("memblock_reserve: "), "{lines:#?}");
    let efi_lines = |uefi| lines_of(uefi).into_iter().filter(|l| l.starts_with("efi: ")).collect::<Vec<_>>();
    assert_eq!(efi_lines(1), ["efi: Can't find property 'linux,uefi-mmap-start' in DT!"]);
    assert_eq!(efi_lines(2), ["efi: Can't find property 'linux,uefi-mmap-size' in DT!"]);
    assert_eq!(efi_lines(5), ["efi: Can't find property 'linux,uefi-secure-boot' in DT!"]);
    assert_eq!(efi_lines(6).len(), 1, "all of them: one line saying UEFI is not used");
}

/// A `no-map` region that is not page aligned: `reg = <0x0 0x50000800 0x0 0x1000>` splits
/// memory at 0x50000800 and 0x50001800. Linux's __create_pgd_mapping widens each linear range
/// to whole pages, so the two pages the region touches stay mapped and paging_init goes on
/// (it refused the range before, and the boot stopped); the memmap then counts both pages
/// reserved, as Linux's for_each_mem_pfn_range leaves [0x50000, 0x50002) out of the node.
#[test]
fn an_unaligned_no_map_region_is_mapped_in_whole_pages() {
    let mut b = begin_reserved_memory();
    b.begin("fw@50000800");
    b.prop("reg", &cells(0x5000_0800, 0x1000));
    b.prop("no-map", b"");
    b.end();
    b.end();
    b.end();
    let blob = b.finish(&[]);
    let mut mb = std::boxed::Box::new(Memblock::new());
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 40, initrd: None, cmdline: None, sections: None };
    let state = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).expect("a valid blob");
    let nomap = MemblockFlags::NOMAP.0;
    assert_eq!(regions(&mb, MemblockKind::Memory)[..3], [(0x4000_0000, 0x1000_0800, 0), (0x5000_0800, 0x1000, nomap), (0x5000_1800, 0x2fff_e800, 0)]);
    let bootmem = state.bootmem.expect("paging_init maps the pages around the region");
    // 0x40000 frames from 0x40000000, less the two the region touches.
    assert_eq!(bootmem.zones.nodes[0].node_present_pages, 0x40000 - 2);
}

/// An `alloc-ranges` entry whose end (`start + size`, in u64) wraps past 2^64 ends below its
/// start: that range holds nothing, and the node fails as in Linux (Debian's 6.1 with this
/// node prints the same line; the end is not saturated to "anywhere").
#[test]
fn alloc_ranges_whose_end_wraps_hold_nothing() {
    let mut b = begin_reserved_memory();
    b.begin("rw");
    b.prop("size", &cells(0, 0x10_0000)[8..]);
    b.prop("alloc-ranges", &cells(0x6000_0000, 0xffff_ffff_f000_0000));
    b.end();
    b.end();
    b.end();
    let blob = b.finish(&[]);
    let mut mb = std::boxed::Box::new(Memblock::new());
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None };
    let (_, lines) = crate::testlog::capture(|| dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).map(|_| ()));
    assert!(lines.iter().any(|l| l == "OF: reserved mem: failed to allocate memory for node 'rw': size 1 MiB"), "{lines:?}");
    assert!(!regions(&mb, MemblockKind::Reserved).iter().any(|&(base, size, _)| base >= 0x6000_0000 && size == 0x10_0000));
}

/// A blob in a hole of the memory it describes boots, as Linux's does (booted with Debian's
/// 6.1 through a firmware stub, the blob loaded at 0x48000000 between banks
/// [0x40000000, 0x48000000) and [0x50000000, 0x80000000): its memblock dump lists the blob
/// as `reserved[0x1] [0x0000000048000000-…]` and both banks as memory). The blob is reserved
/// where it lies; memory is what the nodes say. A tree with no memory at all stops.
#[test]
fn a_blob_in_a_hole_of_memory_is_reserved_where_it_lies() {
    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x800_0000), (0x5000_0000, 0x3000_0000)], &[]);
    b.end();
    let blob = b.finish(&[]);
    let mb = run(&blob, "");
    assert_eq!(regions(&mb, MemblockKind::Memory), [(0x4000_0000, 0x800_0000, 0), (0x5000_0000, 0x3000_0000, 0)]);
    assert!(regions(&mb, MemblockKind::Reserved).contains(&(0x4800_0000, blob.len() as u64, 0)));

    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0)], &[]);
    b.end();
    let blob = b.finish(&[]);
    let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: None, sections: None };
    let mut mb = std::boxed::Box::new(Memblock::new());
    let err = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).err();
    assert_eq!(err, Some(crate::of::DtbError::NoMemory));
}

/// `initrd=START,SIZE` replaces the initrd of `/chosen`, as Linux's early param sets the same
/// phys_initrd_start and size after the tree's scan. Debian's 6.1, given QEMU's initrd at
/// 0x48000000 and `initrd=0x50000000,0x1ff001`, reserves [0x50000000, 0x50200000) (the pages
/// around it) and nothing at 0x48000000 (here the tree's initrd is at 0x44000000, the blob
/// at 0x48000000); a size of 0 leaves no initrd at all.
#[test]
fn the_initrd_option_replaces_the_chosen_one() {
    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
    b.begin("chosen");
    b.prop("linux,initrd-start", &0x4400_0000u64.to_be_bytes());
    b.prop("linux,initrd-end", &0x4410_0000u64.to_be_bytes());
    b.end();
    b.end();
    let blob = b.finish(&[]);
    let initrd = |mb: &Memblock, base: u64| regions(mb, MemblockKind::Reserved).iter().find(|r| r.0 == base).map(|r| r.1);
    let mb = run(&blob, "");
    assert_eq!(initrd(&mb, 0x4400_0000), Some(0x10_0000));
    let mb = run(&blob, "initrd=0x50000000,0x1ff001");
    assert_eq!((initrd(&mb, 0x4400_0000), initrd(&mb, 0x5000_0000)), (None, Some(0x20_0000)));
    let mb = run(&blob, "initrd=0x50000000,0");
    assert_eq!((initrd(&mb, 0x4400_0000), initrd(&mb, 0x5000_0000)), (None, None));
}

/// `elfcorehdr=SIZE@ADDR` reserves the crash dump header as `/chosen/linux,elfcorehdr` does
/// (Debian's 6.1 given `elfcorehdr=64K@0x50000000` says `OF: fdt: Reserving 64 KiB of memory
/// at 0x50000000 for elfcorehdr` and reserves it); `elfcorehdr=ADDR` moves the tree's header
/// and keeps its size; without a size from either, nothing is reserved.
#[test]
fn the_elfcorehdr_option_sets_address_and_size() {
    let blob = |chosen: bool| {
        let mut b = Builder::new();
        root(&mut b);
        memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
        if chosen {
            b.begin("chosen");
            b.prop("linux,elfcorehdr", &cells(0x4400_0000, 0x2000));
            b.end();
        }
        b.end();
        b.finish(&[])
    };
    let reserved = |mb: &Memblock, base: u64| regions(mb, MemblockKind::Reserved).iter().find(|r| r.0 == base).map(|r| r.1);
    let (mb, lines) = crate::testlog::capture(|| run(&blob(false), "elfcorehdr=64K@0x50000000"));
    assert_eq!(reserved(&mb, 0x5000_0000), Some(0x1_0000));
    assert!(lines.iter().any(|l| l == "OF: fdt: Reserving 64 KiB of memory at 0x50000000 for elfcorehdr"), "{lines:?}");
    let mb = run(&blob(true), "elfcorehdr=0x50000000");
    assert_eq!((reserved(&mb, 0x4400_0000), reserved(&mb, 0x5000_0000)), (None, Some(0x2000)));
    let mb = run(&blob(false), "elfcorehdr=0x50000000");
    assert_eq!(reserved(&mb, 0x5000_0000), None);
}

/// smp_init_cpus runs in the dry-run too: the possible CPUs (swiotlb's area count) are the
/// tree's CPUs with a working enable-method, as many as `nr_cpus=` allows.
#[test]
fn the_dry_run_counts_the_possible_cpus() {
    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
    b.begin("cpus");
    b.prop("#address-cells", &be32(1));
    b.prop("#size-cells", &be32(0));
    for cpu in 0..3u32 {
        b.begin(&std::format!("cpu@{cpu}"));
        b.prop("device_type", b"cpu\0");
        b.prop("reg", &be32(cpu));
        b.prop("enable-method", b"psci\0");
        b.end();
    }
    b.end();
    b.end();
    let blob = b.finish(&[]);
    for (cmdline, possible) in [("", 3), ("nr_cpus=2", 2)] {
        let opts = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some(cmdline), sections: None };
        let mut mb = std::boxed::Box::new(Memblock::new());
        let state = dry_run(&blob, &opts, &mut mb, &HOOKS, HostTables::default(), &mut |_, _| {}).expect("boots");
        assert_eq!(state.bootmem.map(|b| b.nr_cpus).ok(), Some(possible), "{cmdline:?}");
    }
}
