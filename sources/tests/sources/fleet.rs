//! A fleet: three runtimes (three nodes' worth, as threads) watching one
//! etcd. Prints the convergence time of a change (put → all three serve
//! it); it is a measurement, not an assertion.

use crate::common::*;
use bext_plugin_sources::{EtcdSource, Reconciler, SourceError, SourceHandle, SourceState};
use std::time::{Duration, Instant};

struct Node {
    reconciler: Reconciler,
    watch: SourceHandle,
}

fn node(etcd: &EtcdServer) -> Node {
    let reconciler = reconciler();
    let source = EtcdSource::new(&[etcd.endpoint()], "/fleet/")
        .retry(Duration::from_millis(50))
        .connect_timeout(Duration::from_millis(500));
    let watch = reconciler.watch(source);
    Node { reconciler, watch }
}

fn all_serve(nodes: &[Node], body: &str) -> bool {
    nodes
        .iter()
        .all(|n| served(n.reconciler.runtime(), "acme", "p").as_deref() == Some(body))
}

/// Puts `body`'s plugin and returns how long until every node served it.
fn converge(client: &EtcdClient, nodes: &[Node], body: &str) -> Duration {
    let started = Instant::now();
    client.put("/fleet/acme/p", &etcd_value(&answering(body)));
    wait_until(&format!("every node serves {body}"), || {
        all_serve(nodes, body)
    });
    started.elapsed()
}

#[test]
fn three_nodes_converge_reject_together_and_survive_etcd_going_away() {
    let mut etcd = EtcdServer::start();
    let client = etcd.client();
    client.put("/fleet/acme/p", &etcd_value(&answering("v0")));
    let nodes: Vec<Node> = (0..3).map(|_| node(&etcd)).collect();
    wait_until("every node serves v0", || all_serve(&nodes, "v0"));

    // Convergence of a change, several rounds.
    let mut times: Vec<Duration> = (1..=9)
        .map(|i| converge(&client, &nodes, &format!("v{i}")))
        .collect();
    times.sort();
    println!(
        "fleet convergence (put -> 3 nodes serving, {} rounds): median {:.1} ms, max {:.1} ms",
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );

    // A broken version: rejected on every node, v9 keeps serving.
    client.put("/fleet/acme/p", &etcd_value(BROKEN));
    for n in &nodes {
        wait_until("the broken version is rejected", || {
            matches!(
                n.reconciler
                    .plugin_status("acme", "p")
                    .and_then(|s| s.last_error),
                Some(SourceError::Rejected { .. })
            )
        });
    }
    assert!(all_serve(&nodes, "v9"));

    // etcd goes away: every node keeps serving and says so.
    etcd.stop();
    for n in &nodes {
        wait_until("the node notices etcd is gone", || {
            matches!(n.watch.status().state, SourceState::Unreachable { .. })
        });
    }
    assert!(all_serve(&nodes, "v9"));

    // etcd comes back: every node picks up the next change.
    etcd.restart();
    let back = converge(&etcd.client(), &nodes, "after-outage");
    println!(
        "fleet: a change after etcd restarted reached all 3 nodes in {:.1} ms",
        back.as_secs_f64() * 1e3
    );
    for n in &nodes {
        wait_until("the node is live again", || {
            n.watch.status().state == SourceState::Live
        });
        // The runtime serves a version as soon as it is loaded; the
        // reconciler's status clears the broken version's error just
        // after (`Reconciler::apply`), so the status is awaited too.
        wait_until("the node's status forgets the broken version", || {
            n.reconciler
                .plugin_status("acme", "p")
                .is_some_and(|s| s.last_error.is_none())
        });
    }
}
