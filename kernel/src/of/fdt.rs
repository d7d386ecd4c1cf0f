//! A flattened device tree reader: nodes, properties and `/memreserve/`, read straight from
//! the blob, as libfdt does for Linux's early scan.
//!
//! Written here rather than taken from the `fdt` crate because that crate loses its way on
//! `FDT_NOP` tokens between properties — exactly what QEMU leaves after editing a `-dtb` file —
//! and panics on malformed blobs. This reader skips NOPs wherever they stand and turns every
//! malformation into `None` or an error value: a bad tree is reported, never a crash.

use crate::of::cells::{Cells, Reg, RegError};
use crate::of::header::{DtbError, FdtHeader, FDT_HEADER_SIZE};

pub(crate) const FDT_BEGIN_NODE: u32 = 1;
pub(crate) const FDT_END_NODE: u32 = 2;
pub(crate) const FDT_PROP: u32 = 3;
pub(crate) const FDT_NOP: u32 = 4;
pub(crate) const FDT_END: u32 = 9;

/// Nesting deeper than this is treated as malformed (Linux's unflatten allows 64 too).
const MAX_DEPTH: usize = 64;

/// A parsed blob.
#[derive(Clone, Copy)]
pub struct Fdt<'a> {
    data: &'a [u8],
    header: FdtHeader,
    /// Every token from the first to `FDT_END` reads cleanly, names included (checked once,
    /// in [`Fdt::new`]). Then walks that only skip (a subtree, the properties before the one
    /// looked for) need not decode names: decoding could not fail and stop them. A blob that
    /// is not clean is walked decoding every name, so that a bad one ends the walk there.
    clean: bool,
    /// Where `/chosen` begins, found by the same walk (Linux keeps `of_chosen`): the boot asks
    /// for it often, and it is often the root's last child.
    chosen: Option<u32>,
}

/// A node: its name and where its properties start.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    fdt: Fdt<'a>,
    /// Name with unit address (`memory@40000000`); empty for the root.
    pub name: &'a str,
    /// Where the node is (`Node::offset`).
    at: NodeOffset,
    /// Offset (in the structure block) of the first token after the name.
    body: usize,
}

/// Where a node is, so that it can be found again in one step (`Fdt::node_at`), in this blob
/// or in a byte-identical copy of it at another address: the structure-block offset of its
/// `FDT_BEGIN_NODE` token, and the cells its ancestors give it, which the offset alone cannot
/// tell. (12 bytes: a blob's size is a `u32`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeOffset {
    offset: u32,
    bus: Cells,
}

/// A property: name and raw big-endian value.
#[derive(Clone, Copy, Debug)]
pub struct Property<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

enum Token<'a> {
    /// A node's name, and the offset of its FDT_BEGIN_NODE token.
    Begin(&'a str, usize),
    End,
    Prop(Property<'a>),
}

/// A token read without decoding its name: a property keeps the offset of its name in the
/// strings block.
enum RawToken<'a> {
    /// The offset of the FDT_BEGIN_NODE token, and of its name.
    Begin(usize),
    End,
    Prop { nameoff: usize, value: &'a [u8] },
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The bytes of the NUL-terminated string at `at`, without the NUL; `None` without one.
fn c_bytes(b: &[u8], at: usize) -> Option<&[u8]> {
    let rest = b.get(at..)?;
    rest.get(..rest.iter().position(|&c| c == 0)?)
}

/// The header at the start of `data`, parsed (not validated).
fn read_header(data: &[u8]) -> Result<FdtHeader, DtbError> {
    let head: &[u8; FDT_HEADER_SIZE] = data.get(..FDT_HEADER_SIZE).and_then(|h| h.try_into().ok()).ok_or(DtbError::Unparsable)?;
    Ok(FdtHeader::parse(head))
}

fn cstr(b: &[u8], at: usize) -> Option<&str> {
    core::str::from_utf8(c_bytes(b, at)?).ok()
}

impl<'a> Fdt<'a> {
    /// Parse a blob whose header `FdtHeader::validate` accepted (checked again here).
    pub fn new(data: &'a [u8]) -> Result<Fdt<'a>, DtbError> {
        let header = read_header(data)?;
        if header.magic != crate::of::header::FDT_MAGIC || (header.totalsize as usize) > data.len() {
            return Err(DtbError::Unparsable);
        }
        let mut fdt = Fdt { data: &data[..header.totalsize as usize], header, clean: false, chosen: None };
        if !matches!(fdt.token(0), Some((Token::Begin(..), _))) {
            return Err(DtbError::Unparsable);
        }
        // `depth` counts the open nodes of the root's subtree; `None` once the root closed.
        let (mut at, mut depth) = (0, Some(0usize));
        while let Some((token, next)) = fdt.token(at) {
            match (token, depth) {
                (Token::Begin(name, offset), Some(d)) => {
                    if d == 1 && fdt.chosen.is_none() && matches_path_part(name.as_bytes(), b"chosen") {
                        fdt.chosen = u32::try_from(offset).ok();
                    }
                    depth = Some(d + 1);
                }
                (Token::End, Some(d)) => depth = d.checked_sub(1).filter(|&d| d > 0),
                _ => {}
            }
            at = next;
        }
        fdt.clean = be32(fdt.structs(), at) == Some(FDT_END);
        Ok(fdt)
    }

    /// This blob read through another mapping of the same bytes (the kernel's, once the early
    /// identity map is retired): what [`new`](Self::new) learnt from its walk is kept, not
    /// walked again. `data` must start with the same header and hold the whole blob.
    pub fn remap(&self, data: &'a [u8]) -> Result<Fdt<'a>, DtbError> {
        if read_header(data)? != self.header {
            return Err(DtbError::Unparsable);
        }
        let data = data.get(..self.header.totalsize as usize).ok_or(DtbError::Unparsable)?;
        Ok(Fdt { data, ..*self })
    }

    pub fn total_size(&self) -> usize {
        self.header.totalsize as usize
    }

    fn structs(&self) -> &'a [u8] {
        let start = self.header.off_dt_struct as usize;
        let end = start.saturating_add(self.header.size_dt_struct as usize);
        self.data.get(start..end.min(self.data.len())).unwrap_or(&[])
    }

    /// The token at `at` without its name decoded, and the offset after it; NOPs are skipped.
    fn raw_token(&self, mut at: usize) -> Option<(RawToken<'a>, usize)> {
        let s = self.structs();
        loop {
            match be32(s, at)? {
                FDT_NOP => at += 4,
                FDT_BEGIN_NODE => {
                    let len = c_bytes(s, at + 4)?.len();
                    return Some((RawToken::Begin(at), (at + 4 + len + 1 + 3) & !3));
                }
                FDT_END_NODE => return Some((RawToken::End, at + 4)),
                FDT_PROP => {
                    let len = be32(s, at + 4)? as usize;
                    let nameoff = be32(s, at + 8)? as usize;
                    let value = s.get(at + 12..at + 12 + len)?;
                    return Some((RawToken::Prop { nameoff, value }, (at + 12 + len + 3) & !3));
                }
                _ => return None, // FDT_END or garbage: no more tokens here
            }
        }
    }

    /// The strings block, from the start.
    fn strings(&self) -> &'a [u8] {
        self.data.get(self.header.off_dt_strings as usize..).unwrap_or(&[])
    }

    /// The token at `at`, names decoded, and the offset after it; NOPs are skipped. A name that
    /// is not a NUL-terminated UTF-8 string ends the tokens there.
    fn token(&self, at: usize) -> Option<(Token<'a>, usize)> {
        let (raw, next) = self.raw_token(at)?;
        let token = match raw {
            RawToken::Begin(at) => Token::Begin(cstr(self.structs(), at + 4)?, at),
            RawToken::End => Token::End,
            RawToken::Prop { nameoff, value } => Token::Prop(Property { name: cstr(self.strings(), nameoff)?, value }),
        };
        Some((token, next))
    }

    /// The token at `at` for a walk that only skips it: undecoded in a clean blob, decoded
    /// (and so stopping at a bad name) otherwise.
    fn skip_token(&self, at: usize) -> Option<(RawToken<'a>, usize)> {
        if !self.clean {
            self.token(at)?;
        }
        self.raw_token(at)
    }

    /// The root node.
    pub fn root(&self) -> Option<Node<'a>> {
        self.node_at(NodeOffset { offset: 0, bus: Cells::ROOT_DEFAULT })
    }

    /// The node `at` names (`Node::offset`), in one step: also in a byte-identical copy of the
    /// blob that `at` was taken from (the kernel reads the blob through a new mapping once the
    /// early identity map is retired). `None` when no node begins there.
    pub fn node_at(&self, at: NodeOffset) -> Option<Node<'a>> {
        match self.token(at.offset as usize)? {
            (Token::Begin(name, offset), body) => Some(Node { fdt: *self, name, at: NodeOffset { offset: offset as u32, ..at }, body }),
            _ => None,
        }
    }

    /// `/chosen`, as [`find_node`](Self::find_node) finds it, in one step.
    pub fn chosen(&self) -> Option<Node<'a>> {
        self.node_at(NodeOffset { offset: self.chosen?, bus: self.root()?.child_cells() })
    }

    /// A node by absolute path; path components without a unit address match any unit
    /// address (`/memory` finds `memory@40000000`), as libfdt does.
    pub fn find_node(&self, path: &str) -> Option<Node<'a>> {
        let mut node = self.root()?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = node.child(part)?;
        }
        Some(node)
    }

    /// Every node, depth first, root included, in one pass over the tokens: up to the
    /// root's end, or the first token that does not read. A node nested deeper than
    /// `MAX_DEPTH` is listed without its subtree.
    pub fn all_nodes(&self) -> impl Iterator<Item = Node<'a>> + 'a {
        let fdt = *self;
        // The cells of the children of each open node.
        let mut cells = [Cells::ROOT_DEFAULT; MAX_DEPTH];
        let mut depth = 0usize;
        let mut at = Some(0usize);
        core::iter::from_fn(move || loop {
            match fdt.skip_token(at?) {
                Some((RawToken::Begin(offset), body)) => {
                    let bus = if depth == 0 { Cells::ROOT_DEFAULT } else { cells[depth - 1] };
                    let node = Node { fdt, name: cstr(fdt.structs(), offset + 4)?, at: NodeOffset { offset: offset as u32, bus }, body };
                    if depth < MAX_DEPTH {
                        cells[depth] = node.child_cells();
                        depth += 1;
                        at = Some(body);
                    } else {
                        at = skip_subtree(&fdt, body);
                    }
                    return Some(node);
                }
                Some((RawToken::Prop { .. }, next)) => at = Some(next),
                Some((RawToken::End, next)) if depth > 1 => {
                    depth -= 1;
                    at = Some(next);
                }
                // The root's end, or no more tokens.
                _ => at = None,
            }
        })
    }

    /// `/memreserve/` entries up to the terminating zero entry.
    pub fn memory_reservations(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        let data = self.data;
        let mut at = self.header.off_mem_rsvmap as usize;
        core::iter::from_fn(move || {
            let e = data.get(at..at + 16)?;
            at += 16;
            let base = u64::from_be_bytes(e[..8].try_into().ok()?);
            let size = u64::from_be_bytes(e[8..].try_into().ok()?);
            (base != 0 || size != 0).then_some((base, size))
        })
    }
}

/// Iterator over the children of a node.
#[derive(Clone, Copy)]
pub struct ChildIter<'a> {
    fdt: Fdt<'a>,
    at: Option<usize>,
    /// The parent's `Node::child_cells`.
    cells: Cells,
}

impl<'a> Iterator for ChildIter<'a> {
    type Item = Node<'a>;
    fn next(&mut self) -> Option<Node<'a>> {
        let mut at = self.at?;
        loop {
            match self.fdt.token(at) {
                Some((Token::Prop(_), next)) => at = next,
                Some((Token::Begin(name, offset), body)) => {
                    self.at = skip_subtree(&self.fdt, body);
                    let at = NodeOffset { offset: offset as u32, bus: self.cells };
                    return Some(Node { fdt: self.fdt, name, at, body });
                }
                _ => {
                    self.at = None;
                    return None;
                }
            }
        }
    }
}

/// Whether a node called `name` is what the path component `part` names: the same name, or,
/// when `part` has no unit address, the same name before the unit address (libfdt's rule).
fn matches_path_part(name: &[u8], part: &[u8]) -> bool {
    name == part || (!part.contains(&b'@') && name.split(|&c| c == b'@').next() == Some(part))
}

/// The offset after the END_NODE closing a node whose body starts at `at`.
fn skip_subtree(fdt: &Fdt, mut at: usize) -> Option<usize> {
    let mut depth = 1usize;
    while depth > 0 {
        let (tok, next) = fdt.skip_token(at)?;
        match tok {
            RawToken::Begin(_) => depth += 1,
            RawToken::End => depth -= 1,
            RawToken::Prop { .. } => {}
        }
        at = next;
    }
    Some(at)
}

impl<'a> Node<'a> {
    pub fn properties(&self) -> impl Iterator<Item = Property<'a>> + 'a {
        let fdt = self.fdt;
        let mut at = Some(self.body);
        core::iter::from_fn(move || match fdt.token(at?) {
            Some((Token::Prop(p), next)) => {
                at = Some(next);
                Some(p)
            }
            _ => None,
        })
    }

    /// The property called `name`: the first, as `properties().find(..)` finds it, with
    /// only the one found decoded.
    pub fn property(&self, name: &str) -> Option<Property<'a>> {
        let (fdt, strings) = (self.fdt, self.fdt.strings());
        let mut at = self.body;
        while let Some((RawToken::Prop { nameoff, value }, next)) = fdt.skip_token(at) {
            // `name` and its NUL compared in place: finding each name's end first
            // (`c_bytes`) costs a twentieth of a boot's instructions.
            let here = strings.get(nameoff..nameoff.checked_add(name.len() + 1)?);
            if here.is_some_and(|b| b[..name.len()] == *name.as_bytes() && b[name.len()] == 0) {
                return Some(Property { name: cstr(strings, nameoff)?, value });
            }
            at = next;
        }
        None
    }

    /// The cells this node's children's `reg` use (`of_bus_n_addr_cells` / `of_bus_n_size_cells`
    /// of this node): its own `#address-cells` / `#size-cells`, else its ancestors'.
    pub fn child_cells(&self) -> Cells {
        Cells::of_bus(self, self.at.bus)
    }

    /// The cells this node's own `reg` uses (`of_n_addr_cells` / `of_n_size_cells`): the
    /// nearest ancestor's that has them, Linux's root default 1 past the root.
    pub fn bus_cells(&self) -> Cells {
        self.at.bus
    }

    /// Where the node is, to find it again with `Fdt::node_at`.
    pub fn offset(&self) -> NodeOffset {
        self.at
    }

    /// The first child called `part`, or, when `part` has no unit address, the first whose
    /// name without its unit address is `part` (libfdt's rule, as `find_node` uses it): the
    /// same as `children().find(..)`, with only the one found decoded.
    pub fn child(&self, part: &str) -> Option<Node<'a>> {
        let (fdt, part) = (self.fdt, part.as_bytes());
        let mut at = self.body;
        loop {
            match fdt.skip_token(at)? {
                (RawToken::Prop { .. }, next) => at = next,
                (RawToken::Begin(begin), body) => {
                    if matches_path_part(c_bytes(fdt.structs(), begin + 4)?, part) {
                        return fdt.node_at(NodeOffset { offset: begin as u32, bus: self.child_cells() });
                    }
                    at = skip_subtree(&fdt, body)?;
                }
                (RawToken::End, _) => return None,
            }
        }
    }

    pub fn children(&self) -> ChildIter<'a> {
        ChildIter { fdt: self.fdt, at: Some(self.body), cells: self.child_cells() }
    }

    /// The name without its unit address (`cpu` for `cpu@1`; Linux's `%pOFn`).
    pub fn base_name(&self) -> &'a str {
        let end = self.name.bytes().position(|b| b == b'@').unwrap_or(self.name.len());
        &self.name[..end]
    }

    /// The strings of `compatible`, in order.
    pub fn compatible(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.property("compatible").into_iter().flat_map(|p| p.strings())
    }

    pub fn is_compatible(&self, compat: &str) -> bool {
        self.compatible().any(|c| c == compat)
    }

    /// `reg` entries decoded with `bus_cells`; `None` without a `reg` property.
    pub fn reg(&self) -> Option<Result<Reg<'a>, RegError>> {
        Some(self.bus_cells().reg(self.property("reg")?.value))
    }
}

impl<'a> Property<'a> {
    /// The value as one string (the first, without its NUL).
    pub fn as_str(&self) -> Option<&'a str> {
        self.strings().next()
    }

    /// The NUL-separated strings of a string-list value.
    pub fn strings(&self) -> impl Iterator<Item = &'a str> + 'a {
        let v = self.value;
        let v = v.strip_suffix(&[0]).unwrap_or(v);
        v.split(|&c| c == 0).filter_map(|s| core::str::from_utf8(s).ok()).filter(|_| !v.is_empty())
    }

    /// A one-cell value.
    pub fn as_u32(&self) -> Option<u32> {
        (self.value.len() == 4).then(|| be32(self.value, 0)).flatten()
    }
}

#[cfg(test)]
#[path = "fdt_diff_tests.rs"]
mod diff_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    use crate::of::testblob::{cells, Builder};

    /// The shape QEMU leaves after editing a -dtb file: NOPs between properties, between
    /// children and where a node was removed.
    fn qemu_like_blob() -> Vec<u8> {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.nop();
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.nop();
        b.nop();
        b.begin("memory@40000000");
        b.prop("device_type", b"memory\0");
        b.nop();
        b.prop("reg", &cells(0x4000_0000, 0x4000_0000));
        b.end();
        b.nop(); // a removed node leaves NOPs in its place
        b.nop();
        b.begin("chosen");
        b.nop();
        b.prop("bootargs", b"loglevel=8\0");
        b.prop("stdout-path", b"/pl011@9000000\0");
        b.end();
        b.begin("pl011@9000000");
        b.prop("compatible", b"arm,pl011\0arm,primecell\0");
        b.prop("reg", &cells(0x0900_0000, 0x1000));
        b.end();
        b.end();
        b.finish(&[(0x4800_0000, 0x1_0000)])
    }

    #[test]
    fn nops_between_properties_and_nodes_are_skipped() {
        let blob = qemu_like_blob();
        let fdt = Fdt::new(&blob).unwrap();
        let chosen = fdt.find_node("/chosen").expect("/chosen after NOPs");
        assert_eq!(chosen.property("bootargs").and_then(|p| p.as_str()), Some("loglevel=8"));
        let names: Vec<&str> = fdt.root().unwrap().children().map(|n| n.name).collect();
        assert_eq!(names, ["memory@40000000", "chosen", "pl011@9000000"]);
        let reg = |n: Node| n.reg().unwrap().unwrap().collect::<Vec<_>>();
        assert_eq!(reg(fdt.find_node("/memory").unwrap()), [(0x4000_0000, 0x4000_0000)]);
        let uart = fdt.find_node("/pl011@9000000").unwrap();
        assert!(uart.is_compatible("arm,primecell"));
        assert_eq!(reg(uart), [(0x0900_0000, 0x1000)]);
        assert_eq!(fdt.all_nodes().count(), 4, "root + three children");
        assert_eq!(fdt.memory_reservations().collect::<Vec<_>>(), [(0x4800_0000, 0x1_0000)]);
    }

    /// Every node found again from its offset, in a copy of the blob at another address, with
    /// the same name, place in the tree (its children) and cells; an offset where no node
    /// begins finds nothing.
    #[test]
    fn node_offsets_find_the_node_again_in_a_copy() {
        let blob = qemu_like_blob();
        let copy = blob.clone();
        let (fdt, moved) = (Fdt::new(&blob).unwrap(), Fdt::new(&copy).unwrap());
        for node in fdt.all_nodes() {
            let again = moved.node_at(node.offset()).expect("a node begins at its offset");
            assert_eq!(again.name, node.name);
            assert!(copy.as_ptr_range().contains(&again.name.as_ptr()), "{} read from the copy", node.name);
            assert_eq!(again.bus_cells(), node.bus_cells());
            let names = |n: Node| n.children().map(|c| c.name.to_string()).collect::<Vec<_>>();
            assert_eq!(names(again), names(node));
        }
        // The root's first property is no node.
        let root = fdt.root().unwrap();
        let past_name = NodeOffset { offset: root.body as u32, ..root.offset() };
        assert!(fdt.node_at(past_name).is_none());
    }

    /// A name that is not UTF-8 ends every walk where it stands, also walks that only skip
    /// past it (a sibling's subtree, the properties before the one looked for); a blob without
    /// one is found clean and skipped through without decoding, with the same results.
    #[test]
    fn a_bad_name_ends_skipping_walks_as_it_ends_decoding_ones() {
        let mut b = Builder::new();
        b.begin("");
        b.begin("a");
        b.prop("xbad", b"\0");
        b.prop("reg", &cells(1, 2));
        b.end();
        b.begin("b");
        b.end();
        b.end();
        let good = b.finish(&[]);
        let fdt = Fdt::new(&good).unwrap();
        assert!(fdt.clean);
        let children = |f: &Fdt| f.root().unwrap().children().map(|n| n.name.to_string()).collect::<Vec<_>>();
        assert_eq!(children(&fdt), ["a", "b"]);
        assert!(fdt.find_node("/a").unwrap().property("reg").is_some());

        // The same blob with the first byte of "xbad" in the strings block made 0xff.
        let mut bad = good.clone();
        let at = bad.windows(5).position(|w| w == b"xbad\0").unwrap();
        bad[at] = 0xff;
        let fdt = Fdt::new(&bad).unwrap();
        assert!(!fdt.clean);
        assert_eq!(children(&fdt), ["a"], "skipping a's subtree stops at the bad name");
        let a = fdt.find_node("/a").unwrap();
        assert!(a.property("reg").is_none(), "the lookup stops at the bad name before reg");
        assert_eq!(a.properties().count(), 0);
    }

    /// The walk of every node lists a node nested 64 deep without its subtree, then goes on
    /// with the siblings of its ancestors: root, a chain of 70 nodes `n` (levels 1..=70), then
    /// `b` beside the chain's top: root, levels 1..=64, b. Each node's cells come from its
    /// parent: `c` under a node of `#address-cells = <1>` reads one-cell addresses.
    #[test]
    fn every_node_once_in_order_with_its_parents_cells() {
        let mut b = Builder::new();
        b.begin("");
        for _ in 0..70 {
            b.begin("n");
        }
        for _ in 0..70 {
            b.end();
        }
        b.begin("b");
        b.prop("#address-cells", &1u32.to_be_bytes());
        b.prop("#size-cells", &1u32.to_be_bytes());
        b.begin("c@10");
        b.prop("reg", &[0, 0, 0, 0x10, 0, 0, 0, 0x20]);
        b.end();
        b.end();
        b.end();
        let blob = b.finish(&[]);
        let fdt = Fdt::new(&blob).unwrap();
        let names: Vec<&str> = fdt.all_nodes().map(|n| n.name).collect();
        assert_eq!(names.len(), 1 + 64 + 2, "{names:?}");
        assert_eq!((names[0], names[64], names[65], names[66]), ("", "n", "b", "c@10"));
        let c = fdt.all_nodes().last().unwrap();
        // Tokens after the root's end (a second top-level node) are no part of the tree.
        let mut two = Builder::new();
        two.begin("");
        two.end();
        two.begin("x");
        two.end();
        let two = two.finish(&[]);
        assert_eq!(Fdt::new(&two).unwrap().all_nodes().count(), 1);
        assert_eq!(c.reg().unwrap().unwrap().collect::<Vec<_>>(), [(0x10, 0x20)]);
        assert_eq!(c.offset(), fdt.find_node("/b/c@10").unwrap().offset());
    }

    /// `chosen()` is `find_node("/chosen")` in one step: the first child of the root called
    /// `chosen` or `chosen@…`, never a deeper one nor one outside the root, and none past a
    /// token that does not read.
    #[test]
    fn chosen_is_what_find_node_finds() {
        let tree = |names: &[(&str, u32)], bad_before: bool| {
            let mut b = Builder::new();
            b.begin("");
            if bad_before {
                b.prop("xbad", b"\0");
            }
            for &(name, depth) in names {
                for _ in 0..depth {
                    b.begin("bus");
                }
                b.begin(name);
                b.prop("bootargs", name.as_bytes());
                b.end();
                for _ in 0..depth {
                    b.end();
                }
            }
            b.end();
            let mut blob = b.finish(&[]);
            if bad_before {
                let at = blob.windows(5).position(|w| w == b"xbad\0").unwrap();
                blob[at] = 0xff;
            }
            blob
        };
        // (root children as (name, depth below a chain of `bus` nodes), a bad token first,
        // the node `/chosen` names)
        type Case<'c> = (&'c [(&'c str, u32)], bool, Option<&'c str>);
        let cases: [Case; 6] = [
            (&[("a", 0), ("chosen", 0)], false, Some("chosen")),
            (&[("chosen@0", 0), ("chosen", 0)], false, Some("chosen@0")),
            (&[("chosen", 1), ("chosenx", 0)], false, None),
            (&[("a", 0)], false, None),
            (&[("chosen", 0)], true, None),
            (&[("chosen", 2), ("chosen", 0)], false, Some("chosen")),
        ];
        for (names, bad, want) in cases {
            let blob = tree(names, bad);
            let fdt = Fdt::new(&blob).unwrap();
            let found = fdt.find_node("/chosen");
            assert_eq!(found.map(|n| n.name), want, "{names:?}");
            assert_eq!(fdt.chosen().map(|n| n.offset()), found.map(|n| n.offset()), "{names:?}");
            assert_eq!(fdt.chosen().and_then(|n| n.property("bootargs")).map(|p| p.value), found.and_then(|n| n.property("bootargs")).map(|p| p.value));
        }
        // A second top-level node's child called chosen is not the root's.
        let mut b = Builder::new();
        b.begin("");
        b.end();
        b.begin("x");
        b.begin("chosen");
        b.end();
        b.end();
        let blob = b.finish(&[]);
        let fdt = Fdt::new(&blob).unwrap();
        assert!(fdt.find_node("/chosen").is_none() && fdt.chosen().is_none());
    }

    /// A copy of the blob at another address reads as the original, its `/chosen` included,
    /// without a new walk; a copy whose header differs, or that is cut short, is refused.
    #[test]
    fn remap_reads_a_copy_and_refuses_another_blob() {
        let blob = qemu_like_blob();
        let fdt = Fdt::new(&blob).unwrap();
        let mut copy = blob.clone();
        copy.extend_from_slice(&[0xaa; 64]); // more mapped than the blob holds
        let moved = fdt.remap(&copy).unwrap();
        assert_eq!(moved.total_size(), blob.len());
        assert_eq!(moved.data.as_ptr(), copy.as_ptr());
        assert_eq!(moved.chosen().map(|n| n.name), Some("chosen"));
        assert_eq!(moved.chosen().and_then(|n| n.property("bootargs")).map(|p| p.value), Some(&b"loglevel=8\0"[..]));
        let names: Vec<_> = moved.all_nodes().map(|n| n.name).collect();
        assert_eq!(names, ["", "memory@40000000", "chosen", "pl011@9000000"]);
        assert!(matches!(fdt.remap(&copy[..blob.len() - 1]), Err(DtbError::Unparsable)));
        assert!(matches!(fdt.remap(&copy[..FDT_HEADER_SIZE - 1]), Err(DtbError::Unparsable)));
        let mut other = blob.clone();
        other[4..8].copy_from_slice(&(blob.len() as u32 - 4).to_be_bytes()); // totalsize
        assert!(matches!(fdt.remap(&other), Err(DtbError::Unparsable)));
    }

    /// A node found from an offset that points at NOPs before it has its own offset, the
    /// BEGIN_NODE token's, as every walk gives it: QEMU leaves NOPs, also before the root.
    #[test]
    fn a_node_found_past_nops_has_its_own_offset() {
        let mut b = Builder::new();
        b.nop();
        b.nop();
        b.begin("");
        b.nop();
        b.begin("a");
        b.end();
        b.end();
        let blob = b.finish(&[]);
        let fdt = Fdt::new(&blob).unwrap();
        let root = fdt.root().unwrap();
        assert_eq!(root.offset(), fdt.all_nodes().next().unwrap().offset());
        assert_eq!(root.offset().offset, 8, "past the two NOPs");
        let a = fdt.find_node("/a").unwrap();
        let before_a = NodeOffset { offset: a.offset().offset - 4, ..a.offset() };
        assert_eq!(fdt.node_at(before_a).map(|n| n.offset()), Some(a.offset()));
    }

    #[test]
    fn malformed_blobs_are_values_not_panics() {
        let blob = qemu_like_blob();
        // Truncated structure block: lookups fail, nothing panics.
        let mut cut = blob.clone();
        let struct_off = u32::from_be_bytes(cut[8..12].try_into().unwrap()) as usize;
        for b in &mut cut[struct_off + 40..struct_off + 60] {
            *b = 0xff;
        }
        let fdt = Fdt::new(&cut).unwrap();
        let _ = fdt.all_nodes().count();
        let _ = fdt.find_node("/chosen");
        // Bad magic and a totalsize beyond the buffer are errors.
        let mut bad = blob.clone();
        bad[0] = 0;
        assert!(Fdt::new(&bad).is_err());
        assert!(Fdt::new(&blob[..blob.len() - 1]).is_err());
    }
}
