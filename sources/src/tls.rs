//! [`StoreTls`]: how a source verifies a store it reaches over TLS, and the
//! client certificate it shows.

use crate::error::SourceError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// The TLS settings of a source's connections to its store: an etcd
/// cluster's `https://` endpoints ([`EtcdSource::tls`](crate::EtcdSource::tls))
/// or an `https://` dynacode endpoint
/// ([`DynacodeSource::tls`](crate::DynacodeSource::tls)). rustls with the
/// `ring` provider does the TLS (no OpenSSL).
///
/// Defaults ([`StoreTls::new`]): the server's certificate is verified
/// against the system's trust store (`rustls-native-certs`), for the host
/// name or IP address of the URL; no client certificate. With
/// [`ca_pem`](Self::ca_pem) only the given CA certificates are trusted (a
/// private CA, as etcd clusters usually have). Verification cannot be
/// turned off.
///
/// A URL's scheme decides whether a connection is encrypted, never the
/// server: an `https://` URL whose server does not complete a verified TLS
/// handshake (a wrong CA, a name mismatch, a plain-text server) is
/// [`SourceError::Unreachable`] with the cause, retried like any outage,
/// and never read in clear text. TLS settings given for an `http://` URL
/// are an error too, not ignored.
#[derive(Clone, Default)]
pub struct StoreTls {
    ca_pem: Option<Vec<u8>>,
    identity: Option<ClientIdentity>,
}

#[derive(Clone)]
struct ClientIdentity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl std::fmt::Debug for StoreTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("StoreTls")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.identity.is_some())
            .finish()
    }
}

fn tls_error(message: String) -> SourceError {
    SourceError::Tls { message }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, SourceError> {
    std::fs::read(path).map_err(|e| tls_error(format!("{what} {}: {e}", path.display())))
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, SourceError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(format!("{what}: not PEM certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(tls_error(format!(
            "{what}: no `BEGIN CERTIFICATE` block in the PEM"
        )));
    }
    Ok(certificates)
}

impl StoreTls {
    /// The defaults: the system's trust store, no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts these CA certificates (PEM, one or more), and only them, to
    /// sign the store's certificate. Default: the system's trust store.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Result<Self, SourceError> {
        let pem = pem.into();
        certificates(&pem, "the CA")?;
        self.ca_pem = Some(pem);
        Ok(self)
    }

    /// [`ca_pem`](Self::ca_pem) from a file.
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self, SourceError> {
        let path = path.as_ref();
        let pem = read(path, "the CA file")?;
        self.ca_pem(pem)
            .map_err(|e| tls_error(format!("{}: {e}", path.display())))
    }

    /// Shows this client certificate (PEM, the leaf first, then any
    /// intermediates) and proves it with its private key (PEM: PKCS#8,
    /// PKCS#1 or SEC1), for stores that require client certificates
    /// (etcd's `--client-cert-auth`). Default: none.
    pub fn client_identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Result<Self, SourceError> {
        let (cert_pem, key_pem) = (cert_pem.into(), key_pem.into());
        certificates(&cert_pem, "the client certificate")?;
        PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| tls_error(format!("the client key: not a PEM private key: {e}")))?;
        self.identity = Some(ClientIdentity { cert_pem, key_pem });
        Ok(self)
    }

    /// [`client_identity_pem`](Self::client_identity_pem) from files.
    pub fn client_identity_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, SourceError> {
        let cert = read(cert.as_ref(), "the client certificate file")?;
        let key = read(key.as_ref(), "the client key file")?;
        self.client_identity_pem(cert, key)
    }

    /// tonic's settings for etcd-client.
    #[cfg(feature = "etcd")]
    pub(crate) fn etcd(&self) -> etcd_client::TlsOptions {
        // etcd's gRPC port may not announce HTTP/2 by ALPN; it speaks
        // nothing else.
        let mut tls = etcd_client::TlsOptions::new().assume_http2(true);
        tls = match &self.ca_pem {
            Some(ca) => tls.ca_certificate(etcd_client::Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let Some(identity) = &self.identity {
            tls = tls.identity(etcd_client::Identity::from_pem(
                &identity.cert_pem,
                &identity.key_pem,
            ));
        }
        tls
    }

    /// A rustls client configuration (the `ring` provider, rustls's safe
    /// default protocol versions).
    #[cfg(feature = "http")]
    pub(crate) fn rustls(&self) -> Result<rustls::ClientConfig, SourceError> {
        use std::sync::Arc;
        // rustls 0.23.48 deprecates its ring provider (no post-quantum key
        // exchange); ring is what builds with a C compiler alone (aws-lc-sys
        // needs cmake), and what tonic's and redis's TLS use here.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_pem {
            Some(ca) => {
                for certificate in certificates(ca, "the CA")? {
                    roots
                        .add(certificate)
                        .map_err(|e| tls_error(format!("the CA: {e}")))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return Err(tls_error(format!(
                        "no CA given and the system's trust store is empty or unreadable{}",
                        native
                            .errors
                            .first()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )));
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some(identity) => {
                let chain = certificates(&identity.cert_pem, "the client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(&identity.key_pem).map_err(|e| {
                    tls_error(format!("the client key: not a PEM private key: {e}"))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls_error(format!("the client certificate and key: {e}")))
            }
        }
    }
}
