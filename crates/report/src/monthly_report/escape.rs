//! Escaping text from the dataset for HTML/SVG and for Markdown.
//!
//! Every string that comes from the data (session ids, user names, ARNs, details,
//! evidence, even statuses and rule names) goes through one of these before it is
//! written into a report: the dataset is built from logs that users influence.

use std::borrow::Cow;

/// `text` safe as HTML or SVG element content and as a double- or single-quoted
/// attribute value: `&`, `<`, `>`, `"` and `'` become character references.
pub fn html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` safe as the content of a Markdown (GFM) table cell or paragraph, showing
/// exactly as `text` and never as markup or a link:
///
/// - the characters that start markup (`\`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>`, `|`,
///   `&`, `~`, `#`, `!`) are backslash-escaped, and line breaks become spaces, so raw
///   HTML such as `<script>` is shown as text and never interpreted;
/// - GFM's autolinks are broken (see [`AUTOLINK_BREAK`]): the `:` of every `://`
///   (`http://`, `https://`, `ftp://`, any scheme) and the `.` of every `www.` (in any
///   case) are backslash-escaped, which GFM's extended URL and www autolinks do not
///   see through; an e-mail-like `user@host`, which GFM links even through escapes and
///   character references, gets an invisible [`AUTOLINK_BREAK`] before its `@`.
///
/// The rendered text is the same characters (plus the invisible word joiner before
/// `@`): a reader who copies an ARN out of the rendered page gets that joiner too, so
/// `report.json` and `report.html` are where values are copied from.
pub fn markdown(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            // `scheme://`: GFM's extended URL autolink starts at an unescaped `:`.
            ':' if chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/') => {
                out.push_str("\\:");
            }
            // `www.`: GFM's extended www autolink needs the `.` unescaped.
            '.' if i >= 3 && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w')) => {
                out.push_str("\\.");
            }
            // `user@host`: GFM finds e-mail autolinks in the text after escapes are
            // resolved, so only a character that is not part of an address breaks one.
            '@' if i > 0 && is_email_local(chars[i - 1]) => {
                out.push(AUTOLINK_BREAK);
                out.push('@');
            }
            _ => out.push(c),
        }
    }
    out
}

/// What [`markdown`] puts before the `@` of an e-mail-like `user@host`: U+2060 WORD
/// JOINER, invisible and without a line break, which is not a character of an address,
/// so GFM's extended e-mail autolink (which looks back from `@` over letters, digits
/// and `.+-_`) finds no local part.
pub const AUTOLINK_BREAK: char = '\u{2060}';

/// The characters of an e-mail address's local part for GFM's extended e-mail
/// autolink.
fn is_email_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert!(matches!(html("i-0abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn markdown_escapes_markup_pipes_and_newlines() {
        assert_eq!(markdown("a|b\n<i>*x*</i>"), r"a\|b \<i\>\*x\*\</i\>");
        assert_eq!(markdown("Data_Engineer"), r"Data\_Engineer");
    }

    #[test]
    fn markdown_breaks_every_kind_of_gfm_autolink() {
        assert_eq!(
            markdown("see http://evil.example/x"),
            r"see http\://evil.example/x"
        );
        assert_eq!(markdown("HTTPS://evil.example"), r"HTTPS\://evil.example");
        assert_eq!(markdown("ftp://evil.example"), r"ftp\://evil.example");
        assert_eq!(
            markdown("go to www.evil.example"),
            r"go to www\.evil.example"
        );
        assert_eq!(markdown("WwW.evil.example"), r"WwW\.evil.example");
        assert_eq!(markdown("wwww.evil.example"), r"wwww\.evil.example");
        assert_eq!(
            markdown("mailto:alice@example.com"),
            "mailto:alice\u{2060}@example.com"
        );
        assert_eq!(
            markdown("AWSReservedSSO_Admin_0a1b/alice_@example.com"),
            "AWSReservedSSO\\_Admin\\_0a1b/alice\\_\u{2060}@example.com"
        );
        // Nothing to break: no local part, no scheme, no `www.`.
        assert_eq!(markdown("@handle a:b a:/b www"), "@handle a:b a:/b www");
        assert_eq!(markdown("i-0abc"), "i-0abc");
    }
}
