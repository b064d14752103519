//! The per-owner template quota, counted in UTF-8 bytes of the names plus the contents:
//! what the rows take on disk, whatever the script (a character of Chinese or an emoji
//! weighs 3 or 4 bytes). The store reads the usage and writes atomically around these rules.

use crate::error::Conflict;

/// GATEHOUSE_TEMPLATES_MAX_COUNT and GATEHOUSE_TEMPLATES_MAX_BYTES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateQuota {
    pub max_count: u32,
    pub max_bytes: u64,
}

/// An owner's number of templates and their bytes.
pub(crate) struct TemplateUsage {
    pub count: i64,
    pub bytes: i64,
}

pub(crate) fn byte_len(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

impl TemplateQuota {
    /// A new template of `size` bytes next to the owner's current `usage`.
    pub(crate) fn admit_new(&self, usage: &TemplateUsage, size: i64) -> Result<(), Conflict> {
        if usage.count >= i64::from(self.max_count) {
            return Err(Conflict::TemplateCountQuota);
        }
        self.admit_bytes(usage.bytes.saturating_add(size))
    }

    /// A template growing from `old` to `new` bytes.
    pub(crate) fn admit_growth(&self, usage: &TemplateUsage, old: i64, new: i64) -> Result<(), Conflict> {
        self.admit_bytes(usage.bytes.saturating_sub(old).saturating_add(new))
    }

    fn admit_bytes(&self, total: i64) -> Result<(), Conflict> {
        if u64::try_from(total).unwrap_or(u64::MAX) > self.max_bytes {
            return Err(Conflict::TemplateBytesQuota);
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
        assert!(QUOTA.admit_new(&TemplateUsage { count: 1, bytes: 4 }, 6).is_ok());
        assert_eq!(QUOTA.admit_new(&TemplateUsage { count: 2, bytes: 0 }, 0), Err(Conflict::TemplateCountQuota));
        assert_eq!(QUOTA.admit_new(&TemplateUsage { count: 1, bytes: 4 }, 7), Err(Conflict::TemplateBytesQuota));
    }

    #[test]
    fn a_growing_template_fits_until_the_byte_limit_would_be_passed() {
        assert!(QUOTA.admit_growth(&TemplateUsage { count: 2, bytes: 10 }, 4, 4).is_ok());
        assert!(QUOTA.admit_growth(&TemplateUsage { count: 2, bytes: 10 }, 4, 5).is_err());
    }
}
