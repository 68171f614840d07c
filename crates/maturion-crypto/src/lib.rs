//! Envelope encryption of sensitive fields (spec §10.1).
//!
//! A module encrypts a field it declares sensitive with [`Keyring::encrypt`] inside its tenant
//! transaction and stores the bytes (`bytea`); [`Keyring::decrypt`] reads them back. Values are
//! AES-256-GCM-encrypted with a data key of the organisation (or of one data subject, whose
//! key can be destroyed on its own: [`Keyring::destroy_subject`]); data keys are stored only
//! wrapped by a [`MasterKey`] that lives outside the database (a key file or an environment
//! variable), in `maturion.data_keys`, which the runtime roles reach only through the
//! platform's functions for their own organisation. [`rotate`] gives keys older than 90 days a
//! new version and re-wraps every data key when the master key changes; [`status`] reports
//! their ages.
//!
//! Invariant: no key material and no plaintext is ever logged, printed or stored unwrapped.

mod cipher;
mod error;
mod keyring;
mod master;
mod rotation;

pub use error::CryptoError;
pub use keyring::{KeyOwner, Keyring};
pub use master::{
    MasterKey, MasterKeys, MASTER_KEY_FILE_VARIABLE, MASTER_KEY_VARIABLE,
    PREVIOUS_MASTER_KEY_FILE_VARIABLE,
};
pub use rotation::{rotate, status, KeyLine, KeyStatus, RotationReport, ROTATION_AGE};
