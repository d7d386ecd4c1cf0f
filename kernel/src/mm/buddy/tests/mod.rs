//! Host tests of the buddy allocator. Each expected layout is derived by hand from Linux 6.1's
//! rules and the derivation is written next to it.
//!
//! Pictures show the free lists of one zone, one line per non-empty order, blocks by head pfn
//! in list order:
//! ```text
//!   o0: [1]  o1: [2]  o2: [4]  o3: [8]
//! ```

use super::*;
use std::collections::HashMap;

mod errors;
mod lazy;
mod migrate;
mod props;
mod reserved;
mod sparse;
mod split_merge;
mod zonelist;

/// Links in a map, for tests: reading a pfn that was never linked is a bug and panics.
#[derive(Default)]
pub(super) struct MapLinks(HashMap<(u64, u32), Link>);

impl FreePageLinks for MapLinks {
    fn get(&self, pfn: u64, order: u32) -> Link {
        *self.0.get(&(pfn, order)).unwrap_or_else(|| panic!("no link stored at pfn {pfn:#x} order {order}"))
    }
    fn set(&mut self, pfn: u64, order: u32, link: Link) {
        self.0.insert((pfn, order), link);
    }
}

pub(super) type TestZones = Zones<'static, MapLinks>;

/// A node `nid` over `[start, end)` with a leaked, zeroed memmap, `reserved` ranges marked.
/// A node's `NODE_DATA`, leaked for the test's life.
pub(super) fn node_data(nid: i32) -> &'static mut NodeData<'static> {
    Box::leak(Box::new(NodeData::new(nid)))
}

/// A memmap without holes over `[start, start + frames)`, leaked. Its entries start as
/// garbage, as memory not yet written does: nothing may read an entry before writing it.
pub(super) fn dense_memmap(start: u64, frames: u64) -> Memmap<'static> {
    let pages = Box::leak(vec![PageState::from_raw(0xa5); frames as usize].into_boxed_slice());
    let sections = Box::leak(vec![SectionState::Live; Memmap::sections_for(frames) as usize].into_boxed_slice());
    Memmap::new(Box::leak(Box::new(crate::mm::sparse::dense(start, frames))), pages, sections).unwrap()
}

pub(super) fn add_node(z: &mut TestZones, nid: i32, start: u64, end: u64, reserved: &[(u64, u64)]) {
    let mut mm = dense_memmap(start, end - start);
    for &(s, e) in reserved {
        mm.mark_reserved(Pfn(s), Pfn(e)).unwrap();
    }
    z.add_node(nid, node_data(nid), mm).unwrap();
}

pub(super) fn zones() -> Box<TestZones> {
    Box::new(Zones::new(MapLinks::default()))
}

/// One node 0 over `[0, end)` with a single zone `ty` spanning all of it.
pub(super) fn one_zone(ty: ZoneType, end: u64) -> Box<TestZones> {
    let mut z = zones();
    add_node(&mut z, 0, 0, end, &[]);
    z.init_zone(0, ty, Pfn(0), end, end).unwrap();
    z
}

/// The free lists of a zone as `(order, [head pfns in list order])`, non-empty orders only.
pub(super) fn lists(z: &TestZones, nid: i32, ty: ZoneType) -> Vec<(u32, Vec<u64>)> {
    let zone = z.zone(nid, ty).unwrap();
    (0..MAX_ORDER)
        .filter_map(|o| {
            let mut v = vec![];
            zone.free_area(o).unwrap().for_each(z.links(), &mut |p| v.push(p));
            (!v.is_empty()).then_some((o, v))
        })
        .collect()
}

/// Every invariant of every zone: list links consistent both ways, `nr_free` equal to the list
/// length, each head aligned, inside its zone and marked `Buddy(order)` in the memmap, blocks
/// disjoint, `free_pages` the sum of the blocks.
pub(super) fn check_invariants(z: &TestZones) {
    for zone in z.zones() {
        let mm = z.memmap(zone.nid()).unwrap();
        let mut pages = 0;
        let mut blocks = vec![];
        for o in 0..MAX_ORDER {
            let area = zone.free_area(o).unwrap();
            let mut heads = vec![];
            for mt in MigrateType::ALL {
                let mut list = vec![];
                area.for_each_of(mt, z.links(), &mut |p| list.push(p));
                let mut prev = Link::NIL;
                for (i, &h) in list.iter().enumerate() {
                    let l = z.links().get(h, o);
                    assert_eq!(l.prev, prev, "{} o{o} {mt:?} prev of {h}", zone.name());
                    if i + 1 == list.len() {
                        assert_eq!(l.next, Link::NIL, "{} o{o} {mt:?} list not closed", zone.name());
                    }
                    prev = h;
                }
                heads.extend(list);
            }
            assert_eq!(heads.len() as u64, area.nr_free(), "{} o{o} nr_free", zone.name());
            for &h in &heads {
                assert_eq!(h % (1 << o), 0, "{} o{o} head {h} misaligned", zone.name());
                assert!(zone.spans(h) && zone.spans(h + (1 << o) - 1), "{} o{o} {h} outside", zone.name());
                assert_eq!(mm.get(Pfn(h)), Some(PageState::buddy(o)), "memmap of {h}");
                blocks.push((h, h + (1 << o)));
                pages += 1 << o;
            }
        }
        blocks.sort();
        for w in blocks.windows(2) {
            assert!(w[0].1 <= w[1].0, "{} overlapping free blocks {w:?}", zone.name());
        }
        assert_eq!(zone.free_pages(), pages, "{} free_pages", zone.name());
    }
}
