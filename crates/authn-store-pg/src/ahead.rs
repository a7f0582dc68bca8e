//! Sessions written ahead of their verdict
//! ([`SessionStore::prepare_session`](authn_core::store::SessionStore::prepare_session)):
//! a login's session is written while its password hashes, by a task of
//! the store, in a transaction left open; a right password then commits
//! it where the verdict is (one round trip, instead of the whole
//! creation), and a wrong one, which only drops it, waits for nothing: it
//! is rolled back on a task.
//!
//! The transaction locks nothing that others wait for (migration 0005):
//! the user is read, not locked, and the foreign key's check is deferred to
//! the commit, where the user is locked, checked still enabled, and the
//! attempt concluded, in the round trip of the COMMIT itself.

use std::sync::Arc;

use authn_core::store::{HeldSession, PreparedSession, SessionStore, StoreFuture};
use authn_core::{NewSession, SessionId, StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, raw_sql};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::PgStore;
use crate::error::map_sqlx_error;

/// The commit of a session written ahead: one message, so one round trip.
/// Should the function raise (the user disabled or gone, the attempt
/// closed), PostgreSQL skips the COMMIT and the transaction is rolled back.
const CONCLUDE_AND_COMMIT: &str = "SELECT authn_conclude_session_ahead(); COMMIT";

/// The handle `prepare_session` returns. The writing task hands the
/// transaction over once written; the commit then runs where it is
/// awaited, with no hop to another task on the answer's path.
struct PgHeldSession {
    store: PgStore,
    new: NewSession,
    id: SessionId,
    /// The written transaction, or why there is none; `None` once taken.
    written: Option<oneshot::Receiver<StoreResult<Written>>>,
}

/// A session written ahead: its open transaction, and its place among
/// the held ones, given back with the connection.
struct Written {
    tx: OpenTx,
    place: OwnedSemaphorePermit,
}

impl Written {
    /// Ends what the commit left: rolls back a transaction still open,
    /// gives the connection back, then the place.
    async fn finish(self) {
        if self.tx.open {
            self.tx.roll_back().await;
        } else {
            self.tx.give_back().await;
        }
        drop(self.place);
    }
}

impl HeldSession for PgHeldSession {
    fn commit(mut self: Box<Self>) -> StoreFuture<SessionId> {
        Box::pin(async move {
            let written = match self.written.take() {
                Some(rx) => rx.await.ok(),
                None => None,
            };
            match written {
                Some(Ok(mut w)) => {
                    let committed = w.tx.end(CONCLUDE_AND_COMMIT).await.map(|()| self.id);
                    // Off the answer's path where a runtime can take it: a
                    // refused commit left the transaction to roll back.
                    match tokio::runtime::Handle::try_current() {
                        Ok(rt) => drop(rt.spawn(w.finish())),
                        Err(_) => w.finish().await,
                    }
                    committed
                }
                // Not written ahead (the database away for a moment, a
                // refusal): `create_session_with` does it all, and its
                // answer is the authoritative one.
                _ => self.store.create_session_with(&self.new).await,
            }
        })
    }
}

impl Drop for PgHeldSession {
    /// Not committed: the transaction is rolled back on a task, so that
    /// the caller (a wrong password's answer) waits for none of it.
    fn drop(&mut self) {
        let Some(mut rx) = self.written.take() else {
            return;
        };
        // Closed first, so that the writing task either handed the
        // transaction over already (taken below) or finds nobody to hand
        // it to: never one dropped with the channel.
        rx.close();
        match rx.try_recv() {
            Ok(Ok(w)) => match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn(w.finish())),
                // No runtime to roll back on: the connection is dropped
                // (OpenTx), and the server rolls back.
                Err(_) => drop(w),
            },
            Ok(Err(_)) | Err(oneshot::error::TryRecvError::Closed) => {}
            // Still being written: the writing task, finding nobody to
            // hand it to, rolls it back itself.
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
    }
}

/// A pooled connection inside a transaction this module opened. Dropped
/// while the transaction is (or may be) open, say on an error or when the
/// runtime stops the task, the connection is closed rather than given back
/// to the pool, where its next user would find itself in that transaction.
struct OpenTx {
    /// Always there until the guard ends.
    conn: Option<PoolConnection<Postgres>>,
    open: bool,
}

impl Drop for OpenTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            // No runtime for sqlx to give it back or close it on (it
            // spawns either): the socket is dropped here, and the server
            // rolls back whatever was open.
            drop(conn.detach());
        } else if self.open {
            conn.close_on_drop();
        }
    }
}

impl OpenTx {
    fn new(conn: PoolConnection<Postgres>) -> Self {
        // Open from the first byte sent: until a COMMIT or ROLLBACK is
        // known to have run, the connection is not the pool's.
        Self {
            conn: Some(conn),
            open: true,
        }
    }

    /// Runs `sql` (the simple protocol: one message, any number of
    /// statements, no parameters).
    async fn run(&mut self, sql: &str) -> StoreResult<()> {
        raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.conn()?)
            .await
            .map(drop)
            .map_err(map_sqlx_error)
    }

    fn conn(&mut self) -> StoreResult<&mut sqlx::PgConnection> {
        self.conn
            .as_deref_mut()
            .ok_or_else(|| StoreError::Internal {
                source: "the connection of a session written ahead is gone".into(),
            })
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK, alone or
    /// last), marking the connection fit for the pool once it did.
    async fn end(&mut self, sql: &str) -> StoreResult<()> {
        self.run(sql).await?;
        self.open = false;
        Ok(())
    }

    /// Rolls back, best effort: a connection that fails it is closed.
    async fn roll_back(mut self) {
        let _ = self.end("ROLLBACK").await;
        self.give_back().await;
    }

    /// Gives the connection back to the pool (or closes it, if the
    /// transaction may still be open) and waits for that, so that a
    /// place freed after this never counts a connection still out.
    async fn give_back(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.open {
            let _ = conn.close().await;
        } else {
            // sqlx's eager form of what dropping it does (public, if
            // hidden from its docs).
            conn.return_to_pool().await;
        }
    }
}

impl PgStore {
    /// [`SessionStore::prepare_session`]: a place among the sessions
    /// written ahead, if one is free, and the task writing into it.
    pub(crate) fn prepare_ahead(&self, new: &NewSession) -> PreparedSession {
        let Ok(place) = Arc::clone(&self.prepared_sessions).try_acquire_owned() else {
            // As many held as the pool can spare: this one is written at
            // the commit, as create_session_with writes it.
            return PreparedSession::deferred(new.clone());
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // Nothing to write on: written at the commit.
            return PreparedSession::deferred(new.clone());
        };
        let id = SessionId::new();
        let (hand_over, written) = oneshot::channel();
        let store = self.clone();
        let writing = new.clone();
        rt.spawn(async move {
            let w = store
                .write_ahead(&writing, id)
                .await
                .map(|tx| Written { tx, place });
            // Nobody to hand it to (dropped meanwhile): rolled back here.
            if let Err(Ok(w)) = hand_over.send(w) {
                w.finish().await;
            }
        });
        PreparedSession::held(Box::new(PgHeldSession {
            store: self.clone(),
            new: new.clone(),
            id,
            written: Some(written),
        }))
    }

    /// Opens the transaction and writes the session in it (two round
    /// trips: BEGIN, then `authn_write_session_ahead`, which sets the
    /// namespace for the transaction).
    async fn write_ahead(&self, new: &NewSession, id: SessionId) -> StoreResult<OpenTx> {
        let conn = self.pool.acquire().await.map_err(map_sqlx_error)?;
        let mut tx = OpenTx::new(conn);
        match self.write_ahead_in(&mut tx, new, id).await {
            Ok(()) => Ok(tx),
            Err(e) => {
                tx.roll_back().await;
                Err(e)
            }
        }
    }

    async fn write_ahead_in(
        &self,
        tx: &mut OpenTx,
        new: &NewSession,
        id: SessionId,
    ) -> StoreResult<()> {
        tx.run("BEGIN").await?;
        let call = self.bind_new_session(
            sqlx::query_scalar(
                "SELECT authn_write_session_ahead($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                     $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
            ),
            new,
            id,
        )?;
        let outcome = self
            .bind_concluded(call, new.concludes.as_ref())
            .fetch_one(tx.conn()?)
            .await
            .map_err(map_sqlx_error)?;
        match outcome.as_str() {
            "written" => Ok(()),
            // Refused: `create_session_with` says why, at the commit.
            other => Err(StoreError::Internal {
                source: format!("authn_write_session_ahead answered {other:?}").into(),
            }),
        }
    }
}
