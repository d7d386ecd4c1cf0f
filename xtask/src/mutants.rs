//! `cargo xtask mutants`: mutation testing of the platform-independent code (`kernel/src/mm`,
//! `kernel/src/of`) against the host tests, with cargo-mutants (installed with `cargo install`
//! when missing). Each mutant is a small real change to one function (a return value replaced,
//! an operator flipped, a match arm deleted); a mutant that every host test survives is a gap
//! in the tests or a change that cannot be observed. Hours for the whole scope on two cores,
//! so not in CI: `--file` and `--shard` cut it down, and mutants/BASELINE.md records the last
//! run's counts and the survivors judged equivalent. Results land in mutants.out/.
//!
//! Each mutant costs an incremental rebuild of the kernel library's unit tests and their run,
//! so both are kept as small as they can be: only the `--lib` target is built and run (not the
//! fuzz-regression test, which would rebuild the library a second time, nor the doc tests), with
//! the `mutants` cargo profile (opt-level 1 as the tests normally have, but no debug info:
//! measured on a mutated `cap_size`, the rebuild took 11 s of CPU with debug info and 2 s
//! without). On two shared cores a mutant then costs 10–15 s while the machine is quiet, and
//! ten times that at `nice -n 10` when it is loaded (mutants/BASELINE.md).
//! With `-- --in-place` the mutants are built in the worktree itself and reuse its
//! target/mutants; without it cargo-mutants copies the tree and builds everything once first.

use crate::{root, tools, Result};
use std::process::Command;

/// What is mutated when no `--file` is given.
pub const SCOPE: [&str; 2] = ["kernel/src/mm/**/*.rs", "kernel/src/of/**/*.rs"];

/// Never mutated: the tests themselves and the test-only device-tree builder.
const EXCLUDE: [&str; 4] = ["kernel/src/**/tests/**", "kernel/src/**/*tests.rs", "kernel/src/**/tests.rs", "kernel/src/of/testblob.rs"];

#[derive(clap::Args)]
pub struct MutantsArgs {
    /// Mutate only files matching this glob (repeatable; default: kernel/src/mm and
    /// kernel/src/of), e.g. 'kernel/src/mm/memblock/**'.
    #[arg(long, value_name = "GLOB")]
    file: Vec<String>,
    /// Test only shard K of N of the mutants (K counts from 0).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Mutants built and tested at once, each in its own copy of the tree (default 1).
    #[arg(long)]
    jobs: Option<u32>,
    /// Seconds a mutant's tests may run before it counts as a timeout (default: cargo-mutants
    /// derives it from the unmutated run).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Only list the mutants, build and test nothing.
    #[arg(long)]
    list: bool,
    /// Further arguments for cargo-mutants (e.g. --baseline skip, --in-diff FILE).
    #[arg(last = true)]
    args: Vec<String>,
}

pub fn run(a: &MutantsArgs) -> Result<i32> {
    tools::ensure_cargo_tool(&tools::CARGO_MUTANTS)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.current_dir(root()).args(["mutants", "--package", "kernel", "--profile", "mutants"]);
    // For the build (`cargo test --no-run`) as well as the run: without it the build also
    // compiles the library a second time for the integration test.
    c.arg("--cargo-arg=--lib");
    if let Some(j) = a.jobs {
        c.args(["--jobs", &j.to_string()]);
    }
    let files: Vec<&str> = if a.file.is_empty() { SCOPE.to_vec() } else { a.file.iter().map(String::as_str).collect() };
    for f in files {
        c.args(["--file", f]);
    }
    for e in EXCLUDE {
        c.args(["--exclude", e]);
    }
    if let Some(s) = &a.shard {
        c.args(["--shard", s]);
    }
    if let Some(t) = a.timeout {
        c.args(["--timeout", &t.to_string()]);
    }
    if a.list {
        c.arg("--list");
    }
    c.args(&a.args);
    eprintln!("xtask: {:?}", c);
    let status = c.status().map_err(|e| format!("cannot run cargo mutants: {e}"))?;
    // cargo-mutants exits 2 when mutants were missed, 3 on timeouts: a finding, not a failure
    // of the command; the counts are in its summary and in mutants.out/.
    Ok(status.code().unwrap_or(1))
}
