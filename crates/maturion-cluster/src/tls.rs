//! The server's TLS certificate and the client authentication rules over TCP.
//!
//! A cluster without a configured certificate makes its own at the first start that finds
//! none: a private certificate authority (`root.crt`, whose key is used once and never
//! written) and a server certificate it signs for `localhost`, `127.0.0.1` and `::1`. Clients
//! verify the server against `root.crt`. A configured certificate and key are copied into
//! the data folder at every start, so that the server's user owns them with the mode
//! PostgreSQL demands of a key.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{io, ClusterError};

pub(crate) const CERTIFICATE_FILE: &str = "server.crt";
pub(crate) const KEY_FILE: &str = "server.key";
/// The certificate authority clients trust; only a generated certificate has one here.
pub(crate) const ROOT_CERTIFICATE_FILE: &str = "root.crt";
pub(crate) const HBA_FILE: &str = "maturion_hba.conf";

/// Names the server certificate is valid for: the addresses the cluster listens on.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the server's certificate comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsCertificate {
    /// Made at the first start into the data folder, with a private authority.
    #[default]
    Generated,
    /// PEM files of the operator's own (the certificate may carry its chain).
    Configured {
        certificate: PathBuf,
        private_key: PathBuf,
    },
}

/// The rules of `pg_hba.conf`, rewritten at every start: the socket for local
/// administration (its folder's permissions are the access control), TCP only with TLS and
/// a SCRAM password; replication only through the socket.
pub(crate) const HBA_RULES: &str = "\
# Written by Maturion at every start: changes here are lost.
# TYPE     DATABASE     USER  ADDRESS  METHOD
local      all          all            trust
local      replication  all            trust
hostssl    all          all   all      scram-sha-256
hostnossl  all          all   all      reject
";

/// Puts the certificate and key in `data_dir` as [`CERTIFICATE_FILE`] and [`KEY_FILE`]:
/// copies configured ones at every start, generates them once otherwise. Returns the files
/// written, for the caller to give to the server's user.
pub(crate) fn install(
    data_dir: &Path,
    source: &TlsCertificate,
) -> Result<Vec<PathBuf>, ClusterError> {
    let certificate = data_dir.join(CERTIFICATE_FILE);
    let key = data_dir.join(KEY_FILE);
    match source {
        TlsCertificate::Configured {
            certificate: from_certificate,
            private_key: from_key,
        } => {
            let certificate_pem = read_pem(from_certificate)?;
            let key_pem = read_pem(from_key)?;
            write_private(&key, &key_pem)?;
            fs::write(&certificate, certificate_pem)
                .map_err(io(format!("write {}", certificate.display())))?;
            // A root of an earlier generated certificate would no longer match.
            remove_if_present(&data_dir.join(ROOT_CERTIFICATE_FILE))?;
            Ok(vec![certificate, key])
        }
        TlsCertificate::Generated if certificate.exists() && key.exists() => Ok(Vec::new()),
        TlsCertificate::Generated => {
            let generated = generate()?;
            let root = data_dir.join(ROOT_CERTIFICATE_FILE);
            write_private(&key, &generated.key_pem)?;
            fs::write(&certificate, &generated.certificate_pem)
                .map_err(io(format!("write {}", certificate.display())))?;
            fs::write(&root, &generated.root_pem)
                .map_err(io(format!("write {}", root.display())))?;
            Ok(vec![certificate, key, root])
        }
    }
}

struct Generated {
    root_pem: String,
    certificate_pem: String,
    key_pem: String,
}

fn generate() -> Result<Generated, ClusterError> {
    let failed = |source: rcgen::Error| ClusterError::Certificate(source.to_string());
    let authority_key = KeyPair::generate().map_err(failed)?;
    let mut authority = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    authority.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    authority
        .distinguished_name
        .push(DnType::CommonName, "Maturion embedded cluster authority");
    authority.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root = authority.self_signed(&authority_key).map_err(failed)?;
    let issuer = Issuer::new(authority, authority_key);

    let server_key = KeyPair::generate().map_err(failed)?;
    let names: Vec<String> = SERVER_NAMES.iter().map(|name| name.to_string()).collect();
    let mut server = CertificateParams::new(names).map_err(failed)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "Maturion embedded cluster");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let certificate = server.signed_by(&server_key, &issuer).map_err(failed)?;
    Ok(Generated {
        root_pem: root.pem(),
        certificate_pem: certificate.pem(),
        key_pem: server_key.serialize_pem(),
    })
}

fn read_pem(path: &Path) -> Result<Vec<u8>, ClusterError> {
    // Reading a FIFO or a device would wait or read for ever.
    if !fs::metadata(path).is_ok_and(|meta| meta.is_file()) {
        return Err(ClusterError::Certificate(format!(
            "{} is not a readable regular file",
            path.display()
        )));
    }
    let bytes = fs::read(path).map_err(io(format!("read {}", path.display())))?;
    if !bytes.starts_with(b"-----BEGIN ") {
        return Err(ClusterError::Certificate(format!(
            "{} is not a PEM file",
            path.display()
        )));
    }
    Ok(bytes)
}

/// PostgreSQL refuses a key file that others may read.
fn write_private(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), ClusterError> {
    remove_if_present(path)?;
    fs::write(path, "").map_err(io(format!("create {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(io(format!("restrict {}", path.display())))?;
    fs::write(path, contents).map_err(io(format!("write {}", path.display())))
}

fn remove_if_present(path: &Path) -> Result<(), ClusterError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io(format!("remove {}", path.display()))(error))
        }
        _ => Ok(()),
    }
}
