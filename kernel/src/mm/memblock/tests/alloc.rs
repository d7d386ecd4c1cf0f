//! Allocation: direction, alignment, gaps, limits, nodes, mirror, the top of the space.

use super::*;

const BASE: u64 = 0x4000_0000;
const SIZE: u64 = 0x1000_0000; // memory [1 GiB, 1.25 GiB) unless a test says otherwise

fn with_memory() -> Box<Memblock> {
    let mut m = mb();
    m.add(pa(BASE), SIZE).unwrap();
    m
}

#[test]
fn top_down_takes_the_highest_fit_and_merges_reservations() {
    //  |            memory            |      first page from the top: 0x4fff_f000
    //  |                      |  A  |B|      then 8K below it: 0x4fff_d000, and the two
    //                                        reservations merge into one, cnt 1
    let mut m = with_memory();
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(0x4fff_f000)));
    assert_eq!(m.phys_alloc(0x2000, SZ_4K), Ok(pa(0x4fff_d000)));
    assert_eq!(layout(&m.reserved), [(0x4fff_d000, 0x3000)]);
}

#[test]
fn top_down_alignment() {
    //  |              memory            |R|   top page reserved; 4K with 1M alignment:
    //  |                        |x|         |   round_down(0x4fff_f000 - 0x1000, 1M) = 0x4ff0_0000
    let mut m = with_memory();
    m.reserve(pa(0x4fff_f000), SZ_4K).unwrap();
    assert_eq!(m.phys_alloc(SZ_4K, SZ_1M), Ok(pa(0x4ff0_0000)));
}

#[test]
fn bottom_up_alignment() {
    //  |R|           memory             |     bottom-up: first page reserved, so the first
    //    |  |x|                         |     1M-aligned fit is 0x4010_0000
    let mut m = with_memory();
    m.set_bottom_up(true);
    assert_eq!(m.phys_alloc(SZ_4K, SZ_1M), Ok(pa(0x4000_0000)));
    assert_eq!(m.phys_alloc(SZ_4K, SZ_1M), Ok(pa(0x4010_0000)));
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(0x4000_1000)));
}

#[test]
fn exact_gap() {
    //  | R1 (256K) |gap 128K| R2 (640K)  |     memory [0x4000_0000, +1M)
    //  the request is exactly the gap size  ->  0x4004_0000, and reserved becomes one
    //  region covering the whole 1M (R1 + new + R2 merge), cnt 1
    for bottom_up in [false, true] {
        let mut m = mb();
        m.set_bottom_up(bottom_up);
        m.add(pa(BASE), SZ_1M).unwrap();
        m.reserve(pa(BASE), 0x4_0000).unwrap();
        m.reserve(pa(0x4006_0000), 0xa_0000).unwrap();
        assert_eq!(m.phys_alloc(0x2_0000, SZ_4K), Ok(pa(0x4004_0000)));
        assert_eq!(layout(&m.reserved), [(BASE, SZ_1M)]);
    }
}

#[test]
fn gap_too_small() {
    //  | R1 |gap 128K| R2 |    a 132K request fits nowhere  ->  NoMemory, nothing reserved
    let mut m = mb();
    m.add(pa(BASE), SZ_1M).unwrap();
    m.reserve(pa(BASE), 0x4_0000).unwrap();
    m.reserve(pa(0x4006_0000), 0xa_0000).unwrap();
    let err = m.phys_alloc(0x2_1000, SZ_4K).unwrap_err();
    assert!(matches!(err, MemblockError::NoMemory { size: 0x2_1000, .. }));
    assert_eq!(layout(&m.reserved), [(BASE, 0x4_0000), (0x4006_0000, 0xa_0000)]);
}

#[test]
fn everything_reserved_or_no_memory() {
    //  (no memory)                            ->  nothing to allocate
    //  |RRRRRRRRRRRR memory 1M RRRRRRRRRRRR|       all of it reserved  ->  nothing
    //  |RRRRRRRR|    |RRRRRRRRRRRRRRRRRRRRR|       phys_free [BASE + 32K, +4K): reserved splits
    //           ^ BASE + 0x8000                ->  in two, and that page is the only free one:
    //                                              the next allocation takes it, and the two
    //                                              reservations merge back into one
    let mut m = mb();
    assert!(m.phys_alloc(SZ_4K, SZ_4K).is_err(), "no memory at all");
    m.add(pa(BASE), SZ_1M).unwrap();
    m.reserve(pa(BASE), SZ_1M).unwrap();
    assert!(m.phys_alloc(SZ_4K, SZ_4K).is_err(), "all memory reserved");
    m.phys_free(pa(BASE + 0x8000), SZ_4K).unwrap();
    assert_eq!(layout(&m.reserved), [(BASE, 0x8000), (BASE + 0x9000, SZ_1M - 0x9000)]);
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(BASE + 0x8000)));
    assert_eq!(layout(&m.reserved), [(BASE, SZ_1M)]);
}

#[test]
fn nomap_memory_is_never_allocated() {
    //  |   memory 1M   |                 upper half NOMAP  ->  top-down lands just below it
    //  |       | NOMAP |
    let mut m = mb();
    m.add(pa(BASE), SZ_1M).unwrap();
    m.mark_nomap(pa(BASE + 0x8_0000), 0x8_0000).unwrap();
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(0x4007_f000)));
}

#[test]
fn limits_beyond_and_inside_dram() {
    let mut m = with_memory();
    // [256M, 2.25G) is wider than DRAM on both sides: clamping to the free ranges gives the
    // top page of memory.
    assert_eq!(m.phys_alloc_range(SZ_4K, SZ_4K, pa(0x1000_0000), pa(0x9000_0000)), Ok(pa(0x4fff_f000)));
    // Inside: [BASE, 0x4800_0000) top-down  ->  0x47ff_f000.
    assert_eq!(m.phys_alloc_range(SZ_4K, SZ_4K, pa(BASE), pa(0x4800_0000)), Ok(pa(0x47ff_f000)));
    // Entirely above DRAM  ->  nothing.
    assert!(m.phys_alloc_range(SZ_4K, SZ_4K, pa(0x6000_0000), pa(0x7000_0000)).is_err());
    // The memblock_alloc* family retries without the lower limit (memblock_alloc_internal).
    assert_eq!(
        m.alloc_try_nid_raw(SZ_4K, SZ_4K, pa(0x6000_0000), MEMBLOCK_ALLOC_ANYWHERE, NUMA_NO_NODE),
        Ok(pa(0x4fff_e000))
    );
}

#[test]
fn current_limit() {
    let mut m = with_memory();
    m.set_current_limit(pa(0x4400_0000));
    // ACCESSIBLE (0) is pumped up to current_limit.
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(0x43ff_f000)));
    // phys_alloc_range with an explicit ANYWHERE is not clamped (Linux only pumps 0 and 1).
    assert_eq!(m.phys_alloc_range(SZ_4K, SZ_4K, pa(0), MEMBLOCK_ALLOC_ANYWHERE), Ok(pa(0x4fff_f000)));
    // memblock_alloc_try_nid_raw clamps any max_addr to current_limit.
    assert_eq!(
        m.alloc_try_nid_raw(SZ_4K, SZ_4K, pa(0), MEMBLOCK_ALLOC_ANYWHERE, NUMA_NO_NODE),
        Ok(pa(0x43ff_e000))
    );
}

#[test]
fn never_the_first_page() {
    //  |page0|page1|        memory [0, 8K)
    //  top-down 8K: would need page 0  ->  fails; 4K: page 1; bottom-up 4K: also page 1
    let mut m = mb();
    m.add(pa(0), 0x2000).unwrap();
    assert!(m.phys_alloc(0x2000, SZ_4K).is_err());
    m.set_bottom_up(true);
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(0x1000)));
    assert!(m.phys_alloc(SZ_4K, SZ_4K).is_err());
}

#[test]
fn node_preference_and_fallback() {
    //  | node 0 [1G, 1.25G) | node 1 [1.25G, 1.5G) |
    let mut m = mb();
    m.add_node(pa(BASE), SIZE, 0, MemblockFlags::NONE).unwrap();
    m.add_node(pa(BASE + SIZE), SIZE, 1, MemblockFlags::NONE).unwrap();
    assert_eq!(m.phys_alloc_try_nid(SZ_4K, SZ_4K, 0), Ok(pa(0x4fff_f000)));
    assert_eq!(m.phys_alloc_try_nid(SZ_4K, SZ_4K, 1), Ok(pa(0x5fff_f000)));
    // Node 0 full: try_nid falls back to any node (top of node 1), exact_nid fails.
    m.reserve(pa(BASE), SIZE).unwrap();
    assert_eq!(m.phys_alloc_try_nid(SZ_4K, SZ_4K, 0), Ok(pa(0x5fff_e000)));
    assert!(m.alloc_exact_nid_raw(SZ_4K, SZ_4K, pa(0), MEMBLOCK_ALLOC_ACCESSIBLE, 0).is_err());
    // MAX_NUMNODES is accepted as "any node" (Linux warns it is deprecated).
    assert_eq!(m.alloc_range_nid(SZ_4K, SZ_4K, pa(0), MEMBLOCK_ALLOC_ACCESSIBLE, MAX_NUMNODES, true), Ok(pa(0x5fff_d000)));
    // Free ranges by node.
    let n1: Vec<_> = m.free_mem_ranges(1, MemblockFlags::NONE).collect();
    assert_eq!(n1, [(pa(0x5000_0000), pa(0x5fff_d000), 1)]);
    assert_eq!(m.free_mem_ranges(0, MemblockFlags::NONE).count(), 0);
}

#[test]
fn mirrored_memory_first_then_fallback() {
    //  | MIRROR 1M |          rest          |    once mirror exists, allocations go there;
    //  a 2M request does not fit in it  ->  Linux warns and takes the top of all memory
    let mut m = with_memory();
    m.set_mirrored_kernelcore(true);
    m.mark_mirror(pa(BASE), SZ_1M).unwrap();
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Ok(pa(0x400f_f000)));
    assert_eq!(m.phys_alloc(0x20_0000, SZ_4K), Ok(pa(0x4fe0_0000)));
}

#[test]
fn align_zero_uses_cache_line() {
    //  100 bytes, align 0 -> 64: round_down(0x5000_0000 - 100, 64) = 0x4fff_ff80
    let mut m = with_memory();
    assert_eq!(m.phys_alloc(100, 0), Ok(pa(0x4fff_ff80)));
}

/// memblock_alloc_internal retries without the lower limit only when there was one: a
/// request that fails from 0 is not tried again. Each try of memblock_alloc_range_nid with
/// alignment 0 says so once, which counts the tries (debug is off: no other line).
#[test]
fn only_a_lower_limit_earns_a_second_try() {
    let mut m = with_memory();
    // 512 MiB in 256 MiB of memory: fails whatever the limits.
    let tries = |m: &mut Memblock, min| {
        let (r, lines) = crate::testlog::capture(|| m.alloc_try_nid_raw(2 * SIZE, 0, pa(min), MEMBLOCK_ALLOC_ANYWHERE, NUMA_NO_NODE));
        assert!(r.is_err());
        lines.iter().filter(|l| *l == "memblock: alignment 0 requested, using 64").count()
    };
    assert_eq!(tries(&mut m, 0), 1);
    assert_eq!(tries(&mut m, BASE), 2);
}

/// An alignment that is not a power of two is used as Linux 6.1's round_down/round_up use it
/// (include/linux/math.h: the mask `align - 1`), not refused and not as a true multiple.
#[test]
fn an_alignment_not_a_power_of_two_rounds_with_linux_masks() {
    //  top-down, 4K with align 0x3000 (mask 0x2fff): round_down(0x5000_0000 - 0x1000, 0x3000)
    //  = 0x4fff_f000 & !0x2fff = 0x4fff_d000 (a multiple of 0x3000 would be 0x4fff_e000)
    let mut m = with_memory();
    assert_eq!(m.phys_alloc(SZ_4K, 0x3000), Ok(pa(0x4fff_d000)));
    //  bottom-up from 0x4000_1000: round_up(0x4000_1000, 0x3000) = ((0x4000_0fff) | 0x2fff) + 1
    //  = 0x4000_3000 (adding the mask and masking would give 0x4000_1000)
    let mut m = with_memory();
    m.set_bottom_up(true);
    assert_eq!(m.phys_alloc_range(SZ_4K, 0x3000, pa(0x4000_1000), MEMBLOCK_ALLOC_ANYWHERE), Ok(pa(0x4000_3000)));
}

#[test]
fn top_of_the_address_space_never_wraps() {
    //  memory [2^64 - 1M, 2^64 - 1) (capped by cap_size)
    let mut m = mb();
    m.add(pa(0xffff_ffff_fff0_0000), SZ_1M).unwrap();
    assert_eq!(layout(&m.memory), [(0xffff_ffff_fff0_0000, 0xf_ffff)]);
    // Top-down: round_down(MAX - 4K, 4K) = 0xffff_ffff_ffff_e000 (the last page is partial).
    assert_eq!(m.phys_alloc_range(SZ_4K, SZ_4K, pa(0), MEMBLOCK_ALLOC_ANYWHERE), Ok(pa(0xffff_ffff_ffff_e000)));
    // Bottom-up with an alignment whose round-up would wrap: no candidate, no wrap.
    m.set_bottom_up(true);
    assert!(m.phys_alloc_range(SZ_4K, 1 << 63, pa(0), MEMBLOCK_ALLOC_ANYWHERE).is_err());
    assert_eq!(m.phys_alloc_range(SZ_4K, SZ_4K, pa(0), MEMBLOCK_ALLOC_ANYWHERE), Ok(pa(0xffff_ffff_fff0_0000)));
    // A size larger than the whole space fails cleanly.
    assert!(m.phys_alloc_range(u64::MAX, SZ_4K, pa(0), MEMBLOCK_ALLOC_ANYWHERE).is_err());
}

#[test]
fn zeroing_goes_through_the_callers_callback() {
    let mut m = with_memory();
    let mut zeroed = None;
    let addr = m.alloc_zeroed(0x3000, SZ_4K, |a, s| zeroed = Some((a, s))).unwrap();
    assert_eq!(addr, pa(0x4fff_d000));
    assert_eq!(zeroed, Some((addr, 0x3000)));
    // A failed allocation zeroes nothing.
    let mut called = false;
    assert!(m.alloc_zeroed(u64::MAX / 2, SZ_4K, |_, _| called = true).is_err());
    assert!(!called);
}

#[test]
#[should_panic(expected = "Failed to allocate 8192 bytes align=0x1000")]
fn or_panic_wording() {
    let mut m = mb();
    m.phys_alloc_or_panic(0x2000, SZ_4K);
}

#[test]
fn iterators() {
    //  memory   |A [1G, 1G+1M)|     |B [2G, 2G+1M) NOMAP half|
    //  reserved      |r|  |r|
    let mut m = mb();
    m.add(pa(BASE), SZ_1M).unwrap();
    m.add(pa(0x8000_0000), SZ_1M).unwrap();
    m.mark_nomap(pa(0x8008_0000), 0x8_0000).unwrap();
    m.reserve(pa(BASE + 0x1000), 0x1000).unwrap();
    m.reserve(pa(BASE + 0x4000), 0x2000).unwrap();
    let free: Vec<_> = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s.0, e.0)).collect();
    assert_eq!(
        free,
        [(BASE, BASE + 0x1000), (BASE + 0x2000, BASE + 0x4000), (BASE + 0x6000, BASE + SZ_1M), (0x8000_0000, 0x8008_0000)]
    );
    let mut rev: Vec<_> = m.free_mem_ranges_rev(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s.0, e.0)).collect();
    rev.reverse();
    assert_eq!(rev, free);
    // Asking for NOMAP includes the NOMAP half.
    assert_eq!(m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NOMAP).last().unwrap().1, pa(0x8010_0000));
    let mem: Vec<_> = m.mem_ranges(NUMA_NO_NODE, MemblockFlags::HOTPLUG).map(|(s, e, _)| (s.0, e.0)).collect();
    assert_eq!(mem, [(BASE, BASE + SZ_1M), (0x8000_0000, 0x8008_0000)]);
    let res: Vec<_> = m.reserved_mem_ranges().map(|(s, e, _)| (s.0, e.0)).collect();
    assert_eq!(res, [(BASE + 0x1000, BASE + 0x2000), (BASE + 0x4000, BASE + 0x6000)]);
    // movable_node skips hot-pluggable memory unless HOTPLUG is asked for.
    m.mark_hotplug(pa(BASE), SZ_1M).unwrap();
    m.set_movable_node(true);
    assert_eq!(m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).count(), 1);
    assert_eq!(m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::HOTPLUG).count(), 4);
}

/// Two reservations that touch but do not merge (their nodes differ) leave an empty gap
/// between them, [BASE + 0x2000, BASE + 0x2000): Linux's __next_mem_range yields it as an
/// empty range; the iterators leave it out, in both directions.
#[test]
fn touching_unmerged_reservations_leave_no_empty_free_range() {
    let mut m = with_memory();
    m.reserve(pa(BASE + 0x1000), 0x2000).unwrap();
    m.set_node(pa(BASE + 0x1000), 0x1000, MemblockKind::Reserved, 0).unwrap();
    assert_eq!(m.reserved.cnt(), 2);
    let free: Vec<_> = m.free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s.0, e.0)).collect();
    assert_eq!(free, [(BASE, BASE + 0x1000), (BASE + 0x3000, BASE + SIZE)]);
    let mut rev: Vec<_> = m.free_mem_ranges_rev(NUMA_NO_NODE, MemblockFlags::NONE).map(|(s, e, _)| (s.0, e.0)).collect();
    rev.reverse();
    assert_eq!(rev, free);
}

#[test]
fn pfn_ranges_trim_partial_pages() {
    //  [0x1800, 0x5800)  ->  pfns 2..5 ; [0x10_0100, 0x10_0f00) has no whole page  ->  skipped
    let mut m = mb();
    m.add(pa(0x1800), 0x4000).unwrap();
    m.add(pa(0x10_0100), 0xe00).unwrap();
    m.add_node(pa(0x20_0000), 0x2000, 1, MemblockFlags::NONE).unwrap();
    let all: Vec<_> = m.mem_pfn_ranges(MAX_NUMNODES).map(|(s, e, n)| (s.0, e.0, n)).collect();
    assert_eq!(all, [(2, 5, MAX_NUMNODES), (0x200, 0x202, 1)]);
    let n1: Vec<_> = m.mem_pfn_ranges(1).map(|(s, e, _)| (s.0, e.0)).collect();
    assert_eq!(n1, [(0x200, 0x202)]);
}

#[test]
fn allocation_after_close_is_an_error_and_changes_nothing() {
    // memblock_free_all has handed the free memory to the buddy allocator: nothing more may
    // be carved out of it, however much memblock still believes is free.
    let mut m = with_memory();
    m.phys_alloc(SZ_4K, SZ_4K).unwrap();
    m.close();
    assert_eq!(m.phys_alloc(SZ_4K, SZ_4K), Err(MemblockError::Closed { size: SZ_4K }));
    assert_eq!(layout(&m.reserved), [(0x4fff_f000, SZ_4K)]);
}
