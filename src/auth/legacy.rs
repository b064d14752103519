//! Password hashes brought over from other systems (`gatehouse import`), kept as they are
//! and checked by their own algorithm until the next login rehashes them to argon2id:
//! bcrypt (`$2a$`, `$2b$`, `$2y$`), Werkzeug `pbkdf2:sha256:N$salt$hex` and
//! `scrypt:N:r:p$salt$hex`, argon2 PHC strings, and bare hex SHA-256 of the password.
//! Every comparison of derived bytes is constant-time.

use subtle::ConstantTimeEq;

/// Werkzeug-style iteration counts above this are refused as a denial-of-service risk.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// scrypt memory (128 · r · N bytes) above this is refused for the same reason.
const MAX_SCRYPT_BYTES: u64 = 256 * 1024 * 1024;

/// The algorithm a stored hash belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Argon2,
    Bcrypt,
    WerkzeugPbkdf2,
    WerkzeugScrypt,
    Sha256Hex,
}

/// Recognises a stored hash, checking its structure (not the password); `None` for a
/// format this service cannot verify.
pub fn scheme_of(stored: &str) -> Option<Scheme> {
    if stored.starts_with("$argon2") {
        return argon2::password_hash::phc::PasswordHash::new(stored).is_ok().then_some(Scheme::Argon2);
    }
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| stored.starts_with(p)) {
        let cost_ok = stored.get(4..6).and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| (4..=31).contains(&c));
        return (stored.len() == 60 && cost_ok && stored.as_bytes()[6] == b'$').then_some(Scheme::Bcrypt);
    }
    if stored.starts_with("pbkdf2:") {
        return parse_pbkdf2(stored).map(|_| Scheme::WerkzeugPbkdf2);
    }
    if stored.starts_with("scrypt:") {
        return parse_scrypt(stored).map(|_| Scheme::WerkzeugScrypt);
    }
    (stored.len() == 64 && stored.bytes().all(|b| b.is_ascii_hexdigit())).then_some(Scheme::Sha256Hex)
}

/// Checks `password` against a non-argon2 stored hash; false for anything unrecognised.
pub fn verify(password: &str, stored: &str) -> bool {
    match scheme_of(stored) {
        Some(Scheme::Bcrypt) => bcrypt::verify(password, stored).unwrap_or(false),
        Some(Scheme::WerkzeugPbkdf2) => parse_pbkdf2(stored).is_some_and(|p| {
            let mut out = vec![0u8; p.expected.len()];
            match p.digest {
                Digest::Sha256 => pbkdf2::pbkdf2_hmac::<sha2_next::Sha256>(password.as_bytes(), p.salt.as_bytes(), p.iterations, &mut out),
                Digest::Sha512 => pbkdf2::pbkdf2_hmac::<sha2_next::Sha512>(password.as_bytes(), p.salt.as_bytes(), p.iterations, &mut out),
            }
            out.ct_eq(&p.expected).into()
        }),
        Some(Scheme::WerkzeugScrypt) => parse_scrypt(stored).is_some_and(|s| {
            let mut out = vec![0u8; s.expected.len()];
            scrypt::scrypt(password.as_bytes(), s.salt.as_bytes(), &s.params, &mut out).is_ok() && bool::from(out.ct_eq(&s.expected))
        }),
        Some(Scheme::Sha256Hex) => {
            use sha2::Digest as _;
            let Some(expected) = decode_hex(stored) else { return false };
            sha2::Sha256::digest(password.as_bytes())[..].ct_eq(&expected).into()
        }
        // argon2 is verified by the hasher itself; unknown formats never match.
        Some(Scheme::Argon2) | None => false,
    }
}

enum Digest {
    Sha256,
    Sha512,
}

struct Pbkdf2<'a> {
    digest: Digest,
    iterations: u32,
    salt: &'a str,
    expected: Vec<u8>,
}

/// `pbkdf2:sha256:600000$salt$hex` (Werkzeug: the salt is used as its UTF-8 text).
fn parse_pbkdf2(stored: &str) -> Option<Pbkdf2<'_>> {
    let (method, salt, hex) = split3(stored)?;
    let mut parts = method.split(':');
    let (Some("pbkdf2"), Some(digest), Some(iterations), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let digest = match digest {
        "sha256" => Digest::Sha256,
        "sha512" => Digest::Sha512,
        _ => return None,
    };
    let iterations: u32 = iterations.parse().ok().filter(|n| (1..=MAX_PBKDF2_ITERATIONS).contains(n))?;
    let expected = decode_hex(hex).filter(|e| (16..=64).contains(&e.len()))?;
    Some(Pbkdf2 { digest, iterations, salt, expected })
}

struct Scrypt<'a> {
    params: scrypt::Params,
    salt: &'a str,
    expected: Vec<u8>,
}

/// `scrypt:32768:8:1$salt$hex` (Werkzeug: N, r, p; 64 bytes of output).
fn parse_scrypt(stored: &str) -> Option<Scrypt<'_>> {
    let (method, salt, hex) = split3(stored)?;
    let mut parts = method.split(':');
    let (Some("scrypt"), Some(n), Some(r), Some(p), None) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let (n, r, p): (u64, u32, u32) = (n.parse().ok()?, r.parse().ok()?, p.parse().ok()?);
    if !n.is_power_of_two() || n < 2 || 128 * u64::from(r) * n > MAX_SCRYPT_BYTES || p > 16 {
        return None;
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p).ok()?;
    let expected = decode_hex(hex).filter(|e| (16..=128).contains(&e.len()))?;
    Some(Scrypt { params, salt, expected })
}

fn split3(stored: &str) -> Option<(&str, &str, &str)> {
    let mut parts = stored.split('$');
    let (Some(method), Some(salt), Some(hex), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    (!salt.is_empty()).then_some((method, salt, hex))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_and_unknown_hashes_are_not_recognised() {
        for bad in [
            "",
            "plaintext",
            "$2b$99$abcdefghijklmnopqrstuuMqAJYJ0GhnSKc0cQ0pfvSdzmNuEErKe",
            "pbkdf2:sha256$salt$abcd",
            "pbkdf2:md5:1000$salt$00112233445566778899aabbccddeeff",
            "pbkdf2:sha256:0$salt$00112233445566778899aabbccddeeff",
            "scrypt:1000:8:1$salt$00112233445566778899aabbccddeeff",
            "scrypt:1073741824:8:1$salt$00112233445566778899aabbccddeeff",
            "$argon2id$garbage",
            "zz11",
        ] {
            assert_eq!(scheme_of(bad), None, "{bad}");
            assert!(!verify("anything", bad));
        }
    }

    #[test]
    fn bare_sha256_hex_matches_its_password_only() {
        // sha256("password")
        let stored = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
        assert_eq!(scheme_of(stored), Some(Scheme::Sha256Hex));
        assert!(verify("password", stored));
        assert!(verify("password", &stored.to_uppercase()));
        assert!(!verify("Password", stored));
    }
}
