//! Test-only PKI, made at test time with `rcgen`: a CA, a server
//! certificate for `localhost` and `127.0.0.1` signed by it, a client
//! certificate signed by it (mutual TLS), and a second CA that signed
//! neither (the "wrong CA"). The PEM files are written to a fresh temp
//! directory, removed on drop.
//!
//! Self-contained: include with `#[path = "common/tls_pki.rs"] mod tls_pki;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The certificates and keys (PEM) and the files that hold them.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA that signed the server and client certificates.
    pub ca_pem: String,
    pub ca_path: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca_path: PathBuf,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_cert_path: PathBuf,
    pub client_key_path: PathBuf,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'static, KeyPair>,
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("signed leaf");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    /// Makes everything and writes the files under a new temp directory
    /// named after `name`.
    pub fn generate(name: &str) -> Pki {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "datapunk-log-tls-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create the PKI directory");

        let (ca_pem, issuer) = ca("datapunk-log test CA");
        let (other_ca_pem, _) = ca("datapunk-log unrelated CA");
        let (server_cert_pem, server_key_pem) = leaf(
            &["localhost", "127.0.0.1"],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuer,
        );
        let (client_cert_pem, client_key_pem) = leaf(
            &["datapunk-log-client"],
            "datapunk-log-client",
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        );

        let write = |file: &str, pem: &str| {
            let path = dir.join(file);
            std::fs::write(&path, pem).expect("write a PEM file");
            path
        };
        let ca_path = write("ca.pem", &ca_pem);
        let other_ca_path = write("other-ca.pem", &other_ca_pem);
        write("server.pem", &server_cert_pem);
        write("server.key", &server_key_pem);
        let client_cert_path = write("client.pem", &client_cert_pem);
        let client_key_path = write("client.key", &client_key_pem);
        Pki {
            dir,
            ca_pem,
            ca_path,
            other_ca_path,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_cert_path,
            client_key_path,
        }
    }

    /// A path in the PKI directory (for extra files a test writes).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Whether `p` is inside the PKI directory.
    pub fn owns(&self, p: &Path) -> bool {
        p.starts_with(&self.dir)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
