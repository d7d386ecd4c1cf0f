//! Host tests of `fdt_scan::smp_init_cpus`: which CPU nodes become possible CPUs and the lines
//! arm64's `smp_init_cpus` prints on the way. Each expected line is worked from Linux 6.1's
//! `of_parse_and_init_cpus`, `smp_cpu_setup`, `init_cpu_ops` and `smp_spin_table_cpu_init`,
//! and the tree of the first test was booted with Debian's 6.1 in QEMU virt (`-smp 1`): it
//! printed the same lines in the same order.

use super::fdt::Fdt;
use super::fdt_scan::{smp_init_cpus, NR_CPUS};
use super::testblob::Builder;
use std::string::{String, ToString};
use std::vec::Vec;

/// `/cpus` (one address cell) with one child per `(name, reg, props)`.
fn cpus(nodes: &[(&str, u32, &[(&str, &[u8])])]) -> Vec<u8> {
    let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 0x4000_0000);
    b.begin("cpus");
    b.prop("#address-cells", &1u32.to_be_bytes());
    b.prop("#size-cells", &0u32.to_be_bytes());
    for (name, reg, props) in nodes {
        b.begin(name);
        b.prop("device_type", b"cpu\0");
        b.prop("reg", &reg.to_be_bytes());
        for (p, v) in *props {
            b.prop(p, v);
        }
        b.end();
    }
    b.end();
    b.end();
    b.finish(&[])
}

/// Possible CPUs and the lines, booted on the CPU of MPIDR affinity 0.
fn run(blob: &[u8]) -> (u32, Vec<String>) {
    run_limited(blob, NR_CPUS)
}

/// As `run`, with `nr_cpu_ids` as `nr_cpus=` leaves it.
fn run_limited(blob: &[u8], nr_cpu_ids: u32) -> (u32, Vec<String>) {
    let fdt = Fdt::new(blob).unwrap();
    let mut lines = Vec::new();
    let n = smp_init_cpus(&fdt, 0, nr_cpu_ids, &mut |_, a| lines.push(a.to_string()));
    (n, lines)
}

/// Every way a CPU node can fail, in one tree. Logical ids are taken in node order by every
/// node but the boot CPU's, failed or not: cpu@5 repeats cpu@1's MPIDR (said at once, id 5
/// spent), cpu@7 repeats the boot CPU's, cpu@8's reg 0x1000000 sets bits outside
/// MPIDR_HWID_BITMASK (skipped without a word). Then each kept secondary's enable-method:
/// cpu@1 psci and cpu@4 spin-table with its release address are possible; cpu@2 has none,
/// cpu@3's spin-table lacks the address, cpu@6's method is unknown. 1 + 2 possible.
#[test]
fn each_failure_as_linux_says_it() {
    let psci: &[(&str, &[u8])] = &[("enable-method", b"psci\0")];
    let (n, lines) = run(&cpus(&[
        ("cpu@0", 0, &[]),
        ("cpu@1", 1, psci),
        ("cpu@2", 2, &[]),
        ("cpu@3", 3, &[("enable-method", b"spin-table\0")]),
        ("cpu@4", 4, &[("enable-method", b"spin-table\0"), ("cpu-release-addr", &0x4000_fff8u64.to_be_bytes())]),
        ("cpu@5", 1, psci),
        ("cpu@6", 6, &[("enable-method", b"foo\0")]),
        ("cpu@7", 0, psci),
        ("cpu@8", 0x100_0000, psci),
    ]));
    assert_eq!(
        lines,
        [
            "/cpus/cpu@5: duplicate cpu reg properties in the DT",
            "/cpus/cpu@7: duplicate boot cpu reg property in DT",
            "/cpus/cpu@2: missing enable-method property",
            "CPU 3: missing or invalid cpu-release-addr property",
            "Unsupported enable-method: foo",
        ]
    );
    assert_eq!(n, 3);
}

/// QEMU's own trees: `-smp 1` has one CPU node without an enable-method (the boot CPU needs
/// none); `-smp 4` gives every node `psci`. A node named `cpu@N` without `device_type` counts,
/// and without an enable-method it adds nothing (swiotlb's `area num` stays 1).
#[test]
fn qemu_trees() {
    assert_eq!(run(&cpus(&[("cpu@0", 0, &[])])), (1, Vec::new()));
    let psci: &[(&str, &[u8])] = &[("enable-method", b"psci\0")];
    let four = cpus(&[("cpu@0", 0, psci), ("cpu@1", 1, psci), ("cpu@2", 2, psci), ("cpu@3", 3, psci)]);
    assert_eq!(run(&four), (4, Vec::new()));
    let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 0x4000_0000);
    b.begin("cpus");
    b.prop("#address-cells", &1u32.to_be_bytes());
    b.begin("cpu@0");
    b.prop("device_type", b"cpu\0");
    b.prop("reg", &0u32.to_be_bytes());
    b.end();
    b.begin("cpu@7");
    b.prop("reg", &7u32.to_be_bytes());
    b.end();
    b.end();
    b.end();
    assert_eq!(run(&b.finish(&[])), (1, ["/cpus/cpu@7: missing enable-method property".to_string()].to_vec()));
}

/// Without a node for the boot CPU, no secondary is enabled, whatever their methods.
#[test]
fn no_boot_cpu_node_no_secondaries() {
    let psci: &[(&str, &[u8])] = &[("enable-method", b"psci\0")];
    let (n, lines) = run(&cpus(&[("cpu@1", 1, psci), ("cpu@2", 2, psci)]));
    assert_eq!((n, lines), (1, ["missing boot CPU MPIDR, not enabling secondaries".to_string()].to_vec()));
}

/// A `reg` too short for `/cpus`'s `#address-cells` (or cells of 0) is no MPIDR
/// (`of_get_cpu_hwid` returns ~0): without `#address-cells` in `/cpus` the root's 2 apply,
/// and one-cell regs name no CPU, not even the boot CPU.
#[test]
fn a_reg_the_cells_cannot_read_is_no_cpu() {
    let psci: &[(&str, &[u8])] = &[("enable-method", b"psci\0")];
    for cells in [None, Some(0u32)] {
        let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 0x4000_0000);
        b.begin("cpus");
        if let Some(c) = cells {
            b.prop("#address-cells", &c.to_be_bytes());
        }
        for (name, reg) in [("cpu@0", 0u32), ("cpu@1", 1)] {
            b.begin(name);
            b.prop("device_type", b"cpu\0");
            b.prop("reg", &reg.to_be_bytes());
            b.prop(psci[0].0, psci[0].1);
            b.end();
        }
        b.end();
        b.end();
        let (n, lines) = run(&b.finish(&[]));
        assert_eq!((n, lines), (1, ["missing boot CPU MPIDR, not enabling secondaries".to_string()].to_vec()), "cells {cells:?}");
    }
}

/// More CPU nodes than NR_CPUS (256): logical ids stop at 255, the rest are counted and
/// clipped with Linux's warning; the boot CPU and 255 secondaries are possible.
#[test]
fn more_cpus_than_nr_cpus_are_clipped() {
    let psci: &[(&str, &[u8])] = &[("enable-method", b"psci\0")];
    let names: Vec<String> = (0..258).map(|i| std::format!("cpu@{i:x}")).collect();
    let nodes: Vec<(&str, u32, &[(&str, &[u8])])> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32, psci)).collect();
    let (n, lines) = run(&cpus(&nodes));
    assert_eq!(lines, ["Number of cores (258) exceeds configured maximum of 256 - clipping"]);
    assert_eq!(n, 256);
    // Exactly 256 nodes fit: no warning.
    let (n, lines) = run(&cpus(&nodes[..256]));
    assert_eq!((n, lines.len()), (256, 0));
}

/// `nr_cpus=N` lowers nr_cpu_ids: Linux's clipping warning names N when there are more CPU
/// nodes, and only logical ids below N are set up (`for (i = 1; i < nr_cpu_ids; i++)`), so
/// the enable-method of a CPU past them is never looked at: cpu@3 has none and says nothing.
/// A limit of the node count or more changes nothing.
#[test]
fn nr_cpus_limits_the_possible_cpus() {
    let psci: &[(&str, &[u8])] = &[("enable-method", b"psci\0")];
    let tree = cpus(&[("cpu@0", 0, psci), ("cpu@1", 1, psci), ("cpu@2", 2, psci), ("cpu@3", 3, &[])]);
    let clip = |n: u32| std::format!("Number of cores (4) exceeds configured maximum of {n} - clipping");
    assert_eq!(run_limited(&tree, 1), (1, [clip(1)].to_vec()));
    assert_eq!(run_limited(&tree, 2), (2, [clip(2)].to_vec()));
    assert_eq!(run_limited(&tree, 3), (3, [clip(3)].to_vec()));
    assert_eq!(run_limited(&tree, 4), (3, ["/cpus/cpu@3: missing enable-method property".to_string()].to_vec()));
    // The boot CPU's node may come after the limit: it takes no logical id.
    let late_boot = cpus(&[("cpu@1", 1, psci), ("cpu@2", 2, psci), ("cpu@0", 0, psci)]);
    assert_eq!(run_limited(&late_boot, 2), (2, [std::format!("Number of cores (3) exceeds configured maximum of 2 - clipping")].to_vec()));
}
