//! `TracerPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::JsonArg;
use super::log_swallowed;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::TracerPlugin;
use bext_plugin_api::tracer::{AttrValue, SpanEvent, SpanHandle, SpanKind, SpanStart, SpanStatus};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::{Deserialize, Serialize};

/// `SpanHandle` as the script sees it: lowercase hex,
/// `{"trace_id":"<32 hex>","span_id":"<16 hex>"}`.
#[derive(Serialize, Deserialize)]
struct SpanHandleJson {
    trace_id: String,
    span_id: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `2 * N` lowercase hex digits, the documented shape (a bare
/// `from_str_radix` would also take `+f` pairs and uppercase).
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn span_json(span: SpanHandle) -> SpanHandleJson {
    SpanHandleJson {
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
    }
}

/// `SpanStart` as the script sees it; `attributes` are `[key, value]` pairs.
#[derive(Serialize)]
struct SpanStartJson<'a> {
    name: &'a str,
    kind: SpanKind,
    parent: Option<SpanHandleJson>,
    attributes: &'a [(String, AttrValue)],
    start_time_unix_nanos: Option<u64>,
}

/// `SpanEvent` as the script sees it.
#[derive(Serialize)]
struct SpanEventJson<'a> {
    name: &'a str,
    attributes: &'a [(String, AttrValue)],
    time_unix_nanos: Option<u64>,
}

impl LuaPlugin {
    /// A tracer call whose trait method returns nothing: errors are logged.
    fn tracer_call(&self, method: &str, args: Result<Vec<JsonArg<'_>>, Error>) {
        if let Err(e) = args.and_then(|args| self.call_ext(Cap::Tracer, method, &args)) {
            log_swallowed(&e, "dropping the span update");
        }
    }
}

impl TracerPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The handle the script returns; on error (logged)
    /// `SpanHandle::INVALID`.
    fn start_span(&self, span: SpanStart<'_>) -> SpanHandle {
        const M: &str = "start_span";
        let start = SpanStartJson {
            name: span.name,
            kind: span.kind,
            parent: span.parent.map(span_json),
            attributes: &span.attributes,
            start_time_unix_nanos: span.start_time_unix_nanos,
        };
        let result =
            self.json_arg(M, &start).and_then(|arg| {
                let handle: SpanHandleJson =
                    self.call_json_required(Cap::Tracer, M, &[arg], "a span handle")?;
                match (unhex::<16>(&handle.trace_id), unhex::<8>(&handle.span_id)) {
                    (Some(trace_id), Some(span_id)) => Ok(SpanHandle { trace_id, span_id }),
                    _ => Err(self
                        .bad_envelope(M, "trace_id must be 32 and span_id 16 hex digits".into())),
                }
            });
        result.unwrap_or_else(|e| {
            log_swallowed(&e, "returning an invalid span");
            SpanHandle::INVALID
        })
    }

    fn set_attribute(&self, span: SpanHandle, key: &str, value: AttrValue) {
        const M: &str = "set_attribute";
        let args = (|| {
            Ok(vec![
                self.json_arg(M, &span_json(span))?,
                key.into(),
                self.json_arg(M, &value)?,
            ])
        })();
        self.tracer_call(M, args)
    }

    fn set_status(&self, span: SpanHandle, status: SpanStatus) {
        const M: &str = "set_status";
        let args = (|| {
            Ok(vec![
                self.json_arg(M, &span_json(span))?,
                self.json_arg(M, &status)?,
            ])
        })();
        self.tracer_call(M, args)
    }

    fn add_event(&self, span: SpanHandle, event: SpanEvent<'_>) {
        const M: &str = "add_event";
        let event = SpanEventJson {
            name: event.name,
            attributes: &event.attributes,
            time_unix_nanos: event.time_unix_nanos,
        };
        let args = (|| {
            Ok(vec![
                self.json_arg(M, &span_json(span))?,
                self.json_arg(M, &event)?,
            ])
        })();
        self.tracer_call(M, args)
    }

    fn end_span(&self, span: SpanHandle, end_time_unix_nanos: Option<u64>) {
        const M: &str = "end_span";
        let args = self
            .json_arg(M, &span_json(span))
            .map(|handle| vec![handle, end_time_unix_nanos.into()]);
        self.tracer_call(M, args)
    }

    fn flush(&self) -> Result<(), String> {
        self.ext_unit(Cap::Tracer, "flush", &[], false)
            .map_err(String::from)
    }
}
