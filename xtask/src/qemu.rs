//! Booting the kernel in QEMU `virt`.
//!
//! `BootOptions` are the command-line options of `cargo xtask qemu` (and `gdb`); `Machine`
//! turns them into a QEMU command line. Large memory goes to a RAM backend without
//! reservation (`reserve=off`: the host commits only what the guest touches; QEMU
//! refuses guest RAM the host cannot commit), removed afterwards. `--overlay NAME` dumps the
//! tree QEMU generates for the same options, applies `dts/NAME.dts` and boots with it.

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
    /// Boot with this device tree instead of QEMU's own.
    #[arg(long, value_name = "FILE", conflicts_with = "overlay")]
    pub dtb: Option<PathBuf>,
    /// Apply dts/NAME.dts to the tree QEMU generates and boot with the result.
    #[arg(long, value_name = "NAME")]
    pub overlay: Option<String>,
    /// Initial ramdisk.
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    /// Build and boot the release kernel.
    #[arg(long)]
    pub release: bool,
    /// Extra QEMU arguments.
    #[arg(last = true)]
    pub extra: Vec<String>,
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
    scratch: PathBuf,
}

impl Machine {
    /// The QEMU command line for `opts`, booting `image`.
    pub fn new(opts: &BootOptions, image: &Path) -> Result<Machine> {
        let mem = parse_size(&opts.mem)?;
        let scratch = root().join("target").join("xtask").join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let mut m = Machine { args: Vec::new(), scratch };
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
        m.push(["-kernel", &image.display().to_string()]);
        if let Some(initrd) = &opts.initrd {
            m.push(["-initrd", &initrd.display().to_string()]);
        }
        if let Some(append) = &opts.append {
            m.push(["-append", append]);
        }
        if let Some(dtb) = &opts.dtb {
            m.push(["-dtb", &dtb.display().to_string()]);
        }
        if let Some(name) = &opts.overlay {
            let dtb = m.overlay_dtb(name)?;
            m.push(["-dtb", &dtb.display().to_string()]);
        }
        m.args.extend(opts.extra.iter().cloned());
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

    /// QEMU's own tree for these options (`-M ...,dumpdtb=`), with `dts/NAME.dts` applied.
    fn overlay_dtb(&mut self, name: &str) -> Result<PathBuf> {
        tools::ensure(&[tools::DTC, tools::FDTOVERLAY])?;
        let source = root().join("dts").join(format!("{name}.dts"));
        if !source.is_file() {
            return Err(format!("no overlay {}", source.display()));
        }
        let base = self.scratch.join("qemu.dtb");
        self.dump_dtb(&base)?;
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
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
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

/// `cargo xtask qemu`: boot with the console on this terminal; QEMU's exit status is ours.
pub fn run_interactive(opts: &BootOptions) -> Result<i32> {
    tools::ensure(&[tools::QEMU])?;
    let built = build::build(opts.release)?;
    let machine = Machine::new(opts, &built.image)?;
    eprintln!("xtask: {} {}", tools::QEMU.binary, machine.args.join(" "));
    let child = machine.command().spawn().map_err(|e| format!("cannot start QEMU: {e}"))?;
    let mut guard = Guard(child);
    let status = guard.0.wait().map_err(|e| format!("waiting for QEMU: {e}"))?;
    Ok(status.code().unwrap_or(1))
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
}
