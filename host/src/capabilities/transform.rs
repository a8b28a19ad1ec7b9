//! `TransformPlugin`: `matches(self, path, source)` and
//! `transform(self, source, path, ctx_json)`.
//!
//! * `matches` returns a boolean (nil is false, and a string or number, what
//!   `path:find(...)` returns, is true; see [`LuaPlugin::expect_truthy`]).
//! * `transform` returns the new source as a string, or nil /
//!   `bext.transform_unchanged()` for "unchanged". Returning the source
//!   unchanged as a string also counts as unchanged. The result must be
//!   valid UTF-8.
//! * `ctx_json` is the `TransformContext`:
//!   `{"node_env":"production","env_vars":[["NEXT_PUBLIC_A","1"],...]}`.
//! * `priority()` is the script's `priority` field, else 1000 (after the
//!   built-in transforms).
//!
//! The trait's `matches` and `transform` cannot return errors: an error is
//! logged as a warning and the file is left alone (`false` / `None`). The
//! `try_` methods return it.

use super::log_swallowed;
use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::{CallMode, run_sync};
use crate::plugin::LuaPlugin;
use bext_plugin_api::TransformPlugin;
use bext_plugin_api::transform::TransformContext;
use bext_plugin_api::types::PluginCapability;
use serde::Serialize;

const MATCHES: &str = "matches";
const TRANSFORM: &str = "transform";

/// `TransformContext` as the script sees it.
#[derive(Serialize)]
struct ContextJson<'a> {
    node_env: &'a str,
    env_vars: &'a [(String, String)],
}

impl LuaPlugin {
    /// `matches` with the typed [`Error`].
    pub fn try_matches(&self, path: &str, source: &str) -> Result<bool, Error> {
        run_sync(self.matches_in(CallMode::Sync, path, source))
    }

    /// [`try_matches`](Self::try_matches) for async servers.
    pub async fn try_matches_async(&self, path: &str, source: &str) -> Result<bool, Error> {
        self.matches_in(CallMode::Async, path, source).await
    }

    async fn matches_in(&self, mode: CallMode, path: &str, source: &str) -> Result<bool, Error> {
        self.require_capability(PluginCapability::Transform)?;
        let out = self
            .call_in(mode, MATCHES, &[Arg::from(path), Arg::from(source)])
            .await?;
        self.expect_truthy(MATCHES, out)
    }

    /// `transform` with the typed [`Error`]: `Ok(None)` when the source is
    /// unchanged.
    pub fn try_transform(
        &self,
        source: &str,
        path: &str,
        ctx: &TransformContext,
    ) -> Result<Option<String>, Error> {
        run_sync(self.transform_in(CallMode::Sync, source, path, ctx))
    }

    /// [`try_transform`](Self::try_transform) for async servers.
    pub async fn try_transform_async(
        &self,
        source: &str,
        path: &str,
        ctx: &TransformContext,
    ) -> Result<Option<String>, Error> {
        self.transform_in(CallMode::Async, source, path, ctx).await
    }

    async fn transform_in(
        &self,
        mode: CallMode,
        source: &str,
        path: &str,
        ctx: &TransformContext,
    ) -> Result<Option<String>, Error> {
        let ctx_json = self.transform_arg(ctx)?;
        let out = self
            .call_in(
                mode,
                TRANSFORM,
                &[
                    Arg::from(source),
                    Arg::from(path),
                    Arg::from(ctx_json.as_str()),
                ],
            )
            .await?;
        self.transformed(source, out)
    }

    fn transform_arg(&self, ctx: &TransformContext) -> Result<String, Error> {
        self.require_capability(PluginCapability::Transform)?;
        self.to_json(
            TRANSFORM,
            &ContextJson {
                node_env: &ctx.node_env,
                env_vars: &ctx.env_vars,
            },
        )
    }

    fn transformed(&self, source: &str, out: Output) -> Result<Option<String>, Error> {
        match out {
            Output::Str(ref bytes) if bytes.as_slice() == source.as_bytes() => Ok(None),
            out => self.expect_optional_string(TRANSFORM, out),
        }
    }
}

impl TransformPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `priority` field, else 1000.
    fn priority(&self) -> u32 {
        self.priority_for(PluginCapability::Transform)
    }

    fn matches(&self, path: &str, source: &str) -> bool {
        self.try_matches(path, source).unwrap_or_else(|e| {
            log_swallowed(&e, &format!("skipping {path}"));
            false
        })
    }

    fn transform(&self, source: &str, path: &str, ctx: &TransformContext) -> Option<String> {
        self.try_transform(source, path, ctx).unwrap_or_else(|e| {
            log_swallowed(&e, &format!("leaving {path} unchanged"));
            None
        })
    }
}
