//! `AuthzPolicyPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::CLEANUP;
use super::header_rules::check_header;
use super::log_swallowed;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::AuthzPolicyPlugin;
use bext_plugin_api::authz_policy::{PolicyContext, PolicyDecision};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// `PolicyContext` as the script sees it.
#[derive(Serialize)]
struct PolicyContextJson<'a> {
    action: &'a str,
    resource: &'a str,
    principal: Option<&'a str>,
    attributes: &'a HashMap<String, String>,
}

/// A decision from the script: `{"decision":"allow"}`,
/// `{"decision":"deny","reason":...}` or
/// `{"decision":"mutate","headers":[[k,v]],"body":"..."}`.
#[derive(Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
enum DecisionJson {
    Allow,
    Deny {
        #[serde(default)]
        reason: String,
    },
    Mutate {
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: Option<String>,
    },
}

impl LuaPlugin {
    fn try_policy(&self, ctx: &PolicyContext) -> Result<PolicyDecision, Error> {
        const M: &str = "evaluate";
        let json = PolicyContextJson {
            action: &ctx.action,
            resource: &ctx.resource,
            principal: ctx.principal.as_deref(),
            attributes: &ctx.attributes,
        };
        let json = self.json_arg(M, &json)?;
        let denied = || PolicyDecision::Deny {
            reason: format!("denied by policy `{}`", self.name()),
        };
        Ok(match self.call_value(Cap::AuthzPolicy, M, &[json])? {
            Some(Value::Bool(true)) => PolicyDecision::Allow,
            None | Some(Value::Bool(false)) => denied(),
            Some(Value::String(s)) if s == "allow" => PolicyDecision::Allow,
            Some(Value::String(s)) if s == "deny" => denied(),
            Some(value) => match self.decode_value(M, value, "a policy decision")? {
                DecisionJson::Allow => PolicyDecision::Allow,
                DecisionJson::Deny { reason } => PolicyDecision::Deny { reason },
                DecisionJson::Mutate { headers, body } => {
                    for (name, value) in &headers {
                        check_header(name, value).map_err(|m| self.bad_envelope(M, m))?;
                    }
                    PolicyDecision::Mutate {
                        headers,
                        body: body.map(String::into_bytes),
                    }
                }
            },
        })
    }
}

impl AuthzPolicyPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// `true`/`"allow"` allow; `false`, nil or `"deny"` deny; or a decision
    /// object. Fails closed: an error (logged) is a `Deny` carrying it.
    fn evaluate(&self, ctx: &PolicyContext) -> PolicyDecision {
        self.try_policy(ctx).unwrap_or_else(|e| {
            log_swallowed(&e, "denying");
            PolicyDecision::Deny {
                reason: e.to_string(),
            }
        })
    }

    fn reload_policies(&self) -> Result<(), String> {
        self.ext_unit(Cap::AuthzPolicy, "reload_policies", &[], false)
            .map_err(String::from)
    }

    fn cleanup(&self) -> Result<(), String> {
        self.ext_unit(Cap::AuthzPolicy, CLEANUP, &[], true)
            .map_err(String::from)
    }
}
