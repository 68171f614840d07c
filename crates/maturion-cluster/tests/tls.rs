//! TLS 1.3 and SCRAM on the embedded cluster's TCP listener, tried as a client that would get
//! in any other way: an older protocol, no TLS, no password, a wrong one.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use maturion_cluster::{Cluster, ClusterError, ClusterOptions, StopMode, TlsCertificate};
use tempfile::TempDir;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

const ROLE: &str = "maturion_app";
const PASSWORD: &str = "a password of the application";

/// A started cluster in a temporary folder, with a login role that has a password; stopped
/// when dropped.
struct TlsCluster {
    cluster: Cluster,
    _dir: TempDir,
}

impl TlsCluster {
    async fn start() -> Self {
        Self::start_with(temp_dir(), TlsCertificate::Generated).await
    }

    async fn start_with(dir: TempDir, tls: TlsCertificate) -> Self {
        let options = ClusterOptions {
            durable: false,
            tls,
            ..ClusterOptions::default()
        };
        let cluster = Cluster::new(dir.path().join("home"), options).unwrap();
        cluster.start().unwrap();
        let (admin, connection) = cluster
            .config(cluster.superuser(), "postgres")
            .connect(NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        admin
            .batch_execute(&format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'; \
                 CREATE ROLE no_password LOGIN"
            ))
            .await
            .unwrap();
        let verifier: String = admin
            .query_one(
                "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
                &[&ROLE],
            )
            .await
            .unwrap()
            .get(0);
        assert!(verifier.starts_with("SCRAM-SHA-256$"), "{verifier}");
        TlsCluster { cluster, _dir: dir }
    }

    fn port(&self) -> u16 {
        self.cluster.status().unwrap().port.unwrap()
    }

    /// `openssl s_client` with STARTTLS for PostgreSQL and the given protocol flag, trusting
    /// the generated authority.
    fn s_client(&self, protocol: &str) -> std::process::Output {
        self.s_client_trusting(protocol, &self.cluster.root_certificate())
    }

    fn s_client_trusting(&self, protocol: &str, authority: &Path) -> std::process::Output {
        Command::new("openssl")
            .args(["s_client", "-starttls", "postgres", protocol, "-brief"])
            .arg("-connect")
            .arg(format!("127.0.0.1:{}", self.port()))
            .arg("-CAfile")
            .arg(authority)
            .args(["-verify_return_error", "-verify_hostname", "localhost"])
            .stdin(Stdio::null())
            .output()
            .expect("openssl runs")
    }
}

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("maturion-tls-")
        .permissions(Permissions::from_mode(0o755))
        .tempdir()
        .unwrap()
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop(StopMode::Immediate);
    }
}

#[tokio::test]
async fn tls_1_2_is_refused_and_tls_1_3_verifies_against_the_generated_authority() {
    let server = TlsCluster::start().await;

    let old = server.s_client("-tls1_2");
    assert!(
        !old.status.success(),
        "a TLS 1.2 client got in: {}",
        String::from_utf8_lossy(&old.stdout)
    );

    let current = server.s_client("-tls1_3");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&current.stdout),
        String::from_utf8_lossy(&current.stderr)
    );
    assert!(current.status.success(), "{said}");
    assert!(said.contains("Protocol version: TLSv1.3"), "{said}");
    assert!(said.contains("Verification: OK"), "{said}");
}

#[tokio::test]
async fn tcp_without_tls_or_without_the_right_password_is_refused() {
    let server = TlsCluster::start().await;
    let tcp = |user: &str, password: Option<&str>, ssl: SslMode| {
        let mut config = server.cluster.tcp_config(user, "postgres");
        config.ssl_mode(ssl);
        if let Some(password) = password {
            config.password(password);
        }
        config
    };

    let Err(plain) = tcp(ROLE, Some(PASSWORD), SslMode::Disable)
        .connect(NoTls)
        .await
    else {
        panic!("a connection without TLS over TCP got in");
    };
    assert_eq!(
        plain.code(),
        Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{plain}"
    );
    // Even the superuser, trusted on the socket, is refused over TCP without TLS.
    let superuser = tcp("postgres", None, SslMode::Disable).connect(NoTls).await;
    assert!(superuser.is_err());

    // Over TLS a password is still needed, and a role without one cannot log in at all.
    let connector = || tls_client::verified(&server.cluster.root_certificate());
    for (user, password) in [
        (ROLE, Some("not the password")),
        (ROLE, None),
        ("no_password", Some("anything")),
        ("postgres", Some("anything")),
    ] {
        let refused = tcp(user, password, SslMode::Require)
            .connect(connector())
            .await
            .err()
            .unwrap_or_else(|| panic!("{user} with {password:?} got in"));
        assert!(
            refused.code() == Some(&SqlState::INVALID_PASSWORD) || refused.code().is_none(),
            "{user}: {refused}"
        );
    }

    let (client, connection) = tcp(ROLE, Some(PASSWORD), SslMode::Require)
        .connect(connector())
        .await
        .expect("TLS 1.3 with the password connects");
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), "TLSv1.3");
}

/// A rustls client that trusts only the given authority.
mod tls_client {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use tokio_postgres_rustls::MakeRustlsConnect;

    pub fn verified(root: &Path) -> MakeRustlsConnect {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(root).unwrap() {
            roots.add(certificate.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        MakeRustlsConnect::new(config)
    }
}

/// The operator's own certificate (here a self-signed one made by openssl) is what the server
/// presents; a file that is not PEM stops the start with a clear error.
#[tokio::test]
async fn a_configured_certificate_is_served_instead_of_a_generated_one() {
    let dir = temp_dir();
    let certificate = dir.path().join("operator.crt");
    let private_key = dir.path().join("operator.key");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&private_key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{made:?}");
    let configured = TlsCertificate::Configured {
        certificate: certificate.clone(),
        private_key: private_key.clone(),
    };
    let server = TlsCluster::start_with(dir, configured).await;
    assert!(!server.cluster.root_certificate().exists());

    let output = server.s_client_trusting("-tls1_3", &certificate);
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("Verification: OK"), "{said}");

    let other = temp_dir();
    let not_pem = other.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let options = ClusterOptions {
        durable: false,
        tls: TlsCertificate::Configured {
            certificate: not_pem.clone(),
            private_key: not_pem,
        },
        ..ClusterOptions::default()
    };
    let refused = Cluster::new(other.path().join("home"), options).unwrap();
    let error = refused.start().unwrap_err();
    let _ = refused.stop(StopMode::Immediate);
    assert!(matches!(error, ClusterError::Certificate(_)), "{error}");
    assert!(error.to_string().contains("not a PEM file"), "{error}");
}
