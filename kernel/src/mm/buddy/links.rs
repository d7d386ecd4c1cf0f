//! Free lists threaded through the free pages themselves.
//!
//! Linux links a free block into its `free_area` list through `page->buddy_list` in the
//! block's `struct page`. Here the same two pointers are stored in the first 16 bytes of the
//! block's head page, as pfns: a free page holds nothing else, so the lists cost no memory
//! and handing a large range to the allocator writes one link per block, not one per page.
//!
//! The core never touches page contents itself: it reads and writes links through
//! [`FreePageLinks`]. The kernel implements it by writing through the linear map; the host
//! uses [`SliceLinks`] (or a map in the tests).

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
    /// The links of the free block headed by `pfn`.
    fn get(&self, pfn: u64) -> Link;
    /// Store the links of the free block headed by `pfn`.
    fn set(&mut self, pfn: u64, link: Link);
}

/// Links kept in a plain slice, one entry per frame from `base_pfn` on (for the host: tests,
/// benches, the dry run).
///
/// # Panics
/// `get` and `set` panic for a pfn outside the slice: the slice must cover every zone handed
/// to the allocator, which is a setup mistake, not a run-time input.
pub struct SliceLinks<'a> {
    base_pfn: u64,
    links: &'a mut [Link],
}

impl<'a> SliceLinks<'a> {
    /// Links for the frames `[base_pfn, base_pfn + links.len())`.
    pub fn new(base_pfn: u64, links: &'a mut [Link]) -> Self {
        SliceLinks { base_pfn, links }
    }

    fn index(&self, pfn: u64) -> usize {
        match pfn.checked_sub(self.base_pfn).map(|i| i as usize) {
            Some(i) if i < self.links.len() => i,
            _ => panic!("SliceLinks: pfn {pfn:#x} outside the slice"),
        }
    }
}

impl FreePageLinks for SliceLinks<'_> {
    fn get(&self, pfn: u64) -> Link {
        self.links[self.index(pfn)]
    }

    fn set(&mut self, pfn: u64, link: Link) {
        let i = self.index(pfn);
        self.links[i] = link;
    }
}

/// One order's free list of a zone (Linux's `struct free_area`, with a single migrate type).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FreeArea {
    /// Head pfn of the first block, or [`Link::NIL`] (Linux's `list_first_entry`).
    first: u64,
    /// Head pfn of the last block, or [`Link::NIL`] (the list head's `prev`).
    last: u64,
    /// Number of blocks on the list (Linux's `nr_free`).
    nr_free: u64,
}

impl FreeArea {
    /// An empty list.
    pub const EMPTY: FreeArea = FreeArea { first: Link::NIL, last: Link::NIL, nr_free: 0 };

    /// Number of free blocks of this order.
    pub fn nr_free(&self) -> u64 {
        self.nr_free
    }

    /// Head pfn of the block the next allocation takes, if any.
    pub fn first(&self) -> Option<u64> {
        (self.first != Link::NIL).then_some(self.first)
    }

    /// Walk the list front to back, calling `f` with each block's head pfn. Stops after
    /// `nr_free` steps, so a corrupted list cannot loop forever.
    pub fn for_each(&self, links: &dyn FreePageLinks, f: &mut dyn FnMut(u64)) {
        let mut cur = self.first;
        for _ in 0..self.nr_free {
            if cur == Link::NIL {
                break;
            }
            f(cur);
            cur = links.get(cur).next;
        }
    }

    /// Put `pfn` first (Linux's `add_to_free_list`).
    pub(super) fn push_front(&mut self, links: &mut impl FreePageLinks, pfn: u64) {
        let old = self.first;
        links.set(pfn, Link { prev: Link::NIL, next: old });
        if old == Link::NIL {
            self.last = pfn;
        } else {
            let mut l = links.get(old);
            l.prev = pfn;
            links.set(old, l);
        }
        self.first = pfn;
        self.nr_free += 1;
    }

    /// Put `pfn` last (Linux's `add_to_free_list_tail`).
    pub(super) fn push_back(&mut self, links: &mut impl FreePageLinks, pfn: u64) {
        let old = self.last;
        links.set(pfn, Link { prev: old, next: Link::NIL });
        if old == Link::NIL {
            self.first = pfn;
        } else {
            let mut l = links.get(old);
            l.next = pfn;
            links.set(old, l);
        }
        self.last = pfn;
        self.nr_free += 1;
    }

    /// Unlink `pfn`, which must be on this list (Linux's `del_page_from_free_list`).
    pub(super) fn remove(&mut self, links: &mut impl FreePageLinks, pfn: u64) {
        let Link { prev, next } = links.get(pfn);
        if prev == Link::NIL {
            self.first = next;
        } else {
            let mut l = links.get(prev);
            l.next = next;
            links.set(prev, l);
        }
        if next == Link::NIL {
            self.last = prev;
        } else {
            let mut l = links.get(next);
            l.prev = prev;
            links.set(next, l);
        }
        self.nr_free -= 1;
    }
}
