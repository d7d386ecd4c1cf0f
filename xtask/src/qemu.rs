//! Booting the kernel in QEMU `virt`.
//!
//! `BootOptions` are the command-line options of `cargo xtask qemu` (and `gdb`); `Machine`
//! turns them into a QEMU command line. Large memory goes to a RAM backend without
//! reservation (`reserve=off`: the host commits only what the guest touches; QEMU
//! refuses guest RAM the host cannot commit). `--overlay NAME` dumps the tree QEMU generates
//! for the same options (or takes `--dtb`), applies `dts/NAME.dts` (or a `.dts` path) and
//! boots with it. `cargo xtask qemu` keeps the files it generates under `target/xtask/qemu/`,
//! so the command it prints can be run again; `Outcome` is how the boot ended, from QEMU's
//! status and the console, and gives the exit status.

use crate::{build, root, tools, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct BootOptions {
    /// Guest RAM, QEMU syntax (128M, 4G, ...).
    #[arg(long, default_value = "1G")]
    pub mem: String,
    /// Number of CPUs.
    #[arg(long, default_value_t = 1)]
    pub smp: u32,
    /// Split RAM evenly over N NUMA nodes.
    #[arg(long, default_value_t = 0)]
    pub numa: u32,
    /// Enter the kernel at EL2 (-M virt,virtualization=on).
    #[arg(long)]
    pub el2: bool,
    /// CPU model (max, cortex-a57, ...).
    #[arg(long, default_value = "max")]
    pub cpu: String,
    /// Boot with this device tree instead of QEMU's own (QEMU still rewrites its /memory
    /// nodes from --mem and --numa, and /chosen).
    #[arg(long, value_name = "FILE")]
    pub dtb: Option<PathBuf>,
    /// Apply an overlay (a name from dts/, e.g. reserved-memory, or a .dts path) to the tree
    /// QEMU generates, or to --dtb, and boot with the result.
    #[arg(long, value_name = "NAME|FILE")]
    pub overlay: Option<String>,
    /// Hand the tree (--dtb, --overlay's result, or QEMU's own) to the kernel at this
    /// physical address through a firmware stub, the kernel loaded where -kernel loads it,
    /// instead of through QEMU's -kernel loader: QEMU then leaves the tree as it is, memory
    /// nodes included (holes, sparse banks: within the RAM of --mem), and --append goes into
    /// its /chosen/bootargs. Not with --initrd.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub dtb_at: Option<u64>,
    /// Initial ramdisk.
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    /// After the boot, serve the console monitor on the serial line (adds `monitor` to the
    /// kernel command line; type `help` at the `memboot> ` prompt, `poweroff` to end).
    #[arg(long)]
    pub monitor: bool,
    /// Build and boot the release kernel.
    #[arg(long)]
    pub release: bool,
    /// Extra QEMU arguments.
    #[arg(last = true)]
    pub extra: Vec<String>,
}

/// A physical address, decimal or `0x` hex.
fn parse_addr(s: &str) -> Result<u64> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("bad address '{s}'"))
}

/// Where QEMU virt's -kernel loader puts an arm64 Image: RAM's base (0x40000000) plus the
/// 2 MiB text offset.
const KERNEL_LOAD: u64 = 0x4020_0000;

/// The firmware stub of `--dtb-at`, at QEMU virt's flash (address 0, where the CPU starts at
/// EL1): the boot protocol's registers, then a jump to the kernel, hand-assembled:
///
/// ```text
/// 0x00  ldr  x0, 0x18    the tree's address
///       mov  x1, xzr
///       mov  x2, xzr
///       mov  x3, xzr
///       ldr  x4, 0x20    the kernel's
///       br   x4
/// 0x18  .quad dtb
/// 0x20  .quad kernel
/// ```
fn firmware_stub(dtb: u64, kernel: u64) -> Vec<u8> {
    let code = [0x5800_00c0u32, 0xaa1f_03e1, 0xaa1f_03e2, 0xaa1f_03e3, 0x5800_0084, 0xd61f_0080];
    let mut stub: Vec<u8> = code.iter().flat_map(|i| i.to_le_bytes()).collect();
    stub.extend(dtb.to_le_bytes());
    stub.extend(kernel.to_le_bytes());
    stub
}

/// Guest RAM from this size on goes to an unreserved RAM backend.
const UNRESERVED_FROM: u64 = 8 << 30;

/// Parse a QEMU size (`512M`, `4G`, plain bytes, K/M/G/T suffixes).
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("bad size '{s}'")),
            };
            (&s[..i], shift)
        }
        _ => (s, 20), // QEMU's -m default unit is MiB
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size '{s}'"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("size '{s}' overflows"))
}

/// A QEMU invocation being assembled, with the files it owns.
pub struct Machine {
    pub args: Vec<String>,
    /// `--dtb-at`: the tree handed over, and where.
    dtb_at: Option<(PathBuf, u64)>,
    scratch: PathBuf,
    /// Leave the generated files in place (the printed command refers to them).
    keep: bool,
}

impl Machine {
    /// The QEMU command line for `opts`, booting `image`; its generated files live in a
    /// directory of this process's own, removed with the `Machine`.
    pub fn new(opts: &BootOptions, image: &Path) -> Result<Machine> {
        let scratch = root().join("target").join("xtask").join(format!("run-{}", std::process::id()));
        Machine::assemble(opts, image, scratch, false)
    }

    /// As `new`, with the generated files kept in `target/xtask/qemu/` (replaced by the next
    /// run), so that the printed command can be run again.
    pub fn kept(opts: &BootOptions, image: &Path) -> Result<Machine> {
        Machine::assemble(opts, image, root().join("target").join("xtask").join("qemu"), true)
    }

    fn assemble(opts: &BootOptions, image: &Path, scratch: PathBuf, keep: bool) -> Result<Machine> {
        let mem = parse_size(&opts.mem)?;
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let mut m = Machine { args: Vec::new(), dtb_at: None, scratch, keep };
        let mut machine = String::from("virt");
        if opts.el2 {
            machine.push_str(",virtualization=on");
        }
        let nodes = opts.numa.max(1) as u64;
        let unreserved = mem >= UNRESERVED_FROM;
        if opts.numa == 0 && unreserved {
            m.backend("mem", mem)?;
            machine.push_str(",memory-backend=mem");
        }
        m.push(["-M", &machine, "-cpu", &opts.cpu, "-m", &format!("{}M", mem >> 20)]);
        m.push(["-smp", &opts.smp.to_string()]);
        if opts.numa > 0 {
            let per = (mem / nodes) & !((2 << 20) - 1);
            for n in 0..nodes {
                let size = if n == nodes - 1 { mem - per * (nodes - 1) } else { per };
                let id = format!("m{n}");
                if unreserved {
                    m.backend(&id, size)?;
                } else {
                    m.push(["-object", &format!("memory-backend-ram,id={id},size={size}")]);
                }
                let cpus: Vec<String> = (0..opts.smp).filter(|c| *c as u64 % nodes == n).map(|c| c.to_string()).collect();
                let mut node = format!("node,nodeid={n},memdev={id}");
                for c in &cpus {
                    node.push_str(&format!(",cpus={c}"));
                }
                m.push(["-numa", &node]);
            }
        }
        // No NIC: the kernel has no use for one, and its option ROM is not always installed.
        m.push(["-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none", "-no-reboot"]);
        let append = match (&opts.append, opts.monitor) {
            (Some(a), true) => Some(format!("{a} monitor")),
            (None, true) => Some("monitor".to_string()),
            (a, false) => a.clone(),
        };
        // Before the tree: an option that changes the machine (`-numa dist`) changes the tree
        // QEMU dumps for an overlay too.
        m.args.extend(opts.extra.iter().cloned());
        let dtb = opts.dtb.as_deref().map(absolute).transpose()?;
        let dtb = match (&opts.overlay, dtb) {
            (Some(name), base) => Some(m.overlay_dtb(name, base.as_deref())?),
            (None, dtb) => dtb,
        };
        let image = image.display().to_string();
        let Some(at) = opts.dtb_at else {
            m.push(["-kernel", &image]);
            if let Some(initrd) = &opts.initrd {
                m.push(["-initrd", &absolute(initrd)?.display().to_string()]);
            }
            if let Some(append) = &append {
                m.push(["-append", append]);
            }
            if let Some(dtb) = dtb {
                m.push(["-dtb", &dtb.display().to_string()]);
            }
            return Ok(m);
        };
        if opts.initrd.is_some() {
            return Err("--dtb-at boots without QEMU's loader, which places the initrd: give no --initrd".into());
        }
        let tree = m.scratch.join("dtb-at.dtb");
        match dtb {
            Some(dtb) => {
                std::fs::copy(&dtb, &tree).map_err(|e| format!("{}: {e}", dtb.display()))?;
            }
            None => m.dump_dtb(&tree)?,
        }
        if let Some(append) = &append {
            tools::ensure(&[tools::FDTPUT])?;
            let mut put = Command::new(tools::FDTPUT.binary);
            run_checked(put.args(["-p", "-t", "s"]).arg(&tree).args(["/chosen", "bootargs", append]), "fdtput")?;
        }
        let stub = m.scratch.join("dtb-at-stub.bin");
        std::fs::write(&stub, firmware_stub(at, KERNEL_LOAD)).map_err(|e| format!("{}: {e}", stub.display()))?;
        m.push(["-bios", &stub.display().to_string()]);
        m.push(["-device", &format!("loader,file={image},addr={KERNEL_LOAD:#x},force-raw=on")]);
        m.push(["-device", &format!("loader,file={},addr={at:#x},force-raw=on", tree.display())]);
        m.dtb_at = Some((tree, at));
        Ok(m)
    }

    fn push<const N: usize>(&mut self, args: [&str; N]) {
        self.args.extend(args.iter().map(|s| s.to_string()));
    }

    /// Guest RAM the host does not reserve up front (MAP_NORESERVE): a 64 GiB guest boots on
    /// a smaller host, and only the pages the kernel touches cost host memory.
    fn backend(&mut self, id: &str, size: u64) -> Result<()> {
        self.push(["-object", &format!("memory-backend-ram,id={id},size={size},reserve=off")]);
        Ok(())
    }

    /// `base` (or QEMU's own tree for these options, `-M ...,dumpdtb=`) with the overlay
    /// `name` applied.
    fn overlay_dtb(&mut self, name: &str, base: Option<&Path>) -> Result<PathBuf> {
        tools::ensure(&[tools::DTC, tools::FDTOVERLAY])?;
        let source = overlay_source(name)?;
        let name = source.file_stem().and_then(|s| s.to_str()).unwrap_or("overlay").to_string();
        let base = match base {
            Some(b) => b.to_path_buf(),
            None => {
                let dumped = self.scratch.join("qemu.dtb");
                self.dump_dtb(&dumped)?;
                dumped
            }
        };
        let dtbo = self.scratch.join(format!("{name}.dtbo"));
        run_checked(
            Command::new("dtc").args(["-q", "-@", "-I", "dts", "-O", "dtb", "-o"]).arg(&dtbo).arg(&source),
            "dtc",
        )?;
        let out = self.scratch.join(format!("{name}.dtb"));
        run_checked(Command::new("fdtoverlay").arg("-i").arg(&base).arg("-o").arg(&out).arg(&dtbo), "fdtoverlay")?;
        Ok(out)
    }

    /// Write the device tree QEMU generates for this machine to `out` (`-M ...,dumpdtb=`).
    pub fn dump_dtb(&self, out: &Path) -> Result<()> {
        let mut dump = self.args.clone();
        let m = dump.iter().position(|a| a == "-M").expect("-M is always first") + 1;
        dump[m] = format!("{},dumpdtb={}", dump[m], out.display());
        run_checked(Command::new(tools::QEMU.binary).args(&dump), "qemu dumpdtb")
    }

    /// The tree the kernel is handed, written to `out`, and its address when `--dtb-at` placed
    /// it (`None`: where QEMU's -kernel loader puts it).
    pub fn handed_over(&self, out: &Path) -> Result<Option<u64>> {
        match &self.dtb_at {
            Some((tree, at)) => {
                std::fs::copy(tree, out).map_err(|e| format!("{}: {e}", tree.display()))?;
                Ok(Some(*at))
            }
            None => self.dump_dtb(out).map(|()| None),
        }
    }

    /// A directory of this run's own, removed with it.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(tools::QEMU.binary);
        c.args(&self.args);
        c
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// The overlay a `--overlay` value names: an existing file, or a name from `dts/` (with or
/// without the `dts/` and `.dts` around it). An unknown name lists the valid ones.
pub fn overlay_source(name: &str) -> Result<PathBuf> {
    let as_path = Path::new(name);
    if as_path.is_file() {
        return absolute(as_path);
    }
    let dir = root().join("dts");
    let bare = name.strip_prefix("dts/").unwrap_or(name);
    let bare = bare.strip_suffix(".dts").unwrap_or(bare);
    let source = dir.join(format!("{bare}.dts"));
    if source.is_file() {
        return Ok(source);
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".dts").map(String::from))
        .collect();
    names.sort();
    Err(format!("no overlay '{name}': not a file, nor one of dts/: {}", names.join(", ")))
}

/// `path` made absolute (against the current directory), so that commands run elsewhere, or
/// pasted from the printed command line, find it.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The root nodes QEMU replaces in a `-dtb` file: those named `memory` or `memory@…` (it
/// removes them and writes its own from `-m` and `-numa`).
pub fn replaced_memory_nodes(dtb: &Path) -> Result<Vec<String>> {
    tools::ensure(&[tools::DTC])?;
    let out = Command::new("dtc")
        .args(["-q", "-I", "dtb", "-O", "dts"])
        .arg(dtb)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("dtc: {e}"))?;
    if !out.status.success() {
        return Err(format!("{}: not a device tree blob: {}", dtb.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(root_memory_nodes(&String::from_utf8_lossy(&out.stdout)))
}

/// The children of `/` named `memory` or `memory@…` in dtc's source output (one tab deep).
fn root_memory_nodes(dts: &str) -> Vec<String> {
    dts.lines()
        .filter_map(|l| l.strip_prefix('\t')?.strip_suffix(" {"))
        .filter(|n| *n == "memory" || n.starts_with("memory@"))
        .map(|n| format!("/{n}"))
        .collect()
}

/// The command line as a shell reads it: arguments with spaces or quotes are quoted.
pub fn shell_line(program: &str, args: &[String]) -> String {
    let quote = |a: &str| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=,./:@+%".contains(c)) {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    std::iter::once(program).chain(args.iter().map(String::as_str)).map(quote).collect::<Vec<_>>().join(" ")
}

fn run_checked(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

/// A child process killed (and reaped) when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait for the child at most `limit`; `None` on timeout (the guard kills it).
pub fn wait_bounded(guard: &mut Guard, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = guard.0.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Run `cmd` with its output captured, for at most `limit` (killed after that).
pub fn run_captured(cmd: &mut Command, limit: Duration) -> Result<Captured> {
    let start = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let mut guard = Guard(child);
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = pipe.read_to_end(&mut s);
            String::from_utf8_lossy(&s).replace('\r', "")
        })
    };
    let out = drain(Box::new(guard.0.stdout.take().expect("piped")));
    let err = drain(Box::new(guard.0.stderr.take().expect("piped")));
    let status = wait_bounded(&mut guard, limit);
    let elapsed = start.elapsed();
    drop(guard);
    Ok(Captured {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        status,
        elapsed,
    })
}

/// What a bounded, captured run produced; `status` is `None` when it was killed on timeout.
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
    pub status: Option<std::process::ExitStatus>,
    pub elapsed: Duration,
}

/// How a boot ended, told from QEMU's exit status and what the console printed. The kernel
/// powers the machine off (QEMU exits 0) after a panic too, so the console decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// QEMU exited 0 and the console printed `boot: complete`, with no panic.
    Clean,
    /// `Kernel panic - not syncing` with no exception report before it.
    Panic,
    /// An exception report (`trap: …`, then Linux's oops or stack-overflow report).
    Fault,
    /// Still running when the time limit ran out (QEMU was stopped).
    Timeout,
    /// QEMU exited 0 but `boot: complete` never appeared: an unusable device tree, a reset,
    /// or a console quieter than `loglevel=7` (the marker is an info line).
    Incomplete,
    /// QEMU itself failed (bad arguments, no memory, killed by a signal).
    QemuFailed,
}

/// The exit statuses of `cargo xtask qemu`, for `--help` and the README.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  clean boot: the console printed `boot: complete` and QEMU exited 0
  1  xtask failed before or around the boot (build, tools, files, options; clap's usage errors are 2)
  3  kernel panic (`Kernel panic - not syncing`)
  4  kernel fault: an exception report (oops, stack overflow), then the panic
  5  timeout: still running after --timeout seconds; QEMU was stopped
  6  incomplete: QEMU exited 0 without `boot: complete` (bad DTB, reset, or loglevel below 7 hid it)
  7  QEMU failed (non-zero exit or killed by a signal)";

impl Outcome {
    pub fn classify(console: &str, status: Option<std::process::ExitStatus>) -> Outcome {
        let lines: Vec<&str> = console.lines().map(crate::test::message).collect();
        if lines.iter().any(|l| l.starts_with("Kernel panic - not syncing")) {
            let fault = lines.iter().any(|l| l.starts_with("trap: ") || l.starts_with("Insufficient stack space"));
            return if fault { Outcome::Fault } else { Outcome::Panic };
        }
        match status {
            None => Outcome::Timeout,
            Some(s) if !s.success() => Outcome::QemuFailed,
            Some(_) if lines.contains(&"boot: complete") => Outcome::Clean,
            Some(_) => Outcome::Incomplete,
        }
    }

    /// The exit status of `cargo xtask qemu` (see `EXIT_STATUS_HELP`).
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Panic => 3,
            Outcome::Fault => 4,
            Outcome::Timeout => 5,
            Outcome::Incomplete => 6,
            Outcome::QemuFailed => 7,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Clean => "clean boot",
            Outcome::Panic => "kernel panic",
            Outcome::Fault => "kernel fault",
            Outcome::Timeout => "timeout",
            Outcome::Incomplete => "no `boot: complete` on the console",
            Outcome::QemuFailed => "QEMU failed",
        }
    }
}

/// Ask a process to stop (SIGTERM: QEMU restores the terminal it put in raw mode), then kill
/// it if it has not exited within a few seconds.
fn terminate(guard: &mut Guard) {
    let _ = Command::new("kill").arg("-TERM").arg(guard.0.id().to_string()).status();
    let _ = wait_bounded(guard, Duration::from_secs(3));
}

/// `cargo xtask qemu`: boot with the console on this terminal (and in our stdout as it
/// comes); the exit status is the boot's `Outcome`.
pub fn run_interactive(opts: &BootOptions, timeout: Option<Duration>) -> Result<i32> {
    tools::ensure(&[tools::QEMU])?;
    let built = build::build(opts.release)?;
    if let Some(dtb) = &opts.dtb {
        let replaced = replaced_memory_nodes(dtb)?;
        if !replaced.is_empty() {
            eprintln!(
                "xtask: warning: QEMU replaces {} of {} with its own memory from --mem {}{}; \
                 `cargo xtask memmap --dtb {}` shows the boot's memory setup on the tree's own memory",
                replaced.join(", "),
                dtb.display(),
                opts.mem,
                if opts.numa > 0 { format!(" --numa {}", opts.numa) } else { String::new() },
                dtb.display()
            );
        }
    }
    let machine = Machine::kept(opts, &built.image)?;
    eprintln!("xtask: {}", shell_line(tools::QEMU.binary, &machine.args));
    let child = machine
        .command()
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let mut guard = Guard(child);
    let mut pipe = guard.0.stdout.take().expect("piped");
    // Echo the console as it arrives and keep it for the verdict.
    let echo = std::thread::spawn(move || {
        use std::io::Write;
        let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
        let mut out = std::io::stdout();
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).replace('\r', "")
    });
    let status = match timeout {
        Some(limit) => {
            let s = wait_bounded(&mut guard, limit);
            if s.is_none() {
                terminate(&mut guard);
                eprintln!("\nxtask: still running after {}s: stopped QEMU", limit.as_secs());
            }
            s
        }
        None => Some(guard.0.wait().map_err(|e| format!("waiting for QEMU: {e}"))?),
    };
    drop(guard);
    let console = echo.join().unwrap_or_default();
    let outcome = Outcome::classify(&console, status);
    if outcome != Outcome::Clean {
        eprintln!("xtask: {} (exit status {})", outcome.describe(), outcome.code());
    }
    Ok(outcome.code() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_qemu_syntax() {
        assert_eq!(parse_size("128M"), Ok(128 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("64"), Ok(64 << 20));
        assert!(parse_size("4X").is_err());
    }

    #[test]
    fn outcome_from_console_and_status() {
        use std::os::unix::process::ExitStatusExt;
        // wait(2) statuses: exit code in bits 8..15, a signal in the low bits.
        let (ok, failed, killed) = (ExitStatusExt::from_raw(0), ExitStatusExt::from_raw(1 << 8), ExitStatusExt::from_raw(9));
        let clean = "[    0.1] Booting\n[    0.2] boot: complete\n[    0.3] reboot: Power down\n";
        assert_eq!(Outcome::classify(clean, Some(ok)), Outcome::Clean);
        assert_eq!(Outcome::classify(clean, Some(failed)), Outcome::QemuFailed);
        assert_eq!(Outcome::classify(clean, Some(killed)), Outcome::QemuFailed);
        assert_eq!(Outcome::classify("[    0.1] Booting\n", None), Outcome::Timeout);
        assert_eq!(Outcome::classify("[    0.1] Booting\n", Some(ok)), Outcome::Incomplete);
        // A line that only mentions the marker is not the marker.
        assert_eq!(Outcome::classify("[    0.1] waiting for boot: complete\n", Some(ok)), Outcome::Incomplete);
        let panic = "[    0.1] Kernel panic - not syncing: x at a.rs:1\n[    0.1] ---[ end Kernel panic - not syncing: x ]---\n";
        assert_eq!(Outcome::classify(panic, Some(ok)), Outcome::Panic);
        let fault = format!("[    0.1] trap: Synchronous (EL1h) exception: ESR_EL1 0x96000004\n{panic}");
        assert_eq!(Outcome::classify(&fault, Some(ok)), Outcome::Fault);
        let stack = format!("[    0.1] Insufficient stack space to handle exception!\n{panic}");
        assert_eq!(Outcome::classify(&stack, None), Outcome::Fault);
        // The codes are distinct and only a clean boot has 0.
        let all = [Outcome::Clean, Outcome::Panic, Outcome::Fault, Outcome::Timeout, Outcome::Incomplete, Outcome::QemuFailed];
        let codes: std::collections::BTreeSet<u8> = all.iter().map(|o| o.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|o| (o.code() == 0) == (*o == Outcome::Clean)));
    }

    #[test]
    fn only_root_memory_nodes_are_replaced() {
        let dts = "/ {\n\tmemory@40000000 {\n\t\tdevice_type = \"memory\";\n\t};\n\tram@80000000 {\n\t};\n\
                   \tmemory {\n\t};\n\tsoc {\n\t\tmemory@0 {\n\t\t};\n\t};\n};\n";
        assert_eq!(root_memory_nodes(dts), ["/memory@40000000", "/memory"]);
    }

    #[test]
    fn overlays_by_name_or_path() {
        let by_name = overlay_source("reserved-memory").unwrap();
        assert_eq!(overlay_source("dts/reserved-memory.dts").unwrap(), by_name);
        assert_eq!(overlay_source("reserved-memory.dts").unwrap(), by_name);
        assert_eq!(overlay_source(&by_name.display().to_string()).unwrap(), by_name);
        let err = overlay_source("no-such").unwrap_err();
        assert!(err.contains("reserved-memory, ") && err.contains("model"), "{err}");
    }

    #[test]
    fn printed_command_quotes_for_the_shell() {
        let args = ["-append".to_string(), "loglevel=8 foo=\"a b\" it's".to_string(), "-m".into(), "1024M".into()];
        assert_eq!(
            shell_line("qemu", &args),
            "qemu -append 'loglevel=8 foo=\"a b\" it'\\''s' -m 1024M"
        );
    }
}
