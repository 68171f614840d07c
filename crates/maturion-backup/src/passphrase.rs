//! The repository passphrase: read from a key file or the environment, kept out of
//! `Debug` output and logs.

use std::fmt;
use std::path::Path;

use crate::error::{io, BackupError};

pub const PASSPHRASE_FILE_VARIABLE: &str = "MATURION_BACKUP_PASSPHRASE_FILE";
pub const PASSPHRASE_VARIABLE: &str = "MATURION_BACKUP_PASSPHRASE";
/// The passphrase a rotation moves to, read the same way.
pub const NEW_PASSPHRASE_FILE_VARIABLE: &str = "MATURION_BACKUP_NEW_PASSPHRASE_FILE";
pub const NEW_PASSPHRASE_VARIABLE: &str = "MATURION_BACKUP_NEW_PASSPHRASE";
/// The repository key is derived from the passphrase: a short one is the weak link of
/// aes-256-cbc.
const MIN_LENGTH: usize = 16;

#[derive(Clone)]
pub struct Passphrase(String);

impl Passphrase {
    /// Trailing line breaks of a key file are not part of the passphrase.
    pub fn new(text: &str) -> Result<Self, BackupError> {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.chars().count() < MIN_LENGTH {
            return Err(BackupError::BadPassphrase("is shorter than 16 characters"));
        }
        if text.chars().any(char::is_control) {
            return Err(BackupError::BadPassphrase("holds control characters"));
        }
        if text.trim() != text {
            return Err(BackupError::BadPassphrase(
                "starts or ends with a space (pgBackRest's configuration would drop it)",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn from_file(path: &Path) -> Result<Self, BackupError> {
        let text = std::fs::read_to_string(path).map_err(io(format!("read {}", path.display())))?;
        Self::new(&text)
    }

    /// The key file named by `MATURION_BACKUP_PASSPHRASE_FILE` first, else
    /// `MATURION_BACKUP_PASSPHRASE`.
    pub fn from_environment() -> Result<Self, BackupError> {
        Self::from_variables(PASSPHRASE_FILE_VARIABLE, PASSPHRASE_VARIABLE)?
            .ok_or(BackupError::NoPassphrase)
    }

    /// The passphrase of a rotation: `MATURION_BACKUP_NEW_PASSPHRASE_FILE` first, else
    /// `MATURION_BACKUP_NEW_PASSPHRASE`.
    pub fn new_from_environment() -> Result<Self, BackupError> {
        Self::from_variables(NEW_PASSPHRASE_FILE_VARIABLE, NEW_PASSPHRASE_VARIABLE)?
            .ok_or(BackupError::NoNewPassphrase)
    }

    fn from_variables(file_variable: &str, variable: &str) -> Result<Option<Self>, BackupError> {
        if let Some(path) = std::env::var_os(file_variable) {
            return Self::from_file(Path::new(&path)).map(Some);
        }
        std::env::var(variable)
            .ok()
            .map(|text| Self::new(&text))
            .transpose()
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Passphrase(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_line_breaks_are_dropped() {
        let passphrase = Passphrase::new("correct horse battery staple\n").unwrap();
        assert_eq!(passphrase.expose(), "correct horse battery staple");
    }

    #[test]
    fn weak_or_unwritable_passphrases_are_refused() {
        assert!(Passphrase::new("short").is_err());
        assert!(Passphrase::new("sixteen chars ok\nsecond line").is_err());
        assert!(Passphrase::new(" leading space is lost").is_err());
    }

    #[test]
    fn debug_does_not_show_it() {
        let passphrase = Passphrase::new("do not print this one").unwrap();
        assert!(!format!("{passphrase:?}").contains("print"));
    }
}
