//! HTTPS of `maturion serve`: the operator's certificate and key, TLS 1.3 only (spec §10.1).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::settings::ServerTls;

/// Why the server's certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ServerTlsError {
    pub path: String,
    pub reason: String,
}

impl ServerTls {
    /// The rustls configuration: TLS 1.3 only (ring), HTTP/1.1 by ALPN, no client
    /// certificates. The certificate file holds the chain, the server's own first.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, ServerTlsError> {
        let failed = |path: &Path, reason: String| ServerTlsError {
            path: path.display().to_string(),
            reason,
        };
        for path in [&self.certificate, &self.private_key] {
            // Reading a FIFO or a device would wait or read for ever.
            if !fs::metadata(path).is_ok_and(|meta| meta.is_file()) {
                return Err(failed(path, "not a readable regular file".to_owned()));
            }
        }
        let chain = CertificateDer::pem_file_iter(&self.certificate)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| failed(&self.certificate, error.to_string()))?;
        if chain.is_empty() {
            return Err(failed(&self.certificate, "holds no certificate".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.private_key)
            .map_err(|error| failed(&self.private_key, error.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| failed(&self.certificate, error.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| {
                failed(
                    &self.private_key,
                    format!("does not go with the certificate: {error}"),
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
