//! Plugin code from where users keep it, reconciled into a
//! [`LuaPluginRuntime`](bext_plugin_lua_wasm::LuaPluginRuntime).
//!
//! A [`PluginSource`] yields the set of plugins a store holds (tenant,
//! plugin name, manifest, config JSON, Lua source, content hash); one
//! [`Reconciler`] applies the difference to the runtime through its
//! hot-reload path: new plugins are loaded, changed ones (by content hash)
//! reloaded, removed ones unloaded. A version that fails to load or fails
//! its capability check is rejected with a logged [`SourceError::Rejected`]
//! naming tenant and plugin, and the last good version keeps serving.
//!
//! Sources (each behind a cargo feature of the same name, all three on by
//! default):
//!
//! * `folder`: [`FolderSource`], one subfolder per tenant, watched with
//!   `notify`.
//! * `http`: [`DynacodeSource`], a JSON API in lua-resty-dynacode's format,
//!   polled with `If-None-Match`.
//! * `etcd`: [`EtcdSource`], a key prefix watched in etcd, as APISIX keeps
//!   its configuration.
//!
//! The network sources reach their store over TLS when its URL is
//! `https://` (rustls with the `ring` provider, no OpenSSL): [`StoreTls`]
//! sets the CA that signs the store's certificate (default: the system's
//! trust store) and a client certificate, [`EtcdSource::user`] etcd's user
//! and password. A failed handshake or refused credentials is
//! [`SourceError::Unreachable`] with the cause, never a read in clear text.
//!
//! Tenant `acme`'s plugin `ratelimit` is registered in the runtime as
//! `acme/ratelimit` ([`runtime_name`]).
//!
//! ```no_run
//! use bext_plugin_lua_wasm::LuaPluginRuntime;
//! use bext_plugin_sources::{FolderSource, Reconciler};
//! use std::sync::Arc;
//!
//! let runtime = Arc::new(LuaPluginRuntime::new());
//! let reconciler = Reconciler::new(runtime.clone()).last_good_dir("/var/lib/bext/last-good");
//! let watch = reconciler.watch(FolderSource::new("/srv/plugins"));
//! // ... serve requests with runtime.plugin("acme/ratelimit") ...
//! for status in reconciler.plugin_statuses() {
//!     println!("{}/{}: {:?} {:?}", status.tenant, status.plugin, status.content_hash, status.last_error);
//! }
//! watch.stop();
//! ```
#![warn(missing_docs)]
// `SourceError::Rejected` carries the runtime's typed error as it is (users
// match on it), which makes the enum large; it is returned when a version or
// a store fails, not per request, so its size costs nothing that matters.
#![allow(clippy::result_large_err)]

mod desired;
mod error;
mod last_good;
mod reconciler;
mod source;

#[cfg(feature = "etcd")]
mod etcd;
#[cfg(feature = "folder")]
mod folder;
#[cfg(feature = "http")]
mod http;
#[cfg(any(feature = "http", feature = "etcd"))]
mod tls;

pub use desired::{
    DesiredPlugin, DesiredSet, MAX_NAME_BYTES, check_name, manifest_or_default, runtime_name,
    split_runtime_name,
};
pub use error::SourceError;
pub use last_good::last_good_path;
pub use reconciler::{
    ApplyReport, ConfigureFn, OnApplyFn, PluginStatus, Reconciler, SourceHandle, SourceState,
    SourceStatus,
};
pub use source::{PluginSource, SourceEvent, SourceSignal, Wait};

#[cfg(feature = "etcd")]
pub use etcd::{EtcdPluginValue, EtcdSource};
#[cfg(feature = "folder")]
pub use folder::{CONFIG_FILE, FolderSource, MANIFEST_FILE};
#[cfg(feature = "http")]
pub use http::{DynacodeSource, parse_dynacode, phase_capability};
#[cfg(any(feature = "http", feature = "etcd"))]
pub use tls::StoreTls;
