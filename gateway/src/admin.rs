//! The admin endpoint: plugin status and per-plugin stats in Prometheus
//! text format (version 0.0.4).
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `bext_plugin_up` | gauge | tenant, plugin, version, tier | 1 while a version serves, 0 when none does; `version` is the first 12 hex digits of its content hash |
//! | `bext_plugin_load_failing` | gauge | tenant, plugin | 1 when the source's latest version was rejected (the previous one keeps serving) |
//! | `bext_plugin_reloads_total` | counter | tenant, plugin, result (`ok`, `rejected`) | versions loaded / rejected |
//! | `bext_plugin_calls_total` | counter | tenant, plugin | calls into the sandbox (sandboxed tier) |
//! | `bext_plugin_errors_total` | counter | tenant, plugin | calls that failed |
//! | `bext_plugin_traps_total` | counter | tenant, plugin | calls that trapped (fuel, deadline, memory, ...) |
//! | `bext_plugin_fuel_consumed_total` | counter | tenant, plugin | wasm fuel used |
//! | `bext_plugin_quarantined_calls_total` | counter | tenant, plugin | calls refused while quarantined |
//! | `bext_plugin_instances_created_total` | counter | tenant, plugin | sandboxes created |
//! | `bext_gateway_responses_total` | counter | tenant, class (`2xx`, ...) | responses sent |
//! | `bext_plugin_source_up` | gauge | source | 1 while the plugin store answers, 0 while it is unreachable (its plugins keep serving) |
//! | `bext_sandbox_template_arena_bytes` | gauge | | bytes of fork templates the process holds (every loaded version's, once) |
//!
//! The counters are those of the serving version: a reload starts them
//! again from zero, as a restarted process would.

use crate::state::{Gateway, PluginStatus};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The admin endpoint's `/metrics` body for `gateway`.
pub fn render_metrics(gateway: &Gateway) -> String {
    let mut out = String::new();
    let status = gateway.plugin_status();
    render_plugins(&mut out, &status, gateway.tier().label());
    header(
        &mut out,
        "bext_gateway_responses_total",
        "counter",
        "Responses sent, by tenant and status class.",
    );
    for tenant in gateway.tenants() {
        for (i, count) in tenant.responses().iter().enumerate() {
            let class = format!("{}xx", i + 1);
            sample(
                &mut out,
                "bext_gateway_responses_total",
                &[("tenant", tenant.id()), ("class", &class)],
                *count,
            );
        }
    }
    header(
        &mut out,
        "bext_plugin_source_up",
        "gauge",
        "1 while the plugin store answers; its plugins keep serving while it does not.",
    );
    for source in gateway.reconciler().source_statuses() {
        let up = matches!(source.state, bext_plugin_sources::SourceState::Live);
        sample(
            &mut out,
            "bext_plugin_source_up",
            &[("source", &source.source)],
            u64::from(up),
        );
    }
    header(
        &mut out,
        "bext_sandbox_template_arena_bytes",
        "gauge",
        "Bytes of fork templates the process holds (each loaded version's, once).",
    );
    sample(
        &mut out,
        "bext_sandbox_template_arena_bytes",
        &[],
        bext_plugin_lua_wasm::fork_template_arena_bytes(),
    );
    out
}

/// The `bext_plugin_*` families for the plugins in `status`.
pub fn render_plugins(out: &mut String, status: &BTreeMap<String, PluginStatus>, tier: &str) {
    header(
        out,
        "bext_plugin_up",
        "gauge",
        "1 while a version of the plugin serves.",
    );
    for (name, s) in status {
        let version = s.serving.as_ref().map_or("", |p| p.version());
        let labels = [
            ("tenant", s.tenant.as_str()),
            ("plugin", name.as_str()),
            ("version", version),
            ("tier", tier),
        ];
        sample(
            out,
            "bext_plugin_up",
            &labels,
            u64::from(s.serving.is_some()),
        );
    }
    header(
        out,
        "bext_plugin_load_failing",
        "gauge",
        "1 when the latest version was rejected; the previous one keeps serving.",
    );
    for (name, s) in status {
        sample(
            out,
            "bext_plugin_load_failing",
            &plugin_labels(name, s),
            u64::from(s.failing.is_some()),
        );
    }
    header(
        out,
        "bext_plugin_reloads_total",
        "counter",
        "Versions loaded (ok) and rejected.",
    );
    for (name, s) in status {
        for (result, count) in [("ok", s.reloads_ok), ("rejected", s.reloads_rejected)] {
            let labels = [
                ("tenant", s.tenant.as_str()),
                ("plugin", name.as_str()),
                ("result", result),
            ];
            sample(out, "bext_plugin_reloads_total", &labels, count);
        }
    }
    type Field = fn(&bext_plugin_lua_wasm::PluginStats) -> u64;
    let families: [(&str, &str, Field); 6] = [
        (
            "bext_plugin_calls_total",
            "Calls into the plugin's sandbox.",
            |s| s.calls,
        ),
        ("bext_plugin_errors_total", "Calls that failed.", |s| {
            s.errors
        }),
        (
            "bext_plugin_traps_total",
            "Calls that trapped (fuel, deadline, memory, stack).",
            |s| s.traps,
        ),
        (
            "bext_plugin_fuel_consumed_total",
            "Wasm fuel consumed.",
            |s| s.fuel_consumed,
        ),
        (
            "bext_plugin_quarantined_calls_total",
            "Calls refused while the plugin was quarantined.",
            |s| s.quarantined,
        ),
        (
            "bext_plugin_instances_created_total",
            "Sandboxes created.",
            |s| s.instances_created,
        ),
    ];
    for (family, help, field) in families {
        header(out, family, "counter", help);
        for (name, s) in status {
            if let Some(stats) = s.serving.as_ref().and_then(|p| p.stats()) {
                sample(out, family, &plugin_labels(name, s), field(&stats));
            }
        }
    }
}

fn plugin_labels<'a>(name: &'a str, status: &'a PluginStatus) -> [(&'a str, &'a str); 2] {
    [("tenant", status.tenant.as_str()), ("plugin", name)]
}

fn header(out: &mut String, family: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
}

fn sample(out: &mut String, family: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(family);
    for (i, (key, value)) in labels.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        let _ = write!(out, "{key}=\"{}\"", escape_label(value));
    }
    if !labels.is_empty() {
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape `\`, `"` and newlines (the text format's rule).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_label_values() {
        let mut out = String::new();
        sample(&mut out, "m", &[("a", "x\"y\\z\nw"), ("b", "plain")], 7);
        assert_eq!(out, "m{a=\"x\\\"y\\\\z\\nw\",b=\"plain\"} 7\n");
    }

    #[test]
    fn a_rejected_plugin_without_a_serving_version_is_down_and_failing() {
        let mut status = BTreeMap::new();
        status.insert(
            "t/p".to_string(),
            PluginStatus {
                tenant: "t".into(),
                serving: None,
                failing: Some("t/p:1: syntax".into()),
                reloads_ok: 0,
                reloads_rejected: 2,
            },
        );
        let mut out = String::new();
        render_plugins(&mut out, &status, "wasm");
        assert!(
            out.contains(
                "bext_plugin_up{tenant=\"t\",plugin=\"t/p\",version=\"\",tier=\"wasm\"} 0\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("bext_plugin_load_failing{tenant=\"t\",plugin=\"t/p\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "bext_plugin_reloads_total{tenant=\"t\",plugin=\"t/p\",result=\"rejected\"} 2\n"
            ),
            "{out}"
        );
        assert!(
            !out.contains("bext_plugin_calls_total{"),
            "no stats without a serving version: {out}"
        );
        // Every family is declared once, with HELP and TYPE.
        assert_eq!(
            out.matches("# TYPE bext_plugin_calls_total counter")
                .count(),
            1
        );
    }
}
