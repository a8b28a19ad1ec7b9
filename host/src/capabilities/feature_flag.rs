//! `FeatureFlagPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use crate::error::Error;
use crate::guest::abi::Output;
use crate::plugin::LuaPlugin;
use bext_plugin_api::FeatureFlagPlugin;
use bext_plugin_api::feature_flag::{FlagContext, FlagValue};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// `FlagContext` as the script sees it.
#[derive(Serialize)]
struct FlagContextJson<'a> {
    user_id: Option<&'a str>,
    attributes: &'a HashMap<String, String>,
}

impl LuaPlugin {
    /// A flag value: a boolean, an integer, a string, a tagged
    /// `{"kind":"json","value":"..."}`, or any other table (its JSON text,
    /// `FlagValue::Json`).
    fn flag_value(&self, method: &str, value: Value) -> Result<FlagValue, Error> {
        match value {
            Value::Bool(b) => Ok(FlagValue::Bool(b)),
            Value::String(s) => Ok(FlagValue::String(s)),
            Value::Number(n) => n.as_i64().map(FlagValue::Int).ok_or_else(|| {
                self.bad_envelope(method, format!("a flag number must be an integer, got {n}"))
            }),
            Value::Object(ref map) if map.contains_key("kind") => {
                self.decode_value(method, value, "a FlagValue")
            }
            other => Ok(FlagValue::Json(other.to_string())),
        }
    }
}

impl FeatureFlagPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn evaluate(&self, key: &str, ctx: &FlagContext) -> Result<FlagValue, String> {
        const M: &str = "evaluate";
        let ctx = self.json_arg(
            M,
            &FlagContextJson {
                user_id: ctx.user_id.as_deref(),
                attributes: &ctx.attributes,
            },
        )?;
        let value = self.call_value(Cap::FeatureFlag, M, &[key.into(), ctx])?;
        let value = value.ok_or_else(|| self.wrong_type(M, "a flag value", &Output::Nil))?;
        self.flag_value(M, value).map_err(String::from)
    }

    /// The script's `evaluate_batch(keys, ctx)` (an object of key → flag
    /// value) when defined; else `evaluate` per key.
    fn evaluate_batch(
        &self,
        keys: &[&str],
        ctx: &FlagContext,
    ) -> Result<HashMap<String, FlagValue>, String> {
        const M: &str = "evaluate_batch";
        if !self.defines(Cap::FeatureFlag, M)? {
            let mut out = HashMap::with_capacity(keys.len());
            for key in keys {
                out.insert(
                    (*key).to_string(),
                    FeatureFlagPlugin::evaluate(self, key, ctx)?,
                );
            }
            return Ok(out);
        }
        let flag_ctx = FlagContextJson {
            user_id: ctx.user_id.as_deref(),
            attributes: &ctx.attributes,
        };
        let args = [self.json_arg(M, &keys)?, self.json_arg(M, &flag_ctx)?];
        let map: serde_json::Map<String, Value> = self
            .call_json(Cap::FeatureFlag, M, &args, "an object of flag values")?
            .unwrap_or_default();
        map.into_iter()
            .map(|(k, v)| Ok((k, self.flag_value(M, v)?)))
            .collect()
    }

    fn refresh(&self) -> Result<(), String> {
        self.ext_unit(Cap::FeatureFlag, "refresh", &[], true)
            .map_err(String::from)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::FeatureFlag)
    }
}
