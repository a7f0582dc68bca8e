//! Shared plumbing: serialised write transactions, the audit writer, the
//! clock, and conversions between domain values and SQL parameters.

use std::net::IpAddr;
use std::time::Duration;

use authn_core::{StoreError, StoreResult, ValidationError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Sqlite, SqliteConnection, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::error::map_sqlx_error;
use crate::{BUSY_TIMEOUT, SqliteStore};

/// Whether a write transaction's commit waits for the disk.
#[derive(Clone, Copy)]
enum Durability {
    /// `synchronous = FULL`: the WAL is synced at every commit.
    Flushed,
    /// `synchronous = NORMAL`: the WAL is synced at checkpoints only.
    Unflushed,
}

/// A write transaction: SQLite's write lock is held from its first
/// statement (`BEGIN IMMEDIATE`), so it reads and writes with no other
/// writer in between, in any process. `now` is the transaction's time
/// (like PostgreSQL's `now()`), taken once the lock is held, so times
/// follow the order in which writers ran.
pub(crate) struct Tx {
    tx: Transaction<'static, Sqlite>,
    /// The transaction's time, microseconds since the Unix epoch.
    pub now: i64,
    // Released after the transaction (fields drop in order).
    _writer: OwnedMutexGuard<()>,
}

impl Tx {
    /// The transaction's connection, to run statements on.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Commits, mapping the error.
    pub async fn commit(self) -> StoreResult<()> {
        let Self { tx, _writer, .. } = self;
        tx.commit().await.map_err(map_sqlx_error)
    }

    /// Rolls back and waits for it while still first in this pool's queue
    /// of writers: a dropped transaction only sends its rollback to the
    /// connection's thread, and the next writer, released at once, would
    /// find SQLite's write lock still held and wait in the busy handler.
    pub async fn rollback(self) -> StoreResult<()> {
        let Self { tx, _writer, .. } = self;
        tx.rollback().await.map_err(map_sqlx_error)
    }
}

/// One audit event to write inside the transaction of the change it records.
pub(crate) struct AuditRecord {
    pub event_type: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl AuditRecord {
    /// An event on a resource, without values yet.
    pub fn new(event_type: &'static str, resource_type: &'static str, id: impl ToString) -> Self {
        Self {
            event_type,
            resource_type,
            resource_id: Some(id.to_string()),
            old: None,
            new: None,
        }
    }

    /// Sets the values before the change.
    pub fn old(mut self, v: Value) -> Self {
        self.old = Some(v);
        self
    }

    /// Sets the values after the change.
    pub fn new_values(mut self, v: Value) -> Self {
        self.new = Some(v);
        self
    }
}

impl SqliteStore {
    /// Starts a write transaction whose commit is on disk before it
    /// returns: queue behind this pool's other writers, then `BEGIN
    /// IMMEDIATE` (which waits up to the busy timeout for writers of other
    /// pools or processes).
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        self.begin_with(Durability::Flushed).await
    }

    /// [`begin`](Self::begin) for a write whose loss in a power cut or an
    /// OS crash is harmless and which sits on a login's answer: a new
    /// session (lost, its holder is signed out), an attempt's reservation
    /// (no verdict is answered before a later flushed commit, or one of a
    /// success) or a successful attempt (lost, it reads as unfinished and
    /// counts as before), as PostgreSQL's store commits them. Its commit
    /// skips the fsync of the WAL, which in a crash of the process alone
    /// loses nothing (the WAL is in the OS's cache). The WAL is a log read
    /// back in order, so no flushed commit made after this one can survive
    /// without it.
    pub(crate) async fn begin_unflushed(&self) -> StoreResult<Tx> {
        self.begin_with(Durability::Unflushed).await
    }

    async fn begin_with(&self, durability: Durability) -> StoreResult<Tx> {
        let writer = tokio::time::timeout(BUSY_TIMEOUT, self.write_lock.clone().lock_owned())
            .await
            .map_err(|e| StoreError::Unavailable {
                source: Box::new(e),
            })?;
        // `synchronous` is the connection's and is read at COMMIT: each
        // write transaction sets its own, in the same call as its BEGIN (no
        // extra round trip to the connection's thread), so none inherits
        // what the connection's previous writer chose. Every write goes
        // through here (reads do not commit).
        let begin = match durability {
            Durability::Flushed => "PRAGMA synchronous = FULL; BEGIN IMMEDIATE",
            Durability::Unflushed => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
        };
        let tx = self.pool.begin_with(begin).await.map_err(map_sqlx_error)?;
        Ok(Tx {
            tx,
            now: now_micros(),
            _writer: writer,
        })
    }

    /// Writes an audit event with this handle's namespace and actor, at the
    /// transaction's time.
    pub(crate) async fn audit(&self, tx: &mut Tx, rec: AuditRecord) -> StoreResult<()> {
        let actor = self.actor.as_deref();
        let now = tx.now;
        sqlx::query(
            "INSERT INTO audit_events (id, namespace, event_type, occurred_at, actor_id,
                 request_id, on_behalf_of, reason, resource_type, resource_id, ip_address,
                 user_agent, old_values, new_values)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(self.namespace.as_str())
        .bind(rec.event_type)
        .bind(now)
        .bind(actor.map(|a| a.actor_id.as_str()))
        .bind(actor.and_then(|a| a.request_id.as_deref()))
        .bind(actor.and_then(|a| a.on_behalf_of.as_deref()))
        .bind(actor.and_then(|a| a.reason.as_deref()))
        .bind(rec.resource_type)
        .bind(rec.resource_id)
        .bind(ip_text(actor.and_then(|a| a.ip_address)))
        .bind(actor.and_then(|a| a.user_agent.as_deref()))
        .bind(rec.old.map(|v| v.to_string()))
        .bind(rec.new.map(|v| v.to_string()))
        .execute(tx.conn())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}

/// The host clock in microseconds since the Unix epoch: SQLite has no
/// server clock; every process on the machine shares this one.
pub(crate) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// A stored time (microseconds since the epoch) as a `DateTime`.
pub(crate) fn time(us: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("timestamp out of range"))
}

/// An optional stored time.
pub(crate) fn opt_time(us: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    us.map(time).transpose()
}

/// An IP address as stored (canonical text).
pub(crate) fn ip_text(ip: Option<IpAddr>) -> Option<String> {
    ip.map(|ip| ip.to_string())
}

/// A stored IP address back.
pub(crate) fn stored_ip(s: Option<String>) -> StoreResult<Option<IpAddr>> {
    s.map(|s| s.parse().map_err(|_| corrupt("malformed ip address")))
        .transpose()
}

/// A JSON array of strings (`amr`) as stored.
pub(crate) fn json_list(items: &[String]) -> String {
    Value::from(items.to_vec()).to_string()
}

/// A stored JSON array of strings back.
pub(crate) fn stored_list(s: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(s).map_err(|_| corrupt("malformed string list"))
}

/// A stored JSON value back.
pub(crate) fn stored_json(s: Option<String>) -> StoreResult<Option<Value>> {
    s.map(|s| serde_json::from_str(&s).map_err(|_| corrupt("malformed json")))
        .transpose()
}

/// A value read back from the file that this store cannot have written: a
/// schema mismatch or a hand-edited file.
#[derive(Debug, thiserror::Error)]
#[error("stored value is malformed: {0}")]
pub(crate) struct Corrupt(&'static str);

/// A [`Corrupt`] value as an `Internal` error.
pub(crate) fn corrupt(what: &'static str) -> StoreError {
    StoreError::Internal {
        source: Box::new(Corrupt(what)),
    }
}

/// Parses a keyset cursor (the id of the last item of the previous page).
pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<Option<uuid::Uuid>, ValidationError> {
    cursor
        .map(|c| {
            uuid::Uuid::parse_str(c.trim())
                .map_err(|_| ValidationError::new("cursor", "is not a cursor of this listing"))
        })
        .transpose()
}

/// Turns `limit + 1` fetched rows into a page: the extra row, when present,
/// only says that a next page exists, whose cursor is the last kept item.
pub(crate) fn into_page<T>(
    mut items: Vec<T>,
    limit: u32,
    id: impl Fn(&T) -> String,
) -> authn_core::Page<T> {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(id)
    } else {
        None
    };
    authn_core::Page { items, next_cursor }
}

/// Longest duration accepted (100 years): beyond any sane lifetime, so
/// `now + d` in microseconds never overflows.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A positive duration as whole microseconds (added to the transaction's
/// time to compute expiries).
pub(crate) fn micros(d: Duration, field: &'static str) -> Result<i64, ValidationError> {
    if d.is_zero() {
        return Err(ValidationError::new(field, "must be positive"));
    }
    if d > MAX_DURATION {
        return Err(ValidationError::new(field, "must be at most 100 years"));
    }
    i64::try_from(d.as_micros())
        .map_err(|_| ValidationError::new(field, "must be at most 100 years"))
}

/// A count from SQL (never negative) as `u64`.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Reads a stored enum name back, reporting a schema mismatch as `Internal`.
pub(crate) fn parse_stored<T: std::str::FromStr<Err = ValidationError>>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|e: ValidationError| StoreError::Internal {
            source: Box::new(e),
        })
}

/// Reads a stored email back (it was validated on the way in).
pub(crate) fn stored_email(s: &str) -> StoreResult<authn_core::Email> {
    authn_core::Email::parse(s).map_err(|e| StoreError::Internal {
        source: Box::new(e),
    })
}
