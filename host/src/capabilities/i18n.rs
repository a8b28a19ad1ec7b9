//! `I18nPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::error_code;
use super::log_swallowed;
use crate::error::Error;
use crate::guest::abi::Output;
use crate::plugin::LuaPlugin;
use bext_plugin_api::I18nPlugin;
use bext_plugin_api::i18n::{I18nError, TransVars};
use bext_plugin_api::types::PluginCapability as Cap;

/// Codes: `locale_unavailable`, `format_error`, `unavailable` pick those
/// variants; a missing method or capability is `Unavailable`; anything
/// else is `Unknown`.
impl From<Error> for I18nError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match (error_code(&e), &e) {
            (Some("locale_unavailable"), _) => I18nError::LocaleUnavailable(message),
            (Some("format_error"), _) => I18nError::FormatError(message),
            (Some("unavailable"), _)
            | (_, Error::MissingMethod { .. } | Error::CapabilityNotProvided { .. }) => {
                I18nError::Unavailable(message)
            }
            _ => I18nError::Unknown(message),
        }
    }
}

impl I18nPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// `vars` in its serde form: `{"name":{"type":"string","value":"Ada"}}`.
    fn translate(&self, key: &str, locale: &str, vars: &TransVars) -> Result<String, I18nError> {
        const M: &str = "translate";
        let vars = self.json_arg(M, vars)?;
        match self.call_ext(Cap::I18n, M, &[key.into(), locale.into(), vars])? {
            out @ Output::Str(_) => Ok(self.expect_optional_string(M, out)?.unwrap_or_default()),
            other => Err(I18nError::from(self.wrong_type(M, "a string", &other))),
        }
    }

    /// An array of locale tags; on error (logged) none.
    fn supported_locales(&self) -> Vec<String> {
        let locales = self.call_json(
            Cap::I18n,
            "supported_locales",
            &[],
            "an array of locale strings",
        );
        locales.map(Option::unwrap_or_default).unwrap_or_else(|e| {
            log_swallowed(&e, "reporting no locales");
            Vec::new()
        })
    }

    /// A locale tag; on error (logged) `"en"`.
    fn fallback_locale(&self) -> String {
        self.call_json_required(Cap::I18n, "fallback_locale", &[], "a locale string")
            .unwrap_or_else(|e| {
                log_swallowed(&e, "falling back to en");
                "en".into()
            })
    }

    /// The script's `has_locale(locale)` when defined; else whether
    /// `supported_locales` holds it (ASCII case-insensitive).
    fn has_locale(&self, locale: &str) -> bool {
        const M: &str = "has_locale";
        let result = self
            .defines(Cap::I18n, M)
            .and_then(|defined| match defined {
                true => self
                    .call_ext(Cap::I18n, M, &[locale.into()])
                    .and_then(|out| self.expect_truthy(M, out))
                    .map(Some),
                false => Ok(None),
            });
        match result {
            Ok(Some(has)) => has,
            Ok(None) => self
                .supported_locales()
                .iter()
                .any(|l| l.eq_ignore_ascii_case(locale)),
            Err(e) => {
                log_swallowed(&e, "reporting the locale missing");
                false
            }
        }
    }

    /// The script's `negotiate(requested)` when defined; else the trait's
    /// algorithm (drop `-subtags` until a supported locale, else the
    /// fallback).
    fn negotiate(&self, requested: &str) -> String {
        const M: &str = "negotiate";
        match self.defines(Cap::I18n, M) {
            Ok(true) => {
                return self
                    .call_json_required(Cap::I18n, M, &[requested.into()], "a locale string")
                    .unwrap_or_else(|e| {
                        log_swallowed(&e, "using the fallback locale");
                        self.fallback_locale()
                    });
            }
            Ok(false) => {}
            Err(e) => {
                log_swallowed(&e, "using the fallback locale");
                return self.fallback_locale();
            }
        }
        let mut candidate = requested.to_owned();
        loop {
            if self.has_locale(&candidate) {
                return candidate;
            }
            match candidate.rfind('-') {
                Some(idx) => candidate.truncate(idx),
                None => return self.fallback_locale(),
            }
        }
    }
}
