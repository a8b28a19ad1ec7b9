//! The `bext-lua` command line: `run`, `check`, `try`, `bench`, `test` and `types`.
//!
//! Each subcommand lives in its own module and returns the process's exit
//! status; errors are printed to stderr as `bext-lua: ...`.

mod bench;
mod check;
pub mod lint;
mod requests;
mod run;
mod test;
mod try_cmd;
pub mod types;

use bext_plugin_lua_wasm::LuaRuntimeConfig;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Lua 5.4 on the bext WebAssembly guest: run programs, check, try and time
/// plugins.
#[derive(Debug, Parser)]
#[command(name = "bext-lua", version)]
struct Cli {
    /// Compiles the guest in this process instead of loading (and saving) the
    /// compiled guest in the runtime's per-user cache folder
    /// ($BEXT_LUA_WASM_CACHE_DIR, else $XDG_CACHE_HOME/bext-plugin-lua-wasm,
    /// else ~/.cache/bext-plugin-lua-wasm).
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
    /// Lints a plugin script (undefined globals and fields, misspelt
    /// methods, unused locals), loads it in the plugin sandbox exactly as the
    /// runtime does and reports its capabilities (compared with a manifest).
    Check(check::CheckArgs),
    /// Sends request contexts (one JSON object per line) through a plugin's
    /// on_request and on_response, printing actions, logs, metrics, fuel and time.
    Try(try_cmd::TryArgs),
    /// Compares a plugin's cold start and per-call time with native Lua (mlua).
    Bench(bench::BenchArgs),
    /// Prints the editor definitions (LuaLS `---@meta` files) of the `bext`
    /// API, the capability tables and the sandbox's standard library, or
    /// writes them with a `.luarc.json`.
    Types(types::TypesArgs),
    /// Runs `*_spec.lua` files (describe/it, busted style) in the sandbox
    /// against plugins loaded by the runtime, with a fake clock.
    Test(test::TestArgs),
}

/// Runs the command line of this process; returns the exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let engine = engine_config(cli.no_cache);
    match cli.command {
        Command::Run(args) => run::run(args, engine),
        Command::Check(args) => check::check(args, engine),
        Command::Try(args) => try_cmd::try_requests(args, engine),
        Command::Bench(args) => bench::bench(args, engine),
        Command::Types(args) => types::types(args),
        Command::Test(args) => test::test(args, engine),
    }
}

/// Engine settings for every subcommand: the defaults, with the compiled
/// guest kept in the runtime's per-user cache folder
/// ([`bext_plugin_lua_wasm::default_artifact_cache_dir`]) unless
/// `--no-cache`. A folder other users can write to is not used (loading
/// compiled code from it would run theirs), and the user is told why.
fn engine_config(no_cache: bool) -> LuaRuntimeConfig {
    let config = LuaRuntimeConfig::default();
    if no_cache {
        return config;
    }
    let config = config.user_artifact_cache();
    if let Some(dir) = config.artifact_cache_dir.clone()
        && let Some(problem) = writable_by_others(&dir)
    {
        eprintln!(
            "bext-lua: not caching the compiled guest in {}: {problem}",
            dir.display()
        );
        return config.no_artifact_cache();
    }
    config
}

#[cfg(unix)]
fn writable_by_others(dir: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).ok()?.permissions().mode();
    (mode & 0o022 != 0).then(|| format!("writable by other users (mode {:o})", mode & 0o777))
}

#[cfg(not(unix))]
fn writable_by_others(_dir: &std::path::Path) -> Option<String> {
    None
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
