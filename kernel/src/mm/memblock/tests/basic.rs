//! Adding, reserving, removing, freeing, flags, nodes, trimming, limits and array growth.

use super::*;

/// One layout case: start from `existing`, apply one range operation, expect `expect`.
struct Case {
    name: &'static str,
    existing: &'static [(u64, u64)],
    op: (u64, u64),
    expect: &'static [(u64, u64)],
}

const TOP: u64 = u64::MAX;

/// Cases for `add` on memory, replayed for `reserve` on reserved: both are
/// `memblock_add_range`, which fills only the holes of the new range and merges neighbours.
const ADD_CASES: &[Case] = &[
    //  |  r1  |            |  r2  |      two disjoint ranges
    //  +------+            +------+  ->  both kept, sorted, cnt 2, total 16M + 32M
    Case {
        name: "disjoint",
        existing: &[(0xa000_0000, 0x200_0000)],
        op: (0x1000_0000, 0x100_0000),
        expect: &[(0x1000_0000, 0x100_0000), (0xa000_0000, 0x200_0000)],
    },
    //       |    r1    |             new range starts below r1 and ends inside it
    //  |  new   |           ->  only [new.base, r1.base) is inserted, and it touches r1,
    //                           so one region [new.base, r1.end), cnt 1
    Case {
        name: "overlaps the bottom of an existing region",
        existing: &[(0x1000_0000, 0x1000_0000)],
        op: (0x0c00_0000, 0x0800_0000),
        expect: &[(0x0c00_0000, 0x1400_0000)],
    },
    //  |    r1    |                  new range starts inside r1 and ends above it
    //        |   new   |    ->  [r1.end, new.end) inserted and merged: [r1.base, new.end)
    Case {
        name: "overlaps the top of an existing region",
        existing: &[(0x1000_0000, 0x1000_0000)],
        op: (0x1800_0000, 0x1000_0000),
        expect: &[(0x1000_0000, 0x1800_0000)],
    },
    //  |      r1      |              new range inside r1
    //     | new |           ->  no hole to fill, unchanged
    Case {
        name: "within an existing region",
        existing: &[(0x1000_0000, 0x1000_0000)],
        op: (0x1400_0000, 0x0100_0000),
        expect: &[(0x1000_0000, 0x1000_0000)],
    },
    //  |  r1  |                      the same range twice
    //  | new  |                 ->  unchanged, total not counted twice
    Case {
        name: "duplicate",
        existing: &[(0x1000_0000, 0x0100_0000)],
        op: (0x1000_0000, 0x0100_0000),
        expect: &[(0x1000_0000, 0x0100_0000)],
    },
    //  |  r1  |      |  r2  |        add [r1.end, r2.base) between them
    //  +------+------+------+   ->  expect one region r1.base..r2.end, cnt 1
    Case {
        name: "between two regions, three merge into one",
        existing: &[(0x1000_0000, 0x0100_0000), (0x1200_0000, 0x0100_0000)],
        op: (0x1100_0000, 0x0100_0000),
        expect: &[(0x1000_0000, 0x0300_0000)],
    },
    //    |  r1  |    |  r2  |        new range covers both and more on each side
    //  |         new          | ->  the three holes are inserted, all merge: one region
    Case {
        name: "covers two regions and the gaps around them",
        existing: &[(0x1000_0000, 0x0100_0000), (0x1200_0000, 0x0100_0000)],
        op: (0x0f00_0000, 0x0500_0000),
        expect: &[(0x0f00_0000, 0x0500_0000)],
    },
    //  |  r1  |  r2 (touching)       a range that starts at r1.end
    //  +------+------+          ->  merged into one, cnt 1
    Case {
        name: "touching above",
        existing: &[(0x1000_0000, 0x0100_0000)],
        op: (0x1100_0000, 0x0100_0000),
        expect: &[(0x1000_0000, 0x0200_0000)],
    },
    //                     |  new  ...past 2^64      base = MAX - 16M, size 32M
    //  ----------------------------|  top      ->  cap_size: size = MAX - base = 16M, the
    //                                          region ends at MAX (last byte excluded)
    Case {
        name: "near the top of the address space",
        existing: &[],
        op: (TOP - 0x100_0000, 0x200_0000),
        expect: &[(TOP - 0x100_0000, 0x100_0000)],
    },
    //  size 0                    ->  nothing happens
    Case { name: "zero size", existing: &[(0x1000_0000, 0x1000)], op: (0x2000_0000, 0), expect: &[(0x1000_0000, 0x1000)] },
    //  first range into an empty array  ->  fills Linux's dummy slot, cnt 1
    Case { name: "into an empty array", existing: &[], op: (0x4000_0000, 0x1000), expect: &[(0x4000_0000, 0x1000)] },
];

#[test]
fn add_cases() {
    for c in ADD_CASES {
        let mut m = mb();
        for &(b, s) in c.existing {
            m.add(pa(b), s).unwrap();
        }
        m.add(pa(c.op.0), c.op.1).unwrap();
        assert_eq!(layout(&m.memory), c.expect, "add: {}", c.name);
        assert_eq!(m.phys_mem_size(), c.expect.iter().map(|r| r.1).sum::<u64>(), "add total: {}", c.name);
        check_invariants(&m.memory);
        assert!(m.memory.regions().iter().all(|r| r.nid == MAX_NUMNODES && r.flags == MemblockFlags::NONE));
    }
}

#[test]
fn reserve_cases() {
    for c in ADD_CASES {
        let mut m = mb();
        for &(b, s) in c.existing {
            m.reserve(pa(b), s).unwrap();
        }
        m.reserve(pa(c.op.0), c.op.1).unwrap();
        assert_eq!(layout(&m.reserved), c.expect, "reserve: {}", c.name);
        assert_eq!(m.reserved_size(), c.expect.iter().map(|r| r.1).sum::<u64>(), "reserve total: {}", c.name);
        check_invariants(&m.reserved);
        assert_eq!(m.memory.cnt(), 0, "reserve must not touch memory");
    }
}

/// Cases for `remove` on memory, replayed for `phys_free` on reserved
/// (both are `memblock_remove_range`: isolate, then drop the isolated regions).
const REMOVE_CASES: &[Case] = &[
    //  |  r1  |        |  r2  |      remove exactly r1
    //  +xxxxxx+        +------+  ->  [r2] only
    Case {
        name: "simple",
        existing: &[(0x1000_0000, 0x100_0000), (0x2000_0000, 0x100_0000)],
        op: (0x1000_0000, 0x100_0000),
        expect: &[(0x2000_0000, 0x100_0000)],
    },
    //  |  r1  |      |xxxx|          range outside every region
    //                           ->  unchanged
    Case {
        name: "absent",
        existing: &[(0x1000_0000, 0x100_0000)],
        op: (0x3000_0000, 0x100_0000),
        expect: &[(0x1000_0000, 0x100_0000)],
    },
    //      |    r1    |              range covers the bottom of r1
    //  |xxxxxxxx|               ->  r1 split at the range end, lower part dropped:
    //                               [0x1800_0000, 0x2000_0000)
    Case {
        name: "overlaps the bottom of a region",
        existing: &[(0x1000_0000, 0x1000_0000)],
        op: (0x0800_0000, 0x1000_0000),
        expect: &[(0x1800_0000, 0x0800_0000)],
    },
    //  |    r1    |                  range covers the top of r1
    //        |xxxxxxxx|         ->  [0x1000_0000, 0x1800_0000) left
    Case {
        name: "overlaps the top of a region",
        existing: &[(0x1000_0000, 0x1000_0000)],
        op: (0x1800_0000, 0x1000_0000),
        expect: &[(0x1000_0000, 0x0800_0000)],
    },
    //  |      r1      |              range strictly inside r1
    //     |xxxxx|               ->  r1 split in two around the hole, cnt 2
    Case {
        name: "within: split into two",
        existing: &[(0x1000_0000, 0x1000_0000)],
        op: (0x1400_0000, 0x0400_0000),
        expect: &[(0x1000_0000, 0x0400_0000), (0x1800_0000, 0x0800_0000)],
    },
    //  |  r1  |                      remove the only region
    //  |xxxxxx|                 ->  empty (Linux keeps its zero dummy slot), total 0
    Case { name: "the only region", existing: &[(0x1000_0000, 0x100_0000)], op: (0x1000_0000, 0x100_0000), expect: &[] },
    //  |  r1  |    |  r2  |          range from inside r1 to inside r2
    //     |xxxxxxxxxxx|         ->  both trimmed: [r1.base, +8M) and [0x1280_0000, r2.end)
    Case {
        name: "spanning two regions",
        existing: &[(0x1000_0000, 0x100_0000), (0x1200_0000, 0x100_0000)],
        op: (0x1080_0000, 0x0200_0000),
        expect: &[(0x1000_0000, 0x080_0000), (0x1280_0000, 0x080_0000)],
    },
    //  |  r1  |   |  r2  |   |  r3  | remove a range covering r2 and its gaps exactly
    //         |xxxxxxxxxxx|     ->  r1 and r3 stay
    Case {
        name: "covering a middle region",
        existing: &[(0x1000_0000, 0x100_0000), (0x1200_0000, 0x100_0000), (0x1400_0000, 0x100_0000)],
        op: (0x1100_0000, 0x0300_0000),
        expect: &[(0x1000_0000, 0x100_0000), (0x1400_0000, 0x100_0000)],
    },
    //  |  r1  |           ...top     remove [r1.base + 8M, +MAX): size capped at the top
    //         |xxxxxxxxxxxxxx   ->  r1 trimmed to 8M
    Case {
        name: "size past the top of the address space",
        existing: &[(0x1000_0000, 0x100_0000)],
        op: (0x1080_0000, u64::MAX),
        expect: &[(0x1000_0000, 0x080_0000)],
    },
];

#[test]
fn remove_cases() {
    for c in REMOVE_CASES {
        let mut m = mb();
        for &(b, s) in c.existing {
            m.add(pa(b), s).unwrap();
        }
        m.remove(pa(c.op.0), c.op.1).unwrap();
        assert_eq!(layout(&m.memory), c.expect, "remove: {}", c.name);
        assert_eq!(m.phys_mem_size(), c.expect.iter().map(|r| r.1).sum::<u64>(), "remove total: {}", c.name);
        check_invariants(&m.memory);
    }
}

#[test]
fn phys_free_cases() {
    for c in REMOVE_CASES {
        let mut m = mb();
        for &(b, s) in c.existing {
            m.reserve(pa(b), s).unwrap();
        }
        m.phys_free(pa(c.op.0), c.op.1).unwrap();
        assert_eq!(layout(&m.reserved), c.expect, "phys_free: {}", c.name);
        assert_eq!(m.reserved_size(), c.expect.iter().map(|r| r.1).sum::<u64>(), "free total: {}", c.name);
        check_invariants(&m.reserved);
    }
}

#[test]
fn removing_everything_leaves_the_dummy_slot_with_no_node() {
    // Linux resets the emptied array to one zero region with nid MAX_NUMNODES; a later add
    // fills that slot again.
    let mut m = mb();
    m.add(pa(0x1000_0000), 0x1000).unwrap();
    m.remove(pa(0x1000_0000), 0x1000).unwrap();
    assert_eq!(m.memory.raw_cnt(), 1);
    assert_eq!(m.memory.slots()[0], Region { base: pa(0), size: 0, flags: MemblockFlags::NONE, nid: MAX_NUMNODES });
    m.add(pa(0x2000_0000), 0x2000).unwrap();
    assert_eq!(layout(&m.memory), [(0x2000_0000, 0x2000)]);
}

#[test]
fn flag_set_operations() {
    // HOTPLUG 0x1, MIRROR 0x2, NOMAP 0x4 are distinct bits (Linux's enum memblock_flags).
    let hm = MemblockFlags::HOTPLUG | MemblockFlags::MIRROR; // 0x1 | 0x2 = 0x3
    assert_eq!(hm, MemblockFlags(0x3));
    assert_eq!(MemblockFlags::HOTPLUG.union(MemblockFlags::NOMAP), MemblockFlags(0x5));
    // contains: every bit; intersects: any bit.
    assert!(hm.contains(MemblockFlags::MIRROR));
    assert!(hm.contains(hm));
    assert!(!hm.contains(MemblockFlags::NOMAP));
    assert!(!hm.contains(MemblockFlags::MIRROR | MemblockFlags::NOMAP)); // 0x3 & 0x6 = 0x2 != 0x6
    assert!(hm.intersects(MemblockFlags::MIRROR | MemblockFlags::NOMAP)); // 0x3 & 0x6 = 0x2
    assert!(!hm.intersects(MemblockFlags::NOMAP)); // 0x3 & 0x4 = 0
    assert!(!MemblockFlags::NONE.intersects(hm));
    // difference clears only the given bits: 0x3 & !0x2 = 0x1; clearing an unset bit keeps all.
    assert_eq!(hm.difference(MemblockFlags::MIRROR), MemblockFlags::HOTPLUG);
    assert_eq!(hm.difference(MemblockFlags::NOMAP), hm);
    // The region predicates read their own bit only.
    let r = Region { flags: MemblockFlags::MIRROR | MemblockFlags::DRIVER_MANAGED, ..Region::new(0, 0x1000) };
    assert!(r.is_mirror() && r.is_driver_managed());
    assert!(!r.is_nomap() && !r.is_hotpluggable());
    let h = Region { flags: MemblockFlags::HOTPLUG | MemblockFlags::NOMAP, ..Region::new(0, 0x1000) };
    assert!(h.is_hotpluggable() && h.is_nomap());
    assert!(!h.is_mirror() && !h.is_driver_managed());
}

#[test]
fn settings_read_back() {
    // Memblock::new is Linux's static state: top-down, no movable_node, open for allocations.
    let mut m = mb();
    assert!(!m.bottom_up() && !m.movable_node() && !m.is_closed());
    m.set_bottom_up(true);
    m.set_movable_node(true);
    m.close();
    assert!(m.bottom_up() && m.movable_node() && m.is_closed());
    m.set_bottom_up(false);
    m.set_movable_node(false);
    assert!(!m.bottom_up() && !m.movable_node());
    // current_limit starts at MEMBLOCK_ALLOC_ANYWHERE (all ones), as Linux's static memblock.
    assert_eq!(mb().current_limit(), pa(u64::MAX));
    m.set_current_limit(pa(0x4000_0000));
    assert_eq!(m.current_limit(), pa(0x4000_0000));
}

#[test]
fn flags_and_nodes_prevent_merging() {
    //  | nid 0 | nid 1 |            touching ranges on different nodes
    //  +-------+-------+       ->  two regions
    let mut m = mb();
    m.add_node(pa(0x1000_0000), 0x1000_0000, 0, MemblockFlags::NONE).unwrap();
    m.add_node(pa(0x2000_0000), 0x1000_0000, 1, MemblockFlags::NONE).unwrap();
    assert_eq!(m.memory.cnt(), 2);
    //  | nid 1 | nid 1 HOTPLUG |    same node, different flags  ->  not merged
    m.add_node(pa(0x3000_0000), 0x1000_0000, 1, MemblockFlags::HOTPLUG).unwrap();
    assert_eq!(m.memory.cnt(), 3);
    //  | nid 1 HOTPLUG | nid 1 HOTPLUG |  same node and flags  ->  merged
    m.add_node(pa(0x4000_0000), 0x1000_0000, 1, MemblockFlags::HOTPLUG).unwrap();
    assert_eq!(m.memory.cnt(), 3);
    assert_eq!(m.memory.regions()[2].size, 0x2000_0000);
    check_invariants(&m.memory);
}

#[test]
fn overlapping_add_keeps_existing_attributes() {
    //        | r nid 0 |             add_node nid 1 over [0x1000, 0x5000)
    //  |  new nid 1           | ->  [0x1000,0x2000) nid 1, r untouched, [0x4000,0x5000) nid 1
    let mut m = mb();
    m.add_node(pa(0x2000), 0x2000, 0, MemblockFlags::NONE).unwrap();
    m.add_node(pa(0x1000), 0x4000, 1, MemblockFlags::NONE).unwrap();
    let got: Vec<_> = m.memory.regions().iter().map(|r| (r.base.0, r.size, r.nid)).collect();
    assert_eq!(got, [(0x1000, 0x1000, 1), (0x2000, 0x2000, 0), (0x4000, 0x1000, 1)]);
    assert_eq!(m.phys_mem_size(), 0x4000);
}

#[test]
fn nomap_marking_splits_and_clearing_merges() {
    //  |            r             |      mark_nomap in the middle
    //  |   0   | NOMAP |    0     | ->  3 regions, flags 0 / 4 / 0, total unchanged
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.mark_nomap(pa(0x4400_0000), 0x100_0000).unwrap();
    let got: Vec<_> = m.memory.regions().iter().map(|r| (r.base.0, r.size, r.flags.0)).collect();
    assert_eq!(got, [(0x4000_0000, 0x400_0000, 0), (0x4400_0000, 0x100_0000, 4), (0x4500_0000, 0xb00_0000, 0)]);
    assert_eq!(m.phys_mem_size(), 0x1000_0000);
    assert!(m.is_memory(pa(0x4400_0000)) && !m.is_map_memory(pa(0x4400_0000)));
    // Clearing the flag makes the three compatible again: merged back to one.
    m.clear_nomap(pa(0x4400_0000), 0x100_0000).unwrap();
    assert_eq!(layout(&m.memory), [(0x4000_0000, 0x1000_0000)]);
    // Hotplug marking behaves the same way.
    m.mark_hotplug(pa(0x4000_0000), 0x1000).unwrap();
    assert_eq!(m.memory.regions()[0].flags, MemblockFlags::HOTPLUG);
    m.clear_hotplug(pa(0x4000_0000), 0x1000).unwrap();
    assert_eq!(m.memory.cnt(), 1);
}

#[test]
fn mark_mirror_needs_kernelcore_mirror() {
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.mark_mirror(pa(0x4000_0000), 0x1000).unwrap();
    assert_eq!(m.memory.cnt(), 1);
    assert!(!m.has_mirror());
    m.set_mirrored_kernelcore(true);
    m.mark_mirror(pa(0x4000_0000), 0x1000).unwrap();
    assert!(m.has_mirror());
    assert_eq!(m.memory.regions()[0].flags, MemblockFlags::MIRROR);
}

#[test]
fn isolate_range_reports_the_inner_regions() {
    //  |                 r                  |      r = [0x1000_0000, 0x2000_0000)
    //  +-----------+-----------+------------+      isolate [0x1400_0000, +64M)
    //              ^ base      ^ end
    //  |     0     | 1 (range) |     2      | ->  r split at both ends: 64M, 64M, 128M,
    //                                             not merged back, index range 1..2
    let mut m = mb();
    m.add(pa(0x1000_0000), 0x1000_0000).unwrap();
    let r = m.isolate_range(MemblockKind::Memory, pa(0x1400_0000), 0x400_0000).unwrap();
    assert_eq!(r, 1..2);
    assert_eq!(layout(&m.memory), [(0x1000_0000, 0x400_0000), (0x1400_0000, 0x400_0000), (0x1800_0000, 0x800_0000)]);

    //          |  0  |  1  |     2      |      isolate [0x0800_0000, 0x1800_0000): from the
    //  |xxxxxxxxxxxxxxxxxxx|                   hole below 0 to exactly 1's end
    //                                     ->  no split: regions 0 and 1, index range 0..2, cnt 3
    let r = m.isolate_range(MemblockKind::Memory, pa(0x0800_0000), 0x1000_0000).unwrap();
    assert_eq!(r, 0..2);
    assert_eq!(m.memory.cnt(), 3);

    //  |  0  |  1  |     2      |   |xx|       isolate [0x5000_0000, +4K), above every region
    //                                     ->  empty index range, nothing split
    assert_eq!(m.isolate_range(MemblockKind::Memory, pa(0x5000_0000), 0x1000).unwrap(), 0..0);
    assert_eq!(m.memory.cnt(), 3);

    //  |  0  |  1  |     2      |              isolate [0x1200_0000, 0x1a00_0000): from inside
    //     |xxxxxxxxxxxxxx|                     0 to inside 2
    //  |0 |0'|  1  |2'|   2     |         ->  0 and 2 split: five regions, the inner three
    //                                         (0', 1, 2') are index range 1..4
    let r = m.isolate_range(MemblockKind::Memory, pa(0x1200_0000), 0x800_0000).unwrap();
    assert_eq!(r, 1..4);
    assert_eq!(
        layout(&m.memory),
        [
            (0x1000_0000, 0x200_0000),
            (0x1200_0000, 0x200_0000),
            (0x1400_0000, 0x400_0000),
            (0x1800_0000, 0x200_0000),
            (0x1a00_0000, 0x600_0000)
        ]
    );
    assert_eq!(m.phys_mem_size(), 0x1000_0000, "isolating moves no byte");
}

#[test]
fn set_node_splits_then_merges() {
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x2000_0000).unwrap();
    //  |    MAX_NUMNODES     |      set node 1 on the upper half
    //  | MAX      | node 1   | ->  two regions
    m.set_node(pa(0x5000_0000), 0x1000_0000, MemblockKind::Memory, 1).unwrap();
    let got: Vec<_> = m.memory.regions().iter().map(|r| (r.base.0, r.nid)).collect();
    assert_eq!(got, [(0x4000_0000, MAX_NUMNODES), (0x5000_0000, 1)]);
    // The whole range on node 1  ->  one region again.
    m.set_node(pa(0), u64::MAX, MemblockKind::Memory, 1).unwrap();
    assert_eq!(m.memory.cnt(), 1);
    assert_eq!(m.memory.regions()[0].nid, 1);
}

#[test]
fn trim_memory_cases() {
    // align 4 KiB on four regions:
    //  a: [0x1000_0000, +1M)      aligned          ->  unchanged
    //  b: [0x2000_0100, +0x800)   start rounds up to 0x2000_1000, end rounds down to
    //                             0x2000_0000: nothing left  ->  removed
    //  c: [0x3000_0100, +0x2000)  unaligned base   ->  [0x3000_1000, 0x3000_2000)
    //  d: [0x4000_0000, +0x1800)  unaligned end    ->  [0x4000_0000, 0x4000_1000)
    let mut m = mb();
    m.add(pa(0x1000_0000), 0x10_0000).unwrap();
    m.add(pa(0x2000_0100), 0x800).unwrap();
    m.add(pa(0x3000_0100), 0x2000).unwrap();
    m.add(pa(0x4000_0000), 0x1800).unwrap();
    m.trim_memory(SZ_4K);
    assert_eq!(layout(&m.memory), [(0x1000_0000, 0x10_0000), (0x3000_1000, 0x1000), (0x4000_0000, 0x1000)]);
    check_invariants(&m.memory);
    // A region smaller than the alignment alone: the array becomes empty.
    let mut m = mb();
    m.add(pa(0x2000_0100), 0x800).unwrap();
    m.trim_memory(SZ_4K);
    assert_eq!(m.memory.cnt(), 0);
    assert_eq!(m.phys_mem_size(), 0);
    // Rounding that meets in the middle: [0x2000_0800, 0x2000_1800) becomes [0x2000_1000,
    // 0x2000_1000), empty: removed too, not kept as a region of size 0.
    let mut m = mb();
    m.add(pa(0x1000_0000), 0x1000).unwrap();
    m.add(pa(0x2000_0800), 0x1000).unwrap();
    m.trim_memory(SZ_4K);
    assert_eq!(layout(&m.memory), [(0x1000_0000, 0x1000)]);
}

#[test]
fn enforce_memory_limit_cuts_inside_a_region() {
    //  | r1 256M |        | r2 256M |          mem=384M
    //  [0x4000_0000..)    [0x8000_0000..)  ->  all of r1 (256M) + 128M of r2:
    //                                         max_addr = 0x8800_0000; memory and reserved
    //                                         are cut there
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.add(pa(0x8000_0000), 0x1000_0000).unwrap();
    m.reserve(pa(0x8700_0000), 0x200_0000).unwrap();
    m.reserve(pa(0x8c00_0000), 0x1000).unwrap();
    m.enforce_memory_limit(0x1800_0000);
    assert_eq!(layout(&m.memory), [(0x4000_0000, 0x1000_0000), (0x8000_0000, 0x800_0000)]);
    assert_eq!(layout(&m.reserved), [(0x8700_0000, 0x100_0000)]);
    assert_eq!(m.phys_mem_size(), 0x1800_0000);
    assert_eq!(m.end_of_dram(), pa(0x8800_0000));
}

#[test]
fn enforce_memory_limit_beyond_the_end_or_zero_does_nothing() {
    //  | r1 256M |        | r2 256M    |R|     mem=768M, mem=512M, and 0
    //  [0x4000_0000..)    [0x8000_0000..0x9000_0000), R its last page
    //  768M: more than all memory, no cut  ->  unchanged
    //  512M: the cut falls at r2's end (0x9000_0000), nothing lies above it  ->  unchanged
    //  0: Linux's "no limit"  ->  unchanged
    for limit in [0x3000_0000, 0x2000_0000, 0] {
        let mut m = mb();
        m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
        m.add(pa(0x8000_0000), 0x1000_0000).unwrap();
        m.reserve(pa(0x8fff_f000), 0x1000).unwrap();
        m.enforce_memory_limit(limit);
        assert_eq!(layout(&m.memory), [(0x4000_0000, 0x1000_0000), (0x8000_0000, 0x1000_0000)], "limit {limit:#x}");
        assert_eq!(m.reserved.cnt(), 1);
    }
}

#[test]
fn mem_limit_remove_map_keeps_nomap() {
    //  0x4000_0000  0x4400_0000  0x4800_0000  0x4900_0000          0x5000_0000
    //  |  64M       |            |  NOMAP     |                  |R|     mem=64M with NOMAP kept:
    //  +------------+xxxxxxxxxxxx+------------+xxxxxxxxxxxxxxxxxxxxx+     max_addr 0x4400_0000
    //                                     ->  [0x4000_0000, +64M) and the NOMAP region stay;
    //                                         mapped memory above the cut and R are dropped
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.mark_nomap(pa(0x4800_0000), 0x100_0000).unwrap();
    m.reserve(pa(0x4f00_0000), 0x1000).unwrap();
    m.mem_limit_remove_map(0x400_0000);
    let got: Vec<_> = m.memory.regions().iter().map(|r| (r.base.0, r.size, r.flags.0)).collect();
    assert_eq!(got, [(0x4000_0000, 0x400_0000, 0), (0x4800_0000, 0x100_0000, 4)]);
    assert_eq!(m.reserved.cnt(), 0, "reserved above the cap is truncated");
}

#[test]
fn cap_memory_range_keeps_the_range_and_nomap() {
    //  0x4000_0000 0x4100_0000     0x4400_0000  0x4800_0000   0x5000_0000  0x8000_0000
    //  |R1|        |NOMAP 1M|      |  cap 64M   |   |R2|      |            | r2 16M  |R3|
    //  +xxxxxxxxxxx+--------+xxxxxx+------------+xxxxxxxxxxxxxx+            +xxxxxxxxxxxx+
    //  ->  memory: the NOMAP region and [0x4400_0000, +64M) (the big region split at both
    //      cap ends, everything else mapped dropped); reserved: only R2 (0x4700_0000), which
    //      lies inside the cap; R1 (below) and R3 (above) are dropped
    let mut m = mb();
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.mark_nomap(pa(0x4100_0000), SZ_1M).unwrap();
    m.add(pa(0x8000_0000), 0x100_0000).unwrap();
    m.reserve(pa(0x4000_0000), SZ_4K).unwrap();
    m.reserve(pa(0x4700_0000), SZ_4K).unwrap();
    m.reserve(pa(0x8000_0000), SZ_4K).unwrap();
    m.cap_memory_range(pa(0x4400_0000), 0x400_0000);
    let got: Vec<_> = m.memory.regions().iter().map(|r| (r.base.0, r.size, r.flags.0)).collect();
    assert_eq!(got, [(0x4100_0000, SZ_1M, 4), (0x4400_0000, 0x400_0000, 0)]);
    assert_eq!(layout(&m.reserved), [(0x4700_0000, SZ_4K)]);
    check_invariants(&m.memory);

    //  no memory yet, |R|                  cap anything  ->  Linux warns and changes nothing,
    //                                      not even reserved; size 0 changes nothing either
    let mut m = mb();
    m.reserve(pa(0x4000_0000), SZ_4K).unwrap();
    m.cap_memory_range(pa(0x8000_0000), SZ_1M);
    assert_eq!(layout(&m.reserved), [(0x4000_0000, SZ_4K)]);
    m.add(pa(0x4000_0000), SZ_1M).unwrap();
    m.cap_memory_range(pa(0x8000_0000), 0);
    assert_eq!(layout(&m.memory), [(0x4000_0000, SZ_1M)]);
    assert_eq!(layout(&m.reserved), [(0x4000_0000, SZ_4K)]);
}

#[test]
fn queries() {
    let mut m = mb();
    assert_eq!(m.start_of_dram(), pa(0));
    m.add(pa(0x4000_0000), 0x1000_0000).unwrap();
    m.add(pa(0x8000_0000), 0x1000).unwrap();
    m.reserve(pa(0x4100_0000), 0x1000).unwrap();
    assert_eq!(m.start_of_dram(), pa(0x4000_0000));
    assert_eq!(m.end_of_dram(), pa(0x8000_1000));
    assert!(m.is_region_memory(pa(0x4000_0000), 0x1000_0000));
    assert!(!m.is_region_memory(pa(0x4000_0000), 0x1000_0001));
    assert!(!m.is_region_memory(pa(0x3fff_f000), 0x2000));
    assert!(m.is_region_reserved(pa(0x40ff_f000), 0x1001));
    assert!(!m.is_region_reserved(pa(0x40ff_f000), 0x1000));
    assert!(m.is_reserved(pa(0x4100_0fff)) && !m.is_reserved(pa(0x4100_1000)));
    assert!(m.overlaps_region(MemblockKind::Memory, pa(0x7fff_ffff), 2));
    assert!(!m.overlaps_region(MemblockKind::Memory, pa(0x5000_0000), 0x1000));
    // Near the top, the size is capped instead of wrapping.
    assert!(!m.overlaps_region(MemblockKind::Memory, pa(u64::MAX - 1), u64::MAX));
}

// ---- growth -----------------------------------------------------------------------------

/// Reserve `n` one-page regions two pages apart from `base`, so none merge.
fn reserve_many(m: &mut Memblock, base: u64, n: u64) -> Result<(), MemblockError> {
    (0..n).try_for_each(|i| m.reserve(pa(base + i * 0x2000), 0x1000))
}

/// The static arrays of `Memblock::new` have Linux 6.1's names and its sizes for Debian's
/// arm64 kernel.
#[test]
fn static_arrays_have_linux_names_and_sizes() {
    // memory: INIT_MEMBLOCK_MEMORY_REGIONS = 8 * INIT_MEMBLOCK_REGIONS (CONFIG_EFI) = 8 * 128 =
    // 1024. reserved: INIT_MEMBLOCK_RESERVED_REGIONS = INIT_MEMBLOCK_REGIONS + NR_CPUS + 1
    // (arm64's asm/memblock.h) = 128 + 256 + 1 = 385.
    let m = Box::new(Memblock::new());
    assert_eq!(m.memory.max(), 1024);
    assert_eq!(m.reserved.max(), 385);
    // The `name`s of Linux's two `struct memblock_type`s.
    assert_eq!((m.memory.name(), m.reserved.name()), ("memory", "reserved"));
}

#[test]
fn overflow_before_allow_resize_is_an_error_and_changes_nothing() {
    let mut m = mb();
    m.add(pa(0x8000_0000), 0x4000_0000).unwrap();
    reserve_many(&mut m, 0x8000_0000, 128).unwrap();
    let before = layout(&m.reserved);
    let total = m.reserved_size();
    // The 129th disjoint range needs a 129th slot.
    let err = m.reserve(pa(0x8000_0000 + 128 * 0x2000), 0x1000).unwrap_err();
    assert_eq!(err, MemblockError::RegionsFull { type_name: "reserved", max: 128 });
    assert_eq!(err.to_string(), "memblock: reserved array is full (128 regions) and resizing is not allowed yet");
    // A range overlapping several holes fails as a whole: no partial insert.
    assert!(m.reserve(pa(0x8000_0000), 0x10000).is_err());
    assert_eq!(layout(&m.reserved), before);
    assert_eq!(m.reserved_size(), total);
    // Like Linux, isolating needs two spare slots, so a split fails too.
    assert!(m.phys_free(pa(0x8000_0000), 0x800).is_err());
    assert_eq!(layout(&m.reserved), before);
    // Filling the hole between two regions would merge them, but Linux counts the new piece
    // before merging, so that fails too; a range inside an existing region needs no slot.
    assert!(m.reserve(pa(0x8000_1000), 0x1000).is_err());
    m.reserve(pa(0x8000_0000), 0x800).unwrap();
    assert_eq!(layout(&m.reserved), before);
}

#[test]
fn two_spare_slots_are_enough_to_isolate() {
    // 126 reserved pages in an array of 128 (resizing not allowed): memblock_isolate_range
    // doubles only while cnt + 2 > max, and 126 + 2 = 128 is not, so freeing the middle 2 KiB
    // of the first page splits it in place: [0x8000_0000, +1K) and [0x8000_0c00, +1K) stay,
    // 127 regions.
    let mut m = mb();
    m.add(pa(0x8000_0000), 0x4000_0000).unwrap();
    reserve_many(&mut m, 0x8000_0000, 126).unwrap();
    m.phys_free(pa(0x8000_0400), 0x800).unwrap();
    assert_eq!((m.reserved.cnt(), m.reserved.max()), (127, 128));
    assert_eq!(layout(&m.reserved)[..3], [(0x8000_0000, 0x400), (0x8000_0c00, 0x400), (0x8000_2000, 0x1000)]);
}

#[test]
fn reserved_array_doubles_and_reserves_itself() {
    // memory [0x8000_0000, 0xc000_0000); 128 pages reserved, then a 129th.
    // Doubling: 256 regions * 24 bytes = 6144 bytes, page aligned to 8 KiB, searched
    // top-down above the range being added: [0xbfff_e000, 0xc000_0000) is reserved for the
    // array, then the 129th range is inserted: cnt 130, max 256.
    let mut m = mb();
    m.add(pa(0x8000_0000), 0x4000_0000).unwrap();
    m.allow_resize(&LEAK_MAPPER);
    assert_eq!(core::mem::size_of::<Region>(), 24);
    reserve_many(&mut m, 0x8000_0000, 129).unwrap();
    assert_eq!(m.reserved.cnt(), 130);
    assert_eq!(m.reserved.max(), 256);
    assert_eq!(*layout(&m.reserved).last().unwrap(), (0xbfff_e000, 0x2000));
    assert_eq!(m.reserved.grown_array(), Some(pa(0xbfff_e000)));
    assert_eq!(m.reserved_size(), 129 * 0x1000 + 0x2000);
    check_invariants(&m.reserved);
    // The old contents moved over intact.
    assert_eq!(layout(&m.reserved)[..3], [(0x8000_0000, 0x1000), (0x8000_2000, 0x1000), (0x8000_4000, 0x1000)]);
}

#[test]
fn second_doubling_frees_the_first_grown_array() {
    //  0x8000_0000                     0xbfff_b000  0xbfff_e000  0xc000_0000
    //  |R| |R| |R| ... 257 pages       |  new 12K   |  old 8K    |
    //                                  +------------+xxxxxxxxxxxx+
    //                             ->  the new array is reserved, the old one freed
    // Continuing to 257 pages: the 256th page (i = 255) finds cnt 256 = max, so the array
    // doubles to 512 (12 KiB, 3 pages). Top-down below the first array: [0xbfff_b000,
    // 0xbfff_e000). Linux frees the old grown array [0xbfff_e000, +8K) before reserving the
    // new one, so the final reserved = 257 pages + the 12 KiB array = 258 regions.
    let mut m = mb();
    m.add(pa(0x8000_0000), 0x4000_0000).unwrap();
    m.allow_resize(&LEAK_MAPPER);
    reserve_many(&mut m, 0x8000_0000, 257).unwrap();
    assert_eq!(m.reserved.max(), 512);
    assert_eq!(m.reserved.cnt(), 258);
    assert_eq!(*layout(&m.reserved).last().unwrap(), (0xbfff_b000, 0x3000));
    assert!(!m.is_reserved(pa(0xbfff_e000)));
    assert_eq!(m.reserved_size(), 257 * 0x1000 + 0x3000);
    check_invariants(&m.reserved);
}

#[test]
fn memory_array_doubles_into_memory_it_already_knows() {
    // 129 memory regions of 16 KiB, 64 KiB apart from 0x1_0000_0000. Doubling `memory`
    // searches the whole range (no area to avoid): the top 8 KiB of the highest known region
    // (index 127): [0x1_007f_2000, +8K) is reserved. The 129th region is not yet memory.
    let mut m = mb();
    m.allow_resize(&LEAK_MAPPER);
    for i in 0..129u64 {
        m.add(pa(0x1_0000_0000 + i * 0x1_0000), 0x4000).unwrap();
    }
    assert_eq!(m.memory.cnt(), 129);
    assert_eq!(m.memory.max(), 256);
    assert_eq!(layout(&m.reserved), [(0x1_007f_2000, 0x2000)]);
    check_invariants(&m.memory);
}

#[test]
fn doubling_fails_cleanly_without_memory() {
    // Resizing allowed but no memory at all: the error names the array and nothing changes.
    let mut m = mb();
    m.allow_resize(&LEAK_MAPPER);
    reserve_many(&mut m, 0x8000_0000, 128).unwrap();
    let err = m.reserve(pa(0x9000_0000), 0x1000).unwrap_err();
    assert_eq!(err, MemblockError::ResizeFailed { type_name: "reserved", from: 128, to: 256 });
    assert_eq!(m.reserved.cnt(), 128);
}
