//! Linux 6.1 as the oracle: Debian's arm64 kernel booted in the very QEMU machines the test
//! scenarios use, its memory-path lines kept under `linux-6.1/`, and ours compared with them.
//!
//! `cargo xtask linux-logs` downloads the newest `linux-image-6.1.0-NN-arm64-unsigned` with
//! `apt-get download` (the arm64 architecture must be known to dpkg), boots its `vmlinuz` with
//! each scenario's `BootOptions` (same `-m`, `-numa`, `-dtb`/overlay, initrd, command line)
//! plus `LINUX_APPEND`, and keeps its console up to the `Memory:` line, timestamps stripped.
//! Only that regeneration needs the network; `cargo xtask test` reads the committed files and
//! checks that every memory-path line Linux printed appears in our log, in order, byte for
//! byte, unless the scenario names the line as a known difference and says why.

use crate::qemu::{Guard, Machine};
use crate::test::{glob, message, scenarios, Scenario};
use crate::{root, tools, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the logs live in the repository.
pub const DIR: &str = "linux-6.1";

/// What Linux gets on top of the scenario's own command line, and why. Ours has no earlycon;
/// it changes no memory-path line. (The default CMA area is compared: ours reserves it too.)
const LINUX_APPEND: &str = "earlycon=pl011,0x9000000";

/// Scenarios not compared, and why. (One that does not complete our boot is never compared.)
const NOT_COMPARED: [(&str, &str); 2] = [
    ("totalram-1G", "mem-1G's machine with dyndbg=+p, for our own totalram_pages debug lines (Linux has none); no Linux log recorded for it"),
    (
    "memreserve-many",
    "Linux 6.1 stops as ours does, before any memory-path line past `efi: UEFI not found.`: early_pgtable_alloc's \
     `Kernel panic - not syncing: Failed to allocate page table page` in paging_init (booted with linux-logs), so \
     there is no `Memory:` line to compare",
    ),
];

/// A scenario Linux can boot: one that completes ours and is not in `NOT_COMPARED`.
pub fn compared(s: &Scenario) -> bool {
    s.expect.iter().any(|l| l == "boot: complete") && !NOT_COMPARED.iter().any(|(n, _)| *n == s.name)
}

/// A line of Linux's memory path: from `Machine model` through `Memory:`, what setup_arch
/// (with efi_init's verdict), the reserved-memory scan, NUMA, the zones, crashkernel=, the
/// memblock dump, smp_init_cpus's clipping and mm_init print (swiotlb's lines among them).
pub fn memory_path(line: &str) -> bool {
    const PREFIXES: [&str; 32] = [
        "Machine model: ",
        "efi: ",
        "OF: fdt: ",
        "OF: reserved mem: ",
        "Reserved memory: ",
        "Memory limited to ",
        "cma: ",
        "NUMA: ",
        "Zone ranges:",
        "  DMA ",
        "  DMA32 ",
        "  Normal ",
        "Movable zone start for each node",
        "Early memory node ranges",
        "  node ",
        "Initmem setup node ",
        "On node ",
        "MEMBLOCK configuration:",
        " memory size = ",
        " memory.cnt ",
        " memory[",
        " reserved.cnt ",
        " reserved[",
        "Number of cores ",
        "Fallback order for Node ",
        "Built ",
        "Policy zone: ",
        "software IO TLB: ",
        "crashkernel",
        "cannot allocate crashkernel",
        "hugetlb_cma: ",
        "Memory: ",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

/// A line Linux prints that ours is allowed to print differently (or not at all).
pub struct Difference {
    /// Matches Linux's line (`*` as in the scenarios).
    pub linux: String,
    /// What our log must have in its place; `None`: nothing (Linux does something we do not).
    pub ours: Option<String>,
    pub why: &'static str,
}

/// Our line may differ from Linux's where `pattern`'s `*` are, and must match the rest.
fn same(pattern: &str, why: &'static str) -> Difference {
    Difference { linux: pattern.into(), ours: Some(pattern.into()), why }
}

/// Differences every scenario has.
fn common(name: &str) -> Vec<Difference> {
    let mut v = vec![
        Difference {
            linux: "Memory: *K/*K available (*".into(),
            ours: Some("Memory: *K/{total}K available (*".into()),
            why: "Debian's kernel defers struct page init (its `available` counts only the pages initialised so far) and its image, memmap and percpu sizes differ: only the total must agree; each scenario pins our own figures",
        },
        same(
            "NUMA: NODE_DATA [mem *]",
            "NODE_DATA is allocated top-down below allocations whose sizes differ (Linux's memmap, percpu and page tables), and Linux's pglist_data is 0x2c80 bytes",
        ),
        same(
            " memory size = 0x* reserved size = 0x*",
            "the reserved total holds the kernel image, the memmap and the page tables, whose sizes differ",
        ),
        same(" reserved.cnt  = 0x*", "Linux's own allocations (percpu, memmap, page tables) are more entries than ours"),
        same(
            " reserved[0x0]\t[0x0000000040210000-0x*], 0x* bytes flags: 0x0",
            "the kernel image [_stext, _end): Debian's is 30 MiB, ours a few hundred KiB",
        ),
    ];
    // crashkernel= without a base goes top-down, below each kernel's own allocations: where
    // it lands differs as the default CMA area's does. Scenarios pin ours.
    v.push(same("crashkernel reserved: 0x* - 0x* (* MB)", "placed top-down below each kernel's own allocations (Linux's memmap, percpu and page tables differ from ours)"));
    v.push(same("crashkernel low memory reserved: 0x* - 0x* (* MB)", "placed top-down below the DMA limit, under each kernel's own allocations"));
    // The default CMA area goes top-down below the DMA limit, under each kernel's own
    // allocations at the top of RAM when RAM ends below 4 GiB: there its place differs. Where
    // the limit is 4 GiB and RAM passes it (4G, 6G), or `cma=` places it, it is compared.
    if !matches!(name, "mem-4G" | "zones-6G" | "selftest-buddy-6G") && !name.starts_with("cma-") {
        v.push(same(
            "cma: Reserved 64 MiB at 0x*",
            "top-down below Linux's memmap (16 MiB a GiB), percpu and page tables, whose sizes differ from ours",
        ));
    }
    // With an initrd, 0x48000000 holds the initrd (compared verbatim) and QEMU's own blob
    // follows it, 1 MiB whatever the command line.
    if name != "initrd" {
        v.push(same(
            " reserved[0x1]\t[0x0000000048000000-0x*], 0x* bytes flags: 0x0",
            "the blob, of fdt_totalsize: QEMU writes the command line into /chosen/bootargs of a -dtb blob, and Linux's is longer by LINUX_APPEND",
        ));
    }
    v
}

/// Linux's allocations from memblock at the top of memory (or of a node), reserved entries
/// starting with `0x{prefix}`: the sparse memmap (64 bytes a page: 16 MiB per GiB), percpu,
/// NODE_DATA and the page tables of its linear map, none of which ours has in that size.
fn linux_allocations(prefix: &str) -> Difference {
    Difference {
        linux: format!(" reserved[0x*]\t[0x{prefix}*"),
        ours: None,
        why: "Linux's own memblock allocations (memmap, percpu, NODE_DATA, page tables): sizes and places of its own",
    }
}

/// A scenario's own differences (beyond `common`).
fn differences(name: &str) -> Vec<Difference> {
    match name {
        // 1 GiB from 0x40000000: Linux's allocations take the top 20 MiB, from 0x7ec00000, and
        // its default CMA area lies right below them, merged: from 0x7ac00000.
        "reserved-memory" | "reserved-memory-badcells" | "initrd" | "initrd-cmdline" | "reserved-memory-200" | "mem-param-1"
        | "mem-param-garbage" => {
            vec![linux_allocations("000000007a"), linux_allocations("000000007e"), linux_allocations("000000007f")]
        }
        "reserved-memory-edge" => vec![linux_allocations("000000007e"), linux_allocations("000000007f")],
        // The two banks end at 0x80000000 as 1 GiB does: Linux's allocations at the top, and the
        // default CMA area merged below them, from 0x7b000000.
        "dtb-in-hole" => vec![linux_allocations("000000007b"), linux_allocations("000000007f")],
        // Two nodes of 512 MiB: each node's memmap and NODE_DATA at its own top, the CMA area
        // below node 1's.
        "numa-2" => vec![
            linux_allocations("000000005f"),
            linux_allocations("000000007b"),
            linux_allocations("000000007f"),
        ],
        // mem=512M: memory ends at 0x60000000.
        "memreserve-mem-limit" => vec![linux_allocations("000000005f")],
        // mem=512MB reads as mem=512M; the CMA area and the memmap merge from 0x5b600000.
        "mem-param-512MB" => vec![linux_allocations("000000005b"), linux_allocations("000000005f")],
        // mem=4095M of 6 GiB: memory ends at 0x13ff00000; Linux's memmap (64 MiB for 4 GiB)
        // from 0x13b600000, the rest from 0x13f6.. (the CMA area is below 4 GiB, compared).
        "mem-param-4095M" => vec![linux_allocations("000000013b"), linux_allocations("000000013f")],
        // kernel@40000000 (16 MiB) merges with the image: Linux's image ends past it, at
        // 0x4220b000; ours ends inside it, so the merged region is the node's 16 MiB.
        "reserved-memory-hostile" => vec![
            same(
                " reserved[0x0]\t[0x0000000040000000-0x*], 0x* bytes flags: 0x0",
                "kernel@40000000 merged with the image [_stext, _end), which ends past the node in Linux's (30 MiB) and inside it in ours",
            ),
            linux_allocations("000000007a"),
            linux_allocations("000000007f"),
        ],
        // Node 1's area goes top-down below what each kernel allocated at the node's top.
        "numa-hugetlb-cma" => vec![
            same(
                "cma: Reserved 1024 MiB at 0x00000000f*",
                "top-down on node 1 below each kernel's own allocations there (Linux's page tables and NODE_DATA take 10 MiB)",
            ),
            same(
                "software IO TLB: mapped [mem 0x*-0x*] (64MB)",
                "top-down below 4 GiB, under the CMA areas, whose places differ (above)",
            ),
        ],
        // Each node's area goes top-down below what that kernel allocated there first.
        "numa-cma-pernuma" => vec![same(
            "cma: Reserved 16 MiB at 0x*",
            "top-down on each node below each kernel's own allocations there (NODE_DATA's size differs)",
        )],
        // 2 GiB from 0x40000000: Linux's allocations (memmap, percpu, page tables) at the top,
        // from 0xbfbcc000, and the default CMA area below them, merged with its memmap.
        "crashkernel-fixed" => vec![linux_allocations("00000000b9"), linux_allocations("00000000bf")],
        // mem=768M: memory ends at 0x70000000, inside `cut` [0x6ff00000, 0x70100000): Linux's
        // allocations below it merge with it, as ours do (the scenario pins ours).
        "reserved-memory-edge-mem-limit" => vec![linux_allocations("000000006b"), linux_allocations("000000006f")],
        _ => Vec::new(),
    }
}

/// Check that every memory-path line of Linux's log for this scenario is in ours, in order.
pub fn agrees_with_linux(name: &str, log: &str) -> Result<()> {
    let path = root().join(DIR).join(format!("{name}.log"));
    let linux = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (regenerate with `cargo xtask linux-logs`)", path.display()))?;
    let ours: Vec<&str> = log.lines().map(message).collect();
    let known: Vec<Difference> = common(name).into_iter().chain(differences(name)).collect();
    let mut at = 0;
    // Once a reserved[] entry of Linux's own is skipped, the indices of the later ones differ.
    let mut skipped = false;
    for line in linux.lines().filter(|l| memory_path(l)) {
        let (want, wild, why) = match known.iter().find(|d| glob(&d.linux, line)) {
            Some(Difference { ours: None, .. }) => {
                skipped |= line.starts_with(" reserved[");
                continue;
            }
            Some(Difference { ours: Some(p), why, .. }) => {
                // `{total}`: the RAM after the slash of Linux's own Memory: line.
                let total = line.split_once('/').and_then(|(_, r)| r.split_once('K')).map_or("", |(t, _)| t);
                (p.replace("{total}", total), true, *why)
            }
            None => match line.strip_prefix(" reserved[").and_then(|r| r.split_once(']')) {
                Some((_, rest)) if skipped => (format!(" reserved[0x*]{rest}"), true, "index after Linux's own entries"),
                _ => (line.to_string(), false, "verbatim"),
            },
        };
        // A line Linux prints verbatim is compared verbatim (a `*` in it is not a wildcard).
        let matches = |l: &&str| if wild { glob(&want, l) } else { *l == want };
        match ours[at..].iter().position(matches) {
            Some(i) => at += i + 1,
            None => {
                return Err(format!(
                    "Linux 6.1 prints {line:?} ({}); ours lacks a line matching {want:?} ({why}) after line {at}",
                    path.display()
                ))
            }
        }
    }
    Ok(())
}

/// `cargo xtask linux-logs --check DIR`: compare logs of ours already on disk, without QEMU.
pub fn check_dir(dir: &Path, only: Option<&str>) -> Result<()> {
    let mut failed = Vec::new();
    for entry in std::fs::read_dir(root().join(DIR)).map_err(|e| e.to_string())?.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".log")) else { continue };
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let ours = dir.join(format!("{name}.log"));
        let log = std::fs::read_to_string(&ours).map_err(|e| format!("{}: {e}", ours.display()))?;
        match agrees_with_linux(name, &log) {
            Ok(()) => println!("ok    {name}"),
            Err(why) => {
                println!("FAIL  {name}: {why}");
                failed.push(name.to_string());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("differ from Linux: {}", failed.join(", ")))
    }
}

/// `cargo xtask linux-logs`: regenerate `linux-6.1/` from Debian's package.
pub fn regenerate(package: Option<&str>, only: Option<&str>) -> Result<()> {
    tools::ensure(&[tools::QEMU, tools::DTC, tools::FDTOVERLAY])?;
    let work = root().join("target").join("xtask").join("linux");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let package = match package {
        Some(p) => p.to_string(),
        None => newest_package()?,
    };
    let (kernel, version) = fetch(&work, &package)?;
    let out = root().join(DIR);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let scratch = work.join("scenarios");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    for s in scenarios(&scratch)? {
        if !compared(&s) || only.is_some_and(|o| !s.name.contains(o)) {
            continue;
        }
        let mut opts = s.opts.clone();
        opts.append = Some(format!("{} {LINUX_APPEND}", opts.append.as_deref().unwrap_or("")).trim_start().to_string());
        let machine = Machine::new(&opts, &kernel)?;
        let lines = boot_until_memory(&machine, Duration::from_secs(120))?;
        let kept: String = lines
            .iter()
            .map(|l| message(l))
            .filter(|l| !is_call_trace(l))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(out.join(format!("{}.log", s.name)), kept).map_err(|e| e.to_string())?;
        println!("ok    {:<32} {} lines", s.name, lines.len());
    }
    let header = format!(
        "Debian's Linux 6.1 for arm64, the oracle for `cargo xtask test` (regenerate: cargo xtask linux-logs).\n\
         package: {package} {version} (arm64)\n\
         kernel: /boot/vmlinuz-* of that package, given to QEMU with -kernel\n\
         command line: each scenario's own, plus: {LINUX_APPEND}\n\
         kept: the console from the first line through the `Memory:` line, timestamps removed, without\n\
         memblock=debug's call-site lines (`memblock_reserve: [...] func+0x../0x..`: Linux's call sites).\n\
         not compared: {}\n",
        NOT_COMPARED.iter().map(|(n, why)| format!("{n} ({why})")).collect::<Vec<_>>().join("; ")
    );
    std::fs::write(out.join("PACKAGE"), header).map_err(|e| e.to_string())?;
    Ok(())
}

/// memblock=debug's trace of a call: `memblock_*: ... symbol+0xOFF/0xLEN`.
fn is_call_trace(line: &str) -> bool {
    line.starts_with("memblock_") && line.rsplit(' ').next().is_some_and(|w| w.contains("+0x") && w.contains("/0x"))
}

/// The newest `linux-image-6.1.0-NN-arm64-unsigned` apt knows.
pub(crate) fn newest_package() -> Result<String> {
    let out = Command::new("apt-cache")
        .args(["search", "--names-only", r"^linux-image-6\.1\.0-[0-9]+-arm64-unsigned$"])
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|n| {
            let abi = n.strip_prefix("linux-image-6.1.0-")?.strip_suffix("-arm64-unsigned")?;
            Some((abi.parse::<u32>().ok()?, n.to_string()))
        })
        .max()
        .map(|(_, n)| n)
        .ok_or_else(|| "apt-cache knows no linux-image-6.1.0-NN-arm64-unsigned (dpkg --add-architecture arm64; apt-get update)".into())
}

/// Download and unpack the package; its kernel and version.
pub(crate) fn fetch(work: &Path, package: &str) -> Result<(PathBuf, String)> {
    let deb = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
    };
    if deb(work).is_none() {
        let status = Command::new("apt-get")
            .current_dir(work)
            .args(["download", &format!("{package}:arm64")])
            .status()
            .map_err(|e| format!("apt-get: {e}"))?;
        if !status.success() {
            return Err(format!("apt-get download {package}:arm64 failed"));
        }
    }
    let deb = deb(work).ok_or("apt-get download left no .deb")?;
    let field = Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Version").output().map_err(|e| e.to_string())?;
    let version = String::from_utf8_lossy(&field.stdout).trim().to_string();
    let tree = work.join("unpacked");
    let _ = std::fs::remove_dir_all(&tree);
    let status = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree).status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("dpkg-deb -x {} failed", deb.display()));
    }
    let kernel = std::fs::read_dir(tree.join("boot"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-")))
        .ok_or("the package has no /boot/vmlinuz-*")?;
    Ok((kernel, version))
}

/// Boot and read the console until the `Memory:` line (then stop QEMU), within `limit`.
fn boot_until_memory(machine: &Machine, limit: Duration) -> Result<Vec<String>> {
    let child = machine
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line.replace('\r', "")).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = message(&line).starts_with("Memory: ");
                lines.push(line);
                if done {
                    return Ok(lines);
                }
            }
            Err(_) => {
                return Err(format!(
                    "Linux printed no `Memory:` line within {limit:?}:\n{}",
                    lines.join("\n")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_path_is_selected() {
        assert!(memory_path("  node   0: [mem 0x0000000040000000-0x000000007fffffff]"));
        assert!(memory_path(" reserved[0x1]\t[0x0000000048000000-0x00000000480fffff], 0x0000000000100000 bytes flags: 0x0"));
        assert!(!memory_path("psci: PSCIv1.1 detected in firmware."));
        assert!(!memory_path("Kernel command line: cma=0"));
    }

    #[test]
    fn a_line_linux_prints_must_be_ours_verbatim() {
        // Linux's own log passes against itself; one digit changed in a zone line, or in the
        // total of the Memory: line, fails.
        let linux = std::fs::read_to_string(root().join(DIR).join("mem-4G.log")).unwrap();
        assert_eq!(agrees_with_linux("mem-4G", &linux), Ok(()));
        let zone = linux.replace("  Normal   [mem 0x0000000100000000-0x000000013fffffff]", "  Normal   [mem 0x0000000100000000-0x000000013ffffffe]");
        assert!(agrees_with_linux("mem-4G", &zone).is_err());
        let total = linux.replace("/4194304K available", "/4194300K available");
        assert_ne!(total, linux);
        assert!(agrees_with_linux("mem-4G", &total).is_err());
    }

    #[test]
    fn call_sites_are_dropped() {
        assert!(is_call_trace("memblock_reserve: [0x0000000040210000-0x000000004220ffff] arm64_memblock_init+0x1f0/0x260"));
        assert!(!is_call_trace("memblock_reserve: [0x0000000040210000-0x000000004220ffff] kernel/src/setup.rs:199"));
    }
}
