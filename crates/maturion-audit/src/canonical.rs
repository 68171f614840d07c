//! The canonical forms the seal chain hashes, computed here independently of the SQL functions
//! that the sealer uses (`maturion.audit_row_hash`, `maturion.audit_seal_digest`,
//! `maturion.audit_retention_text` in the audit migration). A verifier that called those
//! functions would trust code a superuser can replace; this one only trusts PostgreSQL's
//! built-in text output of `jsonb` and `inet`.
//!
//! Row (format v1): `maturion.audit_log.v1` followed by one field per column in table order;
//! a field is `n` for NULL, else `s<byte length>:<text>`. The timestamp is microseconds since
//! the Unix epoch; uuids are lower-case hyphenated; `changes` and `ip_address` are PostgreSQL's
//! text output. The row hash is SHA-256 of that text.

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub type Hash = [u8; 32];

/// Bytes of one row in a seal's `row_index`: id, timestamp, hash.
pub const INDEX_ENTRY_LEN: usize = 16 + 8 + 32;

/// The `previous_digest` of the first seal.
pub const GENESIS: Hash = [0; 32];

const ROW_FORMAT: &str = "maturion.audit_log.v1";
const SEAL_FORMAT: &[u8] = b"maturion.audit_seal.v1";
const RETENTION_FORMAT: &str = "maturion.audit_retention.v1";

/// The columns of `audit_log` that format v1 covers, in order. `verify` warns if the table
/// has others (a new column would not be protected until the format learns it).
pub const COLUMNS: [&str; 12] = [
    "id",
    "organisation_id",
    "timestamp",
    "user_id",
    "module",
    "entity_type",
    "entity_id",
    "action",
    "changes",
    "ip_address",
    "user_agent",
    "transaction_id",
];

/// The select list that reads an [`AuditRow`] (see [`AuditRow::from_row`]).
pub const ROW_SELECT: &str =
    "a.id, a.organisation_id, a.\"timestamp\", a.user_id, a.module, a.entity_type, \
     a.entity_id, a.action, a.changes::text, a.ip_address::text, a.user_agent, a.transaction_id";

/// One audit row, as the verifier reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// Microseconds since the Unix epoch.
    pub timestamp: i64,
    pub user_id: Option<Uuid>,
    pub module: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub action: String,
    /// PostgreSQL's text output of the jsonb value.
    pub changes: Option<String>,
    /// PostgreSQL's text output of the inet value.
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub transaction_id: Option<i64>,
}

impl AuditRow {
    /// Reads a row selected with [`ROW_SELECT`].
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, tokio_postgres::Error> {
        let timestamp: chrono::DateTime<chrono::Utc> = row.try_get(2)?;
        Ok(Self {
            id: row.try_get(0)?,
            organisation_id: row.try_get(1)?,
            timestamp: timestamp.timestamp_micros(),
            user_id: row.try_get(3)?,
            module: row.try_get(4)?,
            entity_type: row.try_get(5)?,
            entity_id: row.try_get(6)?,
            action: row.try_get(7)?,
            changes: row.try_get(8)?,
            ip_address: row.try_get(9)?,
            user_agent: row.try_get(10)?,
            transaction_id: row.try_get(11)?,
        })
    }

    pub fn canonical_text(&self) -> String {
        let mut text = String::from(ROW_FORMAT);
        field(&mut text, Some(&self.id.to_string()));
        field(&mut text, Some(&self.organisation_id.to_string()));
        field(&mut text, Some(&self.timestamp.to_string()));
        field(&mut text, self.user_id.map(|u| u.to_string()).as_deref());
        field(&mut text, Some(&self.module));
        field(&mut text, Some(&self.entity_type));
        field(&mut text, Some(&self.entity_id.to_string()));
        field(&mut text, Some(&self.action));
        field(&mut text, self.changes.as_deref());
        field(&mut text, self.ip_address.as_deref());
        field(&mut text, self.user_agent.as_deref());
        field(
            &mut text,
            self.transaction_id.map(|t| t.to_string()).as_deref(),
        );
        text
    }

    pub fn hash(&self) -> Hash {
        Sha256::digest(self.canonical_text().as_bytes()).into()
    }
}

/// Appends one field of a canonical text: `n` for NULL, else `s<byte length>:<text>`.
fn field(text: &mut String, value: Option<&str>) {
    match value {
        None => text.push('n'),
        Some(value) => {
            text.push('s');
            text.push_str(&value.len().to_string());
            text.push(':');
            text.push_str(value);
        }
    }
}

/// One sealed row in a seal's `row_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub id: Uuid,
    /// Microseconds since the Unix epoch.
    pub timestamp: i64,
    pub hash: Hash,
}

/// Splits a `row_index`; `None` if its length is not a whole number of entries.
pub fn parse_index(bytes: &[u8]) -> Option<Vec<IndexEntry>> {
    if !bytes.len().is_multiple_of(INDEX_ENTRY_LEN) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(INDEX_ENTRY_LEN)
            .map(|entry| IndexEntry {
                id: Uuid::from_slice(&entry[..16]).expect("16 bytes"),
                timestamp: i64::from_be_bytes(entry[16..24].try_into().expect("8 bytes")),
                hash: entry[24..].try_into().expect("32 bytes"),
            })
            .collect(),
    )
}

/// What a seal says about one organisation: its rows' count and the digest of its row_index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrganisationDigest {
    pub organisation_id: Uuid,
    pub row_count: i64,
    pub digest: Hash,
}

/// The fields of one seal that its digest covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealFields<'a> {
    pub seq: i64,
    /// Microseconds since the Unix epoch.
    pub sealed_at: i64,
    pub previous_digest: &'a [u8],
    pub xid_from: i64,
    pub xid_to: i64,
    pub row_count: i64,
    /// Any order: sorted by organisation id here, as the sealer does.
    pub organisations: &'a [OrganisationDigest],
    /// [`retention_text`] of the partition removal this seal records, if any.
    pub retention: Option<&'a str>,
}

/// The digest of a seal, as `maturion.audit_seal_digest` computes it.
pub fn seal_digest(seal: &SealFields<'_>) -> Hash {
    let mut organisations: Vec<&OrganisationDigest> = seal.organisations.iter().collect();
    organisations.sort_by_key(|o| o.organisation_id);
    let mut listed = Sha256::new();
    for o in organisations {
        listed.update(o.organisation_id.as_bytes());
        listed.update(o.row_count.to_be_bytes());
        listed.update(o.digest);
    }
    let mut digest = Sha256::new();
    digest.update(SEAL_FORMAT);
    digest.update(seal.seq.to_be_bytes());
    digest.update(seal.sealed_at.to_be_bytes());
    digest.update(seal.previous_digest);
    digest.update(seal.xid_from.to_be_bytes());
    digest.update(seal.xid_to.to_be_bytes());
    digest.update(seal.row_count.to_be_bytes());
    digest.update(listed.finalize());
    match seal.retention {
        None => digest.update([0u8]),
        Some(text) => {
            digest.update([1u8]);
            digest.update(Sha256::digest(text.as_bytes()));
        }
    }
    digest.finalize().into()
}

/// A partition removal as `maturion.audit_retention_text` writes it.
pub fn retention_text(
    partition_name: &str,
    range_from: i64,
    range_to: i64,
    row_count: i64,
    last_seal_digest: &[u8],
    removed_by: &str,
) -> String {
    let mut text = String::from(RETENTION_FORMAT);
    field(&mut text, Some(partition_name));
    field(&mut text, Some(&range_from.to_string()));
    field(&mut text, Some(&range_to.to_string()));
    field(&mut text, Some(&row_count.to_string()));
    field(&mut text, Some(&hex::encode(last_seal_digest)));
    field(&mut text, Some(removed_by));
    text
}

pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AuditRow {
        AuditRow {
            id: "0190c3a0-5b1e-7c3d-8e4f-0000000000a1".parse().unwrap(),
            organisation_id: "0190c3a0-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
            timestamp: 1_700_000_000_123_456,
            user_id: None,
            module: "platform".into(),
            entity_type: "users".into(),
            entity_id: "0190c3a0-5b1e-7c3d-8e4f-0000000000a1".parse().unwrap(),
            action: "viewed".into(),
            changes: Some(r#"{"a": "é|s3:x"}"#.into()),
            ip_address: Some("10.1.2.3".into()),
            user_agent: Some(String::new()),
            transaction_id: Some(2852),
        }
    }

    #[test]
    fn fields_are_length_prefixed_and_nulls_distinct() {
        let text = row().canonical_text();
        assert!(
            text.starts_with("maturion.audit_log.v1s36:0190c3a0-5b1e-7c3d-8e4f-0000000000a1"),
            "{text}"
        );
        // user_id NULL, then module; é counts two bytes; the empty user agent is not NULL.
        assert!(text.contains("s16:1700000000123456ns8:platform"), "{text}");
        assert!(text.contains(r#"s16:{"a": "é|s3:x"}"#), "{text}");
        assert!(text.ends_with("s8:10.1.2.3s0:s4:2852"), "{text}");
    }

    #[test]
    fn every_column_changes_the_hash() {
        let base = row().hash();
        let mut variants = Vec::new();
        let mut r = row();
        r.timestamp += 1;
        variants.push(r);
        let mut r = row();
        r.user_id = Some(r.id);
        variants.push(r);
        let mut r = row();
        r.user_agent = None;
        variants.push(r);
        let mut r = row();
        r.changes = Some(r#"{"a": "é|s3:y"}"#.into());
        variants.push(r);
        let mut r = row();
        r.transaction_id = None;
        variants.push(r);
        for variant in variants {
            assert_ne!(variant.hash(), base, "{variant:?}");
        }
    }

    /// Moving text between adjacent fields must not give the same canonical text.
    #[test]
    fn field_boundaries_cannot_shift() {
        let mut a = row();
        a.module = "ab".into();
        a.entity_type = "c".into();
        let mut b = row();
        b.module = "a".into();
        b.entity_type = "bc".into();
        assert_ne!(a.canonical_text(), b.canonical_text());
    }

    #[test]
    fn index_entries_round_trip() {
        let r = row();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(r.id.as_bytes());
        bytes.extend_from_slice(&r.timestamp.to_be_bytes());
        bytes.extend_from_slice(&r.hash());
        let entries = parse_index(&bytes).unwrap();
        assert_eq!(
            entries,
            [IndexEntry {
                id: r.id,
                timestamp: r.timestamp,
                hash: r.hash()
            }]
        );
        assert!(parse_index(&bytes[1..]).is_none());
    }

    #[test]
    fn seal_digest_ignores_organisation_order_but_not_content() {
        let o = |n: u8, rows: i64| OrganisationDigest {
            organisation_id: Uuid::from_bytes([n; 16]),
            row_count: rows,
            digest: [n; 32],
        };
        let seal = |organisations: &[OrganisationDigest], retention: Option<&str>| {
            seal_digest(&SealFields {
                seq: 1,
                sealed_at: 5,
                previous_digest: &GENESIS,
                xid_from: 0,
                xid_to: 10,
                row_count: 3,
                organisations,
                retention,
            })
        };
        assert_eq!(
            seal(&[o(1, 1), o(2, 2)], None),
            seal(&[o(2, 2), o(1, 1)], None)
        );
        assert_ne!(
            seal(&[o(1, 1), o(2, 2)], None),
            seal(&[o(1, 2), o(2, 1)], None)
        );
        assert_ne!(seal(&[], None), seal(&[], Some("")));
    }
}
