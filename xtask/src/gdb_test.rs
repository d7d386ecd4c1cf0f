//! The gdb test of `cargo xtask test`: one batch session of `cargo xtask gdb` against a QEMU
//! boot, stopping before the MMU (primary_entry), after memblock setup, after paging_init and
//! after mem_init; every `mb-*` helper runs at every stop, and each output is checked against
//! the boot log of the same boot.
//!
//! The boot is made to exercise every helper: QEMU's own tree with 379 `/memreserve/` entries
//! and the `reserved-memory` overlay, booted with `memblock=debug ptdump buddyinfo`. 379
//! entries leave the reserved array (385 static slots, Linux 6.1 arm64's) short of full until paging_init, and
//! bootmem_init's allocations then double it: so the memblock helper is checked on the static
//! array (stops 2, 3) and on the grown one (stop 4).

use crate::build::QEMU_VIRT_LOAD;
use crate::qemu::{BootOptions, Machine};
use crate::test::{message, run_with_stdin};
use crate::{gdb, root, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const STOPS: [(&str, &str); 4] = [
    ("pre-mmu", "primary_entry"),
    // Right after setup_arch_memory returns, before paging_init.
    ("memblock", "kernel::arch::aarch64::mmu::image_segments"),
    ("paging", "kernel::setup::bootmem_init"),
    // After mem_init and the buddyinfo lines.
    ("mem_init", "kernel::drivers::demo_carveout::probe"),
];
const HELPERS: [&str; 8] = [
    "mb-dmesg",
    "mb-memblock",
    "mb-rmem",
    "mb-iomem",
    "mb-buddyinfo",
    "mb-zoneinfo",
    "mb-pgwalk &kernel::console::LOG_BUF",
    "mb-ptdump",
];
/// A linear-map address inside firmware@52000000 (no-map in dts/reserved-memory.dts):
/// PAGE_OFFSET + (0x52000000 - memstart 0x40000000).
const NOMAP_VA: u64 = 0xffff_0000_1200_0000;
const KIMAGE_VADDR: u64 = 0xffff_8000_0800_0000;

/// Output of each helper at each stop: stop -> command -> lines.
type Outputs = BTreeMap<String, BTreeMap<String, Vec<String>>>;

pub fn run(scratch: &Path) -> Result<Duration> {
    let mut opts = BootOptions {
        mem: "1G".into(),
        smp: 1,
        cpu: "max".into(),
        ..Default::default()
    };
    let base = scratch.join("gdb-virt.dtb");
    Machine::new(&opts, &root().join("Cargo.toml"))?.dump_dtb(&base)?;
    let dts = Command::new("dtc")
        .args(["-q", "-I", "dtb", "-O", "dts"])
        .arg(&base)
        .output()
        .map_err(|e| e.to_string())?;
    let entries: String = (0..379u64)
        .map(|i| format!("/memreserve/ {:#x} 0x10000;\n", 0x6000_0000 + i * 0x2_0000))
        .collect();
    let dtb = scratch.join("gdb-memreserve.dtb");
    let mut dtc = Command::new("dtc");
    dtc.args(["-q", "-I", "dts", "-O", "dtb", "-o"]).arg(&dtb);
    run_with_stdin(
        &mut dtc,
        &String::from_utf8_lossy(&dts.stdout).replacen(
            "/dts-v1/;",
            &format!("/dts-v1/;\n{entries}"),
            1,
        ),
    )?;
    opts.dtb = Some(dtb);
    opts.overlay = Some("reserved-memory".into());
    // loglevel=8 dyndbg=+p: the console shows every line the log buffer holds (pr_debug too),
    // so mb-dmesg must be the console log line for line.
    opts.append = Some("memblock=debug ptdump buddyinfo loglevel=8 dyndbg=+p".into());

    let mut script = String::from("set python print-stack full\n");
    for (_, at) in STOPS {
        script += &format!("break {at}\n");
    }
    for (i, (stop, _)) in STOPS.iter().enumerate() {
        script += &format!("continue\necho @@stop {stop}\\n\nprintf \"@@pc %#lx\\n\", $pc\n");
        for h in HELPERS {
            script += &format!("echo @@cmd {h}\\n\n{h}\n");
        }
        script += &format!("echo @@cmd mb-pgwalk {NOMAP_VA:#x}\\n\nmb-pgwalk {NOMAP_VA:#x}\n");
        if i == 1 {
            // Item 4: arguments readable in the Rust code (opt-level 0 gdb profile).
            script += "echo @@cmd args\\n\nup\ninfo args\ndown\n";
        }
    }
    script += "delete\ncontinue\n";
    let file = scratch.join("gdb-test.gdb");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let (out, serial) = gdb::run_batch_captured(&opts, &file, Duration::from_secs(240))?;
    let text = format!("{}{}", out.stdout, out.stderr);
    let fail = |why: String| format!("{why}\n--- gdb ---\n{text}");
    if !serial.contains("boot: complete") {
        return Err(fail(format!(
            "the kernel did not complete under gdb:\n{serial}"
        )));
    }
    let outputs = parse(&out.stdout);
    let log: Vec<&str> = serial.lines().filter(|l| l.starts_with('[')).collect();
    check_all(&outputs, &log, &text).map_err(fail)?;
    Ok(out.elapsed)
}

fn parse(stdout: &str) -> Outputs {
    let mut all = Outputs::new();
    let (mut stop, mut cmd) = (String::new(), String::new());
    for line in stdout.lines() {
        if let Some(s) = line.strip_prefix("@@stop ") {
            stop = s.into();
            cmd = "break".into();
        } else if let Some(c) = line.strip_prefix("@@cmd ") {
            cmd = c.into();
        } else if !stop.is_empty() {
            all.entry(stop.clone())
                .or_default()
                .entry(cmd.clone())
                .or_default()
                .push(line.into());
        }
    }
    all
}

fn get<'a>(o: &'a Outputs, stop: &str, cmd: &str) -> std::result::Result<&'a [String], String> {
    o.get(stop)
        .and_then(|s| s.get(cmd))
        .map(|v| v.as_slice())
        .ok_or(format!("no output of '{cmd}' at stop {stop}"))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap_or(u64::MAX)
}

/// `(kind, base, last, flags)` of the region lines of a memblock dump.
fn regions(lines: &[impl AsRef<str>]) -> Vec<(String, u64, u64, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let l = l.as_ref().trim_start();
            let (kind, rest) = l.split_once('[')?;
            let (_, rest) = rest.split_once("\t[")?;
            let (base, rest) = rest.split_once('-')?;
            let (last, rest) = rest.split_once(']')?;
            Some((
                kind.into(),
                hex(base),
                hex(last),
                rest.rsplit_once("flags: ")?.1.into(),
            ))
        })
        .collect()
}

/// `[first, last]` of every `memblock_reserve` line of the log, in order.
fn reservations(log: &[&str]) -> Vec<(u64, u64)> {
    log.iter()
        .filter_map(|l| message(l).strip_prefix("memblock_reserve: ["))
        .filter_map(|r| r.split_once(']').and_then(|(r, _)| r.split_once('-')).map(|(a, b)| (hex(a), hex(b))))
        .collect()
}

/// The log's messages from the first line that reads `first` on.
fn messages_from<'a>(log: &'a [&'a str], first: &str) -> std::result::Result<impl Iterator<Item = &'a str> + 'a, String> {
    let at = log.iter().position(|l| message(l) == first).ok_or(format!("no '{first}' in the log"))?;
    Ok(log[at..].iter().map(|l| message(l)))
}

fn check_all(o: &Outputs, log: &[&str], text: &str) -> std::result::Result<(), String> {
    // Stop 1: the breakpoint on primary_entry triggers at its physical address (the load
    // address QEMU_VIRT_LOAD + 0x10000: primary_entry is the first code at _stext, 64 KiB into
    // the image), and every helper says its structure is not there yet.
    let pc = hex(get(o, "pre-mmu", "break")?
        .iter()
        .find_map(|l| l.strip_prefix("@@pc "))
        .unwrap_or(""));
    if !(QEMU_VIRT_LOAD + 0x10000..QEMU_VIRT_LOAD + 0x10010).contains(&pc)
        || !text.contains("in primary_entry ()")
    {
        return Err(format!(
            "the primary_entry breakpoint stopped at pc {pc:#x}, not at its physical address"
        ));
    }
    for h in HELPERS {
        let out = get(o, "pre-mmu", h)?.join("\n");
        if !out.contains("not yet") && !out.contains("MMU is off") {
            return Err(format!(
                "{h} before the MMU does not say the structure is not there yet: {out}"
            ));
        }
    }

    // The boot log's own memblock dump (printed in bootmem_init) and its reservations.
    let dump: Vec<&str> = messages_from(log, "MEMBLOCK configuration:")?
        .take_while(|m| m.starts_with(' ') || m.starts_with("MEMBLOCK"))
        .collect();
    let reserves = |from: usize| reservations(&log[from..]);
    let memstart = regions(&dump)
        .iter()
        .find(|r| r.0 == "memory")
        .map(|r| r.1)
        .ok_or("no memory region in the dump")?;

    for stop in ["memblock", "paging", "mem_init"] {
        let at = |cmd| get(o, stop, cmd);
        // mb-dmesg: exactly the console log up to this stop, timestamps included; when the
        // ring has dropped its oldest lines (its first line says how many), the lines after them.
        let dmesg = at("mb-dmesg")?;
        let dropped = dmesg
            .first()
            .and_then(|l| l.strip_prefix("mb-dmesg: "))
            .and_then(|l| l.strip_suffix(" older lines dropped"))
            .and_then(|k| k.parse::<usize>().ok());
        let kept = &dmesg[dropped.map_or(0, |_| 1)..];
        let n = dropped.unwrap_or(0) + kept.len();
        if kept.is_empty() || n > log.len() || kept.iter().zip(&log[n - kept.len()..]).any(|(a, b)| a != b) {
            return Err(format!(
                "mb-dmesg at {stop} is not the console log up to the stop:\n{}",
                dmesg.join("\n")
            ));
        }
        // mb-memblock: the dump's regions, except those that reservations logged after this
        // stop changed (they cannot be there yet, or have grown since).
        let later = reserves(n);
        let untouched = |r: &(String, u64, u64, String)| {
            !later.iter().any(|&(a, b)| a <= r.2 + 1 && r.1 <= b + 1)
        };
        let mb = at("mb-memblock")?;
        let got: Vec<_> = regions(mb).into_iter().filter(untouched).collect();
        let want: Vec<_> = regions(&dump).into_iter().filter(untouched).collect();
        if got != want {
            return Err(format!(
                "mb-memblock at {stop} differs from the boot's dump:\n{}",
                mb.join("\n")
            ));
        }
        let grown = mb
            .iter()
            .any(|l| l.contains("reserved.max  = 0x302 (grown array at"));
        if stop == "mem_init" {
            // Nothing was reserved after the dump: the whole dump, line for line, from the
            // array the log says memblock doubled into, seen through the linear map.
            if mb[..dump.len().min(mb.len())] != dump[..] {
                return Err(format!(
                    "mb-memblock after mem_init is not the boot's dump:\n{}",
                    mb.join("\n")
                ));
            }
            let doubled = log
                .iter()
                .find_map(|l| message(l).strip_prefix("memblock: reserved is doubled to 770 at ["))
                .ok_or("the reserved array was not doubled")?;
            let va = 0xffff_0000_0000_0000 + hex(&doubled[..18]) - memstart;
            if !mb
                .iter()
                .any(|l| l.contains(&format!("grown array at {va:#x}")))
            {
                return Err(format!(
                    "mb-memblock does not read the grown array at {va:#x}:\n{}",
                    mb.join("\n")
                ));
            }
        } else if grown
            || !mb
                .iter()
                .any(|l| l.contains("reserved.max  = 0x181 (static array)"))
        {
            return Err(format!(
                "mb-memblock at {stop} should read the static array:\n{}",
                mb.join("\n")
            ));
        }
        check_rmem(at("mb-rmem")?, log, &dump)?;
        check_iomem(at("mb-iomem")?, &dump, log)?;
        // mb-pgwalk: the log buffer sits in the image, which runs at QEMU_VIRT_LOAD + (va - _text).
        let walk = at("mb-pgwalk &kernel::console::LOG_BUF")?;
        let va = walk
            .first()
            .and_then(|l| l.strip_prefix("VA "))
            .map(|v| hex(&v[..18]))
            .unwrap_or(0);
        let want = format!(
            "-> PA 0x{:016x}",
            va.wrapping_sub(KIMAGE_VADDR) + QEMU_VIRT_LOAD
        );
        if !walk.iter().any(|l| l.contains(&want)) {
            return Err(format!(
                "mb-pgwalk at {stop}: expected '{want}':\n{}",
                walk.join("\n")
            ));
        }
        let buddy = at("mb-buddyinfo")?;
        if stop != "mem_init" {
            if !buddy.join("").contains("not yet")
                || !at("mb-zoneinfo")?.join("").contains("not yet")
            {
                return Err(format!(
                    "mb-buddyinfo/zoneinfo before mem_init: {}",
                    buddy.join("\n")
                ));
            }
        } else {
            check_buddy(buddy, at("mb-zoneinfo")?, log)?;
        }
        let ptdump = at("mb-ptdump")?;
        if stop == "memblock" {
            if !ptdump.join("").contains("not yet") {
                return Err(format!(
                    "mb-ptdump before paging_init: {}",
                    ptdump.join("\n")
                ));
            }
            continue;
        }
        // The same walk the `ptdump` boot option printed, line for line.
        let logged: Vec<&str> = messages_from(log, "---[ Linear Mapping start ]---")?.take(ptdump.len()).collect();
        if ptdump.is_empty() || logged != ptdump.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(format!(
                "mb-ptdump at {stop} differs from the boot's ptdump:\n{}",
                ptdump.join("\n")
            ));
        }
        let nomap = at(&format!("mb-pgwalk {NOMAP_VA:#x}") as &str)?.join("\n");
        if !nomap.contains("not mapped (level 3") {
            return Err(format!("mb-pgwalk of no-map memory at {stop}: {nomap}"));
        }
    }
    // kernel_main's arguments: the log says it entered at EL1, and the blob lies where the
    // dump has a reservation begin (setup_arch reserves the DTB first).
    let args = get(o, "memblock", "args")?.join("\n");
    let dtb_pa = args
        .split("dtb_pa = ")
        .nth(1)
        .and_then(|v| v.lines().next())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let dtb_reserved = dtb_pa.is_some_and(|pa| {
        regions(&dump)
            .iter()
            .any(|r| r.0 == "reserved" && r.1 == pa)
    });
    if !args.contains("entry_el = 1") || !dtb_reserved {
        return Err(format!("kernel_main's arguments are not readable: {args}"));
    }
    Ok(())
}

/// Every hook the log says initialised a node appears with that node; no-map and reusable
/// as the log and the memblock dump say.
fn check_rmem(rmem: &[String], log: &[&str], dump: &[&str]) -> std::result::Result<(), String> {
    let err = |why: String| Err(format!("mb-rmem: {why}:\n{}", rmem.join("\n")));
    let line = |name: &str| {
        rmem.iter()
            .find(|l| l.split_whitespace().next() == Some(name))
    };
    for m in log.iter().map(|l| message(l)) {
        if let Some(rest) = m.strip_prefix("OF: reserved mem: initialized node ") {
            let (name, compat) = rest.split_once(", compatible id ").unwrap_or((rest, ""));
            if !line(name).is_some_and(|l| l.ends_with(&format!("hook {compat}"))) {
                return err(format!("{name} lacks hook {compat}"));
            }
        }
        if let Some(rest) = m.strip_prefix("OF: reserved mem: allocated memory for '") {
            // 'NAME' node: base 0x..., size N MiB
            let (name, rest) = rest.split_once("' node: base ").unwrap_or(("", ""));
            let (base, size) = rest.split_once(", size ").unwrap_or(("", ""));
            let mib: u64 = size.trim_end_matches(" MiB").parse().unwrap_or(0);
            let want = format!(
                "[mem 0x{:016x}-0x{:016x}]",
                hex(base),
                hex(base) + (mib << 20) - 1
            );
            if !line(name).is_some_and(|l| l.contains(&want)) {
                return err(format!("{name} is not at {want}"));
            }
        }
        if let Some(rest) = m.strip_prefix("Reserved memory: created CMA memory pool at ") {
            let base = hex(rest.split(',').next().unwrap_or(""));
            if !rmem
                .iter()
                .any(|l| l.contains(&format!("[mem 0x{base:016x}-")) && l.contains("reusable"))
            {
                return err(format!("the CMA pool at {base:#x} is not reusable"));
            }
        }
    }
    // no-map: exactly the regions over memory the dump marks NOMAP (flags 0x4).
    let nomap: Vec<_> = regions(dump)
        .into_iter()
        .filter(|r| r.0 == "memory" && r.3 == "0x4")
        .collect();
    for l in rmem {
        let base = l
            .split_once("[mem ")
            .map(|(_, r)| hex(&r[..18]))
            .unwrap_or(0);
        let in_nomap = nomap.iter().any(|r| r.1 <= base && base <= r.2);
        if in_nomap != l.contains("no-map") {
            return err(format!("no-map wrong for {l}"));
        }
    }
    if nomap.is_empty() || rmem.len() < 2 {
        return err("expected the overlay's regions and a no-map one".into());
    }
    Ok(())
}

/// System RAM = the dump's mapped memory regions, `reserved` = its no-map ones; the kernel's
/// code and data start and end where the log's first reservation (the image) does; every
/// other child lies in a reserved region.
fn check_iomem(iomem: &[String], dump: &[&str], log: &[&str]) -> std::result::Result<(), String> {
    let err = |why: String| Err(format!("mb-iomem: {why}:\n{}", iomem.join("\n")));
    let parse = |l: &str| -> Option<(u64, u64, String)> {
        let (range, name) = l.trim_start().split_once(" : ")?;
        let (a, b) = range.split_once('-')?;
        Some((hex(a), hex(b), name.into()))
    };
    let top: Vec<_> = iomem
        .iter()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| parse(l))
        .collect();
    let want: Vec<_> = regions(dump)
        .into_iter()
        .filter(|r| r.0 == "memory")
        .map(|r| {
            (
                r.1,
                r.2,
                if r.3 == "0x4" {
                    "reserved"
                } else {
                    "System RAM"
                }
                .to_string(),
            )
        })
        .collect();
    if top != want {
        return err(format!("top level is not the dump's memory {want:?}"));
    }
    let image = *reservations(log).first().ok_or("no image reservation in the log")?;
    let kids: Vec<_> = iomem
        .iter()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| parse(l))
        .collect();
    let code = kids.iter().find(|k| k.2 == "Kernel code").map(|k| k.0);
    let data = kids.iter().find(|k| k.2 == "Kernel data").map(|k| k.1);
    if code != Some(image.0) || data != Some(image.1) {
        return err(format!(
            "kernel code/data are not the image reservation {image:x?}"
        ));
    }
    let reserved: Vec<_> = regions(dump)
        .into_iter()
        .filter(|r| r.0 == "reserved")
        .collect();
    for k in kids.iter().filter(|k| k.2 == "reserved") {
        // Page-rounded: a reservation's pages.
        if !reserved
            .iter()
            .any(|r| r.1 & !0xfff <= k.0 && k.1 <= (r.2 | 0xfff))
            && k.1 < 0x7f00_0000
        {
            return err(format!("{:x}-{:x} is in no reserved region", k.0, k.1));
        }
    }
    Ok(())
}

/// mb-buddyinfo is the `buddyinfo` boot option's output; mb-zoneinfo's free counts per
/// order are the same numbers, and its managed pages make the `Memory:` line's available K.
fn check_buddy(
    buddy: &[String],
    zoneinfo: &[String],
    log: &[&str],
) -> std::result::Result<(), String> {
    let logged: Vec<&str> = log
        .iter()
        .map(|l| message(l))
        .filter(|m| m.starts_with("Node ") && m.contains(", zone "))
        .collect();
    if logged.is_empty() || logged != buddy.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(format!(
            "mb-buddyinfo differs from the boot's buddyinfo {logged:?}:\n{}",
            buddy.join("\n")
        ));
    }
    let orders: Vec<String> = zoneinfo
        .iter()
        .filter_map(|l| l.strip_prefix("  free per order: "))
        .map(String::from)
        .collect();
    let counts: Vec<String> = buddy
        .iter()
        .map(|l| {
            l.split_once(" zone ")
                .map_or("", |x| x.1)
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    if orders != counts {
        return Err(format!(
            "mb-zoneinfo free per order {orders:?} != buddyinfo {counts:?}"
        ));
    }
    let managed: u64 = zoneinfo
        .iter()
        .filter_map(|l| l.trim().strip_prefix("managed"))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum();
    let memory = log
        .iter()
        .find_map(|l| message(l).strip_prefix("Memory: "))
        .ok_or("no Memory: line")?;
    let kib = |field: &str| -> Option<u64> {
        match field {
            "available" => memory.split('K').next()?.parse().ok(),
            _ => memory.split(", ").find_map(|f| f.strip_suffix(&format!("K {field}"))?.parse().ok()),
        }
    };
    let (available, cma) = (kib("available"), kib("cma-reserved)"));
    let (Some(available), Some(cma)) = (available, cma) else {
        return Err(format!("the Memory: line has no available or cma-reserved figure: {memory}"));
    };
    // The CMA areas join the buddy after the Memory: line (cma_init_reserved_areas), which
    // still counts them as cma-reserved: the zones manage both.
    if managed * 4 != available + cma {
        return Err(format!(
            "mb-zoneinfo managed {managed} pages != (Memory: {available}K available + {cma}K cma-reserved) / 4"
        ));
    }
    Ok(())
}
