//! Host tests of `crashkernel=`: the parsers' forms and complaints, and where arm64 places
//! the reservation. The cases marked "booted" ran on Debian's Linux 6.1 in QEMU (-m 6G unless
//! said), which printed the lines expected here.

use super::*;
use crate::mm::memblock::MemblockKind;
use crate::testlog::capture;
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn parsed(cmdline: &str, ram: u64) -> (Parsed, Vec<String>) {
    let mut p = Parsed::NotFound;
    let (_, lines) = capture(|| p = parse(cmdline, ram, None));
    (p, lines)
}

#[test]
fn the_simple_form_and_its_complaints() {
    let found = |size, base| (Parsed::Found { size, base }, Vec::<String>::new());
    assert_eq!(parsed("crashkernel=256M", GIB), found(256 * MIB, 0));
    assert_eq!(parsed("crashkernel=100M@0x50000000 quiet", GIB), found(100 * MIB, 0x5000_0000));
    assert_eq!(parsed("quiet", GIB), (Parsed::NotFound, Vec::new()));
    // Booted: both lines are Linux's.
    assert_eq!(parsed("crashkernel=xyz", GIB), (Parsed::Invalid, std::vec!["crashkernel: memory value expected".into()]));
    assert_eq!(parsed("crashkernel=100Mq", GIB), (Parsed::Invalid, std::vec!["crashkernel: unrecognized char: q".into()]));
    // The last one counts, and the search is a string search (strstr).
    assert_eq!(parsed("crashkernel=1G crashkernel=64M", GIB), found(64 * MIB, 0));
    assert_eq!(parsed("x.crashkernel=32M", GIB), found(32 * MIB, 0));
    // One with a suffix is not the simple form.
    assert_eq!(parsed("crashkernel=64M crashkernel=1G,high", GIB), found(64 * MIB, 0));
    assert_eq!(parsed("crashkernel=1G,high", GIB).0, Parsed::NotFound);
    // The range form only when its ':' comes before the word's end: a ':' in a later
    // parameter leaves the simple form.
    assert_eq!(parsed("crashkernel=64M x=a:b", GIB), found(64 * MIB, 0));
    assert_eq!(parsed("crashkernel=512M-:64M quiet", GIB), found(64 * MIB, 0));
}

/// RANGE:SIZE lists match the RAM rounded up to 128 MiB: 1000 MiB counts as 1024 MiB.
#[test]
fn the_range_form_matches_rounded_ram() {
    let size = |cmdline: &str, ram| match parsed(cmdline, ram).0 {
        Parsed::Found { size, base } => (size, base),
        other => panic!("{cmdline}: {other:?}"),
    };
    assert_eq!(size("crashkernel=512M-1G:64M,1G-:128M", 1000 * MIB), (128 * MIB, 0));
    assert_eq!(size("crashkernel=512M-1G:64M,1G-:128M", 900 * MIB), (128 * MIB, 0), "900 MiB rounds up to 1 GiB");
    assert_eq!(size("crashkernel=512M-1G:64M,1G-:128M", 800 * MIB), (64 * MIB, 0), "800 MiB to 896 MiB");
    assert_eq!(size("crashkernel=1G-:128M@0x60000000", 6 * GIB), (128 * MIB, 0x6000_0000));
    let (p, lines) = parsed("crashkernel=2G-4G:64M", GIB);
    assert_eq!((p, lines), (Parsed::Found { size: 0, base: 0 }, std::vec!["crashkernel size resulted in zero bytes".into()]));
    for (cmdline, line) in [
        ("crashkernel=x-:64M", "crashkernel: Memory value expected"),
        ("crashkernel=1G:64M", "crashkernel: '-' expected"),
        ("crashkernel=2G-1G:64M", "crashkernel: end <= start"),
        ("crashkernel=1G-2Gx:64M", "crashkernel: ':' expected"),
        ("crashkernel=0-:x", "Memory value expected"),
        ("crashkernel=0-:2G", "crashkernel: invalid size"),
        ("crashkernel=0-:64M@x", "Memory value expected after '@'"),
    ] {
        assert_eq!(parsed(cmdline, GIB), (Parsed::Invalid, std::vec![String::from(line)]), "{cmdline}");
    }
}

/// 6 GiB from 1 GiB with a 2 MiB image at 0x40200000: the DMA limit is 4 GiB.
fn reserve(cmdline: &str) -> (Crashkernel, Vec<String>, Box<Memblock>) {
    let mut mb = Box::new(Memblock::new());
    mb.add(PhysAddr(GIB), 6 * GIB).unwrap();
    mb.reserve(PhysAddr(0x4020_0000), 2 * MIB).unwrap();
    let mut ck = Crashkernel::default();
    let (_, lines) = capture(|| ck = reserve_crashkernel(&mut mb, cmdline, 4 * GIB, 1 << 48));
    (ck, lines, mb)
}

#[test]
fn placement_below_the_dma_limit_at_a_base_or_high() {
    let (ck, lines, mb) = reserve("crashkernel=256M");
    assert_eq!(ck.main, Some((PhysAddr(0xf000_0000), PhysAddr(0x1_0000_0000))));
    assert_eq!(lines, ["crashkernel reserved: 0x00000000f0000000 - 0x0000000100000000 (256 MB)"]);
    assert_eq!(mb.ty(MemblockKind::Reserved).total_size(), 258 * MIB);

    // Booted: exactly at the base.
    let (ck, lines, _) = reserve("crashkernel=100M@0x50000000");
    assert_eq!(ck.main, Some((PhysAddr(0x5000_0000), PhysAddr(0x5640_0000))));
    assert_eq!(lines, ["crashkernel reserved: 0x0000000050000000 - 0x0000000056400000 (100 MB)"]);

    // ,high alone (booted): from the top of memory, no low range.
    let (ck, lines, _) = reserve("crashkernel=512M,high");
    assert_eq!((ck.main, ck.low), (Some((PhysAddr(0x1_a000_0000), PhysAddr(0x1_c000_0000))), None));
    assert_eq!(lines, ["crashkernel reserved: 0x00000001a0000000 - 0x00000001c0000000 (512 MB)"]);

    // ,high: from the top of memory; with ,low a second range below the DMA limit, said first.
    let (ck, lines, _) = reserve("crashkernel=512M,high crashkernel=64M,low");
    assert_eq!(ck.main, Some((PhysAddr(0x1_a000_0000), PhysAddr(0x1_c000_0000))));
    assert_eq!(ck.low, Some((PhysAddr(0xfc00_0000), PhysAddr(0x1_0000_0000))));
    assert_eq!(
        lines,
        [
            "crashkernel low memory reserved: 0xfc000000 - 0x100000000 (64 MB)",
            "crashkernel reserved: 0x00000001a0000000 - 0x00000001c0000000 (512 MB)",
        ]
    );
}

/// Booted: 3 GiB does not fit below 4 GiB beside the image (6.1 has no fallback above);
/// a base that is not 2 MiB aligned cannot be met; size 0 asks for nothing.
#[test]
fn failures() {
    let (ck, lines, mb) = reserve("crashkernel=3G");
    assert_eq!((ck, lines), (Crashkernel::default(), std::vec![String::from("cannot allocate crashkernel (size:0xc0000000)")]));
    assert_eq!(mb.ty(MemblockKind::Reserved).total_size(), 2 * MIB);
    let (ck, lines, _) = reserve("crashkernel=64M@0x50100000");
    assert_eq!((ck.main, lines), (None, std::vec![String::from("cannot allocate crashkernel (size:0x4000000)")]));
    let (ck, lines, _) = reserve("crashkernel=0");
    assert_eq!((ck, lines), (Crashkernel::default(), Vec::<String>::new()));
}
