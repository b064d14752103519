//! The one key an account is found and counted under, from whatever was typed.

use super::Email;

/// The key a login (a username or an address, as typed or as stored) is looked up, kept
/// unique and counted under: an address as it is stored (a Unicode domain in its ASCII
/// form) in lower case, anything else in lower case. No username or email holds NUL, and
/// PostgreSQL text cannot: it is replaced, so such a login simply matches nobody.
pub fn login_key(login: &str) -> String {
    match Email::parse(login) {
        Ok(email) => email.key(),
        Err(_) => fold(login),
    }
}

/// Case folded, NUL replaced: the last step of every key.
pub(super) fn fold(text: &str) -> String {
    text.to_lowercase().replace('\0', "\u{fffd}")
}

#[cfg(test)]
mod tests {
    use super::login_key;
    use crate::domain::{Email, Username};

    #[test]
    fn a_username_and_an_address_have_one_key_however_they_are_typed() {
        let alice = Username::parse("Alice").expect("a username");
        assert_eq!(login_key("ALICE"), alice.key());
        let email = Email::parse("anna@xn--bcher-kva.example").expect("an address");
        assert_eq!(login_key("Anna@Bücher.example"), email.key());
        assert_eq!(login_key("a\0b"), "a\u{fffd}b");
    }
}
