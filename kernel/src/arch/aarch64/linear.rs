//! Memory memblock handed out, seen through the linear map as the Rust values it was reserved
//! for: a node's memmap, its free-list links, its tables of section runs and states and its `NODE_DATA` (what Linux reaches with
//! `__va()` on the address `memblock_alloc` returned), and the words of a page block the
//! buddy self-test owns.
//!
//! Each function trusts its caller that the range was reserved for that one use and is in the
//! linear map (memory that is not NOMAP); it never checks memblock.

use super::mmu::va;
use kernel::mm::buddy::{NodeData, PageState, SectionState};
use kernel::mm::init::NodeMemmap;
use kernel::mm::sparse::SectionRun;
use kernel::mm::PhysAddr;

/// Node memmap `m`'s free-list links: `m.link_slots()` entries at `m.links_pa`.
pub fn links(m: &NodeMemmap) -> &'static mut [[u32; 2]] {
    let ptr = va(m.links_pa) as *mut [u32; 2];
    let slots = m.link_slots() as usize;
    // Any bit pattern is a valid [u32; 2], and only entries written first are read.
    // SAFETY: memblock reserved `slots` entries for these links alone, mapped.
    unsafe { core::slice::from_raw_parts_mut(ptr, slots) }
}

/// Node memmap `m`'s table of section runs at `m.runs_pa()`, written from `runs`, which must
/// yield `m.runs` entries (memblock still describing the memory `alloc_memmaps` saw); `None`
/// when it yields another number.
pub fn section_runs(m: &NodeMemmap, runs: impl Iterator<Item = SectionRun>) -> Option<&'static [SectionRun]> {
    let ptr = va(m.runs_pa()) as *mut SectionRun;
    let mut n = 0;
    for run in runs {
        if n == m.runs {
            return None;
        }
        // The links before the table are 8-byte entries from a page, so it is 8-byte aligned.
        // SAFETY: memblock reserved `m.runs` mapped, aligned entries behind the links for it alone.
        unsafe { ptr.add(n).write(run) };
        n += 1;
    }
    // SAFETY: the `n` entries were just written, and nothing else refers to them.
    (n == m.runs).then(|| unsafe { core::slice::from_raw_parts(ptr, n) })
}

/// Node `nid`'s `NODE_DATA` at `pa`, initialised.
pub fn node_data(nid: i32, pa: PhysAddr) -> &'static mut NodeData<'static> {
    let ptr = va(pa) as *mut NodeData<'static>;
    // memblock reserved size_of::<NodeData>() bytes at `pa`, 64-byte aligned (enough for
    // NodeData), for this node alone.
    // SAFETY: so they are ours, mapped, and written here before any use.
    unsafe {
        ptr.write(NodeData::new(nid));
        &mut *ptr
    }
}

/// Node memmap `m`'s bytes, one `PageState` per frame of its present sections, as memblock
/// left them (the memmap writes a section's entries only once it needs them), and its table
/// of section states at `m.sections_pa()`, all [`SectionState::Blank`].
pub fn memmap(m: &NodeMemmap) -> (&'static mut [PageState], &'static mut [SectionState]) {
    let pages = va(m.pa) as *mut PageState;
    let sections = va(m.sections_pa()) as *mut SectionState;
    let n = m.sections() as usize;
    // memblock reserved these bytes, mapped, for this memmap alone: the table behind the run
    // table, the entries at `m.pa`. A SectionState is one byte and 0 is Blank, so the table
    // holds valid values once zeroed; any byte is a valid PageState.
    // SAFETY: so both slices are ours, mapped, and hold valid values.
    unsafe {
        core::ptr::write_bytes(sections, 0, n);
        (core::slice::from_raw_parts_mut(pages, m.frames as usize), core::slice::from_raw_parts_mut(sections, n))
    }
}

/// Write `pattern(address)` into every 8-byte word of `[va, va + bytes)`, a block the page
/// allocator handed to the caller. Volatile, so that a later [`words_hold`] really reads memory.
pub fn fill_words(va: u64, bytes: u64, pattern: impl Fn(u64) -> u64) {
    let words = va as *mut u64;
    for i in 0..(bytes / 8) as usize {
        let w = words.wrapping_add(i);
        // SAFETY: the block [va, va + bytes) is the caller's, mapped and 8-byte aligned.
        unsafe { w.write_volatile(pattern(w as u64)) };
    }
}

/// Whether every word of `[va, va + bytes)` still holds what [`fill_words`] wrote there.
pub fn words_hold(va: u64, bytes: u64, pattern: impl Fn(u64) -> u64) -> bool {
    let words = va as *const u64;
    (0..(bytes / 8) as usize).all(|i| {
        let w = words.wrapping_add(i);
        // SAFETY: as for `fill_words`; reads have no side effect.
        unsafe { w.read_volatile() == pattern(w as u64) }
    })
}
