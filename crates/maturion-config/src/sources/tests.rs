use std::path::Path;

use super::*;

fn environment(variables: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    variables
        .iter()
        .map(|(name, value)| (name.into(), value.into()))
        .collect()
}

/// A configuration file with `text`, in a folder of its own.
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maturion.toml");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn load(file: Option<&Path>, variables: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::load(&Sources {
        file: file.map(Path::to_path_buf),
        environment: environment(variables),
        overrides: Vec::new(),
    })
}

fn home(settings: &Settings) -> &Path {
    match &settings.database {
        DatabaseSettings::Embedded { home, .. } => home,
        DatabaseSettings::External(_) => panic!("expected the embedded cluster"),
    }
}

fn external(settings: &Settings) -> &ExternalServer {
    match &settings.database {
        DatabaseSettings::External(server) => server,
        DatabaseSettings::Embedded { .. } => panic!("expected an external server"),
    }
}

#[test]
fn without_sources_every_default_applies() {
    let settings = load(None, &[("PATH", "/bin"), ("MATURION_PG_BINDIR", "/x")]).unwrap();
    assert_eq!(home(&settings), Path::new(".maturion"));
    assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.server.body_limit_bytes.get(), 2 * 1024 * 1024);
    assert_eq!(settings.server.request_timeout, Duration::from_secs(30));
    assert_eq!(settings.server.concurrency_limit.get(), 256);
    assert_eq!(settings.server.pool_size.get(), 16);
    assert_eq!(
        settings.jobs.maintenance_interval,
        Duration::from_secs(3600)
    );
    assert_eq!(
        settings.jobs.backup,
        BackupSchedule {
            full_at: TimeOfDay { hour: 2, minute: 0 },
            incremental_every: Duration::from_secs(4 * 3600),
            check_interval: Duration::from_secs(300),
        }
    );
    assert_eq!(settings.log.filter, "warn");
    assert!(!settings.log.json);
}

#[test]
fn the_environment_wins_over_the_file_and_the_command_line_over_both() {
    let (_dir, path) = file(
        "[server]\nlisten = \"0.0.0.0:9000\"\nconcurrency_limit = 10\n\
         [log]\nfilter = \"info\"\njson = true\n[database]\nhome = \"/srv/from-file\"\n",
    );
    let variables = [
        ("MATURION_SERVER_LISTEN", "127.0.0.1:9001"),
        ("MATURION_LOG", "debug"),
        ("MATURION_HOME", "/srv/from-environment"),
        ("MATURION_SERVER_POOL_SIZE", "4"),
    ];
    let settings = load(Some(&path), &variables).unwrap();
    assert_eq!(settings.server.listen.to_string(), "127.0.0.1:9001");
    assert_eq!(settings.server.concurrency_limit.get(), 10, "from the file");
    assert_eq!(settings.server.pool_size.get(), 4);
    assert_eq!(settings.log.filter, "debug");
    assert!(settings.log.json, "from the file");
    assert_eq!(home(&settings), Path::new("/srv/from-environment"));

    let settings = Settings::load(&Sources {
        file: Some(path),
        environment: environment(&variables),
        overrides: vec![("database.home".into(), "/srv/from-flag".into())],
    })
    .unwrap();
    assert_eq!(home(&settings), Path::new("/srv/from-flag"));
}

#[test]
fn maturion_config_names_the_file_unless_the_caller_does() {
    let (_dir, named) = file("[log]\nfilter = \"named\"\n");
    let (_other, by_variable) = file("[log]\nfilter = \"by variable\"\n");
    let variable = [("MATURION_CONFIG", by_variable.to_str().unwrap())];
    assert_eq!(load(None, &variable).unwrap().log.filter, "by variable");
    assert_eq!(load(Some(&named), &variable).unwrap().log.filter, "named");

    let missing = named.with_file_name("absent.toml");
    let error = load(Some(&missing), &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::ReadFile { .. }),
        "a named file must exist: {error}"
    );
}

#[test]
fn a_relative_home_in_a_file_is_taken_from_the_file_s_folder() {
    let (dir, path) = file("[database]\nhome = \"data\"\n");
    assert_eq!(
        home(&load(Some(&path), &[]).unwrap()),
        dir.path().join("data")
    );
    let relative = load(None, &[("MATURION_HOME", "data")]).unwrap();
    assert_eq!(
        home(&relative),
        Path::new("data"),
        "the environment's stays as given"
    );
}

#[test]
fn database_url_selects_an_external_server_with_role_urls() {
    let (_dir, path) =
        file("[database]\nreadonly_url = \"postgresql://reader:r@replica/maturion\"\n");
    let settings = load(
        Some(&path),
        &[
            ("DATABASE_URL", "postgresql://root:admin-secret@db/maturion"),
            (
                "MATURION_DATABASE_APP_URL",
                "postgresql://app:app-secret@db/maturion",
            ),
        ],
    )
    .unwrap();
    let server = external(&settings);
    assert_eq!(
        server.admin_url.expose(),
        "postgresql://root:admin-secret@db/maturion"
    );
    let app = server.role_url(PlatformRole::App).unwrap();
    assert_eq!(app.config().get_user(), Some("app"));
    let readonly = server.role_url(PlatformRole::Readonly).unwrap();
    assert_eq!(readonly.config().get_user(), Some("reader"));
    assert!(server.role_url(PlatformRole::Maintenance).is_none());
}

#[test]
fn empty_variables_count_as_unset() {
    let settings = load(None, &[("DATABASE_URL", ""), ("MATURION_LOG", "")]).unwrap();
    assert_eq!(home(&settings), Path::new(".maturion"));
    assert_eq!(settings.log.filter, "warn");
}

#[test]
fn bad_values_name_the_variable_or_the_line_and_key() {
    for (name, value) in [
        ("MATURION_SERVER_LISTEN", "nonsense"),
        ("MATURION_SERVER_CONCURRENCY_LIMIT", "0"),
        ("MATURION_SERVER_POOL_SIZE", "0"),
        ("MATURION_SERVER_BODY_LIMIT_BYTES", "-1"),
        ("MATURION_JOBS_MAINTENANCE_INTERVAL_SECONDS", "soon"),
        ("MATURION_JOBS_BACKUP_FULL_AT", "24:00"),
        ("MATURION_JOBS_BACKUP_FULL_AT", "2:00"),
        ("MATURION_JOBS_BACKUP_INCREMENTAL_HOURS", "0"),
        ("MATURION_LOG_JSON", "maybe"),
        ("DATABASE_URL", "postgresql://root:admin-secret@db"),
        (
            "MATURION_DATABASE_APP_URL",
            "postgresql://app:app-secret@db:port/x",
        ),
    ] {
        let error = load(None, &[(name, value)]).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("environment variable {name}: ")),
            "{error}"
        );
        assert!(
            !error.contains(value) && !error.contains("secret"),
            "{error}"
        );
    }

    let (_dir, path) = file("[server]\nlisten = \"127.0.0.1:8080\"\nrequest_timeout_seconds = 0\n");
    let error = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "{}: line 3, key request_timeout_seconds: ",
            path.display()
        )),
        "{error}"
    );

    let (_dir, path) = file("[database]\nurl = \"postgresql://root:admin-secret@db:x/maturion\"\n");
    let error = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(error.contains("line 2, key url"), "{error}");
    assert!(!error.contains("secret"), "{error}");

    let (_dir, path) = file("[server\n");
    let error = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(error.contains("line 1"), "{error}");
}

#[test]
fn unknown_keys_and_settings_variables_are_errors() {
    let (_dir, path) = file("[server]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n");
    let error = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(error.contains("line 3, key listn"), "{error}");
    assert!(error.contains("unknown field `listn`"), "{error}");

    let (_dir, path) = file("[servers]\n");
    let error = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(error.contains("unknown field `servers`"), "{error}");

    let error = load(None, &[("MATURION_SERVER_LISTN", "x")]).unwrap_err();
    assert!(
        matches!(&error, SettingsError::UnknownVariable { variable, .. } if variable == "MATURION_SERVER_LISTN"),
        "{error}"
    );
    assert!(
        error.to_string().contains("MATURION_SERVER_LISTEN"),
        "{error}"
    );

    let overridden = Settings::load(&Sources {
        overrides: vec![("server.listn".into(), "x".into())],
        ..Sources::default()
    });
    assert!(matches!(overridden, Err(SettingsError::Override { .. })));
}

#[test]
fn role_urls_need_an_external_server() {
    let error = load(
        None,
        &[(
            "MATURION_DATABASE_MAINTENANCE_URL",
            "postgresql://m:pw@db/maturion",
        )],
    )
    .unwrap_err();
    assert!(
        matches!(error, SettingsError::RoleUrlWithoutServer { variable, .. } if variable == "MATURION_DATABASE_MAINTENANCE_URL"),
        "{error}"
    );
}

#[test]
fn debug_output_never_shows_a_password() {
    let (_dir, path) =
        file("[database]\nurl = \"host=db user=root password=file-secret dbname=maturion\"\n");
    let settings = load(
        Some(&path),
        &[(
            "MATURION_DATABASE_APP_URL",
            "postgresql://app:app-secret@db/maturion?sslmode=disable",
        )],
    )
    .unwrap();
    let printed = format!("{settings:?} {settings:#?}");
    assert!(!printed.contains("secret"), "{printed}");
    assert!(
        printed.contains("postgresql://app:****@db/maturion"),
        "{printed}"
    );
    let server = external(&settings);
    assert_eq!(
        server.admin_url.expose(),
        "host=db user=root password=file-secret dbname=maturion"
    );
}

#[test]
fn the_backup_schedule_is_configurable_and_checked() {
    let (_dir, path) = file(
        "[jobs]\nbackup_full_at = \"23:30\"\nbackup_incremental_hours = 1\n\
         backup_check_interval_seconds = 60\n",
    );
    let settings = load(
        Some(&path),
        &[("MATURION_JOBS_BACKUP_INCREMENTAL_HOURS", "2")],
    )
    .unwrap();
    assert_eq!(
        settings.jobs.backup,
        BackupSchedule {
            full_at: TimeOfDay {
                hour: 23,
                minute: 30
            },
            incremental_every: Duration::from_secs(2 * 3600),
            check_interval: Duration::from_secs(60),
        }
    );
    for text in [
        "[jobs]\nbackup_full_at = \"7\"\n",
        "[jobs]\nbackup_incremental_hours = 169\n",
    ] {
        let (_dir, path) = file(text);
        let error = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(error.starts_with("jobs.backup_"), "{error}");
    }
}

#[test]
fn a_configured_certificate_needs_its_key_and_the_embedded_cluster() {
    let (dir, path) = file(
        "[database]\ntls_certificate = \"tls/server.crt\"\ntls_private_key = \"tls/server.key\"\n",
    );
    let settings = load(Some(&path), &[]).unwrap();
    let DatabaseSettings::Embedded { tls, .. } = &settings.database else {
        panic!("expected the embedded cluster");
    };
    assert_eq!(
        tls,
        &TlsCertificate::Configured {
            certificate: dir.path().join("tls/server.crt"),
            private_key: dir.path().join("tls/server.key"),
        }
    );
    let default = load(None, &[]).unwrap();
    assert!(matches!(
        default.database,
        DatabaseSettings::Embedded {
            tls: TlsCertificate::Generated,
            ..
        }
    ));

    let alone = load(None, &[("MATURION_DATABASE_TLS_CERTIFICATE", "/etc/c.pem")]).unwrap_err();
    assert!(alone.to_string().contains("tls_private_key"), "{alone}");
    let external = load(
        None,
        &[
            ("DATABASE_URL", "postgresql://u@db/m"),
            ("MATURION_DATABASE_TLS_CERTIFICATE", "/etc/c.pem"),
            ("MATURION_DATABASE_TLS_PRIVATE_KEY", "/etc/k.pem"),
        ],
    )
    .unwrap_err();
    assert!(
        external.to_string().contains("embedded cluster"),
        "{external}"
    );
}

#[test]
fn the_servers_certificate_and_key_come_together_relative_to_the_file() {
    let (dir, path) =
        file("[server]\ntls_certificate = \"tls/api.pem\"\ntls_private_key = \"tls/api.key\"\n");
    let settings = load(Some(&path), &[]).unwrap();
    assert_eq!(
        settings.server.tls,
        Some(ServerTls {
            certificate: dir.path().join("tls/api.pem"),
            private_key: dir.path().join("tls/api.key"),
        })
    );
    assert_eq!(load(None, &[]).unwrap().server.tls, None);
    let from_environment = load(
        None,
        &[
            ("MATURION_SERVER_TLS_CERTIFICATE", "/etc/maturion/api.pem"),
            ("MATURION_SERVER_TLS_PRIVATE_KEY", "/etc/maturion/api.key"),
        ],
    )
    .unwrap();
    assert_eq!(
        from_environment.server.tls.map(|tls| tls.private_key),
        Some(PathBuf::from("/etc/maturion/api.key"))
    );
    let alone = load(None, &[("MATURION_SERVER_TLS_PRIVATE_KEY", "/etc/k.pem")]).unwrap_err();
    assert!(
        alone.to_string().contains("server.tls_private_key"),
        "{alone}"
    );
}

#[test]
fn the_alert_thresholds_default_to_the_spec_and_are_configurable() {
    let defaults = load(None, &[]).unwrap().monitoring;
    assert_eq!(defaults.slow_query, Duration::from_secs(1));
    assert_eq!(defaults.replication_lag, Duration::from_secs(5));
    assert_eq!(defaults.key_max_age_days, 90);
    assert_eq!(defaults.pool_use_percent, 100);
    assert!(defaults.webhook_url.is_none());

    let (_dir, path) = file(
        "[monitoring]\nslow_query_milliseconds = 250\npool_use_percent = 80\n\
         webhook_url = \"https://alerts.example/hook?token=file-secret\"\n",
    );
    let settings = load(
        Some(&path),
        &[
            ("MATURION_MONITORING_INTERVAL_SECONDS", "5"),
            ("MATURION_MONITORING_BACKUP_MAX_AGE_SECONDS", "60"),
        ],
    )
    .unwrap()
    .monitoring;
    assert_eq!(settings.slow_query, Duration::from_millis(250));
    assert_eq!(settings.pool_use_percent, 80);
    assert_eq!(settings.interval, Duration::from_secs(5));
    assert_eq!(settings.backup_max_age, Duration::from_secs(60));
    let url = settings.webhook_url.unwrap();
    assert_eq!(
        url.expose(),
        "https://alerts.example/hook?token=file-secret"
    );
    assert!(!format!("{url:?}").contains("file-secret"));
}

#[test]
fn bad_monitoring_values_are_refused_without_repeating_them() {
    for (variable, value) in [
        ("MATURION_MONITORING_WEBHOOK_URL", "ftp://secret-host/x"),
        ("MATURION_MONITORING_WEBHOOK_URL", "http:///secret-path"),
        ("MATURION_MONITORING_POOL_USE_PERCENT", "101"),
        ("MATURION_MONITORING_SLOW_QUERY_MILLISECONDS", "0"),
        ("MATURION_MONITORING_NO_SUCH_THING", "1"),
    ] {
        let error = load(None, &[(variable, value)]).unwrap_err().to_string();
        assert!(error.contains(variable), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
    let (_dir, path) = file("[monitoring]\nconnections_use_percent = 0\n");
    let error = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(error.contains("connections_use_percent"), "{error}");
}
