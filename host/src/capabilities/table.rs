//! The capability table: for each of the sixteen capabilities of
//! `bext-plugin-api`, the script methods it is made of and the trait's
//! default priority. The one source for the load-time check (a manifest's
//! declared capabilities against the script), [`LuaPlugin::provides`], the
//! `bext-lua check` command and the README's tables (a test compares them).
//!
//! [`LuaPlugin::provides`]: crate::LuaPlugin::provides

use bext_plugin_api::types::{PluginCapability as Cap, priority, transform_priority};

/// What one capability needs from a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapabilityMethods {
    /// The capability.
    pub capability: Cap,
    /// Its name in a manifest (`cache_backend`, ...): the serde name
    /// `bext-plugin-api` gives it.
    pub name: &'static str,
    /// The `bext-plugin-api` trait `LuaPlugin` implements for it.
    pub trait_name: &'static str,
    /// Methods the script must define, all of them.
    pub required: &'static [&'static str],
    /// Methods the script may define (the trait has a default). When
    /// [`required`](Self::required) is empty (`lifecycle`), the script must
    /// define at least one of them.
    pub optional: &'static [&'static str],
    /// The trait's default `priority()` (the script's `priority` field
    /// overrides it); `None` for traits without a priority.
    pub default_priority: Option<u32>,
    /// Whether the capability has its own adapter (the first four, whose
    /// method names are distinctive); the twelve others go through the one
    /// mechanism of `generic.rs` and share names like `get` or `evaluate`.
    pub own_adapter: bool,
}

impl CapabilityMethods {
    /// Whether a script defining the methods `defines` says yes to
    /// implements the capability: every required method, and for a
    /// capability of optional methods only, at least one of them.
    pub fn implemented_by(&self, defines: impl Fn(&str) -> bool) -> bool {
        self.missing(&defines).is_empty()
            && (!self.required.is_empty() || self.optional.iter().any(|m| defines(m)))
    }

    /// The required methods `defines` says no to, in table order.
    pub fn missing(&self, defines: impl Fn(&str) -> bool) -> Vec<&'static str> {
        self.required
            .iter()
            .copied()
            .filter(|m| !defines(m))
            .collect()
    }

    /// Whether `defines` says yes to any of the capability's methods.
    pub fn touched_by(&self, defines: impl Fn(&str) -> bool) -> bool {
        self.required
            .iter()
            .chain(self.optional)
            .any(|m| defines(m))
    }
}

/// Every capability `LuaPlugin` wires, in the README's order.
pub const CAPABILITIES: [&CapabilityMethods; 16] = [
    &MIDDLEWARE,
    &CACHE_BACKEND,
    &LIFECYCLE,
    &TRANSFORM,
    &AUTH,
    &SESSION,
    &MAILER,
    &TRACER,
    &SCHEDULED,
    &WEBHOOK,
    &FEATURE_FLAG,
    &I18N,
    &STORAGE_CLIENT,
    &SEARCH_CLIENT,
    &AUTHZ_POLICY,
    &LOCKING,
];

/// The table's row for `capability`.
pub fn capability_methods(capability: Cap) -> &'static CapabilityMethods {
    match capability {
        Cap::Middleware => &MIDDLEWARE,
        Cap::CacheBackend => &CACHE_BACKEND,
        Cap::Lifecycle => &LIFECYCLE,
        Cap::Transform => &TRANSFORM,
        Cap::Auth => &AUTH,
        Cap::Session => &SESSION,
        Cap::Mailer => &MAILER,
        Cap::Tracer => &TRACER,
        Cap::Scheduled => &SCHEDULED,
        Cap::Webhook => &WEBHOOK,
        Cap::FeatureFlag => &FEATURE_FLAG,
        Cap::I18n => &I18N,
        Cap::StorageClient => &STORAGE_CLIENT,
        Cap::SearchClient => &SEARCH_CLIENT,
        Cap::AuthzPolicy => &AUTHZ_POLICY,
        Cap::Locking => &LOCKING,
    }
}

const MIDDLEWARE: CapabilityMethods = CapabilityMethods {
    capability: Cap::Middleware,
    name: "middleware",
    trait_name: "MiddlewarePlugin",
    required: &["on_request"],
    optional: &["on_response"],
    default_priority: Some(priority::PLUGIN_DEFAULT),
    own_adapter: true,
};
const CACHE_BACKEND: CapabilityMethods = CapabilityMethods {
    capability: Cap::CacheBackend,
    name: "cache_backend",
    trait_name: "CacheBackend",
    required: &["get", "set", "delete", "invalidate_tag", "invalidate_path"],
    optional: &["is_healthy"],
    default_priority: None,
    own_adapter: true,
};
const LIFECYCLE: CapabilityMethods = CapabilityMethods {
    capability: Cap::Lifecycle,
    name: "lifecycle",
    trait_name: "LifecyclePlugin",
    required: &[],
    optional: &[
        "on_server_start",
        "on_server_stop",
        "on_request_complete",
        "on_cache_write",
        "on_cache_invalidate",
        "on_reload",
        "cleanup",
    ],
    default_priority: Some(LIFECYCLE_DEFAULT_PRIORITY),
    own_adapter: true,
};
const TRANSFORM: CapabilityMethods = CapabilityMethods {
    capability: Cap::Transform,
    name: "transform",
    trait_name: "TransformPlugin",
    required: &["matches", "transform"],
    optional: &[],
    default_priority: Some(transform_priority::PLUGIN_DEFAULT),
    own_adapter: true,
};
const AUTH: CapabilityMethods = CapabilityMethods {
    capability: Cap::Auth,
    name: "auth",
    trait_name: "AuthPlugin",
    required: &["provider_kind", "resolve"],
    optional: &["begin_login", "complete_login", "logout"],
    default_priority: None,
    own_adapter: false,
};
const SESSION: CapabilityMethods = CapabilityMethods {
    capability: Cap::Session,
    name: "session",
    trait_name: "SessionPlugin",
    required: &["create", "read", "update", "touch", "delete"],
    optional: &["is_healthy"],
    default_priority: None,
    own_adapter: false,
};
const MAILER: CapabilityMethods = CapabilityMethods {
    capability: Cap::Mailer,
    name: "mailer",
    trait_name: "MailerPlugin",
    required: &["send"],
    optional: &["send_batch", "is_healthy"],
    default_priority: None,
    own_adapter: false,
};
const TRACER: CapabilityMethods = CapabilityMethods {
    capability: Cap::Tracer,
    name: "tracer",
    trait_name: "TracerPlugin",
    required: &[
        "start_span",
        "set_attribute",
        "set_status",
        "add_event",
        "end_span",
        "flush",
    ],
    optional: &[],
    default_priority: None,
    own_adapter: false,
};
const SCHEDULED: CapabilityMethods = CapabilityMethods {
    capability: Cap::Scheduled,
    name: "scheduled",
    trait_name: "ScheduledPlugin",
    required: &["schedules", "run"],
    optional: &["cleanup"],
    default_priority: Some(SCHEDULED_DEFAULT_PRIORITY),
    own_adapter: false,
};
const WEBHOOK: CapabilityMethods = CapabilityMethods {
    capability: Cap::Webhook,
    name: "webhook",
    trait_name: "WebhookPlugin",
    required: &["scheme", "verify"],
    optional: &["is_healthy"],
    default_priority: None,
    own_adapter: false,
};
const FEATURE_FLAG: CapabilityMethods = CapabilityMethods {
    capability: Cap::FeatureFlag,
    name: "feature_flag",
    trait_name: "FeatureFlagPlugin",
    required: &["evaluate"],
    optional: &["evaluate_batch", "refresh", "is_healthy"],
    default_priority: None,
    own_adapter: false,
};
const I18N: CapabilityMethods = CapabilityMethods {
    capability: Cap::I18n,
    name: "i18n",
    trait_name: "I18nPlugin",
    required: &["translate", "supported_locales", "fallback_locale"],
    optional: &["has_locale", "negotiate"],
    default_priority: None,
    own_adapter: false,
};
const STORAGE_CLIENT: CapabilityMethods = CapabilityMethods {
    capability: Cap::StorageClient,
    name: "storage_client",
    trait_name: "StorageClientPlugin",
    required: &["get", "put", "delete", "list_page", "presigned_url"],
    optional: &["is_healthy"],
    default_priority: None,
    own_adapter: false,
};
const SEARCH_CLIENT: CapabilityMethods = CapabilityMethods {
    capability: Cap::SearchClient,
    name: "search_client",
    trait_name: "SearchClientPlugin",
    required: &["search", "index", "delete"],
    optional: &["is_healthy"],
    default_priority: None,
    own_adapter: false,
};
const AUTHZ_POLICY: CapabilityMethods = CapabilityMethods {
    capability: Cap::AuthzPolicy,
    name: "authz_policy",
    trait_name: "AuthzPolicyPlugin",
    required: &["evaluate", "reload_policies"],
    optional: &["cleanup"],
    default_priority: None,
    own_adapter: false,
};
const LOCKING: CapabilityMethods = CapabilityMethods {
    capability: Cap::Locking,
    name: "locking",
    trait_name: "LockingPlugin",
    required: &["try_lock", "renew", "release"],
    optional: &["cleanup"],
    default_priority: None,
    own_adapter: false,
};

/// `LifecyclePlugin`'s default priority (a literal in the trait).
const LIFECYCLE_DEFAULT_PRIORITY: u32 = 1000;
/// `ScheduledPlugin`'s default priority (a literal in the trait).
const SCHEDULED_DEFAULT_PRIORITY: u32 = 1000;

/// The manifest's name of a capability (`cache_backend`, ...).
pub fn capability_name(capability: Cap) -> &'static str {
    capability_methods(capability).name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for row in &CAPABILITIES {
            assert_eq!(
                serde_json::to_value(row.capability).unwrap(),
                serde_json::Value::from(row.name)
            );
        }
    }

    /// With the exhaustive match of `capability_methods`: the list holds
    /// every capability, each once.
    #[test]
    fn the_list_and_the_lookup_agree() {
        for (i, row) in CAPABILITIES.iter().enumerate() {
            assert!(
                CAPABILITIES[..i]
                    .iter()
                    .all(|earlier| earlier.capability != row.capability),
                "{} twice",
                row.name
            );
            assert_eq!(capability_methods(row.capability), *row);
        }
    }

    /// The traits with a `priority()` have a default in the table.
    #[test]
    fn priorities() {
        let with_priority = [
            Cap::Middleware,
            Cap::Lifecycle,
            Cap::Transform,
            Cap::Scheduled,
        ];
        for row in CAPABILITIES {
            assert_eq!(
                row.default_priority.is_some(),
                with_priority.contains(&row.capability),
                "{}",
                row.name
            );
        }
        assert_eq!(
            capability_methods(Cap::Middleware).default_priority,
            Some(600)
        );
    }
}
