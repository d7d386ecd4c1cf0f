//! Zones and nodes at boot: the accounting and log lines of Linux 6.1 arm64's
//! `zone_sizes_init` → `free_area_init`, `build_all_zonelists` and `mem_init` →
//! `memblock_free_all` / `mem_init_print_info`, computed from a [`Memblock`](crate::mm::memblock::Memblock).
//!
//! Everything here is arithmetic on memblock's arrays; no `struct page` is touched (the
//! buddy allocator's own zones are `mm::buddy::Zone`). The numbers are Linux's, with Linux's
//! configuration as Debian ships it for arm64: 4 KiB pages,
//! `CONFIG_ZONE_DMA` and `CONFIG_ZONE_DMA32` on, `CONFIG_NUMA` on (`MAX_NUMNODES` 16),
//! `CONFIG_SPARSEMEM_VMEMMAP` with 128 MiB sections (`SECTION_SIZE_BITS` 27), 2 MiB pageblocks
//! (`pageblock_order` 9), `CONFIG_CMA` and `CONFIG_MEMORY_ISOLATION` on (six migrate types),
//! no `CONFIG_HIGHMEM`. `ZONE_DEVICE` is not modelled (see [`ZONE_NAMES`]).
//!
//! The memory map is sized as Linux sizes it: 64 bytes of `struct page` per page
//! ([`STRUCT_PAGE_SIZE`]). This kernel's own memory map is far smaller, but the printed
//! "Total pages" and the zones' managed pages at zonelist time use Linux's figure so the lines
//! match a Linux dmesg.
//!
//! `kernelcore=`, `movablecore=` and `movable_node` carve `ZONE_MOVABLE` out of each node's
//! highest zone (`movable`); without them it is empty.
//!
//! One file per step, in boot order:
//! - `limits`: arm64's `zone_sizes_init` up to `free_area_init` (`max_zone_phys`, the
//!   `max_zone_pfns[]`);
//! - `free_area_init`: the nodes' and zones' spans, present and managed pages, and the
//!   "Zone ranges" .. "Initmem setup node" lines;
//! - `movable`: where `ZONE_MOVABLE` starts on each node;
//! - `memmap_init`: the holes, "pages in unavailable ranges";
//! - `zonelist`: `build_all_zonelists`, its fallback order and "Total pages";
//! - `mem_init_print_info`: the `Memory:` line.

use crate::mm::addr::PAGE_SHIFT;
use crate::mm::memblock::MAX_NUMNODES;

mod free_area_init;
mod limits;
mod mem_init_print_info;
mod memmap_init;
mod movable;
mod zonelist;

pub use free_area_init::{free_area_init, memmap_pages, own_memmap_pages, zone_batchsize, NodeInfo, NodeZones, ZoneInfo};
pub use limits::{arm64_zone_limits, fls64, max_zone_phys, ZoneLimits};
pub use mem_init_print_info::{fmt_mem_init_info, memblock_free_all_pages, KernelSections, MemCounts};
pub use movable::{Core, MovableParams};
pub use zonelist::{build_all_zonelists, default_distance, fmt_zonelists};

/// Number of zone types: DMA, DMA32, Normal, Movable (Linux's `MAX_NR_ZONES` for this config).
pub use crate::mm::buddy::MAX_NR_ZONES;
/// Number of node slots (`MAX_NUMNODES`).
pub const NR_NODES: usize = MAX_NUMNODES as usize;
/// Zone names as Linux prints them (`zone_names[]`).
///
/// Debian's arm64 6.1 config also enables `CONFIG_ZONE_DEVICE`, which adds a fifth zone
/// `Device` to Linux's list and a "  Device   empty" line to "Zone ranges:". It is never
/// populated at boot; it is left out here, so that line has to be accounted for when
/// comparing against such a kernel.
pub const ZONE_NAMES: [&str; MAX_NR_ZONES] = ["DMA", "DMA32", "Normal", "Movable"];
/// Index of `ZONE_DMA`.
pub const ZONE_DMA: usize = 0;
/// Index of `ZONE_DMA32`.
pub const ZONE_DMA32: usize = 1;
/// Index of `ZONE_NORMAL`.
pub const ZONE_NORMAL: usize = 2;
/// Index of `ZONE_MOVABLE`.
pub const ZONE_MOVABLE: usize = 3;

/// `sizeof(struct page)` on arm64 Linux 6.1.
pub const STRUCT_PAGE_SIZE: u64 = 64;
/// `PAGES_PER_SECTION`: 128 MiB sections of 4 KiB pages.
pub const PAGES_PER_SECTION: u64 = 1 << (27 - PAGE_SHIFT);
/// `pageblock_nr_pages`: `pageblock_order` is `HUGETLB_PAGE_ORDER` (9) with 4 KiB pages.
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << 9;
/// `MIGRATE_TYPES` with `CONFIG_CMA` and `CONFIG_MEMORY_ISOLATION`: unmovable, movable,
/// reclaimable, high-atomic, CMA, isolate.
pub const MIGRATE_TYPES: u64 = 6;

#[cfg(test)]
pub(crate) mod tests;
