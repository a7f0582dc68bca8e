//! [`AuditStore`] on SQLite.

use authn_core::policy::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, resolve_limit};
use authn_core::store::AuditStore;
use authn_core::{AuditEvent, AuditEventId, AuditQuery, Page, StoreResult};
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::map_sqlx_error;
use crate::sql::{into_page, parse_cursor, stored_ip, stored_json, time};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    namespace: String,
    event_type: String,
    occurred_at: i64,
    actor_id: Option<String>,
    request_id: Option<String>,
    on_behalf_of: Option<String>,
    reason: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    old_values: Option<String>,
    new_values: Option<String>,
}

impl AuditRow {
    fn into_event(self) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(self.id),
            namespace: self.namespace,
            event_type: self.event_type,
            occurred_at: time(self.occurred_at)?,
            actor_id: self.actor_id,
            request_id: self.request_id,
            on_behalf_of: self.on_behalf_of,
            reason: self.reason,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            ip_address: stored_ip(self.ip_address)?,
            user_agent: self.user_agent,
            old_values: stored_json(self.old_values)?,
            new_values: stored_json(self.new_values)?,
        })
    }
}

impl AuditStore for SqliteStore {
    async fn get_audit_events(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>> {
        let limit = resolve_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, "limit")?;
        let before = parse_cursor(query.cursor.as_deref())?;
        // Only the filters given become conditions, so each combination is
        // its own statement with a plan on the matching index:
        // audit_events_resource_idx, audit_events_actor_idx,
        // audit_events_type_idx, else audit_events_namespace_idx.
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, namespace, event_type, occurred_at, actor_id, request_id, on_behalf_of,
                    reason, resource_type, resource_id, ip_address, user_agent, old_values,
                    new_values
             FROM audit_events WHERE namespace = ",
        );
        qb.push_bind(self.namespace.as_str());
        let filters = [
            (" AND event_type = ", &query.event_type),
            (" AND resource_type = ", &query.resource_type),
            (" AND resource_id = ", &query.resource_id),
            (" AND actor_id = ", &query.actor_id),
        ];
        for (cond, value) in filters {
            if let Some(v) = value {
                qb.push(cond).push_bind(v.as_str());
            }
        }
        if let Some(b) = before {
            qb.push(" AND id < ").push_bind(b);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);

        let rows: Vec<AuditRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx_error)?;
        let items = rows
            .into_iter()
            .map(AuditRow::into_event)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(into_page(items, limit, |e: &AuditEvent| e.id.to_string()))
    }
}
