//! Settings: what users hand the runtime, checked before anything runs.
//!
//! * [`runtime`]: engine-wide settings ([`LuaRuntimeConfig`], [`PoolingLimits`]);
//! * [`plugin`]: one plugin's description ([`LuaPluginConfig`], [`ColdStart`],
//!   [`SharedBackend`]);
//! * [`limits`]: one plugin's sandbox budgets ([`LuaSandboxLimits`]);
//! * [`pool`]: one plugin's pool of sandboxes ([`PoolConfig`]);
//! * [`validate`]: the accepted range of every setting.
//!
//! Nothing here depends on how the settings are used: the layers above
//! (engine, sandbox, plugin) read them.

pub(crate) mod limits;
pub(crate) mod plugin;
pub(crate) mod pool;
pub(crate) mod runtime;
pub(crate) mod validate;

pub use limits::{BEXT_TICKS_PER_CALL, FUEL_PER_KILO_INSTRUCTIONS, LuaSandboxLimits};
pub use plugin::{ColdStart, LuaPluginConfig, SharedBackend};
pub use pool::PoolConfig;
pub use runtime::{LuaRuntimeConfig, PoolingLimits};
pub use validate::{MAX_GUEST_MEMORY_BYTES, MAX_POOL_SANDBOXES, MAX_WASM_STACK_BYTES};
