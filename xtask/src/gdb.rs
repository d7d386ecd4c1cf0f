//! `cargo xtask gdb`: QEMU halted at reset with its gdb stub on a free local port, and
//! gdb-multiarch attached with the kernel ELF's symbols, the `mb-*` helpers
//! (`xtask/gdb/memboot.py`, which also loads rust-gdb's pretty-printers) and the user's own
//! gdbinit files.
//!
//! The kernel is linked at KIMAGE_VADDR but runs at its physical load address until head.S
//! turns the MMU on, so the symbols are loaded twice, as Linux's `lx-symbols` loads a module
//! where it sits: once at the link address, once moved by the load offset. A breakpoint on
//! `primary_entry` (or anything else that runs before the MMU) gets a location in each copy,
//! and the physical one triggers; after the MMU, the link-address copy is the one in use.
//!
//! The kernel is the `gdb` cargo profile's (opt-level 0, full debug info), so locals and
//! arguments can be read; `--release` boots the release kernel instead.
//!
//! gdb runs in `target/xtask/gdb/`, so what it leaves behind (a core file when it crashes,
//! its history) stays out of the work tree.

use crate::qemu::{run_captured, wait_bounded, BootOptions, Captured, Guard, Machine};
use crate::{build, root, tools, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A free TCP port on localhost for the stub.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// QEMU halted with its stub listening, and the gdb command that attaches to it.
pub struct Session {
    pub qemu: Guard,
    pub gdb: Command,
    _machine: Machine,
}

/// The helpers' script, for `source` by hand too.
pub fn helpers() -> std::path::PathBuf {
    root().join("xtask").join("gdb").join("memboot.py")
}

/// `hermetic`: skip the user's gdbinit files (`-nx`), for the test.
pub fn start(
    opts: &BootOptions,
    breakpoints: &[String],
    batch: Option<&Path>,
    serial: Stdio,
    hermetic: bool,
) -> Result<Session> {
    tools::ensure(&[tools::QEMU, tools::GDB])?;
    let built = build::build_profile(if opts.release { "release" } else { "gdb" })?;
    let port = free_port()?;
    let machine = Machine::new(opts, &built.image)?;
    let child = machine
        .command()
        .args(["-S", "-gdb", &format!("tcp:127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(serial)
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let qemu = Guard(child);
    let mut gdb = Command::new(tools::GDB.binary);
    let cwd = root().join("target").join("xtask").join("gdb");
    std::fs::create_dir_all(&cwd).map_err(|e| format!("{}: {e}", cwd.display()))?;
    gdb.current_dir(&cwd);
    gdb.arg("-q");
    if hermetic {
        gdb.arg("-nx");
    }
    if batch.is_some() {
        gdb.arg("-batch");
    }
    gdb.args(["-ex", "set pagination off", "-ex", "set confirm off", "-ex", "set architecture aarch64"]);
    gdb.arg("-ex").arg(format!("file {}", built.elf.display()));
    gdb.arg("-ex").arg(format!("add-symbol-file {} -o {:#x}", built.elf.display(), built.load_offset));
    gdb.arg("-ex").arg(format!("source {}", helpers().display()));
    gdb.arg("-ex").arg(format!("target remote 127.0.0.1:{port}"));
    for b in breakpoints {
        gdb.arg("-ex").arg(format!("break {b}"));
    }
    if let Some(file) = batch {
        gdb.arg("-x").arg(std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    Ok(Session { qemu, gdb, _machine: machine })
}

/// Interactive (or `--batch`) debugging; the kernel's console shares this terminal.
pub fn run(opts: &BootOptions, breakpoints: &[String], batch: Option<&Path>) -> Result<i32> {
    let mut s = start(opts, breakpoints, batch, Stdio::inherit(), false)?;
    let status = s.gdb.status().map_err(|e| format!("cannot run gdb-multiarch: {e}"))?;
    let _ = wait_bounded(&mut s.qemu, Duration::from_secs(5));
    Ok(status.code().unwrap_or(1))
}

/// Run a batch gdb session with a bounded wait; returns gdb's output and the kernel's serial
/// output (written to a file meanwhile).
pub fn run_batch_captured(opts: &BootOptions, script: &Path, limit: Duration) -> Result<(Captured, String)> {
    let serial_path = std::env::temp_dir().join(format!("xtask-gdb-serial-{}", std::process::id()));
    let serial = std::fs::File::create(&serial_path).map_err(|e| e.to_string())?;
    let mut s = start(opts, &[], Some(script), Stdio::from(serial), true)?;
    let gdb = run_captured(&mut s.gdb, limit)?;
    let _ = wait_bounded(&mut s.qemu, Duration::from_secs(10));
    let serial = std::fs::read_to_string(&serial_path).unwrap_or_default().replace('\r', "");
    let _ = std::fs::remove_file(&serial_path);
    Ok((gdb, serial))
}
