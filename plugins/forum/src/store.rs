//! The forum's records, typed: boards, threads, replies, subscriptions and read markers. Every
//! read and write of the plugin goes through here.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest thread or reply body, in characters.
pub const MAX_BODY: usize = 20_000;
/// Longest keyword of a subscription.
pub const MAX_KEYWORD: usize = 40;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Board {
    pub name: String,
    #[serde(default, deserialize_with = "records::or_default")]
    pub description: String,
    #[serde(default, deserialize_with = "records::or_default")]
    pub roles: Vec<String>,
    #[serde(default, deserialize_with = "records::or_default")]
    pub moderators: Vec<Id>,
    #[serde(default, deserialize_with = "records::or_default")]
    pub position: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Thread {
    pub board_id: Id,
    pub title: String,
    #[serde(default, deserialize_with = "records::or_default")]
    pub body: String,
    pub author_id: Id,
    #[serde(default)]
    pub customer: Option<Id>,
    #[serde(default, deserialize_with = "records::or_default")]
    pub pinned: bool,
    #[serde(default, deserialize_with = "records::or_default")]
    pub locked: bool,
    #[serde(default, deserialize_with = "records::or_default")]
    pub reply_count: i64,
    #[serde(default, deserialize_with = "records::or_default")]
    pub last_activity_at: i64,
    #[serde(default)]
    pub last_poster_id: Option<Id>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    pub thread_id: Id,
    pub board_id: Id,
    pub author_id: Id,
    pub body: String,
    #[serde(default)]
    pub edited_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Subscription {
    pub key: String,
    pub user_id: Id,
    pub kind: String,
    #[serde(default)]
    pub board_id: Option<Id>,
    #[serde(default)]
    pub keyword: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadMarker {
    pub key: String,
    pub user_id: Id,
    pub thread_id: Id,
    #[serde(default, deserialize_with = "records::or_default")]
    pub seen_replies: i64,
}

/// A record that is gone reads as `None`; other failures pass on.
fn optional<T>(found: Result<T>) -> Result<Option<T>> {
    match found {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

// ----- Boards -----

/// Every board, in their order (then by id).
pub fn boards() -> Result<Vec<Typed<Board>>> {
    let mut all: Vec<Typed<Board>> = records::find_all(&Query::new("board").order_by("id").limit(500))?
        .into_iter()
        .map(records::Record::into_typed)
        .collect::<Result<_>>()?;
    all.sort_by_key(|b| (b.fields.position, b.id));
    Ok(all)
}

pub fn board(id: Id) -> Result<Option<Typed<Board>>> {
    optional(records::get_typed::<Board>("board", id))
}

// ----- Threads -----

pub fn thread(id: Id) -> Result<Option<Typed<Thread>>> {
    optional(records::get_typed::<Thread>("thread", id))
}

/// A page of a board's threads, pinned or not, latest activity first.
pub fn threads_of_board(
    board_id: Id,
    pinned: bool,
    limit: u32,
    cursor: Option<&str>,
) -> Result<(Vec<Typed<Thread>>, Option<String>)> {
    let mut q = Query::new("thread")
        .eq("board_id", board_id)
        .eq("pinned", pinned)
        .order_by("last_activity_at")
        .descending(true)
        .limit(limit);
    if let Some(c) = cursor {
        q = q.cursor(c);
    }
    records::find_typed(&q)
}

/// The latest threads of every board, latest activity first.
pub fn latest_threads(limit: u32) -> Result<Vec<Typed<Thread>>> {
    let q = Query::new("thread").order_by("last_activity_at").descending(true).limit(limit);
    Ok(records::find_typed(&q)?.0)
}

/// Threads about a customer, latest activity first.
pub fn threads_about(customer_id: Id, limit: u32) -> Result<Vec<Typed<Thread>>> {
    let q = Query::new("thread").eq("customer", customer_id).order_by("last_activity_at").descending(true).limit(limit);
    Ok(records::find_typed(&q)?.0)
}

// ----- Replies -----

pub fn reply(id: Id) -> Result<Option<Typed<Reply>>> {
    optional(records::get_typed::<Reply>("reply", id))
}

/// A page of a thread's replies, oldest first.
pub fn replies(thread_id: Id, limit: u32, cursor: Option<&str>) -> Result<(Vec<Typed<Reply>>, Option<String>)> {
    let mut q = Query::new("reply").eq("thread_id", thread_id).order_by("id").limit(limit);
    if let Some(c) = cursor {
        q = q.cursor(c);
    }
    records::find_typed(&q)
}

/// Every reply of a thread (for moving or deleting it, and for its participants).
pub fn all_replies(thread_id: Id) -> Result<Vec<Typed<Reply>>> {
    records::find_all(&Query::new("reply").eq("thread_id", thread_id).order_by("id").limit(500))?
        .into_iter()
        .map(records::Record::into_typed)
        .collect()
}

/// Changes a thread's counters after a reply came or went, retrying a lost race.
pub fn bump_thread(id: Id, delta: i64, poster: Option<Id>, now: i64) -> Result<()> {
    for _ in 0..5 {
        let Some(thread) = thread(id)? else { return Ok(()) };
        let mut patch = json!({ "reply_count": (thread.fields.reply_count + delta).max(0) });
        if let Some(poster) = poster {
            patch["last_activity_at"] = json!(now);
            patch["last_poster_id"] = json!(poster);
        }
        match records::update_typed("thread", id, &patch, Some(thread.version)) {
            Ok(_) => return Ok(()),
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::conflict(format!("thread {id} kept changing")))
}

// ----- Subscriptions -----

pub fn board_key(user: Id, board: Id) -> String {
    format!("b:{user}:{board}")
}

pub fn keyword_key(user: Id, keyword: &str) -> String {
    format!("k:{user}:{}", keyword.to_lowercase())
}

pub fn subscriptions_of(user: Id) -> Result<Vec<Typed<Subscription>>> {
    records::find_all(&Query::new("subscription").eq("user_id", user).limit(500))?
        .into_iter()
        .map(records::Record::into_typed)
        .collect()
}

pub fn board_subscribers(board: Id) -> Result<Vec<Id>> {
    let q = Query::new("subscription").eq("kind", "board").eq("board_id", board).limit(500);
    Ok(records::find_all(&q)?
        .into_iter()
        .filter_map(|r| r.into_typed::<Subscription>().ok())
        .map(|s| s.fields.user_id)
        .collect())
}

pub fn keyword_subscriptions() -> Result<Vec<Subscription>> {
    let q = Query::new("subscription").eq("kind", "keyword").limit(500);
    Ok(records::find_all(&q)?
        .into_iter()
        .filter_map(|r| r.into_typed::<Subscription>().ok())
        .map(|s| s.fields)
        .collect())
}

pub fn subscription_by_key(key: &str) -> Result<Option<Typed<Subscription>>> {
    let (found, _) = records::find_typed::<Subscription>(&Query::new("subscription").eq("key", key).limit(1))?;
    Ok(found.into_iter().next())
}

/// Subscribes; subscribing twice keeps one subscription.
/// Subscribes a user to a board's new threads (once).
pub fn subscribe_board(user: Id, board: Id) -> Result<()> {
    subscribe(&Subscription {
        key: board_key(user, board),
        user_id: user,
        kind: "board".into(),
        board_id: Some(board),
        keyword: None,
    })
}

pub fn subscribe(sub: &Subscription) -> Result<()> {
    if subscription_by_key(&sub.key)?.is_some() {
        return Ok(());
    }
    match records::insert_typed("subscription", sub, None) {
        Ok(_) | Err(Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

// ----- Read markers -----

fn marker_key(user: Id, thread: Id) -> String {
    format!("{user}:{thread}")
}

/// How many replies the user has seen of each thread between `low` and `high` (ids).
pub fn seen(user: Id, low: Id, high: Id) -> Result<Vec<ReadMarker>> {
    let q = Query::new("read_marker").eq("user_id", user).ge("thread_id", low).le("thread_id", high).limit(500);
    Ok(records::find_all(&q)?.into_iter().filter_map(|r| r.into_typed::<ReadMarker>().ok()).map(|m| m.fields).collect())
}

/// Records that the user has seen `replies` replies of the thread.
pub fn mark_read(user: Id, thread: Id, replies: i64) -> Result<()> {
    let key = marker_key(user, thread);
    let (found, _) = records::find_typed::<ReadMarker>(&Query::new("read_marker").eq("key", key.as_str()).limit(1))?;
    match found.into_iter().next() {
        Some(m) if m.fields.seen_replies == replies => Ok(()),
        Some(m) => match records::update_typed("read_marker", m.id, &json!({ "seen_replies": replies }), None) {
            Ok(_) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        },
        None => {
            let marker = ReadMarker { key, user_id: user, thread_id: thread, seen_replies: replies };
            match records::insert_typed("read_marker", &marker, None) {
                Ok(_) | Err(Error::Conflict(_)) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// Deletes every record of `entity` that `query` finds.
pub fn delete_all(entity: &str, query: &Query) -> Result<()> {
    for record in records::find_all(query)? {
        match records::delete(entity, record.id) {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A JSON value as text, trimmed; empty for anything else.
pub fn text_of(input: &Value, name: &str) -> String {
    input.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned()
}

/// A JSON value as an id: a number or a numeric string.
pub fn id_of(input: &Value, name: &str) -> Option<Id> {
    match input.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
