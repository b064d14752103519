//! Password hashes brought over from other systems (`gatehouse import`), kept as they are
//! and checked by their own algorithm until the next login rehashes them to argon2id:
//! bcrypt (`$2a$`, `$2b$`, `$2y$`), Werkzeug `pbkdf2:sha256:N$salt$hex` and
//! `scrypt:N:r:p$salt$hex`, argon2 PHC strings, and bare hex SHA-256 of the password.
//! Every comparison of derived bytes is constant-time.
//!
//! [`check_work_factor`] bounds the cost of every format: an import refuses a hash beyond
//! the bounds, and a login never computes one (a bcrypt cost of 31 would pin a core for days).

use subtle::ConstantTimeEq;

/// The work factor bounds: about a second of one core, or 1 GiB, at the very most.
pub const MAX_BCRYPT_COST: u32 = 16;
pub const MAX_ARGON2_M_KIB: u32 = 1024 * 1024;
pub const MAX_ARGON2_T: u32 = 20;
pub const MAX_ARGON2_P: u32 = 16;
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
pub const MAX_SCRYPT_LOG_N: u32 = 20;
pub const MAX_SCRYPT_P: u32 = 16;
/// scrypt memory: 128 · r · N bytes.
pub const MAX_SCRYPT_BYTES: u64 = 256 * 1024 * 1024;

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
        let cost_ok = bcrypt_cost(stored).is_some_and(|c| (4..=31).contains(&c));
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

/// Whether checking `stored` stays within the work factor bounds; the error says which
/// factor is too high (never the hash). The one definition of the bounds: the import and
/// the password check both ask here.
pub fn check_work_factor(stored: &str) -> Result<(), String> {
    let over = |what: &str, value: u64, max: u64| {
        if value > max { Err(format!("work factor too high: {what} {value}, at most {max}")) } else { Ok(()) }
    };
    match scheme_of(stored) {
        Some(Scheme::Bcrypt) => over("bcrypt cost", bcrypt_cost(stored).unwrap_or(u32::MAX).into(), MAX_BCRYPT_COST.into()),
        Some(Scheme::Argon2) => {
            let Ok(hash) = argon2::password_hash::phc::PasswordHash::new(stored) else { return Ok(()) };
            // A missing parameter takes argon2's default, far below the bounds.
            let param = |name: &str| hash.params.get_decimal(name).map_or(0, u64::from);
            over("argon2 m (KiB)", param("m"), MAX_ARGON2_M_KIB.into())?;
            over("argon2 t", param("t"), MAX_ARGON2_T.into())?;
            over("argon2 p", param("p"), MAX_ARGON2_P.into())
        }
        Some(Scheme::WerkzeugPbkdf2) => {
            over("pbkdf2 iterations", parse_pbkdf2(stored).map_or(u64::MAX, |p| p.iterations.into()), MAX_PBKDF2_ITERATIONS.into())
        }
        Some(Scheme::WerkzeugScrypt) => {
            let Some(s) = parse_scrypt(stored) else { return Ok(()) };
            over("scrypt log2(N)", s.log_n.into(), MAX_SCRYPT_LOG_N.into())?;
            over("scrypt p", s.p.into(), MAX_SCRYPT_P.into())?;
            over("scrypt memory (bytes, 128 r N)", 128u64.saturating_mul(s.r.into()).saturating_mul(1 << s.log_n), MAX_SCRYPT_BYTES)
        }
        Some(Scheme::Sha256Hex) | None => Ok(()),
    }
}

/// The cost of a `$2b$NN$...` hash.
fn bcrypt_cost(stored: &str) -> Option<u32> {
    stored.get(4..6).and_then(|c| c.parse().ok())
}

/// Checks `password` against a non-argon2 stored hash; false for anything unrecognised or
/// beyond the work factor bounds.
pub fn verify(password: &str, stored: &str) -> bool {
    if check_work_factor(stored).is_err() {
        return false;
    }
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
            let Ok(params) = scrypt::Params::new(s.log_n, s.r, s.p) else { return false };
            let mut out = vec![0u8; s.expected.len()];
            scrypt::scrypt(password.as_bytes(), s.salt.as_bytes(), &params, &mut out).is_ok() && bool::from(out.ct_eq(&s.expected))
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
    let iterations: u32 = iterations.parse().ok().filter(|n| *n >= 1)?;
    let expected = decode_hex(hex).filter(|e| (16..=64).contains(&e.len()))?;
    Some(Pbkdf2 { digest, iterations, salt, expected })
}

struct Scrypt<'a> {
    log_n: u8,
    r: u32,
    p: u32,
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
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 {
        return None;
    }
    let expected = decode_hex(hex).filter(|e| (16..=128).contains(&e.len()))?;
    Some(Scrypt { log_n: n.trailing_zeros() as u8, r, p, salt, expected })
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
            "$argon2id$garbage",
            "zz11",
        ] {
            assert_eq!(scheme_of(bad), None, "{bad}");
            assert!(!verify("anything", bad));
        }
    }

    #[test]
    fn work_factors_at_the_bounds_pass_and_one_step_beyond_is_refused_without_the_hash() {
        let bcrypt = |cost: u32| format!("$2b${cost:02}$Eu14af7qOKeUIEUUXPo1/.mjZnSpBDhfCT6NEAcV6ChPjdvSv9jMW");
        let argon2 = |m: u32, t: u32, p: u32| {
            format!("$argon2id$v=19$m={m},t={t},p={p}$PocQojQmxLhXitG6N+Z8rw$dlGi9KAMrIvo1kv9SG41ZmbYPx4PGtlSNJPNjdb/cLU")
        };
        let pbkdf2 = |n: u32| format!("pbkdf2:sha256:{n}$salt$00112233445566778899aabbccddeeff");
        let scrypt = |n: u64, r: u32, p: u32| format!("scrypt:{n}:{r}:{p}$salt$00112233445566778899aabbccddeeff");
        for within in [bcrypt(16), argon2(1024 * 1024, 20, 16), pbkdf2(10_000_000), scrypt(1 << 20, 2, 16), scrypt(32768, 8, 1)] {
            assert!(scheme_of(&within).is_some(), "{within}");
            assert_eq!(check_work_factor(&within), Ok(()), "{within}");
        }
        for beyond in [
            bcrypt(17),
            bcrypt(31),
            argon2(1024 * 1024 + 1, 2, 1),
            argon2(19456, 21, 1),
            argon2(19456, 2, 17),
            pbkdf2(10_000_001),
            scrypt(1 << 21, 1, 1),
            scrypt(1 << 20, 3, 1),
            scrypt(1 << 14, 8, 17),
            scrypt(1 << 40, 8, 1),
        ] {
            assert!(scheme_of(&beyond).is_some(), "{beyond}");
            let why = check_work_factor(&beyond).expect_err(&beyond);
            assert!(why.starts_with("work factor too high") && !why.contains('$'), "{why}");
            assert!(!verify("anything", &beyond));
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
