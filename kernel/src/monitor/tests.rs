//! Host tests of the monitor: parsing and its errors, the line editor, the allocation table,
//! and whole command lines against a small allocator and a hand-built boot state.

use super::line::{Line, LineEditor, MAX_LINE};
use super::*;
use crate::mm::buddy::{FreePageLinks, Link, Memmap, NodeData, PageState};
use crate::mm::PhysAddr;
use crate::of::reserved_mem::{self, ReservedMemOfId};
use crate::of::testblob::{cells, with_reserved_memory};
use std::collections::HashMap;
use std::string::String;
use std::vec::Vec;

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

#[test]
fn every_command_parses() {
    assert_eq!(parse("help"), Ok(Command::Help));
    assert_eq!(parse("  dmesg  "), Ok(Command::Dmesg));
    assert_eq!(parse("memblock"), Ok(Command::Memblock));
    assert_eq!(parse("iomem"), Ok(Command::Iomem));
    assert_eq!(parse("buddyinfo"), Ok(Command::Buddyinfo));
    assert_eq!(parse("zoneinfo"), Ok(Command::Zoneinfo));
    assert_eq!(parse("rmem"), Ok(Command::Rmem));
    assert_eq!(parse("poweroff"), Ok(Command::Poweroff));
    assert_eq!(parse(""), Ok(Command::Nothing));
    assert_eq!(parse(" \t "), Ok(Command::Nothing));
    assert_eq!(parse("ptdump"), Ok(Command::Ptdump(None)));
    assert_eq!(
        parse("ptdump 0xffff000000000000 0xffff000040000000"),
        Ok(Command::Ptdump(Some((0xffff_0000_0000_0000, 0xffff_0000_4000_0000))))
    );
    assert_eq!(parse("alloc 3"), Ok(Command::Alloc { order: 3, highest: ZoneType::Normal }));
    assert_eq!(parse("alloc 0 dma"), Ok(Command::Alloc { order: 0, highest: ZoneType::Dma }));
    assert_eq!(parse("alloc 10 dma32"), Ok(Command::Alloc { order: 10, highest: ZoneType::Dma32 }));
    assert_eq!(parse("alloc 0x2 normal"), Ok(Command::Alloc { order: 2, highest: ZoneType::Normal }));
    assert_eq!(parse("free 0x47ff8 3"), Ok(Command::Free { pfn: Pfn(0x47ff8), order: 3 }));
    assert_eq!(parse("free 294904 3"), Ok(Command::Free { pfn: Pfn(0x47ff8), order: 3 }));
}

#[test]
fn bad_input_is_one_error_line_each() {
    let cases: [(&str, ParseError, &str); 11] = [
        ("frobnicate", ParseError::Unknown("frobnicate"), "unknown command 'frobnicate' (try 'help')"),
        ("alloc", ParseError::Missing { cmd: "alloc", what: "ORDER" }, "alloc: missing ORDER (try 'help')"),
        ("free 0x10", ParseError::Missing { cmd: "free", what: "ORDER" }, "free: missing ORDER (try 'help')"),
        ("ptdump 0x1000", ParseError::Missing { cmd: "ptdump", what: "END" }, "ptdump: missing END (try 'help')"),
        ("help me", ParseError::TooMany { cmd: "help", extra: "me" }, "help: unexpected argument 'me'"),
        ("alloc 1 dma 2", ParseError::TooMany { cmd: "alloc", extra: "2" }, "alloc: unexpected argument '2'"),
        (
            "alloc three",
            ParseError::BadNumber { what: "order", value: "three" },
            "order 'three' is not a number (decimal, or hex with 0x)",
        ),
        ("free 0xg 1", ParseError::BadNumber { what: "PFN", value: "0xg" }, "PFN '0xg' is not a number (decimal, or hex with 0x)"),
        // MAX_ORDER is 11: orders 0 to 10.
        ("alloc 11", ParseError::BadOrder(11), "order 11 out of range 0..=10"),
        ("alloc 1 highmem", ParseError::BadZone("highmem"), "unknown zone 'highmem' (dma, dma32 or normal)"),
        (
            "ptdump 0x2000 0x1000",
            ParseError::BadRange(0x2000, 0x1000),
            "ptdump: [0x0000000000002000, 0x0000000000001000) is not a range inside one half of the address space",
        ),
    ];
    for (line, err, text) in cases {
        assert_eq!(parse(line), Err(err), "{line}");
        assert_eq!(err.to_string(), text);
    }
    // A range across the hole between the halves is refused too.
    assert_eq!(parse("ptdump 0 0xffff000000001000"), Err(ParseError::BadRange(0, 0xffff_0000_0000_1000)));
    // An order too large for u32 still says which order.
    assert_eq!(parse("alloc 0x100000000"), Err(ParseError::BadOrder(u32::MAX)));
}

// ---------------------------------------------------------------------------------------
// The line editor
// ---------------------------------------------------------------------------------------

/// Feed `input`; the lines finished (their text, `None` for too long) and the echo.
fn type_in(input: &[u8]) -> (Vec<Option<String>>, String) {
    let mut ed = LineEditor::new();
    let (mut lines, mut echo) = (Vec::new(), String::new());
    for &b in input {
        if let Some(line) = ed.feed(b, &mut echo) {
            lines.push(line.text().map(String::from));
        }
    }
    (lines, echo)
}

#[test]
fn line_editor_echoes_and_ends_lines_at_cr_lf_or_crlf() {
    // CR LF is one Enter; a lone CR and a lone LF are one each; an empty line is a line.
    let (lines, echo) = type_in(b"help\r\nrmem\rdmesg\n\r");
    assert_eq!(lines, [Some("help".into()), Some("rmem".into()), Some("dmesg".into()), Some("".into())]);
    assert_eq!(echo, "help\nrmem\ndmesg\n\n");
}

#[test]
fn line_editor_backspace_ctrl_c_and_ignored_bytes() {
    // "allox", DEL, "c 3": the x is gone, and erased on screen with BS SP BS. A backspace on
    // an empty line does nothing. An arrow key (ESC [ A) and a non-ASCII byte are ignored,
    // except the printable "[A" of the escape sequence, removed here by two BS.
    let (lines, echo) = type_in(b"\x08allox\x7fc 3\x1b[A\x08\x08\xc3\r");
    assert_eq!(lines, [Some("alloc 3".into())]);
    assert_eq!(echo, "allox\x08 \x08c 3[A\x08 \x08\x08 \x08\n");
    // Ctrl-C drops the line typed so far: an empty line, and the next starts afresh.
    let (lines, echo) = type_in(b"free 1\x03rmem\r");
    assert_eq!(lines, [Some("".into()), Some("rmem".into())]);
    assert_eq!(echo, "free 1^C\nrmem\n");
}

#[test]
fn line_editor_refuses_a_line_longer_than_it_holds() {
    let mut input = vec![b'a'; MAX_LINE + 1];
    input.extend_from_slice(b"\rhelp\r");
    let (lines, _) = type_in(&input);
    assert_eq!(lines, [None, Some("help".into())], "the long line is refused, the next one is whole");
    // Exactly MAX_LINE characters fit.
    let mut input = vec![b'b'; MAX_LINE];
    input.push(b'\r');
    assert_eq!(type_in(&input).0, [Some("b".repeat(MAX_LINE))]);
    assert_eq!(LineEditor::new().feed(b'\r', &mut String::new()), Some(Line::Text { bytes: [0; MAX_LINE], len: 0 }));
}

// ---------------------------------------------------------------------------------------
// The allocation table
// ---------------------------------------------------------------------------------------

#[test]
fn allocations_free_only_what_was_allocated_with_its_order() {
    let mut t = Allocations::default();
    assert!(t.record(Pfn(0x100), 3));
    assert!(t.record(Pfn(0x200), 0));
    assert_eq!(t.check(Pfn(0x100), 3), Ok(()));
    assert_eq!(t.check(Pfn(0x100), 2), Err(FreeRefused::OtherOrder { pfn: Pfn(0x100), allocated: 3 }));
    assert_eq!(t.check(Pfn(0x108), 0), Err(FreeRefused::NotAllocated(Pfn(0x108))), "inside a block is not its head");
    t.remove(Pfn(0x100));
    assert_eq!(t.check(Pfn(0x100), 3), Err(FreeRefused::NotAllocated(Pfn(0x100))), "freed once, refused after");
    assert_eq!(t.iter().collect::<Vec<_>>(), [(Pfn(0x200), 0)]);
    assert_eq!(
        FreeRefused::NotAllocated(Pfn(0x108)).to_string(),
        "free: pfn 0x108 was not allocated by 'alloc'; refusing to free it"
    );
    assert_eq!(
        FreeRefused::OtherOrder { pfn: Pfn(0x100), allocated: 3 }.to_string(),
        "free: pfn 0x100 was allocated with order 3; free it with that order"
    );
    // The table holds MAX_ALLOCATIONS blocks; a freed slot is reused.
    for i in 1..MAX_ALLOCATIONS as u64 {
        assert!(t.record(Pfn(0x1000 + i), 0));
    }
    assert!(t.is_full());
    assert!(!t.record(Pfn(0x9999), 0));
    t.remove(Pfn(0x1001));
    assert!(!t.is_full());
    assert!(t.record(Pfn(0x9999), 0));
}

// ---------------------------------------------------------------------------------------
// Whole commands on a host machine
// ---------------------------------------------------------------------------------------

/// Free-list links in a map.
#[derive(Default)]
struct MapLinks(HashMap<(u64, u32), Link>);

impl FreePageLinks for MapLinks {
    fn get(&self, pfn: u64, order: u32) -> Link {
        self.0[&(pfn, order)]
    }
    fn set(&mut self, pfn: u64, order: u32, link: Link) {
        self.0.insert((pfn, order), link);
    }
}

/// One node over frames `[0, 2048)`: DMA `[0, 1024)`, Normal `[1024, 2048)`, all free.
struct HostMachine {
    zones: std::boxed::Box<Zones<'static, MapLinks>>,
    available: bool,
}

impl HostMachine {
    fn new() -> HostMachine {
        let mut zones = std::boxed::Box::new(Zones::new(MapLinks::default()));
        let pages = std::boxed::Box::leak(vec![PageState::NORMAL; 2048].into_boxed_slice());
        let sections = std::boxed::Box::leak(vec![crate::mm::buddy::SectionState::Blank; 1].into_boxed_slice());
        let data = std::boxed::Box::leak(std::boxed::Box::new(NodeData::new(0)));
        let dense = std::boxed::Box::leak(std::boxed::Box::new(crate::mm::sparse::dense(0, 2048)));
        zones.add_node(0, data, Memmap::new(dense, pages, sections).unwrap()).unwrap();
        zones.init_zone(0, ZoneType::Dma, Pfn(0), 1024, 1024).unwrap();
        zones.init_zone(0, ZoneType::Normal, Pfn(1024), 1024, 1024).unwrap();
        zones.free_range(Pfn(0), Pfn(2048)).unwrap();
        HostMachine { zones, available: true }
    }
}

impl Machine for HostMachine {
    type Links = MapLinks;
    fn with_zones(&mut self, f: &mut dyn FnMut(&mut Zones<'_, MapLinks>)) -> bool {
        if self.available {
            f(&mut self.zones);
        }
        self.available
    }
    fn dmesg(&mut self, out: &mut dyn Write) -> fmt::Result {
        out.write_str("[    0.000000] Booting\n")
    }
    fn ptdump(&mut self, range: Option<(u64, u64)>, out: &mut dyn Write) -> fmt::Result {
        writeln!(out, "ptdump {range:x?}")
    }
}

/// `memblock.memory` [0x40000000, 0x50000000) with a no-map hole, a kernel image, a CMA
/// pool and a small reservation; see `iomem_nests_the_kernel_the_regions_and_the_rest`.
fn boot_state() -> (std::boxed::Box<Memblock>, Vec<u8>) {
    let blob = with_reserved_memory(|b| {
        b.begin("cma@48000000");
        b.prop("compatible", b"shared-dma-pool\0");
        b.prop("reg", &cells(0x4800_0000, 0x100_0000));
        b.prop("reusable", b"");
        b.end();
        b.begin("nomap@4c000000");
        b.prop("reg", &cells(0x4c00_0000, 0x10_0000));
        b.prop("no-map", b"");
        b.end();
    });
    let mut mb = std::boxed::Box::new(Memblock::new());
    mb.add(PhysAddr(0x4000_0000), 0x1000_0000).unwrap();
    mb.reserve(PhysAddr(0x4020_0000), 0x40_0000).unwrap(); // the image [_text, _end)
    mb.reserve(PhysAddr(0x4f00_0000), 0x1000).unwrap(); // e.g. the blob
    (mb, blob)
}

static HOOKS: [ReservedMemOfId; 1] =
    [ReservedMemOfId { name: "CMA", compatible: "shared-dma-pool", init: reserved_mem::shared_dma_pool_setup }];

/// The image: [_text 0x40200000, _stext 0x40210000) header, text and rodata to 0x40400000,
/// data and bss to _end 0x40500000; the reservation runs to 0x40600000.
const KERNEL_CODE: (PhysAddr, PhysAddr) = (PhysAddr(0x4021_0000), PhysAddr(0x4040_0000));
const KERNEL_DATA: (PhysAddr, PhysAddr) = (PhysAddr(0x4040_0000), PhysAddr(0x4050_0000));

/// Run `lines` through one monitor on the boot state; the output of each.
fn session(machine: &mut HostMachine, lines: &[&str]) -> Vec<String> {
    let (mut mb, blob) = boot_state();
    let fdt = Fdt::new(&blob).unwrap();
    let cells = crate::of::fdt_scan::scan_root(&fdt);
    let mut table = reserved_mem::scan(&fdt, cells, &mut mb);
    reserved_mem::init(&fdt, cells, &mut mb, &mut table, &HOOKS, &Default::default());
    let facts = Facts { map: None, memblock: &mb, rmem: &table, fdt: &fdt, kernel_code: KERNEL_CODE, kernel_data: KERNEL_DATA };
    let mut mon = Monitor::new();
    lines
        .iter()
        .map(|l| {
            let mut out = String::new();
            let flow = mon.run_line(l, &facts, machine, &mut out);
            assert_eq!(flow == Flow::PowerOff, *l == "poweroff", "{l}");
            out
        })
        .collect()
}

#[test]
fn alloc_splits_and_free_merges_as_buddyinfo_shows() {
    // DMA [0, 1024) and Normal [1024, 2048) are each one free order-10 block.
    // `alloc 3` (highest Normal) takes Normal's block at pfn 1024 = 0x400 and splits it
    // (expand): halves of order 9, 8, 7, 6, 5, 4 and 3 go back on their lists, the low 8
    // pages are handed out. So Normal shows one block at each of orders 3..=9 and none of
    // order 10. `alloc 0 dma` takes DMA's block at pfn 0 and leaves one block at each of
    // orders 0..=9. Freeing both merges all the way back up.
    let mut m = HostMachine::new();
    let out = session(
        &mut m,
        &["buddyinfo", "alloc 3", "alloc 0 dma", "buddyinfo", "free 0x400 3", "free 0 0", "buddyinfo"],
    );
    let start = "Node 0, zone      DMA      0      0      0      0      0      0      0      0      0      0      1 \n\
                 Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      1 \n";
    assert_eq!(out[0], start);
    assert_eq!(out[1], "alloc: order 3 (8 pages) at pfn 0x400, pa 0x0000000000400000, zone Normal\n");
    assert_eq!(out[2], "alloc: order 0 (1 pages) at pfn 0x0, pa 0x0000000000000000, zone DMA\n");
    assert_eq!(
        out[3],
        "Node 0, zone      DMA      1      1      1      1      1      1      1      1      1      1      0 \n\
         Node 0, zone   Normal      0      0      0      1      1      1      1      1      1      1      0 \n"
    );
    assert_eq!(out[4], "free: order 3 (8 pages) at pfn 0x400\n");
    assert_eq!(out[5], "free: order 0 (1 pages) at pfn 0x0\n");
    assert_eq!(out[6], start);
}

#[test]
fn free_refuses_blocks_alloc_did_not_hand_out() {
    let mut m = HostMachine::new();
    let out = session(&mut m, &["free 0x400 3", "alloc 3", "free 0x400 2", "free 0x400 3", "free 0x400 3", "buddyinfo"]);
    assert_eq!(out[0], "monitor: free: pfn 0x400 was not allocated by 'alloc'; refusing to free it\n");
    assert_eq!(out[2], "monitor: free: pfn 0x400 was allocated with order 3; free it with that order\n");
    assert_eq!(out[3], "free: order 3 (8 pages) at pfn 0x400\n");
    assert_eq!(out[4], "monitor: free: pfn 0x400 was not allocated by 'alloc'; refusing to free it\n");
    assert!(out[5].ends_with("0      1 \n"), "the zone is whole again: {}", out[5]);
}

#[test]
fn alloc_reports_an_exhausted_zone_and_a_full_table() {
    // DMA holds 1024 pages: one order-10 block, then nothing of order 10 is left in it.
    let mut m = HostMachine::new();
    let out = session(&mut m, &["alloc 10 dma", "alloc 10 dma"]);
    assert_eq!(out[0], "alloc: order 10 (1024 pages) at pfn 0x0, pa 0x0000000000000000, zone DMA\n");
    assert_eq!(out[1], "monitor: alloc: buddy: no free block of order 10 in zones up to DMA\n");
    let mut lines = vec!["alloc 0"; MAX_ALLOCATIONS + 1];
    lines.push("buddyinfo");
    let out = session(&mut HostMachine::new(), &lines);
    assert!(out[MAX_ALLOCATIONS - 1].starts_with("alloc: order 0"));
    assert_eq!(out[MAX_ALLOCATIONS], "monitor: alloc: 32 blocks held already; free one first\n");
    // 32 order-0 pages from Normal's 1024: 992 free = 0b1111100000 (orders 5..=9), and
    // nothing was taken for the refused 33rd.
    assert_eq!(
        out[MAX_ALLOCATIONS + 1].lines().nth(1),
        Some("Node 0, zone   Normal      0      0      0      0      0      1      1      1      1      1      0 ")
    );
}

#[test]
fn bad_input_answers_one_line_and_goes_on() {
    let mut m = HostMachine::new();
    let out = session(&mut m, &["frobnicate", "alloc 11", "", "dmesg", "poweroff"]);
    assert_eq!(out[0], "monitor: unknown command 'frobnicate' (try 'help')\n");
    assert_eq!(out[1], "monitor: order 11 out of range 0..=10\n");
    assert_eq!(out[2], "");
    assert_eq!(out[3], "[    0.000000] Booting\n");
    assert_eq!(out[4], "");
}

#[test]
fn an_unavailable_allocator_is_said_so() {
    let mut m = HostMachine::new();
    m.available = false;
    let out = session(&mut m, &["buddyinfo", "zoneinfo", "alloc 0"]);
    assert!(out.iter().all(|o| o == "monitor: the page allocator is not available\n"), "{out:?}");
}

#[test]
fn help_lists_every_command_and_ptdump_passes_its_range() {
    let mut m = HostMachine::new();
    let out = session(&mut m, &["help", "ptdump", "ptdump 0xffff000000000000 0xffff000000200000"]);
    let help: Vec<&str> = out[0].lines().collect();
    assert_eq!(help.len(), HELP.len());
    for (usage, _) in HELP {
        let name = usage.split(' ').next().unwrap();
        assert!(help.iter().any(|l| l.trim_start().starts_with(usage)), "{usage}");
        assert!(!matches!(parse(name), Err(ParseError::Unknown(_))), "help names '{name}', which parses");
    }
    assert_eq!(out[1], "ptdump None\n");
    assert_eq!(out[2], "ptdump Some((ffff000000000000, ffff000000200000))\n");
}

#[test]
fn zoneinfo_shows_the_page_counts_and_free_blocks_per_order() {
    // After `alloc 3`, Normal has 1024 - 8 = 1016 free pages. Only the node's two spanned
    // zones are populated; DMA32 and Movable are listed with zero counts and nothing more.
    let mut m = HostMachine::new();
    let out = session(&mut m, &["alloc 3", "zoneinfo"]);
    let expected = "\
Node 0, zone      DMA
  pages free     1024
        spanned  1024
        present  1024
        managed  1024
  free per order:      0      0      0      0      0      0      0      0      0      0      1
  start_pfn:           0
Node 0, zone    DMA32
  pages free     0
        spanned  0
        present  0
        managed  0
Node 0, zone   Normal
  pages free     1016
        spanned  1024
        present  1024
        managed  1024
  free per order:      0      0      0      1      1      1      1      1      1      1      0
  start_pfn:           1024
Node 0, zone  Movable
  pages free     0
        spanned  0
        present  0
        managed  0
";
    assert_eq!(out[1], expected);
}

#[test]
fn iomem_nests_the_kernel_the_regions_and_the_rest() {
    // memblock.memory: [0x40000000, 0x4c000000), the no-map [0x4c000000, 0x4c100000) (NOMAP),
    // [0x4c100000, 0x50000000). memblock.reserved: the image [0x40200000, 0x40600000), the
    // CMA pool [0x48000000, 0x49000000), [0x4f000000, 0x4f001000).
    //
    //  40200000  40210000       40400000       40500000  40600000
    //  | header  | Kernel code  | Kernel data  | (pad)   |        image reservation
    //  "reserved"                              "reserved"         split around the two
    //
    // The CMA pool is named by its node and its reservation is wholly inside it, so no
    // "reserved" line; the no-map region is a top-level "reserved" with its node inside.
    let mut m = HostMachine::new();
    let out = session(&mut m, &["iomem"]);
    let expected = "\
40000000-4bffffff : System RAM
  40200000-4020ffff : reserved
  40210000-403fffff : Kernel code
  40400000-404fffff : Kernel data
  40500000-405fffff : reserved
  48000000-48ffffff : cma@48000000
4c000000-4c0fffff : reserved
  4c000000-4c0fffff : nomap@4c000000
4c100000-4fffffff : System RAM
  4f000000-4f000fff : reserved
";
    assert_eq!(out[0], expected);
}

#[test]
fn rmem_lists_each_region_its_flags_and_hook() {
    let mut m = HostMachine::new();
    let out = session(&mut m, &["rmem"]);
    let expected = "\
cma@48000000             [mem 0x0000000048000000-0x0000000048ffffff] reusable        hook: shared-dma-pool
nomap@4c000000           [mem 0x000000004c000000-0x000000004c0fffff] no-map          hook: -
";
    assert_eq!(out[0], expected);
}

#[test]
fn memblock_prints_the_debug_dump() {
    // __memblock_dump_all: sizes, then each array with its count and regions (flags 0x4 is
    // NOMAP; "on node" is absent for regions without a node).
    let mut m = HostMachine::new();
    let out = session(&mut m, &["memblock"]);
    let lines: Vec<&str> = out[0].lines().collect();
    assert_eq!(lines[0], "MEMBLOCK configuration:");
    assert_eq!(lines[1], " memory size = 0x0000000010000000 reserved size = 0x0000000001401000");
    assert_eq!(lines[2], " memory.cnt  = 0x3");
    assert_eq!(
        lines[4],
        " memory[0x1]\t[0x000000004c000000-0x000000004c0fffff], 0x0000000000100000 bytes flags: 0x4"
    );
    assert_eq!(lines[6], " reserved.cnt  = 0x3");
    assert_eq!(lines.len(), 10);
}
