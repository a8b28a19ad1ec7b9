//! Test fixtures of the bext-plugin-lua-wasm workspace: real servers
//! started for a test and stopped on drop.
//!
//! * [`redis_server`]: Debian's `redis-server` on a free loopback port (the
//!   tests and the benchmark report of `bext.shared`'s Redis backend).
//! * `etcd_server` (the `etcd` feature): Debian's `etcd` on loopback ports,
//!   and a blocking client (the tests of bext-plugin-sources and of the
//!   gateway).
//!
//! `scripts/bootstrap` installs both servers.
#![warn(missing_docs)]

#[cfg(feature = "etcd")]
pub mod etcd_server;
pub mod redis_server;
