//! `bext-lua run` against the system's `lua5.4`, end to end: two processes
//! running the same command line, timed from spawn to exit, start-up
//! included. The report's `run` group.
//!
//! Both run `lua -e 'print(dofile("benches/lua/NAME.lua"):run("N"))'` from
//! the repository's root and must print the same line before they are
//! timed. `bext-lua` is the binary built beside the report command (`cargo
//! build --release --bin bext-lua`), with its compiled-guest cache in a
//! temporary folder filled by the warm-up round: the start-up a user sees
//! from the second run on.

use crate::measure::Interleaved;
use crate::table::{Group, Row, Unit};
use crate::tiers::{BenchError, BenchResult};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The system's interpreter (Debian's `lua5.4`, installed by `scripts/bootstrap`).
pub const SYSTEM_LUA: &str = "lua5.4";

/// The programs of `benches/lua/` with an `N` about four times the CPU
/// group's (a run takes roughly 0.1-0.2 s on native Lua on an idle 2-core
/// machine, so start-up weighs as it does for a real script), and the CPU
/// group's own `N` for a quick run: (name, N of a full run, N of a quick run).
pub const RUN_PROGRAMS: [(&str, u32, u32); 8] = [
    ("fib", 32, 30),
    ("binary_trees", 15, 13),
    ("nbody", 60_000, 15_000),
    ("spectral_norm", 300, 150),
    ("fannkuch", 9, 8),
    ("strings", 20_000, 5000),
    ("tables", 40_000, 10_000),
    ("json", 3200, 800),
];

/// The chunk both interpreters run for `program` with argument `n`.
pub fn chunk(program: &str, n: u32) -> String {
    format!("print(dofile(\"benches/lua/{program}.lua\"):run(\"{n}\"))")
}

/// The `bext-lua` binary beside the running executable (`target/release/`
/// for the report command), or `BEXT_LUA` when set.
pub fn bext_lua_binary() -> BenchResult<PathBuf> {
    if let Some(path) = std::env::var_os("BEXT_LUA") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::Invalid(format!("cannot locate this executable: {e}")))?;
    let binary = exe.with_file_name(format!("bext-lua{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        return Err(BenchError::Invalid(format!(
            "{} not found: build it first with `cargo build --release --bin bext-lua` (or set BEXT_LUA)",
            binary.display()
        )));
    }
    Ok(binary)
}

/// One interpreter process: its command and where it runs.
struct Interpreter {
    program: PathBuf,
    /// Arguments before `-e CHUNK` (`run` for bext-lua).
    leading: Vec<&'static str>,
    /// XDG_CACHE_HOME for the process (bext-lua's private cache).
    cache_home: Option<PathBuf>,
    root: PathBuf,
}

impl Interpreter {
    /// Runs `-e chunk`; its stdout, or an error naming the interpreter.
    fn run(&self, chunk: &str) -> BenchResult<String> {
        let mut command = Command::new(&self.program);
        command
            .current_dir(&self.root)
            .args(&self.leading)
            .arg("-e")
            .arg(chunk);
        if let Some(home) = &self.cache_home {
            command
                .env("XDG_CACHE_HOME", home)
                .env_remove("BEXT_LUA_WASM_CACHE_DIR");
        }
        let output = command.output().map_err(|e| {
            BenchError::Invalid(format!("cannot run {}: {e}", self.program.display()))
        })?;
        if !output.status.success() {
            return Err(BenchError::Invalid(format!(
                "{} -e {chunk:?} failed ({}): {}",
                self.program.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Wall-clock seconds of one run, spawn to exit.
    fn time(&self, chunk: &str) -> BenchResult<f64> {
        let started = Instant::now();
        self.run(chunk)?;
        Ok(started.elapsed().as_secs_f64())
    }
}

/// A temporary folder removed on drop.
struct TempCache(PathBuf);

impl Drop for TempCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `run` group's rows: start-up (`print(1)`), then every program of
/// [`RUN_PROGRAMS`]; `row` turns samples into a report row.
pub fn measure(
    rounds: usize,
    warmup: usize,
    quick: bool,
    row: fn(Group, String, Unit, &Interleaved) -> Row,
    push: &mut dyn FnMut(Row),
) -> BenchResult<()> {
    // The repository's root (this crate is its `benches/` folder).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), PathBuf::from);
    let cache = TempCache(
        std::env::temp_dir().join(format!("bench-report-run-cache-{}", std::process::id())),
    );
    let bext_lua = Interpreter {
        program: bext_lua_binary()?,
        leading: vec!["run"],
        cache_home: Some(cache.0.clone()),
        root: root.clone(),
    };
    let lua = Interpreter {
        program: PathBuf::from(SYSTEM_LUA),
        leading: Vec::new(),
        cache_home: None,
        root,
    };
    check_system_lua(&lua)?;

    let mut cases = vec![("print(1): start-up".to_string(), "print(1)".to_string())];
    for (program, full, quick_n) in RUN_PROGRAMS {
        let n = if quick { quick_n } else { full };
        cases.push((format!("{program}({n})"), chunk(program, n)));
    }
    for (name, chunk) in cases {
        // The same output on both sides before timing (this also fills the cache).
        let (ours, theirs) = (bext_lua.run(&chunk)?, lua.run(&chunk)?);
        if ours != theirs {
            return Err(BenchError::Invalid(format!(
                "{name}: bext-lua printed {ours:?}, {SYSTEM_LUA} {theirs:?}"
            )));
        }
        let samples = Interleaved::run(
            rounds,
            warmup,
            || bext_lua.time(&chunk),
            || lua.time(&chunk),
        )?;
        push(row(Group::Run, name, Unit::Seconds, &samples));
    }
    Ok(())
}

/// What the group needs and this machine lacks (the `bext-lua` binary or
/// `lua5.4`), if anything.
pub fn missing_prerequisite() -> Option<String> {
    if let Err(e) = bext_lua_binary() {
        return Some(e.to_string());
    }
    match Command::new(SYSTEM_LUA).arg("-v").output() {
        Ok(output) if output.status.success() => None,
        _ => Some(format!(
            "no {SYSTEM_LUA} on the PATH (scripts/bootstrap installs it)"
        )),
    }
}

fn check_system_lua(lua: &Interpreter) -> BenchResult<()> {
    lua.run("print(_VERSION)").map(drop).map_err(|e| {
        BenchError::Invalid(format!("{e}; the `run` group compares with Debian's {SYSTEM_LUA} (scripts/bootstrap installs it)"))
    })
}

/// Whether a row of the `run` group is a program of the geometric mean (not
/// the start-up row).
pub fn is_program_row(row: &Row) -> bool {
    row.group == Group::Run && !row.name.starts_with("print(1)")
}
