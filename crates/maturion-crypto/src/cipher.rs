//! AES-256-GCM with a random 96-bit nonce per message, and associated data that binds each
//! ciphertext to where it belongs, so that a value moved to another organisation, field or key
//! line does not decrypt.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use uuid::Uuid;
use zeroize::Zeroizing;

pub(crate) const KEY_BYTES: usize = 32;
pub(crate) const NONCE_BYTES: usize = 12;
pub(crate) const TAG_BYTES: usize = 16;

/// A 256-bit key, wiped from memory when dropped.
pub(crate) type SecretKey = Zeroizing<[u8; KEY_BYTES]>;

pub(crate) fn new_key() -> SecretKey {
    let generated = Aes256Gcm::generate_key(OsRng);
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    key.copy_from_slice(&generated);
    key
}

/// `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn seal(key: &[u8; KEY_BYTES], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encrypts any message shorter than 64 GiB");
    let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// `None` when the tag does not verify (another key, other associated data, altered bytes).
pub(crate) fn open(key: &[u8; KEY_BYTES], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let (nonce, rest) = sealed.split_at(NONCE_BYTES);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: rest, aad })
        .ok()
}

/// What a wrapped data key is bound to: its organisation, subject (nil for the
/// organisation's own key) and version.
pub(crate) fn wrapping_aad(organisation: Uuid, subject: Option<Uuid>, version: i32) -> Vec<u8> {
    let mut aad = b"maturion data key\0".to_vec();
    aad.extend_from_slice(organisation.as_bytes());
    aad.extend_from_slice(subject.unwrap_or(Uuid::nil()).as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// What an encrypted field is bound to: its organisation, the key and the field's name.
pub(crate) fn field_aad(organisation: Uuid, key: Uuid, field: &str) -> Vec<u8> {
    let mut aad = b"maturion field\0".to_vec();
    aad.extend_from_slice(organisation.as_bytes());
    aad.extend_from_slice(key.as_bytes());
    aad.extend_from_slice(field.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_same_key_and_associated_data() {
        let key = new_key();
        let sealed = seal(&key, b"here", b"secret");
        assert_eq!(
            open(&key, b"here", &sealed).as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(open(&key, b"there", &sealed), None);
        assert_eq!(open(&new_key(), b"here", &sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&key, b"here", &altered), None);
        assert_eq!(open(&key, b"here", &sealed[..10]), None);
        assert_ne!(
            seal(&key, b"here", b"secret"),
            sealed,
            "a fresh nonce each time"
        );
    }
}
