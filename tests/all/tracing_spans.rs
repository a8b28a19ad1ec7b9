//! Each plugin call is a `tracing` span (`lua_plugin_call`) with the plugin,
//! the method, how its sandbox was had, its fuel and its outcome, and the
//! script's own log events are emitted inside it.

use crate::common::{load, request};
use bext_plugin_lua_wasm::bext_plugin_api::MiddlewarePlugin;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One closed span: its name and fields, and the log messages emitted in it.
#[derive(Debug, Default, Clone)]
struct SeenSpan {
    name: String,
    fields: BTreeMap<String, String>,
    events: Vec<String>,
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SeenSpan>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut seen = SeenSpan {
            name: attrs.metadata().name().into(),
            ..SeenSpan::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        ctx.span(id).unwrap().extensions_mut().insert(seen);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut extensions = span.extensions_mut();
        let seen = extensions.get_mut::<SeenSpan>().unwrap();
        values.record(&mut Fields(&mut seen.fields));
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.event_span(event) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            if let Some(seen) = span.extensions_mut().get_mut::<SeenSpan>() {
                seen.events.extend(fields.remove("message"));
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        if let Some(seen) = span.extensions_mut().remove::<SeenSpan>() {
            self.0.lock().unwrap().push(seen);
        }
    }
}

/// The `lua_plugin_call` spans closed while `f` ran on this thread.
fn call_spans(f: impl FnOnce()) -> Vec<SeenSpan> {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, f);
    let seen = spans.0.lock().unwrap().clone();
    seen.into_iter()
        .filter(|s| s.name == "lua_plugin_call")
        .collect()
}

const SCRIPT: &str = r#"
    return {
      on_request = function(self, ctx_json)
        bext.log("info", "saw a request")
        if ctx_json:find('"path":"/boom"', 1, true) then error("boom") end
        return bext.middleware_continue()
      end,
    }"#;

#[test]
fn every_call_is_a_span_with_plugin_method_sandbox_fuel_and_outcome() {
    let plugin = load("traced", SCRIPT).unwrap();
    let spans = call_spans(|| {
        plugin.on_request(&mut request("GET", "/", &[])).unwrap();
        plugin
            .on_request(&mut request("GET", "/boom", &[]))
            .unwrap_err();
    });
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let (ok, failed) = (&spans[0], &spans[1]);
    for span in &spans {
        assert_eq!(span.fields["plugin"], "traced", "{span:?}");
        assert_eq!(span.fields["method"], "on_request", "{span:?}");
        assert_eq!(
            span.events,
            ["saw a request"],
            "the script's log is inside its call"
        );
    }
    // The load left one sandbox ready: the first call reuses it; the error
    // is a Lua error, which keeps the sandbox, so the second reuses it too.
    assert_eq!(ok.fields["sandbox"], "reused");
    assert_eq!(ok.fields["outcome"], "ok");
    assert!(ok.fields["fuel"].parse::<u64>().unwrap() > 0, "{ok:?}");
    assert_eq!(failed.fields["outcome"], "lua");
}

#[test]
fn a_call_that_builds_its_sandbox_says_so_and_async_calls_are_spans_too() {
    let plugin = load("traced-async", SCRIPT).unwrap();
    let spans = call_spans(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut ctx = request("GET", "/", &[]);
            plugin.try_on_request_async(&mut ctx).await.unwrap();
        });
    });
    assert_eq!(spans.len(), 1, "{spans:#?}");
    // The async API's sandboxes are its own, made by its first call: by
    // fork, the default cold start.
    assert_eq!(spans[0].fields["sandbox"], "forked", "{spans:?}");
    assert_eq!(spans[0].fields["outcome"], "ok");
    assert_eq!(spans[0].events, ["saw a request"]);
}
