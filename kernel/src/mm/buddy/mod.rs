//! The buddy page allocator (Linux 6.1 `mm/page_alloc.c`): zones of free blocks of 2^order
//! pages, orders 0 to 10.
//!
//! A free block of order n is aligned to 2^n pages; its buddy is the other half of the
//! aligned block of order n + 1. Freeing a block merges it with its buddy while the buddy is
//! free, in the same zone and of the same order; allocating takes the smallest free block
//! large enough and puts the halves it does not need back on the lower lists.
//!
//! State lives in three places:
//! - the [`Memmap`] of each node, one byte per frame: reserved, head of a free block, order,
//!   written a section at a time when first needed ([`SectionState`]);
//! - the free lists, linked through side arrays of 8 bytes per frame ([`links`]), reached
//!   through a [`FreePageLinks`] the caller provides;
//! - the [`Zone`]s of each node, held in fixed arrays by [`Zones`]: spans, page counts and
//!   the list heads.
//!
//! So handing a range over costs one memmap write and one link write per block, never a loop
//! over its pages (a section handed over whole: one state and a link per block), and
//! allocating or freeing costs O(order) memmap reads plus list updates.
//!
//! Linux functions and where they live here:
//! - `__free_pages_memory` / `memblock_free_pages` / `__free_pages_core`:
//!   [`Zones::free_range`];
//! - `__alloc_pages` over a node-ordered zonelist, `rmqueue`: [`Zones::alloc_pages`];
//! - `__free_pages` / `free_the_page`: [`Zones::free_pages`];
//! - `__free_one_page`, `page_is_buddy`, `buddy_merge_likely`, `__rmqueue`,
//!   `__rmqueue_smallest`, `expand`, `__rmqueue_fallback`: [`zone`], with the migrate types
//!   of [`migrate`];
//! - `init_cma_reserved_pageblock`, `alloc_contig_range` (without migration),
//!   `free_contig_range`: [`cma`];
//! - `free_reserved_area` (what `free_initmem` frees): [`reserved`];
//! - `frag_show_print` (`/proc/buddyinfo`): [`Zones::fmt_buddyinfo`].
//!
//! Left out on purpose: the HIGHATOMIC and ISOLATE migrate types, page migration,
//! per-cpu page lists, watermarks and `lowmem_reserve` (every free page can be handed out),
//! and free-list shuffling. The allocator never reads or writes page contents itself; only
//! its [`FreePageLinks`] does.

use core::fmt;

use crate::mm::addr::Pfn;
use crate::mm::memblock::{MAX_NUMNODES, NUMA_NO_NODE};

pub mod cma;
pub mod links;
pub mod memmap;
pub mod migrate;
pub mod reserved;
pub mod zone;

#[cfg(test)]
mod tests;

pub use links::{ArrayLinks, FreeArea, FreePageLinks, Link};
pub use memmap::{Memmap, PageState, SectionState};
pub use migrate::{MigrateType, MIGRATE_TYPES, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
pub use zone::{Zone, ZoneType};

/// Number of orders (Linux 6.1's `MAX_ORDER`): blocks are of order 0 to `MAX_ORDER - 1`.
pub const MAX_ORDER: u32 = 11;
/// Pages in a block of the highest order (Linux's `MAX_ORDER_NR_PAGES`).
pub const MAX_ORDER_NR_PAGES: u64 = 1 << (MAX_ORDER - 1);
/// Zone types per node (Linux's `MAX_NR_ZONES` on arm64 with DMA and DMA32).
pub const MAX_NR_ZONES: usize = 4;

const NODES: usize = MAX_NUMNODES as usize;

/// Errors of the buddy allocator. Every operation checks its input and leaves the state
/// unchanged when it fails.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BuddyError {
    /// No zone allowed by the constraint has a free block of the order (Linux's failed
    /// `__alloc_pages`).
    NoMemory { order: u32, highest: ZoneType },
    /// The order is 11 or more.
    BadOrder { order: u32 },
    /// The frame is in no zone.
    NotInZone { pfn: Pfn },
    /// The block `[pfn, pfn + 2^order)` does not fit in the zone holding `pfn`.
    CrossesZone { pfn: Pfn, order: u32 },
    /// The frame is not aligned to the order.
    Misaligned { pfn: Pfn, order: u32 },
    /// The block is already free: its head heads a free block, or it lies inside the free
    /// block `[head, head + 2^order)`.
    DoubleFree { pfn: Pfn, head: Pfn, order: u32 },
    /// The frame is reserved and never enters the allocator.
    Reserved { pfn: Pfn },
    /// The frame should be reserved (a reserved area being freed) but is not.
    NotReserved { pfn: Pfn },
    /// A range with its end below its start.
    BadRange { start: Pfn, end: Pfn },
    /// A range outside the node's memmap.
    OutsideMemmap { start: Pfn, end: Pfn },
    /// A node id outside `0..MAX_NUMNODES`, or a node without a memmap.
    BadNode { nid: i32 },
    /// The node already has a memmap, or its memmap covers a frame another node's covers.
    NodeOverlap { nid: i32 },
    /// The zone is already set up, overlaps another zone of the node, or has more present
    /// than spanned pages.
    BadZone { nid: i32, zone: ZoneType },
}

impl fmt::Display for BuddyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BuddyError::NoMemory { order, highest } => {
                write!(f, "buddy: no free block of order {order} in zones up to {}", highest.name())
            }
            BuddyError::BadOrder { order } => {
                write!(f, "buddy: order {order} is not below MAX_ORDER {MAX_ORDER}")
            }
            BuddyError::NotInZone { pfn } => write!(f, "buddy: pfn {:#x} is in no zone", pfn.0),
            BuddyError::CrossesZone { pfn, order } => {
                write!(f, "buddy: block of order {order} at pfn {:#x} crosses the end of its zone", pfn.0)
            }
            BuddyError::Misaligned { pfn, order } => {
                write!(f, "buddy: pfn {:#x} is not aligned to order {order}", pfn.0)
            }
            BuddyError::DoubleFree { pfn, head, order } => write!(
                f,
                "buddy: pfn {:#x} is already free (in the order-{order} block at pfn {:#x})",
                pfn.0, head.0
            ),
            BuddyError::Reserved { pfn } => write!(f, "buddy: pfn {:#x} is reserved", pfn.0),
            BuddyError::NotReserved { pfn } => write!(f, "buddy: pfn {:#x} is not reserved", pfn.0),
            BuddyError::BadRange { start, end } => {
                write!(f, "buddy: range [{:#x}, {:#x}) ends below its start", start.0, end.0)
            }
            BuddyError::OutsideMemmap { start, end } => {
                write!(f, "buddy: range [{:#x}, {:#x}) is outside the memmap", start.0, end.0)
            }
            BuddyError::BadNode { nid } => write!(f, "buddy: node {nid} is not set up"),
            BuddyError::NodeOverlap { nid } => {
                write!(f, "buddy: memmap of node {nid} is already set or covers frames of another node")
            }
            BuddyError::BadZone { nid, zone } => {
                write!(f, "buddy: zone {} of node {nid} is set twice, overlaps or is inconsistent", zone.name())
            }
        }
    }
}

/// One node: its memmap and its zones (Linux's `pg_data_t`). Like Linux's `NODE_DATA`, it
/// lives in memory the caller provides (on the target, memblock memory on the node itself),
/// so [`Zones`] itself is small.
pub struct NodeData<'a> {
    memmap: Option<Memmap<'a>>,
    zones: [Zone; MAX_NR_ZONES],
}

impl<'a> NodeData<'a> {
    /// Bytes of a node's `NODE_DATA` allocation: a `NodeData`, rounded up to a cache line as
    /// Linux rounds `pg_data_t`.
    pub const ALLOC_BYTES: u64 = (core::mem::size_of::<NodeData>() as u64).next_multiple_of(crate::mm::memblock::SMP_CACHE_BYTES);

    /// Node `nid` with no memmap and empty zones.
    pub const fn new(nid: i32) -> NodeData<'a> {
        NodeData {
            memmap: None,
            zones: [
                Zone::empty(ZoneType::Dma, nid),
                Zone::empty(ZoneType::Dma32, nid),
                Zone::empty(ZoneType::Normal, nid),
                Zone::empty(ZoneType::Movable, nid),
            ],
        }
    }
}

/// All nodes and zones, with the free-page links (fixed arrays: no heap).
pub struct Zones<'a, L: FreePageLinks> {
    nodes: [Option<&'a mut NodeData<'a>>; NODES],
    links: L,
}

/// Location of a zone: node index and zone index.
pub(super) type ZoneIdx = (usize, usize);

/// What [`Zones::free_range`] hands over at a time.
#[derive(Clone, Copy)]
enum Block {
    /// One block: its head and order.
    One(u64, u32),
    /// The consecutive blocks of the top order in `[start, end)`.
    Top(u64, u64),
}

/// Visitor of the blocks of a range: the allocator, the blocks, the zone.
type BlockFn<'f, Z> = dyn FnMut(&mut Z, Block, ZoneIdx) -> Result<(), BuddyError> + 'f;

impl<'a, L: FreePageLinks> Zones<'a, L> {
    /// No nodes, no zones.
    pub fn new(links: L) -> Self {
        Zones { nodes: [const { None }; NODES], links }
    }

    /// The free-page links.
    pub fn links(&self) -> &L {
        &self.links
    }

    /// Bring node `nid` online in `data` (its `NODE_DATA`, made with `NodeData::new(nid)`)
    /// with its memmap, which covers the node's span (Linux allocates it in
    /// `alloc_node_mem_map`). Spans of different nodes must not overlap.
    pub fn add_node(&mut self, nid: i32, data: &'a mut NodeData<'a>, memmap: Memmap<'a>) -> Result<(), BuddyError> {
        let n = Self::node_index(nid)?;
        // Node spans may interleave (Linux allows it: a node's memory on both sides of
        // another's), so what may not overlap is the frames the memmaps cover: each valid frame
        // has one node, the one `zone_of` finds.
        let (s, e) = (memmap.start_pfn().0, memmap.end_pfn().0);
        let clash = self.nodes.iter().flatten().filter_map(|n| n.memmap.as_ref()).any(|m| {
            let mine = memmap.valid();
            m.valid().parts(s, e).any(|(os, oe, _)| mine.parts(os, oe).next().is_some())
        });
        if self.nodes[n].is_some() || clash {
            return Err(BuddyError::NodeOverlap { nid });
        }
        *data = NodeData::new(nid);
        data.memmap = Some(memmap);
        self.nodes[n] = Some(data);
        Ok(())
    }

    /// Set up zone `ty` of node `nid` over `[start_pfn, start_pfn + spanned)`, of which
    /// `present` pages are RAM (Linux's `zone_init_internals` and `init_currently_empty_zone`).
    /// The span must lie in the node's memmap and not overlap the node's other zones.
    pub fn init_zone(
        &mut self,
        nid: i32,
        ty: ZoneType,
        start_pfn: Pfn,
        spanned: u64,
        present: u64,
    ) -> Result<(), BuddyError> {
        let n = Self::node_index(nid)?;
        let node = self.nodes[n].as_deref_mut().ok_or(BuddyError::BadNode { nid })?;
        let mm = node.memmap.as_ref().ok_or(BuddyError::BadNode { nid })?;
        let bad = BuddyError::BadZone { nid, zone: ty };
        let start = start_pfn.0;
        let end = start.checked_add(spanned).ok_or(bad)?;
        if spanned == 0 || present > spanned || node.zones[ty.index()].spanned_pages != 0 {
            return Err(bad);
        }
        if start < mm.start_pfn().0 || end > mm.end_pfn().0 {
            return Err(BuddyError::OutsideMemmap { start: start_pfn, end: Pfn(end) });
        }
        if node.zones.iter().any(|z| z.spanned_pages != 0 && start < z.zone_end_pfn() && z.zone_start_pfn < end) {
            return Err(bad);
        }
        let z = &mut node.zones[ty.index()];
        z.zone_start_pfn = start;
        z.spanned_pages = spanned;
        z.present_pages = present;
        Ok(())
    }

    /// Zone `ty` of node `nid`, if the node exists.
    pub fn zone(&self, nid: i32, ty: ZoneType) -> Option<&Zone> {
        let n = Self::node_index(nid).ok()?;
        Some(&self.nodes[n].as_deref()?.zones[ty.index()])
    }

    /// Every zone with a span, node by node, lowest zone first.
    pub fn zones(&self) -> impl Iterator<Item = &Zone> + use<'_, 'a, L> {
        self.nodes.iter().flatten().flat_map(|n| n.zones.iter()).filter(|z| z.spanned_pages != 0)
    }

    /// The memmap of node `nid`.
    pub fn memmap(&self, nid: i32) -> Option<&Memmap<'a>> {
        self.nodes.get(usize::try_from(nid).ok()?)?.as_deref()?.memmap.as_ref()
    }

    /// Free pages over all zones (Linux's `nr_free_pages`).
    pub fn nr_free_pages(&self) -> u64 {
        self.zones().map(Zone::free_pages).sum()
    }

    /// Managed pages over all zones (Linux's `totalram_pages`).
    pub fn totalram_pages(&self) -> u64 {
        self.zones().map(Zone::managed_pages).sum()
    }

    fn node_index(nid: i32) -> Result<usize, BuddyError> {
        usize::try_from(nid).ok().filter(|&n| n < NODES).ok_or(BuddyError::BadNode { nid })
    }

    /// The zone whose span holds `pfn`.
    fn zone_of(&self, pfn: u64) -> Option<ZoneIdx> {
        self.nodes.iter().enumerate().find_map(|(n, node)| {
            let node = node.as_deref()?;
            let mm = node.memmap.as_ref()?;
            if !mm.covers(pfn) {
                return None;
            }
            node.zones.iter().position(|z| z.spans(pfn)).map(|z| (n, z))
        })
    }

    /// Run `f` on the zone `(n, z)` with its node's memmap and the links.
    fn with_zone<R>(
        &mut self,
        (n, z): ZoneIdx,
        f: impl FnOnce(&mut Zone, &mut Memmap<'a>, &mut L) -> R,
    ) -> Option<R> {
        let node = self.nodes[n].as_deref_mut()?;
        let mm = node.memmap.as_mut()?;
        Some(f(&mut node.zones[z], mm, &mut self.links))
    }

    /// Check that the block `[pfn, pfn + 2^order)` may be freed, and find its zone.
    fn check_free(&self, pfn: u64, order: u32) -> Result<ZoneIdx, BuddyError> {
        if order >= MAX_ORDER {
            return Err(BuddyError::BadOrder { order });
        }
        if pfn & ((1 << order) - 1) != 0 {
            return Err(BuddyError::Misaligned { pfn: Pfn(pfn), order });
        }
        let zi = self.zone_of(pfn).ok_or(BuddyError::NotInZone { pfn: Pfn(pfn) })?;
        self.check_in_zone(zi, pfn, order).map(|()| zi)
    }

    /// [`check_free`](Self::check_free) of an aligned block whose first frame lies in zone `(n, z)`.
    fn check_in_zone(&self, (n, z): ZoneIdx, pfn: u64, order: u32) -> Result<(), BuddyError> {
        let Some(node) = self.nodes[n].as_deref() else {
            return Err(BuddyError::NotInZone { pfn: Pfn(pfn) });
        };
        let zone = &node.zones[z];
        if zone.zone_end_pfn() - pfn < 1 << order {
            return Err(BuddyError::CrossesZone { pfn: Pfn(pfn), order });
        }
        let Some(mm) = node.memmap.as_ref() else {
            return Err(BuddyError::NotInZone { pfn: Pfn(pfn) });
        };
        let state = mm.state(pfn).unwrap_or_default();
        if state.is_reserved() {
            return Err(BuddyError::Reserved { pfn: Pfn(pfn) });
        }
        if let Some(o) = state.buddy_order() {
            return Err(BuddyError::DoubleFree { pfn: Pfn(pfn), head: Pfn(pfn), order: o });
        }
        if let Some((head, o)) = zone.containing_free_block(mm, pfn, order) {
            return Err(BuddyError::DoubleFree { pfn: Pfn(pfn), head: Pfn(head), order: o });
        }
        Ok(())
    }

    /// Hand the free frames `[start_pfn, end_pfn)` to the allocator in the largest naturally
    /// aligned blocks (Linux's `__free_pages_memory`: each block is of order
    /// `min(MAX_ORDER - 1, ffs(pfn))`, lowered while it would pass the end), each freed with
    /// merging and put at the tail of its list, and count them as managed
    /// (`__free_pages_core`). Returns the number of pages handed over.
    ///
    /// The range may cover several zones; it is cut at zone boundaries, so no block ever
    /// straddles two zones. Every frame must lie in a zone. Only the head page of each block
    /// is checked (not reserved, not already free), so the cost is O(blocks), not O(pages):
    /// the caller passes ranges that memblock reports free. The blocks of the top order, most
    /// of any large range, are checked and freed in runs: one memmap byte and one link entry
    /// each, written in address order. Nothing is freed when a check fails.
    pub fn free_range(&mut self, start_pfn: Pfn, end_pfn: Pfn) -> Result<u64, BuddyError> {
        let (start, end) = (start_pfn.0, end_pfn.0);
        if start > end {
            return Err(BuddyError::BadRange { start: start_pfn, end: end_pfn });
        }
        self.for_each_block(start, end, &mut |zones, block, zi| match block {
            Block::One(pfn, order) => zones.check_in_zone(zi, pfn, order),
            Block::Top(s, e) => zones
                .memmap(zi.0 as i32)
                .map_or(Err(BuddyError::NotInZone { pfn: Pfn(s) }), |mm| mm.check_top_heads(Pfn(s), Pfn(e))),
        })?;
        let mut total = 0;
        self.for_each_block(start, end, &mut |zones, block, zi| {
            let pages = zones.with_zone(zi, |zone, mm, links| {
                let pages = match block {
                    Block::One(pfn, order) => {
                        zone.free_one_page(mm, links, pfn, order, true);
                        1 << order
                    }
                    Block::Top(s, e) => {
                        zone.free_top_blocks(mm, links, s, e);
                        e - s
                    }
                };
                zone.managed_pages += pages;
                pages
            });
            total += pages.unwrap_or(0);
            Ok(())
        })?;
        Ok(total)
    }

    /// The blocks of `__free_pages_memory` over `[start, end)`, cut at zone ends, in address
    /// order; consecutive blocks of the top order come as one [`Block::Top`].
    fn for_each_block(&mut self, start: u64, end: u64, f: &mut BlockFn<'_, Self>) -> Result<(), BuddyError> {
        let mut pfn = start;
        while pfn < end {
            let zi = self.zone_of(pfn).ok_or(BuddyError::NotInZone { pfn: Pfn(pfn) })?;
            let zone_end = self.nodes[zi.0].as_deref().map_or(0, |n| n.zones[zi.1].zone_end_pfn());
            let piece_end = end.min(zone_end);
            while pfn < piece_end {
                let mut order = pfn.trailing_zeros().min(MAX_ORDER - 1);
                while piece_end - pfn < 1 << order {
                    order -= 1;
                }
                if order == MAX_ORDER - 1 {
                    let top_end = piece_end & !(MAX_ORDER_NR_PAGES - 1);
                    f(self, Block::Top(pfn, top_end), zi)?;
                    pfn = top_end;
                } else {
                    f(self, Block::One(pfn, order), zi)?;
                    pfn += 1 << order;
                }
            }
        }
        Ok(())
    }

    /// Allocate a movable block of 2^order pages from the highest zone allowed down to DMA, trying
    /// the nodes in order from the first (Linux's `alloc_pages` with a node-ordered zonelist,
    /// no preferred node). Returns the block's first frame.
    pub fn alloc_pages(&mut self, order: u32, highest: ZoneType) -> Result<Pfn, BuddyError> {
        self.alloc_pages_node(NUMA_NO_NODE, order, highest)
    }

    /// Allocate a movable block of 2^order pages, trying node `nid` first, then the other nodes in
    /// ascending order (Linux's `__alloc_pages` over a node-ordered zonelist, where each
    /// node contributes its zones from `highest` down; `NUMA_NO_NODE` starts at node 0).
    /// Within a zone the smallest free block of at least `order` is taken and split
    /// (`__rmqueue_smallest`); the low part is returned.
    pub fn alloc_pages_node(&mut self, nid: i32, order: u32, highest: ZoneType) -> Result<Pfn, BuddyError> {
        self.alloc_pages_type(nid, order, highest, MigrateType::Movable)
    }

    /// [`alloc_pages_node`](Self::alloc_pages_node) for an allocation of migrate type `mt`
    /// (Linux's `gfp_migratetype`: `GFP_KERNEL` is unmovable, `__GFP_MOVABLE` movable): within
    /// a zone, `__rmqueue`'s order of lists (see [`Zone`]'s `rmqueue`). Only a movable
    /// allocation can get a frame of a CMA pageblock.
    pub fn alloc_pages_type(&mut self, nid: i32, order: u32, highest: ZoneType, mt: MigrateType) -> Result<Pfn, BuddyError> {
        if order >= MAX_ORDER {
            return Err(BuddyError::BadOrder { order });
        }
        let preferred = if nid == NUMA_NO_NODE { 0 } else { Self::node_index(nid)? };
        let node_order = core::iter::once(preferred).chain((0..NODES).filter(move |&n| n != preferred));
        for n in node_order {
            for z in (0..=highest.index()).rev() {
                if self.nodes[n].as_deref().is_none_or(|node| node.zones[z].free_pages < 1 << order) {
                    continue;
                }
                let taken = self.with_zone((n, z), |zone, mm, links| zone.rmqueue(mm, links, order, mt));
                if let Some(Some(pfn)) = taken {
                    return Ok(Pfn(pfn));
                }
            }
        }
        Err(BuddyError::NoMemory { order, highest })
    }

    /// Free the block of 2^order pages at `pfn`, merging it with its free buddies (Linux's
    /// `__free_pages`, which ends in `__free_one_page`). Fails without changing anything for
    /// a bad order, a misaligned or zoneless pfn, a reserved page, or a block that is already
    /// free or lies inside a free block. (A block that merely contains smaller free blocks is
    /// not detected: that would cost 2^order reads.)
    pub fn free_pages(&mut self, pfn: Pfn, order: u32) -> Result<(), BuddyError> {
        let zi = self.check_free(pfn.0, order)?;
        self.with_zone(zi, |zone, mm, links| zone.free_one_page(mm, links, pfn.0, order, false));
        Ok(())
    }

    /// Write `/proc/buddyinfo`, one line per populated zone and one call of `out` per line
    /// (no newline), as Linux's `frag_show_print`: `Node %d, zone %8s ` then `%6lu ` for the
    /// number of free blocks of each order.
    pub fn fmt_buddyinfo(&self, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
        for (nid, node) in self.nodes.iter().enumerate() {
            let Some(node) = node.as_deref() else { continue };
            for zone in node.zones.iter().filter(|z| z.is_populated()) {
                out(format_args!("{}", BuddyinfoLine { nid, zone }));
            }
        }
    }
}

/// One `/proc/buddyinfo` line.
struct BuddyinfoLine<'z> {
    nid: usize,
    zone: &'z Zone,
}

impl fmt::Display for BuddyinfoLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node {}, zone {:>8} ", self.nid, self.zone.name())?;
        for area in &self.zone.free_area {
            write!(f, "{:>6} ", area.nr_free())?;
        }
        Ok(())
    }
}
