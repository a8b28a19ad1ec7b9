//! JSON in and out of a plugin with the host memory it costs bounded by the
//! plugin's `max_payload_bytes`, checked *before* the memory is spent.
//!
//! * Arguments are serialized straight to text through a writer that stops
//!   at the limit: a 12 MiB mail attachment (a JSON array of numbers, about
//!   four text bytes per byte) fails after `max_payload_bytes` of text, not
//!   after building a `serde_json::Value` per byte (32 bytes each).
//! * Results are parsed into a `Value` tree only when its estimated size,
//!   [`VALUE_COST_BYTES`] per JSON value plus the text, stays within
//!   [`TREE_BUDGET_FACTOR`] times `max_payload_bytes`: a 16 MiB `[0,0,0,...]`
//!   would otherwise cost some 256 MiB.
//!
//! Either overflow is [`Error::PayloadTooLarge`]: for an argument `bytes` is
//! its text's size (counted after the refusal, without keeping it), for a
//! result the estimated size of its tree.

use crate::error::Error;
use crate::plugin::LuaPlugin;
use serde::Serialize;
use serde_json::Value;

/// Host bytes one parsed JSON value is counted for: `size_of::<Value>()`
/// plus its share of the container holding it.
pub(crate) const VALUE_COST_BYTES: usize = 48;

/// A parsed result may take this many times `max_payload_bytes` of host memory.
pub(crate) const TREE_BUDGET_FACTOR: usize = 4;

/// The capacity a JSON argument's text starts with.
const INITIAL_TEXT_BYTES: usize = 1024;

/// A `Vec` writer that refuses to grow past `limit` bytes.
struct Bounded {
    text: Vec<u8>,
    limit: usize,
}

/// The marker error of a [`Bounded`] writer at its limit.
#[derive(Debug)]
struct AtLimit;

impl std::fmt::Display for AtLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payload limit reached")
    }
}

impl std::error::Error for AtLimit {}

impl std::io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    // serde_json writes every token with `write_all`: the default's loop
    // over `write` cost a request context twice what `serde_json::to_string`
    // does (callgrind: 98 writes per 300 B context).
    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.text.len().saturating_add(bytes.len()) > self.limit {
            return Err(std::io::Error::other(AtLimit));
        }
        self.text.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that only counts: the exact size of a refused payload, for the
/// error, without holding it.
#[derive(Default)]
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many JSON values `text` holds, counted without parsing: every `[`
/// and `{` starts a value, every `,` and `:` outside strings one more, plus
/// the first. An upper bound for well-formed text (keys count as values).
fn value_count(text: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (1usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' | b',' | b':' => count += 1,
                _ => {}
            }
        }
    }
    count
}

impl LuaPlugin {
    /// `value` as JSON text of at most `max_payload_bytes`, or
    /// [`Error::PayloadTooLarge`] as soon as the text would be longer.
    pub(crate) fn json_text_bounded(
        &self,
        method: &str,
        value: &impl Serialize,
    ) -> Result<Vec<u8>, Error> {
        let limit = self.limits().max_payload_bytes;
        let mut writer = Bounded {
            // A request context's size: grown from empty, its text was
            // reallocated about seven times.
            text: Vec::with_capacity(INITIAL_TEXT_BYTES.min(limit)),
            limit,
        };
        match serde_json::to_writer(&mut writer, value) {
            Ok(()) => Ok(writer.text),
            Err(e) if e.is_io() => {
                drop(writer);
                // Counted, not kept: the error reports the payload's real size.
                let mut counter = Counter::default();
                let bytes = match serde_json::to_writer(&mut counter, value) {
                    Ok(()) => counter.0,
                    Err(_) => limit.saturating_add(1),
                };
                Err(Error::PayloadTooLarge {
                    plugin: self.name().into(),
                    method: method.into(),
                    bytes,
                    limit,
                })
            }
            Err(e) => Err(self.bad_input(method, e.to_string())),
        }
    }

    /// `text` parsed into a `Value`, refused with [`Error::PayloadTooLarge`]
    /// before parsing when the tree would outgrow its budget; malformed
    /// text is a [`Error::BadEnvelope`].
    pub(crate) fn parse_json_bounded(&self, method: &str, text: &[u8]) -> Result<Value, Error> {
        let limit = self.limits().max_payload_bytes;
        let budget = limit.saturating_mul(TREE_BUDGET_FACTOR);
        let estimate = |values: usize| {
            values
                .saturating_mul(VALUE_COST_BYTES)
                .saturating_add(text.len())
        };
        // A text holds at most one value per byte, plus one: within that
        // bound it is not scanned (every action and response change is).
        let estimate = match estimate(text.len().saturating_add(1)) {
            at_most if at_most <= budget => at_most,
            _ => estimate(value_count(text)),
        };
        if estimate > budget {
            return Err(Error::PayloadTooLarge {
                plugin: self.name().into(),
                method: method.into(),
                bytes: estimate,
                limit,
            });
        }
        serde_json::from_slice(text)
            .map_err(|e| self.bad_envelope(method, format!("invalid JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_outside_strings_only() {
        assert_eq!(value_count(b"0"), 1);
        assert_eq!(value_count(b"[0,0,0]"), 4);
        assert_eq!(value_count(br#"{"a":1,"b":[2]}"#), 6);
        assert_eq!(value_count(br#""[,:{\",""#), 1);
        assert!(value_count(&b"[0,".repeat(1000)) >= 2000);
        // The bound `parse_json_bounded` takes without scanning.
        for text in [&b"[[[[[[[[]]]]]]]]"[..], b"[0,0,0]", b"{}", b""] {
            assert!(value_count(text) <= text.len() + 1);
        }
    }
}
