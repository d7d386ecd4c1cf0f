//! Free lists: the links of each free block, kept in side arrays.
//!
//! Linux links a free block into its `free_area` list through `page->buddy_list` in the
//! block's `struct page`. Here the two pointers live in [`ArrayLinks`]: per node, one 8-byte
//! entry for each possible block of each order in the node's present sections (prev and next
//! as 32-bit memmap indices), about 16 bytes per frame in all. Only heads of listed blocks are
//! ever read, so the arrays need no initialisation; handing a large range over writes one
//! entry per block. The entries of the largest blocks sit side by side after all the others,
//! and those of the smaller orders section by section, so that the few blocks smaller than
//! the largest that a boot frees (at the edges of reserved ranges) write entries near each
//! other, not one in each order's stretch of the array.
//!
//! Why not inside the free pages, which would cost no memory at all: on QEMU every guest page
//! touched for the first time makes the host commit (and zero) memory, with transparent huge
//! pages 2 MiB at a time. One link write in every 4 MiB block then commits half of guest RAM:
//! measured, it took 1.2 s at 1 GiB and 3.6 s at 4 GiB to hand memory over, against a
//! side array whose touched entries share pages.
//!
//! The core reads and writes links only through [`FreePageLinks`].

use super::migrate::{MigrateType, MIGRATE_TYPES};
use crate::mm::sparse::{SectionRun, ValidPfns};

/// The two list pointers stored in the head page of a free block (Linux's `buddy_list`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Link {
    /// Previous block on the same list, or [`Link::NIL`].
    pub prev: u64,
    /// Next block on the same list, or [`Link::NIL`].
    pub next: u64,
}

impl Link {
    /// "No block": the end of a list.
    pub const NIL: u64 = u64::MAX;
    /// A link that points nowhere.
    pub const EMPTY: Link = Link { prev: Link::NIL, next: Link::NIL };
}

impl Default for Link {
    fn default() -> Self {
        Link::EMPTY
    }
}

/// Access to the links stored in free pages.
///
/// `get` is only called on a pfn whose links were `set` before and that is still the head of
/// a free block; `set` only on the head of a block being put on a list. An implementation may
/// therefore store the links inside those pages.
pub trait FreePageLinks {
    /// The links of the free block of `order` headed by `pfn`.
    fn get(&self, pfn: u64, order: u32) -> Link;
    /// Store the links of the free block of `order` headed by `pfn`.
    fn set(&mut self, pfn: u64, order: u32, link: Link);

    /// Chain the `count` (at least 1) consecutive free blocks of `order` from `first` (heads
    /// `first + k * 2^order`): each links to its neighbours, the first back to `prev` and the
    /// last on to `next`. The same as one `set` per block; an implementation may do it
    /// faster, since the blocks are consecutive.
    fn set_run(&mut self, first: u64, count: u64, order: u32, prev: u64, next: u64) {
        set_each(self, first, count, order, prev, next)
    }
}

/// [`FreePageLinks::set_run`] one `set` at a time.
fn set_each<L: FreePageLinks + ?Sized>(links: &mut L, first: u64, count: u64, order: u32, prev: u64, next: u64) {
    let step = 1u64 << order;
    for k in 0..count {
        let pfn = first + k * step;
        let p = if k == 0 { prev } else { pfn - step };
        let n = if k + 1 == count { next } else { pfn + step };
        links.set(pfn, order, Link { prev: p, next: n });
    }
}

/// Links in side arrays, one per node (see the module documentation): for each order `o`,
/// one entry per `2^o` valid frames of the node (its present sections, packed as its memmap
/// is). The entries of the top order come last, side by side: the heads of the largest
/// blocks are few and far apart in memory, and a boot writes one for every 4 MiB. Before
/// them, section by section (memmap indices `[s * PAGES_PER_SECTION, (s + 1) * ..)`), the
/// entries of the lower orders, order after order: a section's are 512 KiB, so the blocks a
/// boot frees around one reservation write in one or two host pages of 2 MiB, not in one per
/// order (under QEMU, each 2 MiB a guest touches first costs the host a zeroed huge page).
/// The kernel gives it memblock memory seen through the linear map; the host gives it
/// vectors.
///
/// # Panics
/// `get` and `set` panic for a pfn no node array covers: the arrays must cover every zone
/// handed to the allocator, which is a setup mistake, not a run-time input.
pub struct ArrayLinks<'a> {
    nodes: [Option<NodeLinks<'a>>; crate::mm::memblock::MAX_NUMNODES as usize],
}

/// One node's links: its valid frames, where each order's entries begin in `slots`, and the
/// entries (prev and next as memmap indices of the node).
struct NodeLinks<'a> {
    valid: ValidPfns<'a>,
    /// Whole sections of the node's memmap; the frames after them (fewer than a section, on
    /// the host) form a last, partial one.
    full: u64,
    /// Where each lower order's entries begin within the partial section's (within a whole
    /// section's: [`LOW_BASE`]).
    last_base: [u64; TOP],
    /// Where the top order's entries begin.
    top_base: u64,
    slots: &'a mut [[u32; 2]],
}

const NIL32: u32 = u32::MAX;
/// The top order, whose entries are kept apart; the lower orders are `0..TOP`.
const TOP: usize = super::MAX_ORDER as usize - 1;
const PPS: u64 = crate::mm::sparse::PAGES_PER_SECTION;
/// Where each lower order's entries begin within a whole section's, and how many there are:
/// 65472, 512 KiB.
const LOW_BASE: [u64; TOP] = low_layout(PPS).0;
const PER_SECTION: u64 = low_layout(PPS).1;

/// Where the entries of orders `0..TOP` begin among those of `frames` frames, and how many
/// there are in all.
const fn low_layout(frames: u64) -> ([u64; TOP], u64) {
    let mut base = [0; TOP];
    let mut total = 0;
    let mut o = 0;
    while o < TOP {
        base[o] = total;
        total += frames.div_ceil(1 << o);
        o += 1;
    }
    (base, total)
}

impl<'a> ArrayLinks<'a> {
    /// Entries a node of `frames` valid frames needs: `ceil(frames / 2^o)` for every order.
    pub const fn slots_for(frames: u64) -> u64 {
        let mut total = 0;
        let mut o = 0;
        while o < super::MAX_ORDER {
            total += frames.div_ceil(1 << o);
            o += 1;
        }
        total
    }

    /// Bytes of one entry.
    pub const ENTRY_BYTES: u64 = 8;

    pub fn new() -> Self {
        ArrayLinks { nodes: [const { None }; crate::mm::memblock::MAX_NUMNODES as usize] }
    }

    /// Cover the valid frames of one node, `valid` (its table of runs: see
    /// [`ValidPfns::runs`]), with `slots`, which must hold
    /// [`slots_for`](Self::slots_for)`(ValidPfns::frames)` entries. Returns false when the
    /// table is not in order, the slots are too few, the node has 2^32 memmap entries (16 TiB)
    /// or more, or every node slot is taken.
    pub fn add_node(&mut self, valid: &'a [SectionRun], slots: &'a mut [[u32; 2]]) -> bool {
        let Some(valid) = ValidPfns::runs(valid) else { return false };
        let frames = valid.frames();
        if frames >= NIL32 as u64 || (slots.len() as u64) < Self::slots_for(frames) {
            return false;
        }
        let (full, rem) = (frames / PPS, frames % PPS);
        let (last_base, last) = low_layout(rem);
        let top_base = full * PER_SECTION + last;
        match self.nodes.iter_mut().find(|n| n.is_none()) {
            Some(slot) => {
                *slot = Some(NodeLinks { valid, full, last_base, top_base, slots });
                true
            }
            None => false,
        }
    }

    /// (node, entry index) for the block of `order` at `pfn`.
    fn locate(&self, pfn: u64, order: u32) -> (usize, usize) {
        for (n, node) in self.nodes.iter().enumerate() {
            let Some(node) = node else { break };
            if let Some(i) = node.valid.index(pfn) {
                return (n, node.entry(i, order) as usize);
            }
        }
        panic!("ArrayLinks: pfn {pfn:#x} is in no node's array")
    }
}

impl NodeLinks<'_> {
    /// The entry of the block of `order` whose head has memmap index `i`.
    fn entry(&self, i: u64, order: u32) -> u64 {
        let o = order as usize;
        if o >= TOP {
            return self.top_base + (i >> order);
        }
        let (section, within) = (i / PPS, i % PPS);
        let base = if section < self.full { LOW_BASE[o] } else { self.last_base[o] };
        section * PER_SECTION + base + (within >> order)
    }
}

impl Default for ArrayLinks<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl FreePageLinks for ArrayLinks<'_> {
    fn get(&self, pfn: u64, order: u32) -> Link {
        let (n, i) = self.locate(pfn, order);
        let Some(node) = &self.nodes[n] else { return Link::EMPTY };
        let [prev, next] = node.slots[i];
        let abs = |idx: u32| if idx == NIL32 { Link::NIL } else { node.valid.pfn(idx as u64).unwrap_or(Link::NIL) };
        Link { prev: abs(prev), next: abs(next) }
    }

    fn set(&mut self, pfn: u64, order: u32, link: Link) {
        let (n, i) = self.locate(pfn, order);
        if let Some(node) = self.nodes[n].as_mut() {
            // Both ends of a link are free blocks of the block's zone, hence valid frames of the
            // same node, whose indices are below 2^32 (`add_node` checks).
            let rel = |p: u64| node.valid.index(p).map_or(NIL32, |i| i as u32);
            node.slots[i] = [rel(link.prev), rel(link.next)];
        }
    }

    /// One lookup for the whole run when it lies in one run of present sections (the blocks
    /// of a free range do): block `k`'s memmap index is the first's plus `k * 2^order`, and
    /// its entry the first's plus `k`, so the entries are written side by side.
    fn set_run(&mut self, first: u64, count: u64, order: u32, prev: u64, next: u64) {
        let step = 1u64 << order;
        let last = first + (count - 1) * step;
        let (n, at) = self.locate(first, order);
        let index = |p: u64| self.nodes[n].as_ref().and_then(|node| node.valid.index(p));
        let (Some(i0), Some(il)) = (index(first), index(last)) else { return set_each(self, first, count, order, prev, next) };
        let (rel_prev, rel_next) = (index(prev).map_or(NIL32, |i| i as u32), index(next).map_or(NIL32, |i| i as u32));
        // Side by side: the top order's entries always, a lower order's within a section.
        let side_by_side = order as usize >= TOP || i0 / PPS == il / PPS;
        let Some(node) = self.nodes[n].as_mut().filter(|_| il - i0 == last - first && side_by_side) else {
            // Not in one run of sections, or across sections: block by block.
            return set_each(self, first, count, order, prev, next);
        };
        let i0 = i0 as u32;
        for (k, slot) in node.slots[at..at + count as usize].iter_mut().enumerate() {
            let i = i0 + ((k as u32) << order);
            let p = if k == 0 { rel_prev } else { i - (1 << order) };
            let nx = if k as u64 + 1 == count { rel_next } else { i + (1 << order) };
            *slot = [p, nx];
        }
    }
}

/// One order's free lists of a zone (Linux's `struct free_area`): one list per migrate type,
/// and the number of blocks on all of them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FreeArea {
    /// Per migrate type: head pfn of the first block and of the last, or [`Link::NIL`]
    /// (Linux's `free_list[mt]`: `list_first_entry` and the head's `prev`).
    lists: [(u64, u64); MIGRATE_TYPES],
    /// Number of blocks on the lists (Linux's `nr_free`).
    nr_free: u64,
    /// The order of the blocks on the lists.
    order: u32,
}

impl FreeArea {
    /// Empty lists of blocks of `order`.
    pub const fn new(order: u32) -> FreeArea {
        FreeArea { lists: [(Link::NIL, Link::NIL); MIGRATE_TYPES], nr_free: 0, order }
    }

    /// One empty set of lists per order.
    pub const fn all() -> [FreeArea; super::MAX_ORDER as usize] {
        let mut a = [FreeArea::new(0); super::MAX_ORDER as usize];
        let mut o = 0;
        while o < super::MAX_ORDER {
            a[o as usize] = FreeArea::new(o);
            o += 1;
        }
        a
    }

    /// Number of free blocks of this order, of every type.
    pub fn nr_free(&self) -> u64 {
        self.nr_free
    }

    /// Head pfn of the block the next allocation of type `mt` takes, if any.
    pub fn first(&self, mt: MigrateType) -> Option<u64> {
        let first = self.lists[mt as usize].0;
        (first != Link::NIL).then_some(first)
    }

    /// Walk every list, one migrate type after the other in Linux's order, each front to
    /// back, calling `f` with each block's head pfn.
    pub fn for_each(&self, links: &dyn FreePageLinks, f: &mut dyn FnMut(u64)) {
        for mt in MigrateType::ALL {
            self.for_each_of(mt, links, f);
        }
    }

    /// Walk the list of `mt` front to back, calling `f` with each block's head pfn. Stops
    /// after `nr_free` steps, so a corrupted list cannot loop forever.
    pub fn for_each_of(&self, mt: MigrateType, links: &dyn FreePageLinks, f: &mut dyn FnMut(u64)) {
        let mut cur = self.lists[mt as usize].0;
        for _ in 0..self.nr_free {
            if cur == Link::NIL {
                break;
            }
            f(cur);
            cur = links.get(cur, self.order).next;
        }
    }

    /// Put `pfn` first on the list of `mt` (Linux's `add_to_free_list`).
    pub(super) fn push_front(&mut self, links: &mut impl FreePageLinks, pfn: u64, mt: MigrateType) {
        let (first, last) = &mut self.lists[mt as usize];
        let old = *first;
        links.set(pfn, self.order, Link { prev: Link::NIL, next: old });
        if old == Link::NIL {
            *last = pfn;
        } else {
            let mut l = links.get(old, self.order);
            l.prev = pfn;
            links.set(old, self.order, l);
        }
        *first = pfn;
        self.nr_free += 1;
    }

    /// Put `pfn` last on the list of `mt` (Linux's `add_to_free_list_tail`).
    pub(super) fn push_back(&mut self, links: &mut impl FreePageLinks, pfn: u64, mt: MigrateType) {
        let (first, last) = &mut self.lists[mt as usize];
        let old = *last;
        links.set(pfn, self.order, Link { prev: old, next: Link::NIL });
        if old == Link::NIL {
            *first = pfn;
        } else {
            let mut l = links.get(old, self.order);
            l.next = pfn;
            links.set(old, self.order, l);
        }
        *last = pfn;
        self.nr_free += 1;
    }

    /// Put the `count` (at least 1) consecutive blocks from `first` last on the list of `mt`,
    /// in address order: the same lists as `count` calls of [`push_back`](Self::push_back),
    /// with the links written in one [`FreePageLinks::set_run`].
    pub(super) fn append_run(&mut self, links: &mut impl FreePageLinks, first: u64, count: u64, mt: MigrateType) {
        let (head, last) = &mut self.lists[mt as usize];
        let old = *last;
        links.set_run(first, count, self.order, old, Link::NIL);
        if old == Link::NIL {
            *head = first;
        } else {
            let mut l = links.get(old, self.order);
            l.next = first;
            links.set(old, self.order, l);
        }
        *last = first + (count - 1) * (1 << self.order);
        self.nr_free += count;
    }

    /// Unlink `pfn`, which must be on one of these lists (Linux's `del_page_from_free_list`).
    /// As in Linux, the list it is on need not be known: only an end of a list names its
    /// head, and a pfn heads the end of one list at most.
    pub(super) fn remove(&mut self, links: &mut impl FreePageLinks, pfn: u64) {
        let Link { prev, next } = links.get(pfn, self.order);
        if prev == Link::NIL {
            if let Some(l) = self.lists.iter_mut().find(|l| l.0 == pfn) {
                l.0 = next;
            }
        } else {
            let mut l = links.get(prev, self.order);
            l.next = next;
            links.set(prev, self.order, l);
        }
        if next == Link::NIL {
            if let Some(l) = self.lists.iter_mut().find(|l| l.1 == pfn) {
                l.1 = prev;
            }
        } else {
            let mut l = links.get(next, self.order);
            l.prev = prev;
            links.set(next, self.order, l);
        }
        self.nr_free -= 1;
    }

    /// Move `pfn` from its list to the tail of the list of `mt` (Linux's `move_to_free_list`).
    pub(super) fn move_to(&mut self, links: &mut impl FreePageLinks, pfn: u64, mt: MigrateType) {
        self.remove(links, pfn);
        self.push_back(links, pfn, mt);
    }
}

#[cfg(test)]
mod array_tests {
    use super::*;
    use crate::mm::sparse::dense;
    use std::vec;

    #[test]
    fn array_links_round_trip_across_nodes() {
        // Node 0 covers frames 0x100..0x110, node 1 0x400..0x408; NIL survives the 32-bit
        // packing, and a link is stored relative to its own node.
        // 16 frames need 16 + 8 + 4 + 2 + 1 * 7 = 37 entries, 8 frames 8 + 4 + 2 + 1 * 8 = 22.
        assert_eq!((ArrayLinks::slots_for(16), ArrayLinks::slots_for(8)), (37, 22));
        let (mut a, mut b) = ([[0u32; 2]; 37], [[0u32; 2]; 22]);
        let (node0, node1) = (dense(0x100, 16), dense(0x400, 8));
        let mut links = ArrayLinks::new();
        let mut short = [[0u32; 2]; 36];
        assert!(!links.add_node(&node0, &mut short), "too few slots for 16 frames");
        assert!(links.add_node(&node0, &mut a));
        assert!(links.add_node(&node1, &mut b));
        links.set(0x10f, 0, Link { prev: 0x100, next: Link::NIL });
        links.set(0x404, 2, Link { prev: Link::NIL, next: 0x400 });
        // The same frame as head of a block of another order has its own entry.
        links.set(0x404, 0, Link { prev: 0x405, next: 0x406 });
        assert_eq!(links.get(0x10f, 0), Link { prev: 0x100, next: Link::NIL });
        assert_eq!(links.get(0x404, 2), Link { prev: Link::NIL, next: 0x400 });
        assert_eq!(links.get(0x404, 0), Link { prev: 0x405, next: 0x406 });
    }

    /// Two link arrays over `runs` (of `frames` frames): each case `(first, count, order,
    /// prev, next)` written into one by `set_run` and into the other block by block, and
    /// every block of it read back the same from both. Returns (set_run's, set's).
    fn set_run_and_set(runs: &[SectionRun], frames: u64, cases: &[(u64, u64, u32, u64, u64)]) -> (ArrayLinks<'static>, ArrayLinks<'static>) {
        let runs: &'static [SectionRun] = Vec::leak(runs.to_vec());
        let slots = ArrayLinks::slots_for(frames) as usize;
        let (a, b) = (Vec::leak(vec![[0u32; 2]; slots]), Vec::leak(vec![[0u32; 2]; slots]));
        let (mut bulk, mut one) = (ArrayLinks::new(), ArrayLinks::new());
        assert!(bulk.add_node(runs, a) && one.add_node(runs, b));
        for &(first, count, order, prev, next) in cases {
            bulk.set_run(first, count, order, prev, next);
            set_each(&mut one, first, count, order, prev, next);
            for k in 0..count {
                let pfn = first + k * (1 << order);
                assert_eq!(bulk.get(pfn, order), one.get(pfn, order), "block {pfn} of order {order}");
            }
        }
        (bulk, one)
    }

    /// `set_run` writes exactly the links `set` block by block would, inside one run of
    /// sections (the side-by-side path) and across two runs whose memmap indices are not
    /// consecutive (the fallback), with list ends and NIL at either end.
    #[test]
    fn set_run_writes_what_set_would() {
        // Frames 0..64 in one run; frames 64..128 in a second run whose entries start 8
        // further on (base 72), so a run of blocks crossing pfn 64 is not side by side.
        let runs = [SectionRun { start_pfn: 0, end_pfn: 64, base: 0 }, SectionRun { start_pfn: 64, end_pfn: 128, base: 72 }];
        // (first, count, order, prev, next): inside the first run, order 3, after pfn 120 and
        // before NIL; across the two runs, order 4, from NIL to pfn 0; one block alone.
        let (bulk, one) = set_run_and_set(&runs, 136, &[(8, 6, 3, 120, Link::NIL), (32, 4, 4, Link::NIL, 0), (96, 1, 5, 0, 64)]);
        // And what `set_each` wrote is the chain: first back to prev, each to its neighbours.
        assert_eq!(one.get(8, 3), Link { prev: 120, next: 16 });
        assert_eq!(one.get(48, 3), Link { prev: 40, next: Link::NIL });
        assert_eq!(one.get(80, 4), Link { prev: 64, next: 0 });
        assert_eq!(bulk.get(96, 5), Link { prev: 0, next: 64 });
    }

    /// Every block of every order of a node of two whole sections and part of a third has an
    /// entry of its own among `slots_for` entries; the top order's come last, side by side,
    /// and a section's lower-order entries lie within its own 512 KiB.
    #[test]
    fn each_block_has_its_own_entry_and_a_sections_lie_together() {
        let frames = 2 * PPS + 1000;
        let node = dense(0, frames);
        let total = ArrayLinks::slots_for(frames);
        let mut slots = vec![[0u32; 2]; total as usize];
        let mut links = ArrayLinks::new();
        assert!(links.add_node(&node, &mut slots));
        let mut seen = vec![false; total as usize];
        for order in 0..super::super::MAX_ORDER {
            for pfn in (0..frames).step_by(1 << order) {
                let (_, at) = links.locate(pfn, order);
                assert!(!std::mem::replace(&mut seen[at], true), "entry {at} twice (order {order}, pfn {pfn})");
                let at = at as u64;
                if order as usize == TOP {
                    assert_eq!(at, total - frames.div_ceil(1 << TOP) + (pfn >> TOP));
                } else if pfn < 2 * PPS {
                    let section = pfn / PPS;
                    assert!((section * PER_SECTION..(section + 1) * PER_SECTION).contains(&at), "order {order} pfn {pfn}");
                }
            }
        }
        assert!(seen.iter().all(|&s| s), "every entry is some block's");
        assert_eq!(PER_SECTION * ArrayLinks::ENTRY_BYTES, 65472 * 8);
    }

    /// A run of lower-order blocks across a section boundary is not side by side in the
    /// array: `set_run` writes it as `set` would, and so it does for a top-order run across.
    #[test]
    fn set_run_across_sections_writes_what_set_would() {
        let top = 1u64 << TOP;
        let cases = [(PPS - 4 * 16, 8, 4, Link::NIL, 0), (PPS - 2 * top, 5, TOP as u32, 0, 2 * PPS)];
        let (bulk, _) = set_run_and_set(&dense(0, 3 * PPS), 3 * PPS, &cases);
        assert_eq!(bulk.get(PPS, 4), Link { prev: PPS - 16, next: PPS + 16 });
    }

    #[test]
    #[should_panic(expected = "in no node's array")]
    fn a_frame_outside_every_array_is_a_setup_error() {
        let mut a = [[0u32; 2]; 15];
        let node = dense(0x100, 4);
        let mut links = ArrayLinks::new();
        assert!(links.add_node(&node, &mut a));
        links.get(0x104, 0);
    }
}
