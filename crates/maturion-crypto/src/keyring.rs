//! The data keys of one organisation, unwrapped for one tenant transaction, and the fields
//! they encrypt.
//!
//! An encrypted field is `1 ‖ key id (16 bytes) ‖ nonce ‖ ciphertext ‖ tag`; its associated
//! data names the organisation, the key and the field, so a value copied into another
//! organisation's row or another column does not decrypt.

use std::collections::HashMap;

use maturion_tenancy::{TenancyError, TenantTransaction};
use uuid::Uuid;

use crate::cipher::{self, SecretKey};
use crate::error::CryptoError;
use crate::master::MasterKeys;

const FORMAT_VERSION: u8 = 1;
const HEADER_BYTES: usize = 1 + 16;

/// Whose data a key encrypts: the organisation's, or one data subject's within it (whose key
/// can be destroyed on its own, for the right to be forgotten).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    Organisation,
    Subject(Uuid),
}

impl KeyOwner {
    fn subject(self) -> Option<Uuid> {
        match self {
            Self::Organisation => None,
            Self::Subject(subject) => Some(subject),
        }
    }
}

struct DataKey {
    owner: KeyOwner,
    version: i32,
    /// `None` once destroyed.
    secret: Option<SecretKey>,
}

/// The unwrapped data keys of the organisation a transaction is bound to.
pub struct Keyring {
    organisation: Uuid,
    masters: MasterKeys,
    keys: HashMap<Uuid, DataKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("organisation", &self.organisation)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Keyring {
    /// Reads and unwraps the data keys of the transaction's organisation. Fails when one was
    /// wrapped by a master key that `masters` does not hold.
    pub async fn open(tx: &TenantTransaction, masters: &MasterKeys) -> Result<Self, CryptoError> {
        let organisation = tx.context().organisation_id.as_uuid();
        let rows = tx
            .query(
                "SELECT id, subject_id, version, wrapped_key, master_key_id \
                 FROM maturion.organisation_data_keys()",
                &[],
            )
            .await?;
        let mut keyring = Self {
            organisation,
            masters: masters.clone(),
            keys: HashMap::with_capacity(rows.len()),
        };
        for row in rows {
            let id: Uuid = row.get(0);
            let owner = row
                .get::<_, Option<Uuid>>(1)
                .map_or(KeyOwner::Organisation, KeyOwner::Subject);
            let version: i32 = row.get(2);
            let secret = match row.get::<_, Option<Vec<u8>>>(3) {
                None => None,
                Some(wrapped) => Some(keyring.unwrap(id, owner, version, &wrapped, row.get(4))?),
            };
            keyring.keys.insert(
                id,
                DataKey {
                    owner,
                    version,
                    secret,
                },
            );
        }
        Ok(keyring)
    }

    /// Encrypts `plaintext` for `field` (e.g. `risks.description`) with the newest key of
    /// `owner`, making the first one when there is none yet.
    pub async fn encrypt(
        &mut self,
        tx: &TenantTransaction,
        owner: KeyOwner,
        field: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let id = match self.current(owner) {
            Some(id) => id,
            None => self.add_key(tx, owner).await?,
        };
        let secret = self.keys[&id]
            .secret
            .as_ref()
            .expect("the current key is not destroyed");
        let aad = cipher::field_aad(self.organisation, id, field);
        let mut value = Vec::with_capacity(
            HEADER_BYTES + cipher::NONCE_BYTES + plaintext.len() + cipher::TAG_BYTES,
        );
        value.push(FORMAT_VERSION);
        value.extend_from_slice(id.as_bytes());
        value.extend_from_slice(&cipher::seal(secret, &aad, plaintext));
        Ok(value)
    }

    /// Decrypts a value [`Keyring::encrypt`] made for `field`, with whichever version of
    /// whichever key encrypted it.
    pub fn decrypt(&self, field: &str, value: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let id = key_id(value)?;
        let key = self.keys.get(&id).ok_or(CryptoError::UnknownKey(id))?;
        let secret = key.secret.as_ref().ok_or(CryptoError::KeyDestroyed(id))?;
        let aad = cipher::field_aad(self.organisation, id, field);
        cipher::open(secret, &aad, &value[HEADER_BYTES..]).ok_or(CryptoError::Tampered)
    }

    /// Destroys every version of `subject`'s key (in the database and here): what they
    /// encrypted can no longer be read. Returns how many versions were destroyed.
    pub async fn destroy_subject(
        &mut self,
        tx: &TenantTransaction,
        subject: Uuid,
    ) -> Result<i32, CryptoError> {
        let destroyed: i32 = tx
            .query_one("SELECT maturion.destroy_subject_keys($1)", &[&subject])
            .await?
            .get(0);
        for key in self.keys.values_mut() {
            if key.owner == KeyOwner::Subject(subject) {
                key.secret = None;
            }
        }
        Ok(destroyed)
    }

    /// The id of `owner`'s newest key, unless it has none (or only destroyed ones).
    fn current(&self, owner: KeyOwner) -> Option<Uuid> {
        self.keys
            .iter()
            .filter(|(_, key)| key.owner == owner)
            .max_by_key(|(_, key)| key.version)
            .filter(|(_, key)| key.secret.is_some())
            .map(|(id, _)| *id)
    }

    async fn add_key(
        &mut self,
        tx: &TenantTransaction,
        owner: KeyOwner,
    ) -> Result<Uuid, CryptoError> {
        let newest = self
            .keys
            .values()
            .filter(|key| key.owner == owner)
            .map(|key| key.version)
            .max()
            .unwrap_or(0);
        let version = newest + 1;
        let secret = cipher::new_key();
        let master = &self.masters.current;
        let aad = cipher::wrapping_aad(self.organisation, owner.subject(), version);
        let wrapped = cipher::seal(master.bytes(), &aad, secret.as_ref());
        let row = tx
            .query_one(
                "SELECT id, version FROM maturion.add_data_key($1, $2, $3)",
                &[&owner.subject(), &wrapped, &master.id()],
            )
            .await
            .map_err(|error| match error {
                TenancyError::Conflict { .. } => CryptoError::Conflict,
                error => CryptoError::Tenancy(error),
            })?;
        let id: Uuid = row.get(0);
        // Another transaction committed a version this keyring did not see: start again.
        if row.get::<_, i32>(1) != version {
            return Err(CryptoError::Conflict);
        }
        self.keys.insert(
            id,
            DataKey {
                owner,
                version,
                secret: Some(secret),
            },
        );
        Ok(id)
    }

    fn unwrap(
        &self,
        id: Uuid,
        owner: KeyOwner,
        version: i32,
        wrapped: &[u8],
        master_key_id: String,
    ) -> Result<SecretKey, CryptoError> {
        let master =
            self.masters
                .find(&master_key_id)
                .ok_or_else(|| CryptoError::WrongMasterKey {
                    key: id,
                    wrapped_by: master_key_id.clone(),
                    configured: self.masters.current.id().to_owned(),
                })?;
        unwrap_key(
            master.bytes(),
            id,
            self.organisation,
            owner.subject(),
            version,
            wrapped,
        )
    }
}

/// The data key in `wrapped`, checked against the line it belongs to.
pub(crate) fn unwrap_key(
    master: &[u8; cipher::KEY_BYTES],
    id: Uuid,
    organisation: Uuid,
    subject: Option<Uuid>,
    version: i32,
    wrapped: &[u8],
) -> Result<SecretKey, CryptoError> {
    let aad = cipher::wrapping_aad(organisation, subject, version);
    let plain = zeroize::Zeroizing::new(
        cipher::open(master, &aad, wrapped).ok_or(CryptoError::CorruptDataKey(id))?,
    );
    let mut secret = SecretKey::default();
    if plain.len() != cipher::KEY_BYTES {
        return Err(CryptoError::CorruptDataKey(id));
    }
    secret.copy_from_slice(&plain);
    Ok(secret)
}

/// The key an encrypted value names.
fn key_id(value: &[u8]) -> Result<Uuid, CryptoError> {
    if value.len() < HEADER_BYTES + cipher::NONCE_BYTES + cipher::TAG_BYTES
        || value[0] != FORMAT_VERSION
    {
        return Err(CryptoError::NotEncrypted);
    }
    let id: [u8; 16] = value[1..HEADER_BYTES]
        .try_into()
        .expect("the header holds 16 bytes of key id");
    Ok(Uuid::from_bytes(id))
}
