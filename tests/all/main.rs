//! The integration tests, one binary (one link of wasmtime and Cranelift,
//! as wasmtime's own `tests/all/`): a module per capability or concern,
//! shared helpers in `common`.

mod artifact_cache;
mod async_calls;
mod attacks;
mod bad_input;
mod bench_suite;
mod cache;
mod capability_table;
mod cli;
mod coldstart;
mod common;
mod compat;
mod conformance;
mod definitions;
mod differential;
mod extended_capabilities;
mod full_profile;
mod fuzz;
mod guest_module;
mod header_injection;
mod hostile_guest;
mod isolation;
mod json;
mod lifecycle;
mod limits;
mod lint;
mod middleware;
mod noisy_neighbour;
mod plugin_specs;
mod pool;
mod quarantine;
mod reliability;
mod reload;
mod shared;
mod shared_redis;
mod stats;
mod tracing_spans;
mod transform;
