//! Digests and comparisons for nonces and holders: lowercase hex, SHA-256
//! in hex, and equality that takes the same time wherever strings differ.

use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Equal in constant time, so timing does not leak a matching prefix.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_sha256() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq("nonce", "nonce"));
        assert!(!constant_time_eq("nonce", "nonca"));
        assert!(!constant_time_eq("nonce", "nonce2"));
        assert!(constant_time_eq("", ""));
    }
}
