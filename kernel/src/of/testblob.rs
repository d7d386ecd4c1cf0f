//! Test support: a minimal flattened-device-tree writer for host tests.

use super::fdt::{FDT_BEGIN_NODE, FDT_END_NODE, FDT_NOP, FDT_PROP};
use std::vec::Vec;

/// A minimal blob writer: tokens into the structure block, names into the strings block.
pub struct Builder {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Builder {
    /// A root with two-cell addresses and sizes, as QEMU virt's, and one memory node `name`
    /// with `reg = <base size>`; the root stays open.
    pub fn root_with_memory(name: &str, base: u64, size: u64) -> Self {
        let mut b = Self::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.begin(name);
        b.prop("device_type", b"memory\0");
        b.prop("reg", &cells(base, size));
        b.end();
        b
    }

    pub fn new() -> Self {
        Builder { structs: Vec::new(), strings: Vec::new() }
    }
    pub fn word(&mut self, w: u32) {
        self.structs.extend_from_slice(&w.to_be_bytes());
    }
    pub fn pad(&mut self) {
        while self.structs.len() % 4 != 0 {
            self.structs.push(0);
        }
    }
    pub fn begin(&mut self, name: &str) {
        self.word(FDT_BEGIN_NODE);
        self.structs.extend_from_slice(name.as_bytes());
        self.structs.push(0);
        self.pad();
    }
    pub fn end(&mut self) {
        self.word(FDT_END_NODE);
    }
    pub fn nop(&mut self) {
        self.word(FDT_NOP);
    }
    pub fn prop(&mut self, name: &str, value: &[u8]) {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.word(FDT_PROP);
        self.word(value.len() as u32);
        self.word(off);
        self.structs.extend_from_slice(value);
        self.pad();
    }
    pub fn finish(mut self, memreserve: &[(u64, u64)]) -> Vec<u8> {
        self.word(9); // FDT_END
        let rsv_off = 40;
        let struct_off = rsv_off + 16 * (memreserve.len() + 1);
        let strings_off = struct_off + self.structs.len();
        let total = strings_off + self.strings.len();
        let mut b = Vec::new();
        for f in [0xd00d_feed, total, struct_off, strings_off, rsv_off, 17, 16, 0, self.strings.len(), self.structs.len()] {
            b.extend_from_slice(&(f as u32).to_be_bytes());
        }
        for (base, size) in memreserve.iter().chain([(0, 0)].iter()) {
            b.extend_from_slice(&base.to_be_bytes());
            b.extend_from_slice(&size.to_be_bytes());
        }
        b.extend_from_slice(&self.structs);
        b.extend_from_slice(&self.strings);
        b
    }
}


/// Two-cell address and two-cell size, as QEMU virt's root declares.
pub fn cells(addr: u64, size: u64) -> Vec<u8> {
    let mut v = addr.to_be_bytes().to_vec();
    v.extend_from_slice(&size.to_be_bytes());
    v
}

/// A blob whose root has two-cell addresses and sizes, as QEMU virt's, and a `/reserved-memory`
/// with the same cells and an empty `ranges`, whose children `children` writes.
pub fn with_reserved_memory(children: impl FnOnce(&mut Builder)) -> Vec<u8> {
    let mut b = Builder::new();
    b.begin("");
    b.prop("#address-cells", &2u32.to_be_bytes());
    b.prop("#size-cells", &2u32.to_be_bytes());
    b.begin("reserved-memory");
    b.prop("#address-cells", &2u32.to_be_bytes());
    b.prop("#size-cells", &2u32.to_be_bytes());
    b.prop("ranges", b"");
    children(&mut b);
    b.end();
    b.end();
    b.finish(&[])
}
