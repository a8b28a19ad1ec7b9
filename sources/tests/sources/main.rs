//! Integration tests of bext-plugin-sources, one binary: the reconciler,
//! each source against the real thing (a folder, an HTTP server on
//! 127.0.0.1, an etcd server on loopback ports), and a fleet of three
//! runtimes on one etcd; TLS and credentials to etcd and an HTTPS
//! endpoint.

mod common;
#[cfg(feature = "etcd")]
mod etcd;
#[cfg(feature = "etcd")]
mod fleet;
mod folder;
#[cfg(feature = "http")]
mod http;
mod reconciler;
#[cfg(all(feature = "etcd", feature = "http"))]
mod tls;
