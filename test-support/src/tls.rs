//! Certificates generated at test time (rcgen): a CA, a server certificate
//! for `127.0.0.1` and `localhost`, and a client certificate, as PEM files
//! in a folder of the test's.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A CA and the certificates it signed, written as PEM files into a folder:
/// `ca.pem`, `server.pem` + `server.key` (for `127.0.0.1` and `localhost`),
/// `client.pem` + `client.key` (common name `bext-client`).
#[derive(Debug, Clone)]
pub struct TestCerts {
    dir: PathBuf,
}

fn certificate(
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'_, KeyPair>,
) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl TestCerts {
    /// A new CA (common name `label`) and its server and client
    /// certificates, written into `dir` (created if missing).
    pub fn generate(dir: &Path, label: &str) -> TestCerts {
        std::fs::create_dir_all(dir).unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, label);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let (server, server_key) = certificate(
            &["127.0.0.1", "localhost"],
            "bext-test-server",
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
        );
        let (client, client_key) = certificate(
            &["bext-client"],
            "bext-client",
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
        );
        for (name, pem) in [
            ("ca.pem", ca.pem()),
            ("server.pem", server),
            ("server.key", server_key),
            ("client.pem", client),
            ("client.key", client_key),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
        TestCerts { dir: dir.into() }
    }

    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one of the files (`ca.pem`, `server.pem`, `server.key`,
    /// `client.pem`, `client.key`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The contents of one of the files.
    pub fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}
