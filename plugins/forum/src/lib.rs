//! 营销论坛 / Forum: boards that roles may see, threads and replies in Markdown, `@mentions`
//! that notify, moderation (pin, lock, move, delete), subscriptions by board and by keyword,
//! unread markers, threads about customers on the customer's page and timeline, and search that
//! finds Chinese of any length.
//!
//! Threads, replies, subscriptions and read markers are *shared* records: the host lets every
//! user reach all of them through the plugin, and the plugin decides who sees what (`access`).
//! Bodies are Markdown shown only through the host's text block, which sanitises it (no raw
//! HTML, no script, only safe links); every other user text goes into blocks the host escapes.
//!
//! - `access`: who sees and moderates which board; `store`: the records;
//! - `threads`: posting rules shared by every form, and thread lists with unread markers;
//! - `mentions`: finding `@name` in text; `fanout`: who is told of a post;
//! - `home`, `board`, `thread`, `search`, `subscriptions`, `boards`, `panel`: the pages and
//!   their actions; `clock`: times in the organisation's zone; `text`: every string in both
//!   languages.

mod access;
mod board;
mod boards;
mod clock;
mod fanout;
mod home;
mod mentions;
mod panel;
mod search;
mod store;
mod subscriptions;
mod text;
mod thread;
mod threads;

use serde_json::Value;
use tessera_sdk::time;
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Id, Json, Plugin, Result, from_json};

/// The plugin. The host starts it afresh for every call; what it keeps lives in its records.
struct Forum;

impl Plugin for Forum {
    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        match request.target.as_str() {
            "forum" => home::render(&caller),
            "board" => board::render(&caller, &request),
            "thread" => thread::render(&caller, &request),
            "edit-reply" => thread::render_edit(&caller, &request),
            "search" => search::render(&caller, &request),
            "subscriptions" => subscriptions::render(&caller),
            "boards" => boards::render(&caller, &request),
            "customer-threads" => panel::render(&caller, &request),
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        let input: Value = from_json("form input", &input)?;
        let (argument, now) = (argument.as_deref(), time::now_ms());
        match (target.as_str(), action.as_str()) {
            ("forum" | "search", "search") => Ok(home::search(&input)),
            ("forum" | "search" | "customer-threads", "open") => Ok(open_thread(argument)),
            ("forum", "open-board") => {
                Ok(Outcome::redirect(format!("/p/forum/board?id={}", parse_id(argument).unwrap_or_default())))
            }
            ("forum", "my-subscriptions") => Ok(Outcome::redirect("/p/forum/subscriptions")),
            ("forum", "new-thread") => home::new_thread(&caller, &input, now),
            ("customer-threads", "new-thread") => panel::new_thread(&caller, &input, now),
            ("board", _) => board::act(&caller, &action, argument, &input, now),
            ("thread" | "edit-reply", _) => thread::act(&caller, &action, argument, &input, now),
            ("subscriptions", _) => subscriptions::act(&caller, &action, argument, &input),
            ("boards", _) => boards::act(&caller, &action, argument, &input),
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

tessera_sdk::export!(Forum);

/// An id given as an action's argument.
fn parse_id(argument: Option<&str>) -> Option<Id> {
    argument.and_then(|a| a.trim().parse().ok())
}

/// Goes to the thread a list's row names.
fn open_thread(argument: Option<&str>) -> Outcome {
    Outcome::redirect(threads::link(parse_id(argument).unwrap_or_default()))
}

/// Percent-encodes a query parameter's value.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_percent_encoded() {
        assert_eq!(encode("售后 a&b"), "%E5%94%AE%E5%90%8E%20a%26b");
    }
}
