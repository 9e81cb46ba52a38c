//! API tokens: `tp_` followed by 32 random bytes in hex. Shown once when a key is made; the
//! service keeps only the SHA-256 (32 random bytes leave nothing to guess, so a fast hash
//! suffices) and the first characters, to recognise a key in a list.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "tp_";
/// Characters of a token shown in `planner keys list`.
const SHOWN: usize = 10;

/// A new token, its hash and the prefix shown for it.
pub struct NewToken {
    pub token: String,
    pub hash: Vec<u8>,
    pub shown: String,
}

pub fn generate() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    NewToken {
        hash: hash(&token),
        shown: token[..SHOWN].to_string(),
        token,
    }
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why an `Authorization` header is not a token of ours.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    Missing,
    Malformed,
}

/// The token of `Authorization: Bearer tp_…`.
pub fn from_header(value: Option<&str>) -> Result<&str, Unreadable> {
    let value = value.ok_or(Unreadable::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(Unreadable::Malformed)?;
    let token = token.trim();
    let well_formed = token.len() == PREFIX.len() + 64
        && token.starts_with(PREFIX)
        && token[PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit());
    if scheme.eq_ignore_ascii_case("bearer") && well_formed {
        Ok(token)
    } else {
        Err(Unreadable::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_read_back_from_the_header() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("tp_") && a.token.len() == 67);
        assert_eq!(a.hash, hash(&a.token));
        assert!(a.token.starts_with(&a.shown));
        let header = format!("Bearer {}", a.token);
        assert_eq!(from_header(Some(&header)), Ok(a.token.as_str()));
        assert_eq!(from_header(Some(&format!("bearer  {}", a.token))), Ok(a.token.as_str()));
        assert_eq!(from_header(None), Err(Unreadable::Missing));
        for bad in [
            "Bearer",
            "Basic abc",
            "Bearer tp_123",
            &format!("Token {}", a.token),
            &a.token,
        ] {
            assert_eq!(from_header(Some(bad)), Err(Unreadable::Malformed), "{bad}");
        }
    }
}
