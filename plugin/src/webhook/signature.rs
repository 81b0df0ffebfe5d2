//! How a notification proves it comes from Google: an ECDSA P-256 signature
//! over the exact body, checked against the public keys the owner entered.
//!
//! This is the one place that interprets Google's text, which is not exact
//! yet (revisit when it is):
//! - the header is `X-HEALTHAPI-SIGNATURE` (the reference page) or
//!   `GOOGLE-HEALTH-API-SIGNATURE` (the discovery document); both are
//!   accepted, and a request carrying both must satisfy each;
//! - its value is the standard base64 of a DER-encoded ECDSA signature with
//!   SHA-256 over the request body's bytes, unchanged;
//! - the keys are P-256 public keys in PEM (`BEGIN PUBLIC KEY`); any one of
//!   them may have signed (two during a rotation).

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use igor_plugin_sdk::Request;

/// The headers that may carry the signature.
pub const SIGNATURE_HEADERS: &[&str] = &["x-healthapi-signature", "google-health-api-signature"];

/// Most keys kept at once (a rotation needs two).
pub const MAX_KEYS: usize = 4;

/// Why a body's signature does not hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NoKeys,
    Missing,
    Malformed,
    NoKeyMatches,
}

impl Refusal {
    pub fn explain(&self) -> &'static str {
        match self {
            Self::NoKeys => "no webhook public key is set on the setup page",
            Self::Missing => "the notification carries no signature header",
            Self::Malformed => "the signature is not base64 of a DER ECDSA signature",
            Self::NoKeyMatches => "the signature matches none of the webhook public keys",
        }
    }
}

/// The PEM blocks in `text` parsed as P-256 public keys; Err names the
/// first block that is not one.
pub fn parse_keys(text: &str) -> Result<Vec<String>, String> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut keys = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(end) = rest.find(END) else {
            return Err("each key must be a PEM block ending in -----END PUBLIC KEY-----".into());
        };
        let block = rest[..end + END.len()].trim();
        VerifyingKey::from_public_key_pem(block)
            .map_err(|_| format!("key {} is not a P-256 public key in PEM", keys.len() + 1))?;
        keys.push(block.to_string());
        rest = rest[end + END.len()..].trim();
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("at most {MAX_KEYS} keys (two during a rotation)"));
    }
    Ok(keys)
}

/// Checks the request's signature(s) against `keys` (PEM blocks).
pub fn verify(request: &Request, keys: &[String]) -> Result<(), Refusal> {
    let keys: Vec<VerifyingKey> = keys
        .iter()
        .filter_map(|pem| VerifyingKey::from_public_key_pem(pem).ok())
        .collect();
    if keys.is_empty() {
        return Err(Refusal::NoKeys);
    }
    let values: Vec<&str> = SIGNATURE_HEADERS
        .iter()
        .filter_map(|name| request.header(name))
        .collect();
    if values.is_empty() {
        return Err(Refusal::Missing);
    }
    for value in values {
        let der = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| Refusal::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| Refusal::Malformed)?;
        if !keys
            .iter()
            .any(|key| key.verify(&request.body, &signature).is_ok())
        {
            return Err(Refusal::NoKeyMatches);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    fn key(seed: u8) -> (SigningKey, String) {
        let signing = SigningKey::from_slice(&[seed; 32]).unwrap();
        let pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (signing, pem)
    }

    fn signed(body: &[u8], by: &SigningKey, header: &str) -> Request {
        let signature: Signature = by.sign(body);
        let value = base64::engine::general_purpose::STANDARD.encode(signature.to_der());
        Request {
            body: body.to_vec(),
            headers: vec![(header.into(), value)],
            ..Default::default()
        }
    }

    #[test]
    fn either_header_with_any_key_holds() {
        let (old, old_pem) = key(1);
        let (new, new_pem) = key(2);
        let keys = parse_keys(&format!("{old_pem}\n{new_pem}")).unwrap();
        assert_eq!(keys.len(), 2);
        for header in SIGNATURE_HEADERS {
            assert_eq!(verify(&signed(b"[1]", &old, header), &keys), Ok(()));
            assert_eq!(verify(&signed(b"[1]", &new, header), &keys), Ok(()));
        }
    }

    #[test]
    fn a_changed_body_or_an_unknown_key_is_refused() {
        let (signing, pem) = key(1);
        let (stranger, _) = key(3);
        let keys = parse_keys(&pem).unwrap();
        let mut request = signed(b"[1]", &signing, "X-HEALTHAPI-SIGNATURE");
        request.body = b"[2]".to_vec();
        assert_eq!(verify(&request, &keys), Err(Refusal::NoKeyMatches));
        let forged = signed(b"[1]", &stranger, "x-healthapi-signature");
        assert_eq!(verify(&forged, &keys), Err(Refusal::NoKeyMatches));
        let unsigned = Request {
            body: b"[1]".to_vec(),
            ..Default::default()
        };
        assert_eq!(verify(&unsigned, &keys), Err(Refusal::Missing));
        assert_eq!(verify(&forged, &[]), Err(Refusal::NoKeys));
        let mut garbled = signed(b"[1]", &signing, "x-healthapi-signature");
        garbled.headers[0].1 = "bm90IGEgc2lnbmF0dXJl".into();
        assert_eq!(verify(&garbled, &keys), Err(Refusal::Malformed));
    }

    #[test]
    fn two_headers_must_both_hold() {
        let (signing, pem) = key(1);
        let keys = parse_keys(&pem).unwrap();
        let mut request = signed(b"[1]", &signing, "x-healthapi-signature");
        request
            .headers
            .push(("google-health-api-signature".into(), "AAAA".into()));
        assert_eq!(verify(&request, &keys), Err(Refusal::Malformed));
    }

    #[test]
    fn keys_must_be_p256_pem_blocks() {
        let (_, pem) = key(1);
        assert!(parse_keys("hello").is_err());
        assert!(parse_keys(&pem.replace("MF", "XX")).is_err());
        assert!(parse_keys(&[pem.as_str(); 5].join("\n")).is_err());
        assert_eq!(parse_keys("  ").unwrap(), Vec::<String>::new());
    }
}
