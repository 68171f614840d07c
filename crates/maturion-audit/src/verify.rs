//! The verifier: recomputes every row hash, organisation digest and seal digest in Rust and
//! reports each break with where it is. Reads in one REPEATABLE READ snapshot, so a sealer or
//! writers running meanwhile do not make it see a half-made seal.

use std::collections::HashMap;
use std::fmt::Write as _;

use maturion_tenancy::OrganisationId;
use serde::Serialize;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::canonical::{
    self, parse_index, retention_text, seal_digest, AuditRow, Hash, OrganisationDigest, SealFields,
    GENESIS, ROW_SELECT,
};
use crate::seal::{head, not_installed, require_bypass, ChainHead};
use crate::AuditError;

/// Seals are checked a window at a time: rows of about this many are held in memory at once.
const WINDOW_ROWS: i64 = 200_000;
/// Breaks listed in a report (all are counted).
const LISTED_BREAKS: usize = 100;

/// What kind of link is broken. Serialised in kebab-case; scripts may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakKind {
    /// Seal numbers skip or repeat: a seal was removed or inserted.
    SequenceGap,
    /// A seal's previous_digest is not the digest of the seal before it.
    BrokenLink,
    /// A seal's transaction range does not start where the previous one ended.
    RangeGap,
    /// A seal's stored digest does not match its contents.
    SealDigest,
    /// An organisation's row index in a seal does not match its stored digest or count.
    OrganisationIndex,
    /// A sealed row's content differs from what was sealed.
    RowChanged,
    /// A sealed row is gone, and no retention record covers it.
    RowMissing,
    /// A row lies in a sealed transaction range but was not sealed: inserted afterwards.
    RowInserted,
    /// A retention record does not match the rows it claims to have removed.
    RetentionMismatch,
    /// A row without transaction id, which no seal can cover.
    UnsealableRow,
    /// A row claims a transaction id that has not been assigned yet.
    FutureTransaction,
    /// A seal digest kept outside the database (an anchor) no longer matches: the chain
    /// itself was rewritten or cut.
    AnchorMismatch,
}

/// A seal digest kept outside the database, e.g. printed by `maturion audit seal` into a
/// ticket or a write-once store: `SEQ:HEX`. A superuser can rewrite the whole chain from a
/// tampered row onwards and keep it self-consistent; an anchor shows that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub digest: Vec<u8>,
}

impl std::str::FromStr for Anchor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parse = || {
            let (seq, digest) = text.trim().split_once(':')?;
            let digest = hex::decode(digest).ok().filter(|d| d.len() == 32)?;
            Some(Anchor {
                seq: seq.parse().ok().filter(|s| *s > 0)?,
                digest,
            })
        };
        parse().ok_or_else(|| {
            format!("anchor {text:?} is not SEQ:DIGEST (a seal number and 64 hex digits)")
        })
    }
}

/// Where a row is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowLocation {
    pub id: Uuid,
    /// RFC 3339, microseconds, UTC.
    pub timestamp: String,
    pub organisation_id: Uuid,
    /// Unknown for a row that is gone.
    pub transaction_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub kind: BreakKind,
    /// The seal the break is in; None for rows beyond the chain.
    pub seal: Option<i64>,
    pub row: Option<RowLocation>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The organisation whose rows were checked; None: all of them.
    pub organisation_id: Option<Uuid>,
    pub seals: usize,
    /// Sealed rows found intact.
    pub rows_verified: i64,
    /// Sealed rows removed by retention, on the record.
    pub rows_expired: i64,
    /// Rows written after the last seal (not a break: the next seal covers them).
    pub rows_unsealed: i64,
    pub head: Option<ChainHead>,
    pub intact: bool,
    pub break_count: usize,
    /// The first breaks in chain order (at most 100); the first one is the first broken link.
    pub breaks: Vec<Break>,
    /// Things that are not breaks but weaken the check.
    pub warnings: Vec<String>,
}

impl VerifyReport {
    pub fn first_break(&self) -> Option<&Break> {
        self.breaks.first()
    }

    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let scope = match self.organisation_id {
            Some(id) => format!("organisation {id}"),
            None => "all organisations".to_owned(),
        };
        let _ = writeln!(
            out,
            "audit chain ({scope}): {} seal(s), {} sealed row(s) intact, {} expired by retention, {} not sealed yet",
            self.seals, self.rows_verified, self.rows_expired, self.rows_unsealed
        );
        if let Some(head) = &self.head {
            let _ = writeln!(
                out,
                "head: seal {} digest {} sealed at {}",
                head.seq, head.digest, head.sealed_at
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        if self.intact {
            let _ = writeln!(out, "intact: every sealed row and seal matches its digest");
            return out;
        }
        let _ = writeln!(out, "BROKEN: {} break(s)", self.break_count);
        for (n, b) in self.breaks.iter().enumerate() {
            let label = if n == 0 { "first broken link" } else { "then" };
            let _ = writeln!(out, "  {label}: {}", describe(b));
        }
        if self.break_count > self.breaks.len() {
            let _ = writeln!(out, "  … and {} more", self.break_count - self.breaks.len());
        }
        out
    }
}

fn describe(b: &Break) -> String {
    let seal = b
        .seal
        .map_or_else(|| "after the last seal".to_owned(), |s| format!("seal {s}"));
    match &b.row {
        Some(row) => format!(
            "{seal}, row {} at {} (organisation {}{}): {}",
            row.id,
            row.timestamp,
            row.organisation_id,
            row.transaction_id
                .map(|t| format!(", transaction {t}"))
                .unwrap_or_default(),
            b.message
        ),
        None => format!("{seal}: {}", b.message),
    }
}

struct Seal {
    seq: i64,
    sealed_at: i64,
    xid_from: i64,
    xid_to: i64,
    row_count: i64,
    previous_digest: Vec<u8>,
    digest: Vec<u8>,
}

struct Retention {
    seal_seq: i64,
    text: String,
    range_from: i64,
    range_to: i64,
    row_count: i64,
    partition_name: String,
    expired: i64,
}

/// A row a seal lists.
struct Expected {
    seal: i64,
    organisation_id: Uuid,
    hash: Hash,
}

/// Checks the whole chain, or (with `organisation`) the chain's seal digests plus every row of
/// that organisation. `client` must read every organisation's rows (superuser, or after
/// `SET ROLE maturion_maintenance`) and must not be inside a transaction.
pub async fn verify(
    client: &Client,
    organisation: Option<OrganisationId>,
) -> Result<VerifyReport, AuditError> {
    verify_anchored(client, organisation, &[]).await
}

/// [`verify`], and each anchor's seal must still have the anchored digest.
pub async fn verify_anchored(
    client: &Client,
    organisation: Option<OrganisationId>,
    anchors: &[Anchor],
) -> Result<VerifyReport, AuditError> {
    require_bypass(client, "the verifier").await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let outcome = verify_in_snapshot(client, organisation.map(|o| o.as_uuid()), anchors).await;
    client
        .batch_execute(if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })
        .await?;
    outcome
}

async fn verify_in_snapshot(
    client: &Client,
    organisation: Option<Uuid>,
    anchors: &[Anchor],
) -> Result<VerifyReport, AuditError> {
    let mut warnings = Vec::new();
    check_columns(client, &mut warnings).await?;
    let seals = load_seals(client).await?;
    let mut retentions = load_retentions(client).await?;

    let mut breaks = Vec::new();
    check_anchors(&seals, anchors, &mut breaks);
    check_retentions_belong_to_seals(&seals, &retentions, &mut breaks);
    let chain = check_chain(client, &seals, organisation, &mut retentions).await?;
    breaks.extend(chain.breaks);
    let rows_unsealed = check_unsealed(
        client,
        seals.last().map_or(0, |s| s.xid_to),
        organisation,
        &mut breaks,
    )
    .await?;
    // Only a check of every organisation sees all the rows a retention record counts.
    if organisation.is_none() {
        check_retention_counts(&retentions, &mut breaks);
    }

    sort_in_chain_order(&mut breaks);
    let break_count = breaks.len();
    breaks.truncate(LISTED_BREAKS);
    Ok(VerifyReport {
        organisation_id: organisation,
        seals: seals.len(),
        rows_verified: chain.rows_verified,
        rows_expired: chain.rows_expired,
        rows_unsealed,
        head: head(client).await?,
        intact: break_count == 0,
        break_count,
        breaks,
        warnings,
    })
}

async fn load_seals(client: &Client) -> Result<Vec<Seal>, AuditError> {
    Ok(client
        .query(
            &format!(
                "SELECT seq, {}, xid_from, xid_to, row_count, previous_digest, digest \
                 FROM maturion.audit_seals ORDER BY seq",
                micros("sealed_at")
            ),
            &[],
        )
        .await
        .map_err(not_installed)?
        .iter()
        .map(|r| Seal {
            seq: r.get(0),
            sealed_at: r.get(1),
            xid_from: r.get(2),
            xid_to: r.get(3),
            row_count: r.get(4),
            previous_digest: r.get(5),
            digest: r.get(6),
        })
        .collect())
}

async fn load_retentions(client: &Client) -> Result<Vec<Retention>, AuditError> {
    Ok(client
        .query(
            &format!(
                "SELECT seal_seq, partition_name, {}, {}, row_count, last_seal_digest, removed_by \
                 FROM maturion.audit_retention_log ORDER BY seal_seq",
                micros("range_from"),
                micros("range_to")
            ),
            &[],
        )
        .await
        .map_err(not_installed)?
        .iter()
        .map(|r| {
            let (partition_name, range_from, range_to, row_count): (String, i64, i64, i64) =
                (r.get(1), r.get(2), r.get(3), r.get(4));
            let last: Vec<u8> = r.get(5);
            let removed_by: String = r.get(6);
            Retention {
                seal_seq: r.get(0),
                text: retention_text(
                    &partition_name,
                    range_from,
                    range_to,
                    row_count,
                    &last,
                    &removed_by,
                ),
                range_from,
                range_to,
                row_count,
                partition_name,
                expired: 0,
            }
        })
        .collect())
}

fn check_anchors(seals: &[Seal], anchors: &[Anchor], breaks: &mut Vec<Break>) {
    for anchor in anchors {
        let message = match seals.iter().find(|s| s.seq == anchor.seq) {
            None => Some(format!(
                "the anchored seal {} is gone: the chain was cut or rewritten",
                anchor.seq
            )),
            Some(seal) if seal.digest != anchor.digest => Some(format!(
                "digest {} differs from the anchored {}: the chain was rewritten",
                short(&seal.digest),
                short(&anchor.digest)
            )),
            Some(_) => None,
        };
        if let Some(message) = message {
            breaks.push(seal_break(anchor.seq, BreakKind::AnchorMismatch, message));
        }
    }
}

fn check_retentions_belong_to_seals(
    seals: &[Seal],
    retentions: &[Retention],
    breaks: &mut Vec<Break>,
) {
    for r in retentions {
        if !seals.iter().any(|s| s.seq == r.seal_seq) {
            breaks.push(seal_break(
                r.seal_seq,
                BreakKind::RetentionMismatch,
                format!(
                    "retention record of {} names seal {}, which does not exist",
                    r.partition_name, r.seal_seq
                ),
            ));
        }
    }
}

/// Each retention record must count as many removed rows as the seals list in its range.
fn check_retention_counts(retentions: &[Retention], breaks: &mut Vec<Break>) {
    for r in retentions {
        if r.expired != r.row_count {
            breaks.push(seal_break(
                r.seal_seq,
                BreakKind::RetentionMismatch,
                format!(
                    "{} was removed with {} row(s), but the seals list {} row(s) in its range [{}, {})",
                    r.partition_name,
                    r.row_count,
                    r.expired,
                    rfc3339(r.range_from),
                    rfc3339(r.range_to)
                ),
            ));
        }
    }
}

/// Chain order: by seal (rows beyond the chain last), then kind, then row. The sort is stable,
/// so breaks that tie keep the order they were found in.
fn sort_in_chain_order(breaks: &mut [Break]) {
    breaks.sort_by(|a, b| {
        let key = |b: &Break| {
            (
                b.seal.unwrap_or(i64::MAX),
                b.kind,
                b.row.as_ref().map(|r| (r.timestamp.clone(), r.id)),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// A break in a seal as a whole, not in one of its rows.
fn seal_break(seal: i64, kind: BreakKind, message: String) -> Break {
    Break {
        kind,
        seal: Some(seal),
        row: None,
        message,
    }
}

/// Format v1 covers a fixed set of columns: a missing one makes hashes meaningless, an extra
/// one goes unprotected.
async fn check_columns(client: &Client, warnings: &mut Vec<String>) -> Result<(), AuditError> {
    let columns: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_catalog.pg_attribute \
             WHERE attrelid = to_regclass('public.audit_log') AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(missing) = canonical::COLUMNS
        .iter()
        .find(|c| !columns.iter().any(|have| have == *c))
    {
        return Err(AuditError::NotInstalled(format!(
            "audit_log has no column {missing}"
        )));
    }
    for extra in columns
        .iter()
        .filter(|c| !canonical::COLUMNS.contains(&c.as_str()))
    {
        warnings.push(format!(
            "audit_log.{extra} is not covered by the seal format (v1): changes to it are not detected"
        ));
    }
    Ok(())
}

/// What checking seals and their rows found: for one window, or summed over the chain.
#[derive(Default)]
struct WindowOutcome {
    breaks: Vec<Break>,
    rows_verified: i64,
    rows_expired: i64,
}

/// Checks every seal and its rows, a window of seals at a time.
async fn check_chain(
    client: &Client,
    seals: &[Seal],
    organisation: Option<Uuid>,
    retentions: &mut [Retention],
) -> Result<WindowOutcome, AuditError> {
    let mut chain = WindowOutcome::default();
    let mut previous: Option<&Seal> = None;
    let mut start = 0;
    while start < seals.len() {
        let end = window_end(seals, start);
        let window = &seals[start..end];
        let outcome = check_window(client, window, previous, organisation, retentions).await?;
        chain.breaks.extend(outcome.breaks);
        chain.rows_verified += outcome.rows_verified;
        chain.rows_expired += outcome.rows_expired;
        previous = window.last();
        start = end;
    }
    Ok(chain)
}

/// Where the window that starts at `start` ends: at least one seal, and more while their rows
/// add up to at most [`WINDOW_ROWS`].
fn window_end(seals: &[Seal], start: usize) -> usize {
    let mut end = start + 1;
    let mut rows = seals[start].row_count;
    while end < seals.len() && rows + seals[end].row_count <= WINDOW_ROWS {
        rows += seals[end].row_count;
        end += 1;
    }
    end
}

async fn check_window(
    client: &Client,
    window: &[Seal],
    previous: Option<&Seal>,
    organisation: Option<Uuid>,
    retentions: &mut [Retention],
) -> Result<WindowOutcome, AuditError> {
    let mut outcome = WindowOutcome::default();
    let (first, last) = (window[0].seq, window[window.len() - 1].seq);
    let summaries = organisation_summaries(client, first, last).await?;
    check_seals(
        window,
        previous,
        &summaries,
        retentions,
        &mut outcome.breaks,
    );
    let mut expected =
        sealed_rows(client, (first, last), organisation, &mut outcome.breaks).await?;
    check_rows_in_range(client, window, organisation, &mut expected, &mut outcome).await?;
    account_for_missing(expected, retentions, &mut outcome);
    Ok(outcome)
}

/// What each seal in `first..=last` says about each organisation (without the row indexes).
async fn organisation_summaries(
    client: &Client,
    first: i64,
    last: i64,
) -> Result<HashMap<i64, Vec<OrganisationDigest>>, AuditError> {
    let mut summaries: HashMap<i64, Vec<OrganisationDigest>> = HashMap::new();
    for row in client
        .query(
            "SELECT seal_seq, organisation_id, row_count, digest FROM maturion.audit_seal_organisations \
             WHERE seal_seq BETWEEN $1 AND $2",
            &[&first, &last],
        )
        .await?
    {
        let digest: Vec<u8> = row.get(3);
        summaries.entry(row.get(0)).or_default().push(OrganisationDigest {
            organisation_id: row.get(1),
            row_count: row.get(2),
            digest: digest.as_slice().try_into().unwrap_or([0; 32]),
        });
    }
    Ok(summaries)
}

/// The seals themselves, in chain order: their links and their digests.
fn check_seals<'a>(
    window: &'a [Seal],
    mut previous: Option<&'a Seal>,
    summaries: &HashMap<i64, Vec<OrganisationDigest>>,
    retentions: &[Retention],
    breaks: &mut Vec<Break>,
) {
    for seal in window {
        let organisations = summaries
            .get(&seal.seq)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let retention = retentions
            .iter()
            .find(|r| r.seal_seq == seal.seq)
            .map(|r| r.text.as_str());
        check_link(seal, previous, breaks);
        check_seal_digest(seal, organisations, retention, breaks);
        previous = Some(seal);
    }
}

/// The seal follows the one before: next number, its digest, and its transaction range.
fn check_link(seal: &Seal, previous: Option<&Seal>, breaks: &mut Vec<Break>) {
    let expected_seq = previous.map_or(1, |p| p.seq + 1);
    if seal.seq != expected_seq {
        breaks.push(seal_break(
            seal.seq,
            BreakKind::SequenceGap,
            format!("expected seal {expected_seq} here, found seal {}", seal.seq),
        ));
    }
    let expected_previous = previous.map_or(&GENESIS[..], |p| &p.digest[..]);
    if seal.previous_digest != expected_previous {
        breaks.push(seal_break(
            seal.seq,
            BreakKind::BrokenLink,
            format!(
                "previous_digest {} is not the digest {} of the seal before",
                short(&seal.previous_digest),
                short(expected_previous)
            ),
        ));
    }
    if let Some(p) = previous {
        if seal.xid_from != p.xid_to {
            breaks.push(seal_break(
                seal.seq,
                BreakKind::RangeGap,
                format!(
                    "covers transactions from {} but the seal before ended at {}",
                    seal.xid_from, p.xid_to
                ),
            ));
        }
    }
}

/// The seal's stored digest matches its contents, and its organisations add up to its count.
fn check_seal_digest(
    seal: &Seal,
    organisations: &[OrganisationDigest],
    retention: Option<&str>,
    breaks: &mut Vec<Break>,
) {
    let recomputed = seal_digest(&SealFields {
        seq: seal.seq,
        sealed_at: seal.sealed_at,
        previous_digest: &seal.previous_digest,
        xid_from: seal.xid_from,
        xid_to: seal.xid_to,
        row_count: seal.row_count,
        organisations,
        retention,
    });
    if seal.digest != recomputed {
        breaks.push(seal_break(
            seal.seq,
            BreakKind::SealDigest,
            format!(
                "stored digest {} does not match its contents (recomputed {}): the seal, its organisation \
                 digests or its retention record were altered",
                short(&seal.digest),
                short(&recomputed)
            ),
        ));
    }
    let listed: i64 = organisations.iter().map(|o| o.row_count).sum();
    if listed != seal.row_count {
        breaks.push(seal_break(
            seal.seq,
            BreakKind::SealDigest,
            format!(
                "seal counts {} rows but its organisations list {listed}",
                seal.row_count
            ),
        ));
    }
}

/// The sealed rows each seal in `first..=last` lists (for one organisation, or all), by id and
/// timestamp. An index that does not match its digest or count is a break, and lists nothing.
async fn sealed_rows(
    client: &Client,
    (first, last): (i64, i64),
    organisation: Option<Uuid>,
    breaks: &mut Vec<Break>,
) -> Result<HashMap<(Uuid, i64), Expected>, AuditError> {
    let mut expected: HashMap<(Uuid, i64), Expected> = HashMap::new();
    for row in organisation_indexes(client, (first, last), organisation).await? {
        let (seal, organisation_id, row_count): (i64, Uuid, i64) =
            (row.get(0), row.get(1), row.get(2));
        let index: Vec<u8> = row.get(3);
        let digest: Vec<u8> = row.get(4);
        let entries = parse_index(&index).filter(|e| e.len() as i64 == row_count);
        if digest != canonical::sha256(&index) || entries.is_none() {
            breaks.push(seal_break(
                seal,
                BreakKind::OrganisationIndex,
                format!(
                    "the row index of organisation {organisation_id} does not match its digest or count: \
                     rows of this organisation in this seal cannot be located"
                ),
            ));
        }
        for entry in entries.unwrap_or_default() {
            expected.insert(
                (entry.id, entry.timestamp),
                Expected {
                    seal,
                    organisation_id,
                    hash: entry.hash,
                },
            );
        }
    }
    Ok(expected)
}

/// The row indexes of the seals in `first..=last` (for one organisation, or all).
async fn organisation_indexes(
    client: &Client,
    (first, last): (i64, i64),
    organisation: Option<Uuid>,
) -> Result<Vec<tokio_postgres::Row>, AuditError> {
    Ok(match organisation {
        Some(o) => {
            client
                .query(
                    "SELECT seal_seq, organisation_id, row_count, row_index, digest FROM maturion.audit_seal_organisations \
                     WHERE seal_seq BETWEEN $1 AND $2 AND organisation_id = $3",
                    &[&first, &last, &o],
                )
                .await?
        }
        None => {
            client
                .query(
                    "SELECT seal_seq, organisation_id, row_count, row_index, digest FROM maturion.audit_seal_organisations \
                     WHERE seal_seq BETWEEN $1 AND $2",
                    &[&first, &last],
                )
                .await?
        }
    })
}

/// The rows in the window's transaction range, each matched against (and taken out of) the
/// rows the seals list.
async fn check_rows_in_range(
    client: &Client,
    window: &[Seal],
    organisation: Option<Uuid>,
    expected: &mut HashMap<(Uuid, i64), Expected>,
    outcome: &mut WindowOutcome,
) -> Result<(), AuditError> {
    let (lo, hi) = (window[0].xid_from, window[window.len() - 1].xid_to);
    let sql = format!(
        "SELECT {ROW_SELECT} FROM public.audit_log a WHERE a.transaction_id >= $1 AND a.transaction_id < $2{}",
        if organisation.is_some() { " AND a.organisation_id = $3" } else { "" }
    );
    let rows = match organisation {
        Some(o) => client.query(&sql, &[&lo, &hi, &o]).await?,
        None => client.query(&sql, &[&lo, &hi]).await?,
    };
    for row in rows {
        let row = AuditRow::from_row(&row)?;
        match expected.remove(&(row.id, row.timestamp)) {
            None => outcome.breaks.push(inserted_after_sealing(&row, window)),
            Some(sealed) => match changed_since_sealing(&row, &sealed) {
                Some(changed) => outcome.breaks.push(changed),
                None => outcome.rows_verified += 1,
            },
        }
    }
    Ok(())
}

/// A row in the window's range that no seal lists.
fn inserted_after_sealing(row: &AuditRow, window: &[Seal]) -> Break {
    let txid = row.transaction_id.expect("selected by transaction_id");
    // Ranges ascend along the chain (where they do not, a break is reported already).
    let candidate = window.partition_point(|s| s.xid_to <= txid);
    let sealing = window
        .get(candidate)
        .filter(|s| s.xid_from <= txid)
        .map(|s| s.seq);
    Break {
        kind: BreakKind::RowInserted,
        seal: sealing,
        row: Some(location(row)),
        message: format!(
            "not sealed, yet its transaction {txid} lies in {}: inserted after sealing",
            sealing.map_or_else(
                || "a sealed range".to_owned(),
                |s| format!("the range of seal {s}")
            )
        ),
    }
}

/// The break if a sealed row is not what was sealed.
fn changed_since_sealing(row: &AuditRow, sealed: &Expected) -> Option<Break> {
    let now = row.hash();
    if now == sealed.hash && sealed.organisation_id == row.organisation_id {
        return None;
    }
    Some(Break {
        kind: BreakKind::RowChanged,
        seal: Some(sealed.seal),
        row: Some(location(row)),
        message: if sealed.organisation_id != row.organisation_id {
            format!(
                "sealed under organisation {}, now under another",
                sealed.organisation_id
            )
        } else {
            format!(
                "content changed since sealing (sealed hash {}, now {})",
                short(&sealed.hash),
                short(&now)
            )
        },
    })
}

/// Listed but gone: removed by retention on the record, or deleted.
fn account_for_missing(
    expected: HashMap<(Uuid, i64), Expected>,
    retentions: &mut [Retention],
    outcome: &mut WindowOutcome,
) {
    for ((id, timestamp), sealed) in expected {
        let covering = retentions.iter_mut().find(|r| {
            r.seal_seq > sealed.seal && r.range_from <= timestamp && timestamp < r.range_to
        });
        match covering {
            Some(retention) => {
                retention.expired += 1;
                outcome.rows_expired += 1;
            }
            None => outcome.breaks.push(Break {
                kind: BreakKind::RowMissing,
                seal: Some(sealed.seal),
                row: Some(RowLocation {
                    id,
                    timestamp: rfc3339(timestamp),
                    organisation_id: sealed.organisation_id,
                    transaction_id: None,
                }),
                message: "sealed, now missing: deleted (no retention record covers it)".to_owned(),
            }),
        }
    }
}

/// Rows beyond the chain: fine if their transaction could still be sealed, a break if no seal
/// can ever cover them. Returns how many rows wait for the next seal.
async fn check_unsealed(
    client: &Client,
    sealed_to: i64,
    organisation: Option<Uuid>,
    breaks: &mut Vec<Break>,
) -> Result<i64, AuditError> {
    let next_xid: i64 = client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await?
        .get(0);
    let count = count_unsealed(client, (sealed_to, next_xid), organisation).await?;
    for row in unsealable_rows(client, next_xid, organisation).await? {
        let row = AuditRow::from_row(&row)?;
        let (kind, message) = match row.transaction_id {
            None => (BreakKind::UnsealableRow, "has no transaction id, so no seal can cover it: written around the trigger".to_owned()),
            Some(t) => (
                BreakKind::FutureTransaction,
                format!("claims transaction {t}, which has not been assigned yet (next is {next_xid}): forged"),
            ),
        };
        breaks.push(Break {
            kind,
            seal: None,
            row: Some(location(&row)),
            message,
        });
    }
    Ok(count)
}

/// Rows whose transaction lies after the chain but could still be sealed.
async fn count_unsealed(
    client: &Client,
    (sealed_to, next_xid): (i64, i64),
    organisation: Option<Uuid>,
) -> Result<i64, AuditError> {
    let count = match organisation {
        Some(o) => {
            client
                .query_one(
                    "SELECT count(*) FROM public.audit_log a \
                     WHERE a.transaction_id >= $1 AND a.transaction_id < $2 AND a.organisation_id = $3",
                    &[&sealed_to, &next_xid, &o],
                )
                .await?
        }
        None => {
            client
                .query_one(
                    "SELECT count(*) FROM public.audit_log a WHERE a.transaction_id >= $1 AND a.transaction_id < $2",
                    &[&sealed_to, &next_xid],
                )
                .await?
        }
    };
    Ok(count.get(0))
}

/// The first rows no seal can ever cover: without a transaction id, or with one not assigned yet.
async fn unsealable_rows(
    client: &Client,
    next_xid: i64,
    organisation: Option<Uuid>,
) -> Result<Vec<tokio_postgres::Row>, AuditError> {
    Ok(match organisation {
        Some(o) => {
            client
                .query(
                    &format!(
                        "SELECT {ROW_SELECT} FROM public.audit_log a \
                         WHERE (a.transaction_id IS NULL OR a.transaction_id >= $1) AND a.organisation_id = $2 \
                         LIMIT {LISTED_BREAKS}"
                    ),
                    &[&next_xid, &o],
                )
                .await?
        }
        None => {
            client
                .query(
                    &format!(
                        "SELECT {ROW_SELECT} FROM public.audit_log a \
                         WHERE a.transaction_id IS NULL OR a.transaction_id >= $1 LIMIT {LISTED_BREAKS}"
                    ),
                    &[&next_xid],
                )
                .await?
        }
    })
}

fn location(row: &AuditRow) -> RowLocation {
    RowLocation {
        id: row.id,
        timestamp: rfc3339(row.timestamp),
        organisation_id: row.organisation_id,
        transaction_id: row.transaction_id,
    }
}

/// SQL for a timestamptz column as microseconds since the Unix epoch, whatever the session's
/// time zone (the same arithmetic as maturion.audit_micros, written out so as not to call it).
fn micros(column: &str) -> String {
    format!(
        "(extract(epoch FROM {column} - timestamptz '1970-01-01 00:00:00+00') * 1000000)::bigint"
    )
}

fn short(bytes: &[u8]) -> String {
    let mut text = hex::encode(&bytes[..bytes.len().min(8)]);
    text.push('…');
    text
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || format!("{micros} µs"),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}
