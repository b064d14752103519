//! The account page's organizations: the person's orgs with their roles there, and the
//! invitations waiting for their verified address (accepted through the mailed link, whose
//! token only the mail holds).

use serde_json::{Value, json};

use crate::app::AppState;
use crate::store::{StoreResult, User};

/// Most orgs the account page lists.
const ORGS_SHOWN: u32 = 100;

pub(super) async fn org_rows(state: &AppState, user: &User) -> StoreResult<(Vec<Value>, Vec<Value>)> {
    let orgs = state.store.user_orgs(user.id, 1, ORGS_SHOWN).await?.items;
    let orgs = orgs.into_iter().map(|m| json!({ "name": m.org.name, "slug": m.org.slug, "roles": m.roles.join(", ") })).collect();
    let invitations = match user.email.as_deref().filter(|_| user.email_verified) {
        Some(email) => state.store.pending_invitations_for(&crate::domain::login_key(email)).await?,
        None => Vec::new(),
    };
    let invitations = invitations
        .into_iter()
        .map(|r| json!({ "org": r.org.name, "expires": r.invitation.expires_at.format("%Y-%m-%d").to_string() }))
        .collect();
    Ok((orgs, invitations))
}
