//! `mem_init`'s accounting line: what `memblock_free_all` frees and Linux 6.1's
//! `mem_init_print_info` ("Memory: …K/…K available (…)").

use core::fmt;

use crate::mm::addr::PAGE_SHIFT;
use crate::mm::memblock::Memblock;

/// `memblock_free_all`'s count, which becomes `totalram_pages` and, with nothing allocated
/// yet, `nr_free_pages()`: the whole pages of every free range (memory that is neither
/// reserved nor NOMAP), each range cut at `max_low_pfn` (`__free_memory_core`). arm64's
/// `free_unused_memmap` returns early under `SPARSEMEM_VMEMMAP`, so it frees nothing.
pub fn memblock_free_all_pages(mb: &Memblock, max_low_pfn: u64) -> u64 {
    crate::mm::init::free_pfn_ranges(mb, max_low_pfn).map(|(s, e)| e.0 - s.0).sum()
}

/// The kernel image's section boundaries, as physical or virtual addresses (only
/// differences and containment are used), half-open `(start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelSections {
    /// `[_stext, _etext)`.
    pub text: (u64, u64),
    /// `[__start_rodata, __end_rodata)`.
    pub rodata: (u64, u64),
    /// `[_sdata, _edata)`.
    pub rwdata: (u64, u64),
    /// `[__init_begin, __init_end)`.
    pub init: (u64, u64),
    /// `[_sinittext, _einittext)`.
    pub inittext: (u64, u64),
    /// `[__bss_start, __bss_stop)`.
    pub bss: (u64, u64),
}

/// The page counts the Memory line reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemCounts {
    /// `get_num_physpages()`: [`NodeZones::num_physpages`](super::NodeZones::num_physpages).
    pub physpages: u64,
    /// `nr_free_pages()` after `memblock_free_all`.
    pub nr_free_pages: u64,
    /// `totalram_pages()`: what `memblock_free_all` freed ([`memblock_free_all_pages`] counts
    /// it without freeing).
    pub totalram_pages: u64,
    /// `totalcma_pages`: pages of CMA areas, not yet handed to the buddy allocator.
    pub totalcma_pages: u64,
}

/// Linux 6.1's `mem_init_print_info`:
///
/// `Memory: %luK/%luK available (%luK kernel code, %luK rwdata, %luK rodata, %luK init,
/// %luK bss, %luK reserved, %luK cma-reserved)`
///
/// with available = free pages, the total = physpages, sizes in KiB rounded down, init =
/// init data + init text, reserved = physpages - totalram - totalcma. Before printing, a
/// section that contains another has the contained one's size taken off (when it is larger
/// than it): init text inside `[__init_begin, __init_end)` comes off the init size, init text
/// inside text off the code size, `__init_begin` inside rwdata takes the init size off rwdata,
/// and rodata inside text or rwdata comes off that section.
pub fn fmt_mem_init_info(counts: &MemCounts, s: &KernelSections, out: &mut dyn FnMut(fmt::Arguments<'_>)) {
    let size = |r: (u64, u64)| r.1 - r.0;
    let mut codesize = size(s.text);
    let mut datasize = size(s.rwdata);
    let rosize = size(s.rodata);
    let bss_size = size(s.bss);
    let mut init_data_size = size(s.init);
    let init_code_size = size(s.inittext);
    let adj = |range: (u64, u64), size: &mut u64, pos: u64, by: u64| {
        if range.0 <= pos && pos < range.1 && *size > by {
            *size -= by;
        }
    };
    adj(s.init, &mut init_data_size, s.inittext.0, init_code_size);
    adj(s.text, &mut codesize, s.inittext.0, init_code_size);
    adj(s.rwdata, &mut datasize, s.init.0, init_data_size);
    adj(s.text, &mut codesize, s.rodata.0, rosize);
    adj(s.rwdata, &mut datasize, s.rodata.0, rosize);

    let k = |pages: u64| pages << (PAGE_SHIFT - 10);
    let reserved = counts.physpages.wrapping_sub(counts.totalram_pages).wrapping_sub(counts.totalcma_pages);
    out(format_args!(
        "Memory: {}K/{}K available ({}K kernel code, {}K rwdata, {}K rodata, {}K init, {}K bss, \
         {}K reserved, {}K cma-reserved)",
        k(counts.nr_free_pages),
        k(counts.physpages),
        codesize >> 10,
        datasize >> 10,
        rosize >> 10,
        (init_data_size + init_code_size) >> 10,
        bss_size >> 10,
        k(reserved),
        k(counts.totalcma_pages)
    ));
}
