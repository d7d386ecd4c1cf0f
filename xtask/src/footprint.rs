//! What our kernel reserves on QEMU virt's own device tree, worked out from the built ELF and
//! the design, so that a scenario can pin its `Memory:` line instead of wildcarding it.
//!
//! A boot on QEMU's own tree reserves, in whole pages:
//! - the image `[_stext, _end)` (`build::Built::text_end`, from the ELF's symbols);
//! - the blob: QEMU's generated tree has a totalsize of 1 MiB (`fdt_create` with a 1 MiB
//!   buffer, never packed), at the initrd's place or, with an initrd, after it;
//! - per node: its memmap (one byte per frame of the node's present 128 MiB sections: QEMU's
//!   nodes are whole sections without holes, so its frames) and its free-list links (8 bytes
//!   for each of `ceil(frames / 2^o)` entries, o = 0..MAX_ORDER 11) followed by the table of
//!   the node's runs of sections (one run of 24 bytes) and the table of its sections' states
//!   (one byte per section), each allocated from memblock in whole pages; and NODE_DATA (0xf00 bytes, alone in its page: the memmap
//!   below it is page aligned, the tables above it start on a page);
//! - paging_init's 11 table pages: the root; level 1, 2, 3 for the image (under 2 MiB, so
//!   pages); level 1, 2 for the linear map and a level 3 for the kernel's read-only alias
//!   (RAM from 0x40000000 is 1 GiB aligned: blocks everywhere else); level 1, 2 for the
//!   fixmap and a level 3 each for the console and the blob.
//!
//! And the default CMA area (`dma_contiguous_reserve`, 64 MiB as Debian's kernel is built), which
//! Linux's `Memory:` line counts apart, as `cma-reserved`: it lies in the highest node's DMA zone,
//! below that node's memmap, links and NODE_DATA (and below 4 GiB). With 128 MiB it does not
//! fit: QEMU puts the blob at 0x44000000, mid-RAM, and neither side has 64 MiB free (Linux fails
//! the same way).
//!
//! `Memory: A/T available (…)`: T is all RAM, A = T - reserved - cma (nothing else holds pages
//! when it prints), the section sizes are the ELF's, rounded down to KiB. The init figure is
//! Linux's `init_data_size + init_code_size`: with `[_sinittext, _einittext)` inside
//! `[__init_begin, __init_end)`, the text comes off the data and back in, so it is
//! `__init_end - __init_begin`.
//!
//! After the line, `free_initmem` frees those pages (whole pages: linker.ld aligns both ends)
//! and prints `Freeing unused kernel memory: NK` with N = pages * 4, the same figure.

use crate::build::Built;
use crate::test::Scenario;

const PAGE: u64 = 4096;
const MAX_ORDER: u32 = 11;
const TABLE_PAGES: u64 = 11;
const QEMU_BLOB: u64 = 1 << 20;
const NODE_DATA_PAGES: u64 = 1;
/// swiotlb's default 64 MiB bounce buffer, which RAM ending above 4 GiB (the DMA limit of
/// QEMU's tree) makes mem_init reserve below 4 GiB: in ZONE_DMA.
const SWIOTLB_PAGES: u64 = mib(64);
/// The default CMA area: `CMA_SIZE_MBYTES` (64) MiB.
const DEFAULT_CMA_PAGES: u64 = mib(64);

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE)
}

/// Bytes of one entry of a node's table of section runs (one run: the node has no hole).
const SECTION_RUN: u64 = 24;

/// Pages a node of `frames` frames (whole sections, no hole) takes for its memmap, links with
/// the run table, and NODE_DATA.
fn node_pages(frames: u64) -> u64 {
    pages(memmap_bytes(frames)) + NODE_DATA_PAGES
}

/// Frames of a 128 MiB memory section: one section-state byte each.
const SECTION_FRAMES: u64 = 1 << 15;

/// Bytes of memmap and of links with the tables of a node of `frames` frames (whole
/// sections, no hole), each allocation in whole pages.
pub fn memmap_bytes(frames: u64) -> u64 {
    let links: u64 = (0..MAX_ORDER).map(|o| frames.div_ceil(1 << o)).sum();
    (pages(frames) + pages(links * 8 + SECTION_RUN + frames.div_ceil(SECTION_FRAMES))) * PAGE
}

/// All RAM, the reserved pages and the CMA pages of a boot on QEMU's own tree with these
/// nodes (frames each), plus `extra` reserved pages, in frames.
fn page_counts(built: &Built, nodes: &[u64], extra: u64) -> (u64, u64, u64) {
    let total: u64 = nodes.iter().sum();
    let cma = if total > mib(128) { DEFAULT_CMA_PAGES } else { 0 };
    let (stext, end) = built.text_end;
    let image = end.div_ceil(PAGE) - stext / PAGE;
    let reserved = image + pages(QEMU_BLOB) + nodes.iter().map(|f| node_pages(*f)).sum::<u64>() + TABLE_PAGES + extra;
    (total, reserved, cma)
}

/// The three `totalram_pages` debug lines of such a boot: after memblock_free_all it is every
/// page neither reserved nor CMA (what the `Memory:` line shows available); the CMA area adds
/// its pages; free_initmem adds the init pages.
fn totalram_lines(built: &Built, nodes: &[u64], extra: u64) -> [String; 3] {
    let (total, reserved, cma) = page_counts(built, nodes, extra);
    let init = init_pages(built);
    let free_all = total - reserved - cma;
    [
        format!("totalram_pages: {free_all} after memblock_free_all"),
        format!("totalram_pages: {} after cma_init_reserved_areas (+{cma} CMA pages)", free_all + cma),
        format!("totalram_pages: {} after free_initmem (+{init} init pages)", free_all + cma + init),
    ]
}

/// The `Memory:` line of a boot on QEMU's own tree with these nodes (frames each), plus
/// `extra` reserved pages (an initrd, say).
pub fn memory_line(built: &Built, nodes: &[u64], extra: u64) -> String {
    let (total, reserved, cma) = page_counts(built, nodes, extra);
    let [text, rodata, init, data, bss] = built.sections.map(|s| s >> 10);
    format!(
        "Memory: {}K/{}K available ({text}K kernel code, {data}K rwdata, {rodata}K rodata, {init}K init, {bss}K bss, {}K reserved, {}K cma-reserved)",
        (total - reserved - cma) * 4,
        total * 4,
        reserved * 4,
        cma * 4
    )
}

/// Free pages of each zone once memblock_free_all is done, for the selftest=buddy scenarios:
/// (node, zone, pages). Pages of the image start at 0x40210000 and the blob at 0x48000000,
/// in node 0's DMA; each node's memmap, links and NODE_DATA sit at the top of the node, and
/// paging_init's tables at the top of memory (the last node, its highest zone). The default
/// CMA area is free again by then: cma_init_reserved_areas gave it to the buddy allocator, and
/// so are the image's init pages, which free_initmem gave back before the self-tests run.
fn free_by_zone(built: &Built, name: &str) -> Option<Vec<(u32, &'static str, u64)>> {
    let (stext, end) = built.text_end;
    let low = end.div_ceil(PAGE) - stext / PAGE + pages(QEMU_BLOB) - init_pages(built);
    Some(match name {
        "selftest-buddy" => vec![(0, "DMA", mib(1024) - low - node_pages(mib(1024)) - TABLE_PAGES)],
        // DMA: 0x40000000 to 4 GiB, 3 GiB; Normal: 4 GiB to 7 GiB, 3 GiB, with everything
        // allocated at the top of memory.
        "selftest-buddy-6G" => vec![
            (0, "DMA", mib(3072) - low - SWIOTLB_PAGES),
            (0, "Normal", mib(3072) - node_pages(mib(6144)) - TABLE_PAGES),
        ],
        "selftest-buddy-numa-2" => vec![
            (0, "DMA", mib(512) - low - node_pages(mib(512))),
            (1, "DMA", mib(512) - node_pages(mib(512)) - TABLE_PAGES),
        ],
        _ => return None,
    })
}

/// The pages `free_initmem` frees: `[__init_begin, __init_end)`, page aligned at both ends.
pub fn init_pages(built: &Built) -> u64 {
    built.sections[2] / PAGE
}

/// Linux's `Freeing unused kernel memory: NK` line for this image.
pub fn freeing_line(built: &Built) -> String {
    format!("Freeing unused kernel memory: {}K", init_pages(built) * 4)
}

/// Frames of `mib` MiB.
const fn mib(mib: u64) -> u64 {
    mib << 8
}

/// The zone lines of one node of RAM `[0x40000000, 0x40000000 + mem)` (arm64's
/// zone_sizes_init with no dma-ranges: ZONE_DMA ends at 4 GiB or at the end of RAM, DMA32 is
/// empty, Normal holds the rest), and `Built 1 zonelists`' Total pages: each zone's present
/// pages less Linux's memmap for them, 64 bytes a page (1/64 of them: the zones here are
/// multiples of 64 pages).
pub fn zone_lines(mem: u64) -> (Vec<String>, String) {
    let (base, end) = (0x4000_0000u64, 0x4000_0000 + mem);
    let dma_end = end.min(1 << 32);
    let span = |s: u64, e: u64| format!("[mem {s:#018x}-{:#018x}]", e - 1);
    let normal = if end > dma_end { span(dma_end, end) } else { "empty".into() };
    let zones = vec![
        "Zone ranges:".into(),
        format!("  DMA      {}", span(base, dma_end)),
        "  DMA32    empty".into(),
        format!("  Normal   {normal}"),
        format!("  node   0: {}", span(base, end)),
        format!("Initmem setup node 0 {}", span(base, end)),
    ];
    let present = |bytes: u64| bytes / PAGE - bytes / PAGE / 64;
    let total = present(dma_end - base) + present(end - dma_end);
    (zones, format!("Built 1 zonelists, mobility grouping on.  Total pages: {total}"))
}

/// Scenarios that exist for the CPU, the exception level or the command line, on QEMU's own
/// tree with one node: they check the zones and Total pages too.
const ZONES_TOO: [(&str, u64); 8] = [
    ("mem-128M", 128 << 20),
    ("mem-1G", 1 << 30),
    ("mem-4G", 4 << 30),
    ("cortex-a57", 1 << 30),
    ("el2", 1 << 30),
    ("el2-cortex-a57", 1 << 30),
    ("smp-4", 1 << 30),
    ("append", 1 << 30),
];

/// Pin the `Memory:` line of every scenario on QEMU's own tree whose reservations are all
/// accounted for above: replace its wildcard, or add the line after the command line.
pub fn pin(list: &mut [Scenario], built: &Built) {
    let (stext, end) = built.text_end;
    let image = format!(" reserved[0x0]\t[{stext:#018x}-{:#018x}], {:#018x} bytes flags: 0x0", end - 1, end - stext);
    let freeing = freeing_line(built);
    let probe = crate::build::symbol_starting(&built.elf, "_ZN6kernel4arch7aarch647provoke15init_text_probe");
    for s in list.iter_mut() {
        // selftest=initmem faults at the init function it calls, where the linker put it.
        if let (Some(l), Ok(va)) = (s.expect.iter_mut().find(|l| l.starts_with("Unable to handle kernel paging request at virtual address *")), &probe) {
            *l = format!("Unable to handle kernel paging request at virtual address {va:016x}");
        }
        // Every boot of this image frees the same init sections, after mm init and the
        // drivers, before the self-tests.
        if s.expect.iter().any(|l| l == "boot: complete") && !s.expect.iter().any(|l| l.starts_with("Freeing unused kernel memory: ")) {
            let at = s.expect.iter().position(|l| l.starts_with("selftest: ") || l == "boot: complete").unwrap_or(s.expect.len());
            s.expect.insert(at, freeing.clone());
        }
        for l in s.expect.iter_mut().filter(|l| l.as_str() == "Freeing unused kernel memory: *K") {
            l.clone_from(&freeing);
        }
        // The kernel's own entry, [_stext, _end) as the ELF says, wherever a scenario has it.
        for l in s.expect.iter_mut().filter(|l| l.starts_with(" reserved[0x0]\t[0x0000000040210000-*")) {
            *l = image.clone();
        }
        let (nodes, extra): (&[u64], u64) = match s.name {
            "mem-128M" => (&[mib(128)], 0),
            "mem-1G" | "cortex-a57" | "el2" | "el2-cortex-a57" | "smp-4" | "append" | "zones-1G" => (&[mib(1024)], 0),
            "selftest-buddy" | "totalram-1G" => (&[mib(1024)], 0),
            "mem-4G" => (&[mib(4096)], SWIOTLB_PAGES),
            "zones-6G" | "selftest-buddy-6G" => (&[mib(6144)], SWIOTLB_PAGES),
            // mem=512M: the node spans what is left
            "zones-mem-limit" => (&[mib(512)], 0),
            // QEMU splits 1 GiB into two nodes of 512 MiB
            "zones-numa-2" | "selftest-buddy-numa-2" => (&[mib(512), mib(512)], 0),
            // the initrd: 1 MiB (the scenario writes it), 256 pages
            "initrd" => (&[mib(1024)], 256),
            _ => continue,
        };
        if let Some((_, mem)) = ZONES_TOO.iter().find(|(n, _)| *n == s.name) {
            let (zones, total) = zone_lines(*mem);
            let model = s.expect.iter().position(|l| l.starts_with("Machine model: ")).map_or(0, |i| i + 1);
            s.expect.splice(model..model, zones);
            let smccc = s.expect.iter().position(|l| l == "psci: SMC Calling Convention v1.0").map_or(0, |i| i + 1);
            s.expect.insert(smccc, total);
        }
        if let Some(zones) = free_by_zone(built, s.name) {
            for (nid, zone, free) in &zones {
                let head = format!("selftest: buddy: Node {nid}, zone {zone:>8}: ");
                if let Some(l) = s.expect.iter_mut().find(|l| l.starts_with(&head)) {
                    *l = format!("{head}{free} free pages in * blocks, each inside the zone");
                }
            }
            let all: u64 = zones.iter().map(|z| z.2).sum();
            if let Some(l) = s.expect.iter_mut().find(|l| l.ends_with("free pages back to *")) {
                *l = l.replace("free pages back to *", &format!("free pages back to {all}"));
            }
        }
        if s.name == "totalram-1G" {
            let lines = totalram_lines(built, nodes, extra);
            for (pattern, line) in ["after memblock_free_all", "after cma_init_reserved_areas", "after free_initmem"].iter().zip(lines) {
                if let Some(l) = s.expect.iter_mut().find(|l| l.starts_with("totalram_pages: ") && l.contains(pattern)) {
                    *l = line;
                }
            }
        }
        let line = memory_line(built, nodes, extra);
        match s.expect.iter().position(|l| l.starts_with("Memory: ")) {
            Some(i) => s.expect[i] = line,
            None => {
                // after the command line, before what follows mem_init
                let after = ["selftest: ", "Node ", "demo-device ", "Freeing unused kernel memory: ", "boot: complete"];
                let at = s.expect.iter().position(|l| after.iter().any(|a| l.starts_with(a))).unwrap_or(s.expect.len());
                s.expect.insert(at, line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gib_node_takes_its_memmap_links_and_node_data() {
        // 262144 frames: 64 pages of memmap; 524032 link entries, 4192256 bytes, and the run
        // table's 24 within the same 1024 pages.
        assert_eq!(node_pages(mib(1024)), 64 + 1024 + 1);
        // 6 GiB, 48 sections: 48 * 65504 entries are 6141 pages exactly: the run table needs a
        // page of its own.
        assert_eq!(node_pages(mib(6144)), 384 + 6142 + 1);
    }

    #[test]
    fn four_gib_has_a_normal_zone() {
        let (zones, total) = zone_lines(4 << 30);
        assert_eq!(zones[1], "  DMA      [mem 0x0000000040000000-0x00000000ffffffff]");
        assert_eq!(zones[3], "  Normal   [mem 0x0000000100000000-0x000000013fffffff]");
        // 786432 - 12288 + 262144 - 4096
        assert!(total.ends_with("Total pages: 1032192"));
    }
}
