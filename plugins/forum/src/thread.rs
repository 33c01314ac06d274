//! One thread (`thread?id=`): its body in Markdown (the host sanitises and renders it), its
//! replies, the reply form (unless locked), and the tools of the board's moderators: pin, lock,
//! move and delete. Opening the page marks the thread read. Authors edit (`edit-reply?id=`) and
//! delete their own replies while the thread is unlocked.

use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Id, Result, customers};

use crate::access::{self, Viewer};
use crate::clock;
use crate::store::{self, Board, Reply, Thread};
use crate::text::Text;
use crate::threads::{self, Problems};

const PAGE: u32 = 50;

/// A thread and its board, if the viewer may see them.
fn visible(viewer: &Viewer, id: Id) -> Result<Option<(Typed<Thread>, Typed<Board>)>> {
    let Some(thread) = store::thread(id)? else { return Ok(None) };
    match access::visible_board(viewer, thread.fields.board_id) {
        Ok(board) => Ok(Some((thread, board))),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn id_param(value: Option<&str>) -> Option<Id> {
    value.and_then(|v| v.trim().parse::<Id>().ok())
}

pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let found = match id_param(request.param("id")) {
        Some(id) => visible(&viewer, id)?,
        None => None,
    };
    let Some((thread, board)) = found else {
        return Err(Error::not_found(t.no_such_thread()));
    };
    store::mark_read(viewer.id, thread.id, thread.fields.reply_count)?;
    let zone = clock::org_zone();
    let cursor = request.cursor();
    let (replies, next) = store::replies(thread.id, PAGE, cursor)?;
    let people =
        threads::names(std::iter::once(thread.fields.author_id).chain(replies.iter().map(|r| r.fields.author_id)))?;
    let moderates = viewer.moderates(&board.fields);
    let th = &thread.fields;

    let mut status = Vec::new();
    if th.pinned {
        status.push(t.pinned_mark());
    }
    if th.locked {
        status.push(t.locked_mark());
    }
    let mut facts = vec![
        (t.pick("版块", "Board"), board.fields.name.clone()),
        (t.pick("作者", "Author"), threads::name_in(&people, th.author_id)),
        (t.pick("发布时间", "Posted"), clock::format(thread.created_at, &zone)),
    ];
    if let Some(customer) = th.customer {
        let name = match customers::get(customer) {
            Ok(c) => format!("{} {}", c.code, c.name),
            Err(_) => format!("#{customer}"),
        };
        facts.push((t.pick("客户", "Customer"), name));
    }
    if !status.is_empty() {
        facts.push((t.pick("状态", "Status"), status.join(" · ")));
    }
    let mut page = Page::new(th.title.clone()).key_values(facts);
    if !th.body.trim().is_empty() {
        page = page.text(th.body.clone());
    }

    if moderates {
        let arg = thread.id.to_string();
        page = page.actions([
            if th.pinned {
                Action::new("unpin", t.pick("取消置顶", "Unpin"))
            } else {
                Action::new("pin", t.pick("置顶", "Pin"))
            }
            .argument(arg.clone()),
            if th.locked {
                Action::new("unlock", t.pick("解锁", "Unlock"))
            } else {
                Action::new("lock", t.pick("锁定", "Lock"))
            }
            .argument(arg.clone()),
            Action::danger("delete-thread", t.pick("删除帖子", "Delete thread")).argument(arg.clone()),
        ]);
        let others: Vec<(String, String)> = access::visible_boards(&viewer)?
            .into_iter()
            .filter(|b| b.id != board.id)
            .map(|b| (b.id.to_string(), b.fields.name))
            .collect();
        if !others.is_empty() {
            page = page.form(
                Form::new(Action::new("move", t.pick("移动", "Move")).argument(arg))
                    .field(Field::select("board", t.pick("移动到版块", "Move to board"), others).required()),
            );
        }
    }

    page = page.heading(t.replies_heading(th.reply_count));
    for reply in &replies {
        let r = &reply.fields;
        let edited = if r.edited_at.is_some() { t.edited() } else { String::new() };
        page = page.heading(format!(
            "{} · {}{edited}",
            threads::name_in(&people, r.author_id),
            clock::format(reply.created_at, &zone)
        ));
        page = page.text(r.body.clone());
        let mut tools = Vec::new();
        let own = r.author_id == viewer.id && !th.locked;
        if own {
            tools.push(Action::new("edit-reply", t.pick("编辑", "Edit")).argument(reply.id.to_string()));
        }
        if own || moderates {
            tools.push(
                Action::danger("delete-reply", t.pick("删除回复", "Delete reply")).argument(reply.id.to_string()),
            );
        }
        if !tools.is_empty() {
            page = page.actions(tools);
        }
    }
    if let Some(next) = next {
        page = page.text(format!(
            "[{}](/p/forum/thread?id={}&cursor={})",
            t.pick("下一页回复", "Next replies"),
            thread.id,
            crate::encode(&next)
        ));
    }
    if th.locked {
        page = page.notice("warning", t.locked());
    } else {
        page = page.form(
            Form::new(Action::primary("reply", t.pick("回复", "Reply")).argument(thread.id.to_string())).field(
                Field::textarea("body", t.pick("回复内容", "Your reply"))
                    .required()
                    .help(t.pick("支持 Markdown；用 @姓名 提及同事。", "Markdown; @name mentions a colleague.")),
            ),
        );
    }
    Ok(page)
}

/// The page to edit one's own reply.
pub fn render_edit(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let reply = match id_param(request.param("id")) {
        Some(id) => store::reply(id)?,
        None => None,
    };
    let Some(reply) = reply else { return Err(Error::not_found(t.no_such_reply())) };
    let Some((thread, _)) = visible(&viewer, reply.fields.thread_id)? else {
        return Err(Error::not_found(t.no_such_reply()));
    };
    if reply.fields.author_id != viewer.id || thread.fields.locked {
        return Err(Error::denied(t.authors_only()));
    }
    Ok(Page::new(t.pick("编辑回复", "Edit reply"))
        .key_values([(t.pick("帖子", "Thread"), thread.fields.title.clone())])
        .form(Form::new(Action::primary("save-reply", t.pick("保存", "Save")).argument(reply.id.to_string())).field(
            Field::textarea("body", t.pick("回复内容", "Your reply")).required().value(reply.fields.body.clone()),
        )))
}

fn first_problem(problems: &Problems) -> Option<String> {
    problems.first().map(|(_, m)| m.clone())
}

pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let Some(id) = id_param(argument) else {
        return Ok(Outcome::error(t.no_such_thread()));
    };
    if matches!(action, "edit-reply" | "delete-reply" | "save-reply") {
        return act_on_reply(t, &viewer, action, id, input, now);
    }
    let Some((thread, board)) = visible(&viewer, id)? else {
        return Ok(Outcome::error(t.no_such_thread()));
    };
    if action == "reply" {
        if thread.fields.locked {
            return Ok(Outcome::error(t.locked()));
        }
        let body = input.get("body").and_then(Value::as_str).unwrap_or_default();
        let mut problems = Problems::new();
        threads::check_body(t, body, &mut problems);
        if let Some(problem) = first_problem(&problems) {
            return Ok(Outcome::error(problem));
        }
        threads::reply(&viewer, &board, &thread, body, now)?;
        return Ok(Outcome::success(t.replied()));
    }
    if !viewer.moderates(&board.fields) {
        return Ok(Outcome::error(t.moderators_only()));
    }
    match action {
        "pin" | "unpin" => {
            let on = action == "pin";
            records::update_typed("thread", id, &json!({ "pinned": on }), None)?;
            Ok(Outcome::success(t.pinned(on)))
        }
        "lock" | "unlock" => {
            let on = action == "lock";
            records::update_typed("thread", id, &json!({ "locked": on }), None)?;
            Ok(Outcome::success(t.locked_now(on)))
        }
        "move" => {
            let to = store::id_of(input, "board").and_then(|b| access::visible_board(&viewer, b).ok());
            let Some(to) = to else { return Ok(Outcome::error(t.no_such_board())) };
            if to.id == board.id {
                return Ok(Outcome::warning(t.same_board()));
            }
            threads::move_to(&thread, &to)?;
            Ok(Outcome::success(t.moved(&to.fields.name)))
        }
        "delete-thread" => {
            store::delete_all("reply", &Query::new("reply").eq("thread_id", id).limit(500))?;
            store::delete_all("read_marker", &Query::new("read_marker").eq("thread_id", id).limit(500))?;
            records::delete("thread", id)?;
            Ok(Outcome::redirect(format!("/p/forum/board?id={}", board.id)))
        }
        _ => Err(Error::not_found(format!("no action {action:?} on thread"))),
    }
}

fn act_on_reply(t: Text, viewer: &Viewer, action: &str, id: Id, input: &Value, now: i64) -> Result<Outcome> {
    let Some(reply) = store::reply(id)? else { return Ok(Outcome::error(t.no_such_reply())) };
    let Some((thread, board)) = visible(viewer, reply.fields.thread_id)? else {
        return Ok(Outcome::error(t.no_such_reply()));
    };
    let own = reply.fields.author_id == viewer.id && !thread.fields.locked;
    match action {
        "edit-reply" if own => Ok(Outcome::redirect(format!("/p/forum/edit-reply?id={id}"))),
        "save-reply" if own => {
            let body = input.get("body").and_then(Value::as_str).unwrap_or_default();
            let mut problems = Problems::new();
            threads::check_body(t, body, &mut problems);
            if let Some(problem) = first_problem(&problems) {
                return Ok(Outcome::error(problem));
            }
            let _: Typed<Reply> =
                records::update_typed("reply", id, &json!({ "body": body, "edited_at": now }), None)?.into_typed()?;
            Ok(Outcome::redirect(threads::link(thread.id)))
        }
        "delete-reply" if own || viewer.moderates(&board.fields) => {
            records::delete("reply", id)?;
            store::bump_thread(thread.id, -1, None, now)?;
            Ok(Outcome::success(t.reply_deleted()))
        }
        _ if thread.fields.locked && reply.fields.author_id == viewer.id => Ok(Outcome::error(t.locked())),
        _ => Ok(Outcome::error(t.authors_only())),
    }
}
