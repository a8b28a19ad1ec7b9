//! The suite package of bext-plugin-lua-wasm: the `bext-lua` command line
//! ([`cli`]), and the binaries, examples and integration tests of the
//! workspace. The native mlua baseline is `bext-lua-native` (native/), the
//! benchmark harness `bext-lua-bench` (benches/), the test fixtures
//! `bext-test-support` (test-support/).
#![warn(missing_docs)]

pub mod cli;
