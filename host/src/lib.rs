//! Lua 5.4 plugins for bext servers, each in its own WebAssembly sandbox.
//!
//! Stock Lua 5.4 runs inside a wasm32-wasip1 module (prebuilt, shipped in
//! the `bext-plugin-lua-wasm-guest` crate and embedded) under wasmtime. Every plugin gets its own
//! instance, bounded by fuel, a wall-clock deadline and a memory limit, and
//! is used by the server through the capability traits of
//! [`bext-plugin-api`](bext_plugin_api), exactly like a native plugin. Scripts
//! written for bext's native (mlua) Lua tier run unchanged.
//!
//! # Quick start
//!
//! ```
//! use bext_plugin_api::middleware::{RequestAction, RequestContext};
//! use bext_plugin_api::types::PluginManifest;
//! use bext_plugin_api::MiddlewarePlugin;
//! use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits};
//! use std::sync::Arc;
//!
//! let script = r#"
//!     return {
//!       on_request = function(self, ctx_json)
//!         if ctx_json:find('"path":"/admin', 1, true) then
//!           return bext.middleware_respond('{"status":403,"body":"forbidden"}')
//!         end
//!         return bext.middleware_continue()
//!       end,
//!     }"#;
//! let manifest: PluginManifest = serde_json::from_str(r#"{"name":"guard","version":"1.0.0"}"#).unwrap();
//!
//! let rt = LuaPluginRuntime::new(); // one engine per process; the guest is compiled once
//! let plugin = rt.load_plugin(
//!     LuaPluginConfig::new("guard", manifest, script)
//!         .limits(LuaSandboxLimits::default().timeout_ms(50))
//!         .config_json(r#"{"limit": 100}"#),
//! )?;
//! let mw: Arc<dyn MiddlewarePlugin> = Arc::new(plugin);
//!
//! let mut ctx = RequestContext {
//!     method: "GET".into(),
//!     path: "/admin/users".into(),
//!     hostname: "example.com".into(),
//!     headers: vec![("accept".into(), "text/html".into())],
//!     query_string: String::new(),
//!     peer_ip: Some("203.0.113.7".into()),
//!     tenant_id: None,
//!     site_id: None,
//!     extensions: Default::default(),
//! };
//! match mw.on_request(&mut ctx).unwrap() {
//!     RequestAction::Respond(response) => assert_eq!(response.status, 403),
//!     RequestAction::Continue => unreachable!(),
//! }
//! # Ok::<(), bext_plugin_lua_wasm::Error>(())
//! ```
//!
//! # Core concepts
//!
//! * [`LuaPluginRuntime`]: owns the wasmtime engine (the guest is compiled
//!   once per process) and a registry of plugins by name.
//! * [`LuaPluginConfig`]: one plugin: name, manifest, Lua source, its config
//!   section (what `bext.get_config()` returns) and [`LuaSandboxLimits`].
//! * [`LuaPlugin`]: a loaded plugin, a cheap handle that implements the
//!   capability traits. Each call takes a sandbox (one wasm instance holding
//!   one Lua state) from the plugin's [`LuaPluginPool`], so calls run in
//!   parallel; after a trap the sandbox is discarded and replaced.
//! * Cold start: the guest is snapshotted and compiled once per process;
//!   loading a plugin compiles nothing, and a new sandbox is a copy of the
//!   pages the script's load changed ([`ColdStart`]). Loading an existing
//!   name is an atomic hot reload ([`LuaPluginRuntime::load_plugin`]).
//! * [`Error`]: one enum for everything; the trait methods return its text,
//!   which names the plugin.
//! * Capabilities: [`LuaPlugin`] implements `MiddlewarePlugin`,
//!   `CacheBackend`, `LifecyclePlugin` and `TransformPlugin` by calling the
//!   script's methods of the same names; each has typed `try_` variants
//!   ([`LuaPlugin::try_cache_get`], [`LuaPlugin::try_lifecycle`],
//!   [`LuaPlugin::try_transform`], ...). It also implements the twelve
//!   others (`AuthPlugin`, `SessionPlugin`, `MailerPlugin`, `TracerPlugin`,
//!   `ScheduledPlugin`, `WebhookPlugin`, `FeatureFlagPlugin`, `I18nPlugin`,
//!   `StorageClientPlugin`, `SearchClientPlugin`, `AuthzPolicyPlugin`,
//!   `LockingPlugin`) through one generic mechanism: arguments as JSON,
//!   results from JSON, Lua errors mapped into each trait's error type (the
//!   README's table gives every shape). The manifest's declared capabilities
//!   are checked against the script at load ([`Error::CapabilityMismatch`])
//!   and gate calls ([`Error::CapabilityNotProvided`]); see
//!   [`LuaPlugin::provides`].
//! * Scripts get `bext.json` (encode, decode, `null`, `array`), implemented
//!   in C inside the sandbox; a table a method returns where the host
//!   expects JSON is encoded with it.
//!
//! # Sandboxing and limits
//!
//! A sandbox has the Lua libraries `base` (without `dofile`/`loadfile`, with a
//! text-only `load`, `print` going to the log), `string` (without `dump`),
//! `table`, `math`, `utf8`, `coroutine`, and `os.time`/`os.clock`/`os.date`/
//! `os.difftime`. No `io`, `debug`, `package` or `require`; WASI grants no
//! files, environment, arguments or stdio. Each call runs with its fuel and
//! deadline reset; running out of either, or of memory, stops the call with
//! [`Error::OutOfFuel`], [`Error::Timeout`] or [`Error::MemoryLimit`], which
//! `pcall` inside the script cannot catch. See [`LuaSandboxLimits`] for the
//! defaults and the fuel unit. A plugin whose calls keep trapping is
//! quarantined for a cool-down ([`Error::Quarantined`]) so a server does not
//! spin on it; the quarantine is scoped to the client whose requests trap
//! (`RequestContext::peer_ip`), and covers every client only when the
//! plugin traps for many. The threat model and the tests that attack each defence are in
//! the repository's `SECURITY.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// The layers, each depending only on those listed before it (see the
// repository's ARCHITECTURE.md): what every layer uses, settings and
// `bext.shared`'s stores, the guest boundary, the engine, one sandbox, one
// plugin, the capability adapters, the runtime.
mod error;
mod metrics;
mod periodic;

mod config;
mod shared;

mod guest;

mod engine;

mod sandbox;

mod plugin;

mod capabilities;

mod runtime;

// The full-profile `lua` interpreter of `bext-lua run` (every library,
// preopens, environment, stdio): not the plugin runtime, so behind the
// `runner` feature. Documented in the module itself (its links resolve there).
#[cfg(feature = "runner")]
pub mod runner;

/// The capability traits and types this crate implements, re-exported so a
/// dependent needs only this crate: `bext_plugin_lua_wasm::bext_plugin_api::MiddlewarePlugin`.
pub use bext_plugin_api;
pub use capabilities::{
    CAPABILITIES, CapabilityMethods, LifecycleHook, MiddlewareAction, ResponseChange,
    capability_methods, capability_name, parse_middleware_action, parse_response_change,
    request_context_json,
};
pub use config::runtime::{ARTIFACT_CACHE_ENV, default_artifact_cache_dir};
pub use config::{
    BEXT_TICKS_PER_CALL, ColdStart, FUEL_PER_KILO_INSTRUCTIONS, LuaPluginConfig, LuaRuntimeConfig,
    LuaSandboxLimits, MAX_GUEST_MEMORY_BYTES, MAX_POOL_SANDBOXES, MAX_WASM_STACK_BYTES, PoolConfig,
    PoolingLimits, SharedBackend,
};
pub use error::{Cause, Error, Result};
pub use metrics::{MetricsSink, TracingMetrics};
pub use plugin::LuaPlugin;
pub use plugin::WeakLuaPlugin;
pub use plugin::latency::{LATENCY_BUCKETS, LatencyHistogram};
pub use plugin::pool::PoolStats;
pub use plugin::pooled::{LuaPluginPool, PooledInstance};
pub use plugin::stats::PluginStats;
pub use runtime::LuaPluginRuntime;
pub use sandbox::fork::fork_template_arena_bytes;
#[cfg(feature = "redis")]
pub use shared::redis::{RedisShared, RedisTls, RedisUnavailable};
pub use shared::{
    SHARED_CALL_FUEL, SHARED_ENTRY_FUEL, SHARED_ENTRY_OVERHEAD_BYTES, SHARED_MAX_KEY_BYTES,
};

/// The embedded guest module (stock Lua 5.4 and the shim), for inspection.
pub fn guest_wasm() -> &'static [u8] {
    guest::GUEST_WASM
}

/// SHA-256 (hex) of [`guest_wasm`]: identifies the guest build.
pub const GUEST_SHA256: &str = guest::GUEST_SHA256;

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
