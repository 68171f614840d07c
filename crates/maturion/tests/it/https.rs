//! `maturion serve` over HTTPS (spec §10.1): given a certificate and key it speaks TLS 1.3 and
//! nothing else on its port.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::RunningServer;
use crate::{maturion_command, stderr};

/// An authority and a server certificate for `localhost` and 127.0.0.1 it signed, written as
/// `ca.pem`, `server.pem` and `server.key` into `folder`.
fn certificates(folder: &Path) {
    let authority_key = KeyPair::generate().unwrap();
    let mut authority = CertificateParams::new(Vec::<String>::new()).unwrap();
    authority.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    authority
        .distinguished_name
        .push(DnType::CommonName, "Maturion test authority");
    let root = authority.self_signed(&authority_key).unwrap();
    let issuer = Issuer::new(authority, authority_key);
    let key = KeyPair::generate().unwrap();
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let mut server = CertificateParams::new(names).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let certificate = server.signed_by(&key, &issuer).unwrap();
    std::fs::write(folder.join("ca.pem"), root.pem()).unwrap();
    std::fs::write(folder.join("server.pem"), certificate.pem()).unwrap();
    std::fs::write(folder.join("server.key"), key.serialize_pem()).unwrap();
}

/// `GET /healthz` over TLS 1.3 with rustls, trusting only `ca.pem`: the status line and the
/// protocol negotiated.
async fn healthz_over_tls(folder: &Path, port: u16) -> (String, String) {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(folder.join("ca.pem")).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let version = format!("{:?}", tls.get_ref().1.protocol_version().unwrap());
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    (
        response.lines().next().unwrap_or_default().to_owned(),
        version,
    )
}

/// `openssl s_client` with `version` (`-tls1_2`, `-tls1_3`): whether the handshake succeeded,
/// and what it said.
fn openssl_connects(folder: &Path, port: u16, version: &str) -> (bool, String) {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            version,
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("-CAfile")
        .arg(folder.join("ca.pem"))
        .args(["-verify_return_error", "-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.success() && text.contains("Verify return code: 0 (ok)"),
        text,
    )
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_tls_1_3_only() {
    let folder = tempfile::tempdir().unwrap();
    certificates(folder.path());
    let db = maturion_testing::migrated_database().await;
    let certificate = folder.path().join("server.pem").display().to_string();
    let private_key = folder.path().join("server.key").display().to_string();
    let server = RunningServer::start_with(
        &db,
        &[
            ("MATURION_SERVER_TLS_CERTIFICATE", &certificate),
            ("MATURION_SERVER_TLS_PRIVATE_KEY", &private_key),
        ],
    );
    let port: u16 = server
        .url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("not an https URL: {}", server.url))
        .parse()
        .unwrap();

    let (status, version) = healthz_over_tls(folder.path(), port).await;
    assert_eq!(
        (status.as_str(), version.as_str()),
        ("HTTP/1.1 200 OK", "TLSv1_3")
    );
    let folder_path = folder.path().to_owned();
    let (tls13, tls12) = tokio::task::spawn_blocking(move || {
        (
            openssl_connects(&folder_path, port, "-tls1_3"),
            openssl_connects(&folder_path, port, "-tls1_2"),
        )
    })
    .await
    .unwrap();
    assert!(tls13.0, "openssl -tls1_3 connects: {}", tls13.1);
    assert!(!tls12.0, "openssl -tls1_2 is refused: {}", tls12.1);
    let plain = server
        .http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP is not served: {plain:?}");
    // The server still answers TLS after those refusals.
    let (status, _) = healthz_over_tls(folder.path(), port).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let stopped = server.terminate();
    assert!(stopped.status.success(), "{}", stderr(&stopped));
}

#[tokio::test]
async fn a_certificate_without_its_key_or_an_unreadable_one_stops_the_server() {
    let folder = tempfile::tempdir().unwrap();
    certificates(folder.path());
    let db = maturion_testing::migrated_database().await;
    let serve = |certificate: &Path, key: Option<&Path>| {
        let mut command = maturion_command(&["serve", "--listen", "127.0.0.1:0"]);
        command
            .env("DATABASE_URL", db.url("postgres"))
            .env("MATURION_DATABASE_APP_URL", db.url("maturion_app"))
            .env("MATURION_SERVER_TLS_CERTIFICATE", certificate);
        if let Some(key) = key {
            command.env("MATURION_SERVER_TLS_PRIVATE_KEY", key);
        }
        command.output().unwrap()
    };
    let alone = serve(&folder.path().join("server.pem"), None);
    assert!(!alone.status.success());
    assert!(
        stderr(&alone).contains("server.tls_private_key"),
        "{}",
        stderr(&alone)
    );
    // The authority's certificate with the server's key: they do not go together.
    let mismatched = serve(
        &folder.path().join("ca.pem"),
        Some(&folder.path().join("server.key")),
    );
    assert!(!mismatched.status.success());
    assert!(
        stderr(&mismatched).contains("does not go with"),
        "{}",
        stderr(&mismatched)
    );
    let missing = serve(
        &folder.path().join("nothing.pem"),
        Some(&folder.path().join("server.key")),
    );
    assert!(
        stderr(&missing).contains("not a readable regular file"),
        "{}",
        stderr(&missing)
    );
}
