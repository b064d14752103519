/// A plain mailbox address: a dot-atom local part in ASCII, `@`, and a dotted DNS domain
/// name. Forms that would give one mailbox several spellings are refused (quoted local
/// parts, comments, escapes, IP-literal domains, a trailing dot); a domain written in
/// Unicode is kept in its ASCII (`xn--`) form. Unique without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

const INVALID: &str = "must be a valid email address";

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > 254 {
            return Err("must be at most 254 characters long".into());
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(INVALID.into());
        }
        let Some((local, domain)) = raw.rsplit_once('@') else { return Err(INVALID.into()) };
        check_local(local)?;
        let domain = check_domain(domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > 254 {
            return Err("must be at most 254 characters long".into());
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that uniqueness and login compare: the whole address in lower case (the
    /// domain is ASCII already). Dots and `+tags` are kept: whether they matter is each
    /// mail provider's own rule.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The key of an address already stored, also one from before today's rules.
pub fn address_key(address: &str) -> String {
    Email::parse(address).map(|e| e.key()).unwrap_or_else(|_| address.to_lowercase())
}

/// RFC 5322 `atext`: what a dot-atom may hold besides dots.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn check_local(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err(INVALID.into());
    }
    if local.contains(['"', '(', ')', '\\']) {
        return Err("must not use quotes, comments or backslashes before the @".into());
    }
    if !local.is_ascii() {
        return Err("must be written in ASCII before the @".into());
    }
    if local.len() > 64 {
        return Err("must have at most 64 characters before the @".into());
    }
    if local.split('.').any(|atom| atom.is_empty() || !atom.chars().all(is_atext)) {
        return Err(INVALID.into());
    }
    Ok(())
}

/// The domain as it will be stored: as written when ASCII, else its ASCII (IDNA) form.
fn check_domain(domain: &str) -> Result<String, String> {
    if domain.starts_with('[') {
        return Err("must have a domain name after the @, not an IP address".into());
    }
    if domain.ends_with('.') {
        return Err("must not end with a dot".into());
    }
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| INVALID.to_string())?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) || tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(INVALID.into());
    }
    Ok(if domain.is_ascii() { domain.to_string() } else { ascii })
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

    #[test]
    fn forms_that_spell_one_mailbox_several_ways_are_refused() {
        for bad in [
            "\"alice\"@example.com",
            "\"al ice\"@example.com",
            "alice(comment)@example.com",
            "(comment)alice@example.com",
            "al\\ice@example.com",
            "alice@[192.0.2.1]",
            "alice@[IPv6:2001:db8::1]",
            "alice@192.0.2.1",
            "alice@example.com.",
            "alice@example..com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@exa_mple.com",
            "alicé@example.com",
            "alice@@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn the_key_ignores_case_and_keeps_dots_and_tags() {
        let key = |raw: &str| Email::parse(raw).expect(raw).key();
        assert_eq!(key("Alice@EXAMPLE.com"), key("alice@example.COM"));
        assert_ne!(key("a.lice@example.com"), key("alice@example.com"));
        assert_ne!(key("alice+x@example.com"), key("alice@example.com"));
        assert_eq!(Email::parse("Alice@Example.com").expect("valid").as_str(), "Alice@Example.com", "the spelling is kept");
    }

    #[test]
    fn a_unicode_domain_is_kept_in_its_ascii_form_so_both_spellings_are_one_key() {
        let unicode = Email::parse("anna@Bücher.example").expect("an IDN domain");
        let ascii = Email::parse("anna@xn--bcher-kva.example").expect("its ASCII form");
        assert_eq!(unicode.as_str(), "anna@xn--bcher-kva.example");
        assert_eq!(unicode.key(), ascii.key());
        let fullwidth = Email::parse("anna@ＥＸＡＭＰＬＥ.com").expect("a fullwidth domain");
        assert_eq!(fullwidth.key(), "anna@example.com", "compatibility and case forms map to one domain");
        assert!(Email::parse("\u{212A}im@example.com").is_err(), "a Kelvin sign is not a K");
    }
}
