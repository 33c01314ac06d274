//! The domain's messages in the reader's language. Validation errors and refusals are written
//! once, in English, where the rule lives (`Error::invalid("limit", "limit is 1 to 500")`), and
//! the API returns them as they are. Pages show them in the reader's language: the English text
//! is the key of its Chinese, the way gettext keys a catalogue by its source strings.
//!
//! A message made with `format!` is keyed by its pattern, each `{…}` written `{}`:
//! `"{} is not a date such as 2026-12-24"` matches `"\"24/12\" is not a date such as
//! 2026-12-24"`. The Chinese places the holes with `{}` (in order) or `{0}`, `{1}`, … (by
//! position), and each hole is itself translated when it is a message the catalogue knows
//! (`"phone {} ({}): {}"` wraps another message). Text the catalogue does not know, such as a
//! plugin's own words, is shown as it came.
//!
//! A test reads the host's source and checks that every message given to `Error::invalid`,
//! `Error::Conflict`, `Error::Forbidden`, `Error::Unauthenticated` and `Error::from_db` has its
//! Chinese here, and that nothing here is left over from a message that is gone.

mod customers;
mod org_auth;
mod platform;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use super::i18n::Lang;

/// An English pattern with holes, and its Chinese.
struct Pattern {
    /// The literal text between the holes; one more than there are holes.
    pieces: Vec<&'static str>,
    zh: &'static str,
}

struct Catalogue {
    exact: HashMap<&'static str, &'static str>,
    /// Most literal text first, so the most specific pattern wins.
    patterns: Vec<Pattern>,
}

fn rows() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    customers::MESSAGES.iter().chain(org_auth::MESSAGES).chain(platform::MESSAGES)
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let mut exact = HashMap::new();
    let mut patterns = Vec::new();
    for &(en, zh) in rows() {
        if en.contains("{}") {
            let pieces: Vec<&str> = en.split("{}").collect();
            // A pattern of holes and punctuation alone ("{}: {}") says nothing to translate;
            // its holes are translated where they stand.
            if pieces.iter().any(|p| p.chars().any(char::is_alphanumeric)) {
                patterns.push(Pattern { pieces, zh });
            }
        } else {
            exact.insert(en, zh);
        }
    }
    patterns.sort_by_key(|p| std::cmp::Reverse(p.pieces.iter().map(|s| s.len()).sum::<usize>()));
    Catalogue { exact, patterns }
});

/// `message` in `lang`.
pub fn says(lang: Lang, message: &str) -> Cow<'_, str> {
    match lang {
        Lang::En => Cow::Borrowed(message),
        Lang::ZhCn => translate(message, 0).map_or(Cow::Borrowed(message), Cow::Owned),
    }
}

/// How deep messages wrapped in messages are followed.
const MAX_DEPTH: usize = 4;

fn translate(message: &str, depth: usize) -> Option<String> {
    let catalogue = &*CATALOGUE;
    if let Some(zh) = catalogue.exact.get(message) {
        return Some((*zh).to_owned());
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    for pattern in &catalogue.patterns {
        if let Some(holes) = captures(&pattern.pieces, message) {
            let holes: Vec<String> =
                holes.into_iter().map(|h| translate(h, depth + 1).unwrap_or_else(|| h.to_owned())).collect();
            return Some(fill(pattern.zh, &holes));
        }
    }
    // "{}: {}" and the like: keep the punctuation, translate the parts.
    let (head, tail) = message.split_once(": ")?;
    let tail = translate(tail, depth + 1)?;
    Some(format!("{}：{tail}", translate(head, depth + 1).unwrap_or_else(|| head.to_owned())))
}

/// The text of each hole, when `message` is `pieces` with non-empty holes between them.
fn captures<'m>(pieces: &[&str], message: &'m str) -> Option<Vec<&'m str>> {
    let (first, rest) = pieces.split_first()?;
    let (last, middle) = rest.split_last()?;
    let mut at = message.strip_prefix(first).map(|_| first.len())?;
    let end = message.len().checked_sub(last.len()).filter(|&e| e >= at && message.ends_with(last))?;
    let body = &message[..end];
    let mut holes = Vec::with_capacity(rest.len());
    for piece in middle {
        // The hole is at least one character, then the next literal piece.
        let from = at + body[at..].chars().next()?.len_utf8();
        let found = from + body.get(from..)?.find(piece)?;
        holes.push(&body[at..found]);
        at = found + piece.len();
    }
    (at < end).then(|| holes.push(&body[at..]))?;
    Some(holes)
}

/// A piece of a translation: text, or the hole whose text goes there.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Hole(usize),
}

/// `zh` in pieces: `{}` is the next hole, `{n}` hole `n`; other braces (`{yyyy}` in a code
/// pattern) are text.
fn pieces(zh: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut next = 0;
    let mut rest = zh;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let inside = &rest[open + 1..close];
        let hole = if inside.is_empty() {
            next += 1;
            Some(next - 1)
        } else {
            inside.parse::<usize>().ok()
        };
        match hole {
            Some(i) => {
                out.push(Piece::Text(&rest[..open]));
                out.push(Piece::Hole(i));
            }
            None => out.push(Piece::Text(&rest[..=close])),
        }
        rest = &rest[close + 1..];
    }
    out.push(Piece::Text(rest));
    out
}

/// `zh` with its holes filled.
fn fill(zh: &str, holes: &[String]) -> String {
    pieces(zh)
        .into_iter()
        .map(|p| match p {
            Piece::Text(text) => text,
            Piece::Hole(i) => holes.get(i).map_or("", String::as_str),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Where a message is given in the host's code: the call, and how many arguments come
    /// before the message.
    const MARKERS: &[(&str, usize)] = &[
        ("Error::invalid(", 1),
        ("Error::from_db(", 1),
        ("Error::Conflict(", 0),
        ("Error::Forbidden(", 0),
        ("Error::Unauthenticated(", 0),
    ];

    /// A Rust string literal starting at `s[i]` (a `"`): its text and where it ends.
    fn literal(s: &str, i: usize) -> (String, usize) {
        let b = s.as_bytes();
        let mut out = String::new();
        let mut j = i + 1;
        loop {
            let c = s[j..].chars().next().expect("an unterminated string literal");
            match c {
                '"' => return (out, j + 1),
                '\\' => {
                    let n = b[j + 1] as char;
                    j += 2;
                    match n {
                        '\n' => {
                            while matches!(b[j], b' ' | b'\t' | b'\n') {
                                j += 1;
                            }
                        }
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        'u' => {
                            let close = j + s[j..].find('}').expect("\\u{…}");
                            let code = u32::from_str_radix(&s[j + 1..close], 16).expect("hex");
                            out.push(char::from_u32(code).expect("a character"));
                            j = close + 1;
                        }
                        other => out.push(other),
                    }
                }
                c => {
                    out.push(c);
                    j += c.len_utf8();
                }
            }
        }
    }

    /// Past the argument starting at `i` and its comma (or to the closing parenthesis).
    fn skip_argument(s: &str, mut i: usize) -> usize {
        let b = s.as_bytes();
        let mut depth = 0;
        loop {
            match b[i] {
                b'"' => {
                    i = literal(s, i).1;
                    continue;
                }
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => return i,
                b')' | b']' | b'}' => depth -= 1,
                b',' if depth == 0 => return i + 1,
                _ => {}
            }
            i += 1;
        }
    }

    fn skip_space(s: &str, mut i: usize) -> usize {
        while matches!(s.as_bytes()[i], b' ' | b'\t' | b'\n') {
            i += 1;
        }
        i
    }

    /// A format string as its catalogue key: each `{…}` becomes `{}`.
    fn pattern_of(format: &str) -> String {
        let mut out = String::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    out.push(c);
                    chars.next();
                }
                ('{', _) => {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                    out.push_str("{}");
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// The messages written as literals or `format!` strings in one file, tests left out.
    fn messages_in(source: &str) -> Vec<String> {
        let code = source.find("#[cfg(test)]\nmod ").map_or(source, |end| &source[..end]);
        let mut found = Vec::new();
        for &(marker, before) in MARKERS {
            for (at, _) in code.match_indices(marker) {
                let mut i = at + marker.len();
                for _ in 0..before {
                    i = skip_argument(code, i);
                }
                i = skip_space(code, i);
                if code[i..].starts_with('"') {
                    found.push(literal(code, i).0);
                } else if code[i..].starts_with("format!(") {
                    i = skip_space(code, i + "format!(".len());
                    if code[i..].starts_with('"') {
                        found.push(pattern_of(&literal(code, i).0));
                    }
                }
            }
        }
        found
    }

    fn messages_in_the_host() -> BTreeSet<String> {
        fn walk(dir: &Path, out: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).expect("read the source directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.starts_with(messages_dir()) {
                    out.extend(messages_in(&std::fs::read_to_string(&path).expect("read a source file")));
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
        out
    }

    fn messages_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/messages")
    }

    #[test]
    fn every_message_of_the_host_has_its_chinese_and_none_is_left_over() {
        let in_code = messages_in_the_host();
        assert!(in_code.len() > 150, "the source scan found only {} messages", in_code.len());
        let known: BTreeSet<String> = rows().map(|(en, _)| (*en).to_owned()).collect();
        let missing: Vec<&String> = in_code.difference(&known).collect();
        assert!(missing.is_empty(), "messages without Chinese in ui/messages: {missing:#?}");
        let stale: Vec<&String> = known.difference(&in_code).collect();
        assert!(stale.is_empty(), "ui/messages has Chinese for messages the host no longer gives: {stale:#?}");
        let mut seen = BTreeSet::new();
        for (en, _) in rows() {
            assert!(seen.insert(*en), "{en:?} is in ui/messages twice");
        }
    }

    #[test]
    fn every_translation_places_each_hole_once() {
        for &(en, zh) in rows() {
            let holes = en.matches("{}").count();
            let mut used = vec![0; holes];
            assert_eq!(zh.matches('{').count(), zh.matches('}').count(), "{zh:?}: an unclosed brace");
            for piece in pieces(zh) {
                if let Piece::Hole(index) = piece {
                    assert!(index < holes, "{zh:?} has more holes than {en:?}");
                    used[index] += 1;
                }
            }
            assert!(used.iter().all(|&n| n == 1), "{zh:?} does not place each hole of {en:?} once: {used:?}");
            let words = en.split("{}").any(|p| p.chars().any(char::is_alphabetic));
            assert!(!zh.is_empty() && (zh != en || !words), "{en:?} has no Chinese");
        }
    }

    #[test]
    fn the_source_scan_reads_literals_and_format_strings() {
        let source = r#"
            fn f() {
                Error::invalid("limit", "limit is 1 to 500");
                Error::invalid(field, format!("{v:?} is not a \"date\" {{ever}}"));
                Error::Conflict(format!(
                    "the list {list_name} already \
                     has {}", x));
                Error::from_db(e, "taken");
                Error::Forbidden(message);
            }
        "#
        .to_owned()
            + "#[cfg(test)]\nmod tests { fn g() { Error::invalid(\"x\", \"only in tests\"); } }\n";
        let mut found = messages_in(&source);
        found.sort();
        assert_eq!(found, ["limit is 1 to 500", "taken", "the list {} already has {}", "{} is not a \"date\" {ever}"]);
    }

    #[test]
    fn messages_read_in_chinese_with_their_values() {
        assert_eq!(says(Lang::En, "a customer needs a name"), "a customer needs a name");
        assert_eq!(says(Lang::ZhCn, "a customer needs a name"), translate("a customer needs a name", 0).unwrap());
        assert_ne!(says(Lang::ZhCn, "a customer needs a name"), "a customer needs a name");
        // A value in a hole comes through as it was typed.
        let zh = says(Lang::ZhCn, "\"24/12/2026\" is not a date such as 2026-12-24");
        assert!(zh.contains("\"24/12/2026\"") && !zh.contains("is not a date"), "{zh}");
        // A message wrapped in another is translated too.
        let zh = says(Lang::ZhCn, "phone 2 (mobile): too long to be a phone number");
        assert!(!zh.contains("too long"), "{zh}");
        let zh = says(Lang::ZhCn, "Budget: a customer needs a name");
        assert!(zh.starts_with("Budget：") && !zh.contains("needs a name"), "{zh}");
        // What the catalogue does not know is shown as it came.
        assert_eq!(says(Lang::ZhCn, "the plugin says no"), "the plugin says no");
    }

    #[test]
    fn holes_are_matched_in_order_and_never_empty() {
        let pieces = ["phone ", " (", "): ", ""];
        assert_eq!(captures(&pieces, "phone 2 (mobile): bad"), Some(vec!["2", "mobile", "bad"]));
        assert_eq!(captures(&pieces, "phone  (mobile): bad"), None);
        assert_eq!(captures(&["", " is not an id"], "x is not an id"), Some(vec!["x"]));
        assert_eq!(captures(&["", " is not an id"], " is not an id"), None);
        assert_eq!(fill("{1}：{0}", &["a".into(), "b".into()]), "b：a");
        assert_eq!(fill("{}与{}", &["a".into(), "b".into()]), "a与b");
        assert_eq!(fill("{}；KH-{yyyy}-{seq:5}", &["a".into()]), "a；KH-{yyyy}-{seq:5}");
    }
}
