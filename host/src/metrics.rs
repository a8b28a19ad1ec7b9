//! Where `bext.emit_metric(name, value, tags_json?)` goes.

/// Receives the metrics plugins emit. Plug in the server's metrics system
/// with [`LuaRuntimeConfig::metrics`](crate::LuaRuntimeConfig::metrics).
pub trait MetricsSink: Send + Sync {
    /// One `bext.emit_metric` call. `tags` keep the order of the script's JSON
    /// object; non-string JSON values arrive in their JSON text form.
    fn emit(&self, plugin: &str, name: &str, value: f64, tags: &[(String, String)]);
}

/// The default sink: one `tracing` event per metric, target `bext_lua::metric`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingMetrics;

impl MetricsSink for TracingMetrics {
    fn emit(&self, plugin: &str, name: &str, value: f64, tags: &[(String, String)]) {
        tracing::info!(target: "bext_lua::metric", plugin, metric = name, value, tags = ?tags, "metric");
    }
}
