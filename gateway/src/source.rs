//! Where plugins come from, and how their changes reach the gateway.
//!
//! The one adapter between a plugin source and [`Gateway`]: a source yields
//! the full set of [`PluginDefinition`]s it holds now; [`Reconciler`] turns
//! the difference with what it applied last into loads and unloads.
//!
//! The source here is a folder: `<root>/<tenant>/<plugin>.lua`, with an
//! optional `<plugin>.json` next to it holding the plugin's config section.
//! A plugin's version is a hash of both files.

use crate::state::{Gateway, PluginDefinition};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The plugin folder of the default source.
#[derive(Debug, Clone)]
pub struct FolderSource {
    root: PathBuf,
}

impl FolderSource {
    /// A source reading `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderSource { root: root.into() }
    }

    /// Every plugin in the folder now, by full name. A file that cannot be
    /// read is an error naming it (the reconciler then changes nothing).
    pub fn snapshot(&self) -> Result<BTreeMap<String, PluginDefinition>, String> {
        let mut plugins = BTreeMap::new();
        for tenant_dir in read_dir_sorted(&self.root)? {
            if !tenant_dir.is_dir() {
                continue;
            }
            let Some(tenant) = file_name(&tenant_dir) else { continue };
            for file in read_dir_sorted(&tenant_dir)? {
                if file.extension().and_then(|e| e.to_str()) != Some("lua") {
                    continue;
                }
                let Some(name) = file.file_stem().and_then(|n| n.to_str()).map(str::to_string) else { continue };
                let source = read(&file)?;
                let config_path = file.with_extension("json");
                let config_json = if config_path.exists() { read(&config_path)? } else { "{}".to_string() };
                let mut hasher = std::hash::DefaultHasher::new();
                (&source, &config_json).hash(&mut hasher);
                let definition = PluginDefinition {
                    tenant: tenant.clone(),
                    name,
                    source: Arc::from(source),
                    config_json,
                    manifest: None,
                    version: format!("{:016x}", hasher.finish()),
                };
                plugins.insert(definition.full_name(), definition);
            }
        }
        Ok(plugins)
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()?.to_str().map(str::to_string)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Applies a source's snapshots to a gateway: new or changed versions are
/// loaded (a rejected one is not retried until it changes again), plugins
/// gone from the source are unloaded.
#[derive(Debug, Default)]
pub struct Reconciler {
    /// Full name -> the version last applied (loaded or rejected).
    applied: HashMap<String, String>,
}

/// What one reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Versions loaded and swapped in.
    pub loaded: Vec<String>,
    /// Versions rejected (the previous version keeps serving).
    pub rejected: Vec<String>,
    /// Plugins unloaded.
    pub removed: Vec<String>,
}

impl Reconciler {
    /// Brings `gateway` to `snapshot`. Blocks while scripts load: call it off
    /// the executor.
    pub fn apply(&mut self, gateway: &Gateway, snapshot: &BTreeMap<String, PluginDefinition>) -> Applied {
        let mut applied = Applied::default();
        let gone: Vec<String> = self.applied.keys().filter(|name| !snapshot.contains_key(*name)).cloned().collect();
        for full_name in gone {
            self.applied.remove(&full_name);
            if let Some((tenant, name)) = full_name.split_once('/') {
                gateway.remove(tenant, name);
            }
            applied.removed.push(full_name);
        }
        for (full_name, definition) in snapshot {
            if self.applied.get(full_name) == Some(&definition.version) {
                continue;
            }
            self.applied.insert(full_name.clone(), definition.version.clone());
            match gateway.upsert(definition) {
                Ok(()) => applied.loaded.push(full_name.clone()),
                Err(_) => applied.rejected.push(full_name.clone()),
            }
        }
        applied
    }
}

/// Polls `source` every `interval` and applies its changes, until the task
/// is dropped. A scan that fails (a file half-written, a folder removed)
/// is logged and changes nothing.
pub async fn watch(gateway: Arc<Gateway>, source: FolderSource, mut reconciler: Reconciler, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (gateway, source) = (gateway.clone(), source.clone());
        let scan = tokio::task::spawn_blocking(move || {
            let result = source.snapshot().map(|snapshot| reconciler.apply(&gateway, &snapshot));
            (reconciler, result)
        })
        .await;
        match scan {
            Ok((back, result)) => {
                reconciler = back;
                if let Err(e) = result {
                    tracing::warn!("plugin source: {e}");
                }
            }
            Err(e) => {
                tracing::error!("plugin source reconciliation failed: {e}");
                return;
            }
        }
    }
}
