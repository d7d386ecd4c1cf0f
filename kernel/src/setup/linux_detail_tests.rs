//! Host tests of the small points where the memory setup follows Linux 6.1 to the letter:
//! the machine model line, `status`, memory above the physical address size, the initrd and
//! a reserved-memory `alignment` that is not a power of two. Each expected value is worked
//! from Linux 6.1's source, named in the test.

use super::tests::{be32, memory, regions, root, run};
use crate::mm::memblock::{Memblock, MemblockFlags, MemblockKind};
use crate::of::testblob::{cells, Builder};
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

/// The dry-run's setup on `blob` with a 40-bit CPU (`tests::run`): memblock and the lines
/// printed.
fn setup(blob: &[u8], cmdline: &str) -> (Box<Memblock>, Vec<String>) {
    crate::testlog::capture(|| run(blob, cmdline))
}

/// 1 GiB at 0x40000000 under a root with `props`, then `more` adds nodes.
fn tree(props: &[(&str, &[u8])], more: impl FnOnce(&mut Builder)) -> Vec<u8> {
    let mut b = Builder::new();
    b.begin("");
    b.prop("#address-cells", &be32(2));
    b.prop("#size-cells", &be32(2));
    for (name, value) in props {
        b.prop(name, value);
    }
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
    more(&mut b);
    b.end();
    b.finish(&[])
}

/// arm64's setup_machine_fdt: `of_flat_dt_get_machine_name` (the root's `model`, else its
/// `compatible`, printed as a C string: the first string), and when it finds neither it
/// returns without a line.
#[test]
fn the_machine_model_line_is_the_model_or_compatible_or_nothing() {
    let model = |lines: &[String]| lines.iter().filter(|l| l.starts_with("Machine model")).cloned().collect::<Vec<_>>();
    let (_, lines) = setup(&tree(&[], |_| {}), "");
    assert_eq!(model(&lines), Vec::<String>::new());
    let (_, lines) = setup(&tree(&[("compatible", b"acme,board\0acme,soc\0")], |_| {}), "");
    assert_eq!(model(&lines), ["Machine model: acme,board"]);
    let (_, lines) = setup(&tree(&[("compatible", b"acme,board\0"), ("model", b"Acme Board\0")], |_| {}), "");
    assert_eq!(model(&lines), ["Machine model: Acme Board"]);
    // An empty model is a name: Linux prints it empty rather than the compatible (booted).
    let (_, lines) = setup(&tree(&[("compatible", b"acme,board\0"), ("model", b"\0")], |_| {}), "");
    assert_eq!(model(&lines), ["Machine model: "]);
}

/// of_fdt_device_is_available: no `status` is available; a present one must `strcmp` equal
/// "okay" or "ok", so an empty `status` (no bytes, or only a NUL) is not available and the
/// memory scan skips the node.
#[test]
fn an_empty_status_means_not_available() {
    let scanned = |status: Option<&[u8]>| {
        let blob = tree(&[], |b| {
            let extra: Vec<(&str, &[u8])> = status.map(|s| ("status", s)).into_iter().collect();
            memory(b, "memory@100000000", &[(0x1_0000_0000, 0x1000_0000)], &extra);
        });
        let (mb, _) = setup(&blob, "");
        regions(&mb, MemblockKind::Memory).iter().any(|r| r.0 == 0x1_0000_0000)
    };
    assert!(scanned(None));
    assert!(scanned(Some(b"okay\0")));
    assert!(scanned(Some(b"ok\0")));
    assert!(!scanned(Some(b"")));
    assert!(!scanned(Some(b"\0")));
    assert!(!scanned(Some(b"disabled\0")));
    assert!(!scanned(Some(b"okayish\0")));
}

/// arm64 defines MAX_MEMBLOCK_ADDR as U64_MAX (asm/memory.h), so early_init_dt_add_memory_arch
/// adds a bank above the physical address size whole, without "Ignoring memory range";
/// arm64_memblock_init's memblock_remove then drops what lies above, without a word.
#[test]
fn memory_above_the_physical_address_size_is_removed_silently() {
    let blob = tree(&[], |b| {
        // [2^40 - 256 MiB, 2^40 + 256 MiB) straddles 2^40; [2^41, +256 MiB) lies above.
        memory(b, "memory@fff0000000", &[(0xff_f000_0000, 0x2000_0000)], &[]);
        memory(b, "memory@20000000000", &[(0x200_0000_0000, 0x1000_0000)], &[]);
    });
    let (mb, lines) = setup(&blob, "");
    assert_eq!(regions(&mb, MemblockKind::Memory), [(0x4000_0000, 0x4000_0000, 0), (0xff_f000_0000, 0x1000_0000, 0)]);
    assert!(!lines.iter().any(|l| l.contains("Ignoring")), "{lines:#?}");
    // Under memblock=debug the one removal printed is Linux's, from 2^PHYS_MASK_SHIFT (48)
    // whatever the CPU (Debian's 6.1 on cortex-a57, PARange 44 bits, prints the same; the end
    // wraps, base + size - 1 in 64 bits, as Linux prints it); the cut at the CPU's 40 bits,
    // which Linux does not make, prints nothing.
    let (_, lines) = setup(&blob, "memblock=debug");
    let removes: Vec<&String> = lines.iter().filter(|l| l.starts_with("memblock_remove: ")).collect();
    assert!(removes[0].starts_with("memblock_remove: [0x0001000000000000-0x0000fffffffffffe] "), "{removes:#?}");
    assert!(!removes.iter().any(|l| l.contains("[0x0000010000000000-")), "{removes:#?}");
}

/// A tree whose /chosen has `linux,initrd-start` and `-end` as given (raw property values),
/// and whose memory bank is hotpluggable.
fn initrd_tree(start: &[u8], end: &[u8]) -> Vec<u8> {
    let mut b = Builder::new();
    root(&mut b);
    memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[("hotpluggable", b"")]);
    b.begin("chosen");
    b.prop("linux,initrd-start", start);
    b.prop("linux,initrd-end", end);
    b.end();
    b.end();
    b.finish(&[])
}

fn be64(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// arm64_memblock_init (6.1): with phys_initrd_size, the pages [start & PAGE_MASK,
/// PAGE_ALIGN(start + size)) are memblock_remove'd (which clears every flag), added back and
/// reserved, each call traced under memblock=debug. Here [0x48100800, 0x48102800): the pages
/// [0x48100000, 0x48103000), 0x3000 bytes, in a hotpluggable bank, which keeps HOTPLUG (0x1)
/// around them.
#[test]
fn the_initrd_pages_are_removed_added_back_and_reserved() {
    let blob = initrd_tree(&be32(0x4810_0800), &be32(0x4810_2800));
    let (mb, lines) = setup(&blob, "memblock=debug");
    let calls: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("memblock_") && l.contains("[0x0000000048100000-0x0000000048102fff]"))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(calls, ["memblock_remove", "memblock_add", "memblock_reserve"], "{lines:#?}");
    let hotplug = MemblockFlags::HOTPLUG.0;
    assert_eq!(
        regions(&mb, MemblockKind::Memory),
        [(0x4000_0000, 0x810_0000, hotplug), (0x4810_0000, 0x3000, 0), (0x4810_3000, 0x37ef_d000, hotplug)]
    );
    assert!(regions(&mb, MemblockKind::Reserved).contains(&(0x4810_0000, 0x3000, 0)));
}

/// early_init_dt_check_for_initrd reads each value as of_read_number(prop, len / 4), and
/// arm64_memblock_init tests phys_initrd_size = end - start before any rounding.
#[test]
fn initrd_values_are_read_and_tested_as_linux_reads_them() {
    let reserved = |start: &[u8], end: &[u8]| {
        let (mb, _) = setup(&initrd_tree(start, end), "");
        regions(&mb, MemblockKind::Reserved).into_iter().filter(|r| (0x4810_0000..0x4900_0000).contains(&r.0)).collect::<Vec<_>>()
    };
    // 64-bit values: [0x48100000, 0x48101000), one page.
    assert_eq!(reserved(&be64(0x4810_0000), &be64(0x4810_1000)), [(0x4810_0000, 0x1000, 0)]);
    // Three cells: shifted into a u64 one by one, the first falls off: 0x48100000.
    let three = [be32(1), be32(0), be32(0x4810_0000)].concat();
    assert_eq!(reserved(&three, &be64(0x4810_1000)), [(0x4810_0000, 0x1000, 0)]);
    // Six bytes: len / 4 = 1 cell, the first four bytes: 0x48100000.
    let six = [be32(0x4810_0000), std::vec![0xff, 0xff]].concat();
    assert_eq!(reserved(&six, &be32(0x4810_1000)), [(0x4810_0000, 0x1000, 0)]);
    // start == end, inside a page: phys_initrd_size is 0, nothing to reserve (rounded to
    // pages first it would have been the page 0x48100000).
    assert_eq!(reserved(&be32(0x4810_0800), &be32(0x4810_0800)), []);
    // end < start: early_init_dt_check_for_initrd returns before setting anything.
    assert_eq!(reserved(&be32(0x4810_1000), &be32(0x4810_0000)), []);
}

/// __reserved_mem_alloc_size hands a tree's `alignment` to memblock as it is; memblock's
/// top-down search rounds with round_down (include/linux/math.h), the mask `align - 1`. In
/// 1 GiB at 0x40000000 with nothing reserved at the top, 4 KiB with alignment 0x3000:
/// round_down(0x80000000 - 0x1000, 0x3000) = 0x7ffff000 & !0x2fff = 0x7fffd000.
#[test]
fn a_reserved_memory_alignment_not_a_power_of_two_is_used_as_linux_uses_it() {
    let blob = tree(&[], |b| {
        b.begin("reserved-memory");
        b.prop("#address-cells", &be32(2));
        b.prop("#size-cells", &be32(2));
        b.prop("ranges", b"");
        b.begin("odd");
        b.prop("size", &cells(0, 0x1000)[8..]);
        b.prop("alignment", &cells(0, 0x3000)[8..]);
        b.end();
        b.end();
    });
    let (_, lines) = setup(&blob, "loglevel=8 dyndbg=+p");
    let placed = "OF: reserved mem: allocated memory for 'odd' node: base 0x000000007fffd000, size 0 MiB";
    assert!(lines.iter().any(|l| l == placed), "{lines:#?}");
}

/// arm64_memblock_init: with a memory limit, memblock_mem_limit_remove_map(limit) keeps the
/// first `limit` bytes of memory, then memblock_add(_text, _end - _text) adds the kernel image
/// back (it may lie above the limit) from `_text`, the 64 KiB header before `_stext`
/// included. mem=1M of 1 GiB at 0x40000000 keeps [0x40000000, 0x40100000); the image
/// [_stext, _end) = [0x40200000, 0x40400000) (tests::KERNEL) comes back from 0x401f0000 (Debian's
/// 6.1 loaded at 0x60000000 with mem=256M likewise lists memory from 0x60000000, its _text,
/// where this kernel listed its _stext, 0x60010000).
#[test]
fn the_image_is_added_back_after_the_memory_limit() {
    let (mb, _) = setup(&tree(&[], |_| {}), "mem=1M");
    assert_eq!(regions(&mb, MemblockKind::Memory), [(0x4000_0000, 0x10_0000, 0), (0x401f_0000, 0x21_0000, 0)]);
    // Reserved from _stext; the header's 64 KiB below is free memory (the early page tables
    // are placed in it, top-down, and their region merges with the image's).
    let reserved = regions(&mb, MemblockKind::Reserved);
    let covers = |base: u64, end: u64| reserved.iter().any(|&(b, size, _)| b <= base && end <= b + size);
    assert!(covers(0x4020_0000, 0x4040_0000) && !covers(0x401f_0000, 0x401f_1000), "{reserved:#x?}");
}

/// `/chosen/linux,elfcorehdr`: early_init_dt_check_for_elfcorehdr reads it with the chosen
/// node; fdt_reserve_elfcorehdr reserves it after the /reserved-memory scan, unless something
/// is reserved there already (6.1 reserves /memreserve/ first). Both cases booted on Debian's
/// Linux 6.1 in QEMU, whose lines these are.
#[test]
fn the_elfcorehdr_is_reserved_unless_already_reserved() {
    let blob = |memreserve: &[(u64, u64)], value: &[u8]| {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &be32(2));
        b.prop("#size-cells", &be32(2));
        memory(&mut b, "memory@40000000", &[(0x4000_0000, 0x4000_0000)], &[]);
        b.begin("chosen");
        b.prop("linux,elfcorehdr", value);
        b.end();
        b.end();
        b.finish(memreserve)
    };
    let hdr = cells(0x5000_0000, 0x1_0000);
    let has = |lines: &[String], line: &str| lines.iter().any(|l| l == line);
    let at = |mb: &Memblock| regions(mb, MemblockKind::Reserved).into_iter().find(|r| r.0 == 0x5000_0000).map(|r| r.1);

    let (mb, lines) = setup(&blob(&[], &hdr), "");
    assert!(has(&lines, "OF: fdt: Reserving 64 KiB of memory at 0x50000000 for elfcorehdr"), "{lines:?}");
    assert_eq!(at(&mb), Some(0x1_0000));

    let (mb, lines) = setup(&blob(&[(0x5000_0000, 0x1000)], &hdr), "");
    assert!(has(&lines, "OF: fdt: elfcorehdr is overlapped"), "{lines:?}");
    assert_eq!(at(&mb), Some(0x1000), "only the /memreserve/ entry");

    // 8 bytes: not one 16-byte entry (Linux compares with the cell count and reads past it).
    let (mb, lines) = setup(&blob(&[], &hdr[..8]), "");
    assert!(lines.iter().any(|l| l.starts_with("OF: fdt: invalid linux,elfcorehdr property in '/chosen'")), "{lines:?}");
    assert_eq!(at(&mb), None);
}
