//! The codes of a sign-in by email: 10 characters from an alphabet without look-alikes
//! (no 0/O, 1/I/L, 8/B, 5/S, 2/Z), shown as two groups of five so that they can be read
//! off a phone and typed; typed in any case, with or without the dash or spaces. Stored
//! only as SHA-256 of the challenge id and the code.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// 25 symbols: 10 of them give about 46 bits, far beyond five tries in ten minutes.
const ALPHABET: &[u8] = b"34679ACDEFGHJKMNPQRTUVWXY";
/// Characters in a code.
pub const CODE_LEN: usize = 10;

/// A fresh code, as it is mailed (`ABCDE-FGHJK`).
pub fn new_code() -> String {
    let raw: String = (0..CODE_LEN).map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())])).collect();
    format!("{}-{}", &raw[..CODE_LEN / 2], &raw[CODE_LEN / 2..])
}

/// The code as typed, in the mailed alphabet's form: upper case, without separators;
/// `None` for anything that cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What the store keeps of a code (normalised) mailed for `challenge`.
pub fn hash(challenge: Uuid, code: &str) -> Vec<u8> {
    let mut digest = Sha256::new();
    digest.update(challenge.as_bytes());
    digest.update(code.as_bytes());
    digest.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_two_groups_from_the_alphabet_and_typed_forms_normalise() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LEN + 1);
        let plain = normalize(&code).expect("a fresh code normalises");
        assert_eq!(normalize(&code.to_lowercase().replace('-', " ")), Some(plain.clone()));
        assert!(plain.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(normalize("0OIL1-0OIL1"), None, "look-alikes are never in a code");
        assert_eq!(normalize("ACD"), None);
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn a_code_is_stored_bound_to_its_challenge() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_ne!(hash(a, "ACDEFGHJKM"), hash(b, "ACDEFGHJKM"));
        assert_eq!(hash(a, "ACDEFGHJKM").len(), 32);
    }
}
