//! The benchmark suite's shared parts: one interface ([`side::Side`]) that
//! runs a workload on the wasm sandbox and on native mlua with identical
//! input, the workloads, the measures, and the report behind
//! `cargo run --release --bin bench-report`. The criterion benches in
//! `benches/` use the same pieces.

pub mod async_api;
pub mod cli_run;
pub mod isolation;
pub mod measure;
pub mod noisy;
pub mod report;
pub mod side;
pub mod workloads;
