//! Starting threads and replying, with the rules every way of posting shares (the forum page,
//! a board, a customer's panel, a thread), and the thread lists with their unread markers.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tessera_sdk::records::{self, Typed};
use tessera_sdk::ui::{Action, Field, Form, Table};
use tessera_sdk::{Error, Id, Result, customers, directory};

use crate::access::Viewer;
use crate::clock;
use crate::fanout::{self, Post};
use crate::store::{self, Board, MAX_BODY, MAX_TITLE, Reply, Thread};
use crate::text::Text;

/// What was wrong with a post, by form field.
pub type Problems = Vec<(&'static str, String)>;

/// Checks a body: required, at most `MAX_BODY` characters.
pub fn check_body(t: Text, body: &str, problems: &mut Problems) {
    let n = body.chars().count();
    if body.trim().is_empty() {
        problems.push(("body", t.body_required()));
    } else if n > MAX_BODY {
        problems.push(("body", t.body_too_long(MAX_BODY, n)));
    }
}

/// A new thread as the form gave it.
pub struct NewThread {
    pub title: String,
    pub body: String,
    pub customer: Option<Id>,
}

impl NewThread {
    pub fn from_input(input: &Value) -> NewThread {
        NewThread {
            title: store::text_of(input, "title"),
            body: input.get("body").and_then(Value::as_str).unwrap_or_default().to_owned(),
            customer: store::id_of(input, "customer"),
        }
    }

    pub fn check(&self, t: Text) -> Problems {
        let mut problems = Problems::new();
        if self.title.is_empty() {
            problems.push(("title", t.title_required()));
        } else if self.title.chars().count() > MAX_TITLE {
            problems.push(("title", t.title_too_long(MAX_TITLE)));
        }
        check_body(t, &self.body, &mut problems);
        problems
    }
}

/// Whether a board's threads may sit on a customer's timeline: only when everyone sees the
/// board, since the host shows a timeline to whoever sees the customer.
pub fn on_timeline(board: &Board) -> bool {
    board.roles.iter().all(|r| r.trim().is_empty())
}

/// Starts a thread (after `check`); answers its id. The poster must see the board, and the
/// customer, if any.
pub fn start(
    t: Text,
    viewer: &Viewer,
    board: &Typed<Board>,
    draft: &NewThread,
    now: i64,
) -> Result<std::result::Result<Id, Problems>> {
    if let Some(customer) = draft.customer {
        match customers::get(customer) {
            Ok(_) => {}
            Err(Error::NotFound(_) | Error::Denied(_)) => return Ok(Err(vec![("customer", t.no_such_customer())])),
            Err(e) => return Err(e),
        }
    }
    let thread = Thread {
        board_id: board.id,
        title: draft.title.clone(),
        body: draft.body.clone(),
        author_id: viewer.id,
        customer: draft.customer,
        pinned: false,
        locked: false,
        reply_count: 0,
        last_activity_at: now,
        last_poster_id: Some(viewer.id),
    };
    let linked = draft.customer.filter(|_| on_timeline(&board.fields));
    let record = records::insert_typed("thread", &thread, linked)?;
    store::mark_read(viewer.id, record.id, 0)?;
    let text = format!("{}\n{}", draft.title, draft.body);
    fanout::announce(&Post {
        poster: viewer.id,
        board,
        thread_id: record.id,
        thread_title: &draft.title,
        text: &text,
        participants: &[],
        new_thread: true,
    })?;
    Ok(Ok(record.id))
}

/// Adds a reply to an unlocked thread the poster may see.
pub fn reply(viewer: &Viewer, board: &Typed<Board>, thread: &Typed<Thread>, body: &str, now: i64) -> Result<Id> {
    let earlier = store::all_replies(thread.id)?;
    let mut participants: Vec<Id> = vec![thread.fields.author_id];
    participants.extend(earlier.iter().map(|r| r.fields.author_id));
    participants.sort_unstable();
    participants.dedup();
    let reply = Reply {
        thread_id: thread.id,
        board_id: board.id,
        author_id: viewer.id,
        body: body.to_owned(),
        edited_at: None,
    };
    let record = records::insert_typed("reply", &reply, None)?;
    store::bump_thread(thread.id, 1, Some(viewer.id), now)?;
    store::mark_read(viewer.id, thread.id, thread.fields.reply_count + 1)?;
    fanout::announce(&Post {
        poster: viewer.id,
        board,
        thread_id: thread.id,
        thread_title: &thread.fields.title,
        text: body,
        participants: &participants,
        new_thread: false,
    })?;
    Ok(record.id)
}

/// The new-thread form. `board` is a select of the boards given, unless the board is known
/// (then it travels as the submit's argument); `customer` is carried along when given.
pub fn new_thread_form(
    t: Text,
    boards: &[Typed<Board>],
    fixed_board: Option<Id>,
    customer: Option<Id>,
    with_customer_field: bool,
) -> Form {
    let mut submit = Action::primary("new-thread", t.pick("发帖", "Post thread"));
    if let Some(board) = fixed_board {
        submit = submit.argument(board.to_string());
    }
    let mut form = Form::new(submit);
    if fixed_board.is_none() {
        let options: Vec<(String, String)> = boards.iter().map(|b| (b.id.to_string(), b.fields.name.clone())).collect();
        form = form.field(Field::select("board", t.pick("版块", "Board"), options).required());
    }
    form = form.field(Field::text("title", t.pick("标题", "Title")).required()).field(
        Field::textarea("body", t.pick("内容", "Body"))
            .required()
            .help(t.pick("支持 Markdown；用 @姓名 提及同事。", "Markdown; @name mentions a colleague.")),
    );
    match customer {
        Some(id) => form.field(Field::customer("customer", t.pick("客户", "Customer")).value(id)),
        None if with_customer_field => {
            form.field(Field::customer("customer", t.pick("关联客户（可选）", "Customer (optional)")))
        }
        None => form,
    }
}

/// Names of users by id, in one call.
pub fn names(ids: impl IntoIterator<Item = Id>) -> Result<BTreeMap<Id, String>> {
    let mut ids: Vec<Id> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(directory::users(&ids)?.into_iter().map(|u| (u.id, u.name)).collect())
}

pub fn name_in(names: &BTreeMap<Id, String>, id: Id) -> String {
    names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
}

/// What a viewer has not read of each thread: `None` when all is read, else the mark.
pub fn unread_marks(t: Text, viewer: &Viewer, threads: &[&Typed<Thread>]) -> Result<BTreeMap<Id, String>> {
    let (Some(low), Some(high)) = (threads.iter().map(|th| th.id).min(), threads.iter().map(|th| th.id).max()) else {
        return Ok(BTreeMap::new());
    };
    let seen: BTreeMap<Id, i64> =
        store::seen(viewer.id, low, high)?.into_iter().map(|m| (m.thread_id, m.seen_replies)).collect();
    let mut marks = BTreeMap::new();
    for th in threads {
        match seen.get(&th.id) {
            None if th.fields.author_id != viewer.id => {
                marks.insert(th.id, t.new_thread_mark());
            }
            Some(n) if *n < th.fields.reply_count => {
                marks.insert(th.id, t.new_replies(th.fields.reply_count - n));
            }
            _ => {}
        }
    }
    Ok(marks)
}

/// A table of threads with their board, author, replies, last activity and status (pinned,
/// locked, unread), each opened by the row action `open`.
pub fn table(
    t: Text,
    viewer: &Viewer,
    threads: &[&Typed<Thread>],
    boards: &[Typed<Board>],
    next: Option<String>,
) -> Result<Table> {
    let zone = clock::org_zone();
    let people = names(threads.iter().map(|th| th.fields.author_id))?;
    let unread = unread_marks(t, viewer, threads)?;
    let board_name = |id: Id| boards.iter().find(|b| b.id == id).map(|b| b.fields.name.clone()).unwrap_or_default();
    let mut table = Table::new()
        .column("title", t.pick("标题", "Title"))
        .column("board", t.pick("版块", "Board"))
        .column("author", t.pick("作者", "Author"))
        .column("replies", t.pick("回复", "Replies"))
        .column("activity", t.pick("最后活动", "Last activity"))
        .column("status", t.pick("状态", "Status"));
    for th in threads {
        let mut status = Vec::new();
        if th.fields.pinned {
            status.push(t.pinned_mark());
        }
        if th.fields.locked {
            status.push(t.locked_mark());
        }
        if let Some(mark) = unread.get(&th.id) {
            status.push(mark.clone());
        }
        table = table.row(
            th.id.to_string(),
            [
                th.fields.title.clone(),
                board_name(th.fields.board_id),
                name_in(&people, th.fields.author_id),
                th.fields.reply_count.to_string(),
                clock::format(th.fields.last_activity_at, &zone),
                status.join(" · "),
            ],
        );
    }
    Ok(table.row_action(Action::primary("open", t.pick("查看", "Open"))).next(next))
}

/// The link of a thread's page.
pub fn link(id: Id) -> String {
    format!("/p/forum/thread?id={id}")
}

/// Moves a thread and its replies to another board, linking it to its customer's timeline or
/// taking it off as the new board's visibility requires.
pub fn move_to(thread: &Typed<Thread>, to: &Typed<Board>) -> Result<()> {
    records::update_typed("thread", thread.id, &json!({ "board_id": to.id }), None)?;
    for reply in store::all_replies(thread.id)? {
        records::update_typed("reply", reply.id, &json!({ "board_id": to.id }), None)?;
    }
    let wanted = thread.fields.customer.filter(|_| on_timeline(&to.fields));
    if wanted != thread.customer_id {
        records::link("thread", thread.id, wanted)?;
    }
    Ok(())
}
