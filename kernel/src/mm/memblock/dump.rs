//! Text output of memblock: `memblock_dump_all` and the `memblock=debug` trace lines.
//!
//! Every format reproduces Linux 6.1 character for character, with one substitution: where
//! Linux prints the caller as a symbol (`%pS`, e.g. `arm64_memblock_init+0x1c/0x2a8`), this
//! prints the caller's source location `file:line`, since the kernel carries no symbol table.
//! Linux's `%pa` (a `phys_addr_t`) is `0x` followed by 16 zero-padded hex digits, and its
//! `%#x` prints `0x0` for zero, which Rust's `{:#x}` does too.

use core::fmt;
use core::panic::Location;

use super::{Memblock, MemblockFlags, MemblockType, MAX_NUMNODES};
use crate::mm::addr::PhysAddr;

/// Linux's `%pa` for a 64-bit `phys_addr_t`.
pub struct Pa(pub u64);

impl fmt::Display for Pa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", self.0)
    }
}

/// The caller location as printed in place of `%pS`.
pub struct Caller<'a>(pub &'a Location<'a>);

impl fmt::Display for Caller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0.file(), self.0.line())
    }
}

/// Inclusive end `base + size - 1` as Linux computes it (wrapping for an empty range at 0).
fn last(base: PhysAddr, size: u64) -> Pa {
    Pa(base.0.wrapping_add(size).wrapping_sub(1))
}

/// `%s: [%pa-%pa] %pS` (memblock_add, memblock_remove, memblock_reserve, memblock_phys_free),
/// or with `node`, `%s: [%pa-%pa] nid=%d flags=%x %pS` (memblock_add_node).
pub(super) fn dbg_range(
    func: &str,
    base: PhysAddr,
    size: u64,
    node: Option<(i32, MemblockFlags)>,
    caller: &Location<'_>,
) {
    crate::info!("{}", fmt_range(func, base, size, node, caller));
}

/// The range trace line of [`dbg_range`].
pub fn fmt_range<'a>(
    func: &'a str,
    base: PhysAddr,
    size: u64,
    node: Option<(i32, MemblockFlags)>,
    caller: &'a Location<'a>,
) -> impl fmt::Display + 'a {
    Line(move |f| {
        write!(f, "{}: [{}-{}] ", func, Pa(base.0), last(base, size))?;
        if let Some((nid, flags)) = node {
            write!(f, "nid={} flags={:x} ", nid, flags.0)?;
        }
        write!(f, "{}", Caller(caller))
    })
}

/// `memblock: %s is doubled to %ld at [%pa-%pa]` (memblock_double_array).
pub(super) fn dbg_doubled(name: &str, new_max: usize, addr: PhysAddr, new_size: u64) {
    crate::info!("memblock: {} is doubled to {} at [{}-{}]", name, new_max, Pa(addr.0), last(addr, new_size));
}

/// The allocation trace line: `%s: %llu bytes align=0x%llx from=%pa max_addr=%pa %pS` for
/// `memblock_phys_alloc_range` (`nid` is `None`), and the same with `nid=%d ` after the
/// alignment for `memblock_alloc_try_nid`, `memblock_alloc_try_nid_raw` and
/// `memblock_alloc_exact_nid_raw`.
pub fn fmt_alloc<'a>(
    func: &'a str,
    size: u64,
    align: u64,
    nid: Option<i32>,
    range: (PhysAddr, PhysAddr),
    caller: &'a Location<'a>,
) -> impl fmt::Display + 'a {
    let (start, end) = range;
    Line(move |f| {
        write!(f, "{}: {} bytes align=0x{:x} ", func, size, align)?;
        if let Some(nid) = nid {
            write!(f, "nid={} ", nid)?;
        }
        write!(f, "from={} max_addr={} {}", Pa(start.0), Pa(end.0), Caller(caller))
    })
}

/// A `Display` made of a closure, so that line formats are written once.
struct Line<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Line<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

fn dump_type(t: &MemblockType, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    out(format_args!(" {}.cnt  = 0x{:x}", t.name, t.raw_cnt()));
    for (idx, r) in t.slots()[..t.raw_cnt()].iter().enumerate() {
        let on_node = r.nid != MAX_NUMNODES;
        out(format_args!(
            " {}[{:#x}]\t[{}-{}], {} bytes{}{} flags: {:#x}",
            t.name,
            idx,
            Pa(r.base.0),
            last(r.base, r.size),
            Pa(r.size),
            if on_node { " on node " } else { "" },
            NidText(on_node, r.nid),
            r.flags.0
        ));
    }
}

struct NidText(bool, i32);

impl fmt::Display for NidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 {
            write!(f, "{}", self.1)
        } else {
            Ok(())
        }
    }
}

impl Memblock {
    /// Write Linux's `__memblock_dump_all` text, one line per call of `out` (no newlines).
    pub fn dump_to(&self, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
        out(format_args!("MEMBLOCK configuration:"));
        out(format_args!(
            " memory size = {} reserved size = {}",
            Pa(self.memory.total_size),
            Pa(self.reserved.total_size)
        ));
        dump_type(&self.memory, out);
        dump_type(&self.reserved, out);
    }

    /// Print the configuration through `info!`, whatever the debug setting.
    pub fn dump(&self) {
        self.dump_to(&mut |args| crate::info!("{}", args));
    }

    /// Print the configuration only under `memblock=debug` (Linux's `memblock_dump_all`).
    pub fn dump_all(&self) {
        if self.debug {
            self.dump();
        }
    }
}
