//! Secrets at rest (storefront webhook secrets, later shop tokens): sealed with
//! XChaCha20-Poly1305 under the operator's key, as `v1:<base64 of nonce and ciphertext>`. A
//! previous key may be given while rotating: what it sealed still opens, and is sealed again
//! with the current key at start.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

/// A 256-bit key.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// A key as the operator writes it: 64 hexadecimal digits or the base64 of 32 bytes.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
                .ok()?
        };
        bytes.try_into().ok().map(Self)
    }

    /// The key as 64 hexadecimal digits (what a generated key file holds).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

/// Why a stored secret does not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed with another key (set the key it was sealed with as INFLUTRACK_SECRET_KEY_PREVIOUS)")]
    WrongKey,
    #[error("not a sealed value")]
    Malformed,
}

/// How a stored value opened.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Sealed with the current key.
    Current(String),
    /// Sealed with the previous key, or stored in plain text by an older version: to be
    /// sealed again with the current key.
    Reseal(String),
}

impl Opened {
    pub fn into_plain(self) -> String {
        match self {
            Self::Current(s) | Self::Reseal(s) => s,
        }
    }
}

/// The current key, and the previous one while rotating.
#[derive(Debug, Clone)]
pub struct Sealer {
    current: SecretKey,
    previous: Option<SecretKey>,
}

impl Sealer {
    pub fn new(current: SecretKey, previous: Option<SecretKey>) -> Self {
        Self { current, previous }
    }

    /// Seals a secret with the current key and a fresh random nonce.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("XChaCha20-Poly1305 encrypts any length a string has");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    /// Opens a stored value: sealed with the current key, the previous one, or (from versions
    /// before secrets were sealed) plain text.
    pub fn open(&self, stored: &str) -> Result<Opened, SealError> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(Opened::Reseal(stored.to_string()));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let open = |key: &SecretKey| {
            key.cipher()
                .decrypt(XNonce::from_slice(nonce), sealed)
                .ok()
                .and_then(|plain| String::from_utf8(plain).ok())
        };
        if let Some(plain) = open(&self.current) {
            return Ok(Opened::Current(plain));
        }
        match self.previous.as_ref().and_then(open) {
            Some(plain) => Ok(Opened::Reseal(plain)),
            None => Err(SealError::WrongKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_never_show_their_text() {
        let sealer = Sealer::new(SecretKey::generate(), None);
        let sealed = sealer.seal("shpss_0123456789");
        assert!(sealed.starts_with("v1:") && !sealed.contains("0123456789"));
        assert_ne!(
            sealed,
            sealer.seal("shpss_0123456789"),
            "a fresh nonce each time"
        );
        assert_eq!(
            sealer.open(&sealed),
            Ok(Opened::Current("shpss_0123456789".into()))
        );
        let other = Sealer::new(SecretKey::generate(), None);
        assert_eq!(other.open(&sealed), Err(SealError::WrongKey));
        assert_eq!(sealer.open("v1:???"), Err(SealError::Malformed));
        // Plain text from before: opened, to be sealed again.
        assert_eq!(sealer.open("legacy"), Ok(Opened::Reseal("legacy".into())));
    }

    #[test]
    fn rotation_opens_the_previous_keys_secrets_for_resealing() {
        let old = SecretKey::generate();
        let sealed = Sealer::new(old.clone(), None).seal("secret");
        let rotated = Sealer::new(SecretKey::generate(), Some(old));
        assert_eq!(rotated.open(&sealed), Ok(Opened::Reseal("secret".into())));
        assert_eq!(
            rotated.open(&rotated.seal("secret")),
            Ok(Opened::Current("secret".into()))
        );
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::parse(&key.to_hex()).unwrap().0, key.0);
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.0);
        assert_eq!(SecretKey::parse(&b64).unwrap().0, key.0);
        assert!(SecretKey::parse("short").is_none());
        assert!(SecretKey::parse(&"ab".repeat(31)).is_none());
    }
}
