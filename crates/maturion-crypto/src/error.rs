use uuid::Uuid;

/// Why a key could not be loaded, made or used. Messages never carry key material or
/// plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "no master key: set MATURION_MASTER_KEY_FILE to a key file (64 hexadecimal digits, e.g. \
         from `openssl rand -hex 32`, readable by this service only) or MATURION_MASTER_KEY"
    )]
    NoMasterKey,

    #[error("invalid master key: {0}")]
    InvalidMasterKey(String),

    #[error(
        "data key {key} was wrapped by master key {wrapped_by}, which is not the one configured \
         ({configured}): the wrong master key, or one rotated away"
    )]
    WrongMasterKey {
        key: Uuid,
        wrapped_by: String,
        configured: String,
    },

    #[error("data key {0} does not unwrap: it was altered, or wrapped for another key line")]
    CorruptDataKey(Uuid),

    #[error(
        "data key {0} was destroyed (right to be forgotten): what it encrypted cannot be read"
    )]
    KeyDestroyed(Uuid),

    #[error("the value was encrypted with data key {0}, which this organisation does not hold")]
    UnknownKey(Uuid),

    #[error("not a value encrypted by maturion-crypto (wrong format or truncated)")]
    NotEncrypted,

    #[error("the value does not decrypt: altered, or encrypted for another organisation or field")]
    Tampered,

    #[error("the transaction is bound to no organisation")]
    Unbound,

    #[error("another transaction added the same key version at once; try again")]
    Conflict,

    #[error(transparent)]
    Tenancy(#[from] maturion_tenancy::TenancyError),

    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}
