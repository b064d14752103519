/// A role name: `user`, `admin`, or a custom name of 1 to 32 of `a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Role(String);

impl Role {
    pub const USER: &'static str = "user";
    pub const ADMIN: &'static str = "admin";
    /// The rule as the served schema states it (ECMA-262, as JSON Schema reads patterns).
    pub const PATTERN: &'static str = "^[a-z0-9_-]{1,32}$";
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        let ok = (1..=Self::MAX_CHARS).contains(&len)
            && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok { Ok(Self(raw.to_string())) } else { Err(format!("role {raw:?} must be 1 to 32 of a-z, 0-9, '_' and '-'")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The role every account holds.
    pub fn user() -> Self {
        Self(Self::USER.to_string())
    }

    pub fn admin() -> Self {
        Self(Self::ADMIN.to_string())
    }
}

/// Sorted, without duplicates, and always with `user`.
pub fn normalize_roles(roles: impl IntoIterator<Item = Role>) -> Vec<Role> {
    let mut all: Vec<Role> = roles.into_iter().collect();
    all.push(Role::user());
    all.sort();
    all.dedup();
    all
}
