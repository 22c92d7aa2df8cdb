//! API keys: `itk_<lookup>_<secret>`. The lookup part finds the row; the whole key is stored
//! only as a SHA-256 hash and compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ALPHABET: [char; 62] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
    'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'A', 'B',
    'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U',
    'V', 'W', 'X', 'Y', 'Z',
];
const PREFIX: &str = "itk_";
const OPERATOR_PREFIX: &str = "itk_op_";
const LOOKUP_LEN: usize = 12;
/// 32 characters of base 62: about 190 bits of entropy, far above the 128 required.
const SECRET_LEN: usize = 32;

/// A freshly minted key: the full text is shown once, the rest is stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub full: String,
    pub lookup: String,
    pub hash: String,
}

fn random_part(len: usize) -> String {
    nanoid::nanoid!(len, &ALPHABET)
}

/// `len` random characters of base 62 (secrets shown once: keys, webhook signing secrets).
pub fn random_text(len: usize) -> String {
    random_part(len)
}

pub fn hash_secret(full: &str) -> String {
    sha256_hex(full)
}

/// SHA-256 of a text, as lower-case hex (key hashes, fingerprints, e-mail hashes).
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Constant-time comparison of two hashes.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub fn mint_brand_key() -> NewKey {
    let lookup = random_part(LOOKUP_LEN);
    let full = format!("{PREFIX}{lookup}_{}", random_part(SECRET_LEN));
    let hash = hash_secret(&full);
    NewKey { full, lookup, hash }
}

pub fn mint_operator_token() -> String {
    format!("{OPERATOR_PREFIX}{}", random_part(40))
}

/// A dashboard session's secret (the cookie): 43 characters of base 62, about 256 bits. Only
/// its hash is stored; it has no key's shape, so the API never takes it as one.
pub fn mint_session_secret() -> String {
    random_part(43)
}

/// The form token of a session (or of a sign-in page): derived from its secret, so a page of
/// ours can print it and a cross-site form, which cannot read the cookie, cannot.
pub fn form_token(secret: &str) -> String {
    sha256_hex(&format!("influtrack form\0{secret}"))
}

/// Why an operator token set by the environment is refused: too short or too uniform to
/// resist guessing.
pub fn weak_operator_token(token: &str) -> Option<String> {
    const MIN_LEN: usize = 32;
    const MIN_DISTINCT: usize = 10;
    let len = token.chars().count();
    let distinct = token
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    if len < MIN_LEN {
        Some(format!(
            "INFLUTRACK_ADMIN_TOKEN has {len} characters; use at least {MIN_LEN} random ones \
             (e.g. `openssl rand -hex 32`), or leave it unset to have one generated"
        ))
    } else if distinct < MIN_DISTINCT {
        Some(format!(
            "INFLUTRACK_ADMIN_TOKEN uses only {distinct} different characters; use at least \
             {MIN_DISTINCT} (e.g. `openssl rand -hex 32`), or leave it unset to have one generated"
        ))
    } else {
        None
    }
}

/// What a bearer token claims to be, before it is checked against stored hashes.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    Operator,
    Brand { lookup: &'a str },
}

/// Splits a presented token into its kind; `None` for anything that cannot be one of ours.
/// Operator tokens set by the environment may have any shape, so an unknown shape is still
/// checked against the operator token.
pub fn classify(token: &str) -> Presented<'_> {
    if let Some(rest) = token.strip_prefix(PREFIX) {
        if !token.starts_with(OPERATOR_PREFIX) {
            if let Some((lookup, secret)) = rest.split_once('_') {
                if lookup.len() == LOOKUP_LEN
                    && secret.len() == SECRET_LEN
                    && lookup.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Presented::Brand { lookup };
                }
            }
        }
    }
    Presented::Operator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_back_to_their_lookup() {
        let key = mint_brand_key();
        assert!(key.full.starts_with("itk_"));
        assert_eq!(
            classify(&key.full),
            Presented::Brand {
                lookup: &key.lookup
            }
        );
        assert_eq!(hash_secret(&key.full), key.hash);
        assert!(hashes_match(&key.hash, &hash_secret(&key.full)));
        assert!(!hashes_match(&key.hash, &hash_secret("itk_other")));
    }

    #[test]
    fn keys_are_distinct() {
        let a = mint_brand_key();
        let b = mint_brand_key();
        assert_ne!(a.full, b.full);
        assert_ne!(a.lookup, b.lookup);
    }

    #[test]
    fn weak_operator_tokens_are_named() {
        assert!(weak_operator_token("a").is_some());
        assert!(weak_operator_token(&"ab".repeat(20)).is_some());
        assert!(weak_operator_token(&mint_operator_token()).is_none());
        assert!(weak_operator_token("0123456789abcdef0123456789abcdef").is_none());
    }

    #[test]
    fn operator_tokens_are_not_brand_keys() {
        assert_eq!(classify(&mint_operator_token()), Presented::Operator);
        assert_eq!(classify("anything"), Presented::Operator);
    }
}
