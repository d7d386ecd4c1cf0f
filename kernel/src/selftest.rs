//! Boot self-tests chosen with `selftest=NAME`. Each one proves a failure path end to end in
//! a real boot; the QEMU tests in `cargo xtask test` check what they print.
//!
//! - `fault`: read from an address nothing maps; must end in the fault report.
//! - `fault-in-fault`: the same read, with the fault report told to fault once itself: the
//!   second exception must be reported in two short lines and stop the machine, not loop.
//! - `panic`: `panic!`; must end in "Kernel panic - not syncing".
//! - `reset`: PSCI SYSTEM_RESET instead of SYSTEM_OFF.
//! - `nomap`: read the first byte of the first NOMAP region through the linear map: no-map
//!   memory is memory, but it is not in the linear map, so this must end in the fault report.
//! - `wx`: write to the kernel's text, which is mapped read-only: a permission fault.
//! - `stack`: recurse until the boot stack overflows into its guard page: Linux's "kernel
//!   stack overflow" report, not a silent corruption.
//! - `initmem`: call a function of the init sections, which `free_initmem` unmapped: must
//!   end in the fault report (an instruction abort at the function's address).
//! - `hang`: spin forever without a word, as a kernel stuck in a loop would: for the tests of
//!   `cargo xtask qemu --timeout`.
//! - `cma`: fill memory with unmovable allocations and check none lies in a CMA area; free
//!   them, fill it with movable ones (which end up in the CMA areas too) and check that
//!   `cma_alloc` then fails cleanly; free them, `cma_alloc` half of each area, check the range,
//!   release it; the free count must come back to its start.
//! - `buddy`: a random storm of page allocations and frees across orders and zones; every
//!   page is filled with a pattern derived from its address and checked before it is freed;
//!   no frame may be handed out twice, and the free count must come back to its start.
//!   Before the storm, the free lists memblock_free_all left are walked: every block must be
//!   aligned to its order, lie inside its zone's span and its node's memmap, be marked free
//!   of that order in the memmap, and the blocks must add up to the zone's free pages.

use crate::arch::provoke;
use kernel::mm::cma::CmaAreas;
use kernel::mm::memblock::{Memblock, MemblockKind};
use kernel::{info, warn};

/// An address inside the 48-bit space that no early mapping covers (the early identity map
/// holds only the kernel, the DTB and the console, all far below).
const UNMAPPED: u64 = 0x0000_7f00_dead_0000;

pub fn run(name: &str, mb: &Memblock, cma: &CmaAreas) {
    info!("selftest: {name}");
    match name {
        "nomap" => match mb.ty(MemblockKind::Memory).regions().iter().find(|r| r.is_nomap()) {
            Some(r) => {
                let va = crate::arch::mmu::va(r.base);
                info!("selftest: reading NOMAP memory at {:#x} through the linear map at {va:#x}", r.base.0);
                // No-map memory has no linear mapping: the read must fault.
                let v = provoke::read_u8(va);
                panic!("selftest=nomap: read of {va:#x} returned {v:#x} instead of faulting");
            }
            None => warn!("selftest: nomap: no NOMAP region in memblock.memory, nothing to test"),
        },
        "wx" => {
            let text = run as *const () as u64;
            info!("selftest: writing to kernel text at {text:#x}");
            // A NOP: harmless if the write went through.
            provoke::write_text(text, 0xd503_201f);
            panic!("selftest=wx: write to kernel text at {text:#x} did not fault");
        }
        "fault" => {
            let v = provoke::read_u64(UNMAPPED);
            panic!("selftest=fault: read of {UNMAPPED:#x} returned {v:#x} instead of faulting");
        }
        "fault-in-fault" => {
            crate::arch::exception::FAULT_IN_REPORT.store(true, core::sync::atomic::Ordering::SeqCst);
            // The read must fault, and so must its report.
            let v = provoke::read_u64(UNMAPPED);
            panic!("selftest=fault-in-fault: read of {UNMAPPED:#x} returned {v:#x} instead of faulting");
        }
        "initmem" => {
            let f = provoke::init_text_probe as *const () as u64;
            info!("selftest: calling init code at {f:#x} after free_initmem");
            let v = provoke::init_text_probe(41);
            panic!("selftest=initmem: init code at {f:#x} ran after free_initmem and returned {v}");
        }
        "panic" => panic!("selftest=panic"),
        "hang" => loop {
            core::hint::spin_loop();
        },
        "buddy" => buddy_storm(),
        "cma" => cma_test(cma),
        "stack" => {
            let depth = recurse(0);
            panic!("selftest=stack: {depth} frames did not overflow the stack");
        }
        "reset" => {
            info!("reboot: Restarting system");
            crate::console::Console::flush();
            crate::arch::psci::system_reset()
        }
        other => warn!("selftest: unknown test '{other}', ignored"),
    }
}

/// The pattern of the word at linear address `va`.
fn pattern(va: u64) -> u64 {
    va.rotate_left(17) ^ 0x5a5a_c3c3_0f0f_9669
}

/// See the module documentation.
fn buddy_storm() {
    use crate::arch::linear::{fill_words, words_hold};
    use crate::page_alloc::{alloc_pages, free_pages, with};
    use kernel::mm::buddy::ZoneType;
    use kernel::mm::Pfn;
    const LIVE: usize = 256;
    const ROUNDS: usize = 4000;
    check_free_lists();
    let free_at_start = with(|z| z.nr_free_pages()).expect("the page allocator is up");
    let mut live: [Option<(Pfn, u32, u64)>; LIVE] = [None; LIVE];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut allocs, mut frees, mut failed) = (0u64, 0u64, 0u64);
    for _ in 0..ROUNDS {
        let slot = (rand() % LIVE as u64) as usize;
        match live[slot].take() {
            Some((pfn, order, va)) => {
                assert!(words_hold(va, 4096 << order, pattern), "selftest=buddy: pattern of pfn {:#x} order {order} changed", pfn.0);
                free_pages(pfn, order).unwrap_or_else(|e| panic!("selftest=buddy: free of pfn {:#x}: {e}", pfn.0));
                frees += 1;
            }
            None => {
                // Mostly small orders, sometimes up to the largest.
                let r = rand();
                let order = if r % 8 == 0 { (r >> 8) as u32 % 11 } else { (r >> 8) as u32 % 4 };
                let highest = if r & 0x10 != 0 { ZoneType::Dma } else { ZoneType::Normal };
                match alloc_pages(order, highest) {
                    Ok((pfn, va)) => {
                        let (s, e) = (pfn.0, pfn.0 + (1 << order));
                        let clash = live.iter().flatten().find(|(p, o, _)| s < p.0 + (1 << o) && p.0 < e);
                        assert!(clash.is_none(), "selftest=buddy: pfn {s:#x} order {order} handed out twice: {clash:x?}");
                        let zone_ok = with(|z| z.zones().any(|zone| zone.spans(s) && zone_allowed(zone.name(), highest)));
                        assert!(zone_ok == Some(true), "selftest=buddy: pfn {s:#x} is not in a zone allowed by {highest:?}");
                        fill_words(va, 4096 << order, pattern);
                        live[slot] = Some((pfn, order, va));
                        allocs += 1;
                    }
                    Err(_) => failed += 1,
                }
            }
        }
    }
    for (pfn, order, va) in live.iter().flatten() {
        assert!(words_hold(*va, 4096 << order, pattern), "selftest=buddy: pattern of pfn {:#x} changed", pfn.0);
        free_pages(*pfn, *order).unwrap_or_else(|e| panic!("selftest=buddy: free of pfn {:#x}: {e}", pfn.0));
        frees += 1;
    }
    let free_at_end = with(|z| z.nr_free_pages()).expect("the page allocator is up");
    assert_eq!(free_at_end, free_at_start, "selftest=buddy: free pages did not come back");
    info!("selftest: buddy: {allocs} allocations, {frees} frees, {failed} refused; patterns intact, free pages back to {free_at_start}");
}

/// Allocate order-`order` blocks of type `mt` until none is left, into `out`; returns how
/// many did not fit in `out` (freed again at once, so they are not lost).
fn fill(out: &mut alloc::vec::Vec<kernel::mm::Pfn>, mt: kernel::mm::buddy::MigrateType) {
    use crate::page_alloc::alloc_pages_type;
    use kernel::mm::buddy::ZoneType;
    for order in (0..=9).rev() {
        while out.len() < out.capacity() {
            match alloc_pages_type(order, ZoneType::Movable, mt) {
                Ok((pfn, _)) => {
                    out.push(pfn);
                    // One entry per page of the block, so freeing is order 0 throughout.
                    for p in 1..(1u64 << order) {
                        if out.len() < out.capacity() {
                            out.push(kernel::mm::Pfn(pfn.0 + p));
                        }
                    }
                }
                Err(_) => break,
            }
        }
    }
}

/// See the module documentation.
fn cma_test(cma: &CmaAreas) {
    use crate::page_alloc::{free_pages, with};
    use kernel::mm::buddy::MigrateType;
    // Every free page needs a slot: reserve them before memory runs out (the heap takes its
    // pages from the buddy allocator, so count the free pages after that).
    let free = with(|z| z.nr_free_pages()).expect("the page allocator is up");
    let mut held = alloc::vec::Vec::with_capacity(free as usize);
    let free_at_start = with(|z| z.nr_free_pages()).expect("the page allocator is up");
    let cma_pages: u64 = cma.iter().map(|a| a.pages()).sum();
    info!("selftest: cma: {} areas, {cma_pages} pages, {free_at_start} free pages", cma.iter().count());
    let in_cma = |p: &kernel::mm::Pfn| cma.iter().any(|a| a.holds(*p, 1));
    let release = |held: &mut alloc::vec::Vec<kernel::mm::Pfn>| {
        for p in held.drain(..) {
            free_pages(p, 0).unwrap_or_else(|e| panic!("selftest=cma: free of pfn {:#x}: {e}", p.0));
        }
    };
    fill(&mut held, MigrateType::Unmovable);
    let landed = held.iter().filter(|p| in_cma(p)).count();
    assert_eq!(landed, 0, "selftest=cma: {landed} unmovable pages in a CMA area");
    info!("selftest: cma: {} unmovable pages, none in a CMA area", held.len());
    release(&mut held);
    fill(&mut held, MigrateType::Movable);
    let landed = held.iter().filter(|p| in_cma(p)).count() as u64;
    info!("selftest: cma: {} movable pages, {landed} of them in CMA areas", held.len());
    assert_eq!(landed, cma_pages, "selftest=cma: movable allocations did not use every CMA page");
    for a in cma.iter() {
        let got = with(|z| a.alloc(z, 1, 0)).flatten();
        assert!(got.is_none(), "selftest=cma: cma_alloc succeeded over pages in use: {got:?}");
    }
    info!("selftest: cma: cma_alloc with every page in use: refused, nothing changed");
    release(&mut held);
    for a in cma.iter() {
        let count = a.pages() / 2;
        let pfn = with(|z| a.alloc(z, count, 8)).flatten().expect("selftest=cma: cma_alloc of half a free area");
        assert!(a.holds(pfn, count) && pfn.0 % 256 == 0, "selftest=cma: cma_alloc gave {:#x}", pfn.0);
        info!("selftest: cma: cma_alloc({count}, align 8) at pfn {:#x}", pfn.0);
        assert!(with(|z| a.release(z, pfn, count)) == Some(true), "selftest=cma: cma_release refused");
    }
    let free_at_end = with(|z| z.nr_free_pages()).expect("the page allocator is up");
    assert_eq!(free_at_end, free_at_start, "selftest=cma: free pages did not come back");
    info!("selftest: cma: released; free pages back to {free_at_start}");
}

/// See the module documentation: one line per populated zone with its free pages.
fn check_free_lists() {
    use kernel::mm::buddy::MAX_ORDER;
    crate::page_alloc::with(|z| {
        for zone in z.zones().filter(|zone| zone.is_populated()) {
            let memmap = z.memmap(zone.nid()).expect("a zone's node has a memmap");
            let (mut pages, mut blocks) = (0u64, 0u64);
            for order in 0..MAX_ORDER {
                let Some(area) = zone.free_area(order) else { continue };
                area.for_each(z.links(), &mut |pfn| {
                    let last = pfn + (1 << order) - 1;
                    let inside = pfn % (1 << order) == 0
                        && zone.spans(pfn)
                        && zone.spans(last)
                        && memmap.covers(pfn)
                        && memmap.covers(last);
                    assert!(
                        inside,
                        "selftest=buddy: free block of order {order} at pfn {pfn:#x} lies outside node {} zone {} [{:#x}, {:#x})",
                        zone.nid(),
                        zone.name(),
                        zone.zone_start_pfn(),
                        zone.zone_end_pfn()
                    );
                    let state = memmap.get(kernel::mm::Pfn(pfn)).and_then(|s| s.buddy_order());
                    assert!(state == Some(order), "selftest=buddy: pfn {pfn:#x} is on the order-{order} list, its memmap says {state:?}");
                    pages += 1 << order;
                    blocks += 1;
                });
            }
            assert_eq!(pages, zone.free_pages(), "selftest=buddy: zone {} free lists disagree with its count", zone.name());
            info!("selftest: buddy: Node {}, zone {:>8}: {pages} free pages in {blocks} blocks, each inside the zone", zone.nid(), zone.name());
        }
    })
    .expect("the page allocator is up");
}

fn zone_allowed(zone: &str, highest: kernel::mm::buddy::ZoneType) -> bool {
    use kernel::mm::buddy::ZoneType;
    ZoneType::ALL.iter().take(highest.index() + 1).any(|t| t.name() == zone)
}

/// Recurse with 512 bytes of locals per frame (not a tail call) until the stack runs out.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    if depth > 1 << 20 {
        return depth;
    }
    recurse(depth + 1) + frame[depth as usize % 64]
}
