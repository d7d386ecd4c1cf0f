//! memblock operation costs with 10, 1000 and 10000 regions in the array being changed.
//!
//! Each measured step leaves the state as it found it (add then remove, reserve then free,
//! allocate then free), so the region count stays at N and no array grows inside the loop.
//! Growth happens once, while building the state, through a host mapper that leaks.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kernel::mm::memblock::{Memblock, Region, RegionMapper};
use kernel::mm::PhysAddr;
use std::hint::black_box;

struct LeakMapper;

impl RegionMapper for LeakMapper {
    fn map(&self, _base: PhysAddr, count: usize) -> &'static mut [Region] {
        Box::leak(vec![Region::EMPTY; count].into_boxed_slice())
    }
}

static MAPPER: LeakMapper = LeakMapper;

const PAGE: u64 = 0x1000;
const BIG: u64 = 0x8000_0000; // 256 MiB of plain memory for grown arrays and allocations
const SPREAD: u64 = 0x1_0000_0000; // where the N small regions live, two pages apart

/// N memory regions (plus one big one) and N reserved pages inside the big region.
fn state(n: u64) -> Box<Memblock> {
    let mut m = Box::new(Memblock::new());
    m.allow_resize(&MAPPER);
    m.add(PhysAddr(BIG), 0x1000_0000).unwrap();
    for i in 0..n {
        m.add(PhysAddr(SPREAD + i * 2 * PAGE), PAGE).unwrap();
        m.reserve(PhysAddr(BIG + i * 2 * PAGE), PAGE).unwrap();
    }
    m
}

fn bench(c: &mut Criterion) {
    for n in [10u64, 1000, 10000] {
        let mut m = state(n);
        // The middle hole of the small memory regions / of the reserved pages.
        let mem_hole = PhysAddr(SPREAD + (n / 2) * 2 * PAGE + PAGE);
        let res_hole = PhysAddr(BIG + (n / 2) * 2 * PAGE + PAGE);

        c.bench_with_input(BenchmarkId::new("add+remove", n), &n, |b, _| {
            b.iter(|| {
                m.add(black_box(mem_hole), PAGE / 2).unwrap();
                m.remove(black_box(mem_hole), PAGE / 2).unwrap();
            })
        });
        c.bench_with_input(BenchmarkId::new("reserve+free", n), &n, |b, _| {
            b.iter(|| {
                m.reserve(black_box(res_hole), PAGE / 2).unwrap();
                m.phys_free(black_box(res_hole), PAGE / 2).unwrap();
            })
        });
        // Top-down allocation finds the top of the big region at once; bottom-up walks the
        // N one-page holes between reservations before it finds room for two pages.
        for bottom_up in [false, true] {
            m.set_bottom_up(bottom_up);
            let name = if bottom_up { "alloc8K+free_bottom_up" } else { "alloc8K+free_top_down" };
            c.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    let a = m.phys_alloc(black_box(2 * PAGE), PAGE).unwrap();
                    m.phys_free(a, 2 * PAGE).unwrap();
                })
            });
        }
        m.set_bottom_up(false);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
