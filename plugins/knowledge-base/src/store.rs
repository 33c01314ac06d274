//! The plugin's records: categories, articles with their versions, standard answers and
//! attachments, and the small helpers every page shares (names, times, links).

use serde::{Deserialize, Serialize};
use tessera_sdk::records::{self, Query, Typed, or_default};
use tessera_sdk::{Id, Result, context, directory};

pub const CATEGORY: &str = "category";
pub const ARTICLE: &str = "article";
pub const VERSION: &str = "article_version";
pub const QA: &str = "qa";
pub const ATTACHMENT: &str = "attachment";

/// The longest title and body the plugin takes.
pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 200_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Category {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Id>,
    pub kind: String,
    #[serde(default, deserialize_with = "or_default")]
    pub read_roles: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub edit_roles: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub description: String,
}

impl Category {
    /// Whether it holds standard answers rather than articles.
    pub fn is_qa(&self) -> bool {
        self.kind == "qa"
    }

    /// Whether its articles carry key facts (products and competitors).
    pub fn has_facts(&self) -> bool {
        self.kind == "product" || self.kind == "competitor"
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Article {
    pub category_id: Id,
    pub title: String,
    #[serde(default, deserialize_with = "or_default")]
    pub body: String,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: String,
    #[serde(default, deserialize_with = "or_default")]
    pub facts: String,
    pub current_version: i64,
    #[serde(default)]
    pub updated_by: Option<Id>,
    #[serde(default)]
    pub edited_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Version {
    pub article_id: Id,
    /// The version's number, stored as `number` (`version` is the host's field of every record).
    #[serde(rename = "number")]
    pub version: i64,
    pub title: String,
    #[serde(default, deserialize_with = "or_default")]
    pub body: String,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: String,
    #[serde(default, deserialize_with = "or_default")]
    pub facts: String,
    #[serde(default)]
    pub editor: Option<Id>,
    pub at: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub note: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Qa {
    pub category_id: Id,
    pub question: String,
    pub answer: String,
    #[serde(default, deserialize_with = "or_default")]
    pub keywords: String,
    #[serde(default)]
    pub updated_by: Option<Id>,
    #[serde(default)]
    pub edited_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    pub article_id: Id,
    pub file_id: Id,
    pub name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub content_type: String,
    pub size: i64,
    #[serde(default)]
    pub uploaded_by: Option<Id>,
}

/// Every version of an article, oldest first.
pub fn versions(article_id: Id) -> Result<Vec<Typed<Version>>> {
    let all = records::find_all(&Query::new(VERSION).eq("article_id", article_id).limit(200))?;
    let mut all: Vec<Typed<Version>> = all.into_iter().map(|r| r.into_typed()).collect::<Result<_>>()?;
    all.sort_by_key(|v| v.fields.version);
    Ok(all)
}

/// One version of an article.
pub fn version(article_id: Id, n: i64) -> Result<Option<Typed<Version>>> {
    let (found, _) =
        records::find_typed::<Version>(&Query::new(VERSION).eq("article_id", article_id).eq("number", n).limit(1))?;
    Ok(found.into_iter().next())
}

pub fn attachments(article_id: Id) -> Result<Vec<Typed<Attachment>>> {
    let all = records::find_all(&Query::new(ATTACHMENT).eq("article_id", article_id).limit(100))?;
    all.into_iter().map(|r| r.into_typed()).collect()
}

/// Display names of users, by id; `#id` for those the directory does not give (not granted,
/// or gone).
pub fn names(ids: impl IntoIterator<Item = Option<Id>>) -> Vec<(Id, String)> {
    let mut ids: Vec<Id> = ids.into_iter().flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Vec::new();
    }
    directory::users(&ids).map(|users| users.into_iter().map(|u| (u.id, u.name)).collect()).unwrap_or_default()
}

pub fn name_of(names: &[(Id, String)], id: Option<Id>) -> String {
    match id {
        Some(id) => names.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone()).unwrap_or_else(|| format!("#{id}")),
        None => "—".to_owned(),
    }
}

/// The organisation's offset from UTC for showing times. The zones of mainland China, Hong
/// Kong, Macau, Taiwan and Singapore are UTC+8 without daylight saving; other zones show UTC.
pub fn offset_ms() -> i64 {
    match context::time_zone().as_str() {
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "Asia/Urumqi" | "Asia/Hong_Kong" | "Asia/Macau"
        | "Asia/Taipei" | "Asia/Singapore" | "PRC" => 8 * 3_600_000,
        _ => 0,
    }
}

pub fn when(millis: Option<i64>) -> String {
    millis.map(|m| tessera_sdk::time::format_local(m, offset_ms())).unwrap_or_else(|| "—".to_owned())
}

/// A URL query value, percent-encoded (UTF-8).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Text shown inside Markdown as it is: every ASCII punctuation backslash-escaped (CommonMark
/// allows it for all of them), line breaks flattened, so a file name or a title can never
/// become markup or a link.
pub fn markdown_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `max` characters of a text on one line, with `…` when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// Some text around the first place `needle` occurs (case-insensitively), else its start.
pub fn excerpt_around(text: &str, needle: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = flat.to_lowercase();
    let chars: Vec<char> = flat.chars().collect();
    let at = if needle.is_empty() || lower.chars().count() != chars.len() {
        None
    } else {
        lower.find(&needle.to_lowercase()).map(|byte| lower[..byte].chars().count())
    };
    match at {
        Some(pos) if pos > max / 3 => {
            let start = pos - max / 3;
            let tail: String = chars[start..].iter().collect();
            format!("…{}", excerpt(&tail, max))
        }
        _ => excerpt(&flat, max),
    }
}

/// Markdown as plain text for places that show text as it is (a customer's timeline): emphasis
/// marks, heading and quote markers and code fences dropped, `[text](url)` as `text (url)`.
pub fn plain_text(markdown: &str) -> String {
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            continue;
        }
        let mut l = trimmed.trim_start_matches('#').trim_start_matches('>').trim_start();
        if l.len() == trimmed.len() {
            l = line;
        }
        let mut out = String::with_capacity(l.len());
        let chars: Vec<char> = l.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' | '_' | '`' | '~' if i + 1 < chars.len() && chars[i + 1] == c => i += 2,
                '`' => i += 1,
                '[' => {
                    // `[text](url)`: the text, then the address in brackets.
                    let rest: String = chars[i..].iter().collect();
                    match (rest.find("]("), rest.find(')')) {
                        (Some(mid), Some(end)) if mid < end => {
                            out.push_str(&rest[1..mid]);
                            out.push_str(&format!(" ({})", &rest[mid + 2..end]));
                            i += rest[..=end].chars().count();
                        }
                        _ => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        lines.push(out);
    }
    lines.join("\n").trim().to_owned()
}

/// Key facts, one `key: value` (or `key：value`) a line; lines without a separator are left out.
pub fn parse_facts(facts: &str) -> Vec<(String, String)> {
    facts
        .lines()
        .filter_map(|line| {
            let at = line.find([':', '：'])?;
            let (k, v) = line.split_at(at);
            let v = v.trim_start_matches([':', '：']);
            let (k, v) = (k.trim(), v.trim());
            (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Role names typed as a list: commas (also full-width), semicolons or line breaks.
pub fn parse_roles(text: &str) -> Vec<String> {
    let mut roles: Vec<String> = text
        .split([',', '，', ';', '；', '\n', '、'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_never_become_markdown() {
        assert_eq!(markdown_literal("a](javascript:x)"), "a\\]\\(javascript\\:x\\)");
        assert_eq!(markdown_literal("报价单<b>.pdf"), "报价单\\<b\\>\\.pdf");
        assert_eq!(markdown_literal("a\nb"), "a b");
    }

    #[test]
    fn queries_encode_as_utf8() {
        assert_eq!(encode("售后 a&b"), "%E5%94%AE%E5%90%8E%20a%26b");
    }

    #[test]
    fn facts_and_roles_parse_from_lines() {
        let facts = parse_facts("价格区间：10-20 万\nStrengths: fast\nno separator\n: empty key");
        assert_eq!(facts, vec![("价格区间".into(), "10-20 万".into()), ("Strengths".into(), "fast".into())]);
        assert_eq!(parse_roles("Sales manager， Salesperson;x"), vec!["Sales manager", "Salesperson", "x"]);
    }

    #[test]
    fn markdown_reads_as_plain_text() {
        assert_eq!(
            plain_text("## 退货\n\n请拨打 **400-800-1234**，见[手册](https://x.cn/a)。\n> 注意 `代码`"),
            "退货\n\n请拨打 400-800-1234，见手册 (https://x.cn/a)。\n注意 代码"
        );
        assert_eq!(plain_text("a * b [x] 2*3"), "a * b [x] 2*3");
    }

    #[test]
    fn excerpts_show_the_match() {
        let text = format!("{}售后服务热线", "很长的开头".repeat(20));
        let e = excerpt_around(&text, "售后服务", 30);
        assert!(e.starts_with('…') && e.contains("售后服务"), "{e}");
        assert_eq!(excerpt("a  b\nc", 10), "a b c");
    }
}
