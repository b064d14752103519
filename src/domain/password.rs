/// A password that met the policy. Kept out of `Debug` output.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Length from the configured minimum to 128 characters, counted exactly as sent, and not
/// easy to guess (zxcvbn score 2 or more, with the username and email as known words).
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

pub const MAX_PASSWORD_CHARS: usize = 128;
/// zxcvbn's "somewhat guessable": safe against online guessing, which lockout bounds further.
const MIN_SCORE: u8 = 2;

impl PasswordPolicy {
    pub fn parse(&self, raw: &str, known_words: &[&str]) -> Result<Password, String> {
        let len = raw.chars().count();
        if len < self.min_length {
            return Err(format!("must be at least {} characters long", self.min_length));
        }
        if len > MAX_PASSWORD_CHARS {
            return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters long"));
        }
        let lowered = raw.to_lowercase();
        if known_words.iter().any(|w| !w.is_empty() && lowered == w.to_lowercase()) {
            return Err("must not be your username or email address".into());
        }
        let estimate = zxcvbn::zxcvbn(raw, known_words);
        if u8::from(estimate.score()) < MIN_SCORE {
            let why = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| w.to_string())
                .unwrap_or_else(|| "it would be guessed quickly".to_string());
            return Err(format!("is too easy to guess: {why}"));
        }
        Ok(Password(raw.to_string()))
    }
}

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordPolicy;

    const POLICY: PasswordPolicy = PasswordPolicy { min_length: 8 };

    #[test]
    fn common_and_personal_passwords_are_refused_with_a_reason() {
        assert!(POLICY.parse("password123", &[]).is_err_and(|e| e.contains("guess")));
        assert!(POLICY.parse("alice-the-great", &["alice-the-great"]).is_err());
        assert!(POLICY.parse("short", &[]).is_err_and(|e| e.contains("at least 8")));
        assert!(POLICY.parse(&"x".repeat(129), &[]).is_err_and(|e| e.contains("at most")));
    }

    #[test]
    fn a_long_unusual_password_is_accepted_untrimmed() {
        let pw = POLICY.parse(" correct horse battery staple ", &[]).expect("strong");
        assert_eq!(pw.expose(), " correct horse battery staple ");
    }
}
