//! The `bench-report` command, `cargo run --release --bin bench-report [--
//! --quick] [--out FILE] [--svg FILE]`: every benchmark, the wasm sandbox
//! and native mlua interleaved in this one process; prints a markdown
//! report and writes an SVG chart of the ratios.
//!
//! The binary itself is the root package's `src/bin/bench-report.rs`, which
//! calls [`main`]: the root package's tests run it as the isolation
//! section's child process, and cargo gives a package's tests the path of
//! that package's own binaries only.

use crate::async_api::{self, AsyncEffort};
use crate::report::{self, ReportOptions, machine_description};
use crate::table::Group;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The wasm sandbox against native mlua, side by side in one run.
#[derive(Debug, Parser)]
#[command(name = "bench-report")]
struct Args {
    /// Fewer rounds and smaller inputs (under two minutes on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Only these groups (repeatable): cold-start, per-call, cpu, metering,
    /// errors, memory, scaling, shared-state, run (needs `cargo build --release --bin
    /// bext-lua` and lua5.4), isolation.
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    only: Vec<Group>,
    /// Also write the markdown report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Only the async API's section (async against sync per call, and the
    /// tokio isolation measure); a run without `--only` includes it.
    #[arg(long)]
    async_api: bool,
    /// Where the SVG chart of the ratios goes.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "target/bench-report/ratios.svg"
    )]
    svg: PathBuf,
}

/// Refuses to measure a guest other than the one the checkout this binary
/// was built in holds. Cargo decides that the compiled guest artifact is up
/// to date by file times, so a `guest.wasm` put back with an older time
/// than an experiment's build (a `git checkout`, another worktree sharing
/// the target folder) leaves the experiment's guest in the next build,
/// and every figure would silently be that guest's.
fn check_guest_is_the_checkouts() -> Result<(), String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../guest-artifact/guest.wasm.sha256"
    );
    // Run away from its checkout (the binary copied elsewhere), there is
    // nothing to compare with.
    let Ok(committed) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let (committed, built) = (committed.trim(), bext_plugin_lua_wasm::GUEST_SHA256.trim());
    if committed == built {
        return Ok(());
    }
    Err(format!(
        "this build's guest ({built}) is not the checkout's ({committed}, {path}); \
         cargo kept an older compiled guest: `touch guest-artifact/guest.wasm` and build again"
    ))
}

/// A run's heading and what it ran on: the machine, the guest measured
/// (its SHA-256) and the command.
fn run_header(title: &str, command: &str, seconds: f64) -> String {
    format!(
        "## {title}\n\n* Machine: {}\n* Guest: SHA-256 `{}`\n* Command: `{command}` ({seconds:.0} s)\n\n",
        machine_description(),
        bext_plugin_lua_wasm::GUEST_SHA256,
    )
}

fn parse_group(name: &str) -> Result<Group, String> {
    Group::ALL
        .into_iter()
        .find(|g| g.key() == name)
        .ok_or_else(|| {
            let keys: Vec<&str> = Group::ALL.iter().map(|g| g.key()).collect();
            format!("unknown group {name:?} (one of {})", keys.join(", "))
        })
}

/// The command's `main`: parses the process's arguments, runs the report,
/// prints it and writes the chart; or, re-executed as one of its own child
/// processes, runs that child's part.
pub fn main() -> ExitCode {
    // The isolation section re-executes this binary to run each attack in
    // a child process it can time out or see crash.
    if let Some(code) = crate::isolation::child_main() {
        return code;
    }
    // The cold-start group re-executes it as a new process's first call.
    if let Some(code) = crate::report::first_call_child_main() {
        return code;
    }
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!("bench-report: this is a debug build; figures need --release");
    }
    if let Err(e) = check_guest_is_the_checkouts() {
        eprintln!("bench-report: {e}");
        return ExitCode::FAILURE;
    }
    if args.async_api {
        return async_section(&args);
    }
    let options = ReportOptions {
        quick: args.quick,
        only: args.only.clone(),
    };
    let report = match report::run(&options, |row| {
        eprintln!(
            "{:<11} {:<62} ratio {:.2}x",
            row.group.key(),
            row.name,
            row.ratio
        );
    }) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("bench-report: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut flags = String::new();
    if args.quick {
        flags.push_str(" --quick");
    }
    for group in &args.only {
        flags.push_str(&format!(" --only {}", group.key()));
    }
    let command = format!(
        "cargo run --release --bin bench-report{}",
        if flags.is_empty() {
            flags
        } else {
            format!(" --{flags}")
        }
    );
    let mut text = run_header(
        if report.quick {
            "Quick run"
        } else {
            "Full run"
        },
        &command,
        report.seconds,
    );
    text.push_str(&report.markdown());
    if args.only.is_empty() {
        match async_api::run(AsyncEffort::new(args.quick), |name| {
            eprintln!("async      {name}")
        }) {
            Ok(section) => text.push_str(&format!("\n{}", section.markdown())),
            Err(e) => {
                eprintln!("bench-report: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{text}");

    if let Some(parent) = args.svg.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = report.write_svg(&args.svg) {
        eprintln!("bench-report: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("bench-report: chart written to {}", args.svg.display());
    if let Some(out) = &args.out
        && let Err(e) = std::fs::write(out, &text)
    {
        eprintln!("bench-report: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `--async-api`: only the async API's section.
fn async_section(args: &Args) -> ExitCode {
    let started = std::time::Instant::now();
    let section = match async_api::run(AsyncEffort::new(args.quick), |name| {
        eprintln!("async      {name}")
    }) {
        Ok(section) => section,
        Err(e) => {
            eprintln!("bench-report: {e}");
            return ExitCode::FAILURE;
        }
    };
    let quick = if args.quick { " --quick" } else { "" };
    let mut text = run_header(
        "Async API run",
        &format!("cargo run --release --bin bench-report --{quick} --async-api"),
        started.elapsed().as_secs_f64(),
    );
    text.push_str(&section.markdown());
    print!("{text}");
    if let Some(out) = &args.out
        && let Err(e) = std::fs::write(out, &text)
    {
        eprintln!("bench-report: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
