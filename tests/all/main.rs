//! The integration tests, one binary (one link of wasmtime and Cranelift,
//! as wasmtime's own `tests/all/`): a module per capability or concern,
//! shared helpers in `common`.

mod common;
mod async_calls;
mod attacks;
mod bad_input;
mod bench_suite;
mod cache;
mod cli;
mod coldstart;
mod compat;
mod conformance;
mod extended_capabilities;
mod fuzz;
mod guest_module;
mod hostile_guest;
mod isolation;
mod json;
mod lifecycle;
mod limits;
mod middleware;
mod noisy_neighbour;
mod pool;
mod reload;
mod transform;
