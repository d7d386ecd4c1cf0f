//! `cargo xtask`: build the kernel Image, boot it in QEMU, debug it with gdb, run every test.
//!
//! Small commands, each in its own module; every child process is owned by a guard that kills
//! it on drop, and every wait is bounded.

mod bench;
mod build;
mod footprint;
mod fuzz;
mod gdb;
mod gdb_test;
mod initcheck;
mod insns;
mod linux;
mod memmap;
mod memmap_inputs;
mod memmap_output_test;
mod memmap_report;
mod memmap_svg;
mod memmap_test;
mod monitor_test;
mod mutants;
mod qemu;
mod readme;
mod test;
mod tools;
mod vendor_trees;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot, debug and test the kernel")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel ELF and the Linux arm64 Image under target/.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Build, boot in QEMU virt, stream the serial console; the exit status says how the
    /// boot ended (0 only for a clean boot).
    #[command(after_help = qemu::EXIT_STATUS_HELP)]
    Qemu {
        /// Stop QEMU after this many seconds and exit with status 5 (default: no limit).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Instead of streaming the console: boot with the console monitor, draw the memory
        /// map it reports (`memmap`) into this SVG file, power off.
        #[arg(long, value_name = "FILE")]
        svg: Option<std::path::PathBuf>,
        #[command(flatten)]
        opts: qemu::BootOptions,
    },
    /// Start QEMU halted with its gdb stub and attach gdb-multiarch with the kernel's symbols.
    Gdb {
        /// Break here before continuing: a symbol (kernel_main) or `*ADDRESS` (head.S runs at
        /// its physical address before the MMU is on; see README).
        #[arg(long = "break", value_name = "SYMBOL")]
        breakpoint: Vec<String>,
        /// Run gdb in batch mode with this command file.
        #[arg(long, value_name = "FILE")]
        batch: Option<std::path::PathBuf>,
        #[command(flatten)]
        opts: qemu::BootOptions,
    },
    /// Run the boot's memory setup on a .dtb on the host and print its lines (no QEMU).
    ///
    /// Exit status: 0 the boot would complete; 1 the dry-run cannot run (arguments, file, a
    /// tree whose memory is too large to simulate on the host); 2 the boot would refuse the
    /// blob (`Error: invalid device tree blob …`); 3 the boot would stop with `Kernel panic -
    /// not syncing: …`, which is printed as the boot prints it; 4 the boot would complete and
    /// `--lint` found an error.
    Memmap {
        #[command(flatten)]
        args: memmap::MemmapArgs,
    },
    /// The dry-run with --lint over every board tree of Debian's arm64 Linux 6.1 package
    /// (downloaded with apt-get; skipped when it cannot be): counts by exit status, refusals
    /// with their reason, lint findings, time per tree; fails on a panic, a hang or a signal.
    VendorTrees {
        /// The package to use (default: the newest linux-image-6.1.0-NN-arm64-unsigned).
        #[arg(long)]
        package: Option<String>,
    },
    /// Benchmarks: memblock and the buddy allocator on the host (criterion), then the QEMU
    /// boot-time tables at 1/4/16/64/128/255 GiB, with -cpu cortex-a57 and -cpu max.
    Bench {
        /// Only the QEMU boot-time table, not the host benches.
        #[arg(long)]
        qemu_only: bool,
        /// Boots per cell of the QEMU table (the median is reported).
        #[arg(long, default_value_t = bench::RUNS)]
        runs: usize,
        /// Instead of the tables: count the guest instructions one boot executes and the code
        /// QEMU translates for it, at 1, 64 and 255 GiB, with the functions that execute most
        /// (the same from run to run within a few hundred instructions, unlike times).
        #[arg(long)]
        insns: bool,
        /// Extra arguments for criterion (e.g. a filter, --warm-up-time 1).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Mutation testing of kernel/src/mm and kernel/src/of with the host tests (cargo-mutants;
    /// slow, not in CI; see mutants/BASELINE.md).
    Mutants {
        #[command(flatten)]
        args: mutants::MutantsArgs,
    },
    /// Boot Debian's Linux 6.1 arm64 in every comparable scenario's machine and keep its
    /// memory-path log under linux-6.1/ (downloads the package with apt-get).
    LinuxLogs {
        /// The package to use (default: the newest linux-image-6.1.0-NN-arm64-unsigned).
        #[arg(long)]
        package: Option<String>,
        /// Only the scenarios whose name contains this string.
        #[arg(long)]
        only: Option<String>,
        /// Download and boot nothing: compare the logs of ours in this directory (NAME.log, as
        /// `cargo xtask test` leaves them in target/xtask/test/logs) with linux-6.1/.
        #[arg(long, value_name = "DIR")]
        check: Option<std::path::PathBuf>,
    },
    /// Host tests, every QEMU boot scenario, the exit-status tests, the console monitor, the
    /// README's example boot log, the dry-run on Debian's board trees, then the gdb test; exits
    /// non-zero when any fails.
    Test {
        /// Run only the QEMU/gdb scenarios whose name contains this string (no host tests).
        #[arg(long)]
        only: Option<String>,
    },
    /// Fuzz the host memory setup (DTB bytes and a command line, through mem_init) with
    /// cargo-fuzz on a nightly toolchain; crashes land in fuzz/artifacts/setup/.
    Fuzz {
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 600)]
        time: u64,
        /// Parallel fuzzing processes (1 on a busy 2-core machine).
        #[arg(long, default_value_t = 1)]
        jobs: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build { release } => build::build(release).map(|img| {
            println!("kernel ELF: {}", img.elf.display());
            println!("Image:      {}", img.image.display());
            0
        }),
        Command::Qemu { timeout, svg: Some(svg), opts } => {
            memmap_report::qemu_svg(&opts, &svg, std::time::Duration::from_secs(timeout.unwrap_or(120)))
        }
        Command::Qemu { timeout, svg: None, opts } => {
            qemu::run_interactive(&opts, timeout.map(std::time::Duration::from_secs))
        }
        Command::Gdb { breakpoint, batch, opts } => gdb::run(&opts, &breakpoint, batch.as_deref()),
        Command::Memmap { args } => memmap::run(&args),
        Command::VendorTrees { package } => vendor_trees::run(package.as_deref()).map(|_| 0),
        Command::Bench { qemu_only, runs, insns, args } => bench::run(qemu_only, runs, insns, &args),
        Command::Mutants { args } => mutants::run(&args),
        Command::LinuxLogs { package, only, check: Some(dir) } => {
            let _ = package;
            linux::check_dir(&dir, only.as_deref()).map(|_| 0)
        }
        Command::LinuxLogs { package, only, check: None } => {
            linux::regenerate(package.as_deref(), only.as_deref()).map(|_| 0)
        }
        Command::Test { only } => test::run(only.as_deref()).map(|_| 0),
        Command::Fuzz { time, jobs } => fuzz::run(time, jobs).map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors are messages for a person; `?` on anything that displays.
pub type Result<T> = std::result::Result<T, String>;

/// The workspace root (xtask's parent directory).
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}
