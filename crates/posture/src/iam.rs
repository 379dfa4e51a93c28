//! IAM policy documents, as far as posture needs them: which statements allow or deny
//! `ssm:StartSession` on a resource, and whether an allow carries
//! `ssm:SessionDocumentAccessCheck`.
//!
//! `Statement` may be an object or an array; `Action`/`NotAction` and
//! `Resource`/`NotResource` a string or an array; patterns use `*` and `?` (actions
//! case-insensitively). Conservative where unsure: an Allow with conditions other than
//! the document check counts as allowing; a Deny with any condition does not count as
//! denying.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Patterns {
    Listed(Vec<String>),
    Not(Vec<String>),
}

impl Patterns {
    fn matches(&self, value: &str, case_insensitive: bool) -> bool {
        let any = |list: &[String]| list.iter().any(|p| glob(p, value, case_insensitive));
        match self {
            Patterns::Listed(list) => any(list),
            Patterns::Not(list) => !any(list),
        }
    }
}

/// One statement of a policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub allow: bool,
    pub sid: Option<String>,
    actions: Patterns,
    resources: Patterns,
    /// The `Condition` block, when present and not empty.
    condition: Option<serde_json::Map<String, Value>>,
}

impl Statement {
    fn matches(&self, action: &str, resource: &str) -> bool {
        self.actions.matches(action, true) && self.resources.matches(resource, false)
    }

    /// Does the statement require `ssm:SessionDocumentAccessCheck` true (`Bool` or
    /// `BoolIfExists`)?
    pub fn has_document_access_check(&self) -> bool {
        let Some(condition) = &self.condition else {
            return false;
        };
        condition.iter().any(|(operator, keys)| {
            (operator == "Bool" || operator == "BoolIfExists")
                && keys.as_object().is_some_and(|keys| {
                    keys.iter().any(|(key, value)| {
                        key.eq_ignore_ascii_case("ssm:SessionDocumentAccessCheck") && is_true(value)
                    })
                })
        })
    }

    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) => format!("statement {sid:?}"),
            None => "a statement without Sid".into(),
        }
    }
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Array(items) => !items.is_empty() && items.iter().all(is_true),
        _ => false,
    }
}

/// `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, v) = (fold(pattern), fold(value));
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{key} holds {item}, not a string"))
            })
            .collect(),
        other => Err(format!(
            "{key} is {other}, not a string or an array of strings"
        )),
    }
}

fn patterns(
    statement: &serde_json::Map<String, Value>,
    key: &str,
    not_key: &str,
) -> Result<Patterns, String> {
    match (statement.get(key), statement.get(not_key)) {
        (Some(v), None) => Ok(Patterns::Listed(strings(v, key)?)),
        (None, Some(v)) => Ok(Patterns::Not(strings(v, not_key)?)),
        (Some(_), Some(_)) => Err(format!("a statement has both {key} and {not_key}")),
        (None, None) => Err(format!("a statement has neither {key} nor {not_key}")),
    }
}

/// Parses a policy document (already JSON); the error says what is wrong.
pub fn parse_policy(document: &Value) -> Result<Vec<Statement>, String> {
    let object = document
        .as_object()
        .ok_or_else(|| "the policy document is not a JSON object".to_string())?;
    let statements = match object.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(item @ Value::Object(_)) => vec![item],
        Some(other) => return Err(format!("Statement is {other}, not an object or an array")),
        None => return Err("the policy document has no Statement".into()),
    };
    statements
        .into_iter()
        .enumerate()
        .map(|(i, statement)| {
            let statement = statement
                .as_object()
                .ok_or_else(|| format!("Statement {i} is not an object"))?;
            let at = |e: String| format!("Statement {i}: {e}");
            let allow = match statement.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err(at("Effect is not \"Allow\" or \"Deny\"".into())),
            };
            let condition = match statement.get("Condition") {
                None => None,
                Some(Value::Object(map)) if map.is_empty() => None,
                Some(Value::Object(map)) => Some(map.clone()),
                Some(other) => return Err(at(format!("Condition is {other}, not an object"))),
            };
            Ok(Statement {
                allow,
                sid: statement
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                actions: patterns(statement, "Action", "NotAction").map_err(at)?,
                resources: patterns(statement, "Resource", "NotResource").map_err(at)?,
                condition,
            })
        })
        .collect()
}

/// Parses policy text (an inline policy, a policy version's document): JSON, or the
/// URL-encoded JSON IAM's API returns.
pub fn parse_policy_text(text: &str) -> Result<Vec<Statement>, String> {
    let decoded;
    let text = if text.trim_start().starts_with('%') {
        decoded = percent_decode(text)?;
        decoded.as_str()
    } else {
        text
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the policy is not JSON: {e}"))?;
    parse_policy(&value)
}

/// `%XX` escapes decoded (IAM returns policy documents URL-encoded).
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent-encoding at byte {i}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "percent-decoded policy is not UTF-8".into())
}

/// The statements that allow `action` on `resource`, unless a Deny without conditions
/// matches it (then none).
pub fn allowing<'a>(
    statements: &'a [Statement],
    action: &str,
    resource: &str,
) -> Vec<&'a Statement> {
    let denied = statements
        .iter()
        .any(|s| !s.allow && s.condition.is_none() && s.matches(action, resource));
    if denied {
        return Vec::new();
    }
    statements
        .iter()
        .filter(|s| s.allow && s.matches(action, resource))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob("ssm:*", "ssm:StartSession", true));
        assert!(glob("SSM:start*", "ssm:StartSession", true));
        assert!(glob("*", "ssm:StartSession", true));
        assert!(!glob("ssm:Start", "ssm:StartSession", true));
        assert!(glob("ssm:St?rtSession", "ssm:StartSession", true));
        assert!(glob(
            "arn:aws:ssm:*:*:document/SSMRunAs-*",
            "arn:aws:ssm:eu-west-1:111122223333:document/SSMRunAs-Admin-Session",
            false
        ));
        assert!(!glob(
            "arn:aws:ssm:*:*:document/ssmrunas-*",
            "arn:aws:ssm:eu-west-1:111122223333:document/SSMRunAs-Admin-Session",
            false
        ));
    }

    #[test]
    fn statement_object_or_array_and_not_action() {
        let one = json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}});
        let statements = parse_policy(&one).unwrap();
        assert_eq!(allowing(&statements, "ssm:StartSession", "x").len(), 1);
        assert!(allowing(&statements, "iam:PassRole", "x").is_empty());
        let bad = json!({"Statement": [{"Effect": "Allow", "Action": 3, "Resource": "*"}]});
        assert!(parse_policy(&bad).unwrap_err().contains("Action"));
        let bad = json!({"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]});
        assert!(parse_policy(&bad).unwrap_err().contains("Effect"));
        assert!(parse_policy(&json!({"Version": "2012-10-17"})).is_err());
    }

    #[test]
    fn conditional_deny_does_not_count_and_document_check_is_read() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Action": ["ssm:StartSession"], "Resource": "*",
             "Condition": {"Bool": {"ssm:SessionDocumentAccessCheck": ["true"]}}},
            {"Effect": "Deny", "Action": "ssm:*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}
        ]});
        let statements = parse_policy(&policy).unwrap();
        let allowed = allowing(&statements, "ssm:StartSession", "arn:x");
        assert_eq!(allowed.len(), 1);
        assert!(allowed[0].has_document_access_check());
    }

    #[test]
    fn url_encoded_policy_text() {
        let text = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%7D";
        let statements = parse_policy_text(text).unwrap();
        assert!(!statements[0].allow);
    }
}
