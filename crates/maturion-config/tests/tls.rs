//! URLs that ask for TLS connect with rustls, verifying the server against `sslrootcert`,
//! here the embedded cluster's generated authority; another authority is refused.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use maturion_config::{connect_url, ClientTls, ConnectionUrl, TargetError, UrlError};

struct StopOnDrop(Cluster);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop(StopMode::Immediate);
    }
}

fn start_cluster(dir: &tempfile::TempDir, name: &str) -> StopOnDrop {
    let options = ClusterOptions {
        durable: false,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::new(dir.path().join(name), options).unwrap();
    cluster.start().unwrap();
    StopOnDrop(cluster)
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("maturion-config-tls-")
        .permissions(Permissions::from_mode(0o755))
        .tempdir()
        .unwrap()
}

#[tokio::test]
async fn a_verifying_url_connects_with_tls_1_3_and_refuses_another_authority() {
    let dir = temp_dir();
    let server = start_cluster(&dir, "server");
    let other = start_cluster(&dir, "other");
    let socket = ConnectionUrl::parse(&server.0.url("postgres", "postgres")).unwrap();
    assert_eq!(socket.tls(), &ClientTls::Off);
    connect_url(&socket)
        .await
        .unwrap()
        .batch_execute("CREATE ROLE maturion_app LOGIN PASSWORD 'app secret'")
        .await
        .unwrap();
    let port = server.0.status().unwrap().port.unwrap();
    let url = |root: &Path, mode: &str| {
        format!(
            "postgresql://maturion_app:app%20secret@localhost:{port}/postgres\
             ?sslmode={mode}&sslrootcert={}",
            root.display()
        )
    };

    for mode in ["verify-full", "verify-ca", "require"] {
        let verified = ConnectionUrl::parse(&url(&server.0.root_certificate(), mode)).unwrap();
        assert_eq!(
            verified.tls(),
            &ClientTls::Verified {
                root_certificate: server.0.root_certificate()
            }
        );
        let client = connect_url(&verified).await.unwrap();
        let version: String = client
            .query_one(
                "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, "TLSv1.3", "{mode}");
    }

    let impostor = ConnectionUrl::parse(&url(&other.0.root_certificate(), "verify-full")).unwrap();
    let refused = connect_url(&impostor)
        .await
        .expect_err("a server whose certificate another authority signed is refused");
    assert!(matches!(refused, TargetError::Connect(_)), "{refused}");

    // The key-value form says the same.
    let key_value = format!(
        "host=localhost port={port} user=maturion_app password='app secret' dbname=postgres \
         sslmode=verify-full sslrootcert='{}'",
        server.0.root_certificate().display()
    );
    connect_url(&ConnectionUrl::parse(&key_value).unwrap())
        .await
        .unwrap();
}

#[test]
fn asking_for_tls_without_an_authority_is_refused_before_connecting() {
    for text in [
        "postgresql://u:p@db.example/maturion?sslmode=require",
        "postgresql://u:p@db.example/maturion?sslmode=verify-full",
        "host=db.example user=u dbname=maturion sslmode=verify-ca",
    ] {
        let error = ConnectionUrl::parse(text).unwrap_err();
        assert!(matches!(error, UrlError::Tls(_)), "{text}: {error}");
        assert!(error.to_string().contains("sslrootcert"), "{error}");
    }
    assert!(ConnectionUrl::parse("postgresql://u@db/m?sslmode=sometimes").is_err());
    for text in [
        "postgresql://u@db/m",
        "postgresql://u@db/m?sslmode=prefer",
        "postgresql://u@db/m?sslmode=disable&application_name=x",
    ] {
        assert_eq!(ConnectionUrl::parse(text).unwrap().tls(), &ClientTls::Off);
    }
}

#[test]
fn the_url_keeps_its_tls_options_for_psql() {
    for text in [
        "postgresql://u:p@db/m?sslrootcert=%2Fetc%2Fca.pem&sslmode=verify-full",
        "postgresql://u:p@db/m?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        "postgresql://u:p@db/m?sslmode=verify-full&sslrootcert=/etc/ca.pem&port=5433",
    ] {
        let url = ConnectionUrl::parse(text).unwrap();
        assert_eq!(url.expose(), text);
        assert_eq!(
            url.tls(),
            &ClientTls::Verified {
                root_certificate: "/etc/ca.pem".into()
            },
            "{text}"
        );
        let moved = url.with_database("other");
        assert_eq!(moved.tls(), url.tls());
        assert!(moved.expose().contains("sslmode=verify-full"));
    }
}
