//! TOTP (RFC 6238) material: shared secrets, the `otpauth://` URI and its QR code, code
//! checks with ±1 step of drift, and recovery codes. No state here: see `auth::mfa`.

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Totp};

/// Seconds a code lives (RFC 6238's default, what every authenticator app uses).
pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// Steps of clock drift accepted either side of now.
const SKEW: u16 = 1;
/// Recovery codes handed out when TOTP is turned on.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a recovery code: 16 of base32, 80 bits.
const RECOVERY_CODE_CHARS: usize = 16;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A fresh shared secret: 160 random bits, the size RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    rand::random::<[u8; 20]>().to_vec()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_step_duration(STEP_SECS)
        .with_skew(SKEW)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the TOTP: {e}"))
}

/// What setup hands to the user, once: the secret in base32, the `otpauth://` URI and
/// that URI as a QR code in an SVG document.
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

pub fn enrollment(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Enrollment> {
    let totp = totp(secret, issuer, account)?;
    // The defaults spelled out: some apps read them rather than assume them.
    let uri = format!(
        "{}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        totp.to_url().map_err(|e| anyhow::anyhow!("cannot build the otpauth URI: {e}"))?
    );
    let qr = qrcode::QrCode::new(uri.as_bytes())?;
    let svg = qr.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
    Ok(Enrollment { secret: totp.secret().to_base32(), otpauth_uri: uri, qr_svg: svg })
}

/// A TOTP code as typed: 6 digits, spaces ignored ("123 456").
pub fn normalize_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The time step that `code` belongs to, within ±1 step of `now` (unix seconds).
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<i64> {
    let code = normalize_code(code)?;
    // Issuer and account do not enter the code; any valid ones do.
    let totp = totp(secret, "x", "x").ok()?;
    totp.check(&code, now).and_then(|step| i64::try_from(step).ok())
}

pub fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Ten fresh recovery codes, shown as `abcd-efgh-ijkl-mnop`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let raw: [u8; RECOVERY_CODE_CHARS] = rand::random();
            // 256 is a multiple of 32: every character is equally likely.
            let chars: Vec<char> = raw.iter().map(|b| char::from(BASE32[usize::from(b % 32)])).collect();
            chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of its normalised form (lower case, no
/// dashes or spaces). `None` when it cannot be one. A fast hash suffices: the codes are
/// 80 random bits, not chosen by people, so no dictionary or brute force reaches them.
pub fn recovery_hash(code: &str) -> Option<Vec<u8>> {
    let normal: String = code.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let valid = normal.len() == RECOVERY_CODE_CHARS && normal.bytes().all(|b| BASE32.contains(&b));
    valid.then(|| Sha256::digest(normal.as_bytes()).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_own_step_and_one_step_either_side_only() {
        let secret = new_secret();
        let now = 1_800_000_015;
        let code = |t: u64| totp(&secret, "x", "x").expect("totp").generate(t).to_string();
        let step = (now / STEP_SECS) as i64;
        assert_eq!(matching_step(&secret, &code(now), now), Some(step));
        assert_eq!(matching_step(&secret, &code(now - 30), now), Some(step - 1));
        assert_eq!(matching_step(&secret, &code(now + 30), now), Some(step + 1));
        assert_eq!(matching_step(&secret, &code(now - 60), now), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_alike_however_they_are_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 19, "{code}");
        let hash = recovery_hash(code).expect("valid");
        assert_eq!(recovery_hash(&code.to_uppercase().replace('-', " ")), Some(hash));
        assert_eq!(recovery_hash("123456"), None);
    }

    #[test]
    fn the_enrollment_names_issuer_and_account_and_draws_an_svg() {
        let secret = new_secret();
        let e = enrollment(&secret, "Gatehouse", "alice").expect("enrollment");
        assert!(e.otpauth_uri.starts_with("otpauth://totp/Gatehouse:alice?secret="), "{}", e.otpauth_uri);
        assert!(e.otpauth_uri.contains(&e.secret));
        assert!(e.qr_svg.contains("<svg"));
    }
}
