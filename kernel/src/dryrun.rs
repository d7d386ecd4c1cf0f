//! The kernel binary on the host is the dry-run behind `cargo xtask memmap`: it runs the
//! boot's memory setup (`kernel::setup::dryrun::dry_run`) with the same reserved-memory hooks
//! on a `.dtb` file and prints the lines the boot would print (all but the PSCI firmware probe
//! and the command line), without the printk timestamps.
//!
//! ```text
//! kernel memmap --dtb FILE --image BASE,SIZE [--sections TEXT,RODATA,DATA,BSS]
//!               [--dtb-addr ADDR] [--initrd BASE,SIZE] [--append "ARGS"] [--pa-bits N]
//!               [--levels]
//! ```
//! The exit status says how the boot would end (`kernel::setup::dryrun`, whose module
//! documentation has the table): 0 it completes, 2 it refuses the blob, 3 it panics (the
//! panic line is printed as the boot prints it); 1 is a problem of the dry-run itself
//! (arguments, file, a tree too large to simulate on the host). Every problem is one line on
//! stderr.
//!
//! After the boot's lines it prints the physical memory map as `mem_init` left it, every range
//! with its owner (`kernel::setup::memmap`); `ptdump` on the command line prints the page
//! tables where the boot would. `--levels` starts each line with its Linux level (`<4>`), for
//! `cargo xtask memmap --json`.
//!
//! Without `--dtb-addr`, the blob is placed where QEMU's `-kernel` loader puts it
//! (`kernel::setup::dryrun::qemu_dtb_addr`).

use kernel::mm::memblock::Memblock;
use kernel::mm::PhysAddr;
use kernel::printk::console_prints;
use kernel::setup::dryrun::{DryRun, Ending, HostTables};
use std::sync::atomic::{AtomicU8, Ordering};

static DYNDBG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static LOGLEVEL: AtomicU8 = AtomicU8::new(kernel::cmdline::CONSOLE_LOGLEVEL_DEFAULT);
/// `--levels`: each line starts with its Linux level as `<N>`, as /dev/kmsg writes it.
static LEVELS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct Stdout;

impl log::Log for Stdout {
    fn enabled(&self, m: &log::Metadata) -> bool {
        console_prints(m.level(), LOGLEVEL.load(Ordering::Relaxed), DYNDBG.load(Ordering::Relaxed))
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            match LEVELS.load(Ordering::Relaxed) {
                true => println!("<{}>{}", kernel::printk::linux_level(r.level()), r.args()),
                false => println!("{}", r.args()),
            }
        }
    }
    fn flush(&self) {}
}

/// A line of the dry-run's own (the map): at `info` level under `--levels`.
fn print_line(args: std::fmt::Arguments) {
    match LEVELS.load(Ordering::Relaxed) {
        true => println!("<6>{args}"),
        false => println!("{args}"),
    }
}

fn number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("'{s}' is not a number"))
}

/// `BASE,SIZE` → `[base, base + size)`.
fn range(s: &str) -> Result<(PhysAddr, PhysAddr), String> {
    let (base, size) = s.split_once(',').ok_or_else(|| format!("'{s}' is not BASE,SIZE"))?;
    let (base, size) = (number(base)?, number(size)?);
    let end = base.checked_add(size).ok_or_else(|| format!("'{s}' runs past the end of the address space"))?;
    Ok((PhysAddr(base), PhysAddr(end)))
}

fn run(args: &[String]) -> Result<Ending, String> {
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("memmap") {
        return Err("usage: kernel memmap --dtb FILE --image BASE,SIZE [--sections TEXT,RODATA,DATA,BSS] [--dtb-addr ADDR] [--initrd BASE,SIZE] [--append ARGS] [--pa-bits N] [--levels] (the kernel itself runs on aarch64-unknown-none: use `cargo xtask qemu`)".into());
    }
    let (mut dtb, mut dtb_addr, mut image, mut initrd, mut append, mut pa_bits) = (None, None, None, None, None, 48);
    let mut sections = None;
    while let Some(opt) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{opt} needs a value"));
        match opt.as_str() {
            "--dtb" => dtb = Some(value()?),
            "--dtb-addr" => dtb_addr = Some(PhysAddr(number(&value()?)?)),
            "--image" => image = Some(range(&value()?)?),
            "--initrd" => initrd = Some(range(&value()?)?),
            "--append" => append = Some(value()?),
            "--levels" => LEVELS.store(true, Ordering::Relaxed),
            "--sections" => {
                let v = value()?;
                let sizes: Vec<u64> = v.split(',').map(number).collect::<Result<_, _>>()?;
                sections = Some(<[u64; 4]>::try_from(sizes).map_err(|_| format!("--sections '{v}': four sizes expected"))?);
            }
            "--pa-bits" => {
                // Checked before narrowing: 2^32 + 48 must not pass as 48.
                let bits = number(&value()?)?;
                if !(32..=52).contains(&bits) {
                    return Err(format!("--pa-bits {bits}: the architecture allows 32 to 52"));
                }
                pa_bits = bits as u32;
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let dtb = dtb.ok_or("--dtb FILE is required")?;
    let blob = std::fs::read(&dtb).map_err(|e| format!("{dtb}: {e}"))?;
    let opts = DryRun {
        dtb_addr: match dtb_addr.or_else(|| kernel::setup::dryrun::qemu_dtb_addr(&blob, initrd)) {
            Some(addr) => addr,
            None => {
                // Name what is wrong with the blob itself before blaming the placement.
                let anywhere = (PhysAddr(0), PhysAddr(0));
                if let Err(e) = kernel::of::header::open(PhysAddr(0x1000), &blob, |n| blob.get(..n), anywhere) {
                    if !matches!(e, kernel::of::DtbError::NotInMemory { .. }) {
                        eprintln!("memmap: {dtb}: invalid device tree blob: {e}");
                        return Ok(Ending::Refused(e));
                    }
                }
                return Err(format!("{dtb}: no memory node to place the blob in; give --dtb-addr"));
            }
        },
        kernel: image.ok_or("--image BASE,SIZE is required")?,
        phys_addr_bits: pa_bits,
        initrd,
        cmdline: append.as_deref(),
        sections,
    };
    let _ = log::set_logger(&Stdout).map(|()| log::set_max_level(log::LevelFilter::Trace));
    let mut mb = Box::new(Memblock::new());
    let hooks = crate::drivers::reservedmem_hooks();
    let set_level = &mut |level, dyndbg| {
        LOGLEVEL.store(level, Ordering::Relaxed);
        DYNDBG.store(dyndbg, Ordering::Relaxed);
    };
    let state = match kernel::setup::dryrun::dry_run(&blob, &opts, &mut mb, hooks, HostTables::default(), set_level) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("memmap: {dtb}: invalid device tree blob at physical address 0x{:016x}: {e}", opts.dtb_addr.0);
            return Ok(Ending::Refused(e));
        }
    };
    // What the boot does after setup_arch that needs no hardware: zonelists, mem_init over
    // memmaps and free lists kept on the host, the demo device.
    let limit = kernel::setup::dryrun::host::DEFAULT_HOST_LIMIT;
    if let Err(stop) = kernel::setup::dryrun::host::mem_init(&mut mb, &state, &opts, limit).map_err(|e| e.to_string())? {
        return Ok(Ending::Panic(stop));
    }
    crate::drivers::demo_carveout::probe(&state.fdt, &state.reserved);
    // After the boot's lines: the map as mem_init left it (`kernel::setup::memmap`).
    if let Some(map) = state.map_facts(&mb, &opts) {
        kernel::setup::memmap::fmt_map(&map, &mut print_line);
    }
    Ok(Ending::Complete)
}

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(ending) => std::process::exit(ending.exit_status()),
        Err(e) => {
            eprintln!("memmap: error: {e}");
            std::process::exit(1);
        }
    }
}
