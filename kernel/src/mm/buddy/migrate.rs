//! Migrate types: Linux 6.1's `enum migratetype`, the per-pageblock type
//! (`get_pfnblock_migratetype` / `set_pageblock_migratetype`) and the `fallbacks[]` order.
//!
//! Memory is grouped by mobility in pageblocks of 2^9 pages (`pageblock_order`, 2 MiB). Each
//! pageblock has a migrate type, and each zone one free list per order and type: a freed
//! block goes to the list of its pageblock's type. An allocation of one type takes from its
//! own lists first and then steals from the others in `fallbacks[]` order; a movable one may
//! also take MIGRATE_CMA pages, which no other type ever gets (they exist so that `cma_alloc`
//! can take them back).
//!
//! The type lives in the two top bits of the memmap byte of the pageblock's first frame in
//! the node (Linux keeps 4 bits per pageblock in a `usemap` allocated beside the memmap): it
//! costs no memory at all, and a zeroed memmap reads MIGRATE_MOVABLE, which is what Linux's
//! `memmap_init` sets every pageblock to.
//!
//! Left out: MIGRATE_HIGHATOMIC and MIGRATE_ISOLATE (no atomic reserves, no isolation: nothing
//! here migrates pages).

/// Linux 6.1's `pageblock_order` with 4 KiB pages and no huge-page override.
pub const PAGEBLOCK_ORDER: u32 = 9;
/// Pages per pageblock.
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << PAGEBLOCK_ORDER;

/// The migrate types kept (Linux's `enum migratetype`, without HIGHATOMIC and ISOLATE).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MigrateType {
    Unmovable = 0,
    Movable = 1,
    Reclaimable = 2,
    Cma = 3,
}

/// Number of free lists per order.
pub const MIGRATE_TYPES: usize = 4;

impl MigrateType {
    /// All types, in Linux's order (the index of a zone's free lists).
    pub const ALL: [MigrateType; MIGRATE_TYPES] =
        [MigrateType::Unmovable, MigrateType::Movable, MigrateType::Reclaimable, MigrateType::Cma];

    /// Linux's `fallbacks[]`: the types an allocation of this type steals from, in order,
    /// once its own lists are empty. CMA is in no list: only `__rmqueue_cma_fallback` (for
    /// movable allocations) takes CMA pages.
    pub const fn fallbacks(self) -> &'static [MigrateType] {
        match self {
            MigrateType::Unmovable => &[MigrateType::Reclaimable, MigrateType::Movable],
            MigrateType::Movable => &[MigrateType::Reclaimable, MigrateType::Unmovable],
            MigrateType::Reclaimable => &[MigrateType::Unmovable, MigrateType::Movable],
            MigrateType::Cma => &[],
        }
    }

    /// Linux's `migratetype_is_mergeable`: blocks of pageblock order or more merge across
    /// pageblocks of different types only when both types are one of the three "PCP" types.
    pub const fn is_mergeable(self) -> bool {
        !matches!(self, MigrateType::Cma)
    }

    /// Encoding in the memmap byte's top two bits (zero: movable).
    pub(super) const fn to_bits(self) -> u8 {
        match self {
            MigrateType::Movable => 0,
            MigrateType::Unmovable => 1,
            MigrateType::Reclaimable => 2,
            MigrateType::Cma => 3,
        }
    }

    pub(super) const fn from_bits(bits: u8) -> MigrateType {
        match bits & 3 {
            0 => MigrateType::Movable,
            1 => MigrateType::Unmovable,
            2 => MigrateType::Reclaimable,
            _ => MigrateType::Cma,
        }
    }
}
