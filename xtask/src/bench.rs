//! `cargo xtask bench`: the host benches (criterion: memblock, and the buddy allocator next to
//! the buddy_system_allocator crate), then the boot-time table: wall time from QEMU's start to
//! the kernel's `Memory:` line and to its completion marker, at several RAM sizes, median of
//! `RUNS`, next to QEMU's own floor (an Image that prints one line and powers off), timed the
//! same way, to its line, and all measured in the same run. `--qemu-only` skips the host
//! benches; arguments after `--` go to criterion.

use crate::qemu::{BootOptions, Guard, Machine};
use crate::{build, root, tools, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Boots per cell of the table: with 5 the floor's median moved by 40% between two runs on a
/// shared machine; a boot is about 0.1 s, so many runs cost little.
const RUNS: usize = 21;
const SIZES: [&str; 4] = ["1G", "4G", "16G", "64G"];

pub fn run(qemu_only: bool, criterion: &[String]) -> Result<i32> {
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

    println!("boot time, release kernel, QEMU start to the line, median of {RUNS} (ms)");
    println!(
        "{:>5} | {:>10} | {:>8} | {:>7} | {:>8} | {:>11} | {:>13}",
        "RAM", "QEMU floor", "Memory:", "x floor", "complete", "above floor", "above per GiB"
    );
    for mem in SIZES {
        let opts = BootOptions { mem: mem.into(), smp: 1, cpu: "max".into(), release: true, ..Default::default() };
        let (mut floor, mut memory, mut done) = (vec![], vec![], vec![]);
        // Interleave the runs so that load on the machine hits both alike.
        for _ in 0..RUNS {
            floor.push(time_boot(&opts, &floor_image, &[FLOOR_LINE])?[0]);
            let t = time_boot(&opts, &built.image, &["Memory: ", "boot: complete"])?;
            memory.push(t[0]);
            done.push(t[1]);
        }
        let (f, m, d) = (median(&mut floor), median(&mut memory), median(&mut done));
        let gib = crate::qemu::parse_size(mem)? as f64 / (1u64 << 30) as f64;
        println!(
            "{:>5} | {:>10.1} | {:>8.1} | {:>7.2} | {:>8.1} | {:>11.1} | {:>13.2}",
            mem,
            ms(f),
            ms(m),
            m.as_secs_f64() / f.as_secs_f64(),
            ms(d),
            ms(m) - ms(f),
            (ms(m) - ms(f)) / gib
        );
    }
    Ok(0)
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

/// Boot `image` and return, for each marker, the time from spawning QEMU to the first serial
/// line containing it (then wait for QEMU's clean exit, untimed).
fn time_boot(opts: &BootOptions, image: &std::path::Path, markers: &[&str]) -> Result<Vec<Duration>> {
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
                *t = Some(start.elapsed());
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
