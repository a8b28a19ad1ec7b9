//! `AuthPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::UrlShape;
use super::log_swallowed;
use super::request_json::RequestJson;
use crate::plugin::LuaPlugin;
use bext_plugin_api::AuthPlugin;
use bext_plugin_api::auth::{
    AuthProviderKind, AuthRequestContext, AuthUser, CallbackData, LoginAction, LoginParams,
};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `LoginParams` as the script sees it.
#[derive(Serialize)]
struct LoginParamsJson<'a> {
    return_to: Option<&'a str>,
    inputs: &'a HashMap<String, String>,
}

/// `CallbackData` as the script sees it; `body` is text (invalid UTF-8
/// replaced by U+FFFD).
#[derive(Serialize)]
struct CallbackJson<'a> {
    query: &'a HashMap<String, String>,
    form: &'a HashMap<String, String>,
    body: String,
}

/// `LoginAction` from the script: `{"action":"redirect","url":...}`,
/// `{"action":"prompt","message":...}` or `{"action":"complete","user":{...}}`.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum LoginActionJson {
    Redirect { url: String },
    Prompt { message: String },
    Complete { user: AuthUser },
}

const LOGIN_UNSUPPORTED: &str = "login flow not supported by this provider";

impl AuthPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `provider_kind()` (`"token"`, `"password"`, `"o_auth"`,
    /// `"magic_link"`, `"passkey"`); on error (logged) `Token`.
    fn provider_kind(&self) -> AuthProviderKind {
        self.call_json_required(Cap::Auth, "provider_kind", &[], "an auth provider kind")
            .unwrap_or_else(|e| {
                log_swallowed(&e, "assuming a token provider");
                AuthProviderKind::Token
            })
    }

    fn resolve(&self, ctx: &AuthRequestContext) -> Result<Option<AuthUser>, String> {
        const M: &str = "resolve";
        let ctx = self.json_arg(M, &RequestJson::from(ctx))?;
        self.call_json(Cap::Auth, M, &[ctx], "an AuthUser")
            .map_err(String::from)
    }

    fn begin_login(
        &self,
        ctx: &AuthRequestContext,
        params: LoginParams,
    ) -> Result<LoginAction, String> {
        const M: &str = "begin_login";
        if !self.defines(Cap::Auth, M)? {
            return Err(LOGIN_UNSUPPORTED.into());
        }
        let params = LoginParamsJson {
            return_to: params.return_to.as_deref(),
            inputs: &params.inputs,
        };
        let args = [
            self.json_arg(M, &RequestJson::from(ctx))?,
            self.json_arg(M, &params)?,
        ];
        let action: LoginActionJson =
            self.call_json_required(Cap::Auth, M, &args, "a login action")?;
        Ok(match action {
            LoginActionJson::Redirect { url } => LoginAction::Redirect {
                url: self.checked_url(M, url, UrlShape::AbsoluteOrPath)?,
            },
            LoginActionJson::Prompt { message } => LoginAction::Prompt { message },
            LoginActionJson::Complete { user } => LoginAction::Complete { user },
        })
    }

    fn complete_login(
        &self,
        ctx: &AuthRequestContext,
        callback: CallbackData,
    ) -> Result<AuthUser, String> {
        const M: &str = "complete_login";
        if !self.defines(Cap::Auth, M)? {
            return Err(LOGIN_UNSUPPORTED.into());
        }
        let callback = CallbackJson {
            query: &callback.query,
            form: &callback.form,
            body: String::from_utf8_lossy(&callback.body).into_owned(),
        };
        let args = [
            self.json_arg(M, &RequestJson::from(ctx))?,
            self.json_arg(M, &callback)?,
        ];
        self.call_json_required(Cap::Auth, M, &args, "an AuthUser")
            .map_err(String::from)
    }

    fn logout(&self, ctx: &AuthRequestContext) -> Result<(), String> {
        const M: &str = "logout";
        let ctx = self.json_arg(M, &RequestJson::from(ctx))?;
        self.ext_unit(Cap::Auth, M, &[ctx], true)
            .map_err(String::from)
    }
}
