//! The `org.*` webhook events, queued inside the write that makes the change (see
//! [`super::events`]): `org.created` and `org.deleted` carry the organization,
//! `org.member_added`, `org.member_updated` and `org.member_removed` the membership with its
//! org's id, as the transaction sees it (a removal's and a deletion's before the row goes).

use serde::Serialize;
use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::StoreResult;
use super::db::{Write, classify, on_both_writes};
use super::events::EventType;
use super::orgs::{Membership, Org, membership_select, org_columns};
use super::users::user_columns;

const ORG_BY_ID: &str = concat!("SELECT ", org_columns!(), " FROM organizations o WHERE o.id = $1");
const MEMBERSHIP: &str = concat!(membership_select!(), " WHERE m.org_id = $1 AND m.user_id = $2");

/// A membership event's data: the Membership of the API, and the org it is in.
#[derive(Serialize)]
struct MemberEvent<'a> {
    org_id: Uuid,
    #[serde(flatten)]
    membership: &'a Membership,
}

on_both_writes! {
    /// Queues `kind` with the org as this transaction sees it; nothing when it is gone or
    /// nobody subscribes.
    pub(crate) async fn queue_org_event(&mut self, kind: EventType, org_id: Uuid) -> StoreResult<()> {
        let targets = self.webhook_targets(kind).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let org: Option<Org> = sqlx::query_as(ORG_BY_ID).bind(org_id).fetch_optional(&mut **self).await.map_err(classify)?;
        match org {
            Some(org) => self.queue_event_to(&targets, kind, &org).await,
            None => Ok(()),
        }
    }

    /// Queues `kind` with the user's membership of the org as this transaction sees it;
    /// nothing when there is none or nobody subscribes.
    pub(crate) async fn queue_member_event(&mut self, kind: EventType, org_id: Uuid, user_id: Uuid) -> StoreResult<()> {
        let targets = self.webhook_targets(kind).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let membership: Option<Membership> =
            sqlx::query_as(MEMBERSHIP).bind(org_id).bind(user_id).fetch_optional(&mut **self).await.map_err(classify)?;
        match membership {
            Some(membership) => self.queue_event_to(&targets, kind, &MemberEvent { org_id, membership: &membership }).await,
            None => Ok(()),
        }
    }
}
