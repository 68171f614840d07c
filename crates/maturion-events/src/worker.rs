//! Consuming a subscription: claim organisation streams, hand their events to the handler,
//! move the cursors.
//!
//! Roles. The worker's own connection logs in as an administrator and becomes
//! `maturion_maintenance` (BYPASSRLS): it claims leases, reads the claimed events of every
//! organisation in one query, and acknowledges, in bulk, the streams whose handler did not
//! touch the database. A handler that writes asks its [`Delivery`] for the tenant transaction of
//! the event's organisation: a [`TenantTransaction`] on the application pool (`maturion_app`),
//! bound to that organisation as the platform's service (a binding the worker's second
//! maintenance session makes for that transaction, [`ServiceBinder`]; no user acts), so its
//! writes are under RLS for that organisation, and the cursor then moves inside that same
//! transaction, so it moves if and only if the writes commit. The acknowledgement functions are
//! SECURITY DEFINER and take the lease token, which only the claimer knows.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use maturion_config::ConnectionUrl;
use maturion_tenancy::{
    Database, OrganisationId, ServiceBinder, TenancyError, TenantContext, TenantTransaction,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use uuid::Uuid;

use crate::event::{Event, StoredTimestamp, UndecodableEvent, EVENT_COLUMNS};
use crate::listen::{self, Listener};
use crate::{subscription, EventError};

/// What a handler returns on failure; its text is kept as the delivery's last error.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// A subscription's event handler.
///
/// Events arrive in commit order per organisation, at least once (a handler with effects
/// outside the database can see an event again after a crash or a lost lease); a dead letter
/// that an operator replays arrives out of order. To write to the database, use
/// [`Delivery::transaction`]: what is written through it commits together with the cursor, or
/// not at all. Never commit or roll it back yourself.
pub trait Handler: Send + Sync {
    fn handle<'a>(
        &'a self,
        delivery: &'a mut Delivery,
        event: &'a Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;
}

/// The context of a batch of one organisation's events: the tenant transaction handlers write
/// through, opened on first use and shared by the batch.
pub struct Delivery {
    app: Database,
    context: TenantContext,
    durable: bool,
    tx: Option<TenantTransaction>,
}

impl Delivery {
    /// The organisation whose events these are.
    pub fn organisation_id(&self) -> OrganisationId {
        self.context.organisation_id
    }

    /// The tenant transaction of the events' organisation (as `maturion_app`, under RLS).
    pub async fn transaction(&mut self) -> Result<&TenantTransaction, TenancyError> {
        if self.tx.is_none() {
            let tx = self.app.transaction(&self.context).await?;
            if !self.durable {
                // See WorkerOptions::durable_acknowledgements.
                tx.execute("SET LOCAL synchronous_commit = off", &[])
                    .await?;
            }
            self.tx = Some(tx);
        }
        Ok(self.tx.as_ref().expect("opened above"))
    }
}

/// Tuning of a [`Worker`].
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Organisation streams leased per claim and processed concurrently (each needs a pooled
    /// connection).
    pub streams_per_claim: usize,
    /// Events handled per stream and lease, in one tenant transaction.
    pub max_events: usize,
    /// How long a lease lasts; a worker that dies loses its streams to others after this.
    pub lease: Duration,
    /// Dead letters queued for replay taken per claim.
    pub replays_per_claim: usize,
    /// Idle polling starts with this sleep and doubles it up to `poll_max`…
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// …until idle this long; then the worker sleeps on LISTEN (and only then do publishers
    /// NOTIFY, so busy systems never take the NOTIFY lock).
    pub listen_after: Duration,
    /// Longest sleep on LISTEN: the safety net for a wake-up lost in the announce race.
    pub listen_timeout: Duration,
    /// How often to look for organisations whose cursor is missing and to re-read the
    /// subscription's event types.
    pub discover_every: Duration,
    /// Whether the commit that moves the cursor (with the handler's writes) waits for the WAL
    /// flush. Off by default: a crash can then lose the last fraction of a second of
    /// acknowledgements, but always together with the writes that went with them, so those
    /// events are simply delivered again; at-least-once holds either way. Turn it on when a
    /// handler's database writes must be durable as soon as the handler returns.
    pub durable_acknowledgements: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            streams_per_claim: 4,
            max_events: 100,
            lease: Duration::from_secs(30),
            replays_per_claim: 2,
            poll_min: Duration::from_millis(1),
            poll_max: Duration::from_millis(4),
            // Short: at a trickle of events the worker sleeps on LISTEN and is woken at once;
            // only under steady load (an event at least every 50 ms) does it poll, and then
            // nobody NOTIFYs.
            listen_after: Duration::from_millis(50),
            listen_timeout: Duration::from_secs(2),
            discover_every: Duration::from_secs(10),
            durable_acknowledgements: false,
        }
    }
}

/// What one claim round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Streams and replays leased.
    pub leases: usize,
    /// Events handled successfully and acknowledged (replays included).
    pub delivered: usize,
    /// Failed deliveries that will be retried after a back-off.
    pub retried: usize,
    pub dead_lettered: usize,
    pub replayed: usize,
    /// Leases lost (expired and taken over) before acknowledging: nothing was committed.
    pub lost: usize,
}

impl Round {
    pub fn claimed_anything(&self) -> bool {
        self.leases > 0
    }

    fn add(&mut self, other: Round) {
        self.leases += other.leases;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.replayed += other.replayed;
        self.lost += other.lost;
    }
}

struct Commit {
    position: i64,
    transaction_id: i64,
    timestamps: Vec<StoredTimestamp>,
}

struct StreamLease {
    token: Uuid,
    organisation: Uuid,
    cursor_position: i64,
    cursor_event_id: Option<Uuid>,
    commits: Vec<Commit>,
}

impl StreamLease {
    /// The cursor once the first `n` of `events` (this lease's, in order) are done: events are
    /// ordered by (commit position, id), so "commit p, up to event id x" is
    /// (position of the commit before p, x).
    fn cursor_after(&self, events: &[Event], n: usize) -> (i64, Option<Uuid>) {
        if n == 0 {
            return (self.cursor_position, self.cursor_event_id);
        }
        let last = &events[n - 1];
        self.cursor_at(last.position, last.id)
    }

    /// The cursor just past event `id` of the commit at `position`.
    fn cursor_at(&self, position: i64, id: Uuid) -> (i64, Option<Uuid>) {
        let before = self
            .commits
            .iter()
            .map(|commit| commit.position)
            .filter(|earlier| *earlier < position)
            .max()
            .unwrap_or(self.cursor_position);
        (before, Some(id))
    }

    fn last_position(&self) -> i64 {
        self.commits
            .last()
            .map_or(self.cursor_position, |commit| commit.position)
    }
}

struct ReplayLease {
    token: Uuid,
    organisation: Uuid,
    position: i64,
    event_timestamp: StoredTimestamp,
    event_id: Uuid,
}

/// Consumes one subscription. Run several (in one process or many) to share the work: they
/// lease different organisations' streams.
pub struct Worker<H> {
    id: Uuid,
    subscription: String,
    patterns: Vec<String>,
    listener: Listener,
    claim: Statement,
    app: Database,
    binder: ServiceBinder,
    handler: H,
    options: WorkerOptions,
    last_discovery: Option<Instant>,
}

/// The claimed commits' events, every stream's at once, read by the maintenance role: per
/// stream in (position, id) order, after its partial cursor, at most `max_events` of them.
const FETCH_EVENTS: &str = "SELECT stream, position, {COLUMNS}, unprocessed FROM ( \
       SELECT c.stream, c.position, {EVENT_COLUMNS}, e.processed_at IS NULL AS unprocessed, \
              row_number() OVER (PARTITION BY c.stream ORDER BY c.position, e.id) AS n \
       FROM unnest($1::int[], $2::uuid[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::uuid[]) \
            AS c(stream, organisation_id, position, transaction_id, ts, after_id) \
       JOIN event_log e ON e.timestamp = c.ts AND e.transaction_id = c.transaction_id::text::xid8 \
                       AND e.organisation_id = c.organisation_id \
       WHERE e.event_type LIKE ANY ($7::text[]) AND (c.after_id IS NULL OR e.id > c.after_id)) f \
     WHERE n <= $8 \
     ORDER BY stream, position, id";

/// Sets `processed_at` on events nobody processed yet. Two subscriptions marking the same
/// events lock them in the same order (the input is sorted by key), so one may wait briefly
/// for the other, then finds them processed; they do not deadlock. The maintenance side
/// writes event_log itself; a handler's tenant transaction, whose role may not, through the
/// platform's function (its bound organisation's events only).
const MARK_PROCESSED: &str = "UPDATE event_log e SET processed_at = now() \
     FROM unnest($1::timestamptz[], $2::uuid[]) AS u(ts, id) \
     WHERE e.timestamp = u.ts AND e.id = u.id AND e.processed_at IS NULL";
const MARK_PROCESSED_BOUND: &str =
    "SELECT maturion.event_mark_processed($1::timestamptz[], $2::uuid[])";

/// Where bookkeeping statements run: the maintenance connection, or the handlers' tenant
/// transaction (whose connection it does not expose).
trait Session: Sync {
    /// How this session marks events processed.
    const MARK_PROCESSED: &'static str;

    fn rows<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, EventError>> + Send + 'a;
}

impl Session for Listener {
    const MARK_PROCESSED: &'static str = MARK_PROCESSED;

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, EventError> {
        let statement = self.prepared(sql).await?;
        Ok(self.client.query(&statement, params).await?)
    }
}

impl Session for TenantTransaction {
    const MARK_PROCESSED: &'static str = MARK_PROCESSED_BOUND;

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, EventError> {
        let statement = self.prepare(sql).await?;
        Ok(self.query(&statement, params).await?)
    }
}

/// How one stream's batch ended.
enum Settled {
    /// Acknowledged or failed inside the handler's tenant transaction, or failed from the
    /// maintenance side.
    Done(Round),
    /// The handlers did not touch the database: acknowledge with the others, in bulk.
    Acknowledge(Acknowledgement),
}

struct Acknowledgement {
    token: Uuid,
    organisation: Uuid,
    position: i64,
    event_id: Option<Uuid>,
    /// Events to mark processed: (timestamp, id).
    unprocessed: Vec<(DateTime<Utc>, Uuid)>,
    delivered: usize,
}

/// Where a stream's batch ended: how many events were handled, the failure that stopped the
/// others, and the cursor to move to.
struct BatchEnd<'a> {
    lease: &'a StreamLease,
    events: &'a [Event],
    done: usize,
    failure: Option<Failure>,
    position: i64,
    event_id: Option<Uuid>,
}

/// A claimed stream's events in order, up to the first row that cannot be read, if any.
#[derive(Default)]
struct Fetched {
    /// Each event and whether nobody processed it yet.
    events: Vec<(Event, bool)>,
    poison: Option<Poison>,
}

/// A row of the stream that no handler can be given: it is dead-lettered at once, so the
/// events after it keep flowing.
struct Poison {
    event: UndecodableEvent,
    timestamp: StoredTimestamp,
}

/// What stopped a batch.
enum Failure {
    /// The handler failed on `events[index]`: retried after a back-off, dead after
    /// max_attempts.
    Handler { index: usize, error: String },
    /// The row after the handled events cannot be read.
    Poison(Poison),
}

/// The event a batch stopped on, as `event_fail` and `event_dead_letter` record it.
struct FailedEvent<'a> {
    position: i64,
    timestamp: StoredTimestamp,
    id: Uuid,
    event_type: &'a str,
    error: String,
    /// The cursor's position once it is skipped.
    skip_position: i64,
    /// Dead-letter it without retrying.
    at_once: bool,
}

impl<'a> FailedEvent<'a> {
    fn of(lease: &StreamLease, events: &'a [Event], failure: &'a Failure) -> Self {
        match failure {
            Failure::Handler { index, error } => {
                let event = &events[*index];
                FailedEvent {
                    position: event.position,
                    timestamp: StoredTimestamp::from(event.timestamp),
                    id: event.id,
                    event_type: &event.event_type,
                    error: error.clone(),
                    skip_position: lease.cursor_after(events, index + 1).0,
                    at_once: false,
                }
            }
            Failure::Poison(Poison { event, timestamp }) => FailedEvent {
                position: event.position,
                timestamp: *timestamp,
                id: event.id,
                event_type: &event.event_type,
                error: format!("undecodable event: {}", event.error),
                skip_position: lease.cursor_at(event.position, event.id).0,
                at_once: true,
            },
        }
    }
}

impl<H: Handler> Worker<H> {
    /// Connects the worker's maintenance connections with `admin` (a role that may
    /// `SET ROLE maturion_maintenance`; over TLS when its URL asks for it); `app` is the application pool handlers run on. The
    /// subscription must be registered ([`crate::subscribe`]).
    pub async fn new(
        admin: &ConnectionUrl,
        app: Database,
        subscription: &str,
        handler: H,
        options: WorkerOptions,
    ) -> Result<Self, EventError> {
        let listener = listen::connect(admin).await?;
        let binder = ServiceBinder::new(listen::connect_maintenance(admin).await?);
        let patterns = subscription::patterns(&listener.client, subscription).await?;
        let claim = listener
            .client
            .prepare(
                "SELECT kind, lease_token, organisation_id, cursor_position, cursor_event_id, commit_position, \
                        transaction_id, event_timestamps, event_timestamp, event_id \
                 FROM maturion.event_claim($1, $2, $3, make_interval(secs => $4), $5, $6)",
            )
            .await?;
        let id = Uuid::new_v4();
        listener.forget(id).await?;
        listener.set_waiting(id, subscription, false).await?;
        Ok(Worker {
            id,
            subscription: subscription.to_owned(),
            patterns,
            listener,
            claim,
            app,
            binder,
            handler,
            options,
            last_discovery: None,
        })
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// One round: claim, fetch the claimed events, hand each stream's to the handler
    /// (streams concurrently), acknowledge; then the replays.
    pub async fn run_once(&mut self) -> Result<Round, EventError> {
        let discover = self
            .last_discovery
            .is_none_or(|at| at.elapsed() >= self.options.discover_every);
        if discover {
            self.patterns =
                subscription::patterns(&self.listener.client, &self.subscription).await?;
            self.last_discovery = Some(Instant::now());
        }
        let started = Instant::now();
        let (streams, replays) = self.claim(discover).await?;
        let mut round = Round {
            leases: streams.len() + replays.len(),
            ..Round::default()
        };
        if !streams.is_empty() {
            round.add(self.process_streams(&streams, started).await?);
        }
        for lease in &replays {
            match self.process_replay(lease).await {
                Ok(done) => round.add(done),
                Err(error) => {
                    self.give_back(lease.token, lease.organisation, &error)
                        .await
                }
            }
        }
        Ok(round)
    }

    /// Fetches the claimed streams' events, hands each stream's to the handler (streams
    /// concurrently), and acknowledges in bulk the streams whose handlers did not write.
    async fn process_streams(
        &self,
        streams: &[StreamLease],
        started: Instant,
    ) -> Result<Round, EventError> {
        let claimed = started.elapsed();
        let fetched = match self.fetch(streams).await {
            Ok(fetched) => fetched,
            Err(error) => {
                for lease in streams {
                    self.give_back(lease.token, lease.organisation, &error)
                        .await;
                }
                return Err(error);
            }
        };
        let read = started.elapsed();
        let outcomes = futures_util::future::join_all(
            streams
                .iter()
                .zip(fetched)
                .map(|(lease, events)| self.process_stream(lease, events)),
        )
        .await;
        let mut round = Round::default();
        let mut bulk = Vec::new();
        for (lease, outcome) in streams.iter().zip(outcomes) {
            match outcome {
                Ok(Settled::Done(done)) => round.add(done),
                Ok(Settled::Acknowledge(acknowledgement)) => bulk.push(acknowledgement),
                Err(error) => {
                    self.give_back(lease.token, lease.organisation, &error)
                        .await
                }
            }
        }
        round.add(self.acknowledge(bulk).await?);
        tracing::trace!(
            subscription = %self.subscription,
            streams = streams.len(),
            events = round.delivered,
            claim_us = claimed.as_micros() as u64,
            fetch_us = (read - claimed).as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64,
            "round"
        );
        Ok(round)
    }

    /// Runs until `shutdown` completes (checked between rounds, so no lease is abandoned).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), EventError> {
        tokio::pin!(shutdown);
        let mut idle_since: Option<Instant> = None;
        let mut sleep = self.options.poll_min;
        loop {
            self.listener.drain();
            if self.run_once().await?.claimed_anything() {
                idle_since = None;
                sleep = self.options.poll_min;
                continue;
            }
            let idle = *idle_since.get_or_insert_with(Instant::now);
            if idle.elapsed() < self.options.listen_after {
                // Recently busy: poll with short, growing sleeps; no publisher NOTIFYs for us.
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = self.listener.notifications.recv() => {}
                    _ = &mut shutdown => break,
                }
                sleep = (sleep * 2).min(self.options.poll_max);
                continue;
            }
            // Idle for a while: announce that we sleep, look once more (a publisher that
            // checked before the announcement did not NOTIFY), then sleep on LISTEN.
            self.listener
                .set_waiting(self.id, &self.subscription, true)
                .await?;
            if self.run_once().await?.claimed_anything() {
                self.listener
                    .set_waiting(self.id, &self.subscription, false)
                    .await?;
                idle_since = None;
                sleep = self.options.poll_min;
                continue;
            }
            let woken = tokio::select! {
                message = self.listener.notifications.recv() => message.is_some(),
                _ = tokio::time::sleep(self.options.listen_timeout) => false,
                _ = &mut shutdown => break,
            };
            self.listener
                .set_waiting(self.id, &self.subscription, false)
                .await?;
            if woken {
                // Back to polling for a while, so a steady trickle of events does not make
                // every publisher NOTIFY.
                idle_since = Some(Instant::now());
                sleep = self.options.poll_min;
            }
        }
        self.listener.forget(self.id).await
    }

    async fn claim(
        &self,
        discover: bool,
    ) -> Result<(Vec<StreamLease>, Vec<ReplayLease>), EventError> {
        let rows = self
            .listener
            .client
            .query(
                &self.claim,
                &[
                    &self.subscription,
                    &(self.options.streams_per_claim as i32),
                    // A commit holds at least one event, so this many commits cover a full batch.
                    &(self.options.max_events as i32),
                    &self.options.lease.as_secs_f64(),
                    &(self.options.replays_per_claim as i32),
                    &discover,
                ],
            )
            .await?;
        let mut streams: Vec<StreamLease> = Vec::new();
        let mut replays = Vec::new();
        for row in rows {
            let kind: &str = row.get("kind");
            let token: Uuid = row.get("lease_token");
            let organisation: Uuid = row.get("organisation_id");
            let position: i64 = row.get("commit_position");
            if kind == "replay" {
                replays.push(ReplayLease {
                    token,
                    organisation,
                    position,
                    event_timestamp: row.try_get("event_timestamp")?,
                    event_id: row.get("event_id"),
                });
                continue;
            }
            let commit = Commit {
                position,
                transaction_id: row.get("transaction_id"),
                timestamps: row.try_get("event_timestamps")?,
            };
            // Rows come grouped by stream, commits in order.
            match streams.last_mut() {
                Some(lease) if lease.token == token => lease.commits.push(commit),
                _ => streams.push(StreamLease {
                    token,
                    organisation,
                    cursor_position: row.get("cursor_position"),
                    cursor_event_id: row.get("cursor_event_id"),
                    commits: vec![commit],
                }),
            }
        }
        Ok((streams, replays))
    }

    fn delivery(&self, organisation: Uuid) -> Delivery {
        Delivery {
            app: self.app.clone(),
            context: TenantContext::service(
                OrganisationId::from_uuid(organisation),
                self.binder.clone(),
            ),
            durable: self.options.durable_acknowledgements,
            tx: None,
        }
    }

    /// Every claimed stream's events, in one query as the maintenance role.
    async fn fetch(&self, streams: &[StreamLease]) -> Result<Vec<Fetched>, EventError> {
        let mut columns = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (index, lease) in streams.iter().enumerate() {
            for (n, commit) in lease.commits.iter().enumerate() {
                // Inside the first commit, the partial cursor says where to resume.
                let after = if n == 0 { lease.cursor_event_id } else { None };
                for timestamp in &commit.timestamps {
                    columns.0.push(index as i32);
                    columns.1.push(lease.organisation);
                    columns.2.push(commit.position);
                    columns.3.push(commit.transaction_id);
                    columns.4.push(*timestamp);
                    columns.5.push(after);
                }
            }
        }
        let sql = FETCH_EVENTS
            .replace("{EVENT_COLUMNS}", EVENT_COLUMNS)
            .replace("{COLUMNS}", &EVENT_COLUMNS.replace("e.", ""));
        let statement = self.listener.prepared(&sql).await?;
        let rows = self
            .listener
            .client
            .query(
                &statement,
                &[
                    &columns.0,
                    &columns.1,
                    &columns.2,
                    &columns.3,
                    &columns.4,
                    &columns.5,
                    &self.patterns,
                    &(self.options.max_events as i64),
                ],
            )
            .await?;
        let mut fetched: Vec<Fetched> = streams.iter().map(|_| Fetched::default()).collect();
        for row in rows {
            let stream = &mut fetched[row.try_get::<_, i32>(0)? as usize];
            if stream.poison.is_some() {
                continue;
            }
            match Event::from_row(&row, 2, row.try_get(1)?) {
                Ok(event) => stream.events.push((event, row.try_get(14)?)),
                Err(event) => {
                    tracing::warn!(subscription = %self.subscription, %event, "poison event");
                    stream.poison = Some(Poison {
                        event,
                        timestamp: row.try_get(4)?,
                    });
                }
            }
        }
        Ok(fetched)
    }

    async fn process_stream(
        &self,
        lease: &StreamLease,
        fetched: Fetched,
    ) -> Result<Settled, EventError> {
        let (events, unprocessed): (Vec<Event>, Vec<bool>) = fetched.events.into_iter().unzip();
        // Fewer than asked for, and none left unread: every claimed commit is covered.
        let complete = fetched.poison.is_none() && events.len() < self.options.max_events;
        let (mut delivery, done, failure) = self.handle_batch(lease, &events).await;
        let failure = match failure {
            Some((index, error)) => Some(Failure::Handler { index, error }),
            None => fetched.poison.map(Failure::Poison),
        };
        let unmarked: Vec<&Event> = events[..done]
            .iter()
            .zip(&unprocessed)
            .filter(|(_, unprocessed)| **unprocessed)
            .map(|(event, _)| event)
            .collect();
        let (position, event_id) = match failure {
            None if complete => (lease.last_position(), None),
            _ => lease.cursor_after(&events, done),
        };
        let end = BatchEnd {
            lease,
            events: &events,
            done,
            failure,
            position,
            event_id,
        };
        match delivery.tx.take() {
            None => self.settle_without_writes(end, unmarked).await,
            Some(tx) => self.settle_in_transaction(tx, end, unmarked).await,
        }
    }

    /// Runs the handlers. If one fails after a transaction was opened, that transaction (and
    /// the writes of the handlers before the failure) is rolled back: redo those handlers in
    /// a fresh transaction, so that their work and the cursor move commit together. Returns
    /// the delivery, how many events were handled, and the failure that stopped the others.
    async fn handle_batch(
        &self,
        lease: &StreamLease,
        events: &[Event],
    ) -> (Delivery, usize, Option<(usize, String)>) {
        let mut delivery = self.delivery(lease.organisation);
        let mut done = events.len();
        let mut failure: Option<(usize, String)> = None;
        while let Err((index, error)) = self.run_handlers(&mut delivery, &events[..done]).await {
            tracing::debug!(subscription = %self.subscription, event = %events[index].id, %error, "handler failed");
            failure = Some((index, error));
            done = index;
            match delivery.tx.take() {
                Some(tx) => {
                    let _ = tx.rollback().await;
                }
                // Nothing written, nothing to redo.
                None => break,
            }
        }
        (delivery, done, failure)
    }

    /// The handlers did not write: a success is acknowledged with the other streams, in bulk;
    /// a failure is recorded at once, as the maintenance role.
    async fn settle_without_writes(
        &self,
        end: BatchEnd<'_>,
        unmarked: Vec<&Event>,
    ) -> Result<Settled, EventError> {
        let BatchEnd {
            lease,
            events,
            done,
            failure,
            position,
            event_id,
        } = end;
        match failure {
            None => Ok(Settled::Acknowledge(Acknowledgement {
                token: lease.token,
                organisation: lease.organisation,
                position,
                event_id,
                unprocessed: unmarked.iter().map(|e| (e.timestamp, e.id)).collect(),
                delivered: done,
            })),
            Some(failure) => {
                let listener = &self.listener;
                let failed = FailedEvent::of(lease, events, &failure);
                let fail = self.fail(listener, lease, &failed, position, event_id);
                let (outcome, marked) =
                    futures_util::join!(fail, mark_processed(listener, unmarked));
                marked?;
                Ok(Settled::Done(settled(&outcome?, done)))
            }
        }
    }

    /// The handlers wrote: settle inside their transaction.
    async fn settle_in_transaction(
        &self,
        tx: TenantTransaction,
        end: BatchEnd<'_>,
        unmarked: Vec<&Event>,
    ) -> Result<Settled, EventError> {
        let BatchEnd {
            lease,
            events,
            done,
            failure,
            position,
            event_id,
        } = end;
        let outcome = match &failure {
            None => {
                let params: [&(dyn ToSql + Sync); 5] = [
                    &lease.token,
                    &self.subscription,
                    &lease.organisation,
                    &position,
                    &event_id,
                ];
                // Pipelined on the transaction's connection.
                let (acknowledged, marked) = futures_util::join!(
                    tx.rows(
                        "SELECT maturion.event_acknowledge($1, $2, $3, $4, $5)",
                        &params
                    ),
                    mark_processed(&tx, unmarked),
                );
                marked?;
                if acknowledged?[0].get::<_, bool>(0) {
                    "acknowledged"
                } else {
                    "lost"
                }
                .to_owned()
            }
            Some(failure) => {
                let failed = FailedEvent::of(lease, events, failure);
                let fail = self.fail(&tx, lease, &failed, position, event_id);
                let (outcome, marked) = futures_util::join!(fail, mark_processed(&tx, unmarked));
                marked?;
                outcome?
            }
        };
        if outcome == "lost" {
            tracing::warn!(subscription = %self.subscription, organisation = %lease.organisation, "lease lost; rolled back");
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(Settled::Done(settled(&outcome, done)))
    }

    /// Records the failure of `failed` after the events before it succeeded.
    async fn fail(
        &self,
        session: &impl Session,
        lease: &StreamLease,
        failed: &FailedEvent<'_>,
        position: i64,
        event_id: Option<Uuid>,
    ) -> Result<String, EventError> {
        let params: [&(dyn ToSql + Sync); 11] = [
            &lease.token,
            &self.subscription,
            &lease.organisation,
            &position,
            &event_id,
            &failed.skip_position,
            &failed.position,
            &failed.timestamp,
            &failed.id,
            &failed.event_type,
            &failed.error,
        ];
        let sql = if failed.at_once {
            "SELECT maturion.event_dead_letter($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        } else {
            "SELECT maturion.event_fail($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        };
        let rows = session.rows(sql, &params).await?;
        Ok(rows[0].get(0))
    }

    /// The streams whose handlers did not write, in one statement (and one for processed_at),
    /// as the maintenance role.
    async fn acknowledge(&self, bulk: Vec<Acknowledgement>) -> Result<Round, EventError> {
        let mut round = Round::default();
        if bulk.is_empty() {
            return Ok(round);
        }
        let tokens: Vec<Uuid> = bulk.iter().map(|a| a.token).collect();
        let organisations: Vec<Uuid> = bulk.iter().map(|a| a.organisation).collect();
        let positions: Vec<i64> = bulk.iter().map(|a| a.position).collect();
        let event_ids: Vec<Option<Uuid>> = bulk.iter().map(|a| a.event_id).collect();
        let listener = &self.listener;
        let params: [&(dyn ToSql + Sync); 5] = [
            &tokens,
            &self.subscription,
            &organisations,
            &positions,
            &event_ids,
        ];
        let marks = bulk
            .iter()
            .flat_map(|a| a.unprocessed.iter().copied())
            .collect::<Vec<_>>();
        let (acknowledged, marked) = futures_util::join!(
            listener.rows(
                "SELECT * FROM maturion.event_acknowledge_all($1, $2, $3, $4, $5)",
                &params
            ),
            mark_keys(listener, marks)
        );
        marked?;
        let acknowledged: Vec<Uuid> = acknowledged?.iter().map(|row| row.get(0)).collect();
        for acknowledgement in &bulk {
            if acknowledged.contains(&acknowledgement.token) {
                round.delivered += acknowledgement.delivered;
            } else {
                tracing::warn!(subscription = %self.subscription, organisation = %acknowledgement.organisation, "lease lost before the acknowledgement");
                round.lost += 1;
            }
        }
        Ok(round)
    }

    async fn run_handlers(
        &self,
        delivery: &mut Delivery,
        events: &[Event],
    ) -> Result<(), (usize, String)> {
        for (index, event) in events.iter().enumerate() {
            if let Err(error) = self.handler.handle(delivery, event).await {
                return Err((index, error.to_string()));
            }
        }
        Ok(())
    }

    async fn process_replay(&self, lease: &ReplayLease) -> Result<Round, EventError> {
        let row = self
            .listener
            .client
            .query_opt(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM event_log e \
                     WHERE e.timestamp = $1 AND e.id = $2 AND e.organisation_id = $3"
                ),
                &[&lease.event_timestamp, &lease.event_id, &lease.organisation],
            )
            .await?;
        let mut delivery = self.delivery(lease.organisation);
        let outcome = match row {
            None => Err("the event is no longer in the event log".to_owned()),
            Some(row) => match Event::from_row(&row, 0, lease.position) {
                Ok(event) => match self.handler.handle(&mut delivery, &event).await {
                    Ok(()) => Ok(event),
                    Err(error) => Err(error.to_string()),
                },
                Err(undecodable) => Err(format!("undecodable event: {}", undecodable.error)),
            },
        };
        let result = self
            .finish_replay(lease, outcome, delivery.tx.take())
            .await?;
        Ok(replayed(&result))
    }

    /// Records how the replay went, inside the handler's transaction when it wrote; returns
    /// `maturion.event_replay_finish`'s verdict.
    async fn finish_replay(
        &self,
        lease: &ReplayLease,
        outcome: Result<Event, String>,
        tx: Option<TenantTransaction>,
    ) -> Result<String, EventError> {
        let listener = &self.listener;
        let finish = "SELECT maturion.event_replay_finish($1, $2)";
        Ok(match (outcome, tx) {
            (Ok(event), Some(tx)) => {
                let params: [&(dyn ToSql + Sync); 2] = [&lease.token, &None::<String>];
                let (finished, marked) = futures_util::join!(
                    tx.rows(finish, &params),
                    mark_processed(&tx, vec![&event]),
                );
                marked?;
                let result: String = finished?[0].get(0);
                if result == "lost" {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                result
            }
            (Ok(event), None) => {
                let params: [&(dyn ToSql + Sync); 2] = [&lease.token, &None::<String>];
                let (finished, marked) = futures_util::join!(
                    listener.rows(finish, &params),
                    mark_processed(listener, vec![&event])
                );
                marked?;
                finished?[0].get(0)
            }
            (Err(error), tx) => {
                if let Some(tx) = tx {
                    let _ = tx.rollback().await;
                }
                listener.rows(finish, &[&lease.token, &error]).await?[0].get(0)
            }
        })
    }

    /// An infrastructure error (not the event's fault): give the lease back so the work is
    /// claimed again at once, and carry on.
    async fn give_back(&self, token: Uuid, organisation: Uuid, error: &EventError) {
        tracing::warn!(subscription = %self.subscription, %error, "delivery failed; lease released");
        if let Err(error) = self
            .listener
            .client
            .execute(
                "SELECT maturion.event_release($1, $2, $3)",
                &[&token, &self.subscription, &organisation],
            )
            .await
        {
            tracing::warn!(%error, "cannot release lease; it will expire");
        }
    }
}

/// The round a settled stream contributes.
fn settled(outcome: &str, done: usize) -> Round {
    match outcome {
        "lost" => Round {
            lost: 1,
            ..Round::default()
        },
        "retry" => Round {
            retried: 1,
            delivered: done,
            ..Round::default()
        },
        "dead" => {
            tracing::warn!("event dead-lettered");
            Round {
                dead_lettered: 1,
                delivered: done,
                ..Round::default()
            }
        }
        _ => Round {
            delivered: done,
            ..Round::default()
        },
    }
}

/// The round a finished replay contributes.
fn replayed(result: &str) -> Round {
    match result {
        "replayed" => Round {
            delivered: 1,
            replayed: 1,
            ..Round::default()
        },
        "dead" => Round {
            dead_lettered: 1,
            ..Round::default()
        },
        "retry" => Round {
            retried: 1,
            ..Round::default()
        },
        _ => Round {
            lost: 1,
            ..Round::default()
        },
    }
}

async fn mark_processed<S: Session>(session: &S, events: Vec<&Event>) -> Result<(), EventError> {
    mark_keys(
        session,
        events.iter().map(|e| (e.timestamp, e.id)).collect(),
    )
    .await
}

async fn mark_keys<S: Session>(
    session: &S,
    mut keys: Vec<(DateTime<Utc>, Uuid)>,
) -> Result<(), EventError> {
    if keys.is_empty() {
        return Ok(());
    }
    // Key order: every subscription locks shared events in the same order.
    keys.sort();
    let timestamps: Vec<DateTime<Utc>> = keys.iter().map(|k| k.0).collect();
    let ids: Vec<Uuid> = keys.iter().map(|k| k.1).collect();
    session
        .rows(S::MARK_PROCESSED, &[&timestamps, &ids])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64, id: u128) -> Event {
        Event {
            id: Uuid::from_u128(id),
            organisation_id: Uuid::nil(),
            timestamp: Utc::now(),
            event_type: "a.b".into(),
            source_module: "m".into(),
            source_entity_type: None,
            source_entity_id: None,
            target_module: None,
            target_entity_type: None,
            target_entity_id: None,
            payload: None,
            published_by: None,
            position,
        }
    }

    fn lease(cursor: (i64, Option<Uuid>), positions: &[i64]) -> StreamLease {
        StreamLease {
            token: Uuid::nil(),
            organisation: Uuid::nil(),
            cursor_position: cursor.0,
            cursor_event_id: cursor.1,
            commits: positions
                .iter()
                .map(|position| Commit {
                    position: *position,
                    transaction_id: 1,
                    timestamps: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn the_cursor_after_n_events_points_inside_the_last_commit() {
        let lease = lease((3, Some(Uuid::from_u128(5))), &[7, 9, 12]);
        let events = [event(7, 6), event(7, 8), event(12, 1)];
        assert_eq!(
            lease.cursor_after(&events, 0),
            (3, Some(Uuid::from_u128(5)))
        );
        assert_eq!(
            lease.cursor_after(&events, 1),
            (3, Some(Uuid::from_u128(6)))
        );
        assert_eq!(
            lease.cursor_after(&events, 2),
            (3, Some(Uuid::from_u128(8)))
        );
        // Commit 9 had no matching event; done before event 1 of commit 12.
        assert_eq!(
            lease.cursor_after(&events, 3),
            (9, Some(Uuid::from_u128(1)))
        );
        assert_eq!(lease.last_position(), 12);
    }
}
