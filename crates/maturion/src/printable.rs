//! Text that came from the database (tenants' event fields, handlers' errors, hold reasons)
//! printed for people: control characters and the invisible characters that reorder or hide
//! text (bidi overrides, zero-width marks) are shown escaped, so nothing a tenant stored can
//! move the cursor, recolour the terminal, forge a line or disguise what is printed.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control, bidi-formatting and invisible character written as `\n`, `\t`,
/// `\r` or `\u{…}`.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// Several lines of output, each made [`printable`], the line breaks kept.
pub fn printable_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| match line.strip_suffix('\n') {
            Some(line) => format!("{}\n", printable(line)),
            None => printable(line).into_owned(),
        })
        .collect()
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(
            printable("risk.created from risks é ✓"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(
            printable("a\u{1b}[31mred\nfake line\r\t\0\u{7f}\u{9b}"),
            "a\\u{1b}[31mred\\nfake line\\r\\t\\u{0}\\u{7f}\\u{9b}"
        );
        assert_eq!(printable("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(printable("x\u{2066}y\u{200b}"), "x\\u{2066}y\\u{200b}");
    }
}
