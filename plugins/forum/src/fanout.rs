//! Who is told of a new thread or reply: the colleagues it `@mentions`, the people who took part
//! in the thread (for a reply), the board's subscribers (for a thread) and whoever follows a
//! keyword the post contains. Each is told once per post, never the poster, and only if they may
//! see the board.

use std::collections::BTreeMap;

use tessera_sdk::notify::{self, Message};
use tessera_sdk::records::Typed;
use tessera_sdk::{Id, Result, directory, log};

use crate::access::Viewer;
use crate::mentions;
use crate::store::{self, Board};
use crate::text::{Reason, notification_title};

/// A post to announce.
pub struct Post<'a> {
    pub poster: Id,
    pub board: &'a Typed<Board>,
    pub thread_id: Id,
    pub thread_title: &'a str,
    /// What was written (the title and body of a thread, the body of a reply).
    pub text: &'a str,
    /// The thread's author and earlier repliers, for a reply; empty for a new thread.
    pub participants: &'a [Id],
    pub new_thread: bool,
}

/// Who gets told, and why (the strongest reason of each).
pub fn recipients(post: &Post) -> Result<BTreeMap<Id, Reason>> {
    let mut reasons: BTreeMap<Id, Reason> = BTreeMap::new();
    let mut add = |id: Id, reason: Reason| {
        let entry = reasons.entry(id).or_insert(reason);
        *entry = (*entry).min(reason);
    };
    for id in mentions::resolve(post.text)? {
        add(id, Reason::Mention);
    }
    for id in post.participants {
        add(*id, Reason::Participant);
    }
    if post.new_thread {
        for id in store::board_subscribers(post.board.id)? {
            add(id, Reason::Board);
        }
    }
    let text = post.text.to_lowercase();
    for sub in store::keyword_subscriptions()? {
        if let Some(keyword) = sub.keyword.as_deref()
            && !keyword.trim().is_empty()
            && text.contains(&keyword.trim().to_lowercase())
        {
            add(sub.user_id, Reason::Keyword);
        }
    }
    reasons.remove(&post.poster);
    let ids: Vec<Id> = reasons.keys().copied().collect();
    let people = Viewer::others(&ids)?;
    reasons.retain(|id, _| people.iter().any(|v| v.id == *id && v.can_see(&post.board.fields)));
    Ok(reasons)
}

/// Tells the recipients of a post. A failure to notify is logged: the post stands.
pub fn announce(post: &Post) -> Result<()> {
    let reasons = recipients(post)?;
    if reasons.is_empty() {
        return Ok(());
    }
    let poster = directory::user(post.poster)?.map(|u| u.name).unwrap_or_else(|| format!("#{}", post.poster));
    let body = excerpt(post.text, 140);
    let link = format!("/p/forum/thread?id={}", post.thread_id);
    for reason in [Reason::Mention, Reason::Participant, Reason::Board, Reason::Keyword] {
        let ids: Vec<Id> = reasons.iter().filter(|(_, r)| **r == reason).map(|(id, _)| *id).collect();
        if ids.is_empty() {
            continue;
        }
        let message =
            Message::new(notification_title(reason, &poster, post.thread_title), body.clone()).link(link.clone());
        if let Err(e) = notify::push(&ids, &message) {
            log::warn(format!("could not notify {} user(s) of thread {}: {e}", ids.len(), post.thread_id));
        }
    }
    Ok(())
}

/// The first `max` characters of a text, on one line.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > max { format!("{}…", line.chars().take(max).collect::<String>()) } else { line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_one_short_line() {
        assert_eq!(excerpt("第一行\n\n第二行  end", 100), "第一行 第二行 end");
        assert_eq!(excerpt("售后服务流程", 2), "售后…");
    }
}
