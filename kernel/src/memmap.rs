//! The physical memory map at the end of `mem_init`: every byte from 0 to the end of the last
//! memory or reserved range, cut where anything changes (RAM or hole, no-map, reserved or
//! free, node, zone, owner), each range with the owner that placed it there. It is Linux's
//! `/proc/iomem` merged with `/sys/kernel/debug/memblock`, plus the names memblock forgets.
//!
//! Owners come from the boot's own records, never from guessing at sizes: the image's section
//! symbols, the blob and initrd the boot reserved, the blob's `/memreserve/` entries, the
//! reserved-memory table (`of::reserved_mem`) with each node's path, properties and claiming
//! hook, and what memblock's allocation callers placed, as each of them records it: the
//! table pages `paging_init` zeroed ([`Recording`] sees every one), each node's memmap and
//! `NODE_DATA` (`Bootmem`), the CMA areas, the swiotlb buffer `mem_init` placed, memblock's
//! grown arrays. Reserved bytes none of them claims are printed as `unattributed`, not named
//! by guess. Where two owners claim the same byte, the first in [`MapFacts::claims`]' order
//! takes it.
//!
//! Both the host dry-run (`cargo xtask memmap`, after the boot's lines) and the console
//! monitor's `memmap` command print it, with [`fmt_map`]; `cargo xtask` parses these lines for
//! `--json` and `--svg`, so each line keeps one shape:
//!
//! ```text
//! memmap: node 0 [mem 0x0000000040000000-0x000000007fffffff]
//! memmap: zone DMA node 0 [mem 0x0000000040000000-0x000000007fffffff]
//! memmap: 0x0000000000000000-0x000000003fffffff       1G hole     -  -       -
//! memmap: 0x0000000040200000-0x00000000403fffff       2M reserved 0  DMA     kernel .text
//! memmap: total: ram 1048576K, nomap 0K, reserved 13052K, free 1035524K
//! ```
//!
//! Free ranges are memblock's free memory as `memblock_free_all` handed it to the buddy
//! allocator (the whole pages of each; CMA areas are still reserved at this point). It never
//! allocates: the walk recomputes the next boundary from the records at each step.

use core::fmt;

use crate::setup::Bootmem;
use crate::mm::memblock::{Memblock, MemblockKind, Region};
use crate::mm::paging::TableAccess;
use crate::mm::pgtable::TableMem;
use crate::mm::swiotlb::IoTlb;
use crate::mm::zone_sizes::KernelSections;
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::of::fdt::Fdt;
use crate::of::reserved_mem::{ReservedMem, ReservedMemTable};

/// Ranges of table pages kept; more are counted in `dropped` and print as `unattributed`.
pub const MAX_TABLE_RANGES: usize = 64;
/// `/memreserve/` entries the map names (each step of the walk looks at every claim, so a
/// blob of a million entries must not make it quadratic); later ones print as `unattributed`.
pub const MAX_MEMRESERVE_CLAIMS: usize = 1024;

/// The initrd's whole pages `[start, end)`, as arm64_memblock_init reserves them; an end in
/// the last page of the address space saturates instead of wrapping.
pub fn initrd_pages(initrd: Option<(PhysAddr, PhysAddr)>) -> Option<(PhysAddr, PhysAddr)> {
    let end = |e: u64| e.checked_next_multiple_of(PAGE_SIZE).unwrap_or(u64::MAX);
    initrd.map(|(s, e)| (s.align_down(PAGE_SIZE), PhysAddr(end(e.0))))
}

/// The page-table pages `paging_init` took from memblock, merged into ranges.
#[derive(Clone, Copy, Debug)]
pub struct TablePages {
    ranges: [(u64, u64); MAX_TABLE_RANGES],
    len: usize,
    /// Pages that found no room in `ranges`.
    pub dropped: u64,
}

impl Default for TablePages {
    fn default() -> Self {
        TablePages { ranges: [(0, 0); MAX_TABLE_RANGES], len: 0, dropped: 0 }
    }
}

impl TablePages {
    /// Note the page at `pa`, joining a range it touches.
    pub fn record(&mut self, pa: PhysAddr) {
        let (s, e) = (pa.0, pa.0.saturating_add(PAGE_SIZE));
        if let Some(r) = self.ranges[..self.len].iter_mut().find(|r| r.0 == e || r.1 == s) {
            *r = (r.0.min(s), r.1.max(e));
        } else if self.len < MAX_TABLE_RANGES {
            self.ranges[self.len] = (s, e);
            self.len += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// `[start, end)` of each range, in the order they were first seen.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges[..self.len].iter().copied()
    }
}

/// Table memory that notes every page handed to it to be zeroed: the pages `paging_init`
/// took from memblock, as it takes them.
pub struct Recording<A> {
    pub inner: A,
    pub pages: TablePages,
}

impl<A> Recording<A> {
    pub fn new(inner: A) -> Self {
        Recording { inner, pages: TablePages::default() }
    }
}

impl<A: TableAccess> TableAccess for &mut Recording<A> {
    fn zero(&mut self, pa: PhysAddr) {
        self.pages.record(pa);
        self.inner.zero(pa);
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        self.inner.read(table, index)
    }
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        self.inner.write(table, index, desc)
    }
}

/// Finished tables, read only (for `ptdump`): any allocation is refused.
pub struct ReadOnly<'t, A>(pub &'t A);

impl<A: TableAccess> TableMem for ReadOnly<'_, A> {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        None
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        self.0.read(table, index)
    }
    fn write(&mut self, _: PhysAddr, _: usize, _: u64) {}
}

/// Everything the map is made from, as the boot left it after `mem_init`.
pub struct MapFacts<'f, 'a> {
    pub memblock: &'f Memblock,
    pub fdt: &'f Fdt<'a>,
    pub rmem: &'f ReservedMemTable<'a>,
    pub bootmem: &'f Bootmem,
    /// `[_stext, _end)`.
    pub kernel: (PhysAddr, PhysAddr),
    /// The image's sections (all empty when unknown).
    pub sections: KernelSections,
    /// `[base, base + totalsize)` of the blob.
    pub dtb: (PhysAddr, u64),
    /// `[start, end)` of the initrd the boot reserved (page aligned as reserved).
    pub initrd: Option<(PhysAddr, PhysAddr)>,
    pub page_tables: &'f TablePages,
    /// The bounce buffer `mem_init` placed, if it did.
    pub io_tlb: Option<IoTlb>,
}

/// Who placed a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'r, 'a> {
    /// A section of the kernel image (`.text`, `.rodata`, `.data`, `.bss`, `.init`), or the
    /// rest of `[_stext, _end)` (`image`).
    Kernel(&'static str),
    Dtb,
    Initrd,
    /// The blob's `/memreserve/` entry of this index.
    MemReserve(usize),
    ReservedMem(&'r ReservedMem<'a>),
    PageTables,
    Memmap(i32),
    MemmapLinks(i32),
    NodeData(i32),
    /// The CMA area `cma=`/`CMA_SIZE_MBYTES` asked for (`dma_contiguous_reserve`).
    DefaultCma,
    Swiotlb,
    /// memblock's own array of this name, grown into memblock memory.
    MemblockArray(&'static str),
}

/// One claim: `[start, end)` and who placed it.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'r, 'a> {
    pub start: u64,
    pub end: u64,
    pub owner: Owner<'r, 'a>,
}

/// What a range is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Neither memory nor reserved.
    Hole,
    /// Memory handed to the buddy allocator.
    Free,
    /// Reserved in memblock (inside memory or not).
    Reserved,
    /// Memory marked no-map: not in the linear map, never in the buddy allocator.
    Nomap,
    /// Free memory in a page that a reservation shares: the page stays reserved.
    PartialPage,
}

impl Kind {
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Hole => "hole",
            Kind::Free => "free",
            Kind::Reserved => "reserved",
            Kind::Nomap => "nomap",
            Kind::PartialPage => "partial",
        }
    }
}

/// One range of the map: `[start, end)`.
#[derive(Clone, Copy, Debug)]
pub struct Piece<'r, 'a> {
    pub start: u64,
    pub end: u64,
    pub kind: Kind,
    /// The memory region's node, for memory.
    pub nid: Option<i32>,
    pub zone: Option<&'static str>,
    /// Who placed it; `None` in free memory, holes nobody claims, and unattributed reserves.
    pub owner: Option<Owner<'r, 'a>>,
    /// Index of the claim in [`MapFacts::claims`] (the owner's identity).
    claim: Option<usize>,
}

/// A size in the largest unit of K, M, G, T, P, E that divides it; bytes otherwise.
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: &[u8] = b"KMGTPE";
        if self.0 == 0 || self.0 & 1023 != 0 {
            return f.pad(Buf::of(format_args!("{}B", self.0)).as_str());
        }
        let mut n = self.0 >> 10;
        let mut unit = 0;
        while n & 1023 == 0 && unit + 1 < UNITS.len() {
            n >>= 10;
            unit += 1;
        }
        f.pad(Buf::of(format_args!("{n}{}", UNITS[unit] as char)).as_str())
    }
}

/// A short formatted string on the stack, so `Size` can honour a width.
struct Buf {
    b: [u8; 24],
    len: usize,
}

impl Buf {
    fn of(args: fmt::Arguments<'_>) -> Buf {
        let mut b = Buf { b: [0; 24], len: 0 };
        let _ = fmt::write(&mut b, args);
        b
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.len]).unwrap_or("?")
    }
}

impl fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.b.len() - self.len;
        let n = s.len().min(room);
        self.b[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl<'f, 'a> MapFacts<'f, 'a> {
    /// Every claim, in the order that decides overlaps: the image, the blob, the initrd, the
    /// `/memreserve/` entries, the reserved-memory table, then memblock's allocations in the
    /// order the boot makes them.
    pub fn claims(&self) -> impl Iterator<Item = Claim<'f, 'a>> + '_ {
        let s = &self.sections;
        let sections = [(".text", s.text), (".rodata", s.rodata), (".init", s.init), (".data", s.rwdata), (".bss", s.bss)];
        let kernel = sections
            .into_iter()
            .map(|(name, (a, b))| Claim { start: a, end: b, owner: Owner::Kernel(name) })
            .chain([Claim { start: self.kernel.0 .0, end: self.kernel.1 .0, owner: Owner::Kernel("image") }]);
        let dtb = Claim { start: self.dtb.0 .0, end: self.dtb.0 .0.saturating_add(self.dtb.1), owner: Owner::Dtb };
        let initrd = self.initrd.map(|(s, e)| Claim { start: s.0, end: e.0, owner: Owner::Initrd });
        let memreserve = self.fdt.memory_reservations().take(MAX_MEMRESERVE_CLAIMS).enumerate().map(|(i, (base, size))| Claim {
            start: base,
            end: base.saturating_add(size),
            owner: Owner::MemReserve(i),
        });
        let rmem = self.rmem.iter().map(|r| Claim {
            start: r.base.0,
            end: r.base.0.saturating_add(r.size),
            owner: Owner::ReservedMem(r),
        });
        let tables = self.page_tables.ranges().map(|(s, e)| Claim { start: s, end: e, owner: Owner::PageTables });
        let memmaps = self.bootmem.memmaps.iter().flatten().flat_map(|m| {
            let [memmap, links] = m.allocations();
            [
                Claim { start: m.pa.0, end: m.pa.0 + memmap, owner: Owner::Memmap(m.nid) },
                Claim { start: m.links_pa.0, end: m.links_pa.0 + links, owner: Owner::MemmapLinks(m.nid) },
            ]
        });
        let node_data_size = crate::mm::buddy::NodeData::ALLOC_BYTES;
        let node_data = self.bootmem.numa.node_data.iter().enumerate().filter_map(move |(nid, pa)| {
            pa.map(|pa| Claim { start: pa.0, end: pa.0 + node_data_size, owner: Owner::NodeData(nid as i32) })
        });
        let cma = self.bootmem.cma.iter().map(|a| Claim {
            start: a.base.0,
            end: a.base.0.saturating_add(a.size),
            owner: Owner::DefaultCma,
        });
        let swiotlb = self.io_tlb.map(|t| Claim { start: t.start.0, end: t.end.0, owner: Owner::Swiotlb });
        let arrays = [MemblockKind::Memory, MemblockKind::Reserved].into_iter().filter_map(|k| {
            let ty = self.memblock.ty(k);
            let base = ty.grown_array()?.0;
            let bytes = (ty.max() * core::mem::size_of::<Region>()) as u64;
            Some(Claim { start: base, end: base + bytes.next_multiple_of(PAGE_SIZE), owner: Owner::MemblockArray(ty.name()) })
        });
        kernel
            .chain([dtb])
            .chain(initrd)
            .chain(memreserve)
            .chain(rmem)
            .chain(tables)
            .chain(memmaps)
            .chain(node_data)
            .chain(cma)
            .chain(swiotlb)
            .chain(arrays)
            .filter(|c| c.start < c.end)
    }

    /// The zone of node `nid` holding `addr`, and the zone boundary after `addr`.
    fn zone_at(&self, nid: Option<i32>, addr: u64) -> (Option<&'static str>, u64) {
        use crate::mm::buddy::ZoneType;
        let mut next = u64::MAX;
        let mut found = None;
        for (n, node) in self.bootmem.zones.nodes.iter().enumerate().filter(|(_, n)| n.online) {
            for (ty, z) in ZoneType::ALL.iter().zip(&node.zones).filter(|(_, z)| z.spanned_pages > 0) {
                let (s, e) = (z.zone_start_pfn << 12, z.end_pfn() << 12);
                if nid == Some(n as i32) && (s..e).contains(&addr) {
                    found = Some(ty.name());
                }
                for b in [s, e] {
                    if b > addr {
                        next = next.min(b);
                    }
                }
            }
        }
        (found, next)
    }

    /// The map, range by range, in address order.
    pub fn pieces(&self) -> Pieces<'_, 'f, 'a> {
        Pieces { facts: self, at: Some(0), pending: None }
    }
}

/// `regions`' region holding `addr`, and the next boundary of `regions` after `addr`.
fn region_at(regions: &[Region], addr: u64) -> (Option<&Region>, u64) {
    let idx = regions.partition_point(|r| r.end().0 <= addr);
    match regions.get(idx) {
        Some(r) if r.base.0 <= addr => (Some(r), r.end().0),
        Some(r) => (None, r.base.0),
        None => (None, u64::MAX),
    }
}

/// Iterator over the map's ranges ([`MapFacts::pieces`]).
pub struct Pieces<'m, 'f, 'a> {
    facts: &'m MapFacts<'f, 'a>,
    /// Where the next step starts; `None` when the walk is over.
    at: Option<u64>,
    pending: Option<Piece<'f, 'a>>,
}

impl<'f, 'a> Pieces<'_, 'f, 'a> {
    /// The range from `at` to the next boundary of anything, and whether more follows.
    fn step(&self, at: u64) -> Option<Piece<'f, 'a>> {
        let mb = self.facts.memblock;
        let (mem, mem_next) = region_at(mb.memory.regions(), at);
        let (res, res_next) = region_at(mb.reserved.regions(), at);
        if mem.is_none() && res.is_none() && mem_next == u64::MAX && res_next == u64::MAX {
            return None;
        }
        let nid = mem.map(|r| r.nid);
        let (zone, zone_next) = match mem {
            Some(_) => self.facts.zone_at(nid, at),
            None => (None, u64::MAX),
        };
        let mut next = mem_next.min(res_next).min(zone_next);
        let mut claim = None;
        for (i, c) in self.facts.claims().enumerate() {
            if c.start > at {
                next = next.min(c.start);
            } else if at < c.end {
                next = next.min(c.end);
                if claim.is_none() {
                    claim = Some((i, c.owner));
                }
            }
        }
        let kind = match (mem, res) {
            (Some(m), _) if m.is_nomap() => Kind::Nomap,
            (_, Some(_)) => Kind::Reserved,
            (Some(_), None) => Kind::Free,
            (None, None) => Kind::Hole,
        };
        let claim = if kind == Kind::Free { None } else { claim };
        let piece = Piece { start: at, end: next, kind, nid, zone, owner: claim.map(|c| c.1), claim: claim.map(|c| c.0) };
        if kind != Kind::Free {
            return Some(piece);
        }
        // memblock_free_all hands over whole pages only: free bytes in a page that a
        // reservation shares stay with that page, reserved.
        let (first, last) = (at.checked_next_multiple_of(PAGE_SIZE).unwrap_or(u64::MAX), next & !(PAGE_SIZE - 1));
        Some(match (at < first, first < last) {
            (false, true) => Piece { end: last, ..piece },
            (true, _) => Piece { end: first.min(next), kind: Kind::PartialPage, ..piece },
            (false, false) => Piece { kind: Kind::PartialPage, ..piece },
        })
    }
}

impl<'f, 'a> Iterator for Pieces<'_, 'f, 'a> {
    type Item = Piece<'f, 'a>;

    fn next(&mut self) -> Option<Piece<'f, 'a>> {
        loop {
            let Some(at) = self.at else { return self.pending.take() };
            let Some(p) = self.step(at) else {
                self.at = None;
                continue;
            };
            self.at = (p.end != u64::MAX).then_some(p.end);
            match &mut self.pending {
                Some(q) if q.kind == p.kind && q.nid == p.nid && q.zone == p.zone && q.claim == p.claim => q.end = p.end,
                pending => {
                    if let Some(done) = pending.replace(p) {
                        return Some(done);
                    }
                }
            }
        }
    }
}

/// Whether the blob's node at `r` has the property `name`.
fn has_prop(fdt: &Fdt, r: &ReservedMem, name: &str) -> bool {
    fdt.node_at(r.node).is_some_and(|n| n.property(name).is_some())
}

impl Owner<'_, '_> {
    /// The owner as the map prints it: a class word, then what names it.
    pub fn fmt_with(&self, fdt: &Fdt, f: &mut dyn fmt::Write) -> fmt::Result {
        match *self {
            Owner::Kernel(section) => write!(f, "kernel {section}"),
            Owner::Dtb => write!(f, "dtb"),
            Owner::Initrd => write!(f, "initrd"),
            Owner::MemReserve(i) => write!(f, "memreserve #{i}"),
            Owner::ReservedMem(r) => {
                write!(f, "reserved-memory /reserved-memory/{}", r.name)?;
                let attr = if has_prop(fdt, r, "no-map") {
                    "no-map"
                } else if r.reusable {
                    "reusable"
                } else {
                    "-"
                };
                let placed = if has_prop(fdt, r, "reg") { "static" } else { "dynamic" };
                let what = match (r.owner, r.reusable) {
                    (Some("shared-dma-pool"), true) => "cma",
                    (Some("shared-dma-pool"), false) => "dma-pool",
                    _ => "-",
                };
                write!(f, " {attr} {placed} {what} hook={}", r.owner.unwrap_or("-"))
            }
            Owner::PageTables => write!(f, "page-tables"),
            Owner::Memmap(nid) => write!(f, "memmap node {nid}"),
            Owner::MemmapLinks(nid) => write!(f, "memmap-links node {nid}"),
            Owner::NodeData(nid) => write!(f, "node-data node {nid}"),
            Owner::DefaultCma => write!(f, "cma default"),
            Owner::Swiotlb => write!(f, "swiotlb"),
            Owner::MemblockArray(name) => write!(f, "memblock-array {name}"),
        }
    }
}

/// A piece's owner column.
struct OwnerCol<'p, 'r, 'a>(&'p Piece<'r, 'a>, &'p Fdt<'p>);

impl fmt::Display for OwnerCol<'_, '_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.owner, self.0.kind) {
            (Some(o), _) => o.fmt_with(self.1, f),
            (None, Kind::Free) => f.write_str("buddy"),
            (None, Kind::Hole) => f.write_str("-"),
            (None, Kind::PartialPage) => f.write_str("page-shared"),
            (None, _) => f.write_str("unattributed"),
        }
    }
}

/// Print the map (see the module documentation), one line per call of `out`.
pub fn fmt_map(facts: &MapFacts, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    use crate::mm::buddy::ZoneType;
    out(format_args!("memmap: physical memory map at the end of mem_init"));
    for (nid, node) in facts.bootmem.zones.nodes.iter().enumerate().filter(|(_, n)| n.online) {
        let (s, e) = (node.node_start_pfn << 12, node.node_end_pfn << 12);
        out(format_args!("memmap: node {nid} [mem {s:#018x}-{:#018x}]", e.saturating_sub(1)));
        for (ty, z) in ZoneType::ALL.iter().zip(&node.zones).filter(|(_, z)| z.spanned_pages > 0) {
            let (s, e) = (z.zone_start_pfn << 12, z.end_pfn() << 12);
            out(format_args!("memmap: zone {} node {nid} [mem {s:#018x}-{:#018x}]", ty.name(), e - 1));
        }
    }
    let mut totals = [0u64; 4];
    for p in facts.pieces() {
        let size = p.end - p.start;
        let i = match p.kind {
            Kind::Hole => None,
            Kind::Free => Some(3),
            Kind::Reserved | Kind::PartialPage => Some(2),
            Kind::Nomap => Some(1),
        };
        if let Some(i) = i {
            totals[i] += size;
            if p.nid.is_some() {
                totals[0] += size;
            }
        }
        let node = match p.nid {
            Some(n) => Buf::of(format_args!("{n}")),
            None => Buf::of(format_args!("-")),
        };
        out(format_args!(
            "memmap: {:#018x}-{:#018x} {:>8} {:<8} {:<2} {:<7} {}",
            p.start,
            p.end - 1,
            Size(size),
            p.kind.name(),
            node.as_str(),
            p.zone.unwrap_or("-"),
            OwnerCol(&p, facts.fdt)
        ));
    }
    out(format_args!(
        "memmap: total: ram {}K, nomap {}K, reserved {}K, free {}K",
        totals[0] >> 10,
        totals[1] >> 10,
        totals[2] >> 10,
        totals[3] >> 10
    ));
}

#[cfg(test)]
#[path = "memmap_tests.rs"]
mod tests;
