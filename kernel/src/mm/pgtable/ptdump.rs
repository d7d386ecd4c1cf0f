//! The page table dump of Linux 6.1's `/sys/kernel/debug/kernel_page_tables`
//! (`arch/arm64/mm/ptdump.c` driven by the generic walker of `mm/ptdump.c`).
//!
//! The walker reports every leaf and every hole in address order with its level: an empty
//! entry at any level is a hole of that level's size; every entry of a last-level table is
//! reported, empty or not. Consecutive reports with equal level and equal attribute bits
//! (the address is masked out) are coalesced; a change of either, or reaching the next
//! address marker, prints the finished run:
//!
//! ```text
//! ---[ Linear Mapping start ]---
//! 0xffff000000000000-0xffff000008000000         128M PMD   <attributes>
//! 0xffff000008000000-0xffff000008100000           1M PTE
//! ```
//!
//! Holes are printed too, as lines without attributes (their attribute bits are zero). The
//! size is in the largest unit of K, M, G, T, P, E that divides it. The walk covers the
//! canonical half of the first marker, from that marker to the top, and ends with the flush
//! Linux does: the last run ends at address 0 when the walk reaches 2^64. Table entries that
//! are neither empty, tables nor blocks are skipped without a report, as Linux's walker does.
//!
//! Attribute names follow Linux's `pte_bits` table; the memory type is named from this
//! kernel's MAIR layout (index 0 `DEVICE/nGnRE`, 1 `MEM/NORMAL`, 2 `MEM/NORMAL-NC`).

use core::fmt;

use super::desc::*;
use super::{level_size, TableMem, PAGE_OFFSET, PTRS_PER_TABLE, TTBR0_TOP};
use crate::mm::addr::PhysAddr;

/// Level names as Linux prints them for a 4-level, 4 KiB-granule kernel.
const LEVEL_NAMES: [&str; 4] = ["PGD", "PUD", "PMD", "PTE"];

/// One row of Linux's `pte_bits`: the string printed when `desc & mask == val`, else `clear`.
struct ProtBit {
    mask: u64,
    val: u64,
    set: &'static str,
    clear: Option<&'static str>,
}

const fn bit(mask: u64, set: &'static str, clear: &'static str) -> ProtBit {
    ProtBit { mask, val: mask, set, clear: Some(clear) }
}

const fn mem_type(mt: u64, set: &'static str) -> ProtBit {
    ProtBit { mask: PTE_ATTRINDX_MASK, val: pte_attrindx(mt), set, clear: None }
}

const PTE_BITS: [ProtBit; 14] = [
    bit(PTE_VALID, " ", "F"),
    bit(PTE_USER, "USR", "   "),
    bit(PTE_RDONLY, "ro", "RW"),
    bit(PTE_PXN, "NX", "x "),
    bit(PTE_SHARED, "SHD", "   "),
    bit(PTE_AF, "AF", "  "),
    bit(PTE_NG, "NG", "  "),
    bit(PTE_CONT, "CON", "   "),
    bit(PTE_TABLE_BIT, "   ", "BLK"),
    bit(PTE_UXN, "UXN", "   "),
    bit(PTE_GP, "GP", "  "),
    mem_type(MT_DEVICE_NGNRE, "DEVICE/nGnRE"),
    mem_type(MT_NORMAL_NC, "MEM/NORMAL-NC"),
    mem_type(MT_NORMAL, "MEM/NORMAL"),
];

/// The bits that take part in coalescing (Linux's `pg_level[].mask`, the union of the
/// `pte_bits` masks).
const PROT_MASK: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < PTE_BITS.len() {
        mask |= PTE_BITS[i].mask;
        i += 1;
    }
    mask
};

/// The attribute strings of a run (Linux's `dump_prot`), each preceded by a space.
struct Attrs(u64);

impl fmt::Display for Attrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &PTE_BITS {
            let s = if self.0 & b.mask == b.val { Some(b.set) } else { b.clear };
            if let Some(s) = s {
                write!(f, " {s}")?;
            }
        }
        Ok(())
    }
}

/// The size of a run in Linux's `%9lu%c` form.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: &[u8] = b"KMGTPE";
        let mut delta = self.0 >> 10;
        let mut unit = 0;
        while delta & 1023 == 0 && unit + 1 < UNITS.len() {
            delta >>= 10;
            unit += 1;
        }
        write!(f, "{:>9}{}", delta, UNITS[unit] as char)
    }
}

/// Linux's `struct pg_state`: the run being coalesced and the current marker.
struct State<'a> {
    markers: &'a [(u64, &'a str)],
    marker: usize,
    start: u64,
    level: Option<usize>,
    prot: u64,
    out: &'a mut dyn FnMut(fmt::Arguments<'_>),
}

impl State<'_> {
    fn next_marker(&self) -> u64 {
        self.markers.get(self.marker + 1).map_or(u64::MAX, |m| m.0)
    }

    fn print_marker(&mut self) {
        if let Some((_, name)) = self.markers.get(self.marker) {
            (self.out)(format_args!("---[ {name} ]---"));
        }
    }

    fn advance_marker(&mut self) {
        self.marker += 1;
        self.print_marker();
    }

    /// Linux's `note_page`: `level` `None` is the final flush.
    fn note(&mut self, addr: u64, level: Option<usize>, desc: u64) {
        let prot = if level.is_some() { desc & PROT_MASK } else { 0 };
        match self.level {
            None => {
                self.level = level;
                self.prot = prot;
                self.start = addr;
                self.print_marker();
            }
            Some(cur) if prot != self.prot || level != Some(cur) || addr >= self.next_marker() => {
                let attrs = if self.prot != 0 { Some(Attrs(self.prot)) } else { None };
                (self.out)(format_args!(
                    "0x{:016x}-0x{:016x}   {} {}{}",
                    self.start,
                    addr,
                    Size(addr.wrapping_sub(self.start)),
                    LEVEL_NAMES[cur],
                    Opt(attrs)
                ));
                if addr >= self.next_marker() {
                    self.advance_marker();
                }
                self.start = addr;
                self.prot = prot;
                self.level = level;
            }
            Some(_) => {}
        }
        if addr >= self.next_marker() {
            self.advance_marker();
        }
    }
}

/// Displays the inner value, or nothing.
struct Opt<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

/// Visit the entries of `table` (at `level`, its entry 0 at `base`) that overlap
/// `[start, end)`, as `walk_page_range_novma` does with the ptdump callbacks.
fn walk(
    mem: &impl TableMem,
    st: &mut State<'_>,
    table: PhysAddr,
    level: usize,
    base: u128,
    start: u128,
    end: u128,
) {
    let size = level_size(level) as u128;
    let first = ((start - base) / size) as usize;
    let last = (((end - 1 - base) / size) as usize).min(PTRS_PER_TABLE - 1);
    for idx in first..=last {
        let entry_va = base + idx as u128 * size;
        let addr = entry_va.max(start);
        let next = (entry_va + size).min(end);
        let desc = mem.read(table, idx);
        let type_bits = desc & PMD_TYPE_MASK;
        if level == 3 {
            st.note(addr as u64, Some(3), desc);
        } else if desc == 0 {
            st.note(addr as u64, Some(level), 0);
        } else if type_bits == PMD_TYPE_TABLE {
            walk(mem, st, PhysAddr(desc & PTE_ADDR_MASK), level + 1, entry_va, addr, next);
        } else if type_bits == PMD_TYPE_SECT && level > 0 {
            st.note(addr as u64, Some(level), desc);
        }
    }
}

/// Write the dump of the tree rooted at `root`, one line per call of `out` (no newlines),
/// as Linux's `ptdump_walk` writes `kernel_page_tables`.
///
/// `markers` are Linux's `address_markers` without the terminator: `(start, name)` in
/// ascending order, e.g. `[(PAGE_OFFSET, "Linear Mapping start"), (PAGE_END, "Linear Mapping
/// end")]`. The walk starts at the first marker ([`PAGE_OFFSET`] if there is none) and runs to
/// the top of that marker's half of the address space (2^48 below it, 2^64 above); a
/// non-canonical first marker starts the walk at [`PAGE_OFFSET`].
pub fn dump(
    mem: &impl TableMem,
    root: PhysAddr,
    markers: &[(u64, &str)],
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) {
    let start = match markers.first().map_or(PAGE_OFFSET, |m| m.0) {
        // A non-canonical start begins the upper half.
        s if (TTBR0_TOP..PAGE_OFFSET).contains(&s) => PAGE_OFFSET,
        s => s,
    };
    let (base, end): (u128, u128) =
        if start < TTBR0_TOP { (0, TTBR0_TOP as u128) } else { (PAGE_OFFSET as u128, 1 << 64) };
    let mut st = State { markers, marker: 0, start: 0, level: None, prot: 0, out };
    walk(mem, &mut st, root, 0, base, start as u128, end);
    st.note(0, None, 0);
}

/// Whether `[start, end)` is a range [`dump_range`] walks: not empty, inside one canonical half.
pub fn range_is_valid(start: u64, end: u64) -> bool {
    start < end && (end <= TTBR0_TOP || start >= PAGE_OFFSET)
}

/// Write the dump of `[start, end)` only, without markers: the runs the walk finds there, the
/// last one cut at `end` (the console monitor's `ptdump START END`). Both ends must lie in one
/// canonical half (`start < end <= TTBR0_TOP`, or `PAGE_OFFSET <= start < end`); `false`,
/// and nothing written, otherwise.
pub fn dump_range(
    mem: &impl TableMem,
    root: PhysAddr,
    (start, end): (u64, u64),
    out: &mut dyn FnMut(fmt::Arguments<'_>),
) -> bool {
    if !range_is_valid(start, end) {
        return false;
    }
    let base = if end <= TTBR0_TOP { 0 } else { PAGE_OFFSET };
    let mut st = State { markers: &[], marker: 0, start: 0, level: None, prot: 0, out };
    walk(mem, &mut st, root, 0, base as u128, start as u128, end as u128);
    st.note(end, None, 0);
    true
}
