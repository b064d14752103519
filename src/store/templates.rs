//! Templates as both stores see them, and the per-owner quota that both enforce the same way.
//!
//! Size is counted in UTF-8 bytes of the name plus the content: what the rows take on disk,
//! whatever the script (a character of Chinese or an emoji weighs 3 or 4 bytes).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreError, StoreResult};
use crate::error::Conflict;

/// A user-owned text template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: Uuid,
    #[schema(example = "welcome mail")]
    pub name: String,
    /// `""` when none was given.
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewTemplate {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub content: String,
}

impl NewTemplate {
    pub(crate) fn size(&self) -> i64 {
        byte_len(&self.name) + byte_len(&self.content)
    }
}

/// A change to a template; `None` leaves a field as it is.
#[derive(Default)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub content: Option<String>,
}

impl TemplatePatch {
    /// The template's size after the change, from the byte lengths of its name and content now.
    pub(crate) fn size_after(&self, name_bytes: i64, content_bytes: i64) -> i64 {
        self.name.as_deref().map_or(name_bytes, byte_len) + self.content.as_deref().map_or(content_bytes, byte_len)
    }
}

/// GATEHOUSE_TEMPLATES_MAX_COUNT and GATEHOUSE_TEMPLATES_MAX_BYTES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateQuota {
    pub max_count: u32,
    pub max_bytes: u64,
}

/// The owner's number of templates and their bytes, read by [`USAGE_SQL`].
pub(crate) struct Usage {
    pub count: i64,
    pub bytes: i64,
}

/// Same text on both stores: `octet_length` counts bytes without reading out the content
/// (SQLite 3.43+ and PostgreSQL alike), and `templates_by_owner` finds the owner's rows.
pub(crate) const USAGE_SQL: &str =
    "SELECT count(*), COALESCE(sum(octet_length(name) + octet_length(content)), 0) FROM templates WHERE owner_id = $1";

/// The byte lengths of one of the owner's templates: `(name, content)`.
pub(crate) const SIZE_SQL: &str = "SELECT octet_length(name), octet_length(content) FROM templates WHERE id = $1 AND owner_id = $2";

fn byte_len(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

impl TemplateQuota {
    /// A new template of `size` bytes next to the owner's current `usage`.
    pub(crate) fn admit_new(&self, usage: &Usage, size: i64) -> StoreResult<()> {
        if usage.count >= i64::from(self.max_count) {
            return Err(StoreError::Conflict(Conflict::TemplateCountQuota));
        }
        self.admit_bytes(usage.bytes.saturating_add(size))
    }

    /// A template growing from `old` to `new` bytes.
    pub(crate) fn admit_growth(&self, usage: &Usage, old: i64, new: i64) -> StoreResult<()> {
        self.admit_bytes(usage.bytes.saturating_sub(old).saturating_add(new))
    }

    fn admit_bytes(&self, total: i64) -> StoreResult<()> {
        if u64::try_from(total).unwrap_or(u64::MAX) > self.max_bytes {
            return Err(StoreError::Conflict(Conflict::TemplateBytesQuota));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: TemplateQuota = TemplateQuota { max_count: 2, max_bytes: 10 };

    #[test]
    fn a_new_template_fits_until_either_limit_would_be_passed() {
        assert!(QUOTA.admit_new(&Usage { count: 1, bytes: 4 }, 6).is_ok());
        assert!(matches!(QUOTA.admit_new(&Usage { count: 2, bytes: 0 }, 0), Err(StoreError::Conflict(Conflict::TemplateCountQuota))));
        assert!(matches!(QUOTA.admit_new(&Usage { count: 1, bytes: 4 }, 7), Err(StoreError::Conflict(Conflict::TemplateBytesQuota))));
    }

    #[test]
    fn a_patch_is_sized_in_utf8_bytes_of_what_it_leaves() {
        let patch = TemplatePatch { name: None, content: Some("é€".into()) };
        assert_eq!(patch.size_after(3, 100), 3 + 5);
        assert!(QUOTA.admit_growth(&Usage { count: 2, bytes: 10 }, 4, 4).is_ok());
        assert!(QUOTA.admit_growth(&Usage { count: 2, bytes: 10 }, 4, 5).is_err());
    }
}
