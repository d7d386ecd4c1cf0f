//! A blob rewritten the way a bootloader rewrites it before it starts Linux (U-Boot's
//! `fdt_fixup_memory_banks`, QEMU's `arm_load_dtb`): the tree read into nodes that own their
//! names and values, changed, and written out again as a version-17 blob. The dry-run uses it
//! for `--mem` and for the RAM it assumes when `/memory` is empty, so that the boot's own scan
//! reads the memory from the tree, as it would on the board.
//!
//! It never changes what it was not asked to: every other node and property, in order, the
//! `/memreserve/` entries and `boot_cpuid_phys` are written back as read (NOPs are dropped, and
//! the strings block holds each name once).

use crate::of::fdt::{Fdt, Node};
use crate::of::header::{FdtHeader, FDT_HEADER_SIZE, FDT_MAGIC};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Nesting deeper than this is not read (the reader's own bound).
const MAX_DEPTH: usize = 64;

/// A node that owns its name, properties and children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditNode {
    pub name: String,
    pub props: Vec<(String, Vec<u8>)>,
    pub children: Vec<EditNode>,
}

/// A whole tree, ready to be changed and written out.
#[derive(Clone, Debug)]
pub struct EditTree {
    pub memreserve: Vec<(u64, u64)>,
    pub boot_cpuid_phys: u32,
    pub root: EditNode,
}

impl EditNode {
    pub fn new(name: &str) -> EditNode {
        EditNode {
            name: name.to_string(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }

    fn read(node: &Node, depth: usize) -> EditNode {
        let props = node
            .properties()
            .map(|p| (p.name.to_string(), p.value.to_vec()))
            .collect();
        let children = if depth < MAX_DEPTH {
            node.children()
                .map(|c| EditNode::read(&c, depth + 1))
                .collect()
        } else {
            Vec::new()
        };
        EditNode {
            name: node.name.to_string(),
            props,
            children,
        }
    }

    pub fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Set `name` to `value`, in place when it exists, else as the last property.
    pub fn set_prop(&mut self, name: &str, value: Vec<u8>) {
        match self.props.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.props.push((name.to_string(), value)),
        }
    }
}

impl EditTree {
    /// The tree of a blob the reader accepts; `None` when it has no root.
    pub fn read(blob: &[u8]) -> Option<EditTree> {
        let fdt = Fdt::new(blob).ok()?;
        let header = FdtHeader::parse(blob.get(..FDT_HEADER_SIZE)?.try_into().ok()?);
        Some(EditTree {
            memreserve: fdt.memory_reservations().collect(),
            boot_cpuid_phys: header.boot_cpuid_phys,
            root: EditNode::read(&fdt.root()?, 0),
        })
    }

    /// The tree as a version-17 blob (last compatible version 16, as dtc writes).
    pub fn write(&self) -> Vec<u8> {
        let mut w = Writer {
            structs: Vec::new(),
            strings: Vec::new(),
        };
        w.node(&self.root);
        w.word(9); // FDT_END
        let rsv_off = FDT_HEADER_SIZE;
        let struct_off = rsv_off + 16 * (self.memreserve.len() + 1);
        let strings_off = struct_off + w.structs.len();
        let total = strings_off + w.strings.len();
        let fields = [
            FDT_MAGIC as usize,
            total,
            struct_off,
            strings_off,
            rsv_off,
            17,
            16,
            self.boot_cpuid_phys as usize,
            w.strings.len(),
            w.structs.len(),
        ];
        let mut b: Vec<u8> = fields
            .iter()
            .flat_map(|&f| (f as u32).to_be_bytes())
            .collect();
        for (base, size) in self.memreserve.iter().chain([(0, 0)].iter()) {
            b.extend_from_slice(&base.to_be_bytes());
            b.extend_from_slice(&size.to_be_bytes());
        }
        b.extend_from_slice(&w.structs);
        b.extend_from_slice(&w.strings);
        b
    }
}

struct Writer {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Writer {
    fn word(&mut self, w: u32) {
        self.structs.extend_from_slice(&w.to_be_bytes());
    }

    fn pad(&mut self) {
        while self.structs.len() % 4 != 0 {
            self.structs.push(0);
        }
    }

    /// The offset of `name` in the strings block, added once.
    fn string(&mut self, name: &str) -> u32 {
        let mut at = 0;
        while at < self.strings.len() {
            let end = at + self.strings[at..].iter().position(|&c| c == 0).unwrap_or(0);
            if &self.strings[at..end] == name.as_bytes() {
                return at as u32;
            }
            at = end + 1;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }

    fn node(&mut self, node: &EditNode) {
        use crate::of::fdt::{FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP};
        self.word(FDT_BEGIN_NODE);
        self.structs.extend_from_slice(node.name.as_bytes());
        self.structs.push(0);
        self.pad();
        for (name, value) in &node.props {
            let off = self.string(name);
            self.word(FDT_PROP);
            self.word(value.len() as u32);
            self.word(off);
            self.structs.extend_from_slice(value);
            self.pad();
        }
        for child in &node.children {
            self.node(child);
        }
        self.word(FDT_END_NODE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::of::testblob::{cells, Builder};

    /// A tree with NOPs, a /memreserve/ entry and a nested node reads back, written out, with
    /// the same nodes, properties and reservations, and every NOP gone.
    #[test]
    fn a_tree_written_out_reads_back_the_same() {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.nop();
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.begin("memory@40000000");
        b.prop("device_type", b"memory\0");
        b.prop("reg", &cells(0x4000_0000, 0x1000_0000));
        b.end();
        b.nop();
        b.begin("soc");
        b.begin("uart@9000000");
        b.prop("reg", &cells(0x900_0000, 0x1000));
        b.end();
        b.end();
        b.end();
        let blob = b.finish(&[(0x4800_0000, 0x1000)]);
        let tree = EditTree::read(&blob).unwrap();
        let out = tree.write();
        let again = EditTree::read(&out).unwrap();
        assert_eq!(again.root, tree.root);
        assert_eq!(again.memreserve, vec![(0x4800_0000, 0x1000)]);
        // Without the two NOP words (8 bytes), and with "reg" once in the strings block
        // ("#address-cells\0#size-cells\0device_type\0reg\0" = 15 + 12 + 12 + 4 = 43 bytes,
        // where the builder stored "reg" twice: 47).
        assert_eq!(out.len(), blob.len() - 8 - 4);
        let fdt = Fdt::new(&out).unwrap();
        assert_eq!(
            fdt.find_node("/soc/uart")
                .unwrap()
                .reg()
                .unwrap()
                .unwrap()
                .collect::<Vec<_>>(),
            vec![(0x900_0000, 0x1000)]
        );
    }
}
