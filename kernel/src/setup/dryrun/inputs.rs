//! What a bootloader gives the kernel besides the blob, for the dry-run: the RAM it writes into
//! `/memory` (U-Boot's `fdt_fixup_memory_banks`, QEMU's `arm_load_dtb`), and where it puts the
//! kernel image (arm64's booting.rst: `text_offset` above a 2 MiB aligned base in RAM; QEMU's
//! loader takes the lowest RAM bank's base).
//!
//! The memory is written into the blob ([`fdt_edit`](super::fdt_edit)), never fed to memblock
//! directly, so that the boot's own scan (`early_init_dt_scan_memory`) reads it, as on the board.
//! A tree whose `/memory` is missing or empty (the bootloader fills it in) gets
//! [`ASSUMED_RAM`] at the lowest address the tree suggests, with one warning that says what was
//! assumed, why there, and how to choose otherwise ([`fill_empty_memory`]).
//!
//! Nothing here panics on what a blob holds; every refusal is one line naming the value.

use super::fdt_edit::{EditNode, EditTree};
use crate::of::cells::{dt_root, entries, number, Cells};
use crate::of::fdt::{Fdt, Node};
use crate::of::fdt_scan::memory_nodes;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The RAM assumed for a tree that describes none: 1 GiB, enough for any of the trees' own
/// reservations to have room and small enough to simulate in a few milliseconds.
pub const ASSUMED_RAM: u64 = 1 << 30;

const SZ_2M: u64 = 2 << 20;
const SZ_1G: u64 = 1 << 30;

/// A number as the dry-run's options write them: decimal, or hexadecimal after `0x`.
pub fn number_arg(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("'{s}' is not a number"))
}

/// One `--mem` option: banks for one memory node (by name, `memory@80000000`), or for the
/// whole machine (`node: None`: every memory node is replaced by one `memory@BASE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemOption {
    pub node: Option<String>,
    pub banks: Vec<(u64, u64)>,
}

impl MemOption {
    /// `BASE,SIZE[,BASE,SIZE…]` or `NODE:BASE,SIZE[,…]`.
    pub fn parse(s: &str) -> Result<MemOption, String> {
        let (node, list) = match s.split_once(':') {
            Some((node, list)) => (Some(node.trim_start_matches('/').to_string()), list),
            None => (None, s),
        };
        let numbers: Vec<u64> = list.split(',').map(number_arg).collect::<Result<_, _>>()?;
        if numbers.len() % 2 != 0 {
            return Err(format!("--mem '{s}': BASE,SIZE pairs expected"));
        }
        let banks: Vec<(u64, u64)> = numbers.chunks(2).map(|p| (p[0], p[1])).collect();
        if let Some(&(base, size)) = banks.iter().find(|(b, s)| b.checked_add(*s).is_none()) {
            return Err(format!(
                "--mem '{s}': bank {base:#x},{size:#x} runs past the end of the address space"
            ));
        }
        Ok(MemOption { node, banks })
    }
}

/// `reg` for `banks` in the root's cells, or why a number does not fit them.
fn encode_reg(cells: Cells, banks: &[(u64, u64)]) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    for &(base, size) in banks {
        for (value, count, what) in [
            (base, cells.addr, "#address-cells"),
            (size, cells.size, "#size-cells"),
        ] {
            match count {
                1 if value <= u32::MAX as u64 => v.extend_from_slice(&(value as u32).to_be_bytes()),
                2 => v.extend_from_slice(&value.to_be_bytes()),
                _ => {
                    return Err(format!(
                        "{value:#x} does not fit the root's {what} = <{count}>"
                    ))
                }
            }
        }
    }
    Ok(v)
}

fn memory_node(name: &str, reg: Vec<u8>) -> EditNode {
    let mut node = EditNode::new(name);
    node.set_prop("device_type", b"memory\0".to_vec());
    node.set_prop("reg", reg);
    node
}

/// A root child that the boot's memory scan reads (`fdt_scan::memory_nodes`).
fn is_memory(node: &EditNode) -> bool {
    node.prop("device_type") == Some(b"memory\0")
}

/// The blob with `/memory` as `opts` say, as a bootloader writes it. A node named in an option
/// gets that option's banks (added as a memory node when missing); an option without a node
/// replaces every memory node by one `memory@BASE` holding all its banks, as QEMU does.
pub fn apply_mem(blob: &[u8], opts: &[MemOption]) -> Result<Vec<u8>, String> {
    let fdt = Fdt::new(blob).map_err(|e| format!("cannot rewrite /memory: {e}"))?;
    let cells = dt_root(&fdt);
    let mut tree = EditTree::read(blob).ok_or("cannot rewrite /memory: the tree has no root")?;
    for opt in opts {
        let reg = encode_reg(cells, &opt.banks).map_err(|e| format!("--mem: {e}"))?;
        match &opt.node {
            None => {
                tree.root.children.retain(|c| !is_memory(c));
                let base = opt.banks.first().map_or(0, |b| b.0);
                tree.root
                    .children
                    .push(memory_node(&format!("memory@{base:x}"), reg));
            }
            Some(name) => match tree.root.children.iter_mut().find(|c| c.name == *name) {
                Some(node) => {
                    node.set_prop("device_type", b"memory\0".to_vec());
                    node.props.retain(|(n, _)| n != "linux,usable-memory");
                    node.set_prop("reg", reg);
                }
                None => tree.root.children.push(memory_node(name, reg)),
            },
        }
    }
    Ok(tree.write())
}

/// The memory node's banks as the boot's scan reads them (`linux,usable-memory` over `reg`),
/// `None` when they cannot be decoded.
fn banks_of(node: &Node, cells: Cells) -> Option<Vec<(u64, u64)>> {
    let prop = node
        .property("linux,usable-memory")
        .or_else(|| node.property("reg"))?;
    Some(cells.reg(prop.value).ok()?.collect())
}

/// Where RAM is assumed to start in a tree that gives none, and why there.
fn suggested_base(fdt: &Fdt, empty: Option<&Node>) -> (u64, String) {
    if let Some(node) = empty {
        if let Some(&(base, _)) = banks_of(node, dt_root(fdt)).unwrap_or_default().first() {
            return (base, "the node's reg".into());
        }
        if let Some(base) = node
            .name
            .split_once('@')
            .and_then(|(_, a)| u64::from_str_radix(a, 16).ok())
        {
            return (base, "the node's unit address".into());
        }
    }
    let reserved = fdt
        .find_node("/reserved-memory")
        .into_iter()
        .flat_map(|r| r.children())
        .filter_map(|c| {
            let base = c.reg()?.ok()?.find(|&(_, size)| size > 0)?.0;
            Some((base, format!("/reserved-memory/{}", c.name)))
        });
    let memreserve = fdt
        .memory_reservations()
        .filter(|&(_, size)| size > 0)
        .map(|(base, _)| (base, "/memreserve/".to_string()));
    if let Some((lowest, what)) = reserved.chain(memreserve).min_by_key(|(b, _)| *b) {
        return (
            lowest & !(SZ_1G - 1),
            format!("the 1 GiB that holds {what} at {lowest:#x}"),
        );
    }
    let devices = device_ranges(fdt);
    let free = (0u64..1 << 18).map(|k| k * SZ_1G).find(|&a| {
        !devices
            .iter()
            .any(|&(b, s)| s > 0 && b < a + SZ_1G && a < b.saturating_add(s))
    });
    (
        free.unwrap_or(0),
        "the lowest 1 GiB that no device's reg uses".into(),
    )
}

/// Every device's `reg` translated to the root's address space through its buses' `ranges`;
/// a subtree whose bus has no `ranges` (or one that cannot be decoded) is not translated.
fn device_ranges(fdt: &Fdt) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for child in fdt.root().into_iter().flat_map(|r| r.children()) {
        let skip = ["chosen", "aliases", "cpus", "reserved-memory", "memory"];
        if !skip.contains(&child.base_name())
            && child.property("device_type").is_none()
        {
            walk(&child, None, &mut out, 1);
        }
    }
    out
}

/// `map`: the windows `(child base, root base, size)` of the buses above `node`; `None` at the
/// root's level, where addresses are the root's.
fn walk(node: &Node, map: Option<&[(u64, u64, u64)]>, out: &mut Vec<(u64, u64)>, depth: usize) {
    let translate = |addr: u64| match map {
        None => Some(addr),
        Some(windows) => windows
            .iter()
            .find(|&&(c, _, s)| addr >= c && addr - c < s)
            .map(|&(c, r, _)| r + (addr - c)),
    };
    if depth > 32 {
        return;
    }
    if let Some(Ok(reg)) = node.reg() {
        out.extend(reg.filter_map(|(a, s)| Some((translate(a)?, s))));
    }
    let Some(ranges) = node.property("ranges") else {
        return;
    };
    let windows: Option<Vec<(u64, u64, u64)>> = if ranges.value.is_empty() {
        map.map(<[_]>::to_vec)
    } else {
        let (child, parent) = (node.child_cells(), node.bus_cells());
        let Ok(list) = entries(ranges.value, &[child.addr, parent.addr, child.size]) else {
            return;
        };
        let (ca, pa) = (child.addr as usize * 4, parent.addr as usize * 4);
        Some(
            list.filter_map(|e| {
                Some((
                    number(&e[..ca]),
                    translate(number(&e[ca..ca + pa]))?,
                    number(&e[ca + pa..]),
                ))
            })
            .collect(),
        )
    };
    for child in node.children() {
        walk(&child, windows.as_deref(), out, depth + 1);
    }
}

/// The blob with [`ASSUMED_RAM`] written into its memory node when no memory node gives any
/// RAM (the bootloader fills it in), and the warning that says so; `None` when the tree has
/// RAM, or a memory node whose value cannot be decoded (the boot reports that itself).
pub fn fill_empty_memory(blob: &[u8]) -> Option<(Vec<u8>, String)> {
    let fdt = Fdt::new(blob).ok()?;
    let cells = dt_root(&fdt);
    let mut empty = None;
    for node in memory_nodes(&fdt) {
        let has_value = node
            .property("linux,usable-memory")
            .or_else(|| node.property("reg"))
            .is_some();
        let banks = if has_value {
            banks_of(&node, cells)?
        } else {
            Vec::new()
        };
        if banks.iter().any(|&(_, size)| size > 0) {
            return None;
        }
        empty = empty.or(Some(node));
    }
    let (base, why) = suggested_base(&fdt, empty.as_ref());
    let (name, what) = match &empty {
        Some(node) if node.property("reg").is_some() => (node.name.to_string(), "has size 0"),
        Some(node) => (node.name.to_string(), "has no reg"),
        None => (format!("memory@{base:x}"), "is missing"),
    };
    let opt = MemOption {
        node: Some(name.clone()),
        banks: alloc::vec![(base, ASSUMED_RAM)],
    };
    let out = apply_mem(blob, &[opt]).ok()?;
    let warning = format!(
        "/{name} {what} (a bootloader fills it in): assumed {} MiB at {base:#x} ({why}); give --mem BASE,SIZE for the board's RAM",
        ASSUMED_RAM >> 20
    );
    Some((out, warning))
}

/// The lowest base of RAM the boot's scan would add (banks of size 0 are skipped).
pub fn lowest_ram(blob: &[u8]) -> Option<u64> {
    let fdt = Fdt::new(blob).ok()?;
    let cells = dt_root(&fdt);
    memory_nodes(&fdt)
        .filter_map(|n| banks_of(&n, cells))
        .flatten()
        .filter(|&(_, size)| size > 0)
        .map(|(base, _)| base)
        .min()
}

/// Where a loader puts `_stext` of an image whose `_stext` lies `offset` bytes above its
/// load base: `offset` above the lowest RAM bank's base, aligned up to 2 MiB (booting.rst; QEMU
/// loads the Image at the RAM base plus text_offset). `None` when the tree has no RAM or the
/// address would pass the end of the address space.
pub fn image_base(blob: &[u8], offset: u64) -> Option<u64> {
    lowest_ram(blob)?
        .checked_add(SZ_2M - 1)
        .map(|b| b & !(SZ_2M - 1))?
        .checked_add(offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::of::testblob::{cells, Builder};

    /// A root with two-cell numbers, an optional memory node and a bus with one device.
    fn tree(memory: Option<(&str, Option<(u64, u64)>)>, reserved: Option<u64>) -> Vec<u8> {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        if let Some((name, reg)) = memory {
            b.begin(name);
            b.prop("device_type", b"memory\0");
            if let Some((base, size)) = reg {
                b.prop("reg", &cells(base, size));
            }
            b.end();
        }
        if let Some(base) = reserved {
            b.begin("reserved-memory");
            b.prop("#address-cells", &2u32.to_be_bytes());
            b.prop("#size-cells", &2u32.to_be_bytes());
            b.prop("ranges", b"");
            b.begin("fw");
            b.prop("reg", &cells(base, 0x10000));
            b.end();
            b.end();
        }
        // soc: 1-cell children, mapped from child 0 to root 0x0 for 1 GiB:
        // the uart at child 0x1c28000 is at root 0x1c28000, inside [0, 1 GiB).
        b.begin("soc");
        b.prop("#address-cells", &1u32.to_be_bytes());
        b.prop("#size-cells", &1u32.to_be_bytes());
        b.prop(
            "ranges",
            &[0u32, 0, 0, 0x4000_0000]
                .iter()
                .flat_map(|c| c.to_be_bytes())
                .collect::<Vec<u8>>(),
        );
        b.begin("uart@1c28000");
        b.prop(
            "reg",
            &[0x1c2_8000u32, 0x400]
                .iter()
                .flat_map(|c| c.to_be_bytes())
                .collect::<Vec<u8>>(),
        );
        b.end();
        b.end();
        b.end();
        b.finish(&[])
    }

    fn ram(blob: &[u8]) -> Vec<(String, Vec<(u64, u64)>)> {
        let fdt = Fdt::new(blob).unwrap();
        memory_nodes(&fdt)
            .map(|n| (n.name.to_string(), banks_of(&n, dt_root(&fdt)).unwrap()))
            .collect()
    }

    #[test]
    fn a_tree_with_ram_is_left_alone() {
        assert!(fill_empty_memory(&tree(
            Some(("memory@40000000", Some((0x4000_0000, 0x100_0000)))),
            None
        ))
        .is_none());
    }

    #[test]
    fn a_size_0_node_keeps_its_base() {
        let (out, warning) = fill_empty_memory(&tree(
            Some(("memory@80000000", Some((0x8000_0000, 0)))),
            None,
        ))
        .unwrap();
        assert_eq!(
            ram(&out),
            vec![("memory@80000000".to_string(), vec![(0x8000_0000, 1 << 30)])]
        );
        assert!(warning.starts_with("/memory@80000000 has size 0 (a bootloader fills it in): assumed 1024 MiB at 0x80000000 (the node's reg)"), "{warning}");
    }

    #[test]
    fn a_node_without_reg_uses_its_unit_address() {
        let (out, warning) =
            fill_empty_memory(&tree(Some(("memory@a0000000", None)), None)).unwrap();
        assert_eq!(
            ram(&out),
            vec![("memory@a0000000".to_string(), vec![(0xa000_0000, 1 << 30)])]
        );
        assert!(
            warning.contains("has no reg") && warning.contains("unit address"),
            "{warning}"
        );
    }

    #[test]
    fn a_reservation_places_the_assumed_ram() {
        // The lowest reservation at 0x8f000000 lies in the 1 GiB-aligned [0x80000000, 0xc0000000).
        let (out, warning) = fill_empty_memory(&tree(None, Some(0x8f00_0000))).unwrap();
        assert_eq!(
            ram(&out),
            vec![("memory@80000000".to_string(), vec![(0x8000_0000, 1 << 30)])]
        );
        assert!(
            warning.contains("/memory@80000000 is missing")
                && warning.contains("/reserved-memory/fw at 0x8f000000"),
            "{warning}"
        );
    }

    #[test]
    fn without_hints_ram_goes_where_no_device_is() {
        // The uart at 0x1c28000 (through soc's ranges) rules out [0, 1 GiB); the next 1 GiB is free.
        let (out, warning) = fill_empty_memory(&tree(None, None)).unwrap();
        assert_eq!(
            ram(&out),
            vec![("memory@40000000".to_string(), vec![(0x4000_0000, 1 << 30)])]
        );
        assert!(warning.contains("no device's reg"), "{warning}");
    }

    #[test]
    fn mem_replaces_every_memory_node_or_one() {
        let blob = tree(
            Some(("memory@40000000", Some((0x4000_0000, 0x100_0000)))),
            None,
        );
        let all = apply_mem(
            &blob,
            &[MemOption::parse("0x80000000,0x1000000,0x100000000,0x2000000").unwrap()],
        )
        .unwrap();
        assert_eq!(
            ram(&all),
            vec![(
                "memory@80000000".to_string(),
                vec![(0x8000_0000, 0x100_0000), (0x1_0000_0000, 0x200_0000)]
            )]
        );
        let one = apply_mem(
            &blob,
            &[MemOption::parse("memory@c0000000:0xc0000000,0x1000").unwrap()],
        )
        .unwrap();
        assert_eq!(
            ram(&one),
            vec![
                (
                    "memory@40000000".to_string(),
                    vec![(0x4000_0000, 0x100_0000)]
                ),
                ("memory@c0000000".to_string(), vec![(0xc000_0000, 0x1000)])
            ]
        );
    }

    #[test]
    fn mem_is_checked() {
        assert!(MemOption::parse("0x1000").unwrap_err().contains("pairs"));
        assert!(MemOption::parse("0xffffffffffffffff,2")
            .unwrap_err()
            .contains("past the end"));
        assert!(MemOption::parse("x,1")
            .unwrap_err()
            .contains("'x' is not a number"));
    }

    #[test]
    fn the_image_goes_above_the_2m_aligned_lowest_bank() {
        // RAM from 0x80100000: the load base is 0x80200000, _stext 0x210000 above it.
        let blob = tree(
            Some(("memory@80100000", Some((0x8010_0000, 0x100_0000)))),
            None,
        );
        assert_eq!(image_base(&blob, 0x21_0000), Some(0x8041_0000));
    }
}
