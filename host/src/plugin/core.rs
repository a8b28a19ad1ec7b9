//! [`PluginCore`]: what one loaded version of a plugin holds (made by
//! `LuaPlugin::load`), shared by
//! every handle to it ([`LuaPlugin`](crate::LuaPlugin),
//! [`LuaPluginPool`](crate::LuaPluginPool), pooled sandboxes).

use crate::config::pool::PoolConfig;
use crate::engine::GuestEngine;
use crate::error::Error;
use crate::guest::call_mode::CallMode;
use crate::plugin::pool::Pool;
use crate::plugin::quarantine::Quarantine;
use crate::plugin::stats::Counters;
use crate::sandbox::fork::ForkTemplate;
use crate::sandbox::{Sandbox, SandboxSpec, ScriptExports};
use bext_plugin_api::types::PluginManifest;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub(crate) struct PluginCore {
    pub(crate) spec: SandboxSpec,
    pub(crate) manifest: PluginManifest,
    pub(crate) exports: ScriptExports,
    pub(crate) engine: Arc<GuestEngine>,
    /// Sandboxes of the synchronous API.
    pub(crate) pool: Pool<Sandbox>,
    /// Sandboxes of the async API and its fair-share gate (`plugin/async_call.rs`).
    pub(crate) async_calls: AsyncCalls,
    pub(crate) stats: Counters,
    /// Fails calls fast after consecutive traps.
    pub(crate) quarantine: Quarantine,
    /// Pages of the loaded script, for [`ColdStart::Fork`] (every sandbox
    /// forked from them also holds them while its memory may map them: see
    /// `sandbox/fork.rs`).
    pub(crate) template: Option<ForkTemplate>,
}

/// One plugin's async sandboxes and its gate of concurrent async calls
/// (see `plugin/async_call.rs`).
pub(crate) struct AsyncCalls {
    pub(crate) pool: Pool<Sandbox>,
    pub(crate) gate: Semaphore,
}

impl AsyncCalls {
    /// Empty: sandboxes are built by the first async calls.
    pub(crate) fn new(config: &PoolConfig) -> Self {
        let calls = config.max_concurrent_calls.clamp(1, Semaphore::MAX_PERMITS);
        let pool = PoolConfig {
            size: 0,
            max_size: calls,
            ..*config
        };
        AsyncCalls {
            pool: Pool::new(pool, Vec::new()),
            gate: Semaphore::new(calls),
        }
    }
}

impl PluginCore {
    /// Keeps only the fork template's changed words (`ForkTemplate::compact`):
    /// for a plugin with no sandbox, until its next call.
    pub(crate) fn compact_template(&self) {
        if let Some(template) = &self.template
            && let Err(e) = template.compact(&self.engine.image)
        {
            tracing::warn!(target: "bext_lua", plugin = self.spec.name(), "could not compact an idle plugin's fork template ({e}): its pages stay");
        }
    }

    /// A new sandbox for this plugin, by its cold-start path, entered in
    /// `mode` for its whole life.
    pub(crate) async fn new_sandbox(&self, mode: CallMode) -> Result<Sandbox, Error> {
        match &self.template {
            Some(template) => Sandbox::fork(mode, &self.engine, &self.spec, template).await,
            None => Sandbox::new(mode, &self.engine, &self.spec).await,
        }
    }
}
