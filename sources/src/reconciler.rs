//! The [`Reconciler`]: applies what sources want to a
//! [`LuaPluginRuntime`] through its hot-reload path, and keeps each
//! plugin's and each source's status.

use crate::desired::{DesiredPlugin, DesiredSet, split_runtime_name};
use crate::error::{SourceError, short_hash};
use crate::last_good;
use crate::source::{PluginSource, SourceEvent, SourceSignal};
use bext_plugin_lua_wasm::{LuaPluginConfig, LuaPluginRuntime};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::SystemTime;

/// Turns a desired plugin into the runtime's config: the place to set
/// limits, pools or cold start per plugin. Default: [`LuaPluginConfig::new`]
/// with the plugin's runtime name, manifest, source and config.
pub type ConfigureFn = dyn Fn(&DesiredPlugin, LuaPluginConfig) -> LuaPluginConfig + Send + Sync;

/// One plugin as the reconciler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginStatus {
    /// The tenant.
    pub tenant: String,
    /// The plugin's name within the tenant.
    pub plugin: String,
    /// The source that owns it ([`PluginSource::id`]).
    pub source: String,
    /// Content hash of the version serving now; `None` when no version of
    /// it ever loaded.
    pub content_hash: Option<String>,
    /// When the serving version was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Why the store's latest version is not serving (rejected by the
    /// runtime, or a broken entry); `None` when the serving version is the
    /// store's.
    pub last_error: Option<SourceError>,
    /// True when the serving version came from the last good file on disk
    /// rather than from the store.
    pub from_last_good: bool,
}

/// The state of one watched source.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SourceState {
    /// The source has not reported yet.
    Starting,
    /// The store answered on the last look; its set is applied.
    Live,
    /// The store cannot be reached since `since`; the plugins applied
    /// before keep serving.
    Unreachable {
        /// When the store stopped answering.
        since: SystemTime,
    },
    /// The store has been unreachable since the node started: the node
    /// serves the last good set read from `path`.
    ServingLastGood {
        /// When the set was restored.
        since: SystemTime,
        /// The file it came from.
        path: PathBuf,
    },
    /// The watch was stopped ([`SourceHandle::stop`]).
    Stopped,
}

/// One source as the reconciler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    /// The source's id.
    pub source: String,
    /// Reachable, unreachable, serving the last good set.
    pub state: SourceState,
    /// Number of its plugins serving now.
    pub plugins: usize,
    /// The last time the store answered.
    pub last_contact_at: Option<SystemTime>,
    /// Why the store could not be read last time, until it answers again.
    pub last_error: Option<SourceError>,
    /// Problems of the latest set that name no plugin (bad keys, conflicts).
    pub problems: Vec<SourceError>,
}

/// What one [`Reconciler::apply`] did, by runtime name.
///
/// An embedder that builds its own structures from the runtime's plugins
/// (a gateway's per-tenant middleware chains) learns of every change from
/// it through [`Reconciler::on_apply`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    /// Plugins loaded for the first time.
    pub loaded: Vec<String>,
    /// Plugins whose new version replaced the old one.
    pub reloaded: Vec<String>,
    /// Plugins removed from the runtime.
    pub unloaded: Vec<String>,
    /// Versions refused (the last good keeps serving) and broken entries.
    pub rejected: Vec<SourceError>,
}

impl ApplyReport {
    /// True when the apply changed nothing and refused nothing.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
            && self.reloaded.is_empty()
            && self.unloaded.is_empty()
            && self.rejected.is_empty()
    }

    /// The `(tenant, plugin)` pairs the report names: loaded, reloaded,
    /// unloaded or rejected (errors that name no plugin are left out).
    pub fn plugins(&self) -> impl Iterator<Item = (&str, &str)> {
        let changed = self
            .loaded
            .iter()
            .chain(&self.reloaded)
            .chain(&self.unloaded)
            .filter_map(|n| split_runtime_name(n));
        changed.chain(self.rejected.iter().filter_map(SourceError::plugin))
    }
}

/// Called after every apply that changed or refused something, with the
/// source's id and the report ([`Reconciler::on_apply`]).
pub type OnApplyFn = dyn Fn(&str, &ApplyReport) + Send + Sync;

struct Entry {
    source: String,
    serving: Option<DesiredPlugin>,
    loaded_at: Option<SystemTime>,
    last_error: Option<SourceError>,
    /// The content hash of a refused version, so the same broken version is
    /// not tried again at every poll.
    rejected_hash: Option<String>,
    from_last_good: bool,
}

#[derive(Default)]
struct State {
    plugins: BTreeMap<String, Entry>,
    sources: BTreeMap<String, SourceStatus>,
}

struct Inner {
    runtime: Arc<LuaPluginRuntime>,
    last_good_dir: Option<PathBuf>,
    configure: Option<Arc<ConfigureFn>>,
    on_apply: Option<Arc<OnApplyFn>>,
    /// Serialises applies (they load plugins, which takes a while); status
    /// reads only take `state`, briefly.
    applying: Mutex<()>,
    state: Mutex<State>,
}

/// Applies the sets that [`PluginSource`]s yield to one runtime.
///
/// For each source's set: plugins not loaded yet are loaded, plugins whose
/// content hash changed are reloaded (the runtime's hot reload: the new
/// version is loaded and capability-checked, then swapped in atomically),
/// plugins the store no longer has are unloaded. A version the runtime
/// refuses is logged as an error naming tenant and plugin
/// ([`SourceError::Rejected`]) and the last good version keeps serving; the
/// same version is not retried until the store changes it. Each plugin
/// belongs to the first source that yielded it; the others get
/// [`SourceError::Conflict`].
///
/// Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("last_good_dir", &self.inner.last_good_dir)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler for `runtime`, without a last good folder.
    pub fn new(runtime: Arc<LuaPluginRuntime>) -> Self {
        Reconciler {
            inner: Arc::new(Inner {
                runtime,
                last_good_dir: None,
                configure: None,
                on_apply: None,
                applying: Mutex::new(()),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn with_inner(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner)
            .unwrap_or_else(|_| panic!("configure a Reconciler before cloning it"));
        change(&mut inner);
        Reconciler {
            inner: Arc::new(inner),
        }
    }

    /// Keeps each source's last good set in `dir` (written after every
    /// apply), so a node restarting while a store is unreachable serves it.
    /// Default: none.
    ///
    /// # Panics
    ///
    /// If the reconciler was already cloned (configure it first).
    pub fn last_good_dir(self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        self.with_inner(|inner| inner.last_good_dir = Some(dir))
    }

    /// Sets how a desired plugin becomes a [`LuaPluginConfig`] (limits,
    /// pool, cold start). The function gets the default config (name,
    /// manifest, source and config set) and returns the one to load.
    ///
    /// # Panics
    ///
    /// If the reconciler was already cloned (configure it first).
    pub fn configure(
        self,
        f: impl Fn(&DesiredPlugin, LuaPluginConfig) -> LuaPluginConfig + Send + Sync + 'static,
    ) -> Self {
        self.with_inner(|inner| inner.configure = Some(Arc::new(f)))
    }

    /// Calls `f` after every apply that changed or refused something (a
    /// set from a watched source, a last good set restored, a direct
    /// [`apply`](Self::apply)), with the source's id and the
    /// [`ApplyReport`]: the runtime already serves the new versions when it
    /// runs. Applies are serialised and `f` runs inside that order, so
    /// reports arrive in the order the changes were made; `f` may read
    /// statuses ([`serving`](Self::serving), [`plugin_status`](Self::plugin_status))
    /// but must not apply (that would wait for itself).
    ///
    /// # Panics
    ///
    /// If the reconciler was already cloned (configure it first).
    pub fn on_apply(self, f: impl Fn(&str, &ApplyReport) + Send + Sync + 'static) -> Self {
        self.with_inner(|inner| inner.on_apply = Some(Arc::new(f)))
    }

    /// The runtime plugins are loaded into.
    pub fn runtime(&self) -> &Arc<LuaPluginRuntime> {
        &self.inner.runtime
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Plain maps, updated field by field; a panic cannot leave them torn.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `set` as the complete wish of source `source_id` and
    /// returns what changed. Also saves the source's last good set when a
    /// folder is configured.
    pub fn apply(&self, source_id: &str, set: &DesiredSet) -> ApplyReport {
        self.apply_inner(source_id, set, false)
    }

    fn apply_inner(&self, source_id: &str, set: &DesiredSet, from_last_good: bool) -> ApplyReport {
        let _applying = self
            .inner
            .applying
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut report = ApplyReport::default();
        let mut problems: Vec<SourceError> = set.problems().to_vec();

        for (name, wanted) in set.plugins() {
            let current = self.state().plugins.get(name).map(|e| {
                (
                    e.source.clone(),
                    e.serving.as_ref().map(|p| p.content_hash.clone()),
                    e.rejected_hash.clone(),
                )
            });
            match &current {
                Some((owner, ..)) if owner != source_id => {
                    let error = SourceError::Conflict {
                        tenant: wanted.tenant.clone(),
                        plugin: wanted.plugin.clone(),
                        owner: owner.clone(),
                    };
                    tracing::error!(source = source_id, tenant = %wanted.tenant, plugin = %wanted.plugin, %error, "plugin conflict");
                    problems.push(error.clone());
                    report.rejected.push(error);
                    continue;
                }
                Some((_, Some(serving), _)) if *serving == wanted.content_hash => {
                    // The store is back at the serving version (or never left it).
                    if let Some(entry) = self.state().plugins.get_mut(name) {
                        entry.last_error = None;
                        entry.rejected_hash = None;
                        entry.from_last_good &= from_last_good;
                    }
                    continue;
                }
                Some((_, _, Some(rejected))) if *rejected == wanted.content_hash => continue,
                _ => {}
            }
            let reloading = current
                .as_ref()
                .is_some_and(|(_, serving, _)| serving.is_some());
            match self.load(wanted) {
                Ok(()) => {
                    tracing::info!(source = source_id, tenant = %wanted.tenant, plugin = %wanted.plugin,
                        version = short_hash(&wanted.content_hash), reloaded = reloading, "plugin loaded");
                    self.state().plugins.insert(
                        name.clone(),
                        Entry {
                            source: source_id.into(),
                            serving: Some(wanted.clone()),
                            loaded_at: Some(SystemTime::now()),
                            last_error: None,
                            rejected_hash: None,
                            from_last_good,
                        },
                    );
                    let changed = if reloading {
                        &mut report.reloaded
                    } else {
                        &mut report.loaded
                    };
                    changed.push(name.clone());
                }
                Err(error) => {
                    tracing::error!(source = source_id, tenant = %wanted.tenant, plugin = %wanted.plugin,
                        version = short_hash(&wanted.content_hash), %error, "plugin version rejected; the last good version keeps serving");
                    self.record_error(
                        source_id,
                        name,
                        error.clone(),
                        Some(wanted.content_hash.clone()),
                    );
                    report.rejected.push(error);
                    if !reloading && !from_last_good {
                        self.fall_back_to_last_good(source_id, name, wanted, &mut report);
                    }
                }
            }
        }

        for (name, error) in set.broken() {
            if let Some(owner) = self
                .state()
                .plugins
                .get(name)
                .map(|e| e.source.clone())
                .filter(|o| o != source_id)
            {
                if let Some((tenant, plugin)) = split_runtime_name(name) {
                    problems.push(SourceError::Conflict {
                        tenant: tenant.into(),
                        plugin: plugin.into(),
                        owner,
                    });
                }
                continue;
            }
            tracing::error!(source = source_id, %error, "broken plugin entry; the last good version keeps serving");
            self.record_error(source_id, name, error.clone(), None);
            report.rejected.push(error.clone());
        }

        let removed: Vec<String> = self
            .state()
            .plugins
            .iter()
            .filter(|(name, e)| {
                e.source == source_id
                    && !set.plugins().contains_key(*name)
                    && !set.broken().contains_key(*name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in removed {
            let entry = self.state().plugins.remove(&name);
            if entry.is_some_and(|e| e.serving.is_some()) {
                self.inner.runtime.unload_plugin(&name);
                tracing::info!(source = source_id, plugin = %name, "plugin unloaded: no longer in the store");
                report.unloaded.push(name);
            }
        }

        if !from_last_good {
            self.save_last_good(source_id, &mut problems);
        }
        let serving = self.serving_count(source_id);
        let mut state = self.state();
        let status = state
            .sources
            .entry(source_id.into())
            .or_insert_with(|| new_source_status(source_id));
        status.plugins = serving;
        status.problems = problems;
        drop(state);
        if let Some(on_apply) = self.inner.on_apply.as_ref().filter(|_| !report.is_empty()) {
            on_apply(source_id, &report);
        }
        report
    }

    /// Loads one version through the runtime's hot-reload path.
    fn load(&self, wanted: &DesiredPlugin) -> Result<(), SourceError> {
        let config = LuaPluginConfig::new(
            wanted.runtime_name(),
            wanted.manifest.clone(),
            wanted.source.clone(),
        )
        .config_json(wanted.config_json.clone());
        let config = match &self.inner.configure {
            Some(configure) => configure(wanted, config),
            None => config,
        };
        self.inner
            .runtime
            .load_plugin(config)
            .map(|_| ())
            .map_err(|error| SourceError::Rejected {
                tenant: wanted.tenant.clone(),
                plugin: wanted.plugin.clone(),
                content_hash: wanted.content_hash.clone(),
                error,
            })
    }

    /// A plugin never loaded in this process whose store version is refused:
    /// serve the version of the last good file instead, if there is one.
    fn fall_back_to_last_good(
        &self,
        source_id: &str,
        name: &str,
        wanted: &DesiredPlugin,
        report: &mut ApplyReport,
    ) {
        let Some(dir) = &self.inner.last_good_dir else {
            return;
        };
        let Ok(Some((_, set))) = last_good::load(dir, source_id) else {
            return;
        };
        let Some(good) = set
            .plugins()
            .get(name)
            .filter(|g| g.content_hash != wanted.content_hash)
        else {
            return;
        };
        if self.load(good).is_ok() {
            tracing::warn!(source = source_id, tenant = %good.tenant, plugin = %good.plugin,
                version = short_hash(&good.content_hash), "serving the last good version from disk");
            if let Some(entry) = self.state().plugins.get_mut(name) {
                entry.serving = Some(good.clone());
                entry.loaded_at = Some(SystemTime::now());
                entry.from_last_good = true;
            }
            report.loaded.push(name.into());
        }
    }

    fn record_error(
        &self,
        source_id: &str,
        name: &str,
        error: SourceError,
        rejected_hash: Option<String>,
    ) {
        let mut state = self.state();
        let entry = state.plugins.entry(name.into()).or_insert_with(|| Entry {
            source: source_id.into(),
            serving: None,
            loaded_at: None,
            last_error: None,
            rejected_hash: None,
            from_last_good: false,
        });
        entry.last_error = Some(error);
        entry.rejected_hash = rejected_hash;
    }

    fn serving_count(&self, source_id: &str) -> usize {
        self.state()
            .plugins
            .values()
            .filter(|e| e.source == source_id && e.serving.is_some())
            .count()
    }

    fn save_last_good(&self, source_id: &str, problems: &mut Vec<SourceError>) {
        let Some(dir) = &self.inner.last_good_dir else {
            return;
        };
        let serving: Vec<DesiredPlugin> = self
            .state()
            .plugins
            .values()
            .filter(|e| e.source == source_id)
            .filter_map(|e| e.serving.clone())
            .collect();
        if let Err(error) = last_good::save(dir, source_id, &serving) {
            tracing::error!(source = source_id, %error, "could not save the last good set");
            problems.push(error);
        }
    }

    /// The status of a tenant's plugin.
    pub fn plugin_status(&self, tenant: &str, plugin: &str) -> Option<PluginStatus> {
        let name = crate::desired::runtime_name(tenant, plugin);
        self.state()
            .plugins
            .get(&name)
            .map(|e| plugin_status(&name, e))
    }

    /// The version of a plugin serving now, by [`runtime_name`](crate::runtime_name)
    /// (`acme/ratelimit`): its source text, config and content hash as the
    /// store gave them. `None` when no version of it serves.
    pub fn serving(&self, runtime_name: &str) -> Option<DesiredPlugin> {
        self.state()
            .plugins
            .get(runtime_name)
            .and_then(|e| e.serving.clone())
    }

    /// The status of every plugin of every source, sorted by runtime name.
    pub fn plugin_statuses(&self) -> Vec<PluginStatus> {
        self.state()
            .plugins
            .iter()
            .map(|(name, e)| plugin_status(name, e))
            .collect()
    }

    /// The status of a source by id.
    pub fn source_status(&self, source_id: &str) -> Option<SourceStatus> {
        self.state().sources.get(source_id).cloned()
    }

    /// The status of every source, sorted by id.
    pub fn source_statuses(&self) -> Vec<SourceStatus> {
        self.state().sources.values().cloned().collect()
    }

    fn update_source(&self, source_id: &str, change: impl FnOnce(&mut SourceStatus)) {
        let mut state = self.state();
        change(
            state
                .sources
                .entry(source_id.into())
                .or_insert_with(|| new_source_status(source_id)),
        );
    }

    /// Handles one event of a source (what [`watch`](Self::watch)'s thread
    /// does with each): applies a set, records an unreachable store, and on
    /// the first failure of a source that never answered, restores its last
    /// good set from disk. `answered` tells whether the source ever answered
    /// in this process. Returns false for [`SourceEvent::Stopped`].
    pub fn handle_event(&self, source_id: &str, event: SourceEvent, answered: &mut bool) -> bool {
        match event {
            SourceEvent::Set(set) => {
                *answered = true;
                self.apply(source_id, &set);
                self.update_source(source_id, |s| {
                    s.state = SourceState::Live;
                    s.last_contact_at = Some(SystemTime::now());
                    s.last_error = None;
                });
            }
            SourceEvent::Unchanged => {
                *answered = true;
                self.update_source(source_id, |s| {
                    s.state = SourceState::Live;
                    s.last_contact_at = Some(SystemTime::now());
                    s.last_error = None;
                });
            }
            SourceEvent::Unavailable(error) => {
                tracing::warn!(source = source_id, %error, "plugin store unavailable; plugins keep serving as they are");
                let restoring = !*answered
                    && !matches!(
                        self.source_status(source_id).map(|s| s.state),
                        Some(SourceState::ServingLastGood { .. })
                    );
                let restored = if restoring {
                    self.restore_last_good(source_id)
                } else {
                    None
                };
                self.update_source(source_id, |s| {
                    if let Some(path) = restored {
                        s.state = SourceState::ServingLastGood {
                            since: SystemTime::now(),
                            path,
                        };
                    } else if !matches!(
                        s.state,
                        SourceState::Unreachable { .. } | SourceState::ServingLastGood { .. }
                    ) {
                        s.state = SourceState::Unreachable {
                            since: SystemTime::now(),
                        };
                    }
                    s.last_error = Some(error);
                });
            }
            SourceEvent::Stopped => {
                self.update_source(source_id, |s| s.state = SourceState::Stopped);
                return false;
            }
        }
        true
    }

    fn restore_last_good(&self, source_id: &str) -> Option<PathBuf> {
        let dir = self.inner.last_good_dir.as_ref()?;
        match last_good::load(dir, source_id) {
            Ok(Some((path, set))) => {
                tracing::warn!(source = source_id, path = %path.display(), plugins = set.len(),
                    "store unreachable at start: serving the last good set from disk");
                self.apply_inner(source_id, &set, true);
                Some(path)
            }
            Ok(None) => None,
            Err(error) => {
                tracing::error!(source = source_id, %error, "could not read the last good set");
                None
            }
        }
    }

    /// Runs `source` on a thread of its own, applying each set it yields,
    /// until the returned handle is stopped or dropped.
    pub fn watch(&self, source: impl PluginSource + 'static) -> SourceHandle {
        self.start_watch(source, false)
    }

    /// Like [`watch`](Self::watch), but handles the source's first event
    /// (its complete set, or the store being unavailable) on the calling
    /// thread before returning: a server that calls it before it binds its
    /// listener serves its plugins from the first request. Blocks for that
    /// first look at the store (for a network store, at most its connect
    /// timeout when the store is down).
    pub fn watch_ready(&self, source: impl PluginSource + 'static) -> SourceHandle {
        self.start_watch(source, true)
    }

    fn start_watch(
        &self,
        mut source: impl PluginSource + 'static,
        first_event_here: bool,
    ) -> SourceHandle {
        let id = source.id().to_string();
        let signal = SourceSignal::new();
        self.update_source(&id, |_| {});
        let mut answered = false;
        let mut running = true;
        if first_event_here {
            running = self.handle_event(&id, source.next_event(&signal), &mut answered);
        }
        let reconciler = self.clone();
        let thread_signal = signal.clone();
        let thread_id = id.clone();
        let thread = std::thread::Builder::new()
            .name(format!("bext-source {id}"))
            .spawn(move || {
                while running {
                    let event = if thread_signal.is_stopped() {
                        SourceEvent::Stopped
                    } else {
                        source.next_event(&thread_signal)
                    };
                    running = reconciler.handle_event(&thread_id, event, &mut answered);
                }
            })
            .expect("spawning a source thread");
        SourceHandle {
            id,
            signal,
            thread: Some(thread),
            reconciler: self.clone(),
        }
    }
}

fn new_source_status(source_id: &str) -> SourceStatus {
    SourceStatus {
        source: source_id.into(),
        state: SourceState::Starting,
        plugins: 0,
        last_contact_at: None,
        last_error: None,
        problems: Vec::new(),
    }
}

fn plugin_status(name: &str, e: &Entry) -> PluginStatus {
    let (tenant, plugin) = split_runtime_name(name).unwrap_or((name, ""));
    PluginStatus {
        tenant: tenant.into(),
        plugin: plugin.into(),
        source: e.source.clone(),
        content_hash: e.serving.as_ref().map(|p| p.content_hash.clone()),
        loaded_at: e.loaded_at,
        last_error: e.last_error.clone(),
        from_last_good: e.from_last_good,
    }
}

/// A source being watched ([`Reconciler::watch`]). Stopping it (or dropping
/// it) ends the watch; the plugins it loaded stay loaded.
#[derive(Debug)]
pub struct SourceHandle {
    id: String,
    signal: SourceSignal,
    thread: Option<JoinHandle<()>>,
    reconciler: Reconciler,
}

impl SourceHandle {
    /// The source's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The source's status.
    pub fn status(&self) -> SourceStatus {
        self.reconciler
            .source_status(&self.id)
            .unwrap_or_else(|| new_source_status(&self.id))
    }

    /// Wakes the source early (a poller polls now).
    pub fn wake(&self) {
        self.signal.wake();
    }

    /// Stops the watch and waits for its thread to end.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.signal.stop();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(source = %self.id, "the source thread panicked");
        }
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
