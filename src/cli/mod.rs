//! The `bext-lua` command line: `run`, `check`, `try` and `bench`.
//!
//! Each subcommand lives in its own module and returns the process's exit
//! status; errors are printed to stderr as `bext-lua: ...`.

mod bench;
mod check;
mod requests;
mod run;
mod try_cmd;

use bext_plugin_lua_wasm::LuaRuntimeConfig;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Lua 5.4 on the bext WebAssembly guest: run programs, check, try and time
/// plugins.
#[derive(Debug, Parser)]
#[command(name = "bext-lua", version)]
struct Cli {
    /// Compiles the guest in this process instead of loading (and saving) the
    /// compiled guest in the per-user cache folder ($XDG_CACHE_HOME/bext-lua
    /// or ~/.cache/bext-lua).
    #[arg(long, global = true)]
    no_cache: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs Lua like the standalone `lua` interpreter, in the full profile:
    /// every standard library, the current folder and a private /tmp, the
    /// environment and stdio.
    Run(run::RunArgs),
    /// Loads a plugin script in the plugin sandbox exactly as the runtime
    /// does and reports its capabilities (compared with a manifest).
    Check(check::CheckArgs),
    /// Sends request contexts (one JSON object per line) through a plugin's
    /// on_request and on_response, printing actions, logs, metrics, fuel and time.
    Try(try_cmd::TryArgs),
    /// Compares a plugin's cold start and per-call time with native Lua (mlua).
    Bench(bench::BenchArgs),
}

/// Runs the command line of this process; returns the exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let engine = engine_config(if cli.no_cache { None } else { guest_cache_dir() });
    match cli.command {
        Command::Run(args) => run::run(args, engine),
        Command::Check(args) => check::check(args, engine),
        Command::Try(args) => try_cmd::try_requests(args, engine),
        Command::Bench(args) => bench::bench(args, engine),
    }
}

/// The per-user folder where the compiled guest is kept between runs:
/// `$XDG_CACHE_HOME/bext-lua`, else `$HOME/.cache/bext-lua`; `None` when
/// neither is an absolute path. (The one place the command line chooses it.)
pub fn guest_cache_dir() -> Option<PathBuf> {
    let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache"))).map(|base| base.join("bext-lua"))
}

/// Engine settings for every subcommand: the defaults, with the compiled
/// guest cached in `cache_dir` when it is a private folder (see
/// [`private_folder`]).
fn engine_config(cache_dir: Option<PathBuf>) -> LuaRuntimeConfig {
    let config = LuaRuntimeConfig::default();
    match cache_dir.filter(|dir| private_folder(dir)) {
        Some(dir) => config.artifact_cache_dir(dir),
        None => config,
    }
}

/// Creates `dir` (mode 0700 on Unix) if needed and tells whether it is safe
/// to load compiled code from: a folder others cannot write to. A cache that
/// is missing, unwritable or shared is skipped with a warning; the run goes
/// on without it.
fn private_folder(dir: &Path) -> bool {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let checked = builder.create(dir).and_then(|()| std::fs::metadata(dir)).and_then(|meta| {
        #[cfg(unix)]
        if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o022 != 0 {
            return Err(std::io::Error::other("writable by other users; loading compiled code from it is unsafe"));
        }
        if meta.is_dir() { Ok(()) } else { Err(std::io::Error::other("not a folder")) }
    });
    match checked {
        Ok(()) => true,
        Err(e) => {
            eprintln!("bext-lua: not caching the compiled guest in {}: {e}", dir.display());
            false
        }
    }
}

/// Prints `bext-lua: message` to stderr and returns status 1.
fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("bext-lua: {message}");
    1
}

/// Reads a plugin script, naming the file in the error.
fn read_script(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The name a plugin file is loaded under: its path as given, so Lua's
/// messages read `path/to/plugin.lua:LINE: ...`.
fn plugin_name(path: &std::path::Path) -> String {
    path.display().to_string()
}
