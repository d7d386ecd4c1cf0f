//! Exact text of the dump and of the `memblock=debug` trace lines.

use super::*;

/// The lines `f` logs.
fn capture(f: impl FnOnce()) -> Vec<String> {
    crate::testlog::capture(f).1
}

fn dump_text(m: &Memblock) -> String {
    let mut s = String::new();
    m.dump_to(&mut |args| {
        s.push_str(&args.to_string());
        s.push('\n');
    });
    s
}

#[test]
fn dump_of_a_small_configuration() {
    // memory: [1G, +128M) without node (nid MAX_NUMNODES: no " on node"), and
    // [2G, +256M) on node 1 hot-pluggable (flags 0x1); reserved: [1G+2M, +64K).
    // Sizes: memory 0x1800_0000, reserved 0x1_0000. Ends are base + size - 1.
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x800_0000).unwrap();
    m.add_node(pa(0x8000_0000), 0x1000_0000, 1, MemblockFlags::HOTPLUG).unwrap();
    m.reserve(pa(0x4020_0000), 0x1_0000).unwrap();
    let expected = concat!(
        "MEMBLOCK configuration:\n",
        " memory size = 0x0000000018000000 reserved size = 0x0000000000010000\n",
        " memory.cnt  = 0x2\n",
        " memory[0x0]\t[0x0000000040000000-0x0000000047ffffff], 0x0000000008000000 bytes flags: 0x0\n",
        " memory[0x1]\t[0x0000000080000000-0x000000008fffffff], 0x0000000010000000 bytes on node 1 flags: 0x1\n",
        " reserved.cnt  = 0x1\n",
        " reserved[0x0]\t[0x0000000040200000-0x000000004020ffff], 0x0000000000010000 bytes flags: 0x0\n"
    );
    assert_eq!(dump_text(&m), expected);
}

#[test]
fn dump_of_empty_arrays_shows_linux_dummy_entries() {
    // A fresh array holds Linux's statically zeroed dummy: cnt 1, size 0, nid 0 (so " on node
    // 0"), and the end base + size - 1 wraps to all ones. Once an array has been emptied by a
    // removal, the dummy has nid MAX_NUMNODES and no node is printed.
    let mut m = mb();
    let fresh = concat!(
        "MEMBLOCK configuration:\n",
        " memory size = 0x0000000000000000 reserved size = 0x0000000000000000\n",
        " memory.cnt  = 0x1\n",
        " memory[0x0]\t[0x0000000000000000-0xffffffffffffffff], 0x0000000000000000 bytes on node 0 flags: 0x0\n",
        " reserved.cnt  = 0x1\n",
        " reserved[0x0]\t[0x0000000000000000-0xffffffffffffffff], 0x0000000000000000 bytes on node 0 flags: 0x0\n"
    );
    assert_eq!(dump_text(&m), fresh);
    m.reserve(pa(0x1000), 0x1000).unwrap();
    m.phys_free(pa(0x1000), 0x1000).unwrap();
    assert!(dump_text(&m).ends_with(
        " reserved[0x0]\t[0x0000000000000000-0xffffffffffffffff], 0x0000000000000000 bytes flags: 0x0\n"
    ));
}

#[test]
fn dump_goes_through_log_and_dump_all_needs_debug() {
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000).unwrap();
    assert!(capture(|| m.dump_all()).is_empty());
    assert_eq!(capture(|| m.dump()).len(), 6);
    m.set_debug(true);
    let lines = capture(|| m.dump_all());
    assert_eq!(lines[0], "MEMBLOCK configuration:");
    assert_eq!(lines[3], " memory[0x0]\t[0x0000000040000000-0x0000000040000fff], 0x0000000000001000 bytes flags: 0x0");
}

#[test]
fn debug_lines() {
    let file = file!();
    let mut m = mb();
    assert!(capture(|| m.add(pa(0x4000_0000), 0x1000_0000).unwrap()).is_empty(), "silent without debug");
    m.set_debug(true);
    let mut at = 0;
    let lines = capture(|| {
        at = line!() + 1;
        m.add(pa(0x5000_0000), 0x1000).unwrap();
        m.add_node(pa(0x6000_0000), 0x2000, 1, MemblockFlags::HOTPLUG).unwrap();
        m.remove(pa(0x6000_0000), 0x1000).unwrap();
        m.reserve(pa(0x4000_0000), 0x1000).unwrap();
        m.phys_free(pa(0x4000_0000), 0x800).unwrap();
        m.phys_alloc_range(4096, 0x1000, pa(0), pa(0x4800_0000)).unwrap();
        m.alloc_try_nid_raw(64, 64, pa(0x1000), MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE).unwrap();
    });
    let l = |n: u32| format!("{file}:{}", at + n);
    assert_eq!(lines[0], format!("memblock_add: [0x0000000050000000-0x0000000050000fff] {}", l(0)));
    assert_eq!(lines[1], format!("memblock_add_node: [0x0000000060000000-0x0000000060001fff] nid=1 flags=1 {}", l(1)));
    assert_eq!(lines[2], format!("memblock_remove: [0x0000000060000000-0x0000000060000fff] {}", l(2)));
    assert_eq!(lines[3], format!("memblock_reserve: [0x0000000040000000-0x0000000040000fff] {}", l(3)));
    assert_eq!(lines[4], format!("memblock_phys_free: [0x0000000040000000-0x00000000400007ff] {}", l(4)));
    assert_eq!(
        lines[5],
        format!(
            "memblock_phys_alloc_range: 4096 bytes align=0x1000 from=0x0000000000000000 \
             max_addr=0x0000000048000000 {}",
            l(5)
        )
    );
    // The reservation made by the allocator names memblock's own code as its caller, as
    // Linux names memblock_alloc_range_nid.
    assert!(lines[6].starts_with("memblock_reserve: [0x0000000047fff000-0x0000000047ffffff] "), "{}", lines[6]);
    assert!(lines[6].contains("memblock/alloc.rs:"));
    assert_eq!(
        lines[7],
        format!(
            "memblock_alloc_try_nid_raw: 64 bytes align=0x40 nid=-1 from=0x0000000000001000 \
             max_addr=0x0000000000000000 {}",
            l(6)
        )
    );
    assert_eq!(lines.len(), 9);
}

#[test]
fn doubling_line_and_zero_size_end() {
    // 6144 bytes at 0xbfff_e000: the line shows new_size - 1, not the page-aligned size.
    let mut m = mb();
    m.add(pa(0x8000_0000), 0x4000_0000).unwrap();
    m.allow_resize(&LEAK_MAPPER);
    for i in 0..128u64 {
        m.reserve(pa(0x8000_0000 + i * 0x2000), 0x1000).unwrap();
    }
    m.set_debug(true);
    let lines = capture(|| m.reserve(pa(0x8000_0000 + 128 * 0x2000), 0x1000).unwrap());
    assert_eq!(lines[1], "memblock: reserved is doubled to 256 at [0x00000000bfffe000-0x00000000bffff7ff]");
    assert!(lines[2].starts_with("memblock_reserve: [0x00000000bfffe000-0x00000000bfffffff] "));
    // A zero-sized call prints base - 1 as Linux does.
    let lines = capture(|| m.reserve(pa(0x1000), 0).unwrap());
    assert!(lines[0].starts_with("memblock_reserve: [0x0000000000001000-0x0000000000000fff] "));
}

#[test]
fn mirror_fallback_warning() {
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.set_mirrored_kernelcore(true);
    m.mark_mirror(pa(0x4000_0000), 0x1000).unwrap();
    let lines = capture(|| {
        m.phys_alloc(0x2000, 0x1000).unwrap();
    });
    assert_eq!(lines, ["Could not allocate 0x0000000000002000 bytes of mirrored memory"]);
}
