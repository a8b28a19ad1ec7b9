//! The etcd source against a real etcd server on loopback ports.

use crate::common::*;
use bext_plugin_sources::{
    EtcdSource, PluginSource, Reconciler, SourceError, SourceEvent, SourceSignal, SourceState,
};
use std::time::Duration;

fn source(etcd: &EtcdServer, prefix: &str) -> EtcdSource {
    EtcdSource::new(&[etcd.endpoint()], prefix)
        .retry(Duration::from_millis(50))
        .connect_timeout(Duration::from_millis(500))
}

#[test]
fn a_watched_prefix_loads_reloads_rejects_and_unloads() {
    let etcd = EtcdServer::start();
    let client = etcd.client();
    client.put("/bext/acme/p", &etcd_value(&answering("v1")));
    client.put(
        "/bext/globex/q",
        &EtcdSource::value(
            ANSWERS_CONFIG,
            Some(serde_json::json!({"version": "2.0.0"})),
            Some(serde_json::json!({"k": 1})),
        ),
    );
    client.put(
        "/other/acme/x",
        &etcd_value(&answering("outside the prefix")),
    );

    let r = reconciler();
    let rt = r.runtime().clone();
    let watch = r.watch(source(&etcd, "/bext/"));
    wait_served(&rt, "acme", "p", "v1");
    wait_served(&rt, "globex", "q", r#"{"k":1}"#);
    assert_eq!(rt.plugin_names(), ["acme/p", "globex/q"]);
    assert_eq!(watch.status().state, SourceState::Live);

    client.put("/bext/acme/p", &etcd_value(&answering("v2")));
    wait_served(&rt, "acme", "p", "v2");

    // A version that does not compile: rejected, v2 keeps serving.
    client.put("/bext/acme/p", &etcd_value(BROKEN));
    wait_until("the broken version is rejected", || {
        matches!(
            r.plugin_status("acme", "p").and_then(|s| s.last_error),
            Some(SourceError::Rejected { .. })
        )
    });
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("v2"));

    // A value that is not the JSON the source expects: a broken entry.
    client.put("/bext/acme/p", "return {}");
    wait_until("the bad value is reported", || {
        matches!(
            r.plugin_status("acme", "p").and_then(|s| s.last_error),
            Some(SourceError::BadEntry { .. })
        )
    });
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("v2"));

    // A key that names no plugin is reported in the source's status.
    client.put("/bext/no-plugin-name", &etcd_value(&answering("x")));
    wait_until("the bad key is reported", || {
        watch
            .status()
            .problems
            .iter()
            .any(|p| matches!(p, SourceError::BadKey { key, .. } if key == "/bext/no-plugin-name"))
    });

    client.delete("/bext/globex/q");
    wait_until("globex/q is unloaded", || rt.plugin("globex/q").is_none());
    watch.stop();
}

#[test]
fn reconnects_and_lists_again_after_a_compaction() {
    let mut etcd = EtcdServer::start();
    let client = etcd.client();
    client.put("/c/acme/p", &etcd_value(&answering("v1")));
    client.put("/c/acme/gone", &etcd_value(&answering("gone")));

    // Driven by hand: nothing reconnects while the test changes the store.
    let signal = SourceSignal::new();
    let mut source = source(&etcd, "/c/");
    let SourceEvent::Set(set) = source.next_event(&signal) else {
        panic!("expected the listed set")
    };
    assert_eq!(
        set.plugins().keys().collect::<Vec<_>>(),
        ["acme/gone", "acme/p"]
    );

    etcd.stop();
    let event = source.next_event(&signal);
    assert!(
        matches!(
            event,
            SourceEvent::Unavailable(SourceError::Unreachable { .. })
        ),
        "{event:?}"
    );
    let event = source.next_event(&signal);
    assert!(
        matches!(
            event,
            SourceEvent::Unavailable(SourceError::Unreachable { .. })
        ),
        "{event:?}"
    );

    // While the source is away: changes, then a compaction past its revision.
    etcd.restart();
    let client = etcd.client();
    client.put("/c/acme/p", &etcd_value(&answering("v2")));
    client.delete("/c/acme/gone");
    let revision = client.put("/c/acme/new", &etcd_value(&answering("new")));
    client.compact(revision);

    // The resumed watch hits the compaction and the source lists again.
    let mut last = None;
    for _ in 0..4 {
        match source.next_event(&signal) {
            SourceEvent::Set(set) => {
                last = Some(set);
                break;
            }
            SourceEvent::Unchanged | SourceEvent::Unavailable(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    let set = last.expect("a listed set after the compaction");
    assert_eq!(
        set.plugins().keys().collect::<Vec<_>>(),
        ["acme/new", "acme/p"]
    );
    assert!(set.plugins()["acme/p"].source.contains("v2"));

    signal.stop();
    assert!(matches!(source.next_event(&signal), SourceEvent::Stopped));
}

#[test]
fn a_node_restarting_while_etcd_is_down_serves_its_last_good_set() {
    let mut etcd = EtcdServer::start();
    let last_good = TempDir::new("etcd-last-good");
    let client = etcd.client();
    client.put("/lg/acme/p", &etcd_value(&answering("v1")));
    {
        let r = Reconciler::new(runtime()).last_good_dir(last_good.path());
        let watch = r.watch(source(&etcd, "/lg/"));
        wait_served(r.runtime(), "acme", "p", "v1");
        watch.stop();
    }
    etcd.stop();

    // The node comes back while etcd is down.
    let r = Reconciler::new(runtime()).last_good_dir(last_good.path());
    let rt = r.runtime().clone();
    let watch = r.watch(source(&etcd, "/lg/"));
    wait_until("the node serves its last good set", || {
        matches!(watch.status().state, SourceState::ServingLastGood { .. })
    });
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("v1"));
    assert!(matches!(
        watch.status().last_error,
        Some(SourceError::Unreachable { .. })
    ));
    assert!(r.plugin_status("acme", "p").unwrap().from_last_good);

    etcd.restart();
    etcd.client()
        .put("/lg/acme/p", &etcd_value(&answering("v2")));
    wait_served(&rt, "acme", "p", "v2");
    wait_until("the source is live again", || {
        watch.status().state == SourceState::Live
    });
    watch.stop();
}
