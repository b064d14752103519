/// 3 to 32 characters of `A-Z a-z 0-9 _ . -`, compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err("must be 3 to 32 characters long".into());
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err("may contain only letters A-Z and a-z, digits, '_', '.' and '-'".into());
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that uniqueness and login compare: the name in lower case.
    pub fn key(&self) -> String {
        super::login::fold(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn usernames_outside_the_rules_are_refused() {
        for bad in ["ab", "", "with space", "ünïcode", &"a".repeat(33), "semi;colon"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["abc", "Alice_1.b-c", &"a".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good:?} should be accepted");
        }
    }
}
