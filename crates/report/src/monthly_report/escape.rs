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

/// `text` safe as the content of a Markdown (GFM) table cell or paragraph: the
/// characters that start markup (`\`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>`, `|`, `&`,
/// `~`, `#`, `!`) are backslash-escaped, and line breaks become spaces, so raw HTML
/// such as `<script>` is shown as text and never interpreted.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
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
}
