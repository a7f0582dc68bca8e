//! Shared plumbing: namespaced transactions, the audit writer, and
//! conversions between domain values and SQL parameters.

use std::time::Duration;

use authn_core::{StoreError, StoreResult, ValidationError};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres, Transaction};

use crate::PgStore;
use crate::error::map_sqlx_error;

/// A transaction whose `authn.namespace` setting is this handle's namespace.
pub(crate) type Tx = Transaction<'static, Postgres>;

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

impl PgStore {
    /// Starts a transaction and sets the namespace for it alone
    /// (`set_config(.., true)` is transaction-local, so it can never leak to
    /// the pool's next user).
    ///
    /// Both go in one round trip, as one simple-protocol message, so a
    /// one-statement read costs three round trips, not four. `set_config`
    /// comes first: it runs in the message's implicit transaction, which
    /// `BEGIN` then turns into this explicit one (the setting lives on until
    /// its end); should it fail, `BEGIN` never runs and the connection is
    /// left idle, not inside a transaction that sqlx does not know about.
    /// The namespace is spliced in as a literal:
    /// [`Namespace`](authn_core::Namespace) admits only ASCII letters,
    /// digits and `.` `_` `-` `:`, and a quote is doubled all the same.
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        let ns = self.namespace.as_str().replace('\'', "''");
        let sql = format!("SELECT set_config('authn.namespace', '{ns}', true); BEGIN");
        self.pool
            .begin_with(sqlx::AssertSqlSafe(sql))
            .await
            .map_err(map_sqlx_error)
    }

    /// Runs one read in a namespaced transaction: at most one row.
    pub(crate) async fn read_optional<'q, O>(
        &self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
    ) -> StoreResult<Option<O>>
    where
        O: Send + Unpin + for<'r> FromRow<'r, PgRow>,
    {
        let mut tx = self.begin().await?;
        let row = query
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        commit(tx).await?;
        Ok(row)
    }

    /// Runs one read in a namespaced transaction: exactly one row (an
    /// aggregate).
    pub(crate) async fn read_one<'q, O>(
        &self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
    ) -> StoreResult<O>
    where
        O: Send + Unpin + for<'r> FromRow<'r, PgRow>,
    {
        self.read_optional(query)
            .await?
            .ok_or_else(|| StoreError::Internal {
                source: Box::new(sqlx::Error::RowNotFound),
            })
    }

    /// Runs one read in a namespaced transaction: all rows.
    pub(crate) async fn read_all<'q, O>(
        &self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
    ) -> StoreResult<Vec<O>>
    where
        O: Send + Unpin + for<'r> FromRow<'r, PgRow>,
    {
        let mut tx = self.begin().await?;
        let rows = query.fetch_all(&mut *tx).await.map_err(map_sqlx_error)?;
        commit(tx).await?;
        Ok(rows)
    }

    /// Writes an audit event with this handle's namespace and actor.
    pub(crate) async fn audit(&self, conn: &mut PgConnection, rec: AuditRecord) -> StoreResult<()> {
        let actor = self.actor.as_deref();
        sqlx::query(
            "INSERT INTO audit_events (id, namespace, event_type, actor_id, request_id,
                 on_behalf_of, reason, resource_type, resource_id, ip_address, user_agent,
                 old_values, new_values)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(self.namespace.as_str())
        .bind(rec.event_type)
        .bind(actor.map(|a| a.actor_id.as_str()))
        .bind(actor.and_then(|a| a.request_id.as_deref()))
        .bind(actor.and_then(|a| a.on_behalf_of.as_deref()))
        .bind(actor.and_then(|a| a.reason.as_deref()))
        .bind(rec.resource_type)
        .bind(rec.resource_id)
        .bind(actor.and_then(|a| a.ip_address))
        .bind(actor.and_then(|a| a.user_agent.as_deref()))
        .bind(rec.old)
        .bind(rec.new)
        .execute(conn)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
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

/// Commits, mapping the error.
pub(crate) async fn commit(tx: Tx) -> StoreResult<()> {
    tx.commit().await.map_err(map_sqlx_error)
}

/// Longest duration accepted (100 years): beyond any sane lifetime and far
/// inside PostgreSQL's timestamp range, so `now() + d` never overflows.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A positive duration as whole microseconds (bound as `$n * interval '1 microsecond'`,
/// so expiry is computed with the database clock).
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
