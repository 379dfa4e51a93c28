//! GFM autolinks in `report.md` (issue 12, item 6): a GitHub-flavoured Markdown
//! renderer turns `www.`, `http://`, `https://`, `ftp://` and `user@host` in plain text
//! into links, so a value from the data (a user agent, a target, a detail) could put a
//! link to anywhere into a compliance report. Every data value written to Markdown must
//! render as the same text, but never as a link.
//!
//! The check is the GFM autolink rules themselves ([`gfm_autolinks`], written from the
//! GFM spec's "Autolinks (extension)" section and cmark-gfm's autolink extension, which
//! GitHub renders with), run over the whole produced file; the rules are first shown to
//! find the links in the text as it would be without the breaking. When python3 has
//! `cmarkgfm` (GitHub's cmark-gfm), the file is also rendered by it and must hold no
//! `<a` element; without it that part prints `SKIPPED`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use sessiontrail_correlate::schema::{findings_schema, sessions_schema};
use sessiontrail_report::monthly_report::{HTML_FILE, MARKDOWN_FILE};
use sessiontrail_report::{ReportSettings, write_monthly_report};
use tempfile::TempDir;

/// Every kind of GFM autolink, in every position GFM accepts one (line start, after a
/// space, after `(`, `*`, `_`, `~`), in upper and lower case, and inside an ARN.
const LINKS: &str = "http://evil.example/a?b=c HTTPS://evil.example/b (ftp://evil.example/c) \
    www.evil.example/d WWW.EVIL.EXAMPLE *www.evil.example* _www.evil.example_ \
    ~www.evil.example~ alice@evil.example mailto:bob@evil.example \
    xmpp:carol@evil.example/r first.last+tag@sub.evil.example \
    arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/dave_@evil.example";

/// The text columns of a session.
const SESSION_TEXT: [&str; 16] = [
    "session_id",
    "account_id",
    "region",
    "target",
    "document_name",
    "cloudtrail_event_id",
    "cloudtrail_principal_arn",
    "original_principal_arn",
    "original_user",
    "permission_set",
    "expected_document",
    "run_as",
    "broker_request_id",
    "source_ip",
    "user_agent",
    "status",
];

/// The text columns of a finding (evidence is JSON, below).
const FINDING_TEXT: [&str; 9] = [
    "finding_id",
    "rule",
    "session_id",
    "account_id",
    "region",
    "target",
    "principal_arn",
    "permission_set",
    "detail",
];

type Row = common::TextRow<String>;

fn hostile(columns: &[&'static str], more: &[(&'static str, &str)]) -> Row {
    let mut row: Row = columns.iter().map(|&c| (c, LINKS.to_string())).collect();
    row.extend(more.iter().map(|&(c, v)| (c, v.to_string())));
    row
}

/// February 2026: sessions of every status the report lists, and a critical and a high
/// finding, with the links in every text column.
fn dataset() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let session = |status: &str, time: &str, via_broker: &str| {
        let mut row = hostile(&SESSION_TEXT, &[]);
        // A real status, so that the session shows in its status's table.
        row.retain(|(c, _)| *c != "status");
        row.extend([
            ("status", status.to_string()),
            ("start_time", time.to_string()),
            ("via_broker", via_broker.to_string()),
        ]);
        row
    };
    let sessions = vec![
        session("attributed", "2026-02-01T09:00:00Z", "true"),
        session("unattributed", "2026-02-02T09:00:00Z", "true"),
        session("orphan", "2026-02-03T09:00:00Z", "true"),
        session("direct", "2026-02-04T09:00:00Z", "false"),
        hostile(
            &SESSION_TEXT,
            &[
                ("start_time", "2026-02-05T09:00:00Z"),
                ("via_broker", "true"),
            ],
        ),
    ];
    let evidence = serde_json::json!({ "note": LINKS }).to_string();
    let finding = |severity: &str, time: &str| {
        hostile(
            &FINDING_TEXT,
            &[
                ("severity", severity),
                ("event_time", time),
                ("evidence", &evidence),
            ],
        )
    };
    let findings = vec![
        finding("critical", "2026-02-02T09:00:00Z"),
        finding("high", "2026-02-03T09:00:00Z"),
    ];
    common::write_partitioned(
        dir.path(),
        "sessions",
        &sessions_schema(),
        "start_time",
        &sessions,
        10,
    );
    common::write_partitioned(
        dir.path(),
        "findings",
        &findings_schema(),
        "event_time",
        &findings,
        10,
    );
    dir
}

async fn report_files(data: &TempDir) -> (String, String) {
    let out = tempfile::tempdir().unwrap();
    let settings = ReportSettings {
        as_of: Some(
            chrono::DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        ),
        ..ReportSettings::default()
    };
    write_monthly_report(data.path(), "2026-02", out.path(), &settings)
        .await
        .unwrap();
    let read = |name| std::fs::read_to_string(out.path().join(name)).unwrap();
    (read(MARKDOWN_FILE), read(HTML_FILE))
}

// ---------------------------------------------------------------------------------
// The GFM autolink rules.
// ---------------------------------------------------------------------------------

/// One character of the Markdown source: what it shows, and whether a backslash
/// escaped it (an escaped character is literal text to every inline rule).
#[derive(Clone, Copy)]
struct Char {
    c: char,
    escaped: bool,
}

/// The source outside fenced code blocks (no autolink is made inside one), with its
/// backslash escapes resolved: CommonMark's `\` before ASCII punctuation.
fn inline_text(markdown: &str) -> Vec<Char> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match chars.peek() {
                Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                    chars.next();
                    out.push(Char {
                        c: next,
                        escaped: true,
                    });
                }
                _ => out.push(Char { c, escaped: false }),
            }
        }
        out.push(Char {
            c: '\n',
            escaped: false,
        });
    }
    out
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The autolinks a GFM renderer would make in `markdown`, each as the text it links.
///
/// The rules, from the GFM spec (6.9 "Autolinks (extension)") and cmark-gfm, each taken
/// a little wider than the spec so that the check errs towards finding a link:
///
/// - www: `www.` (any case; the spec says lowercase) with its `.` not escaped, followed
///   by a domain character (the spec also wants it at a line start or after white
///   space, `*`, `_`, `~` or `(`: any position is taken here);
/// - URL: a scheme of letters (the spec: `http`, `https`; cmark-gfm adds `ftp`; any is
///   taken here), then `://` whose `:` is not escaped (cmark-gfm's trigger character),
///   then a domain character;
/// - e-mail (also `mailto:` and `xmpp:`): found in the text after escapes are resolved
///   (cmark-gfm runs it on the text, so escapes do not stop it): one or more of
///   letters, digits and `.+-_` right before an `@`, and a domain character right after
///   it (the spec also wants a `.` in the domain);
/// - CommonMark's own autolinks `<scheme:...>` and `<user@host>`: an unescaped `<`
///   followed by a scheme and `:`, or by an address, and a `>`.
fn gfm_autolinks(markdown: &str) -> Vec<String> {
    let text = inline_text(markdown);
    let shown = |from: usize, to: usize| -> String { text[from..to].iter().map(|c| c.c).collect() };
    let mut links = Vec::new();
    let domain_end = |mut at: usize| {
        while at < text.len() && (is_domain_char(text[at].c) || text[at].c == '.') {
            at += 1;
        }
        at
    };
    for i in 0..text.len() {
        // www.
        if i + 4 < text.len()
            && text[i..i + 4]
                .iter()
                .zip("www.".chars())
                .all(|(have, want)| !have.escaped && have.c.to_ascii_lowercase() == want)
            && is_domain_char(text[i + 4].c)
        {
            links.push(shown(i, domain_end(i + 4)));
        }
        // scheme://
        if text[i].c == ':'
            && !text[i].escaped
            && text.get(i + 1).is_some_and(|c| c.c == '/')
            && text.get(i + 2).is_some_and(|c| c.c == '/')
            && text.get(i + 3).is_some_and(|c| is_domain_char(c.c))
        {
            let mut start = i;
            while start > 0 && text[start - 1].c.is_ascii_alphabetic() {
                start -= 1;
            }
            if start < i {
                links.push(shown(start, domain_end(i + 3)));
            }
        }
        // user@host
        if text[i].c == '@' && text.get(i + 1).is_some_and(|c| is_domain_char(c.c)) {
            let mut start = i;
            while start > 0
                && (text[start - 1].c.is_ascii_alphanumeric()
                    || matches!(text[start - 1].c, '.' | '+' | '-' | '_'))
            {
                start -= 1;
            }
            if start < i {
                links.push(shown(start, domain_end(i + 1)));
            }
        }
        // <scheme:...> and <user@host>
        if text[i].c == '<' && !text[i].escaped {
            let mut end = i + 1;
            while end < text.len() && !matches!(text[end].c, '>' | '<' | ' ' | '\n') {
                end += 1;
            }
            if end < text.len() && text[end].c == '>' {
                let inner = shown(i + 1, end);
                let scheme = inner.split(':').next().unwrap_or("");
                let is_uri = inner.contains(':')
                    && (2..=32).contains(&scheme.len())
                    && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
                if is_uri || inner.contains('@') {
                    links.push(inner);
                }
            }
        }
    }
    links
}

/// What a reader sees of `markdown` outside code blocks: escapes resolved, invisible
/// word joiners dropped.
fn visible(markdown: &str) -> String {
    inline_text(markdown)
        .iter()
        .map(|c| c.c)
        .filter(|&c| c != '\u{2060}')
        .collect()
}

#[test]
fn the_rules_find_every_link_of_the_payload_when_it_is_not_broken() {
    let links = gfm_autolinks(LINKS);
    for expected in [
        "http://evil.example/a",
        "HTTPS://evil.example/b",
        "ftp://evil.example/c",
        "www.evil.example/d",
        "WWW.EVIL.EXAMPLE",
        "alice@evil.example",
        "bob@evil.example",
        "carol@evil.example/r",
        "first.last+tag@sub.evil.example",
        "dave_@evil.example",
    ] {
        let domain = expected.split('/').next().unwrap();
        assert!(
            links.iter().any(|link| link.starts_with(domain)),
            "{expected} not found in {links:?}"
        );
    }
    assert!(gfm_autolinks("<https://evil.example>").contains(&"https://evil.example".into()));
    assert!(gfm_autolinks("<a@evil.example>").contains(&"a@evil.example".into()));
    // Escapes stop the www and URL rules, not the e-mail one.
    assert!(gfm_autolinks(r"www\.evil.example http\://evil.example").is_empty());
    assert_eq!(gfm_autolinks(r"a\@evil.example"), ["a@evil.example"]);
    // Inside a code block nothing is linked.
    assert!(gfm_autolinks("```\nwww.evil.example\n```\n").is_empty());
}

#[tokio::test]
async fn no_data_value_is_an_autolink_in_report_md() {
    let data = dataset();
    let (md, _) = report_files(&data).await;
    let links = gfm_autolinks(&md);
    assert!(links.is_empty(), "autolinks in report.md: {links:?}");
    // The values are there, and read the same: every table that lists a session or a
    // finding shows the links once per hostile column.
    let seen = visible(&md).matches(LINKS).count();
    assert!(seen >= 30, "the hostile value is shown {seen} times");
}

#[tokio::test]
async fn github_s_cmark_gfm_makes_no_link_of_report_md() {
    let data = dataset();
    let (md, _) = report_files(&data).await;
    let Some(html) = cmark_gfm(&md) else {
        return;
    };
    let anchors: Vec<&str> = html
        .match_indices("<a ")
        .map(|(at, _)| &html[at..])
        .collect();
    assert!(
        anchors.is_empty(),
        "cmark-gfm made links: {:?}",
        anchors
            .iter()
            .map(|a| a.chars().take(120).collect::<String>())
            .collect::<Vec<_>>()
    );
    // The same text as the value, word joiners aside.
    let text = html
        .replace('\u{2060}', "")
        .replace("&amp;", "&")
        .replace("&quot;", "\"");
    assert!(text.contains(LINKS), "the value does not read the same");
}

/// `markdown` rendered by GitHub's cmark-gfm (python3's `cmarkgfm`), or None (printed
/// as SKIPPED) when python3 or the package is missing.
fn cmark_gfm(markdown: &str) -> Option<String> {
    const SCRIPT: &str = "import sys\ntry:\n    import cmarkgfm\nexcept ImportError:\n    \
        sys.exit(3)\nsys.stdout.write(cmarkgfm.github_flavored_markdown_to_html(\
        sys.stdin.read()))\n";
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        sessiontrail_test_support::skip(
            "github_s_cmark_gfm_makes_no_link_of_report_md",
            sessiontrail_test_support::Prerequisite::Cmarkgfm,
            "python3 cannot be run",
        );
        return None;
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = markdown.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    match output.status.code() {
        Some(0) => Some(String::from_utf8(output.stdout).unwrap()),
        Some(3) => {
            sessiontrail_test_support::skip(
                "github_s_cmark_gfm_makes_no_link_of_report_md",
                sessiontrail_test_support::Prerequisite::Cmarkgfm,
                "python3 has no cmarkgfm",
            );
            None
        }
        _ => panic!(
            "cmarkgfm failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
