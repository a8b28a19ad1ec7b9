//! `bext-lua run [-e CHUNK]... [FILE [ARGS...]]`: the full profile.

use bext_plugin_lua_wasm::LuaRuntimeConfig;
use bext_plugin_lua_wasm::runner::{LuaRunner, RunOptions};
use clap::Args;

/// Arguments of `bext-lua run`.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Runs CHUNK before the script, like `lua -e CHUNK` (repeatable; in order).
    #[arg(short = 'e', value_name = "CHUNK", allow_hyphen_values = true)]
    exec: Vec<String>,
    /// The script (`-` reads standard input), then its arguments: `arg[1]`,
    /// `arg[2]`, ... and the script's `...`. Without a script and without
    /// `-e`, the program is read from standard input.
    #[arg(
        value_name = "FILE [ARGS]...",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

pub(super) fn run(args: RunArgs, engine: LuaRuntimeConfig) -> i32 {
    let mut options = RunOptions {
        exec_chunks: args.exec,
        ..RunOptions::default()
    };
    let mut command = args.command.into_iter();
    options.script = command.next();
    options.script_args = command.collect();
    if options.script.is_none() && options.exec_chunks.is_empty() {
        options.script = Some("-".into());
    }
    let runner = match LuaRunner::with_config(engine.fuel_metering(false).epoch_deadlines(false)) {
        Ok(runner) => runner,
        Err(e) => return super::fail(e),
    };
    match runner.run(&options) {
        Ok(outcome) => outcome.exit_code,
        Err(e) => super::fail(e),
    }
}
