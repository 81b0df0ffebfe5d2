//! A plugin's manifest, written into its component as a custom section
//! (`host/src/wasm/manifest.rs` reads it). The component binary format allows
//! custom sections anywhere at the top level; appending one leaves the rest
//! of the component as it was.

/// The custom section that carries a component's manifest (TOML text).
pub const SECTION: &str = "igor-plugin-manifest";

/// `wasm` with `manifest` appended as its [`SECTION`].
pub fn with_manifest(wasm: &[u8], manifest: &str) -> Vec<u8> {
    with_custom_section(wasm, SECTION, manifest.as_bytes())
}

/// `wasm` with a custom section appended: id 0, the size, then the name and
/// the data.
pub fn with_custom_section(wasm: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut payload = leb128(name.len());
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut out = wasm.to_vec();
    out.push(0);
    out.extend(leb128(payload.len()));
    out.extend(payload);
    out
}

/// Unsigned LEB128, the binary format's integer encoding.
fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_sizes_and_names() {
        assert_eq!(leb128(0), [0]);
        assert_eq!(leb128(127), [0x7f]);
        assert_eq!(leb128(128), [0x80, 0x01]);
        assert_eq!(leb128(624_485), [0xe5, 0x8e, 0x26]);
        let out = with_custom_section(b"HEAD", "ab", b"xyz");
        assert_eq!(out, b"HEAD\x00\x06\x02abxyz");
        let long = "x".repeat(200);
        let out = with_manifest(b"", &long);
        let name_and_data = SECTION.len() + 1 + 200;
        assert_eq!(&out[..3], &[0, 0x80 | (name_and_data & 0x7f) as u8, 0x01]);
    }
}
