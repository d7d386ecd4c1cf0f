//! `cargo xtask fuzz [--time SECONDS] [--jobs N]`: run the fuzz target of the host memory setup
//! (`fuzz/fuzz_targets/setup.rs`) with `cargo fuzz` on a nightly toolchain, seeded from
//! `fuzz/seeds/` and every kept regression input.
//!
//! cargo-fuzz needs nightly (libFuzzer's sanitizer coverage); the kernel itself never does, so
//! the target lives in a workspace of its own. A missing nightly toolchain or cargo-fuzz is
//! installed with rustup / `cargo install cargo-fuzz --locked`, or the exact command is printed.
//! A crash leaves its input under `fuzz/artifacts/setup/`: keep it in
//! `kernel/testdata/fuzz-regressions/NAME.bin` once fixed, and `cargo xtask test` replays it.

use crate::{root, Result};
use std::process::Command;

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

fn install(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: installing {what}: {cmd:?}");
    if !cmd.status().map(|s| s.success()).unwrap_or(false) {
        return Err(format!("could not install {what}; run it yourself:\n    {cmd:?}"));
    }
    Ok(())
}

pub fn run(time: u64, jobs: u32) -> Result<()> {
    if !succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        install("a nightly toolchain", Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    if !succeeds(Command::new("cargo").args(["+nightly", "fuzz", "--version"])) {
        install("cargo-fuzz", Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let fuzz = root().join("fuzz");
    let corpus = fuzz.join("corpus").join("setup");
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&fuzz)
        .args(["+nightly", "fuzz", "run", "setup"])
        .arg(&corpus)
        .arg(fuzz.join("seeds"))
        .arg(root().join("kernel/testdata/fuzz-regressions"))
        .arg("--")
        .arg(format!("-max_total_time={time}"))
        // Inputs are a command line and a blob: real trees are a few KiB.
        .args(["-max_len=16384", "-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"]);
    if jobs > 1 {
        // libFuzzer's parallel mode: each job logs to fuzz-N.log in fuzz/.
        cmd.arg(format!("-jobs={jobs}")).arg(format!("-workers={jobs}"));
    }
    eprintln!("xtask: {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cargo fuzz: {e}"))?;
    if !status.success() {
        return Err(format!("the fuzz target found a crash ({status}); its input is under fuzz/artifacts/setup/"));
    }
    Ok(())
}
