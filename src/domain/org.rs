//! Organizations: the slug and name rules, org roles (the rule of user roles, with `member`
//! in place of `user`), and the `org` claim access and ID tokens carry.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;

/// An org's unique handle: 2 to 63 of `a-z 0-9 -`, starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub const PATTERN: &'static str = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        let allowed = raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(2..=63).contains(&len) || !allowed || raw.starts_with('-') || raw.ends_with('-') {
            return Err("must be 2 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit".into());
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An org's display name: 1 to 100 characters, not only spaces, no control characters.
pub fn check_org_name(raw: &str) -> Result<String, String> {
    let len = raw.chars().count();
    if !(1..=100).contains(&len) {
        return Err("must be 1 to 100 characters long".into());
    }
    if raw.trim().is_empty() {
        return Err("must not be only spaces".into());
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(raw.to_string())
}

/// The org roles every member holds, and those with a say over the org.
pub const MEMBER: &str = "member";
pub const OWNER: &str = "owner";
pub const ORG_ADMIN: &str = "admin";

/// Parses org roles by the rule of user roles; sorted, without duplicates, always `member`.
pub fn org_roles<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, String> {
    let mut roles = vec![MEMBER.to_string()];
    for role in raw {
        roles.push(Role::parse(role.as_ref())?.as_str().to_string());
    }
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Whether these org roles let a member manage the org (members, roles, invitations).
pub fn manages(roles: &[String]) -> bool {
    roles.iter().any(|r| r == OWNER || r == ORG_ADMIN)
}

pub fn is_owner(roles: &[String]) -> bool {
    roles.iter().any(|r| r == OWNER)
}

/// The `org` claim: the session's active org and the member's roles in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrgClaim {
    pub id: Uuid,
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = json!(["member", "owner"]))]
    pub roles: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_lower_case_handles() {
        for good in ["acme", "a1", "acme-corp", &"a".repeat(63)] {
            assert!(Slug::parse(good).is_ok(), "{good}");
        }
        for bad in ["a", "Acme", "-acme", "acme-", "ac me", "acmé", &"a".repeat(64), ""] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn org_roles_always_hold_member_and_follow_the_rule_of_user_roles() {
        assert_eq!(org_roles(&["owner", "owner"]).expect("roles"), vec!["member", "owner"]);
        assert_eq!(org_roles::<&str>(&[]).expect("roles"), vec!["member"]);
        assert!(org_roles(&["Billing"]).is_err());
    }
}
