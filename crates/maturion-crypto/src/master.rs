//! The master key: 256 bits held outside the database, in a key file or an environment
//! variable (64 hexadecimal digits). It only wraps data keys; it never encrypts data itself.

use std::fmt;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// Names the file that holds the master key.
pub const MASTER_KEY_FILE_VARIABLE: &str = "MATURION_MASTER_KEY_FILE";
/// Holds the master key itself, when there is no file.
pub const MASTER_KEY_VARIABLE: &str = "MATURION_MASTER_KEY";
/// During a master key rotation: the key being replaced, still accepted to unwrap.
pub const PREVIOUS_MASTER_KEY_FILE_VARIABLE: &str = "MATURION_PREVIOUS_MASTER_KEY_FILE";

const KEY_BYTES: usize = 32;
/// A key file is a line of 64 hex digits; anything much longer is not one.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// A master key. `Debug` and `Display` show its fingerprint, never the key.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_BYTES]>,
    id: String,
}

impl MasterKey {
    /// From 64 hexadecimal digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let text = Zeroizing::new(text.trim().to_owned());
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        hex::decode_to_slice(text.as_bytes(), bytes.as_mut()).map_err(|_| {
            CryptoError::InvalidMasterKey(format!(
                "a master key is {} hexadecimal digits (make one with `openssl rand -hex 32`)",
                KEY_BYTES * 2
            ))
        })?;
        let id = fingerprint(bytes.as_ref());
        Ok(Self { bytes, id })
    }

    /// From a key file (which must be a regular file).
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        let unreadable = |reason: String| {
            CryptoError::InvalidMasterKey(format!("key file {}: {reason}", path.display()))
        };
        let metadata = fs::metadata(path).map_err(|error| unreadable(error.to_string()))?;
        if !metadata.is_file() {
            return Err(unreadable("not a regular file".to_owned()));
        }
        if metadata.len() > MAX_KEY_FILE_BYTES {
            return Err(unreadable("too large to be a key file".to_owned()));
        }
        let text = Zeroizing::new(
            fs::read_to_string(path).map_err(|error| unreadable(error.to_string()))?,
        );
        Self::from_hex(&text).map_err(|error| unreadable(error.to_string()))
    }

    /// From [`MASTER_KEY_FILE_VARIABLE`], else [`MASTER_KEY_VARIABLE`] (empty counts as unset).
    pub fn from_environment() -> Result<Self, CryptoError> {
        if let Some(path) = non_empty_variable(MASTER_KEY_FILE_VARIABLE) {
            return Self::from_file(Path::new(&path));
        }
        match non_empty_variable(MASTER_KEY_VARIABLE) {
            Some(text) => Self::from_hex(&Zeroizing::new(text)),
            None => Err(CryptoError::NoMasterKey),
        }
    }

    /// The fingerprint stored with every key it wraps: the first 64 bits of a SHA-256 of the
    /// key under a label of its own, which tells which key wrapped a data key and reveals
    /// nothing of it.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

impl fmt::Display for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "master key {}", self.id)
    }
}

/// The master key data keys are wrapped with, and during a rotation the one it replaces,
/// still accepted to unwrap what it wrapped.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    pub current: MasterKey,
    pub previous: Option<MasterKey>,
}

impl MasterKeys {
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// The current key from the environment, and the previous one when
    /// [`PREVIOUS_MASTER_KEY_FILE_VARIABLE`] names a file.
    pub fn from_environment() -> Result<Self, CryptoError> {
        let previous = non_empty_variable(PREVIOUS_MASTER_KEY_FILE_VARIABLE)
            .map(|path| MasterKey::from_file(Path::new(&path)))
            .transpose()?;
        Ok(Self {
            current: MasterKey::from_environment()?,
            previous,
        })
    }

    /// The key whose fingerprint is `id`.
    pub(crate) fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id() == id)
    }
}

fn fingerprint(key: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"maturion master key fingerprint\0")
        .chain_update(key)
        .finalize();
    hex::encode(&digest[..8])
}

fn non_empty_variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parses_hex_and_never_shows_the_key() {
        let key = MasterKey::from_hex(&format!(" {KEY}\n")).unwrap();
        assert_eq!(key.id().len(), 16);
        let shown = format!("{key:?} {key}");
        assert!(!shown.contains(KEY) && !shown.contains("0102"), "{shown}");
        assert_eq!(key.id(), MasterKey::from_hex(KEY).unwrap().id());
    }

    #[test]
    fn refuses_what_is_not_a_256_bit_key_without_repeating_it() {
        for text in [
            "",
            "00",
            &KEY[..62],
            &format!("{KEY}00"),
            &KEY.replace('0', "g"),
        ] {
            let error = MasterKey::from_hex(text).unwrap_err().to_string();
            assert!(error.contains("64 hexadecimal digits"), "{error}");
            assert!(text.is_empty() || !error.contains(text), "{error}");
        }
    }

    #[test]
    fn a_key_file_must_be_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(MasterKey::from_file(dir.path()).is_err());
        let big = dir.path().join("big");
        fs::write(&big, "0".repeat(4096)).unwrap();
        assert!(MasterKey::from_file(&big).is_err());
        let good = dir.path().join("master.key");
        fs::write(&good, format!("{KEY}\n")).unwrap();
        assert!(MasterKey::from_file(&good).is_ok());
    }
}
