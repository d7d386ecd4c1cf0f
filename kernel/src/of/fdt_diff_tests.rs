//! The differential test of the DTB reader: on every well-formed tree of the tests and the
//! mutation corpus (`setup::dryrun::mutation_tests`), this reader and the `fdt` crate (0.1.5,
//! a dev-dependency: an independent reading) must agree on the nodes in depth-first order
//! (names), each node's properties (names and value bytes), `reg` entries and `/memreserve/`.
//!
//! `fdt` 0.1.5 stops reading a node's properties at an FDT_NOP between them, which QEMU's
//! trees have (it NOPs out the memory nodes it replaces). So the crate reads a copy with every
//! NOP token removed from the structure block (the block keeps its size: FDT_END and zeros
//! fill the end), and this reader reads the original; a NOP carries nothing, so the two
//! readings must still agree. The crate runs under `catch_unwind` (it unwraps on malformed
//! input); a tree it rejects or panics on is skipped and counted.
//!
//! Well-formed here: the base trees and the structural mutants (rebuilt from a model, so their
//! tokens are sound, whatever their values), whose header this reader accepts and whose
//! structure walks to FDT_END.

use super::{Fdt, Node};
use crate::setup::dryrun::mutation_tests::{base_trees, mutants};
use std::string::{String, ToString};
use std::vec::Vec;

/// One node as a reader sees it: name, properties, and the `reg` entries when the parent
/// gives explicit cell counts of 1 or 2 (both readers' defaults differ otherwise, and the
/// crate reads no other widths).
#[derive(Debug, PartialEq)]
struct Seen {
    name: String,
    props: Vec<(String, Vec<u8>)>,
    reg: Option<Vec<(u64, u64)>>,
}

/// The parent's explicit `#address-cells` and `#size-cells` when each is one cell of 1 or 2.
fn explicit_cells(parent: &Node) -> Option<(u32, u32)> {
    let one = |name| parent.property(name).and_then(|p| p.as_u32()).filter(|c| (1..=2).contains(c));
    Some((one("#address-cells")?, one("#size-cells")?))
}

/// This reader, depth first.
fn ours(fdt: &Fdt) -> Vec<Seen> {
    fn walk(node: &Node, cells: Option<(u32, u32)>, out: &mut Vec<Seen>) {
        let reg = cells.and(node.reg()).and_then(|r| r.ok()).map(|r| r.collect());
        out.push(Seen {
            name: if node.name.is_empty() { "/".into() } else { node.name.into() },
            props: node.properties().map(|p| (p.name.into(), p.value.into())).collect(),
            reg,
        });
        let cells = explicit_cells(node);
        for child in node.children() {
            walk(&child, cells, out);
        }
    }
    let mut out = Vec::new();
    if let Some(root) = fdt.root() {
        walk(&root, None, &mut out);
    }
    out
}

/// The `fdt` crate's reading, with `compare_reg[i]` telling whether node i's reg counts.
fn theirs(blob: &[u8], compare_reg: &[bool]) -> Option<(Vec<Seen>, Vec<(u64, u64)>)> {
    let fdt = fdt::Fdt::new(blob).ok()?;
    let nodes = fdt
        .all_nodes()
        .enumerate()
        .map(|(i, n)| Seen {
            name: n.name.to_string(),
            props: n.properties().map(|p| (p.name.to_string(), p.value.to_vec())).collect(),
            reg: compare_reg
                .get(i)
                .copied()
                .unwrap_or(false)
                .then(|| n.reg().map(|r| r.map(|m| (m.starting_address as u64, m.size.unwrap_or(0) as u64)).collect()))
                .flatten(),
        })
        .collect();
    let reserved = fdt.memory_reservations().map(|r| (r.address() as u64, r.size() as u64)).collect();
    Some((nodes, reserved))
}

/// The blob with every FDT_NOP removed from its structure block (same size: FDT_END and
/// zeros at the end); `None` when a token is not one of the five.
fn without_nops(blob: &[u8]) -> Option<Vec<u8>> {
    let word = |b: &[u8], at: usize| Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let (off, size) = (word(blob, 8)? as usize, word(blob, 36)? as usize);
    let block = blob.get(off..off + size)?;
    let mut out = Vec::with_capacity(size);
    let mut at = 0;
    loop {
        let len = match word(block, at)? {
            1 => 4 + (block.get(at + 4..)?.iter().position(|&c| c == 0)? + 1).next_multiple_of(4),
            2 => 4,
            3 => 12 + (word(block, at + 4)? as usize).next_multiple_of(4),
            4 => {
                at += 4;
                continue;
            }
            9 => break,
            _ => return None,
        };
        out.extend_from_slice(block.get(at..at + len)?);
        at += len;
    }
    out.extend_from_slice(&9u32.to_be_bytes());
    out.resize(size, 0);
    let mut copy = blob.to_vec();
    copy[off..off + size].copy_from_slice(&out);
    Some(copy)
}

#[test]
fn the_reader_agrees_with_the_fdt_crate_on_well_formed_trees() {
    let (mut compared, mut skipped, mut nops) = (0usize, 0usize, 0usize);
    let mut check = |what: &str, blob: &[u8]| {
        let Ok(fdt) = Fdt::new(blob) else { return };
        let header = blob[..40].try_into().unwrap();
        if crate::of::FdtHeader::validate(crate::mm::PhysAddr(0x1000), header, (crate::mm::PhysAddr(0), crate::mm::PhysAddr(0))).is_err() {
            return;
        }
        let Some(stripped) = without_nops(blob) else { return };
        nops += (stripped != blob) as usize;
        let mine = ours(&fdt);
        let compare_reg: Vec<bool> = mine.iter().map(|s| s.reg.is_some()).collect();
        let reserved: Vec<(u64, u64)> = fdt.memory_reservations().collect();
        match std::panic::catch_unwind(|| theirs(&stripped, &compare_reg)) {
            Ok(Some((nodes, their_reserved))) => {
                assert_eq!(mine.len(), nodes.len(), "{what}: node count");
                for (a, b) in mine.iter().zip(&nodes) {
                    assert_eq!(a, b, "{what}");
                }
                assert_eq!(reserved, their_reserved, "{what}: /memreserve/");
                compared += 1;
            }
            _ => skipped += 1,
        }
    };
    for (name, base) in base_trees() {
        check(&name, &base);
        // The structural mutants: every third, and every third of those is also byte-mutated
        // after (`mutants`); only the well-formed ones pass the checks above.
        mutants(&base, 300, 0x6469_6666, |recipe, blob| check(&std::format!("{name}, {recipe}"), blob));
    }
    std::println!("differential test: {compared} trees agree, {skipped} skipped (the fdt crate refused or panicked), {nops} had NOPs");
    assert!(compared > 100, "{compared} compared, {skipped} skipped");
}
