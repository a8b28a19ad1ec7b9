//! The suite package of bext-plugin-lua-wasm: the `bext-lua` command line
//! ([`cli`]) and the native mlua baseline ([`native`]) that `bext-lua bench`,
//! the conformance tests and the benchmarks ([`bench`]) compare the wasm
//! sandbox with.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod native;
