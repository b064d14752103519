use std::str::FromStr;

/// A syntactically valid address (RFC 5322 addr-spec) with a dotted domain, unique without
/// regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > 254 {
            return Err("must be at most 254 characters long".into());
        }
        let parsed = email_address::EmailAddress::from_str(raw).map_err(|_| "must be a valid email address".to_string())?;
        let domain = parsed.domain();
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) || !domain.contains('.') || domain.starts_with('[') {
            return Err("must be a valid email address".into());
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that uniqueness and login compare.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn addresses_without_a_dotted_domain_or_with_spaces_are_refused() {
        for bad in ["plain", "a@b", "a @b.com", "@b.com", "a@", "a@b.com\n"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Email::parse("Alice.Smith+tag@Example.co.uk").is_ok());
    }
}
