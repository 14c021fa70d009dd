//! The demo target's optional TLS listener: a second port serving the same routes over TLS
//! (rustls), for `https://` load tests and HTTP/2 negotiated the way browsers, `h2load` and
//! gRPC clients over TLS do it (ALPN).
//!
//! The server offers ALPN `h2` and `http/1.1`: a client that picks `h2` is served by the HTTP/2
//! server (gRPC included), every other client (`http/1.1` or no ALPN at all) by the HTTP/1.1
//! server, WebSocket upgrades and the socket-level test helpers included (they write through
//! TLS; a reset still resets the TCP connection underneath).
//!
//! The certificate is either generated at start (self-signed, valid for `localhost`,
//! `127.0.0.1` and `::1`; clients must skip verification or trust [`crate::DemoServer::tls_cert_pem`])
//! or read from a PEM certificate chain and a PEM private key given by the user.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// ALPN protocols offered, in the server's order of preference.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Names the generated certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the TLS listener's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsCert {
    /// Generated at start: self-signed, for `localhost`, `127.0.0.1` and `::1`.
    SelfSigned,
    /// A PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key of the chain's first certificate.
        key: PathBuf,
    },
}

/// The optional TLS listener of [`crate::DemoConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Address of the TLS listener (port 0 for any free one).
    pub addr: SocketAddr,
    /// Its certificate.
    pub cert: TlsCert,
}

/// A ready TLS server configuration and the certificate chain it presents, as PEM.
pub(crate) struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) cert_pem: String,
}

/// Builds the acceptor for `cert`; errors say which file or step failed and what to give instead.
pub(crate) fn setup(cert: &TlsCert) -> io::Result<TlsSetup> {
    let (chain, key, cert_pem) = match cert {
        TlsCert::SelfSigned => {
            let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|n| n.to_string()).collect();
            let generated = rcgen::generate_simple_self_signed(names).map_err(|e| {
                io::Error::other(format!(
                    "demo target: cannot generate a self-signed certificate: {e} (give one with --tls-cert and --tls-key)"
                ))
            })?;
            let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
            let pem = generated.cert.pem();
            (vec![generated.cert.der().clone()], key, pem)
        }
        TlsCert::Files { cert, key } => {
            let pem =
                std::fs::read_to_string(cert).map_err(|e| file_error(cert, "certificate", &e))?;
            let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error(cert, "certificate", &e))?;
            if chain.is_empty() {
                return Err(invalid(format!(
                    "demo target: {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
                    cert.display()
                )));
            }
            let key_pem = std::fs::read(key).map_err(|e| file_error(key, "private key", &e))?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| pem_error(key, "private key", &e))?;
            (chain, key_der, pem)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("demo target: TLS setup failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            invalid(format!(
                "demo target: the TLS certificate and key do not fit together: {e} (the key must belong to the chain's first certificate)"
            ))
        })?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem,
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn file_error(path: &Path, what: &str, err: &io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        format!(
            "demo target: cannot read the TLS {what} {}: {err}",
            path.display()
        ),
    )
}

fn pem_error(path: &Path, what: &str, err: &rustls_pki_types::pem::Error) -> io::Error {
    invalid(format!(
        "demo target: {} is no PEM {what}: {err} (give PEM files, e.g. from `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem`)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_offers_h2_then_http1() {
        let setup = setup(&TlsCert::SelfSigned).expect("self-signed setup");
        assert!(setup.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            setup.acceptor.config().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn pem_files_are_read_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("locusta-demo-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        let files = TlsCert::Files {
            cert: cert.clone(),
            key: key.clone(),
        };
        let setup = setup(&files).expect("PEM files");
        assert_eq!(setup.cert_pem, generated.cert.pem());

        let missing = TlsCert::Files {
            cert: dir.join("missing.pem"),
            key: key.clone(),
        };
        let err = super::setup(&missing).err().expect("missing file");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("missing.pem"), "{err}");

        // the key file given as certificate: no certificate in it
        let swapped = TlsCert::Files {
            cert: key.clone(),
            key: cert.clone(),
        };
        let err = super::setup(&swapped).err().expect("swapped files");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("key.pem"), "{err}");

        // a key of another certificate
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
        let err = super::setup(&files).err().expect("mismatched key");
        assert!(err.to_string().contains("do not fit together"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
