//! The org of an authorization with scope `organization`: the one `organization=SLUG`
//! names (a non-member is refused with `access_denied`), the person's only one, or, when
//! they belong to several, a page where they choose (each choice comes back with the slug).

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::Value;
use uuid::Uuid;

use super::session::Visit;
use super::signin::base;
use crate::accounts::oauth::Authorization;
use crate::app::AppState;
use crate::store::{MyOrg, StoreResult};

/// Most orgs a chooser lists.
const MAX_CHOICES: u32 = 100;

pub(super) enum OrgPick {
    /// The org for the code, or none (the scope was not asked for, or no org to pick).
    Org(Option<Uuid>),
    /// The named org is unknown or the person is not a member.
    NotMember,
    /// Several orgs and none named.
    Choose(Vec<MyOrg>),
}

pub(super) async fn pick(state: &AppState, request: &Authorization, user_id: Uuid) -> StoreResult<OrgPick> {
    if !request.scopes.contains(&"organization") {
        return Ok(OrgPick::Org(None));
    }
    if let Some(slug) = &request.organization {
        let Some(org) = state.store.org_by_slug(slug).await? else { return Ok(OrgPick::NotMember) };
        return Ok(match state.store.org_roles_of(org.id, user_id).await? {
            Some(_) => OrgPick::Org(Some(org.id)),
            None => OrgPick::NotMember,
        });
    }
    let mut mine = state.store.user_orgs(user_id, 1, MAX_CHOICES).await?.items;
    Ok(match mine.len() {
        0 => OrgPick::Org(None),
        1 => OrgPick::Org(mine.pop().map(|m| m.org.id)),
        _ => OrgPick::Choose(mine),
    })
}

/// The chooser: one link per org, back to the same request with `organization` set.
pub(super) fn chooser_page(state: &AppState, visit: Visit, orgs: &[MyOrg], query: &str) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(name, _)| name != "organization").collect();
    let choices: Vec<Value> = orgs
        .iter()
        .map(|m| {
            let mut with = kept.clone();
            with.push(("organization".into(), m.org.slug.clone()));
            let link = format!("/oauth/authorize?{}", serde_urlencoded::to_string(&with).unwrap_or_default());
            Value::from_serialize(serde_json::json!({ "name": m.org.name, "slug": m.org.slug, "link": link }))
        })
        .collect();
    let mut context = base(state, &visit, "org_chooser_title");
    context.insert("intro", Value::from(state.pages.text("org_chooser_intro")));
    context.insert("orgs", Value::from(choices));
    let page = state.pages.render(StatusCode::OK, "org_chooser.html", context);
    visit.respond(page)
}
