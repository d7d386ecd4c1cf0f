//! CMA areas reserved from memblock: Linux 6.1's `dma_contiguous_reserve` (the default area,
//! `kernel/dma/contiguous.c`, with its `cma=` early parameter `early_cma`) and
//! `cma_declare_contiguous_nid` / `cma_init_reserved_mem` (`mm/cma.c`).
//!
//! arm64's `bootmem_init` calls `dma_contiguous_reserve(arm64_dma_phys_limit)` once the zone
//! limits are known, after the memmap is placed and before `memblock_dump_all`. The area is
//! reserved in memblock and counted in `totalcma_pages` (the `Memory:` line's `cma-reserved`)
//! until `cma_init_reserved_areas` hands it to the buddy allocator.
//!
//! After `memblock_free_all`, [`CmaAreas::init_reserved_areas`] (Linux's
//! `cma_init_reserved_areas`) hands every area to the buddy allocator as MIGRATE_CMA
//! pageblocks, and [`CmaArea::alloc`] / [`CmaArea::release`] (`cma_alloc`, `cma_release`) take
//! ranges back out and return them. Nothing migrates: a range with a page in use is skipped.
//! This module never touches the memory of an area itself.

use core::fmt;
use crate::{error, info, trace, warn};

use crate::mm::addr::{Pfn, PhysAddr, PAGE_SIZE};
use crate::mm::buddy::{FreePageLinks, Zones};
use crate::mm::memblock::{Memblock, MAX_NUMNODES, NUMA_NO_NODE};
use crate::mm::numa::NodeMask;

const SZ_1M: u64 = 1 << 20;
const SZ_4G: u64 = 1 << 32;

/// `CMA_MIN_ALIGNMENT_BYTES`: a pageblock (4 KiB pages, `pageblock_order` 9), the unit the
/// buddy allocator keeps a migrate type for.
pub const CMA_MIN_ALIGNMENT_BYTES: u64 = 2 * SZ_1M;

/// `CONFIG_CMA_SIZE_MBYTES` of Debian's arm64 kernel (with `CONFIG_CMA_SIZE_SEL_MBYTES`): the
/// default area's size when the command line has no `cma=`.
pub const CMA_SIZE_MBYTES: u64 = 64;

/// `MAX_CMA_AREAS`: `1 + CONFIG_CMA_AREAS`, which is 19 on a NUMA kernel such as Debian's.
pub const MAX_CMA_AREAS: usize = 20;

/// One CMA area: `[base, base + size)`, reserved in memblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaArea {
    pub base: PhysAddr,
    pub size: u64,
}

impl CmaArea {
    /// Pages in the area.
    pub fn pages(&self) -> u64 {
        self.size / PAGE_SIZE
    }
}

/// `CMA_MAX_NAME`: an area's name buffer, its NUL included.
const CMA_MAX_NAME: usize = 64;

/// An area's name (`cma->name`), as `cma_init_reserved_mem` copies it: at most
/// `CMA_MAX_NAME - 1` bytes. Linux names the default area `reserved`, a `/reserved-memory`
/// pool by its node (`rmem->name`), the others `hugetlb<nid>` and `pernuma<nid>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaName {
    buf: [u8; CMA_MAX_NAME - 1],
    len: u8,
}

impl CmaName {
    /// `name` followed by `nid` when there is one, cut as `snprintf` cuts it.
    pub fn new(name: &str, nid: Option<i32>) -> CmaName {
        use core::fmt::Write;
        let mut n = CmaName { buf: [0; CMA_MAX_NAME - 1], len: 0 };
        let _ = match nid {
            Some(nid) => write!(n, "{name}{nid}"),
            None => n.write_str(name),
        };
        n
    }
}

impl fmt::Write for CmaName {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let at = self.len as usize;
            let Some(room) = self.buf.get_mut(at..at + c.len_utf8()) else { break };
            c.encode_utf8(room);
            self.len += c.len_utf8() as u8;
        }
        Ok(())
    }
}

impl fmt::Display for CmaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whole characters only were written.
        f.write_str(core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default())
    }
}

/// `cma=nn[MG]@[start[MG][-end[MG]]]`, as Linux's `early_cma` reads it: `size_cmdline`,
/// `base_cmdline` and `limit_cmdline`. Without `-end`, the limit is `base + size`, which makes
/// the area fixed at `base`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmaCmdline {
    pub size: u64,
    pub base: u64,
    pub limit: u64,
}

impl CmaCmdline {
    /// One `cma=` value on its own (see [`parse_checked`](Self::parse_checked)).
    pub fn parse(value: &str) -> CmaCmdline {
        CmaCmdline::default().parse_checked(value).0
    }

    /// `early_cma` on top of what an earlier `cma=` set (`size_cmdline`, `base_cmdline` and
    /// `limit_cmdline` are globals): each number is read as `memparse` reads it, stopping at
    /// the first character that is not part of it; the size is always set, the base and limit
    /// only after `@` (what follows a size without `@` is ignored). Also whether a number
    /// wrapped modulo 2^64 on the way (in `memparse`, or `base + size` for the limit), as it
    /// wraps in Linux.
    pub fn parse_checked(self, value: &str) -> (CmaCmdline, bool) {
        use crate::cmdline::memparse;
        let size = memparse(value);
        let mut c = CmaCmdline { size: size.value, ..self };
        let Some(rest) = size.rest.strip_prefix('@') else { return (c, size.overflowed) };
        let base = memparse(rest);
        c.base = base.value;
        let (limit, wrapped) = match base.rest.strip_prefix('-') {
            Some(rest) => {
                let limit = memparse(rest);
                (limit.value, limit.overflowed)
            }
            None => c.base.overflowing_add(c.size),
        };
        c.limit = limit;
        (c, size.overflowed || base.overflowed || wrapped)
    }
}

/// Why a CMA area could not be declared (Linux's errno, with what it names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaError {
    /// `-ENOSPC`: every `MAX_CMA_AREAS` slot is taken.
    NoSlots,
    /// `-EINVAL`: a zero size, an alignment that is not a power of two, a fixed base off the
    /// alignment, a fixed area across the low/high boundary or past the limit.
    Inval,
    /// `-EBUSY`: a fixed area overlaps a reservation.
    Busy,
    /// `-ENOMEM`: no free range fits.
    NoMemory,
}

impl CmaError {
    /// The errno Linux returns for it.
    pub fn errno(self) -> i32 {
        match self {
            CmaError::NoSlots => -28,
            CmaError::Inval => -22,
            CmaError::Busy => -16,
            CmaError::NoMemory => -12,
        }
    }
}

/// `hugetlb_cma=`: CMA for gigantic (1 GiB) huge pages, as `cmdline_parse_hugetlb_cma` reads
/// it: `SIZE` spread over the online nodes, or `NID:SIZE[,NID:SIZE...]` per node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HugetlbCma {
    /// `hugetlb_cma_size`: the total.
    pub size: u64,
    /// `hugetlb_cma_size_in_node[]`.
    pub in_node: [u64; MAX_NUMNODES as usize],
}

impl HugetlbCma {
    /// `cmdline_parse_hugetlb_cma`: while a decimal number (as `sscanf("%lu")` reads it: after
    /// any spaces, modulo 2^64) followed by `:` starts the text, that node's size is the
    /// `memparse` after it (a number over the last node stops the list, and so does anything
    /// but `,` after a size); a number not followed by `:` makes the whole value one total,
    /// read from its start (even after node entries).
    pub fn parse(value: &str) -> HugetlbCma {
        let mut h = HugetlbCma::default();
        let mut s = value;
        while !s.is_empty() {
            let number = s.trim_start_matches(crate::cmdline::is_space);
            let digits = number.find(|c: char| !c.is_ascii_digit()).unwrap_or(number.len());
            if digits == 0 {
                break;
            }
            let nid = number[..digits].bytes().fold(0u64, |n, d| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0')));
            let rest = &number[digits..];
            if rest.starts_with(':') {
                if nid >= MAX_NUMNODES as u64 {
                    break;
                }
                let m = crate::cmdline::memparse(&rest[1..]);
                h.in_node[nid as usize] = m.value;
                h.size = h.size.wrapping_add(m.value);
                match m.rest.strip_prefix(',') {
                    Some(rest) => s = rest,
                    None => break,
                }
            } else {
                h.size = crate::cmdline::memparse(value).value;
                break;
            }
        }
        h
    }
}

/// The CMA areas declared so far (Linux's `cma_areas[]` and `cma_area_count`).
#[derive(Clone, Copy, Debug)]
pub struct CmaAreas {
    areas: [Option<(CmaArea, CmaName)>; MAX_CMA_AREAS],
    count: usize,
}

impl Default for CmaAreas {
    fn default() -> Self {
        CmaAreas { areas: [None; MAX_CMA_AREAS], count: 0 }
    }
}

impl CmaAreas {
    /// The areas, in the order they were declared.
    pub fn iter(&self) -> impl Iterator<Item = &CmaArea> {
        self.named().map(|(a, _)| a)
    }

    /// The areas with their names.
    pub fn named(&self) -> impl Iterator<Item = &(CmaArea, CmaName)> {
        self.areas[..self.count].iter().flatten()
    }

    /// `totalcma_pages`: the pages of every area.
    pub fn total_pages(&self) -> u64 {
        self.iter().map(CmaArea::pages).sum()
    }

    /// `cma_init_reserved_mem`: record a reserved, pageblock-aligned range as an area.
    pub fn init_reserved_mem(&mut self, mb: &Memblock, base: PhysAddr, size: u64, name: CmaName) -> Result<CmaArea, CmaError> {
        if self.count == MAX_CMA_AREAS {
            error!("cma: Not enough slots for CMA reserved regions!");
            return Err(CmaError::NoSlots);
        }
        if size == 0 || !mb.is_region_reserved(base, size) || (base.0 | size) & (CMA_MIN_ALIGNMENT_BYTES - 1) != 0 {
            return Err(CmaError::Inval);
        }
        let area = CmaArea { base, size };
        self.areas[self.count] = Some((area, name));
        self.count += 1;
        Ok(area)
    }

    /// `cma_declare_contiguous_nid`: reserve `size` bytes at `base` when `fixed`, otherwise
    /// anywhere in `[base, limit)` (0: no limit), aligned to at least a pageblock, and declare
    /// the area. Prints Linux's `cma: Reserved N MiB at 0x…` or its failure lines.
    ///
    /// Placement, as 6.1 does it: when memory reaches 4 GiB + `size`, bottom-up from 4 GiB
    /// first (never found below a limit under 4 GiB, such as arm64's DMA limit on QEMU); then
    /// top-down in `[base, limit)`. arm64 has no highmem, so the low/high boundary is the end
    /// of DRAM and only a fixed area can cross it.
    #[allow(clippy::too_many_arguments)]
    pub fn declare_contiguous_nid(
        &mut self,
        mb: &mut Memblock,
        base: u64,
        size: u64,
        limit: u64,
        alignment: u64,
        fixed: bool,
        name: CmaName,
        nid: i32,
    ) -> Result<CmaArea, CmaError> {
        let memblock_end = mb.end_of_dram().0;
        let highmem_start = memblock_end;
        if self.count == MAX_CMA_AREAS {
            error!("cma: Not enough slots for CMA reserved regions!");
            return Err(CmaError::NoSlots);
        }
        if size == 0 || (alignment != 0 && !alignment.is_power_of_two()) {
            return Err(CmaError::Inval);
        }
        let alignment = alignment.max(CMA_MIN_ALIGNMENT_BYTES);
        let mask = alignment - 1;
        let failed = |size: u64, e: CmaError| {
            error!("cma: Failed to reserve {} MiB", size / SZ_1M);
            Err(e)
        };
        if fixed && base & mask != 0 {
            error!("cma: Region at 0x{base:016x} must be aligned to 0x{alignment:016x} bytes");
            return failed(size, CmaError::Inval);
        }
        let mut base = base.wrapping_add(mask) & !mask;
        let size = size.wrapping_add(mask) & !mask;
        let mut limit = limit & !mask;
        let fixed = fixed && base != 0;
        if fixed && base < highmem_start && base.wrapping_add(size) > highmem_start {
            error!("cma: Region at 0x{base:016x} defined on low/high memory boundary (0x{highmem_start:016x})");
            return failed(size, CmaError::Inval);
        }
        if limit == 0 || limit > memblock_end {
            limit = memblock_end;
        }
        if base.checked_add(size).is_none_or(|end| end > limit) {
            error!("cma: Size (0x{size:016x}) of region at 0x{base:016x} exceeds limit (0x{limit:016x})");
            return failed(size, CmaError::Inval);
        }
        if fixed {
            if mb.is_region_reserved(PhysAddr(base), size) || mb.reserve(PhysAddr(base), size).is_err() {
                return failed(size, CmaError::Busy);
            }
        } else {
            let mut addr = None;
            if !mb.bottom_up() && memblock_end >= SZ_4G + size {
                mb.set_bottom_up(true);
                addr = mb.alloc_range_nid(size, alignment, PhysAddr(SZ_4G), PhysAddr(limit), nid, true).ok();
                mb.set_bottom_up(false);
            }
            if addr.is_none() {
                match mb.alloc_range_nid(size, alignment, PhysAddr(base), PhysAddr(limit), nid, true) {
                    Ok(a) => addr = Some(a),
                    Err(_) => return failed(size, CmaError::NoMemory),
                }
            }
            base = addr.map_or(base, |a| a.0);
        }
        match self.init_reserved_mem(mb, PhysAddr(base), size, name) {
            Ok(area) => {
                info!("cma: Reserved {} MiB at 0x{base:016x}", size / SZ_1M);
                Ok(area)
            }
            Err(e) => {
                let _ = mb.phys_free(PhysAddr(base), size);
                failed(size, e)
            }
        }
    }

    /// `hugetlb_cma_reserve(order)` as arm64 calls it (gigantic pages of `gigantic` bytes,
    /// 1 GiB with 4 KiB pages): per node as asked, or the total spread over the online nodes
    /// (`online`, in order) in whole gigantic pages, 2 MiB aligned, until it is reserved.
    pub fn hugetlb_cma_reserve(&mut self, mb: &mut Memblock, ask: &HugetlbCma, online: NodeMask, gigantic: u64) {
        let mut total = ask.size;
        if total == 0 {
            return;
        }
        let mut in_node = ask.in_node;
        let mut node_specific = false;
        for (nid, size) in in_node.iter_mut().enumerate().filter(|(_, s)| **s != 0) {
            if !online.contains(nid as i32) {
                warn!("hugetlb_cma: invalid node {nid} specified");
            } else if *size < gigantic {
                warn!("hugetlb_cma: cma area of node {nid} should be at least {} MiB", gigantic / SZ_1M);
            } else {
                node_specific = true;
                continue;
            }
            total = total.wrapping_sub(*size);
            *size = 0;
        }
        if total == 0 {
            return;
        }
        if total < gigantic {
            warn!("hugetlb_cma: cma area should be at least {} MiB", gigantic / SZ_1M);
            return;
        }
        // Rounded up before it is said (6.1.y has "mm: hugetlb_cma: round up per_node before
        // logging it"); each node's size is rounded up again below, as before.
        // Linux's round_up, in unsigned long: a size near 2^64 wraps to 0 (and is refused).
        let round_up = |x: u64| (x.wrapping_sub(1) | (gigantic - 1)).wrapping_add(1);
        let per_node = round_up(total.div_ceil(online.iter().count().max(1) as u64));
        if !node_specific {
            info!("hugetlb_cma: reserve {} MiB, up to {} MiB per node", total / SZ_1M, per_node / SZ_1M);
        }
        let mut reserved = 0u64;
        for nid in online.iter() {
            let size = match node_specific {
                true if in_node[nid as usize] == 0 => continue,
                true => in_node[nid as usize],
                false => per_node.min(total.wrapping_sub(reserved)),
            };
            let size = round_up(size);
            // HUGETLB_PAGE_ORDER's pages (2 MiB) are the alignment.
            if let Err(e) = self.declare_contiguous_nid(mb, 0, size, 0, 2 << 20, false, CmaName::new("hugetlb", Some(nid)), nid) {
                warn!("hugetlb_cma: reservation failed: err {}, node {nid}", e.errno());
                continue;
            }
            reserved = reserved.wrapping_add(size);
            info!("hugetlb_cma: reserved {} MiB on node {nid}", size / SZ_1M);
            if reserved >= total {
                break;
            }
        }
    }

    /// `dma_pernuma_cma_reserve`: with `cma_pernuma=SIZE`, an area of SIZE on each online node
    /// of `nodes` (anywhere on the node); a node where it does not fit is said and skipped.
    pub fn dma_pernuma_cma_reserve(&mut self, mb: &mut Memblock, size: u64, nodes: impl Iterator<Item = i32>) {
        if size == 0 {
            return;
        }
        for nid in nodes {
            match self.declare_contiguous_nid(mb, 0, size, 0, 0, false, CmaName::new("pernuma", Some(nid)), nid) {
                Ok(_) => trace!("cma: dma_pernuma_cma_reserve: reserved {} MiB on node {nid}", size / SZ_1M),
                Err(e) => warn!("cma: dma_pernuma_cma_reserve: reservation failed: err {}, node {nid}", e.errno()),
            }
        }
    }

    /// `dma_contiguous_reserve(limit)`: the default area, of the `cma=` size (at its base, below
    /// the smaller non-zero of its limit and `limit`) or else `default_size`; none when the size
    /// is 0. Returns the area, if one was reserved.
    pub fn dma_contiguous_reserve(
        &mut self,
        mb: &mut Memblock,
        limit: u64,
        cmdline: Option<CmaCmdline>,
        default_size: u64,
    ) -> Option<CmaArea> {
        let (size, base, limit, fixed) = match cmdline {
            Some(c) => {
                let sel_limit = if c.limit != 0 && (limit == 0 || c.limit < limit) { c.limit } else { limit };
                (c.size, c.base, sel_limit, c.base.wrapping_add(c.size) == c.limit)
            }
            None => (default_size, 0, limit, false),
        };
        if size == 0 {
            return None;
        }
        self.declare_contiguous_nid(mb, base, size, limit, 0, fixed, CmaName::new("reserved", None), NUMA_NO_NODE).ok()
    }
}

impl CmaArea {
    /// First and end frame of the area.
    pub fn pfns(&self) -> (Pfn, Pfn) {
        (self.base.pfn_down(), Pfn(self.base.pfn_down().0 + self.pages()))
    }

    /// Whether `[pfn, pfn + count)` lies inside the area.
    pub fn holds(&self, pfn: Pfn, count: u64) -> bool {
        let (s, e) = self.pfns();
        pfn.0 >= s.0 && pfn.0.checked_add(count).is_some_and(|end| end <= e.0)
    }

    /// `cma_alloc(area, count, align)`: `count` contiguous frames of the area, the first
    /// aligned to 2^`align` frames, taken out of the buddy allocator. Candidates are tried
    /// from the bottom of the area, as Linux's bitmap search does; one with a page in use
    /// is skipped (nothing migrates here), so the call fails only when no candidate is
    /// wholly free. Returns the first frame.
    pub fn alloc<L: FreePageLinks>(&self, zones: &mut Zones<'_, L>, count: u64, align: u32) -> Option<Pfn> {
        let (s, e) = self.pfns();
        if count == 0 || count > self.pages() || align >= 64 {
            return None;
        }
        let mask = (1u64 << align) - 1;
        let mut pfn = s.0.checked_add(mask)? & !mask;
        while pfn.checked_add(count).is_some_and(|end| end <= e.0) {
            if zones.take_free_range(Pfn(pfn), Pfn(pfn + count)).is_ok() {
                return Some(Pfn(pfn));
            }
            pfn += mask + 1;
        }
        None
    }

    /// `cma_release`: give back `count` frames from `pfn`, which `alloc` handed out. False
    /// (and nothing freed) when the range is not in the area or not in use.
    pub fn release<L: FreePageLinks>(&self, zones: &mut Zones<'_, L>, pfn: Pfn, count: u64) -> bool {
        self.holds(pfn, count) && zones.free_contig_range(pfn, Pfn(pfn.0 + count)).is_ok()
    }
}

impl CmaAreas {
    /// `cma_init_reserved_areas`: hand every area to the buddy allocator as MIGRATE_CMA
    /// pageblocks (`cma_activate_area`). An area that cannot be activated (it crosses zones,
    /// say) stays reserved, with Linux's message (Linux would free it as ordinary pages). Returns the pages handed over, by which
    /// `totalram_pages` grows.
    pub fn init_reserved_areas<L: FreePageLinks>(&self, zones: &mut Zones<'_, L>) -> u64 {
        let mut total = 0;
        for (a, name) in self.named() {
            let (s, e) = a.pfns();
            match zones.init_cma_reserved_pageblocks(s, e) {
                Ok(n) => total += n,
                Err(_) => error!("cma: CMA area {name} could not be activated"),
            }
        }
        total
    }
}

#[cfg(test)]
#[path = "cma_tests.rs"]
mod tests;
