//! Creating mappings (Linux's `__create_pgd_mapping`) and walking to a translation.
//!
//! [`map_range`] writes the entries that [`plan`](super::plan) computes, allocating
//! intermediate tables on the way down (`alloc_init_pud` → `alloc_init_cont_pmd` →
//! `init_pte`), without the contiguous hint. Where Linux `BUG`s on an unsafe change of a live
//! entry, this refuses with [`PgtableError::Conflict`]: writing the same descriptor again is
//! allowed, replacing a different valid one (another address, other attributes, a table
//! where a block goes or a block where a table is needed) is not. All conflicts are found
//! before the first write, so a refused call changes nothing; a table allocation failure can
//! leave the entries written before it.

use super::desc::{table_desc, Prot, PMD_TYPE_MASK, PMD_TYPE_SECT, PMD_TYPE_TABLE, PTE_ADDR_MASK};
use super::desc::PTE_VALID;
use super::{level_size, plan, table_index, PgtableError, TableMem, LEVELS, PAGE_OFFSET, PA_BITS, PTRS_PER_TABLE};
use super::TTBR0_TOP;
use crate::mm::addr::{PhysAddr, PAGE_SIZE};

/// Map `[va, va + size)` to `[pa, pa + size)` with `prot` in the tree rooted at the level-0
/// table `root` (Linux's `__create_pgd_mapping(root, pa, va, size, prot, early_pgtable_alloc,
/// flags)` without `NO_BLOCK_MAPPINGS`/`NO_CONT_MAPPINGS`).
///
/// `va`, `pa` and `size` must be page aligned, the virtual range inside one canonical half
/// (below 2^48, or from `0xffff_0000_0000_0000` up to 2^64) and the physical range below 2^48.
pub fn map_range(
    mem: &mut impl TableMem,
    root: PhysAddr,
    va: u64,
    pa: PhysAddr,
    size: u64,
    prot: Prot,
) -> Result<(), PgtableError> {
    check_range(va, pa, size)?;
    for dry_run in [true, false] {
        for chunk in plan(va, pa, size) {
            let step = chunk.entry_size();
            let mut i = 0;
            while i < chunk.count() {
                // Entry `i` and those after it in the same table: one walk down for all.
                let at = chunk.va.wrapping_add(i * step);
                let first = table_index(at, chunk.level);
                let n = ((PTRS_PER_TABLE - first) as u64).min(chunk.count() - i);
                let desc = |k: u64| prot.leaf_desc(chunk.pa.0 + (i + k) * step, chunk.level);
                if let Some(table) = leaf_table(mem, root, at, chunk.level, desc(0), dry_run)? {
                    for k in 0..n {
                        let desc = desc(k);
                        set_entry(mem, table, first + k as usize, at.wrapping_add(k * step), chunk.level, desc, dry_run)?;
                    }
                }
                i += n;
            }
        }
    }
    Ok(())
}

fn check_range(va: u64, pa: PhysAddr, size: u64) -> Result<(), PgtableError> {
    if (va | pa.0 | size) & (PAGE_SIZE - 1) != 0 {
        return Err(PgtableError::Misaligned { va, pa, size });
    }
    // Last byte of the range, so that a range ending exactly at 2^64 needs no 65th bit.
    let Some(va_last) = va.checked_add(size.wrapping_sub(1)).filter(|_| size > 0) else {
        return if size == 0 { Ok(()) } else { Err(PgtableError::VaOutOfRange { va, size }) };
    };
    let lower = va_last < TTBR0_TOP;
    let upper = va >= PAGE_OFFSET;
    if !lower && !upper {
        return Err(PgtableError::VaOutOfRange { va, size });
    }
    match pa.0.checked_add(size) {
        Some(end) if end <= 1 << PA_BITS => Ok(()),
        _ => Err(PgtableError::PaOutOfRange { pa, size }),
    }
}

/// The table at `level` that holds the entry for `va`, creating the tables above it; a block
/// where a table is needed is a conflict with `desc`, the leaf meant for `va`. With
/// `dry_run`, only report the conflict creating them would meet, allocating and writing
/// nothing: `None` when a table is missing (nothing below it to conflict with).
fn leaf_table(
    mem: &mut impl TableMem,
    root: PhysAddr,
    va: u64,
    level: usize,
    desc: u64,
    dry_run: bool,
) -> Result<Option<PhysAddr>, PgtableError> {
    let mut table = root;
    for l in 0..level {
        let idx = table_index(va, l);
        let entry = mem.read(table, idx);
        table = if entry == 0 {
            if dry_run {
                return Ok(None);
            }
            let next = mem.alloc_table().ok_or(PgtableError::TableAlloc { level: l + 1 })?;
            mem.write(table, idx, table_desc(next.0));
            next
        } else if entry & PMD_TYPE_MASK == PMD_TYPE_TABLE {
            PhysAddr(entry & PTE_ADDR_MASK)
        } else {
            // A block (or a stray invalid entry) where a table is needed.
            return Err(PgtableError::Conflict { va, level: l, old: entry, new: desc });
        };
    }
    Ok(Some(table))
}

/// Store the leaf `desc` for `va` at entry `idx` of `table` (at `level`): refused when a
/// different descriptor is there; with `dry_run`, only checked.
fn set_entry(mem: &mut impl TableMem, table: PhysAddr, idx: usize, va: u64, level: usize, desc: u64, dry_run: bool) -> Result<(), PgtableError> {
    let old = mem.read(table, idx);
    if old != 0 && old != desc {
        return Err(PgtableError::Conflict { va, level, old, new: desc });
    }
    if !dry_run && old == 0 {
        mem.write(table, idx, desc);
    }
    Ok(())
}

/// Where a virtual address leads: the physical address, the leaf's attributes and the level
/// of the leaf (1 or 2 for a block, 3 for a page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub pa: PhysAddr,
    pub prot: Prot,
    pub level: usize,
    /// The raw leaf descriptor.
    pub desc: u64,
}

/// Walk the tree rooted at `root` for `va`, as the MMU does (Linux's `pgd_offset_k` →
/// `pud_offset` → `pmd_offset` → `pte_offset_kernel` chain, e.g. in `kern_addr_valid`).
/// `None` for an invalid entry on the way; a level-0 block is not a valid descriptor with a
/// 4 KiB granule and also gives `None`.
pub fn translate(mem: &impl TableMem, root: PhysAddr, va: u64) -> Option<Translation> {
    let mut table = root;
    for level in 0..LEVELS {
        let desc = mem.read(table, table_index(va, level));
        if desc & PTE_VALID == 0 {
            return None;
        }
        // Bits [1:0] are 0b11 for a table (levels 0-2) or a page (level 3), 0b01 for a block.
        let type_bits_set = desc & PMD_TYPE_MASK == PMD_TYPE_TABLE;
        if level < LEVELS - 1 && type_bits_set {
            table = PhysAddr(desc & PTE_ADDR_MASK);
            continue;
        }
        let leaf = if level == LEVELS - 1 {
            type_bits_set
        } else {
            level > 0 && desc & PMD_TYPE_MASK == PMD_TYPE_SECT
        };
        if !leaf {
            return None;
        }
        let offset = va & (level_size(level) - 1);
        let base = desc & PTE_ADDR_MASK & !(level_size(level) - 1);
        let prot = Prot::from_leaf(desc, level);
        return Some(Translation { pa: PhysAddr(base | offset), prot, level, desc });
    }
    None
}

/// Remove the mapping of `[va, va + size)` from the tree rooted at `root` (the table part of
/// Linux's `vunmap_range`, as arm64's `free_initmem` uses it on the init sections): every
/// page of the range must be mapped by a level-3 page or by a block that lies wholly inside
/// the range, and each such entry is cleared. The tables themselves stay. Nothing is written
/// when a page is unmapped already or lies in a block that reaches outside the range (which
/// would need a split). Returns the virtual addresses of the cleared entries' first pages
/// through `cleared`, for the caller's TLB invalidation (the break of break-before-make:
/// nothing is mapped there again).
pub fn unmap_range(
    mem: &mut impl TableMem,
    root: PhysAddr,
    va: u64,
    size: u64,
    cleared: &mut dyn FnMut(u64),
) -> Result<u64, PgtableError> {
    check_range(va, PhysAddr(0), size)?;
    let end = va + size;
    for write in [false, true] {
        let mut at = va;
        while at < end {
            let leaf = translate(mem, root, at).ok_or(PgtableError::NotMapped { va: at })?;
            let step = level_size(leaf.level);
            let block = at & !(step - 1);
            if block < va || block + step > end {
                return Err(PgtableError::Conflict { va: at, level: leaf.level, old: leaf.desc, new: 0 });
            }
            if write {
                let table = table_of(mem, root, at, leaf.level);
                mem.write(table, table_index(at, leaf.level), 0);
                cleared(block);
            }
            at = block + step;
        }
    }
    Ok(size / PAGE_SIZE)
}

/// The table that holds the entry for `va` at `level` (the walk found it valid down there).
fn table_of(mem: &impl TableMem, root: PhysAddr, va: u64, level: usize) -> PhysAddr {
    (0..level).fold(root, |table, l| PhysAddr(mem.read(table, table_index(va, l)) & PTE_ADDR_MASK))
}
