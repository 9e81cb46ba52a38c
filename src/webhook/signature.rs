//! The signature on every delivery: `X-Planner-Signature: t=<unix seconds>,v1=<hex>`, where
//! the hex is HMAC-SHA256 under `WEBHOOK_SECRET` of `"<t>.<body>"`. Signing the time with
//! the body lets a receiver refuse an old delivery replayed later.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header value for `body` sent at `timestamp` (unix seconds).
pub fn header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_hmac_of_time_dot_body() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            header(b"whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(
            header(b"other", 1_700_000_000, br#"{"a":1}"#),
            header(b"whsec_test", 1_700_000_000, br#"{"a":1}"#)
        );
    }
}
