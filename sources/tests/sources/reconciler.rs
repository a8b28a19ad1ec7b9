//! The reconciler on its own: sets applied by hand.

use crate::common::*;
use bext_plugin_lua_wasm::Error;
use bext_plugin_sources::{
    ApplyReport, DesiredPlugin, DesiredSet, Reconciler, SourceError, SourceEvent, SourceState,
    manifest_or_default,
};

fn set(plugins: &[DesiredPlugin]) -> DesiredSet {
    let mut set = DesiredSet::new();
    for p in plugins {
        set.insert("test", p.clone());
    }
    set
}

#[test]
fn loads_reloads_by_hash_and_unloads() {
    let r = reconciler();
    let rt = r.runtime().clone();
    let report = r.apply(
        "s",
        &set(&[
            desired("acme", "a", &answering("a1")),
            desired("acme", "b", &answering("b1")),
        ]),
    );
    assert_eq!(report.loaded, ["acme/a", "acme/b"]);
    assert_eq!(served(&rt, "acme", "a").as_deref(), Some("a1"));

    // Same content: nothing to do.
    let report = r.apply(
        "s",
        &set(&[
            desired("acme", "a", &answering("a1")),
            desired("acme", "b", &answering("b1")),
        ]),
    );
    assert_eq!(report, Default::default());

    // b changes, a goes away.
    let report = r.apply("s", &set(&[desired("acme", "b", &answering("b2"))]));
    assert_eq!(report.reloaded, ["acme/b"]);
    assert_eq!(report.unloaded, ["acme/a"]);
    assert_eq!(served(&rt, "acme", "a"), None);
    assert_eq!(served(&rt, "acme", "b").as_deref(), Some("b2"));
    assert_eq!(rt.plugin_names(), ["acme/b"]);

    let status = r.plugin_status("acme", "b").unwrap();
    assert_eq!(
        status.content_hash.as_deref(),
        Some(desired("acme", "b", &answering("b2")).content_hash.as_str())
    );
    assert!(status.loaded_at.is_some());
    assert_eq!(status.source, "s");
    assert_eq!(status.last_error, None);
}

#[test]
fn a_broken_version_is_rejected_and_the_last_good_keeps_serving() {
    let r = reconciler();
    let rt = r.runtime().clone();
    let good = desired("acme", "p", &answering("good"));
    r.apply("s", &set(std::slice::from_ref(&good)));

    let broken = desired("acme", "p", BROKEN);
    let logs_and_report = r.apply("s", &set(std::slice::from_ref(&broken)));
    match &logs_and_report.rejected[..] {
        [
            SourceError::Rejected {
                tenant,
                plugin,
                content_hash,
                error:
                    Error::Syntax {
                        plugin: runtime_name,
                        ..
                    },
            },
        ] => {
            assert_eq!((tenant.as_str(), plugin.as_str()), ("acme", "p"));
            assert_eq!(content_hash, &broken.content_hash);
            assert_eq!(runtime_name, "acme/p");
        }
        other => panic!("expected one syntax rejection, got {other:?}"),
    }
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("good"));
    let status = r.plugin_status("acme", "p").unwrap();
    assert_eq!(
        status.content_hash.as_deref(),
        Some(good.content_hash.as_str())
    );
    assert!(matches!(
        status.last_error,
        Some(SourceError::Rejected { .. })
    ));
    let text = status.last_error.unwrap().to_string();
    assert!(
        text.contains("tenant `acme` plugin `p`") && text.contains("syntax error"),
        "{text}"
    );

    // The same broken version is not tried again at every poll.
    assert_eq!(r.apply("s", &set(&[broken])), Default::default());

    // A fixed version loads and clears the error.
    let report = r.apply("s", &set(&[desired("acme", "p", &answering("fixed"))]));
    assert_eq!(report.reloaded, ["acme/p"]);
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("fixed"));
    assert_eq!(r.plugin_status("acme", "p").unwrap().last_error, None);
}

#[test]
fn a_version_failing_its_capability_check_is_rejected() {
    let r = reconciler();
    let rt = r.runtime().clone();
    r.apply("s", &set(&[desired("acme", "p", &answering("good"))]));
    let manifest = manifest_or_default(
        "p",
        Some(serde_json::json!({"capabilities": ["cache_backend"]})),
    )
    .unwrap();
    let lying = DesiredPlugin::new("s", "acme", "p", manifest, "{}", answering("liar")).unwrap();
    let report = r.apply("s", &set(&[lying]));
    assert!(
        matches!(
            &report.rejected[..],
            [SourceError::Rejected {
                error: Error::CapabilityMismatch { .. },
                ..
            }]
        ),
        "{report:?}"
    );
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("good"));
}

#[test]
fn a_broken_entry_keeps_the_last_good_and_a_new_broken_plugin_serves_nothing() {
    let r = reconciler();
    let rt = r.runtime().clone();
    r.apply("s", &set(&[desired("acme", "p", &answering("good"))]));
    let mut broken_set = DesiredSet::new();
    broken_set.mark_broken(SourceError::BadEntry {
        source_id: "s".into(),
        tenant: "acme".into(),
        plugin: "p".into(),
        message: "config.json is not JSON".into(),
    });
    broken_set.insert("s", desired("acme", "new", BROKEN));
    let report = r.apply("s", &broken_set);
    assert_eq!(report.rejected.len(), 2, "{report:?}");
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("good"));
    assert_eq!(served(&rt, "acme", "new"), None);
    let new = r.plugin_status("acme", "new").unwrap();
    assert_eq!(new.content_hash, None);
    assert!(matches!(new.last_error, Some(SourceError::Rejected { .. })));
    assert!(matches!(
        r.plugin_status("acme", "p").unwrap().last_error,
        Some(SourceError::BadEntry { .. })
    ));
}

#[test]
fn two_sources_cannot_own_one_plugin() {
    let r = reconciler();
    let rt = r.runtime().clone();
    r.apply("first", &set(&[desired("acme", "p", &answering("first"))]));
    let report = r.apply(
        "second",
        &set(&[desired("acme", "p", &answering("second"))]),
    );
    assert!(
        matches!(&report.rejected[..], [SourceError::Conflict { owner, .. }] if owner == "first"),
        "{report:?}"
    );
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("first"));
    // The second source's empty set does not unload the first's plugin.
    r.apply("second", &DesiredSet::new());
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("first"));
    assert_eq!(r.source_status("second").unwrap().problems.len(), 0);
}

#[test]
fn a_restart_with_the_store_unreachable_serves_the_last_good_set() {
    let dir = TempDir::new("last-good");
    let before = Reconciler::new(runtime()).last_good_dir(dir.path());
    before.apply(
        "store",
        &set(&[
            desired("acme", "p", &answering("kept")),
            desired("globex", "q", &answering("q1")),
        ]),
    );
    // A broken later version is not what gets saved.
    before.apply(
        "store",
        &set(&[
            desired("acme", "p", BROKEN),
            desired("globex", "q", &answering("q1")),
        ]),
    );
    drop(before);

    // The "restarted" node: a new runtime, the store down from the start.
    let after = Reconciler::new(runtime()).last_good_dir(dir.path());
    let rt = after.runtime().clone();
    let mut answered = false;
    let down = SourceError::Unreachable {
        source_id: "store".into(),
        message: "connection refused".into(),
    };
    assert!(after.handle_event(
        "store",
        SourceEvent::Unavailable(down.clone()),
        &mut answered
    ));
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("kept"));
    assert_eq!(served(&rt, "globex", "q").as_deref(), Some("q1"));
    let status = after.source_status("store").unwrap();
    assert!(
        matches!(&status.state, SourceState::ServingLastGood { path, .. } if path.starts_with(dir.path())),
        "{status:?}"
    );
    assert_eq!(status.last_error, Some(down.clone()));
    assert_eq!(status.plugins, 2);
    assert!(after.plugin_status("acme", "p").unwrap().from_last_good);

    // Still down: still serving the last good set, no reload.
    after.handle_event("store", SourceEvent::Unavailable(down), &mut answered);
    assert!(matches!(
        after.source_status("store").unwrap().state,
        SourceState::ServingLastGood { .. }
    ));

    // The store comes back with a change.
    after.handle_event(
        "store",
        SourceEvent::Set(set(&[desired("acme", "p", &answering("new"))])),
        &mut answered,
    );
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("new"));
    assert_eq!(served(&rt, "globex", "q"), None);
    let status = after.source_status("store").unwrap();
    assert_eq!(status.state, SourceState::Live);
    assert_eq!(status.last_error, None);
    assert!(!after.plugin_status("acme", "p").unwrap().from_last_good);
}

#[test]
fn a_restart_onto_a_broken_version_serves_the_last_good_one_from_disk() {
    let dir = TempDir::new("fallback");
    Reconciler::new(runtime())
        .last_good_dir(dir.path())
        .apply("store", &set(&[desired("acme", "p", &answering("old"))]));
    let after = Reconciler::new(runtime()).last_good_dir(dir.path());
    let report = after.apply("store", &set(&[desired("acme", "p", BROKEN)]));
    assert!(
        matches!(&report.rejected[..], [SourceError::Rejected { .. }]),
        "{report:?}"
    );
    assert_eq!(served(after.runtime(), "acme", "p").as_deref(), Some("old"));
    let status = after.plugin_status("acme", "p").unwrap();
    assert!(
        status.from_last_good && status.last_error.is_some(),
        "{status:?}"
    );
}

#[test]
fn a_corrupt_last_good_file_serves_nothing_but_says_so() {
    let dir = TempDir::new("corrupt");
    let path = bext_plugin_sources::last_good_path(dir.path(), "store");
    std::fs::write(&path, b"{\"format\":1,").unwrap();
    let r = Reconciler::new(runtime()).last_good_dir(dir.path());
    let mut answered = false;
    let down = SourceError::Unreachable {
        source_id: "store".into(),
        message: "down".into(),
    };
    r.handle_event("store", SourceEvent::Unavailable(down), &mut answered);
    assert!(matches!(
        r.source_status("store").unwrap().state,
        SourceState::Unreachable { .. }
    ));
    assert!(r.runtime().plugin_names().is_empty());
}

#[test]
fn on_apply_reports_every_change_in_order_with_the_serving_version_readable() {
    use std::sync::{Arc, Mutex};
    type Seen = Vec<(String, ApplyReport, Vec<Option<String>>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let r = {
        let seen = seen.clone();
        let slot: Arc<std::sync::OnceLock<Reconciler>> = Arc::default();
        let inside = slot.clone();
        let r = Reconciler::new(runtime()).on_apply(move |source, report| {
            // What an embedder does: read the serving versions the report names.
            let r = inside.get().expect("set before the first apply");
            let serving = report
                .plugins()
                .map(|(t, p)| r.serving(&format!("{t}/{p}")).map(|d| d.content_hash))
                .collect();
            seen.lock()
                .unwrap()
                .push((source.to_string(), report.clone(), serving));
        });
        let _ = slot.set(r.clone());
        r
    };
    let v1 = desired("acme", "p", &answering("v1"));
    let v2 = desired("acme", "p", &answering("v2"));
    r.apply("s", &set(std::slice::from_ref(&v1)));
    r.apply("s", &set(std::slice::from_ref(&v1))); // nothing changed: no call
    r.apply("s", &set(std::slice::from_ref(&v2)));
    r.apply("s", &set(&[desired("acme", "p", BROKEN)]));
    r.apply("s", &set(&[]));

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    // (source, the plugins a report names, what serves after it)
    type Call<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [Option<String>]);
    let summary: Vec<Call> = seen
        .iter()
        .map(|(s, report, serving)| (s.as_str(), report.plugins().collect(), serving.as_slice()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "s",
                vec![("acme", "p")],
                &[Some(v1.content_hash.clone())][..]
            ),
            (
                "s",
                vec![("acme", "p")],
                &[Some(v2.content_hash.clone())][..]
            ),
            (
                "s",
                vec![("acme", "p")],
                &[Some(v2.content_hash.clone())][..]
            ),
            ("s", vec![("acme", "p")], &[None][..]),
        ]
    );
    assert_eq!(seen[0].1.loaded, ["acme/p"]);
    assert_eq!(seen[1].1.reloaded, ["acme/p"]);
    assert!(
        matches!(&seen[2].1.rejected[..], [SourceError::Rejected { .. }]),
        "{:?}",
        seen[2].1
    );
    assert_eq!(seen[3].1.unloaded, ["acme/p"]);
}

#[test]
fn watch_ready_applies_the_first_set_before_it_returns() {
    let dir = TempDir::new("ready");
    write_atomically(&dir.path().join("acme/p.lua"), &answering("v1"));
    let r = reconciler();
    let watch = r.watch_ready(
        bext_plugin_sources::FolderSource::new(dir.path())
            .debounce(std::time::Duration::from_millis(20)),
    );
    // No waiting: the set is applied when watch_ready returns.
    assert_eq!(served(r.runtime(), "acme", "p").as_deref(), Some("v1"));
    assert_eq!(watch.status().state, SourceState::Live);
    // And the watch goes on from there.
    write_atomically(&dir.path().join("acme/p.lua"), &answering("v2"));
    wait_served(r.runtime(), "acme", "p", "v2");
    watch.stop();
}
