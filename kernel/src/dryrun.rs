//! The kernel binary on the host is the dry-run behind `cargo xtask memmap`: it runs the
//! boot's memory setup (`kernel::setup::dryrun::dry_run`) with the same reserved-memory hooks
//! on a `.dtb` file and prints the lines the boot would print (all but the PSCI firmware probe
//! and the command line), without the printk timestamps.
//!
//! ```text
//! kernel memmap --dtb FILE (--image BASE,SIZE | --image-layout OFFSET,SIZE)
//!               [--sections TEXT,RODATA[,INIT],DATA,BSS] [--mem [NODE:]BASE,SIZE[,BASE,SIZE…]]…
//!               [--dtb-addr ADDR] [--initrd BASE,SIZE] [--append "ARGS"] [--pa-bits N]
//!               [--name NAME] [--lint] [--levels]
//! ```
//! `--mem` writes RAM into the tree as a bootloader does: into the memory node `NODE`, or
//! replacing every memory node; a tree that gives no RAM gets some assumed, with a warning
//! (`kernel::setup::dryrun::inputs`). `--image-layout` places `_stext` OFFSET above the 2 MiB
//! aligned base of the lowest RAM bank, as a loader does. `--name` is what messages call the
//! file (the `.dts` it was compiled from).
//! The exit status says how the boot would end (`kernel::setup::dryrun`, whose module
//! documentation has the table): 0 it completes, 2 it refuses the blob, 3 it panics (the
//! panic line is printed as the boot prints it); 1 is a problem of the dry-run itself
//! (arguments, file, a tree too large to simulate on the host); 4 a boot that would complete
//! but whose `--lint` found an error (`kernel::setup::dryrun::lint`, printed as `lint: …` lines
//! after the boot's). Every problem is one line on stderr.
//!
//! After the boot's lines it prints the physical memory map as `mem_init` left it, every range
//! with its owner (`kernel::memmap`); `ptdump` on the command line prints the page
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
/// `--lint` found an error-level finding: exit status 4 when the boot would complete.
static LINT_ERROR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static LOGLEVEL: AtomicU8 = AtomicU8::new(kernel::cmdline::CONSOLE_LOGLEVEL_DEFAULT);
/// `--levels`: each line starts with its Linux level as `<N>`, as /dev/kmsg writes it.
static LEVELS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct Stdout;

impl log::Log for Stdout {
    fn enabled(&self, m: &log::Metadata) -> bool {
        console_prints(m, LOGLEVEL.load(Ordering::Relaxed), DYNDBG.load(Ordering::Relaxed))
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let message = kernel::printk::LineMax(*r.args());
            match LEVELS.load(Ordering::Relaxed) {
                true => println!("<{}>{message}", kernel::printk::record_level(r.level(), r.target())),
                false => println!("{message}"),
            }
        }
    }
    fn flush(&self) {}
}

use kernel::setup::dryrun::inputs::{self, number_arg as number, MemOption};

/// A line of the dry-run's own (the map): at `info` level under `--levels`.
fn print_line(args: std::fmt::Arguments) {
    match LEVELS.load(Ordering::Relaxed) {
        true => println!("<6>{args}"),
        false => println!("{args}"),
    }
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
        return Err("usage: kernel memmap --dtb FILE (--image BASE,SIZE | --image-layout OFFSET,SIZE) [--mem [NODE:]BASE,SIZE[,…]] [--name NAME] [--lint] [--sections TEXT,RODATA[,INIT],DATA,BSS] [--dtb-addr ADDR] [--initrd BASE,SIZE] [--append ARGS] [--pa-bits N] [--levels] (the kernel itself runs on aarch64-unknown-none: use `cargo xtask qemu`)".into());
    }
    let (mut dtb, mut dtb_addr, mut image, mut initrd, mut append, mut pa_bits) = (None, None, None, None, None, 48);
    let mut sections = None;
    let (mut mems, mut layout, mut name, mut lint) = (Vec::new(), None, None, false);
    while let Some(opt) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{opt} needs a value"));
        match opt.as_str() {
            "--dtb" => dtb = Some(value()?),
            "--dtb-addr" => dtb_addr = Some(PhysAddr(number(&value()?)?)),
            "--image" => image = Some(range(&value()?)?),
            "--initrd" => initrd = Some(range(&value()?)?),
            "--append" => append = Some(value()?),
            "--mem" => mems.push(MemOption::parse(&value()?)?),
            "--image-layout" => layout = Some(range(&value()?).map(|(offset, end)| (offset.0, end.0 - offset.0))?),
            "--name" => name = Some(value()?),
            "--lint" => lint = true,
            "--levels" => LEVELS.store(true, Ordering::Relaxed),
            "--sections" => {
                let v = value()?;
                let sizes: Vec<u64> = v.split(',').map(number).collect::<Result<_, _>>()?;
                // Five sizes as the image lays them out; four are an image without init sections.
                let sizes = match sizes[..] {
                    [t, r, w, b] => [t, r, 0, w, b],
                    _ => <[u64; 5]>::try_from(sizes).map_err(|_| format!("--sections '{v}': five sizes expected (or four, without INIT)"))?,
                };
                sections = Some(sizes);
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
    let file = dtb.ok_or("--dtb FILE is required")?;
    let blob = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let dtb = name.unwrap_or(file);
    let (blob, ram_assumed) = bootloader_memory(&dtb, blob, &mems)?;
    let placement_assumed = image.is_none() || dtb_addr.is_none();
    let kernel = match (image, layout) {
        (Some(image), _) => Some(image),
        (None, Some((offset, size))) => {
            inputs::image_base(&blob, offset).and_then(|base| Some((PhysAddr(base), PhysAddr(base.checked_add(size)?))))
        }
        (None, None) => return Err("--image BASE,SIZE or --image-layout OFFSET,SIZE is required".into()),
    };
    let dtb_addr = dtb_addr.or_else(|| kernel::setup::dryrun::qemu_dtb_addr(&blob, initrd));
    let opts = DryRun {
        dtb_addr: match (dtb_addr, kernel) {
            (Some(addr), Some(_)) => addr,
            _ => {
                // Name what is wrong with the blob itself before blaming the placement.
                let anywhere = (PhysAddr(0), PhysAddr(0));
                if let Err(e) = kernel::of::header::open(PhysAddr(0x1000), &blob, |n| blob.get(..n), anywhere) {
                    if e != kernel::of::DtbError::NoMemory {
                        eprintln!("memmap: {dtb}: invalid device tree blob: {e}");
                        return Ok(Ending::Refused(e));
                    }
                }
                return Err(format!("{dtb}: no memory node gives RAM to place the kernel and the blob in; give --mem BASE,SIZE"));
            }
        },
        kernel: kernel.expect("checked with the blob's address"),
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
            match e {
                // What the boot reads as "no blob" is, here, a blob placed at 0.
                kernel::of::DtbError::NullPointer => eprintln!(
                    "memmap: {dtb}: the blob is placed at physical address 0, which the boot takes for no device tree (x0 = 0) and refuses; give another --dtb-addr"
                ),
                _ => eprintln!("memmap: {dtb}: invalid device tree blob at physical address 0x{:016x}: {e}", opts.dtb_addr.0),
            }
            return Ok(Ending::Refused(e));
        }
    };
    // What the boot does after setup_arch that needs no hardware: zonelists, mem_init over
    // memmaps and free lists kept on the host, the demo device, free_initmem.
    let limit = kernel::setup::dryrun::host::DEFAULT_HOST_LIMIT;
    let probe = || crate::drivers::demo_carveout::probe(&state.fdt, &state.reserved);
    let ending = match kernel::setup::dryrun::host::mem_init(&mut mb, &state, &opts, limit, probe).map_err(|e| e.to_string())? {
        Err(stop) => Ending::Panic(stop),
        Ok(()) => Ending::Complete,
    };
    if matches!(ending, Ending::Complete) {
        // After the boot's lines: the map as mem_init left it (`kernel::memmap`).
        if let Some(map) = state.map_facts(&mb, &opts) {
            kernel::memmap::fmt_map(&map, &mut print_line);
        }
    }
    if lint {
        use kernel::setup::dryrun::lint::{lint, Placed, Severity};
        let dma_phys_limit = state.bootmem.as_ref().ok().map(|b| b.dma_phys_limit);
        let placed = Placed { mb: &mb, reserved: &state.reserved, opts: &opts, hooks, dma_phys_limit, ram_assumed, placement_assumed };
        let findings = lint(&state.fdt, &placed);
        for f in &findings {
            print_line(format_args!("lint: {f}"));
        }
        LINT_ERROR.store(findings.iter().any(|f| f.severity == Severity::Error), Ordering::Relaxed);
    }
    Ok(ending)
}

/// The blob as the bootloader hands it over: `--mem` written into `/memory`, then RAM assumed
/// (with a warning) when no memory node gives any (`kernel::setup::dryrun::inputs`); whether it
/// was.
fn bootloader_memory(dtb: &str, blob: Vec<u8>, mems: &[MemOption]) -> Result<(Vec<u8>, bool), String> {
    let blob = if mems.is_empty() { blob } else { inputs::apply_mem(&blob, mems).map_err(|e| format!("{dtb}: {e}"))? };
    Ok(match inputs::fill_empty_memory(&blob) {
        Some((filled, warning)) => {
            eprintln!("memmap: warning: {dtb}: {warning}");
            (filled, true)
        }
        None => (blob, false),
    })
}

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(Ending::Complete) if LINT_ERROR.load(Ordering::Relaxed) => std::process::exit(4),
        Ok(ending) => std::process::exit(ending.exit_status()),
        Err(e) => {
            eprintln!("memmap: error: {e}");
            std::process::exit(1);
        }
    }
}
