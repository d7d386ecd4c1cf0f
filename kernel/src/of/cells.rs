//! How wide the numbers of a device tree are, and `reg`-style properties decoded with that
//! width: the one reader of `#address-cells`, `#size-cells` and the cells they size, for the
//! whole `of` module and its callers.
//!
//! Linux reads cell counts on two paths that agree on well-formed trees. The early flat scan
//! reads the root's once (`early_init_dt_scan_root` into `dt_root_addr_cells` /
//! `dt_root_size_cells`, `OF_ROOT_NODE_{ADDR,SIZE}_CELLS_DEFAULT` = 1 when absent) and decodes
//! every `reg` of a root child, and of `/reserved-memory`'s children, with them. The unflattened
//! tree asks `of_n_addr_cells` / `of_n_size_cells`: the nearest ancestor that has the property,
//! the same default past the root. A [`Node`] carries the cells of its nearest ancestor
//! ([`Node::bus_cells`]), which is both rules at once: a root child decodes with the root's own
//! cells, default 1.
//!
//! **A cell count whose length is not 4.** It is read from its first four bytes whatever its
//! length, as `early_init_dt_scan_root` (`be32_to_cpup` of the value) and
//! `of_property_read_u32` (at least four bytes, no upper bound) both do. A shorter value counts
//! as absent, as `of_property_read_u32` has it (`-EOVERFLOW`, so `of_bus_n_addr_cells` goes on
//! to the parent); the flat scan would read past the end of the value.
//!
//! **Numbers and entries.** Linux reads a number of any width and keeps its low 64 bits
//! (`of_read_number`), and decodes `reg` while whole entries remain (`early_init_dt_scan_memory`)
//! or after checking `len % entry` (`__reserved_mem_reserve_reg`). With zero cells in all the
//! first loops forever and the second divides by zero (arm64's divide instruction gives 0, so
//! the remainder is `len`: the "invalid reg property" line for a non-empty value; an empty one
//! loops forever, too). Reserved memory prints that line of Linux's for every refusal. [`Cells::reg`] and [`entries`] refuse,
//! before yielding anything, an entry of no cells, a number of more than two cells (it does not
//! fit the 64 bits of a physical address) and a value that is not a whole number of entries,
//! with a [`RegError`] that the caller turns into one line naming the node and the property.
//!
//! Nothing here panics on what a blob holds.

use crate::of::fdt::{Fdt, Node, Property};
use core::fmt;

/// Linux's `OF_ROOT_NODE_ADDR_CELLS_DEFAULT` (arm64 keeps the generic 1).
pub const OF_ROOT_NODE_ADDR_CELLS_DEFAULT: u32 = 1;
/// Linux's `OF_ROOT_NODE_SIZE_CELLS_DEFAULT`.
pub const OF_ROOT_NODE_SIZE_CELLS_DEFAULT: u32 = 1;
/// The most cells one number may have and still fit a `u64`.
const MAX_NUMBER_CELLS: u32 = 2;

/// `#address-cells` and `#size-cells` as a node's `reg` (or a bus's children) use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cells {
    pub addr: u32,
    pub size: u32,
}

impl Cells {
    /// What the root's children use when the root says nothing.
    pub const ROOT_DEFAULT: Cells =
        Cells { addr: OF_ROOT_NODE_ADDR_CELLS_DEFAULT, size: OF_ROOT_NODE_SIZE_CELLS_DEFAULT };

    /// The cells `node`'s children use (`of_bus_n_addr_cells(node)`, `of_bus_n_size_cells(node)`):
    /// each of its own properties where it has it, else `inherited`, what the node's ancestors
    /// give (its own [`Node::bus_cells`]).
    pub fn of_bus(node: &Node, inherited: Cells) -> Cells {
        Cells {
            addr: cell_count(node.property("#address-cells")).unwrap_or(inherited.addr),
            size: cell_count(node.property("#size-cells")).unwrap_or(inherited.size),
        }
    }

    /// The `(address, size)` entries of a `reg`-style value, or why it cannot be read.
    pub fn reg(self, value: &[u8]) -> Result<Reg<'_>, RegError> {
        Ok(Reg { entries: entries(value, &[self.addr, self.size])?, addr_bytes: self.addr as usize * 4 })
    }

    /// [`reg`](Self::reg) as `early_init_dt_scan_memory` reads a memory node: whole entries
    /// while they last, a partial one at the end ignored.
    pub fn reg_whole_entries(self, value: &[u8]) -> Result<Reg<'_>, RegError> {
        match self.reg(value) {
            Err(RegError::Partial { len, entry }) => self.reg(&value[..len - len % entry]),
            r => r,
        }
    }
}

/// Linux's `dt_root_addr_cells` / `dt_root_size_cells`: the root's own cells, default 1, which
/// the early scan decodes the memory nodes and `/reserved-memory` with.
pub fn dt_root(fdt: &Fdt) -> Cells {
    fdt.root().map_or(Cells::ROOT_DEFAULT, |root| root.child_cells())
}

/// A cell-count property's value: its first cell, `None` when it is absent or shorter than one
/// cell (see the module documentation).
pub fn cell_count(prop: Option<Property>) -> Option<u32> {
    Some(u32::from_be_bytes(prop?.value.get(..4)?.try_into().ok()?))
}

/// One number of `count` cells filling `value` exactly (`of_read_number` on a property that
/// `count` cells long): `None` when the length differs or `count` is not 1 or 2.
pub fn read_number(value: &[u8], count: u32) -> Option<u64> {
    ((1..=MAX_NUMBER_CELLS).contains(&count) && value.len() == count as usize * 4).then(|| number(value))
}

/// The big-endian number in `cells` (whole cells), shifted into a `u64` cell by cell as Linux's
/// `of_read_number` does: of more than two cells only the last two remain.
pub fn number(cells: &[u8]) -> u64 {
    cells.chunks_exact(4).fold(0, |acc, c| (acc << 32) | u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64)
}

/// Why a `reg`-style value cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegError {
    /// Every cell count of an entry is 0: entries of no bytes.
    ZeroWidth,
    /// A number of this many cells (more than two): it does not fit in 64 bits.
    TooWide { cells: u32 },
    /// `len` bytes are not a whole number of `entry`-byte entries.
    Partial { len: usize, entry: usize },
}

impl fmt::Display for RegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegError::ZeroWidth => write!(f, "#address-cells and #size-cells are 0, so its entries have no bytes"),
            RegError::TooWide { cells } => write!(f, "a number of {cells} cells does not fit in 64 bits"),
            RegError::Partial { len, entry } => {
                write!(f, "its {len} bytes are not a whole number of {entry}-byte entries")
            }
        }
    }
}

/// The entries of `value`, each made of numbers `widths[0]`, `widths[1]`, ... cells wide (0 to 2
/// each; [`number`] reads them, a number of no cells as 0), checked whole before the first.
pub fn entries<'a>(value: &'a [u8], widths: &[u32]) -> Result<core::slice::ChunksExact<'a, u8>, RegError> {
    if let Some(&cells) = widths.iter().find(|&&w| w > MAX_NUMBER_CELLS) {
        return Err(RegError::TooWide { cells });
    }
    let entry = widths.iter().sum::<u32>() as usize * 4;
    if entry == 0 {
        return Err(RegError::ZeroWidth);
    }
    if value.len() % entry != 0 {
        return Err(RegError::Partial { len: value.len(), entry });
    }
    Ok(value.chunks_exact(entry))
}

/// `(address, size)` entries of a `reg`-style value ([`Cells::reg`]).
#[derive(Clone, Debug)]
pub struct Reg<'a> {
    entries: core::slice::ChunksExact<'a, u8>,
    addr_bytes: usize,
}

impl Iterator for Reg<'_> {
    type Item = (u64, u64);
    fn next(&mut self) -> Option<(u64, u64)> {
        let (addr, size) = self.entries.next()?.split_at(self.addr_bytes);
        Some((number(addr), number(size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::of::testblob::Builder;
    use std::vec::Vec;

    fn be32s(cells: &[u32]) -> Vec<u8> {
        cells.iter().flat_map(|c| c.to_be_bytes()).collect()
    }

    /// A root with `root_props`, then
    /// ```text
    /// /bus  #size-cells = <1>, no #address-cells
    ///   dev   reg = <0x0 0x1000  0x100>        the root's address cells, bus's 1 size cell
    ///   sub   no cells of its own
    ///     leaf  reg = <0x0 0x2000  0x10>       nearest ancestor with each: root, bus
    /// /mem  reg in the root's cells
    /// ```
    fn tree(root_props: &[(&str, &[u8])], mem_reg: &[u8]) -> Vec<u8> {
        let mut b = Builder::new();
        b.begin("");
        for (name, value) in root_props {
            b.prop(name, value);
        }
        b.begin("bus");
        b.prop("#size-cells", &be32s(&[1]));
        b.begin("dev");
        b.prop("reg", &be32s(&[0, 0x1000, 0x100]));
        b.end();
        b.begin("sub");
        b.begin("leaf");
        b.prop("reg", &be32s(&[0, 0x2000, 0x10]));
        b.end();
        b.end();
        b.end();
        b.begin("mem");
        b.prop("reg", mem_reg);
        b.end();
        b.end();
        b.finish(&[])
    }

    fn reg_of(fdt: &Fdt, path: &str) -> Result<Vec<(u64, u64)>, RegError> {
        Ok(fdt.find_node(path).unwrap().reg().expect("a reg property")?.collect())
    }

    #[test]
    fn the_root_defaults_to_one_cell_each() {
        let blob = tree(&[], &be32s(&[0x4000_0000, 0x1000]));
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(dt_root(&fdt), Cells { addr: 1, size: 1 });
        assert_eq!(fdt.find_node("/mem").unwrap().bus_cells(), Cells { addr: 1, size: 1 });
        assert_eq!(reg_of(&fdt, "/mem"), Ok(vec![(0x4000_0000, 0x1000)]));
        // bus gives #size-cells = 1 and inherits the root's default #address-cells = 1.
        assert_eq!(fdt.find_node("/bus").unwrap().child_cells(), Cells { addr: 1, size: 1 });
    }

    #[test]
    fn each_count_comes_from_the_nearest_ancestor_that_has_it() {
        let two = be32s(&[2]);
        let blob = tree(&[("#address-cells", &two), ("#size-cells", &two)], &be32s(&[0, 0x4000_0000, 0, 0x1000]));
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(dt_root(&fdt), Cells { addr: 2, size: 2 });
        // dev and leaf: 2 address cells from the root, 1 size cell from /bus (sub has none).
        assert_eq!(fdt.find_node("/bus/dev").unwrap().bus_cells(), Cells { addr: 2, size: 1 });
        assert_eq!(fdt.find_node("/bus/sub/leaf").unwrap().bus_cells(), Cells { addr: 2, size: 1 });
        assert_eq!(reg_of(&fdt, "/bus/dev"), Ok(vec![(0x1000, 0x100)]));
        assert_eq!(reg_of(&fdt, "/bus/sub/leaf"), Ok(vec![(0x2000, 0x10)]));
        assert_eq!(reg_of(&fdt, "/mem"), Ok(vec![(0x4000_0000, 0x1000)]));
    }

    /// A count is its value's first cell whatever the length; shorter than a cell, it is absent.
    #[test]
    fn a_count_of_another_length_than_four() {
        let zeros8 = [0u8; 8];
        let blob = tree(&[("#address-cells", &zeros8), ("#size-cells", &zeros8)], &[]);
        assert_eq!(dt_root(&Fdt::new(&blob).unwrap()), Cells { addr: 0, size: 0 });
        // 8 bytes <2 0xffffffff>: 2, the second cell unread.
        let long = be32s(&[2, 0xffff_ffff]);
        let blob = tree(&[("#address-cells", &long), ("#size-cells", &long)], &[]);
        assert_eq!(dt_root(&Fdt::new(&blob).unwrap()), Cells { addr: 2, size: 2 });
        // 2 bytes: absent, so the default 1; and under /bus (1 size cell) the address count
        // keeps looking up to the root's, here the default too.
        let short = [0u8, 2];
        let blob = tree(&[("#address-cells", &short), ("#size-cells", &short)], &be32s(&[0x4000_0000, 0x1000]));
        let fdt = Fdt::new(&blob).unwrap();
        assert_eq!(dt_root(&fdt), Cells { addr: 1, size: 1 });
        assert_eq!(fdt.find_node("/bus/dev").unwrap().bus_cells(), Cells { addr: 1, size: 1 });
        assert_eq!(cell_count(None), None);
    }

    #[test]
    fn reg_refuses_what_it_cannot_decode_before_any_entry() {
        let c = |addr, size| Cells { addr, size };
        // 2 + 2 cells: 16-byte entries; 20 bytes leave a 4-byte tail.
        let value = be32s(&[0, 0x4000_0000, 0, 0x1000, 0x5000_0000]);
        assert_eq!(c(2, 2).reg(&value).err(), Some(RegError::Partial { len: 20, entry: 16 }));
        assert_eq!(c(2, 2).reg(&value[..16]).map(|r| r.collect::<Vec<_>>()), Ok(vec![(0x4000_0000, 0x1000)]));
        // No cells at all: refused whatever the value, even an empty one.
        assert_eq!(c(0, 0).reg(&value).err(), Some(RegError::ZeroWidth));
        assert_eq!(c(0, 0).reg(&[]).err(), Some(RegError::ZeroWidth));
        // Three cells do not fit 64 bits, for an address or a size.
        assert_eq!(c(3, 2).reg(&value).err(), Some(RegError::TooWide { cells: 3 }));
        assert_eq!(c(1, 3).reg(&value[..16]).err(), Some(RegError::TooWide { cells: 3 }));
        // Sizes of no cells read as 0 (a bus of addresses only); an empty value has no entries.
        assert_eq!(c(1, 0).reg(&value[..8]).map(|r| r.collect::<Vec<_>>()), Ok(vec![(0, 0), (0x4000_0000, 0)]));
        assert_eq!(c(2, 2).reg(&[]).map(|r| r.count()), Ok(0));
    }

    #[test]
    fn entries_of_three_numbers() {
        // dma-ranges with 1 child address cell, 2 parent address cells, 1 size cell: 16 bytes.
        let value = be32s(&[0, 0, 0x4000_0000, 0x1000_0000]);
        let all: Vec<&[u8]> = entries(&value, &[1, 2, 1]).unwrap().collect();
        assert_eq!(all, [&value[..]]);
        assert_eq!(number(&all[0][4..12]), 0x4000_0000);
        assert_eq!(entries(&value, &[1, 2]).err(), Some(RegError::Partial { len: 16, entry: 12 }));
        assert_eq!(entries(&value, &[0, 0, 0]).err(), Some(RegError::ZeroWidth));
    }

    #[test]
    fn a_number_is_one_or_two_cells_filling_its_value() {
        assert_eq!(read_number(&be32s(&[0x1234]), 1), Some(0x1234));
        assert_eq!(read_number(&be32s(&[1, 2]), 2), Some(0x1_0000_0002));
        assert_eq!(read_number(&be32s(&[1, 2]), 1), None, "8 bytes are not one cell");
        assert_eq!(read_number(&[], 0), None, "no cells");
        assert_eq!(read_number(&be32s(&[0, 1, 2]), 3), None, "more than 64 bits");
        assert_eq!(read_number(&[0, 0, 1], 1), None, "a partial cell");
    }
}
