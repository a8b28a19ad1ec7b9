//! The suite package of bext-plugin-lua-wasm: the `bext-lua` command line
//! ([`cli`]) and the native mlua baseline ([`native`]) that `bext-lua bench`,
//! the conformance tests and the benchmarks ([`bench`]) compare the wasm
//! sandbox with.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod native;
pub mod redis_server;

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
