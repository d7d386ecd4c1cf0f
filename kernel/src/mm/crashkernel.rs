//! `crashkernel=`: memory set aside for a crash (kdump) kernel, as Linux 6.1 arm64 reserves it
//! (`reserve_crashkernel` in arch/arm64/mm/init.c, called from `bootmem_init` after the default
//! CMA area, since ZONE_DMA defers it there; the parsers of kernel/crash_core.c).
//!
//! The command line is searched as a string, as Linux's `get_last_crashkernel` does: the last
//! `crashkernel=` wins (one ending in `,high` or `,low` only counts for that form). Its forms:
//! - `SIZE[@BASE]`: SIZE below the DMA limit (top-down), or exactly at BASE;
//! - `RANGE:SIZE[,RANGE:SIZE...][@BASE]`, RANGE `START-[END]`: the SIZE whose range holds the
//!   system RAM (rounded up to 128 MiB);
//! - `SIZE,high` (anywhere in the physical address space), with `SIZE,low` for a second
//!   reservation below the DMA limit when the first lands above it.
//!
//! The reservation is 2 MiB aligned and stays reserved (the buddy allocator never gets it).
//! Lines are Linux's: `crashkernel reserved: 0x… - 0x… (N MB)`, the parsers' complaints, and
//! `cannot allocate crashkernel (size:0x…)`. This module never touches the memory it places.

use crate::cmdline::memparse;
use crate::mm::memblock::Memblock;
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::{error, info, warn};

/// `CRASH_ALIGN`: the arm64 boot protocol's 2 MiB.
pub const CRASH_ALIGN: u64 = 2 << 20;
const NAME: &str = "crashkernel=";
const SUFFIXES: [&str; 2] = [",high", ",low"];

/// What one of Linux's `parse_crashkernel*` made of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// No such `crashkernel=` (`-ENOENT`).
    NotFound,
    /// Malformed (`-EINVAL`), after the parser's line.
    Invalid,
    /// `(size, base)`; a size of 0 asks for nothing.
    Found { size: u64, base: u64 },
}

/// `get_last_crashkernel`: the text after the last `crashkernel=` whose word ends in `suffix`,
/// or, without one, in neither known suffix.
fn last<'c>(cmdline: &'c str, suffix: Option<&str>) -> Option<&'c str> {
    // A plain byte walk: the command line is short, and this runs on every boot.
    let bytes = cmdline.as_bytes();
    let mut found = None;
    for at in (0..bytes.len()).filter(|&i| bytes[i..].starts_with(NAME.as_bytes())) {
        let end = (at..bytes.len()).find(|&i| bytes[i] == b' ').unwrap_or(bytes.len());
        let word = &bytes[at..end];
        let counts = match suffix {
            Some(s) => word.ends_with(s.as_bytes()),
            None => !SUFFIXES.iter().any(|s| word.ends_with(s.as_bytes())),
        };
        if counts {
            // NAME is ASCII, so at + its length is a character boundary.
            found = cmdline.get(at + NAME.len()..);
        }
    }
    found
}

/// `parse_crashkernel` (`suffix` None), `parse_crashkernel_high` and `_low`.
pub fn parse(cmdline: &str, system_ram: u64, suffix: Option<&str>) -> Parsed {
    let Some(ck) = last(cmdline, suffix) else { return Parsed::NotFound };
    if let Some(suffix) = suffix {
        return parse_suffix(ck, suffix);
    }
    let (colon, space) = (ck.find(':'), ck.find(' '));
    match (colon, space) {
        (Some(c), s) if s.is_none_or(|s| c < s) => parse_mem(ck, system_ram),
        _ => parse_simple(ck),
    }
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or('\0')
}

/// `parse_crashkernel_simple`: `SIZE[@BASE]`.
fn parse_simple(ck: &str) -> Parsed {
    let m = memparse(ck);
    if m.rest.len() == ck.len() {
        warn!("crashkernel: memory value expected");
        return Parsed::Invalid;
    }
    let base = match m.rest.strip_prefix('@') {
        Some(at) => memparse(at).value,
        None if m.rest.is_empty() || m.rest.starts_with(' ') => 0,
        None => {
            warn!("crashkernel: unrecognized char: {}", first_char(m.rest));
            return Parsed::Invalid;
        }
    };
    Parsed::Found { size: m.value, base }
}

/// `parse_crashkernel_suffix`: `SIZE` then the suffix, then the end of the word.
fn parse_suffix(ck: &str, suffix: &str) -> Parsed {
    let m = memparse(ck);
    if m.rest.len() == ck.len() {
        warn!("crashkernel: memory value expected");
        return Parsed::Invalid;
    }
    let Some(after) = m.rest.strip_prefix(suffix) else {
        warn!("crashkernel: unrecognized char: {}", first_char(m.rest));
        return Parsed::Invalid;
    };
    if !(after.is_empty() || after.starts_with(' ')) {
        warn!("crashkernel: unrecognized char: {}", first_char(after));
        return Parsed::Invalid;
    }
    Parsed::Found { size: m.value, base: 0 }
}

/// `parse_crashkernel_mem`: `START-[END]:SIZE[,...][@BASE]`, matched against the system RAM
/// rounded up to 128 MiB.
fn parse_mem(ck: &str, system_ram: u64) -> Parsed {
    let total = system_ram.div_ceil(128 << 20).wrapping_mul(128 << 20);
    let mut cur = ck;
    let mut size = 0;
    loop {
        let start = memparse(cur);
        if start.rest.len() == cur.len() {
            warn!("crashkernel: Memory value expected");
            return Parsed::Invalid;
        }
        let Some(after) = start.rest.strip_prefix('-') else {
            warn!("crashkernel: '-' expected");
            return Parsed::Invalid;
        };
        cur = after;
        let mut end = u64::MAX;
        if !cur.starts_with(':') {
            let e = memparse(cur);
            if e.rest.len() == cur.len() {
                warn!("crashkernel: Memory value expected");
                return Parsed::Invalid;
            }
            cur = e.rest;
            if e.value <= start.value {
                warn!("crashkernel: end <= start");
                return Parsed::Invalid;
            }
            end = e.value;
        }
        let Some(after) = cur.strip_prefix(':') else {
            warn!("crashkernel: ':' expected");
            return Parsed::Invalid;
        };
        cur = after;
        let s = memparse(cur);
        if s.rest.len() == cur.len() {
            warn!("Memory value expected");
            return Parsed::Invalid;
        }
        cur = s.rest;
        if s.value >= total {
            warn!("crashkernel: invalid size");
            return Parsed::Invalid;
        }
        if total >= start.value && total < end {
            size = s.value;
            break;
        }
        // `while (*cur++ == ',')`: the character is passed over either way.
        let more = cur.starts_with(',');
        cur = cur.get(first_char(cur).len_utf8()..).unwrap_or("");
        if !more {
            break;
        }
    }
    if size == 0 {
        info!("crashkernel size resulted in zero bytes");
        return Parsed::Found { size: 0, base: 0 };
    }
    let at = cur.find([' ', '@']).map_or("", |i| &cur[i..]);
    let mut base = 0;
    if let Some(b) = at.strip_prefix('@') {
        let m = memparse(b);
        if m.rest.len() == b.len() {
            warn!("Memory value expected after '@'");
            return Parsed::Invalid;
        }
        base = m.value;
    }
    Parsed::Found { size, base }
}

/// Where the reservation went: the main range and the low one, `[start, end)` each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crashkernel {
    pub main: Option<(PhysAddr, PhysAddr)>,
    pub low: Option<(PhysAddr, PhysAddr)>,
}

/// arm64's `reserve_crashkernel` (6.1): `low_max` is `arm64_dma_phys_limit`, `high_max`
/// `PHYS_MASK + 1`.
pub fn reserve_crashkernel(mb: &mut Memblock, cmdline: &str, low_max: u64, high_max: u64) -> Crashkernel {
    let mut out = Crashkernel::default();
    let mut low_size = 0;
    let mut max = low_max;
    let (size, base) = match parse(cmdline, mb.phys_mem_size(), None) {
        Parsed::NotFound => {
            let Parsed::Found { size, base } = parse(cmdline, 0, Some(",high")) else { return out };
            if size == 0 {
                return out;
            }
            match parse(cmdline, 0, Some(",low")) {
                Parsed::Found { size, .. } => low_size = size,
                Parsed::NotFound => {}
                Parsed::Invalid => return out,
            }
            max = high_max;
            (size, base)
        }
        Parsed::Found { size, base } if size != 0 => (size, base),
        _ => return out,
    };
    let size = size.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    if base != 0 {
        max = base.wrapping_add(size);
    }
    let Ok(start) = mb.phys_alloc_range(size, CRASH_ALIGN, PhysAddr(base), PhysAddr(max)) else {
        warn!("cannot allocate crashkernel (size:0x{size:x})");
        return out;
    };
    if start.0 >= low_max && low_size != 0 {
        match mb.phys_alloc_range(low_size, CRASH_ALIGN, PhysAddr(0), PhysAddr(low_max)) {
            Ok(low) => {
                let end = PhysAddr(low.0.wrapping_add(low_size));
                info!("crashkernel low memory reserved: 0x{:08x} - 0x{:08x} ({} MB)", low.0, end.0, low_size >> 20);
                out.low = Some((low, end));
            }
            Err(_) => {
                error!("cannot allocate crashkernel low memory (size:0x{low_size:x}).");
                let _ = mb.phys_free(start, size);
                return out;
            }
        }
    }
    let end = PhysAddr(start.0.wrapping_add(size));
    info!("crashkernel reserved: 0x{:016x} - 0x{:016x} ({} MB)", start.0, end.0, size >> 20);
    out.main = Some((start, end));
    out
}

#[cfg(test)]
#[path = "crashkernel_tests.rs"]
mod tests;
