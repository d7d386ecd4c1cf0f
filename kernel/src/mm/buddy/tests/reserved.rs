//! `free_reserved_area`: a reserved range joins the allocator after boot.

use super::*;
use crate::mm::addr::PhysAddr;

/// Node 0 over `[0, 64)`, one DMA zone, frames 16..32 reserved (say, the kernel image), the
/// rest handed over as memblock_free_all would.
///
/// ```text
///   0        16        32                64
///   | free   | reserved |      free       |
/// ```
fn with_image() -> Box<TestZones> {
    let mut z = zones();
    add_node(&mut z, 0, 0, 64, &[(16, 32)]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 64, 64).unwrap();
    z.free_range(Pfn(0), Pfn(16)).unwrap();
    z.free_range(Pfn(32), Pfn(64)).unwrap();
    z
}

#[test]
fn whole_pages_inside_the_range_are_freed_and_counted_with_linux_line() {
    // [16 pages + 100 bytes, 29 pages + 5 bytes): PAGE_ALIGN(start) is frame 17, end &
    // PAGE_MASK is frame 29, so frames 17..29 are freed: 12 pages, 12 * 4 = 48K. Frame 16 and
    // frames 29..32 stay reserved.
    let mut z = with_image();
    let (free, managed) = (z.nr_free_pages(), z.totalram_pages());
    assert_eq!((free, managed), (48, 48));
    let mut lines = Vec::new();
    let start = PhysAddr(16 * 4096 + 100);
    let end = PhysAddr(29 * 4096 + 5);
    let n = z.free_reserved_area(start, end, Some("unused kernel"), &mut |a| lines.push(a.to_string())).unwrap();
    assert_eq!(n, 12);
    assert_eq!(lines, ["Freeing unused kernel memory: 48K"]);
    assert_eq!((z.nr_free_pages(), z.totalram_pages()), (free + 12, managed + 12));
    // What stayed reserved cannot be freed as a page; what was freed cannot be freed again.
    assert_eq!(z.free_pages(Pfn(16), 0), Err(BuddyError::Reserved { pfn: Pfn(16) }));
    assert!(matches!(z.free_pages(Pfn(20), 0), Err(BuddyError::DoubleFree { .. })));
    // And the freed pages are allocatable: everything free, 60 pages, comes out one by one.
    let mut got = (0..60).map(|_| z.alloc_pages(0, ZoneType::Dma).unwrap().0).collect::<Vec<_>>();
    got.sort();
    assert!(got.iter().any(|&p| (17..29).contains(&p)));
    assert!(z.alloc_pages(0, ZoneType::Dma).is_err());
}

#[test]
fn a_page_that_is_not_reserved_refuses_the_whole_range() {
    // Frames 12..20: 12..16 are free, so nothing changes.
    let mut z = with_image();
    let mut lines = Vec::new();
    let r = z.free_reserved_area(PhysAddr(12 * 4096), PhysAddr(20 * 4096), Some("unused kernel"), &mut |a| lines.push(a.to_string()));
    assert_eq!(r, Err(BuddyError::NotReserved { pfn: Pfn(12) }));
    assert!(lines.is_empty());
    assert_eq!((z.nr_free_pages(), z.totalram_pages()), (48, 48));
}

#[test]
fn a_range_without_a_whole_page_frees_nothing_and_prints_nothing() {
    // Linux prints only when pages were freed.
    let mut z = with_image();
    let mut lines = Vec::new();
    let r = z.free_reserved_area(PhysAddr(16 * 4096 + 1), PhysAddr(17 * 4096 - 1), Some("unused kernel"), &mut |a| lines.push(a.to_string()));
    assert_eq!(r, Ok(0));
    assert!(lines.is_empty());
}

/// The memmap byte of a frame: the order in the low four bits, `PageBuddy` 0x10, `PG_reserved`
/// 0x20 (the pageblock's migrate type, in the top two bits, is not part of a page's state).
#[test]
fn page_state_bytes() {
    assert_eq!(PageState::NORMAL.bits(), 0);
    assert_eq!(PageState::buddy(3).bits(), 0x10 | 3);
    assert_eq!(PageState::buddy(10).bits(), 0x10 | 10);
    let mut mm = dense_memmap(0, 4);
    mm.mark_reserved(Pfn(1), Pfn(2)).unwrap();
    assert_eq!((mm.get(Pfn(0)).map(PageState::bits), mm.get(Pfn(1)).map(PageState::bits)), (Some(0), Some(0x20)));
}

/// How a page's state reads in a debug dump or an assertion message.
#[test]
fn page_states_debug_as_their_names() {
    let mut mm = dense_memmap(0, 4);
    mm.mark_reserved(Pfn(1), Pfn(2)).unwrap();
    let shown = |s: Option<PageState>| std::format!("{s:?}");
    assert_eq!(shown(Some(PageState::buddy(3))), "Some(Buddy(3))");
    assert_eq!((shown(mm.get(Pfn(0))), shown(mm.get(Pfn(1)))), ("Some(Normal)".into(), "Some(Reserved)".into()));
}

/// A range is `[start, end)`: an empty one marks nothing, a reversed one is refused.
#[test]
fn an_empty_range_marks_nothing_and_a_reversed_one_is_refused() {
    let mut mm = dense_memmap(0, 16);
    assert_eq!(mm.mark_reserved(Pfn(5), Pfn(5)), Ok(0));
    assert_eq!(mm.mark_reserved(Pfn(6), Pfn(5)), Err(BuddyError::OutsideMemmap { start: Pfn(6), end: Pfn(5) }));
    assert_eq!(mm.reserved_pages(), 0);
}
