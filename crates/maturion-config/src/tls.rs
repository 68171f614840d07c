//! TLS of connections to PostgreSQL, as the URL asks for it.
//!
//! tokio-postgres knows `sslmode=disable|prefer|require` and nothing of certificates: the
//! checking is whatever the TLS connector does. So the URL's `sslmode` and `sslrootcert` are
//! read here: `require`, `verify-ca` and `verify-full` all mean TLS 1.3 (rustls) with the
//! server's certificate checked against the authority in `sslrootcert` and against the host
//! name. A connection that asks for TLS is never made without that check, so those modes
//! need `sslrootcert`. Without them (or with `disable`/`prefer`), connections are made
//! without TLS: the Unix socket of the embedded cluster, or a server that does not ask.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What protects a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientTls {
    /// No TLS (the URL asks for none, or only `prefer`s it).
    #[default]
    Off,
    /// TLS 1.3, the server's certificate verified against this authority (PEM) and the
    /// host name.
    Verified { root_certificate: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "sslmode={mode} asks for TLS, and Maturion checks the server's certificate: add \
         sslrootcert=PATH (the PEM file of the authority that signed it)"
    )]
    NoRootCertificate { mode: String },
    #[error("sslmode={0} is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    UnknownMode(String),
    #[error("sslrootcert={path}: {reason}")]
    RootCertificate { path: PathBuf, reason: String },
}

/// The URL's TLS options, before tokio-postgres sees them.
#[derive(Debug, Default)]
pub(crate) struct TlsRequest {
    pub mode: Option<String>,
    pub root_certificate: Option<PathBuf>,
}

impl TlsRequest {
    pub fn resolve(self) -> Result<ClientTls, TlsError> {
        let Some(mode) = self.mode else {
            return Ok(ClientTls::Off);
        };
        match mode.as_str() {
            "disable" | "allow" | "prefer" => Ok(ClientTls::Off),
            "require" | "verify-ca" | "verify-full" => match self.root_certificate {
                Some(root_certificate) => Ok(ClientTls::Verified { root_certificate }),
                None => Err(TlsError::NoRootCertificate { mode }),
            },
            _ => Err(TlsError::UnknownMode(mode)),
        }
    }
}

impl ClientTls {
    /// The rustls connector: TLS 1.3 only, trusting only the configured authority.
    pub fn connector(root_certificate: &Path) -> Result<MakeRustlsConnect, TlsError> {
        let failed = |reason: String| TlsError::RootCertificate {
            path: root_certificate.to_owned(),
            reason,
        };
        // Reading a FIFO or a device would wait or read for ever.
        if !fs::metadata(root_certificate).is_ok_and(|meta| meta.is_file()) {
            return Err(failed("not a readable regular file".to_owned()));
        }
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(root_certificate)
            .map_err(|error| failed(error.to_string()))?
        {
            let certificate = certificate.map_err(|error| failed(error.to_string()))?;
            roots
                .add(certificate)
                .map_err(|error| failed(error.to_string()))?;
        }
        if roots.is_empty() {
            return Err(failed("holds no certificate".to_owned()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| failed(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}
