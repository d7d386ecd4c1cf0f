//! `cargo xtask vendor-trees`: the dry-run (`cargo xtask memmap --lint`) over every board tree
//! that Debian's arm64 Linux 6.1 package ships (`usr/lib/linux-image-*/**/*.dtb`, 577 in
//! 6.1.0-57), in parallel, each within a time bound. It counts how each ends (exit status),
//! the refusals with their one-line reason, the warnings about assumed RAM, the lint findings
//! by ID and the time per tree; it fails on a panic, a hang, a signal, or a refusal that is not
//! one line. It is skipped, and says so, only when the package cannot be fetched.

use crate::memmap::{self, MemmapArgs};
use crate::qemu::run_captured;
use crate::{build, linux, root, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A dry-run takes milliseconds; this bounds one that would not end.
const TREE_LIMIT: Duration = Duration::from_secs(20);

/// How one tree's dry-run ended.
enum Verdict {
    /// The exit status (0 complete, 2 blob refused, 3 the boot's panic, 4 lint error) and how
    /// many warnings of assumed RAM it printed.
    Ran { status: i32, assumed: bool, lint: Vec<String> },
    /// Exit status 1: the dry-run cannot run this tree, for the one-line reason.
    Refused(String),
    /// Anything else: a panic of the dry-run itself, a signal, a hang, a reason of many lines.
    Broken(String),
}

/// The trees, fetched and unpacked; `Err` says why they cannot be had (the caller skips).
fn trees(package: Option<&str>) -> Result<(String, Vec<PathBuf>)> {
    let work = root().join("target").join("xtask").join("linux");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let package = match package {
        Some(p) => p.to_string(),
        None => linux::newest_package()?,
    };
    let (_, version) = linux::fetch(&work, &package)?;
    let mut found = Vec::new();
    collect(&work.join("unpacked").join("usr").join("lib"), &mut found);
    found.sort();
    if found.is_empty() {
        return Err(format!("{package} has no .dtb under usr/lib"));
    }
    Ok((format!("{package} {version}"), found))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "dtb") {
            out.push(path);
        }
    }
}

fn judge(out: &crate::qemu::Captured) -> Verdict {
    let Some(status) = out.status else { return Verdict::Broken(format!("no end within {TREE_LIMIT:?}")) };
    let stderr: Vec<&str> = out.stderr.lines().filter(|l| !l.starts_with("memmap: warning: ")).collect();
    match status.code() {
        None => Verdict::Broken(format!("killed by {status}")),
        Some(1) if stderr.len() == 1 => Verdict::Refused(stderr[0].to_string()),
        Some(code @ (0 | 2 | 3 | 4)) if !out.stderr.contains("panicked") => Verdict::Ran {
            status: code,
            assumed: out.stderr.contains("memmap: warning: "),
            lint: out.stdout.lines().filter_map(|l| l.strip_prefix("lint: ")).filter_map(|l| Some(l.split_once("] ")?.0.to_string() + "]")).collect(),
        },
        Some(code) => Verdict::Broken(format!("exit status {code}: {}", out.stderr.trim())),
    }
}

/// Run every tree, one at a time per core; print the counts; `Err` on a broken run.
pub fn run(package: Option<&str>) -> Result<()> {
    let (package, trees) = match trees(package) {
        Ok(t) => t,
        Err(why) => {
            println!("SKIPPED vendor-trees: the package cannot be fetched: {why}");
            return Ok(());
        }
    };
    let built = build::build(false)?;
    let dry_run = build::build_dry_run()?;
    let next = Mutex::new(trees.iter());
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(tree) = next.lock().expect("no worker panics").next() else { break };
                let args = MemmapArgs { dtb: tree.clone(), inputs: crate::memmap_inputs::InputArgs { lint: true, ..Default::default() }, ..Default::default() };
                let verdict = match run_captured(&mut memmap::command(&dry_run, &args, &built), TREE_LIMIT) {
                    Ok(out) => (judge(&out), out.elapsed),
                    Err(e) => (Verdict::Broken(e), Duration::ZERO),
                };
                results.lock().expect("no worker panics").push((tree.clone(), verdict));
            });
        }
    });
    let results = results.into_inner().expect("no worker panics");
    report(&package, &results)
}

fn report(package: &str, results: &[(PathBuf, (Verdict, Duration))]) -> Result<()> {
    let name = |p: &Path| p.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string();
    let mut by_status: BTreeMap<i32, usize> = BTreeMap::new();
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lint: BTreeMap<String, usize> = BTreeMap::new();
    let (mut assumed, mut broken) = (0, Vec::new());
    for (tree, (verdict, _)) in results {
        match verdict {
            Verdict::Ran { status, assumed: a, lint: l } => {
                *by_status.entry(*status).or_default() += 1;
                assumed += *a as usize;
                for id in l {
                    *lint.entry(id.clone()).or_default() += 1;
                }
            }
            // The reason without the file's name, so that equal reasons count together.
            Verdict::Refused(why) => refused.entry(why.replace(&tree.display().to_string(), "TREE")).or_default().push(name(tree)),
            Verdict::Broken(why) => broken.push(format!("{}: {why}", tree.display())),
        }
    }
    let mut times: Vec<(Duration, String)> = results.iter().map(|(tree, (_, t))| (*t, name(tree))).collect();
    times.sort();
    let median = times.get(times.len() / 2).map(|t| t.0).unwrap_or_default();
    let (max, slowest) = times.last().cloned().unwrap_or_default();
    let ran: usize = by_status.values().sum();
    println!("vendor trees of {package}: {} trees, {ran} ran, {} refused, {} broken", results.len(), refused.values().map(Vec::len).sum::<usize>(), broken.len());
    let meaning = |s: i32| match s {
        0 => "the boot completes",
        2 => "the boot refuses the blob",
        3 => "the boot panics",
        4 => "the boot completes, lint error",
        _ => "?",
    };
    for (status, n) in &by_status {
        println!("  exit {status} ({}): {n}", meaning(*status));
    }
    println!("  with RAM assumed (empty /memory): {assumed}");
    for (why, trees) in &refused {
        println!("  refused {}: {why} (e.g. {})", trees.len(), trees[0]);
    }
    for (id, n) in &lint {
        println!("  lint {id}: {n} findings");
    }
    println!(
        "  time per tree, process included: median {:.1} ms, max {:.1} ms ({slowest})",
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("{} trees broke the dry-run:\n  {}", broken.len(), broken.join("\n  ")))
    }
}
