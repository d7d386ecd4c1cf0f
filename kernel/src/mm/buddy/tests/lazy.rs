//! Sections whose memmap entries are written only when needed (`SectionState`): a whole
//! section handed over free stays unwritten, reads as free top-order blocks, and is written
//! (with exactly that state) the first time anything in it changes. The memmaps of these
//! tests start as garbage (`dense_memmap`), so a read of an unwritten entry would show.

use super::*;
use crate::mm::sparse::PAGES_PER_SECTION as S;

fn mm(z: &mut TestZones) -> &mut Memmap<'static> {
    z.nodes[0].as_deref_mut().unwrap().memmap.as_mut().unwrap()
}

fn section(z: &TestZones, pfn: u64) -> SectionState {
    z.memmap(0).unwrap().section_state(Pfn(pfn)).unwrap()
}

/// Zone DMA over three sections, pfn 0..3S. `free_range(0x100, 3S)`: 0x100 is a block of
/// order 8 and 0x200 one of order 9, then top-order blocks from 0x400. Section 0 is handed
/// over from 0x100, not whole: written. Sections 1 and 2 are whole: left unwritten, free.
///   o8: [0x100]  o9: [0x200]  o10: 31 blocks of section 0, then 32 of each other section
#[test]
fn whole_free_sections_stay_unwritten_until_first_used() {
    let mut z = one_zone(ZoneType::Dma, 3 * S);
    assert_eq!(z.free_range(Pfn(0x100), Pfn(3 * S)), Ok(3 * S - 0x100));
    assert_eq!([section(&z, 0), section(&z, S), section(&z, 2 * S)], [SectionState::Live, SectionState::Free, SectionState::Free]);
    let zone = z.zone(0, ZoneType::Dma).unwrap();
    assert_eq!((zone.nr_free(8), zone.nr_free(9), zone.nr_free(10)), (1, 1, 31 + 64));
    // Every head reads as a free block of its order, every other frame as ordinary.
    check_invariants(&z);
    let m = z.memmap(0).unwrap();
    assert_eq!(m.get(Pfn(S + 0x400)), Some(PageState::buddy(10)));
    assert_eq!(m.get(Pfn(S + 0x401)), Some(PageState::NORMAL));
    assert_eq!(m.pageblock_type(2 * S + 0x200), MigrateType::Movable);
    assert_eq!(m.reserved_pages(), 0);

    // The 31 top blocks of section 0 go first (list order); the 32nd allocation takes S and
    // writes section 1: S is then allocated, its 31 other heads still free.
    for k in 0..31 {
        assert_eq!(z.alloc_pages(10, ZoneType::Dma), Ok(Pfn(0x400 * (k + 1))));
    }
    assert_eq!(section(&z, S), SectionState::Free);
    assert_eq!(z.alloc_pages(10, ZoneType::Dma), Ok(Pfn(S)));
    assert_eq!([section(&z, S), section(&z, 2 * S)], [SectionState::Live, SectionState::Free]);
    assert_eq!(z.memmap(0).unwrap().get(Pfn(S)), Some(PageState::NORMAL));
    assert_eq!(z.memmap(0).unwrap().get(Pfn(S + 0x400)), Some(PageState::buddy(10)));
    check_invariants(&z);
    // Freed again, it heads a free block in the written entries.
    assert_eq!(z.free_pages(Pfn(S), 10), Ok(()));
    assert_eq!(z.memmap(0).unwrap().get(Pfn(S)), Some(PageState::buddy(10)));
    check_invariants(&z);
    // A top block of an unwritten section freed twice is caught at its head.
    assert_eq!(
        z.free_pages(Pfn(2 * S + 0x800), 10),
        Err(BuddyError::DoubleFree { pfn: Pfn(2 * S + 0x800), head: Pfn(2 * S + 0x800), order: 10 })
    );
}

/// Changing a pageblock's type writes its section first: the section's free heads survive,
/// only that pageblock changes. Then a free range over a section written before (partly
/// reserved, the rest free) writes its heads one by one.
#[test]
fn writing_a_free_section_keeps_its_free_blocks() {
    let mut z = one_zone(ZoneType::Dma, 2 * S);
    assert_eq!(z.free_range(Pfn(S), Pfn(2 * S)), Ok(S));
    assert_eq!(section(&z, S), SectionState::Free);
    mm(&mut z).set_pageblock_type(S + 0x200, MigrateType::Unmovable);
    assert_eq!(section(&z, S), SectionState::Live);
    let m = z.memmap(0).unwrap();
    assert_eq!(m.pageblock_type(S + 0x200), MigrateType::Unmovable);
    assert_eq!(m.pageblock_type(S + 0x400), MigrateType::Movable);
    assert_eq!(m.get(Pfn(S)), Some(PageState::buddy(10)));
    check_invariants(&z);

    // Section 0: its first top block reserved (written: Live), the rest handed over.
    assert_eq!(mm(&mut z).mark_reserved(Pfn(0), Pfn(0x400)), Ok(0x400));
    assert_eq!(section(&z, 0), SectionState::Live);
    assert_eq!(z.free_range(Pfn(0x400), Pfn(S)), Ok(S - 0x400));
    assert_eq!(z.memmap(0).unwrap().get(Pfn(0x400)), Some(PageState::buddy(10)));
    assert_eq!(z.memmap(0).unwrap().reserved_pages(), 0x400);
    check_invariants(&z);
}

/// Finding a page by its state crosses sections, each read by its own state: the search for a
/// free page from pfn 0x200 passes section 0 (written, no free page) and stops at section
/// 1's first block (handed over whole, unwritten), S, not at a frame found by reading section
/// 1's unwritten bytes or by indexing past section 0.
#[test]
fn a_search_by_state_crosses_sections() {
    let mut z = one_zone(ZoneType::Dma, 2 * S);
    assert_eq!(z.free_range(Pfn(S), Pfn(2 * S)), Ok(S));
    assert_eq!(mm(&mut z).mark_reserved(Pfn(0), Pfn(S - 1)), Ok(S - 1));
    assert_eq!([section(&z, 0), section(&z, S)], [SectionState::Live, SectionState::Free]);
    assert_eq!(
        z.init_cma_reserved_pageblocks(Pfn(0x200), Pfn(2 * S)),
        Err(BuddyError::DoubleFree { pfn: Pfn(S), head: Pfn(S), order: 0 })
    );
    // A free page in section 1 after it is written is found as well.
    let mut z = one_zone(ZoneType::Dma, 2 * S);
    assert_eq!(mm(&mut z).mark_reserved(Pfn(1), Pfn(2 * S)), Ok(2 * S - 1));
    assert_eq!(mm(&mut z).clear_reserved(Pfn(S + 5), Pfn(S + 6)), Ok(1));
    assert_eq!(z.free_range(Pfn(S + 5), Pfn(S + 6)), Ok(1));
    assert_eq!(
        z.init_cma_reserved_pageblocks(Pfn(0), Pfn(2 * S)),
        Err(BuddyError::DoubleFree { pfn: Pfn(S + 5), head: Pfn(S + 5), order: 0 })
    );
}

/// Reserving a whole section not written yet only changes its state; clearing it back does
/// too; a part of it written first keeps the rest reserved. Zone over sections 0..3: the
/// second section and the first 0x100 frames of the third are reserved (a reservation like
/// the memmap's own links: 1.x sections).
#[test]
fn whole_reserved_sections_stay_unwritten() {
    let mut z = zones();
    add_node(&mut z, 0, 0, 3 * S, &[]);
    z.init_zone(0, ZoneType::Dma, Pfn(0), 3 * S, 3 * S).unwrap();
    assert_eq!(mm(&mut z).mark_reserved(Pfn(S), Pfn(2 * S + 0x100)), Ok(S + 0x100));
    assert_eq!([section(&z, 0), section(&z, S), section(&z, 2 * S)], [SectionState::Blank, SectionState::Reserved, SectionState::Live]);
    let m = z.memmap(0).unwrap();
    assert!(m.get(Pfn(S + 0x1234)).unwrap().is_reserved() && !m.get(Pfn(S - 1)).unwrap().is_reserved());
    assert_eq!(m.reserved_pages(), S + 0x100);
    // Marking again counts nothing new.
    assert_eq!(mm(&mut z).mark_reserved(Pfn(S), Pfn(2 * S)), Ok(0));
    // Freeing a reserved section fails at its first head, before anything is freed.
    assert_eq!(z.free_range(Pfn(0), Pfn(2 * S)), Err(BuddyError::Reserved { pfn: Pfn(S) }));
    assert_eq!(z.zone(0, ZoneType::Dma).unwrap().free_pages(), 0);

    // Clearing part of it writes the section: the rest stays reserved.
    assert_eq!(mm(&mut z).clear_reserved(Pfn(S), Pfn(S + 0x400)), Ok(0x400));
    assert_eq!(section(&z, S), SectionState::Live);
    assert_eq!(z.memmap(0).unwrap().reserved_pages(), S - 0x400 + 0x100);
    assert_eq!(z.free_range(Pfn(S), Pfn(S + 0x400)), Ok(0x400));
    check_invariants(&z);

    // A whole reserved section cleared whole goes back to blank, unwritten.
    let mut z = one_zone(ZoneType::Dma, 2 * S);
    assert_eq!(mm(&mut z).mark_reserved(Pfn(S), Pfn(2 * S)), Ok(S));
    assert_eq!(mm(&mut z).clear_reserved(Pfn(0), Pfn(2 * S)), Ok(S));
    assert_eq!([section(&z, 0), section(&z, S)], [SectionState::Blank, SectionState::Blank]);
    assert_eq!(z.free_range(Pfn(0), Pfn(2 * S)), Ok(2 * S));
    assert_eq!([section(&z, 0), section(&z, S)], [SectionState::Free, SectionState::Free]);
}
