//! `@mentions` in threads and replies. Chinese names are written without a space after them
//! (`@张伟请看一下`), so a mention is the longest name of an active colleague that the text after
//! `@` starts with; a Latin sign-in name (`@zhang.wei`) is the run of letters, digits, dots,
//! dashes and underscores after `@`. An `@` inside a word (an e-mail address) is no mention.

use tessera_sdk::directory::{self, User};
use tessera_sdk::{Id, Result};

/// At most this many mentions of one post are resolved.
const MAX_MENTIONS: usize = 20;
/// How much text after `@` a name may take.
const MAX_NAME_CHARS: usize = 32;

/// The text after each `@` that may start a mention.
pub fn mention_starts(text: &str) -> Vec<String> {
    let mut starts = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !previous.is_some_and(|p| p.is_alphanumeric() || p == '.' || p == '_' || p == '-') {
            let rest: String = text[i + 1..].chars().take(MAX_NAME_CHARS).collect();
            if rest.chars().next().is_some_and(|f| f.is_alphanumeric()) {
                starts.push(rest);
                if starts.len() == MAX_MENTIONS {
                    break;
                }
            }
        }
        previous = Some(c);
    }
    starts
}

fn is_login_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// What to ask the directory for: a Latin sign-in name whole, else the first two characters.
pub fn probe(rest: &str) -> Option<String> {
    let first = rest.chars().next()?;
    if first.is_ascii_alphanumeric() {
        let token: String = rest.chars().take_while(|c| is_login_char(*c)).collect();
        let token = token.trim_end_matches(['.', '-', '_']).to_owned();
        return (!token.is_empty()).then_some(token);
    }
    let probe: String = rest.chars().take_while(|c| c.is_alphanumeric()).take(2).collect();
    (!probe.is_empty()).then_some(probe)
}

/// The user a mention names among the directory's answers for its probe.
pub fn pick(rest: &str, probe: &str, users: &[User]) -> Option<Id> {
    let lower = rest.to_lowercase();
    let by_name = users
        .iter()
        .filter(|u| !u.name.trim().is_empty() && lower.starts_with(&u.name.trim().to_lowercase()))
        .max_by_key(|u| u.name.trim().chars().count());
    if let Some(user) = by_name {
        return Some(user.id);
    }
    // A sign-in name: the directory matched it, but answers only display names.
    if probe.chars().all(is_login_char) {
        if let Some(exact) = users.iter().find(|u| u.name.eq_ignore_ascii_case(probe)) {
            return Some(exact.id);
        }
        if users.len() == 1 {
            return Some(users[0].id);
        }
    }
    None
}

/// The users a text mentions, each once.
pub fn resolve(text: &str) -> Result<Vec<Id>> {
    let mut found: Vec<Id> = Vec::new();
    for rest in mention_starts(text) {
        let Some(probe) = probe(&rest) else { continue };
        let users = directory::find_users(&probe, 20)?;
        if let Some(id) = pick(&rest, &probe, &users)
            && !found.contains(&id)
        {
            found.push(id);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: Id, name: &str) -> User {
        User { id, name: name.into(), department_id: None, active: true }
    }

    #[test]
    fn mentions_start_after_an_at_sign_that_is_not_inside_a_word() {
        assert_eq!(mention_starts("请 @张伟看一下"), ["张伟看一下"]);
        assert_eq!(mention_starts("@li.na hi"), ["li.na hi"]);
        assert!(mention_starts("mail wang@example.com").is_empty());
        assert!(mention_starts("@ nobody, @@").is_empty());
    }

    #[test]
    fn a_chinese_name_is_the_longest_name_the_text_starts_with() {
        let users = [user(1, "张伟"), user(2, "张伟明"), user(3, "张三")];
        assert_eq!(probe("张伟明天来").as_deref(), Some("张伟"));
        assert_eq!(pick("张伟明天来", "张伟", &users), Some(2));
        assert_eq!(pick("张伟请看", "张伟", &users), Some(1));
        assert_eq!(pick("张飞", "张飞", &users), None);
    }

    #[test]
    fn a_sign_in_name_takes_the_whole_token_without_trailing_punctuation() {
        assert_eq!(probe("zhang.wei. 你好").as_deref(), Some("zhang.wei"));
        assert_eq!(pick("zhang.wei. 你好", "zhang.wei", &[user(4, "张伟")]), Some(4));
        assert_eq!(pick("team", "team", &[user(4, "张伟"), user(5, "李娜")]), None);
        assert_eq!(pick("Mei hello", "Mei", &[user(6, "mei"), user(7, "Meiling")]), Some(6));
    }
}
