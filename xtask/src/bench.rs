//! `cargo xtask bench`: the host benches (criterion: memblock, and the buddy allocator next to
//! the buddy_system_allocator crate), then the boot-time table: wall time from QEMU's start to
//! the kernel's `Memory:` line and to its completion marker, at several RAM sizes, median of
//! `RUNS`, next to QEMU's own floor (an Image that prints one line and powers off), timed the
//! same way, to its line, and all measured in the same run; once with `-cpu cortex-a57` and
//! once with `-cpu max`. Beside the wall times, by the kernel's own clock, which starts with
//! QEMU's virtual clock (the floor's first instruction runs 0.4 to 0.9 ms into it): the
//! `Memory:` line's printk stamp, the kernel's part of the time above the floor without the
//! floor's noise, and mem_init (the stamps of `Kernel command line:` to `Memory:`, the step
//! whose work grows with RAM); and the bytes of memmap and free-list links each GiB of RAM
//! costs. From 8 GiB QEMU's
//! RAM has no reservation (`memory-backend-ram,reserve=off`: see `qemu.rs`), so 128G and 255G
//! boot on a smaller host. `--qemu-only` skips the host benches; arguments after `--` go to
//! criterion. `--insns` counts instead of timing (`insns.rs`).

use crate::qemu::{BootOptions, Guard, Machine};
use crate::{build, root, tools, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Boots per cell of the table: with 5 the floor's median moved by 40% between two runs on a
/// shared machine; a boot is about 0.1 s, so many runs cost little.
pub const RUNS: usize = 21;
const SIZES: [&str; 6] = ["1G", "4G", "16G", "64G", "128G", "255G"];
const CPUS: [&str; 2] = ["cortex-a57", "max"];

pub fn run(qemu_only: bool, runs: usize, insns: bool, criterion: &[String]) -> Result<i32> {
    if insns {
        tools::ensure(&[tools::QEMU])?;
        crate::insns::run(&build::build(true)?)?;
        return Ok(0);
    }
    if !qemu_only {
        for bench in ["memblock", "buddy"] {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(root())
                .args(["bench", "-p", "kernel", "--bench", bench, "--"])
                .args(criterion)
                .status()
                .map_err(|e| format!("cannot run cargo bench: {e}"))?;
            if !status.success() {
                return Ok(status.code().unwrap_or(1));
            }
        }
    }
    tools::ensure(&[tools::QEMU])?;
    let built = build::build(true)?;
    let floor_image = root().join("target").join("xtask").join("floor.Image");
    std::fs::create_dir_all(floor_image.parent().expect("has a parent")).map_err(|e| e.to_string())?;
    std::fs::write(&floor_image, floor_image_bytes()).map_err(|e| e.to_string())?;

    for cpu in CPUS {
        table(&built.image, &floor_image, cpu, runs.max(1))?;
    }
    Ok(0)
}

/// One table: every size with `-cpu cpu`, `runs` boots of each Image per row.
fn table(image: &std::path::Path, floor_image: &std::path::Path, cpu: &str, runs: usize) -> Result<()> {
    println!("boot time, release kernel, -cpu {cpu}, QEMU start to the line, median of {runs} (ms)");
    println!(
        "{:>5} | {:>10} | {:>8} | {:>7} | {:>8} | {:>11} | {:>13} | {:>13} | {:>8} | {:>14}",
        "RAM", "QEMU floor", "Memory:", "x floor", "complete", "above floor", "above per GiB", "Memory: stamp", "mem_init", "memmap B/GiB"
    );
    for mem in SIZES {
        let opts = BootOptions { mem: mem.into(), smp: 1, cpu: cpu.into(), release: true, ..Default::default() };
        let (mut floor, mut memory, mut done, mut mem_init, mut stamp) = (vec![], vec![], vec![], vec![], vec![]);
        // Interleave the runs so that load on the machine hits both alike.
        for _ in 0..runs {
            floor.push(time_boot(&opts, floor_image, &[FLOOR_LINE])?[0].0);
            let t = time_boot(&opts, image, &["Kernel command line: ", "Memory: ", "boot: complete"])?;
            memory.push(t[1].0);
            done.push(t[2].0);
            if let (Some(a), Some(b)) = (t[0].1, t[1].1) {
                mem_init.push(Duration::from_secs_f64((b - a).max(0.0)));
            }
            if let Some(b) = t[1].1 {
                stamp.push(Duration::from_secs_f64(b.max(0.0)));
            }
        }
        let (f, m, d) = (median(&mut floor), median(&mut memory), median(&mut done));
        // The kernel's clock, when its lines carried stamps.
        let kernel_ms = |v: &mut Vec<Duration>| if v.is_empty() { f64::NAN } else { ms(median(v)) };
        let (k, st) = (kernel_ms(&mut mem_init), kernel_ms(&mut stamp));
        let bytes = crate::qemu::parse_size(mem)?;
        let gib = bytes as f64 / (1u64 << 30) as f64;
        let per_gib = crate::footprint::memmap_bytes(bytes / 4096) as f64 / gib;
        println!(
            "{:>5} | {:>10.1} | {:>8.1} | {:>7.2} | {:>8.1} | {:>11.1} | {:>13.2} | {:>13.1} | {:>8.1} | {:>14.0}",
            mem,
            ms(f),
            ms(m),
            m.as_secs_f64() / f.as_secs_f64(),
            ms(d),
            ms(m) - ms(f),
            (ms(m) - ms(f)) / gib,
            st,
            k,
            per_gib
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The floor Image's only line (see `floor_image_bytes`).
const FLOOR_LINE: &str = ".";

/// The printk stamp of a console line, `[    1.234567] …`, in seconds.
fn printk_stamp(line: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix('[')?;
    rest[..rest.find(']')?].trim().parse().ok()
}

/// Boot `image` and return, for each marker, the time from spawning QEMU to the first serial
/// line containing it, and that line's printk stamp (then wait for QEMU's clean exit, untimed).
fn time_boot(opts: &BootOptions, image: &std::path::Path, markers: &[&str]) -> Result<Vec<(Duration, Option<f64>)>> {
    let machine = Machine::new(opts, image)?;
    let start = Instant::now();
    let child = machine.command().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn();
    let mut guard = Guard(child.map_err(|e| format!("cannot start QEMU: {e}"))?);
    let mut times = vec![None; markers.len()];
    let stdout = guard.0.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        for (t, m) in times.iter_mut().zip(markers) {
            if t.is_none() && line.contains(m) {
                *t = Some((start.elapsed(), printk_stamp(&line)));
            }
        }
        if start.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let exited = crate::qemu::wait_bounded(&mut guard, Duration::from_secs(30)).ok_or("QEMU did not exit")?;
    if !exited.success() {
        return Err(format!("QEMU exited with {exited} for {}", image.display()));
    }
    times
        .into_iter()
        .zip(markers)
        .map(|(t, m)| t.ok_or_else(|| format!("no '{m}' line at {}", opts.mem)))
        .collect()
}

/// QEMU's floor: an arm64 Image whose code writes ".\n" to QEMU virt's PL011 and calls PSCI
/// SYSTEM_OFF through HVC (QEMU virt's conduit at EL1), hand-assembled:
///
/// ```text
/// 0x00  b     0x40                   header: code0, then text_offset, image_size, flags
/// 0x40  movz  x1, #0x0900, lsl #16   x1 = 0x09000000, the UART's data register
///       movz  w2, #'.'
///       strb  w2, [x1]
///       movz  w2, #'\n'
///       strb  w2, [x1]
///       movz  x0, #0x0008
///       movk  x0, #0x8400, lsl #16   x0 = 0x84000008, SYSTEM_OFF
///       hvc   #0
///       b     .
/// ```
pub fn floor_image_bytes() -> Vec<u8> {
    const SIZE: usize = 0x1000;
    let mut image = vec![0u8; SIZE];
    let put32 = |image: &mut Vec<u8>, at: usize, v: u32| image[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put32(&mut image, 0, 0x1400_0010); // b +0x40
    image[8..16].copy_from_slice(&0x20_0000u64.to_le_bytes()); // text_offset
    image[16..24].copy_from_slice(&(SIZE as u64).to_le_bytes()); // image_size
    image[24..32].copy_from_slice(&2u64.to_le_bytes()); // flags: LE, 4K pages
    image[0x38..0x3c].copy_from_slice(b"ARM\x64");
    let code = [0xd2a1_2001u32, 0x5280_05c2, 0x3900_0022, 0x5280_0142, 0x3900_0022, 0xd280_0100, 0xf2b0_8000, 0xd400_0002, 0x1400_0000];
    for (i, insn) in code.iter().enumerate() {
        put32(&mut image, 0x40 + 4 * i, *insn);
    }
    image
}
