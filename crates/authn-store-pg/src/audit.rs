//! [`AuditStore`] on PostgreSQL.

use std::net::IpAddr;

use authn_core::policy::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, resolve_limit};
use authn_core::store::AuditStore;
use authn_core::{AuditEvent, AuditEventId, AuditQuery, Page, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::PgStore;
use crate::sql::{into_page, parse_cursor};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    namespace: String,
    event_type: String,
    occurred_at: DateTime<Utc>,
    actor_id: Option<String>,
    request_id: Option<String>,
    on_behalf_of: Option<String>,
    reason: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    ip_address: Option<IpAddr>,
    user_agent: Option<String>,
    old_values: Option<serde_json::Value>,
    new_values: Option<serde_json::Value>,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        Self {
            id: AuditEventId::from_uuid(r.id),
            namespace: r.namespace,
            event_type: r.event_type,
            occurred_at: r.occurred_at,
            actor_id: r.actor_id,
            request_id: r.request_id,
            on_behalf_of: r.on_behalf_of,
            reason: r.reason,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            old_values: r.old_values,
            new_values: r.new_values,
        }
    }
}

impl AuditStore for PgStore {
    async fn get_audit_events(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>> {
        let limit = resolve_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, "limit")?;
        let before = parse_cursor(query.cursor.as_deref())?;
        // Only the filters given become conditions, so each combination is
        // its own prepared statement with a plan on the matching index:
        // audit_events_resource_idx, audit_events_actor_idx,
        // audit_events_type_idx, else audit_events_namespace_idx.
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
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

        let rows: Vec<AuditRow> = self.read_all(qb.build_query_as()).await?;
        let items = rows.into_iter().map(AuditEvent::from).collect();
        Ok(into_page(items, limit, |e: &AuditEvent| e.id.to_string()))
    }
}
