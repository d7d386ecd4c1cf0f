//! `cargo xtask gdb`: QEMU halted at reset with its gdb stub on a free local port, and
//! gdb-multiarch attached with the kernel ELF's symbols. The kernel runs where it is linked,
//! so the same symbols serve before the MMU is on (head.S) and after (Rust).
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

pub fn start(opts: &BootOptions, breakpoints: &[String], batch: Option<&Path>, serial: Stdio) -> Result<Session> {
    tools::ensure(&[tools::QEMU, tools::GDB])?;
    let built = build::build(opts.release)?;
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
    gdb.arg("-q").arg("-nx");
    if batch.is_some() {
        gdb.arg("-batch");
    }
    gdb.args(["-ex", "set pagination off", "-ex", "set confirm off", "-ex", "set architecture aarch64"]);
    gdb.arg("-ex").arg(format!("file {}", built.elf.display()));
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
    let mut s = start(opts, breakpoints, batch, Stdio::inherit())?;
    let status = s.gdb.status().map_err(|e| format!("cannot run gdb-multiarch: {e}"))?;
    let _ = wait_bounded(&mut s.qemu, Duration::from_secs(5));
    Ok(status.code().unwrap_or(1))
}

/// Run a batch gdb session with a bounded wait; returns gdb's output and the kernel's serial
/// output (written to a file meanwhile).
pub fn run_batch_captured(opts: &BootOptions, script: &Path, limit: Duration) -> Result<(Captured, String)> {
    let serial_path = std::env::temp_dir().join(format!("xtask-gdb-serial-{}", std::process::id()));
    let serial = std::fs::File::create(&serial_path).map_err(|e| e.to_string())?;
    let mut s = start(opts, &[], Some(script), Stdio::from(serial))?;
    let gdb = run_captured(&mut s.gdb, limit)?;
    let _ = wait_bounded(&mut s.qemu, Duration::from_secs(10));
    let serial = std::fs::read_to_string(&serial_path).unwrap_or_default().replace('\r', "");
    let _ = std::fs::remove_file(&serial_path);
    Ok((gdb, serial))
}
