//! Host tools the commands need, installed with apt-get when possible.

use crate::Result;
use std::process::Command;

/// A host tool and the Debian package that provides it.
pub struct Tool {
    pub binary: &'static str,
    pub package: &'static str,
}

pub const QEMU: Tool = Tool { binary: "qemu-system-aarch64", package: "qemu-system-arm" };
pub const DTC: Tool = Tool { binary: "dtc", package: "device-tree-compiler" };
pub const FDTOVERLAY: Tool = Tool { binary: "fdtoverlay", package: "device-tree-compiler" };
pub const FDTPUT: Tool = Tool { binary: "fdtput", package: "device-tree-compiler" };
pub const GDB: Tool = Tool { binary: "gdb-multiarch", package: "gdb-multiarch" };
/// Renders SVG (the memory-map picture test: every label must survive a real renderer).
pub const RSVG: Tool = Tool { binary: "rsvg-convert", package: "librsvg2-bin" };

fn present(binary: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(binary).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Make sure every tool is on PATH: install the missing ones with apt-get when running as root
/// on a Debian-like system, otherwise fail with the exact command to run.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let mut packages: Vec<&str> = tools.iter().filter(|t| !present(t.binary)).map(|t| t.package).collect();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    let command = format!("apt-get install -y {}", packages.join(" "));
    if !(is_root() && present("apt-get")) {
        return Err(format!("missing host tools; install them with:\n    sudo {command}"));
    }
    eprintln!("xtask: installing {}", packages.join(" "));
    let install = |update: bool| -> bool {
        if update && !Command::new("apt-get").args(["update", "-q"]).status().map(|s| s.success()).unwrap_or(false) {
            return false;
        }
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !install(false) && !install(true) {
        return Err(format!("`{command}` failed"));
    }
    match tools.iter().find(|t| !present(t.binary)) {
        Some(t) => Err(format!("{} is still missing after installing {}", t.binary, t.package)),
        None => Ok(()),
    }
}

/// Make sure rustup has the standard library for `target` (rust-toolchain.toml names it, but
/// rustup only installs it together with a new toolchain).
pub fn ensure_rust_target(target: &str) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == target));
    match installed {
        Ok(true) => Ok(()),
        Ok(false) => {
            eprintln!("xtask: installing the Rust target {target}");
            match Command::new("rustup").args(["target", "add", target]).status() {
                Ok(s) if s.success() => Ok(()),
                _ => Err(format!("`rustup target add {target}` failed")),
            }
        }
        Err(_) => Err(format!("rustup not found; install the target with:\n    rustup target add {target}")),
    }
}

/// A cargo subcommand installed from crates.io with `cargo install`.
pub struct CargoTool {
    pub binary: &'static str,
    pub krate: &'static str,
}

pub const CARGO_MUTANTS: CargoTool = CargoTool { binary: "cargo-mutants", krate: "cargo-mutants" };

/// Make sure `tool` is on PATH: say and run `cargo install --locked` when it is not (no root
/// needed; it builds into ~/.cargo/bin).
pub fn ensure_cargo_tool(tool: &CargoTool) -> Result<()> {
    if present(tool.binary) {
        return Ok(());
    }
    let command = format!("cargo install {} --locked", tool.krate);
    eprintln!("xtask: {} is missing; running `{command}`", tool.binary);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    match Command::new(cargo).args(["install", tool.krate, "--locked"]).status() {
        Ok(s) if s.success() && present(tool.binary) => Ok(()),
        Ok(s) if s.success() => Err(format!("{} installed but not on PATH (add ~/.cargo/bin)", tool.binary)),
        _ => Err(format!("`{command}` failed")),
    }
}
