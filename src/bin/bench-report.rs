//! `cargo run --release --bin bench-report [-- --quick] [--out FILE] [--svg FILE]`:
//! the benchmark report of `bext-lua-bench` (benches/src/command.rs), the
//! wasm sandbox and native mlua interleaved in one process.
//!
//! Its entry point is in this package so that the tests of tests/all can
//! run it as the isolation section's child process
//! (`CARGO_BIN_EXE_bench-report`).

fn main() -> std::process::ExitCode {
    bext_lua_bench::command::main()
}
