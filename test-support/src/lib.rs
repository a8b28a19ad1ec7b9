//! Test fixtures of the bext-plugin-lua-wasm workspace: real servers
//! started for a test and stopped on drop.
//!
//! * [`redis_server`]: Debian's `redis-server` on a free loopback port (the
//!   tests and the benchmark report of `bext.shared`'s Redis backend).
//! * `etcd_server` (the `etcd` feature): Debian's `etcd` on loopback ports,
//!   and a blocking client (the tests of bext-plugin-sources and of the
//!   gateway).
//! * `tls` (the `tls` feature): certificates generated at test time, and
//!   the TLS and password options of both servers.
//!
//! `scripts/bootstrap` installs both servers.
#![warn(missing_docs)]

#[cfg(feature = "etcd")]
pub mod etcd_server;
pub mod redis_server;
#[cfg(feature = "tls")]
pub mod tls;
