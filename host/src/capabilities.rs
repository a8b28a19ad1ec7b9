//! Capability adapters: `LuaPlugin` implements the traits of
//! `bext-plugin-api` by calling the script's methods of the same names.
//!
//! Conventions shared by every adapter: structured arguments go in as JSON
//! strings, integers as Lua integers, absent values as nil; results come back
//! as Lua values checked here, one helper per expected shape, so every adapter
//! reports a wrong type or malformed JSON the same way. Where a JSON payload
//! is expected (a cache entry, an `on_response` change), the script may
//! return a JSON string or a table, which the shim encodes with
//! `bext.json.encode`.
//!
//! # Capabilities: what a plugin provides
//!
//! The manifest's `capabilities` and `provides_capabilities` (together: the
//! *declared* capabilities) are checked when the plugin loads against the
//! methods the script defines ([`check_declared_capabilities`]), by the one
//! capability table ([`table`]: each capability's required and optional
//! methods and default priority; the README's tables are compared with it).
//!
//! All sixteen capabilities are wired: the twelve beyond the first four go
//! through one generic mechanism (`generic.rs`; one adapter file per trait,
//! `auth.rs` ... `webhook.rs`). Guest results become host values in
//! `output.rs`; the request JSON both middleware and auth hand a script is
//! in `request_json.rs`. When a manifest declares capabilities, a call through a trait it
//! does not declare fails with [`Error::CapabilityNotProvided`]; a manifest
//! that declares none gates nothing, and each call runs the method of that
//! name (absent: [`Error::MissingMethod`], or the trait's default where it
//! has one).

mod bounded_json;
mod generic;
mod header_rules;
mod output;
mod request_json;
pub(crate) mod table;
// The four capabilities with their own adapter.
mod cache;
mod lifecycle;
mod middleware;
mod transform;
// The twelve over the one mechanism of `generic.rs`, a file per trait.
mod auth;
mod authz_policy;
mod feature_flag;
mod i18n;
mod locking;
mod mailer;
mod scheduled;
mod search_client;
mod session;
mod storage_client;
mod tracer;
mod webhook;

pub use lifecycle::LifecycleHook;
pub use middleware::{
    MiddlewareAction, ResponseChange, parse_middleware_action, parse_response_change,
    request_context_json,
};
pub use table::{CAPABILITIES, CapabilityMethods, capability_methods, capability_name};

use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::types::{PluginCapability, PluginManifest};
pub(crate) use output::json_kind;
use serde_json::Value;

/// The capabilities `manifest` declares (`capabilities` and
/// `provides_capabilities`), without duplicates, in manifest order.
pub(crate) fn declared_capabilities(manifest: &PluginManifest) -> Vec<PluginCapability> {
    let mut declared = Vec::new();
    for capability in manifest
        .capabilities
        .iter()
        .chain(&manifest.provides_capabilities)
    {
        if !declared.contains(capability) {
            declared.push(*capability);
        }
    }
    declared
}

/// The load-time check: [`Error::CapabilityMismatch`] when `manifest`
/// declares a capability whose methods the script of `plugin` does not
/// define (`defines` answers for it), naming every missing method.
pub(crate) fn check_declared_capabilities(
    plugin: &str,
    manifest: &PluginManifest,
    defines: impl Fn(&str) -> bool,
) -> Result<(), Error> {
    let mut problems = Vec::new();
    for capability in declared_capabilities(manifest) {
        let row = capability_methods(capability);
        let missing: Vec<String> = row
            .missing(&defines)
            .iter()
            .map(|m| format!("`{m}`"))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "claims the {} capability but the script defines no {}",
                row.name,
                missing.join(", ")
            ));
        }
        if row.required.is_empty() && !row.optional.iter().any(|m| defines(m)) {
            problems.push(format!(
                "claims the {} capability but the script defines none of {}",
                row.name,
                row.optional.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::CapabilityMismatch {
            plugin: plugin.into(),
            message: format!("the manifest {}", problems.join("; it ")),
        })
    }
}

impl LuaPlugin {
    /// The capabilities the manifest declares (`capabilities` and
    /// `provides_capabilities`), without duplicates, in manifest order.
    pub fn declared_capabilities(&self) -> Vec<PluginCapability> {
        declared_capabilities(self.manifest())
    }

    /// Whether the plugin provides `capability`: declared in the manifest,
    /// or, for a manifest that declares nothing, implemented by the script
    /// (it defines the methods the [capability table](CAPABILITIES) lists).
    pub fn provides(&self, capability: PluginCapability) -> bool {
        let declared = self.declared_capabilities();
        if !declared.is_empty() {
            return declared.contains(&capability);
        }
        capability_methods(capability).implemented_by(|m| self.has_method(m))
    }

    /// [`Error::CapabilityNotProvided`] when the manifest declares
    /// capabilities and `capability` is not among them.
    pub(crate) fn require_capability(&self, capability: PluginCapability) -> Result<(), Error> {
        let declared = self.declared_capabilities();
        if declared.is_empty() || declared.contains(&capability) {
            Ok(())
        } else {
            Err(Error::CapabilityNotProvided {
                plugin: self.name().into(),
                capability: capability_name(capability).into(),
            })
        }
    }

    /// `priority()` of `capability`'s trait: the script's `priority` field
    /// when it is a `u32`, else the trait's default from the table.
    pub(crate) fn priority_for(&self, capability: PluginCapability) -> u32 {
        // Every trait with a `priority()` has a default in the table (a unit
        // test of table.rs checks it); 600 only satisfies the type.
        let default = capability_methods(capability)
            .default_priority
            .unwrap_or(bext_plugin_api::types::priority::PLUGIN_DEFAULT);
        self.script_priority()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(default)
    }
}

/// Logs an error that a trait method without a `Result` cannot return.
pub(crate) fn log_swallowed(error: &Error, outcome: &str) {
    tracing::warn!(target: "bext_lua", plugin = error.plugin().unwrap_or(""), "{error}; {outcome}");
}

/// Header pairs from JSON: `[["k","v"], ...]` (order and duplicates kept) or
/// `{"k":"v", ...}`, each checked by [`http_text::check_header`].
pub(crate) fn parse_headers(value: &Value) -> Result<Vec<(String, String)>, String> {
    let headers: Vec<(String, String)> = match value {
        Value::Array(pairs) => pairs
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err(format!(
                    "each header must be a [name, value] pair of strings, got {pair}"
                )),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                other => Err(format!(
                    "header `{k}` must have a string value, got {}",
                    json_kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "headers must be an array of [name, value] pairs, got {}",
            json_kind(other)
        )),
    }?;
    for (name, value) in &headers {
        header_rules::check_header(name, value)?;
    }
    Ok(headers)
}
