//! Host tests of the dry-run at the edges: values near 2^64 from the tree and the options
//! (each once overflowed: a panic in debug builds, a silent wrap in release builds), a tree
//! too large for the host, and how the simulated boot's end shows in the exit status.

use super::host::{mem_init, HostLimit};
use super::{dry_run, qemu_dtb_addr, BootStop, DryRun, Ending};
use crate::mm::memblock::{Memblock, MemblockKind};
use crate::mm::pgtable::PgtableError;
use crate::mm::PhysAddr;
use crate::of::testblob::{cells, Builder};
use crate::setup::dryrun::HostTables;
use crate::setup::tests::{reserved_memory_blob, HOOKS};
use std::boxed::Box;
use std::vec::Vec;

const KERNEL: (PhysAddr, PhysAddr) = (PhysAddr(0x4020_0000), PhysAddr(0x4040_0000));
const OPTS: DryRun = DryRun { dtb_addr: PhysAddr(0x4800_0000), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: Some(""), sections: None };

/// A two-cell root with memory nodes `banks` (one node each) and, when given, a PL011 whose
/// `reg` is `console`.
pub(crate) fn tree(banks: &[(u64, u64)], console: Option<(u64, u64)>) -> Vec<u8> {
    let mut b = Builder::new();
    b.begin("");
    b.prop("#address-cells", &2u32.to_be_bytes());
    b.prop("#size-cells", &2u32.to_be_bytes());
    for (i, &(base, size)) in banks.iter().enumerate() {
        b.begin(&std::format!("memory@{i}"));
        b.prop("device_type", b"memory\0");
        b.prop("reg", &cells(base, size));
        b.end();
    }
    if let Some((base, size)) = console {
        b.begin("pl011@9000000");
        b.prop("compatible", b"arm,pl011\0arm,primecell\0");
        b.prop("reg", &cells(base, size));
        b.end();
    }
    b.end();
    b.finish(&[])
}

/// The dry-run and the host's mem_init, as `kernel memmap` runs them.
pub(super) fn run(blob: &[u8], opts: &DryRun, limit: u64) -> (Result<Ending, HostLimit>, Vec<std::string::String>, Box<Memblock>) {
    run_with(blob, opts, limit, &HOOKS)
}

/// [`run`] with the reserved-memory hooks `hooks`.
pub(super) fn run_with(
    blob: &[u8],
    opts: &DryRun,
    limit: u64,
    hooks: &[crate::of::reserved_mem::ReservedMemOfId],
) -> (Result<Ending, HostLimit>, Vec<std::string::String>, Box<Memblock>) {
    let mut mb = Box::new(Memblock::new());
    let (ending, lines) = crate::testlog::capture(|| {
        let state = match dry_run(blob, opts, &mut mb, hooks, HostTables::default(), &mut |_, _| {}) {
            Ok(s) => s,
            Err(e) => return Ok(Ending::Refused(e)),
        };
        Ok(match mem_init(&mut mb, &state, opts, limit, || ())? {
            Ok(()) => Ending::Complete,
            Err(stop) => Ending::Panic(stop),
        })
    });
    (ending, lines, mb)
}

/// Two banks of 2^63 bytes each: their sum is 2^64. QEMU's placement takes min(RAM / 2,
/// 128 MiB) past the lowest base, which a saturated sum keeps: 0x40000000 + 128 MiB =
/// 0x48000000, already 2 MiB aligned.
#[test]
fn qemu_placement_sums_huge_banks_without_overflow() {
    let blob = tree(&[(0x4000_0000, 1 << 63), (0x8000_0000_4000_0000, 1 << 63)], None);
    assert_eq!(qemu_dtb_addr(&blob, None), Some(PhysAddr(0x4800_0000)));
    // A bank whose base is so high that base + 128 MiB passes 2^64: no place.
    let blob = tree(&[(u64::MAX - 0x1000, 0x1000)], None);
    assert_eq!(qemu_dtb_addr(&blob, None), None);
}

/// A blob placed 256 bytes below 2^64 (`--dtb-addr`, 8-byte aligned): [base, base + totalsize)
/// would pass the top (the blob is longer), so the header check refuses it by name, in one
/// line.
#[test]
fn a_blob_near_the_top_of_the_space_is_refused() {
    let blob = reserved_memory_blob();
    let opts = DryRun { dtb_addr: PhysAddr(u64::MAX & !0xff), ..OPTS };
    assert!(blob.len() > 0x100);
    let (ending, _, _) = run(&blob, &opts, 1 << 30);
    let totalsize = blob.len() as u32;
    let refused = crate::of::DtbError::PastEndOfSpace { base: opts.dtb_addr, totalsize };
    assert_eq!(ending, Ok(Ending::Refused(refused)));
    assert_eq!(ending.unwrap().exit_status(), 2);
}

/// An initrd in the last page (`--initrd`): page-aligned it would end at 2^64, past every
/// linear map: Linux's warning and no reservation; the boot goes on.
#[test]
fn an_initrd_near_the_top_is_warned_about_not_reserved() {
    let blob = reserved_memory_blob();
    let top = u64::MAX & !0xfff;
    let opts = DryRun { initrd: Some((PhysAddr(top), PhysAddr(u64::MAX))), ..OPTS };
    let (ending, lines, mb) = run(&blob, &opts, 1 << 30);
    assert_eq!(ending, Ok(Ending::Complete));
    let warning = "initrd not fully accessible via the linear mapping -- please check your bootloader ...";
    assert!(lines.iter().any(|l| l == warning), "{lines:#?}");
    assert!(mb.ty(MemblockKind::Reserved).regions().iter().all(|r| r.base.0 < top));
}

/// A console whose `reg` size is 2^64 - 1: the fixmap maps the console's slot and no more (Linux
/// maps one page for its early console), and the boot goes on.
#[test]
fn a_console_reg_size_near_2_64_maps_only_the_fixmap_slot() {
    let blob = tree(&[(0x4000_0000, 0x4000_0000)], Some((0x900_0000, u64::MAX)));
    let (ending, lines, _) = run(&blob, &OPTS, 1 << 30);
    assert_eq!(ending, Ok(Ending::Complete), "{lines:#?}");
}

/// Banks at the top of the space, through early_init_dt_add_memory_arch with no address
/// limit (max_addr = 2^64 - 1):
/// ```text
///   2^64 - 0x800      2^64        base in the last page, unaligned, ending at 2^64:
///        |--bank--|                no whole page; aligning the base up would wrap to 0
///   2^64 - 0x2800     2^64        base unaligned, ending at 2^64: the two whole pages
///        |--+----+----|            [2^64 - 0x2000, 2^64), which memblock_cap_size cuts by one
///                                  byte (a region's end must be representable): size 0x1fff
///   2^64 - 0x1000     2^64        the last page, aligned: size 0xfff after the same cut
/// ```
#[test]
fn memory_banks_at_the_top_neither_wrap_nor_panic() {
    use crate::of::fdt_scan::add_memory_arch;
    let memory = |base: u64, size: u64| {
        let mut mb = Box::new(Memblock::new());
        let (_, lines) = crate::testlog::capture(|| add_memory_arch(&mut mb, base, size, u64::MAX));
        let regions: Vec<(u64, u64)> = mb.ty(MemblockKind::Memory).regions().iter().map(|r| (r.base.0, r.size)).collect();
        (regions, lines)
    };
    let (regions, lines) = memory(u64::MAX - 0x7ff, 0x800);
    assert!(regions.is_empty());
    assert_eq!(lines, ["OF: fdt: Ignoring memory block 0xfffffffffffff800 - 0x10000000000000000"]);
    assert_eq!(memory(u64::MAX - 0x27ff, 0x2800).0, [(u64::MAX - 0x1fff, 0x1fff)]);
    assert_eq!(memory(u64::MAX - 0xfff, 0x1000).0, [(u64::MAX - 0xfff, 0xfff)]);
}

/// A tree claiming 128 TiB of RAM from 0x40000000 (inside 48 bits): the boot would place its
/// memmap in that RAM, but the host simulating mem_init would need one memmap byte and 16
/// bytes of links per frame, 2^35 frames (all in present sections: one run), about 544 GiB:
/// refused with a message, before any allocation.
#[test]
fn a_tree_too_large_for_the_host_is_refused_before_allocating() {
    let blob = tree(&[(0x4000_0000, 128 << 40)], None);
    let (ending, _, _) = run(&blob, &OPTS, 1 << 30);
    let frames = (128u64 << 40) >> 12;
    // In memblock's whole pages: the memmap (2^35 bytes, whole already), then the links
    // (8 * (2^36 - 2^25) bytes, whole too) with the table of one 24-byte run and the 2^20
    // section states (one byte per 128 MiB section): 2^20 bytes and one page more.
    let need = frames + crate::mm::buddy::ArrayLinks::slots_for(frames) * 8 + (1 << 20) + 4096;
    assert_eq!(ending, Err(HostLimit::TooLarge { need, limit: 1 << 30 }));
    assert_eq!(need >> 30, 543, "17 bytes a frame, less the links' rounding");
}

/// RAM of the blob's page and two more: paging_init takes the root table and one more, then
/// finds no page for the next: the boot would panic with Linux's words, and the dry-run says
/// so, with exit status 3.
#[test]
fn a_boot_that_would_panic_is_a_panic_ending() {
    let blob = tree(&[(0x4800_0000, 0x3000)], None);
    let (ending, lines, _) = run(&blob, &OPTS, 1 << 30);
    let Ok(Ending::Panic(stop @ BootStop::PagingInit(PgtableError::TableAlloc { .. }))) = ending else {
        panic!("{ending:?}");
    };
    assert!(lines.iter().any(|l| l == "Kernel panic - not syncing: Failed to allocate page table page"), "{lines:#?}");
    assert_eq!(Ending::Panic(stop).exit_status(), 3);
    assert_eq!(Ending::Complete.exit_status(), 0);
}

/// Arm's standard DRAM windows: 2 GiB at 0x80000000 and 6 GiB at `high`, one node.
fn large_hole(high: u64) -> (Result<Ending, HostLimit>, Vec<std::string::String>) {
    let blob = tree(&[(0x8000_0000, 2 << 30), (high, 6 << 30)], None);
    // The image and the blob where QEMU would put them: 2 MiB into RAM, and 128 MiB in.
    let kernel = (PhysAddr(0x8020_0000), PhysAddr(0x8040_0000));
    let opts = DryRun { dtb_addr: PhysAddr(0x8800_0000), kernel, cmdline: Some("memblock=debug"), ..OPTS };
    let (ending, lines, _) = run(&blob, &opts, 1 << 30);
    (ending, lines)
}

/// 2 GiB at 0x80000000 + 6 GiB at 0x8800000000: a node spanning 548 GiB with 8 GiB of RAM.
/// The memmap covers the 64 present sections of 128 MiB, 2^21 frames, not the span:
/// - memmap: 2^21 bytes = 512 pages;
/// - links: sum over orders 0..10 of 2^21 / 2^o = 2^22 - 2^11 entries of 8 bytes = 8188
///   pages exactly, and the tables of 2 runs (48 bytes) and 64 section states behind them:
///   8189 pages;
///   together 8701 pages, 34804K (a flat memmap over the span took 595950 pages, 2383800K,
///   and the boot reported 2451428K reserved).
/// The rest of the reserved pages: the image [0x80200000, 0x80400000) 512, the blob 1,
/// NODE_DATA 1 (0xf40 bytes at the top of the node, alone in its page), paging_init's 9
/// table pages (the 9 one-page reservations at the top of RAM) and swiotlb's 64 MiB (RAM
/// ends above the 4 GiB DMA limit): 512 + 1 + 1 + 9 + 16384 = 16907 pages, 67628K.
/// Reserved: 34804K + 67628K = 102432K; available: 8388608K - 102432K - 65536K of CMA =
/// 8220640K. Zone lines: DMA's 16 sections cost 16 * 32768 + 8 * 16 * 65504 bytes = 2175
/// pages, Normal's 48 sections 6525 pages (the holes cost nothing).
#[test]
fn a_large_hole_costs_memmap_for_its_ram_only() {
    let (ending, lines) = large_hole(0x88_0000_0000);
    assert_eq!(ending, Ok(Ending::Complete), "{lines:#?}");
    let has = |want: &str| lines.iter().any(|l| l.starts_with(want));
    assert!(has("memblock_alloc_try_nid_raw: 2097152 bytes align=0x1000 nid=0 "), "{lines:#?}");
    assert!(has("memblock_alloc_try_nid_raw: 33542144 bytes align=0x1000 nid=0 "), "{lines:#?}");
    assert!(has("  DMA zone: 2175 pages used for memmap") && has("  Normal zone: 6525 pages used for memmap"));
    let memory = "Memory: 8220640K/8388608K available (0K kernel code, 0K rwdata, 0K rodata, 0K init, 0K bss, 102432K reserved, 65536K cma-reserved)";
    assert!(lines.iter().any(|l| l == memory), "{lines:#?}");
    // Zone spans and present pages still show the hole as Linux reports it.
    assert!(has("  Normal   [mem 0x0000000100000000-0x000000897fffffff]"));
    assert!(has("Initmem setup node 0 [mem 0x0000000080000000-0x000000897fffffff]"));
    assert!(has("On node 0 totalpages: 2097152"));
}

/// The same RAM with the high bank at 8 TiB: a flat memmap over the span would need about
/// 136 GiB (the allocation failed and the boot panicked with `node 0 is not set up`); the
/// sparse one is the same 64 sections, the same two allocations, and the boot completes.
#[test]
fn a_wider_hole_boots() {
    let (ending, lines) = large_hole(0x800_0000_0000);
    assert_eq!(ending, Ok(Ending::Complete), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.starts_with("Failed to allocate memmap")), "{lines:#?}");
    for bytes in [2097152, 33542144] {
        let line = std::format!("memblock_alloc_try_nid_raw: {bytes} bytes align=0x1000 nid=0 ");
        assert!(lines.iter().any(|l| l.starts_with(&line)), "{lines:#?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("Memory: ")), "{lines:#?}");
}
