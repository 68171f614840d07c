//! Envelope encryption on the real platform schema: tenants encrypt through their own bound
//! transactions; the operator rotates as the maintenance role.

use maturion_crypto::{CryptoError, KeyOwner, Keyring, MasterKey, MasterKeys};
use maturion_tenancy::{Database, TenantContext};
use maturion_testing::{migrated_database, organisation_with_admin, TestDatabase};
use tokio_postgres::Client;
use uuid::Uuid;

const FIELD: &str = "notes.body";
const CANARY: &[u8] = b"CANARY-8f2c1e-plaintext-that-must-never-be-stored";

fn master(byte: u8) -> MasterKey {
    MasterKey::from_hex(&hex_of(byte)).unwrap()
}

fn hex_of(byte: u8) -> String {
    format!("{byte:02x}").repeat(32)
}

/// A module table with a sensitive field, made the way a module's migration makes one.
async fn notes_table(admin: &Client) {
    admin
        .batch_execute(
            "CREATE TABLE notes (
               id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES organisations (id),
               body bytea NOT NULL,
               created_at timestamptz NOT NULL DEFAULT now(),
               created_by uuid NOT NULL,
               updated_at timestamptz NOT NULL DEFAULT now(),
               updated_by uuid,
               deleted_at timestamptz,
               deleted_by uuid,
               UNIQUE (organisation_id, id),
               FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id)
             );
             SELECT maturion.enable_tenant_isolation('notes', module => 'notes');",
        )
        .await
        .unwrap();
}

struct Scene {
    db: TestDatabase,
    admin: Client,
    app: Database,
}

impl Scene {
    async fn new() -> Self {
        let db = migrated_database().await;
        let admin = db.admin().await;
        notes_table(&admin).await;
        let app = Database::new(db.config("maturion_app"), 4).unwrap();
        Scene { db, admin, app }
    }

    async fn tenant(&self, name: &str) -> TenantContext {
        organisation_with_admin(&self.admin, name)
            .await
            .unwrap()
            .context
    }

    /// Encrypts `plaintext` for `owner` in a transaction of `tenant`, stores it in `notes`
    /// and returns the stored bytes.
    async fn store(
        &self,
        tenant: &TenantContext,
        masters: &MasterKeys,
        owner: KeyOwner,
        plaintext: &[u8],
    ) -> Vec<u8> {
        let tx = self.app.transaction(tenant).await.unwrap();
        let mut keyring = Keyring::open(&tx, masters).await.unwrap();
        let value = keyring.encrypt(&tx, owner, FIELD, plaintext).await.unwrap();
        tx.execute(
            "INSERT INTO notes (organisation_id, body) VALUES ($1, $2)",
            &[&tenant.organisation_id, &value],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        value
    }

    /// Opens a keyring of `tenant` in a new transaction and decrypts `value` with it.
    async fn read(
        &self,
        tenant: &TenantContext,
        masters: &MasterKeys,
        value: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let tx = self.app.transaction(tenant).await.unwrap();
        let keyring = Keyring::open(&tx, masters).await?;
        keyring.decrypt(FIELD, value)
    }
}

#[tokio::test]
async fn a_sensitive_field_is_stored_encrypted_and_reads_back() {
    let scene = Scene::new().await;
    let tenant = scene.tenant("Canary").await;
    let masters = MasterKeys::new(master(1));
    let value = scene
        .store(&tenant, &masters, KeyOwner::Organisation, CANARY)
        .await;
    assert!(!contains(&value, CANARY));
    assert_eq!(scene.read(&tenant, &masters, &value).await.unwrap(), CANARY);

    // Not in the row, its audit trail, the key table, nor the data files on disk.
    let found: i64 = scene
        .admin
        .query_one(
            "SELECT (SELECT count(*) FROM notes WHERE position($1::bytea IN body) > 0)
                  + (SELECT count(*) FROM audit_log WHERE audit_log::text LIKE '%' || $2 || '%')
                  + (SELECT count(*) FROM maturion.data_keys WHERE position($1::bytea IN wrapped_key) > 0)",
            &[&CANARY, &String::from_utf8_lossy(CANARY).as_ref()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(found, 0);
    scene.admin.batch_execute("CHECKPOINT").await.unwrap();
    for table in ["notes", "maturion.data_keys"] {
        let file: String = scene
            .admin
            .query_one(
                "SELECT current_setting('data_directory') || '/' || pg_relation_filepath($1::text::regclass)",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.is_empty(), "{file} holds the rows");
        assert!(
            !contains(&bytes, CANARY),
            "{table}'s data file holds the canary"
        );
    }
}

#[tokio::test]
async fn the_wrong_master_key_opens_nothing_and_an_altered_key_is_refused() {
    let scene = Scene::new().await;
    let tenant = scene.tenant("Wrong Master").await;
    let value = scene
        .store(
            &tenant,
            &MasterKeys::new(master(1)),
            KeyOwner::Organisation,
            CANARY,
        )
        .await;

    let refused = scene
        .read(&tenant, &MasterKeys::new(master(2)), &value)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CryptoError::WrongMasterKey { .. }),
        "{refused}"
    );
    assert!(!refused.to_string().contains(&hex_of(1)), "{refused}");

    // The right fingerprint on bytes that were changed does not pass either.
    scene
        .admin
        .batch_execute(
            "UPDATE maturion.data_keys SET wrapped_key = set_byte(wrapped_key, 20, get_byte(wrapped_key, 20) # 1)",
        )
        .await
        .unwrap();
    let refused = scene
        .read(&tenant, &MasterKeys::new(master(1)), &value)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CryptoError::CorruptDataKey(_)),
        "{refused}"
    );
}

#[tokio::test]
async fn rotation_keeps_old_values_readable_and_a_new_master_replaces_the_old() {
    let scene = Scene::new().await;
    let tenant = scene.tenant("Rotating").await;
    let old = MasterKeys::new(master(1));
    let first = scene
        .store(&tenant, &old, KeyOwner::Organisation, b"first")
        .await;

    let mut admin = scene.db.admin().await;
    let young = maturion_crypto::rotate(&mut admin, &old, maturion_crypto::ROTATION_AGE)
        .await
        .unwrap();
    assert!(young.rotated.is_empty(), "a new key is not due: {young:?}");
    let rotated = maturion_crypto::rotate(&mut admin, &old, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(rotated.rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated.rotated[0].version, 2);
    let second = scene
        .store(&tenant, &old, KeyOwner::Organisation, b"second")
        .await;
    assert_ne!(
        first[1..17],
        second[1..17],
        "new values use the new version"
    );

    // A new master key: every data key re-wrapped, both versions still decrypt.
    let new = MasterKeys {
        current: master(3),
        previous: Some(master(1)),
    };
    let report = maturion_crypto::rotate(&mut admin, &new, maturion_crypto::ROTATION_AGE)
        .await
        .unwrap();
    assert_eq!(report.rewrapped, 2, "{report:?}");
    let only_new = MasterKeys::new(master(3));
    for (value, plaintext) in [(&first, &b"first"[..]), (&second, &b"second"[..])] {
        assert_eq!(
            scene.read(&tenant, &only_new, value).await.unwrap(),
            plaintext
        );
        let refused = scene.read(&tenant, &old, value).await.unwrap_err();
        assert!(
            matches!(refused, CryptoError::WrongMasterKey { .. }),
            "{refused}"
        );
    }

    let status = maturion_crypto::status(&mut admin, maturion_crypto::ROTATION_AGE)
        .await
        .unwrap();
    assert_eq!(status.master_key_ids, [master(3).id().to_owned()]);
    assert_eq!(status.overdue, 0);
    assert_eq!(status.lines.len(), 1);
    assert_eq!(status.lines[0].version, 2);
    let overdue = maturion_crypto::status(&mut admin, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(overdue.overdue, 1, "{overdue:?}");

    // Without the previous key a master rotation refuses, changing nothing.
    let unknown = maturion_crypto::rotate(
        &mut admin,
        &MasterKeys::new(master(4)),
        chrono::Duration::zero(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(unknown, CryptoError::WrongMasterKey { .. }),
        "{unknown}"
    );
    assert_eq!(
        scene.read(&tenant, &only_new, &first).await.unwrap(),
        b"first"
    );
}

#[tokio::test]
async fn a_destroyed_subject_key_leaves_its_values_unreadable() {
    let scene = Scene::new().await;
    let tenant = scene.tenant("Forgetting").await;
    let masters = MasterKeys::new(master(1));
    let subject = Uuid::now_v7();
    let about_subject = scene
        .store(
            &tenant,
            &masters,
            KeyOwner::Subject(subject),
            b"about the subject",
        )
        .await;
    let about_organisation = scene
        .store(
            &tenant,
            &masters,
            KeyOwner::Organisation,
            b"about the organisation",
        )
        .await;
    assert_eq!(
        scene.read(&tenant, &masters, &about_subject).await.unwrap(),
        b"about the subject"
    );

    let tx = scene.app.transaction(&tenant).await.unwrap();
    let mut keyring = Keyring::open(&tx, &masters).await.unwrap();
    assert_eq!(keyring.destroy_subject(&tx, subject).await.unwrap(), 1);
    let now = keyring.decrypt(FIELD, &about_subject).unwrap_err();
    assert!(matches!(now, CryptoError::KeyDestroyed(_)), "{now}");
    tx.commit().await.unwrap();

    let later = scene
        .read(&tenant, &masters, &about_subject)
        .await
        .unwrap_err();
    assert!(matches!(later, CryptoError::KeyDestroyed(_)), "{later}");
    assert_eq!(
        scene
            .read(&tenant, &masters, &about_organisation)
            .await
            .unwrap(),
        b"about the organisation"
    );
    let mut admin = scene.db.admin().await;
    let rotated = maturion_crypto::rotate(&mut admin, &masters, chrono::Duration::zero())
        .await
        .unwrap();
    assert!(
        rotated.rotated.iter().all(|line| line.subject_id.is_none()),
        "a destroyed line gets no new key: {rotated:?}"
    );
}

/// As the runtime roles, with SQL of the attacker's choosing: the key table itself is out of
/// reach, and the functions act only for the bound organisation.
#[tokio::test]
async fn the_runtime_roles_reach_only_their_own_organisation_s_keys() {
    let scene = Scene::new().await;
    let victim = scene.tenant("Victim").await;
    let attacker = scene.tenant("Attacker").await;
    let masters = MasterKeys::new(master(1));
    let subject = Uuid::now_v7();
    let secret = scene
        .store(&victim, &masters, KeyOwner::Subject(subject), CANARY)
        .await;

    for role in ["maturion_app", "maturion_readonly"] {
        let client = scene.db.connect(role).await;
        let denied = client
            .query("SELECT * FROM maturion.data_keys", &[])
            .await
            .unwrap_err();
        assert_eq!(
            denied.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{role}"
        );
        let unbound = client
            .query("SELECT * FROM maturion.organisation_data_keys()", &[])
            .await
            .unwrap();
        assert!(unbound.is_empty(), "{role} read keys without a binding");
        for call in [
            "SELECT * FROM maturion.add_data_key(NULL, decode(repeat('00', 60), 'hex'), '0000000000000000')",
            "SELECT maturion.destroy_subject_keys(gen_random_uuid())",
        ] {
            assert!(client.query(call, &[]).await.is_err(), "{role}: {call}");
        }
    }

    // Bound to its own organisation, the attacker sees none of the victim's keys, cannot
    // destroy them, and cannot decrypt the victim's value.
    let tx = scene.app.transaction(&attacker).await.unwrap();
    let visible: i64 = tx
        .query_one(
            "SELECT count(*) FROM maturion.organisation_data_keys()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(visible, 0);
    let destroyed: i32 = tx
        .query_one("SELECT maturion.destroy_subject_keys($1)", &[&subject])
        .await
        .unwrap()
        .get(0);
    assert_eq!(destroyed, 0);
    let keyring = Keyring::open(&tx, &masters).await.unwrap();
    let refused = keyring.decrypt(FIELD, &secret).unwrap_err();
    assert!(matches!(refused, CryptoError::UnknownKey(_)), "{refused}");
    tx.commit().await.unwrap();
    assert_eq!(
        scene.read(&victim, &masters, &secret).await.unwrap(),
        CANARY
    );

    // A value moved to another field does not decrypt either.
    let tx = scene.app.transaction(&victim).await.unwrap();
    let keyring = Keyring::open(&tx, &masters).await.unwrap();
    assert!(matches!(
        keyring.decrypt("notes.title", &secret),
        Err(CryptoError::Tampered)
    ));
    assert!(matches!(
        keyring.decrypt(FIELD, b"plain text"),
        Err(CryptoError::NotEncrypted)
    ));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
