//! `LockingPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::CLEANUP;
use crate::plugin::LuaPlugin;
use bext_plugin_api::LockingPlugin;
use bext_plugin_api::locking::LockHandle;
use bext_plugin_api::types::PluginCapability as Cap;
use serde_json::Value;

impl LockingPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// A `LockHandle` (`{"key","lock_id","ttl_ms"}`), or just the lock id as
    /// a string; nil or `false` when the lock is held elsewhere.
    fn try_lock(&self, key: &str, ttl_ms: u64) -> Result<Option<LockHandle>, String> {
        const M: &str = "try_lock";
        match self.call_value(Cap::Locking, M, &[key.into(), ttl_ms.into()])? {
            None | Some(Value::Bool(false)) => Ok(None),
            Some(Value::String(lock_id)) => Ok(Some(LockHandle {
                key: key.into(),
                lock_id,
                ttl_ms,
            })),
            Some(value) => self
                .decode_value(M, value, "a LockHandle")
                .map(Some)
                .map_err(String::from),
        }
    }

    fn renew(&self, handle: &LockHandle) -> Result<(), String> {
        const M: &str = "renew";
        let handle = self.json_arg(M, handle)?;
        self.ext_unit(Cap::Locking, M, &[handle], false)
            .map_err(String::from)
    }

    fn release(&self, handle: LockHandle) -> Result<(), String> {
        const M: &str = "release";
        let handle = self.json_arg(M, &handle)?;
        self.ext_unit(Cap::Locking, M, &[handle], false)
            .map_err(String::from)
    }

    fn cleanup(&self) -> Result<(), String> {
        self.ext_unit(Cap::Locking, CLEANUP, &[], true)
            .map_err(String::from)
    }
}
