//! Host tests of `swiotlb_init`: when it allocates, where, and what it prints.

use super::*;
use crate::mm::memblock::MemblockKind;
use std::string::{String, ToString};
use std::vec::Vec;

const GIB: u64 = 1 << 30;

fn run(ram: u64, limit: bool, params: SwiotlbParams, cpus: u32) -> (Option<IoTlb>, Vec<String>, std::boxed::Box<Memblock>) {
    let mut mb = std::boxed::Box::new(Memblock::new());
    mb.add(PhysAddr(GIB), ram).unwrap();
    let mut lines = Vec::new();
    let tlb = swiotlb_init(&mut mb, limit, &params, cpus, 4 * GIB, &mut |a| lines.push(a.to_string()));
    (tlb, lines, mb)
}

/// -m 6G (RAM [1 GiB, 7 GiB), DMA limit 4 GiB): 64 MiB = 32768 slabs of 2 KiB, top-down below
/// ARCH_LOW_ADDRESS_LIMIT 0xffffffff: the highest page-aligned start whose end stays at or
/// below 0xffffffff is 0xffffffff - 0x4000000 = 0xfbffffff, aligned down 0xfbfff000; so
/// [0xfbfff000, 0xfffff000), Linux's own line in linux-6.1/zones-6G.log.
#[test]
fn six_gib_maps_64_mib_below_4_gib() {
    let (tlb, lines, mb) = run(6 * GIB, true, SwiotlbParams::default(), 1);
    assert_eq!(tlb, Some(IoTlb { start: PhysAddr(0xfbff_f000), end: PhysAddr(0xffff_f000), nslabs: 32768 }));
    assert_eq!(lines, ["software IO TLB: area num 1.", "software IO TLB: mapped [mem 0x00000000fbfff000-0x00000000fffff000] (64MB)"]);
    assert_eq!(mb.ty(MemblockKind::Reserved).total_size(), 64 << 20, "the buffer is reserved");
}

/// No addressing limit: nothing, unless forced; noforce wins over the limit.
#[test]
fn only_when_needed_or_forced() {
    let (tlb, lines, _) = run(GIB, false, SwiotlbParams::default(), 1);
    assert_eq!((tlb, lines.len()), (None, 0));
    let (tlb, _, _) = run(GIB, false, SwiotlbParams::parse("force"), 1);
    // 1 GiB of RAM ends at 2 GiB, below the limit 0xffffffff: the top of RAM bounds the
    // search, so the buffer ends there.
    assert_eq!(tlb.map(|t| t.end), Some(PhysAddr(0x8000_0000)));
    let (tlb, _, _) = run(6 * GIB, true, SwiotlbParams::parse("noforce"), 1);
    assert_eq!(tlb, None);
}

/// swiotlb=N: N slabs rounded up to 128 (IO_TLB_SEGSIZE); 1000 → 1024 slabs = 2 MiB; three
/// CPUs make 4 areas (the next power of two). swiotlb=100 → 128 slabs with two CPUs: two
/// areas need 2 × 128 = 256 slabs, so Linux rounds up and says so (512 KiB: "0MB" in its
/// integer MiB).
#[test]
fn slabs_areas_and_roundup() {
    assert_eq!(SwiotlbParams::parse("1000"), SwiotlbParams { nslabs: 1024, nareas: 0, force: false, noforce: false });
    // Four areas need 4 × 128 slabs: 256 grows to 512 as the option is read.
    assert_eq!(SwiotlbParams::parse("0x100,4,force"), SwiotlbParams { nslabs: 512, nareas: 4, force: true, noforce: false });
    let (tlb, lines, _) = run(6 * GIB, true, SwiotlbParams::parse("1000"), 3);
    assert_eq!(tlb.unwrap().end.0 - tlb.unwrap().start.0, 2 << 20);
    assert_eq!(lines[0], "software IO TLB: area num 4.");
    assert!(lines[1].ends_with("(2MB)"));
    let (tlb, lines, _) = run(6 * GIB, true, SwiotlbParams::parse("100"), 2);
    assert_eq!(tlb.unwrap().nslabs, 256);
    assert_eq!(lines[1], "software IO TLB: SWIOTLB bounce buffer size roundup to 0MB");
}

/// Memory too small below the limit: each failed attempt is said and halves the buffer (6.1.y's
/// swiotlb_init_remap), down to 1 MiB. 32 MiB of free RAM: 64 MiB fails, 32 MiB fills it,
/// and the size is said to be adjusted (Debian's 6.1 printed the same three lines at -m 128M
/// swiotlb=force).
#[test]
fn failure_halves_the_buffer() {
    let (tlb, lines, mb) = run(32 << 20, true, SwiotlbParams::default(), 1);
    assert_eq!(tlb.map(|t| (t.end.0 - t.start.0, t.nslabs)), Some((32 << 20, 16384)));
    assert_eq!(
        lines,
        [
            "software IO TLB: area num 1.",
            "software IO TLB: swiotlb_memblock_alloc: Failed to allocate 67108864 bytes tlb structure",
            "software IO TLB: SWIOTLB bounce buffer size adjusted 32768 -> 16384 slabs",
            "software IO TLB: mapped [mem 0x0000000040000000-0x0000000042000000] (32MB)",
        ]
    );
    assert_eq!(mb.ty(MemblockKind::Reserved).total_size(), 32 << 20);
}

/// Not even 1 MiB below the limit: seven failures (64 MiB down to 1 MiB), nothing reserved.
#[test]
fn failure_down_to_one_mib_is_a_warning_each() {
    let (tlb, lines, mb) = run(512 << 10, true, SwiotlbParams::default(), 1);
    assert_eq!(tlb, None);
    let sizes: Vec<u64> = (0..7).map(|i| (64 << 20) >> i).collect();
    let want: Vec<String> =
        sizes.iter().map(|b| std::format!("software IO TLB: swiotlb_memblock_alloc: Failed to allocate {b} bytes tlb structure")).collect();
    assert_eq!(lines[1..], want[..]);
    assert_eq!(mb.ty(MemblockKind::Reserved).total_size(), 0);
}

/// `swiotlb=` as `setup_io_tlb_npages` reads it, each checked against Debian's 6.1 booted with
/// the same option in the same QEMU machine:
/// - N through `simple_strtoul(.., 0)`: `010000` is octal, 4096 slabs, 8 MiB;
/// - M areas adjusted at the option, said there (`area num 4.`), and not again in
///   swiotlb_init; `1,64` needs 64 × 128 slabs, so the buffer grows to 16 MiB and says so;
/// - a slab count that is no power of two grows to the next one (3000 → 3072 → 4096).
#[test]
fn option_as_setup_io_tlb_npages_reads_it() {
    assert_eq!(SwiotlbParams::parse("010000").nslabs, 4096);
    let mut p = SwiotlbParams::default();
    let mut said = Vec::new();
    p.parse_into("1024,4,force", &mut |l| said.push(l.to_string()));
    assert_eq!(said, ["software IO TLB: area num 4."]);
    let (tlb, lines, _) = run(GIB, false, p, 1);
    assert_eq!(tlb.map(|t| t.nslabs), Some(1024));
    assert_eq!(lines, ["software IO TLB: mapped [mem 0x000000007fe00000-0x0000000080000000] (2MB)"]);
    let mut said = Vec::new();
    let mut p = SwiotlbParams::default();
    p.parse_into("1,64,force", &mut |l| said.push(l.to_string()));
    assert_eq!(said, ["software IO TLB: area num 64.", "software IO TLB: SWIOTLB bounce buffer size roundup to 16MB"]);
    assert_eq!(p.nslabs, 8192);
    let (_, lines, _) = run(6 * GIB, true, SwiotlbParams::parse("3000"), 1);
    assert_eq!(lines[..2], ["software IO TLB: area num 1.", "software IO TLB: SWIOTLB bounce buffer size roundup to 8MB"]);
    // An area count of 0 is one area; 5 rounds up to 8.
    let mut said = Vec::new();
    SwiotlbParams::default().parse_into("1024,0", &mut |l| said.push(l.to_string()));
    SwiotlbParams::default().parse_into("1024,5", &mut |l| said.push(l.to_string()));
    assert_eq!(said, ["software IO TLB: area num 1.", "software IO TLB: area num 8."]);
    // Past 2^31 areas the power of two does not fit the unsigned int: 0, printed as %d; with
    // no area the slab count is left alone.
    let mut said = Vec::new();
    let mut p = SwiotlbParams::default();
    p.parse_into("1024,2147483649", &mut |l| said.push(l.to_string()));
    assert_eq!((said.as_slice(), p.nslabs, p.nareas), (["software IO TLB: area num 0.".to_string()].as_slice(), 1024, 0));
    let mut said = Vec::new();
    SwiotlbParams::default().parse_into("1024,2147483648", &mut |l| said.push(l.to_string()));
    assert_eq!(said[0], "software IO TLB: area num -2147483648.");
}

/// Linux keeps swiotlb='s settings in globals that each option only sets: a later
/// `swiotlb=force` keeps an earlier slab count, and an earlier `noforce` stays.
#[test]
fn later_options_keep_what_earlier_ones_set() {
    let mut p = SwiotlbParams::default();
    p.parse_into("1024", &mut |_| {});
    p.parse_into("force", &mut |_| {});
    assert_eq!((p.nslabs, p.force), (1024, true));
    let mut p = SwiotlbParams::default();
    p.parse_into("noforce", &mut |_| {});
    p.parse_into("force", &mut |_| {});
    assert_eq!(run(6 * GIB, true, p, 1).0, None, "noforce wins");
}
