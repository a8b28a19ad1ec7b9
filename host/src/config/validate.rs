//! Checks of the embedder's settings, so a value that cannot work or would
//! exhaust the host is an [`Error::InvalidConfig`] at build or load time,
//! never a runaway loop, a panic or a silent clamp later.
//!
//! | setting | accepted |
//! |---|---|
//! | `LuaRuntimeConfig::epoch_tick_ms` | at least 1 (with `epoch_deadlines`) |
//! | `LuaRuntimeConfig::max_wasm_stack_bytes` | 1 ..= [`MAX_WASM_STACK_BYTES`] |
//! | `PoolingLimits::max_instances` | 1 ..= `u32::MAX / 2` (two memories per instance) |
//! | `PoolingLimits::max_heap_bytes` | 1 ..= [`MAX_GUEST_MEMORY_BYTES`] |
//! | `LuaSandboxLimits::max_heap_bytes` | the guest's initial memory ..= [`MAX_GUEST_MEMORY_BYTES`] |
//! | `LuaSandboxLimits::timeout_ms` | at least 1 (with `epoch_deadlines`) |
//! | `LuaSandboxLimits::max_payload_bytes` | 1 ..= `u32::MAX` (the ABI's lengths are 32-bit) |
//! | `LuaSandboxLimits::quarantine_ms` | at least 1 when `quarantine_after_traps` is not 0 |
//! | `PoolConfig::max_size` | 1 ..= [`MAX_POOL_SANDBOXES`], and at most `PoolingLimits::max_instances` |
//! | `PoolConfig::size` | at most `max_size` |
//! | `LuaPluginConfig::new`'s name | not empty |

use crate::config::limits::LuaSandboxLimits;
use crate::config::pool::PoolConfig;
use crate::config::runtime::LuaRuntimeConfig;
use crate::error::Error;

/// Largest `max_wasm_stack_bytes`: the wasm stack lives on the native stack
/// of the thread that calls the plugin, and Rust's spawned threads and
/// tokio's workers have 2 MiB. A larger setting could overflow that stack,
/// which aborts the process instead of trapping.
pub const MAX_WASM_STACK_BYTES: usize = 1 << 20;

/// The most a 32-bit guest can address: 4 GiB.
pub const MAX_GUEST_MEMORY_BYTES: usize = 1 << 32;

/// Largest [`PoolConfig::max_size`]: more parallel calls of one plugin than
/// any server has threads. Each live sandbox costs tens of KiB of memory and
/// its heap's address-space reservation.
pub const MAX_POOL_SANDBOXES: usize = 4096;

/// Engine-wide settings, checked before the engine is built.
pub(crate) fn runtime_config(config: &LuaRuntimeConfig) -> Result<(), Error> {
    let invalid = |setting, reason: String| {
        Err(Error::InvalidConfig {
            plugin: None,
            setting,
            reason,
        })
    };
    if config.epoch_deadlines && config.epoch_tick_ms == 0 {
        return invalid(
            "LuaRuntimeConfig::epoch_tick_ms",
            "must be at least 1 ms (the deadline granularity)".into(),
        );
    }
    if !(1..=MAX_WASM_STACK_BYTES).contains(&config.max_wasm_stack_bytes) {
        return invalid(
            "LuaRuntimeConfig::max_wasm_stack_bytes",
            format!(
                "{} is outside 1..={MAX_WASM_STACK_BYTES}: the wasm stack lives on the calling thread's native stack",
                config.max_wasm_stack_bytes
            ),
        );
    }
    if let Some(pooling) = &config.pooling {
        if !(1..=u32::MAX / 2).contains(&pooling.max_instances) {
            return invalid(
                "PoolingLimits::max_instances",
                format!(
                    "{} is outside 1..={} (each instance takes two memory slots)",
                    pooling.max_instances,
                    u32::MAX / 2
                ),
            );
        }
        if !(1..=MAX_GUEST_MEMORY_BYTES).contains(&pooling.max_heap_bytes) {
            return invalid(
                "PoolingLimits::max_heap_bytes",
                format!(
                    "{} is outside 1..={MAX_GUEST_MEMORY_BYTES} (a 32-bit guest's memory)",
                    pooling.max_heap_bytes
                ),
            );
        }
    }
    Ok(())
}

/// One plugin's settings against the runtime's; `initial_memory_bytes` is
/// the guest's memory before any script runs.
pub(crate) fn plugin_config(
    runtime: &LuaRuntimeConfig,
    initial_memory_bytes: usize,
    name: &str,
    limits: &LuaSandboxLimits,
    pool: &PoolConfig,
) -> Result<(), Error> {
    let invalid = |setting, reason: String| {
        Err(Error::InvalidConfig {
            plugin: Some(name.into()),
            setting,
            reason,
        })
    };
    if name.is_empty() {
        return invalid(
            "LuaPluginConfig name",
            "must not be empty: errors, logs and metrics name the plugin".into(),
        );
    }
    if !(initial_memory_bytes..=MAX_GUEST_MEMORY_BYTES).contains(&limits.max_heap_bytes) {
        return invalid(
            "LuaSandboxLimits::max_heap_bytes",
            format!(
                "{} is outside {initial_memory_bytes}..={MAX_GUEST_MEMORY_BYTES} (the guest's initial memory ..= \
                 what a 32-bit guest addresses)",
                limits.max_heap_bytes
            ),
        );
    }
    if runtime.epoch_deadlines && limits.timeout_ms == 0 {
        return invalid(
            "LuaSandboxLimits::timeout_ms",
            "must be at least 1 ms: 0 would stop every call at once".into(),
        );
    }
    if !(1..=u32::MAX as usize).contains(&limits.max_payload_bytes) {
        return invalid(
            "LuaSandboxLimits::max_payload_bytes",
            format!(
                "{} is outside 1..={} (the ABI's lengths are 32-bit)",
                limits.max_payload_bytes,
                u32::MAX
            ),
        );
    }
    if limits.quarantine_after_traps > 0 && limits.quarantine_ms == 0 {
        return invalid(
            "LuaSandboxLimits::quarantine_ms",
            "must be at least 1 ms when quarantine_after_traps is set (set quarantine_after_traps to 0 to disable quarantine)"
                .into(),
        );
    }
    let slots = runtime.pooling.map_or(MAX_POOL_SANDBOXES, |p| {
        (p.max_instances as usize).min(MAX_POOL_SANDBOXES)
    });
    if !(1..=slots).contains(&pool.max_size) {
        return invalid(
            "PoolConfig::max_size",
            format!(
                "{} is outside 1..={slots} (at most {MAX_POOL_SANDBOXES}, and at most the pooling allocator's \
                 max_instances)",
                pool.max_size
            ),
        );
    }
    if pool.size > pool.max_size {
        return invalid(
            "PoolConfig::size",
            format!(
                "{} sandboxes ready exceeds max_size {}",
                pool.size, pool.max_size
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::runtime::PoolingLimits;

    fn plugin(
        runtime: &LuaRuntimeConfig,
        limits: LuaSandboxLimits,
        pool: PoolConfig,
    ) -> Option<&'static str> {
        match plugin_config(runtime, 1 << 20, "p", &limits, &pool) {
            Ok(()) => None,
            Err(Error::InvalidConfig {
                setting, plugin, ..
            }) => {
                assert_eq!(plugin.as_deref(), Some("p"));
                Some(setting)
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        let rt = LuaRuntimeConfig::default();
        runtime_config(&rt).unwrap();
        runtime_config(&rt.clone().pooling(PoolingLimits::default())).unwrap();
        assert_eq!(
            plugin(&rt, LuaSandboxLimits::default(), PoolConfig::default()),
            None
        );
    }

    #[test]
    fn every_runtime_setting_that_cannot_work_is_named() {
        let setting = |config: LuaRuntimeConfig| match runtime_config(&config) {
            Err(Error::InvalidConfig {
                plugin: None,
                setting,
                ..
            }) => setting,
            other => panic!("{other:?}"),
        };
        let c = LuaRuntimeConfig {
            epoch_tick_ms: 0,
            ..LuaRuntimeConfig::default()
        };
        assert_eq!(setting(c.clone()), "LuaRuntimeConfig::epoch_tick_ms");
        runtime_config(&c.epoch_deadlines(false)).expect("no ticker, no tick");
        for stack in [0, MAX_WASM_STACK_BYTES + 1, usize::MAX] {
            let c = LuaRuntimeConfig {
                max_wasm_stack_bytes: stack,
                ..LuaRuntimeConfig::default()
            };
            assert_eq!(setting(c), "LuaRuntimeConfig::max_wasm_stack_bytes");
        }
        for n in [0, u32::MAX / 2 + 1, u32::MAX] {
            let c = LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_instances(n));
            assert_eq!(setting(c), "PoolingLimits::max_instances");
        }
        for bytes in [0, MAX_GUEST_MEMORY_BYTES + 1, usize::MAX] {
            let c =
                LuaRuntimeConfig::default().pooling(PoolingLimits::default().max_heap_bytes(bytes));
            assert_eq!(setting(c), "PoolingLimits::max_heap_bytes");
        }
    }

    #[test]
    fn every_plugin_setting_that_cannot_work_is_named() {
        let rt = LuaRuntimeConfig::default();
        let limits = LuaSandboxLimits::default;
        for heap in [0, (1 << 20) - 1, MAX_GUEST_MEMORY_BYTES + 1, usize::MAX] {
            assert_eq!(
                plugin(&rt, limits().max_heap_bytes(heap), PoolConfig::default()),
                Some("LuaSandboxLimits::max_heap_bytes")
            );
        }
        assert_eq!(
            plugin(&rt, limits().timeout_ms(0), PoolConfig::default()),
            Some("LuaSandboxLimits::timeout_ms")
        );
        assert_eq!(
            plugin(
                &rt.clone().epoch_deadlines(false),
                limits().timeout_ms(0),
                PoolConfig::default()
            ),
            None
        );
        for bytes in [0, u32::MAX as usize + 1, usize::MAX] {
            assert_eq!(
                plugin(
                    &rt,
                    limits().max_payload_bytes(bytes),
                    PoolConfig::default()
                ),
                Some("LuaSandboxLimits::max_payload_bytes")
            );
        }
        assert_eq!(
            plugin(&rt, limits().quarantine_ms(0), PoolConfig::default()),
            Some("LuaSandboxLimits::quarantine_ms")
        );
        assert_eq!(
            plugin(
                &rt,
                limits().quarantine_ms(0).quarantine_after_traps(0),
                PoolConfig::default()
            ),
            None
        );
        // `size` raises `max_size` with it: the reported case, usize::MAX.
        for size in [MAX_POOL_SANDBOXES + 1, usize::MAX] {
            assert_eq!(
                plugin(&rt, limits(), PoolConfig::default().size(size)),
                Some("PoolConfig::max_size")
            );
        }
        let zero = PoolConfig {
            max_size: 0,
            size: 0,
            ..PoolConfig::default()
        };
        assert_eq!(plugin(&rt, limits(), zero), Some("PoolConfig::max_size"));
        let mut inverted = PoolConfig::default().max_size(2);
        inverted.size = 3;
        assert_eq!(plugin(&rt, limits(), inverted), Some("PoolConfig::size"));
        // With pooling, a pool cannot outgrow the slots.
        let pooled = rt
            .clone()
            .pooling(PoolingLimits::default().max_instances(8));
        assert_eq!(
            plugin(&pooled, limits(), PoolConfig::default().max_size(8)),
            None
        );
        assert_eq!(
            plugin(&pooled, limits(), PoolConfig::default().max_size(9)),
            Some("PoolConfig::max_size")
        );
        assert!(matches!(
            plugin_config(&rt, 1 << 20, "", &limits(), &PoolConfig::default()),
            Err(Error::InvalidConfig {
                setting: "LuaPluginConfig name",
                ..
            })
        ));
    }
}
