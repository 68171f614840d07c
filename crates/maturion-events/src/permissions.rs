//! Event sourcing for a critical operation (spec §3.4): user permission grants and
//! revocations.
//!
//! [`grant`] and [`revoke`] change `user_permissions` in the caller's transaction; the database
//! publishes `permission.granted` / `permission.revoked` from that change itself (trigger
//! `publish_permission_change`, events 3.1.0), whoever makes it, and refuses them from every
//! publisher. The event log is then a complete history: [`rebuild`] replays it in commit order
//! and yields exactly the set of active permissions, which [`active`] reads from the table.
//!
//! Commit order matters: two transactions changing the same permission serialise on its row,
//! and the commit positions of the bus order them as they committed, whatever the clocks of
//! the application servers said.
//!
//! Limit: the rebuild is exact only while the events are retained (event_log keeps 13 months by
//! default); a longer history needs these event types exempted from retention, or snapshots.

use std::collections::BTreeMap;

use maturion_tenancy::{TenantTransaction, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventError;

pub const PERMISSION_GRANTED: &str = "permission.granted";
pub const PERMISSION_REVOKED: &str = "permission.revoked";

/// A permission a user holds for a module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PermissionKey {
    pub user_id: Uuid,
    pub module: String,
    pub permission: String,
}

/// Active permissions and who granted each (the latest grant).
pub type Permissions = BTreeMap<PermissionKey, Option<Uuid>>;

/// The payload the database writes (`maturion.insert_permission_event`).
#[derive(Debug, Deserialize)]
struct Payload {
    user_id: Uuid,
    module: String,
    permission: String,
    /// Who granted (granted events) or revoked (revoked events).
    actor: Option<Uuid>,
}

/// Grants `permission` on `module` to `user` in the transaction's organisation, as the
/// transaction's user. Returns false, changing and publishing nothing, when it is already
/// active.
pub async fn grant(
    tx: &TenantTransaction,
    user: UserId,
    module: &str,
    permission: &str,
) -> Result<bool, EventError> {
    let actor = tx
        .context()
        .user_id
        .ok_or(EventError::MissingActor("a permission grant"))?;
    // A revoked permission is a soft-deleted row that still holds the unique key: a re-grant
    // revives it.
    let row = tx
        .query_opt(
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5, now()) \
             ON CONFLICT (organisation_id, user_id, module, permission) DO UPDATE \
             SET deleted_at = NULL, granted_by = EXCLUDED.granted_by, granted_at = EXCLUDED.granted_at \
             WHERE user_permissions.deleted_at IS NOT NULL \
             RETURNING id",
            &[&tx.context().organisation_id, &user, &module, &permission, &actor],
        )
        .await?;
    Ok(row.is_some())
}

/// Revokes it (a soft delete). Returns false, changing and publishing nothing, when it is not
/// active.
pub async fn revoke(
    tx: &TenantTransaction,
    user: UserId,
    module: &str,
    permission: &str,
) -> Result<bool, EventError> {
    // The revocation is recorded in the acting user's name (deleted_by, the event's actor).
    if tx.context().user_id.is_none() {
        return Err(EventError::MissingActor("a permission revocation"));
    }
    let row = tx
        .query_opt(
            "UPDATE user_permissions SET deleted_at = now() \
             WHERE organisation_id = $1 AND user_id = $2 AND module = $3 AND permission = $4 AND deleted_at IS NULL \
             RETURNING id",
            &[&tx.context().organisation_id, &user, &module, &permission],
        )
        .await?;
    Ok(row.is_some())
}

/// The organisation's active permissions as the table holds them.
pub async fn active(tx: &TenantTransaction) -> Result<Permissions, EventError> {
    let rows = tx
        .query("SELECT user_id, module, permission, granted_by FROM user_permissions WHERE deleted_at IS NULL", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                PermissionKey {
                    user_id: row.get(0),
                    module: row.get(1),
                    permission: row.get(2),
                },
                row.get(3),
            )
        })
        .collect())
}

/// The organisation's active permissions rebuilt from its event log alone, in commit order.
pub async fn rebuild(tx: &TenantTransaction) -> Result<Permissions, EventError> {
    let rows = tx
        .query(
            "SELECT event_type, payload FROM maturion.events_in_commit_order($1)",
            &[&vec![PERMISSION_GRANTED, PERMISSION_REVOKED]],
        )
        .await?;
    let mut permissions = Permissions::new();
    for row in rows {
        let event_type: String = row.get(0);
        let payload: Option<serde_json::Value> = row
            .try_get(1)
            .map_err(|e| EventError::Malformed(format!("{event_type} payload: {e}")))?;
        let payload: Payload = serde_json::from_value(payload.unwrap_or_default())
            .map_err(|e| EventError::Malformed(format!("{event_type} payload: {e}")))?;
        let key = PermissionKey {
            user_id: payload.user_id,
            module: payload.module,
            permission: payload.permission,
        };
        if event_type == PERMISSION_GRANTED {
            permissions.insert(key, payload.actor);
        } else {
            permissions.remove(&key);
        }
    }
    Ok(permissions)
}

/// The platform's own subscription, run by `maturion serve`: every permission event is
/// checked against the table it describes.
pub const LOG_CHECK_SUBSCRIPTION: &str = "platform.permission_log";

/// [`LOG_CHECK_SUBSCRIPTION`] on `permission.*`, for events committed from its registration
/// on (the check is of the table as it is now, see [`LogCheck`]).
pub fn log_check_subscription() -> crate::Subscription {
    crate::Subscription::new(LOG_CHECK_SUBSCRIPTION, &["permission.*"])
        .starting_from(crate::StartFrom::Now)
}

/// The handler of [`LOG_CHECK_SUBSCRIPTION`]: for the permission an event names, the log
/// replayed in commit order ([`rebuild`]) must say what `user_permissions` says now ([`active`]):
/// active or not, and granted by whom. A difference is a change that bypassed the log (a
/// disabled trigger, a restore of one without the other): the delivery fails, is retried (a
/// change committing between the two reads settles on the next attempt) and ends as a dead
/// letter that `maturion events dead-letters` shows. Only the event's own permission is
/// compared: its latest event is always retained, whereas older permissions' events may have
/// been dropped with their partitions.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogCheck;

impl crate::Handler for LogCheck {
    async fn handle(
        &self,
        delivery: &mut crate::Delivery,
        event: &crate::Event,
    ) -> Result<(), crate::HandlerError> {
        let payload: Payload = serde_json::from_value(event.payload.clone().unwrap_or_default())
            .map_err(|error| format!("{} payload: {error}", event.event_type))?;
        let key = PermissionKey {
            user_id: payload.user_id,
            module: payload.module,
            permission: payload.permission,
        };
        let tx = delivery.transaction().await?;
        let from_log = rebuild(tx).await?.remove(&key);
        let in_table = active(tx).await?.remove(&key);
        if from_log == in_table {
            Ok(())
        } else {
            Err(format!(
                "{} of user {} differs: the event log says {}, user_permissions says {}",
                key.permission,
                key.user_id,
                describe(from_log),
                describe(in_table)
            )
            .into())
        }
    }
}

fn describe(grant: Option<Option<Uuid>>) -> String {
    match grant {
        None => "not active".to_owned(),
        Some(None) => "active, granted by nobody".to_owned(),
        Some(Some(grantor)) => format!("active, granted by {grantor}"),
    }
}
