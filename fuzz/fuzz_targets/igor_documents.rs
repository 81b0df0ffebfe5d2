//! The Igor store's document conversion: any JSON the store accepts
//! becomes well-formed XML; any answer Igor could send is read without a
//! panic; revisions do not depend on key order.
#![no_main]

use libfuzzer_sys::fuzz_target;

use igor_host_pure::igor_xml::{
    Hidden, canonical, check_document, hidden_parts_of, is_plain_not_found, quote_non_finite,
    revision_of, summarise, to_xml,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Igor's answers: raw XML, JSON with Python's non-finite numbers, pages.
    let hidden = hidden_parts_of(&text).unwrap_or_default();
    let _ = (summarise(&text), is_plain_not_found(&text));
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&quote_non_finite(&text)) {
        let json = canonical(&value).to_string();
        assert_eq!(canonical(&canonical(&value)).to_string(), json);
        assert_ne!(revision_of(&json), 0);
        if check_document(&value).is_ok() {
            for kept in [&Hidden::default(), &hidden] {
                let xml = to_xml("doc", &value, kept);
                if let Err(e) = roxmltree::Document::parse(&xml) {
                    panic!("{e}: {xml}");
                }
            }
        }
    }
});
