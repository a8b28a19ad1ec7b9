//! The benchmark harness of bext-plugin-lua-wasm, beside the benches it
//! serves: one interface ([`tiers::Side`]) that runs a workload on the wasm
//! sandbox and on native mlua (`bext-lua-native`) with identical input, the
//! workloads, the measures, and the report behind `cargo run --release
//! --bin bench-report`. The criterion benches in this folder (`cargo bench`)
//! and `bext-lua bench` use the same pieces.
//!
//! Its modules, lowest first: [`format`] (figures for people), [`tiers`]
//! (the two sides and their settings), [`workloads`], [`measure`],
//! [`table`] (the report's groups and rows), the groups that are more than
//! a few rows ([`noisy`], [`isolation`], [`cli_run`], [`async_api`]),
//! [`report`], which runs them all, and [`command`], the `bench-report`
//! command line.
#![warn(missing_docs)]

pub mod async_api;
pub mod cli_run;
pub mod command;
pub mod format;
pub mod isolation;
pub mod measure;
pub mod noisy;
pub mod report;
pub mod table;
pub mod tiers;
pub mod workloads;

use bext_plugin_api::types::PluginManifest;

/// A manifest that declares no capabilities (so none are gated), for
/// scripts run without one: by the `bext-lua` tools and the benchmarks.
pub fn manifest_without_capabilities(name: impl Into<String>) -> PluginManifest {
    PluginManifest {
        name: name.into(),
        version: "0.0.0".into(),
        description: String::new(),
        capabilities: Vec::new(),
        requires_capabilities: Vec::new(),
        provides_capabilities: Vec::new(),
    }
}
