//! What a source wants loaded: [`DesiredPlugin`], [`DesiredSet`], and how a
//! tenant and a plugin name map to the runtime's plugin name.

use crate::error::SourceError;
use bext_plugin_api::types::PluginManifest;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Longest tenant or plugin name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// The name a tenant's plugin is registered under in the
/// [`LuaPluginRuntime`](bext_plugin_lua_wasm::LuaPluginRuntime):
/// `"<tenant>/<plugin>"`.
///
/// Neither part may contain `/` ([`check_name`]), so the mapping is one to
/// one and [`split_runtime_name`] inverts it. Errors and logs of the runtime
/// name the plugin this way (`lua plugin `acme/ratelimit`: ...`). Names with a
/// `/` are the reconciler's: an embedder that also calls `load_plugin` itself
/// should use names without one.
pub fn runtime_name(tenant: &str, plugin: &str) -> String {
    format!("{tenant}/{plugin}")
}

/// The `(tenant, plugin)` of a [`runtime_name`].
pub fn split_runtime_name(name: &str) -> Option<(&str, &str)> {
    name.split_once('/')
}

/// Checks a tenant or plugin name: 1 to [`MAX_NAME_BYTES`] bytes, no `/`, no
/// control characters, no leading or trailing whitespace, not `.` or `..`.
/// Returns what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the name is {} bytes long, more than {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if name.contains('/') {
        return Err(format!("the name `{name}` contains `/`"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the name {name:?} contains a control character"));
    }
    if name.trim() != name {
        return Err(format!("the name {name:?} starts or ends with whitespace"));
    }
    if name == "." || name == ".." {
        return Err(format!("the name `{name}` is reserved"));
    }
    Ok(())
}

/// One plugin as a store wants it: the version a source yields. Two are
/// equal when tenant, plugin and content hash are.
#[derive(Debug, Clone)]
pub struct DesiredPlugin {
    /// The tenant that owns the plugin.
    pub tenant: String,
    /// The plugin's name within the tenant.
    pub plugin: String,
    /// The manifest (declared capabilities are checked at load).
    pub manifest: PluginManifest,
    /// The plugin's config section, JSON: what `bext.get_config()` returns.
    pub config_json: String,
    /// The Lua source: a script that evaluates to a table of methods.
    pub source: Arc<str>,
    /// SHA-256 (hex) of everything above: two versions with the same hash
    /// are the same plugin, and a changed hash is a reload.
    pub content_hash: String,
}

impl DesiredPlugin {
    /// A plugin version. Checks both names ([`check_name`]) and that
    /// `config_json` is JSON, and computes the content hash.
    pub fn new(
        source_id: &str,
        tenant: &str,
        plugin: &str,
        manifest: PluginManifest,
        config_json: impl Into<String>,
        source: impl Into<Arc<str>>,
    ) -> Result<Self, SourceError> {
        let bad = |message: String| SourceError::BadEntry {
            source_id: source_id.into(),
            tenant: tenant.into(),
            plugin: plugin.into(),
            message,
        };
        check_name(tenant).map_err(|m| bad(format!("tenant: {m}")))?;
        check_name(plugin).map_err(|m| bad(format!("plugin: {m}")))?;
        let config_json = config_json.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&config_json)
            .map_err(|e| bad(format!("the config is not JSON: {e}")))?;
        let source = source.into();
        let manifest_json =
            serde_json::to_string(&manifest).map_err(|e| bad(format!("the manifest: {e}")))?;
        let content_hash = content_hash(&[
            tenant,
            plugin,
            manifest_json.as_str(),
            config_json.as_str(),
            &*source,
        ]);
        Ok(DesiredPlugin {
            tenant: tenant.into(),
            plugin: plugin.into(),
            manifest,
            config_json,
            source,
            content_hash,
        })
    }

    /// The name the runtime registers this plugin under ([`runtime_name`]).
    pub fn runtime_name(&self) -> String {
        runtime_name(&self.tenant, &self.plugin)
    }
}

impl PartialEq for DesiredPlugin {
    fn eq(&self, other: &Self) -> bool {
        self.tenant == other.tenant
            && self.plugin == other.plugin
            && self.content_hash == other.content_hash
    }
}

/// SHA-256 (hex) over the parts, each prefixed with its length so that no
/// two different lists hash alike.
pub(crate) fn content_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"bext-plugin-sources/1");
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Builds a manifest for `plugin` from an optional JSON object: a missing
/// manifest is `{"name": plugin, "version": "0.0.0"}` (no declared
/// capabilities), and a given one gets those two fields when it lacks them.
pub fn manifest_or_default(
    plugin: &str,
    json: Option<serde_json::Value>,
) -> Result<PluginManifest, String> {
    let mut value = json.unwrap_or_else(|| serde_json::json!({}));
    if !value.is_object() {
        return Err(format!("the manifest must be a JSON object, found {value}"));
    }
    let object = value.as_object_mut().expect("checked above");
    object.entry("name").or_insert_with(|| plugin.into());
    object.entry("version").or_insert_with(|| "0.0.0".into());
    serde_json::from_value(value).map_err(|e| format!("bad manifest: {e}"))
}

/// The complete set of plugins a source wants at one moment.
///
/// Besides the plugins to load it carries the entries that are present in
/// the store but cannot be used ([`broken`](Self::broken)): the reconciler
/// keeps their last good version serving instead of unloading them, and
/// the problems that name no plugin ([`problems`](Self::problems)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredSet {
    plugins: BTreeMap<String, DesiredPlugin>,
    broken: BTreeMap<String, SourceError>,
    problems: Vec<SourceError>,
}

impl DesiredSet {
    /// An empty set: applying it unloads every plugin of the source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin. A second plugin with the same tenant and name makes
    /// the entry broken (the store holds it twice).
    pub fn insert(&mut self, source_id: &str, plugin: DesiredPlugin) {
        let name = plugin.runtime_name();
        if self.plugins.remove(&name).is_some() || self.broken.contains_key(&name) {
            let error = SourceError::BadEntry {
                source_id: source_id.into(),
                tenant: plugin.tenant,
                plugin: plugin.plugin,
                message: "the store holds this plugin more than once".into(),
            };
            self.broken.insert(name, error);
        } else {
            self.plugins.insert(name, plugin);
        }
    }

    /// Adds a plugin, or records why it could not be built.
    pub fn insert_result(&mut self, source_id: &str, plugin: Result<DesiredPlugin, SourceError>) {
        match plugin {
            Ok(plugin) => self.insert(source_id, plugin),
            Err(error) => self.mark_broken(error),
        }
    }

    /// Records an entry that names a plugin but cannot be used (its
    /// [`SourceError::plugin`] names it); errors that name no plugin are
    /// kept as [`problems`](Self::problems).
    pub fn mark_broken(&mut self, error: SourceError) {
        match error
            .plugin()
            .map(|(tenant, plugin)| runtime_name(tenant, plugin))
        {
            Some(name) => {
                self.plugins.remove(&name);
                self.broken.insert(name, error);
            }
            None => self.problems.push(error),
        }
    }

    /// The plugins to load, by [`runtime_name`].
    pub fn plugins(&self) -> &BTreeMap<String, DesiredPlugin> {
        &self.plugins
    }

    /// The entries that are in the store but unusable, by [`runtime_name`].
    pub fn broken(&self) -> &BTreeMap<String, SourceError> {
        &self.broken
    }

    /// Problems with entries that name no plugin.
    pub fn problems(&self) -> &[SourceError] {
        &self.problems
    }

    /// Number of plugins to load.
    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    /// True when there is no plugin to load.
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("acme.example").is_ok());
        assert!(check_name("*").is_ok());
        for bad in ["", "a/b", ".", "..", " x", "x\n", &"x".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_hash_covers_every_part() {
        let m = manifest_or_default("p", None).unwrap();
        let a = DesiredPlugin::new("s", "t", "p", m.clone(), "{}", "return {}").unwrap();
        let same = DesiredPlugin::new("s", "t", "p", m.clone(), "{}", "return {}").unwrap();
        assert_eq!(a.content_hash, same.content_hash);
        let config =
            DesiredPlugin::new("s", "t", "p", m.clone(), "{\"a\":1}", "return {}").unwrap();
        let code = DesiredPlugin::new("s", "t", "p", m.clone(), "{}", "return { }").unwrap();
        let tenant = DesiredPlugin::new("s", "u", "p", m, "{}", "return {}").unwrap();
        for other in [config, code, tenant] {
            assert_ne!(a.content_hash, other.content_hash);
        }
        assert_eq!(a.runtime_name(), "t/p");
        assert_eq!(split_runtime_name("t/p"), Some(("t", "p")));
    }

    #[test]
    fn bad_entries_are_typed() {
        let m = manifest_or_default("p", None).unwrap();
        let err = DesiredPlugin::new("s", "t", "p", m.clone(), "{nope", "return {}").unwrap_err();
        assert!(
            matches!(&err, SourceError::BadEntry { message, .. } if message.contains("config")),
            "{err}"
        );
        let err = DesiredPlugin::new("s", "a/b", "p", m, "{}", "return {}").unwrap_err();
        assert!(
            matches!(&err, SourceError::BadEntry { message, .. } if message.contains("tenant")),
            "{err}"
        );
        assert!(manifest_or_default("p", Some(serde_json::json!([1]))).is_err());
        let with_caps = manifest_or_default(
            "p",
            Some(serde_json::json!({"capabilities": ["middleware"]})),
        )
        .unwrap();
        assert_eq!(with_caps.name, "p");
    }

    #[test]
    fn duplicates_become_broken() {
        let m = manifest_or_default("p", None).unwrap();
        let mut set = DesiredSet::new();
        set.insert(
            "s",
            DesiredPlugin::new("s", "t", "p", m.clone(), "{}", "return {}").unwrap(),
        );
        set.insert(
            "s",
            DesiredPlugin::new("s", "t", "p", m, "{}", "return {}").unwrap(),
        );
        assert!(set.is_empty());
        assert!(set.broken().contains_key("t/p"));
    }
}
