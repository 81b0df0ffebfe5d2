//! Input repeated in a message (an answer, an error handed to a plugin, a
//! log line): bounded and cut on a character boundary, so a 20,000-character
//! name is neither answered nor logged whole.

/// Longest piece of input a message repeats, in characters.
pub const ECHO_CHARS: usize = 100;

/// `text` cut to [`ECHO_CHARS`] characters, marked with `…` when cut.
pub fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_long_input_between_characters() {
        assert_eq!(echo("weather"), "weather");
        let cut = echo(&"ü".repeat(20_000));
        assert_eq!(cut.chars().count(), ECHO_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
