//! `SessionPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::error_code;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::SessionPlugin;
use bext_plugin_api::session::{CreateOptions, SessionError, SessionId, SessionRecord};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::Serialize;

/// Codes: `not_found` → `NotFound`, `invalid` → `Invalid`; else `Backend`.
impl From<Error> for SessionError {
    fn from(e: Error) -> Self {
        match error_code(&e) {
            Some("not_found") => SessionError::NotFound,
            Some("invalid") => SessionError::Invalid(e.to_string()),
            _ => SessionError::Backend(e.to_string()),
        }
    }
}

/// `CreateOptions` as the script sees it.
#[derive(Serialize)]
struct CreateOptionsJson<'a> {
    user_id: Option<&'a str>,
    data_json: &'a str,
    ttl_ms: u64,
}

impl SessionPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn create(&self, opts: CreateOptions) -> Result<SessionId, SessionError> {
        const M: &str = "create";
        let opts = CreateOptionsJson {
            user_id: opts.user_id.as_deref(),
            data_json: &opts.data_json,
            ttl_ms: opts.ttl_ms,
        };
        let opts = self.json_arg(M, &opts)?;
        self.call_json_required(Cap::Session, M, &[opts], "a session id")
            .map_err(SessionError::from)
    }

    /// nil is `NotFound`.
    fn read(&self, id: &SessionId) -> Result<SessionRecord, SessionError> {
        self.call_json(
            Cap::Session,
            "read",
            &[id.as_str().into()],
            "a SessionRecord",
        )?
        .ok_or(SessionError::NotFound)
    }

    /// The new id, or nil for the same id.
    fn update(&self, id: &SessionId, data_json: &str) -> Result<SessionId, SessionError> {
        let new = self.call_json(
            Cap::Session,
            "update",
            &[id.as_str().into(), data_json.into()],
            "a session id",
        );
        Ok(new?.unwrap_or_else(|| id.clone()))
    }

    /// The new id, or nil for the same id.
    fn touch(&self, id: &SessionId, ttl_ms: u64) -> Result<SessionId, SessionError> {
        let new = self.call_json(
            Cap::Session,
            "touch",
            &[id.as_str().into(), ttl_ms.into()],
            "a session id",
        );
        Ok(new?.unwrap_or_else(|| id.clone()))
    }

    fn delete(&self, id: &SessionId) -> Result<(), SessionError> {
        self.ext_unit(Cap::Session, "delete", &[id.as_str().into()], false)
            .map_err(SessionError::from)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::Session)
    }
}
