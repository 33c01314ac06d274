//! One board (`board?id=`): its description, subscribe or unsubscribe, its threads (pinned
//! first, then by latest activity, with unread markers), and a form to start a thread in it.

use serde_json::Value;
use tessera_sdk::records::Typed;
use tessera_sdk::ui::{Action, Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Id, Result, records};

use crate::access::{self, Viewer};
use crate::store::{self, Thread};
use crate::text::Text;
use crate::threads::{self, NewThread};

const PAGE: u32 = 30;

pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let Some(id) = request.param("id").and_then(|v| v.trim().parse::<Id>().ok()) else {
        return Err(Error::not_found(t.no_such_board()));
    };
    let board = access::visible_board(&viewer, id).map_err(|_| Error::not_found(t.no_such_board()))?;
    let boards = access::visible_boards(&viewer)?;
    let cursor = request.cursor();

    let mut page = Page::new(board.fields.name.clone());
    if !board.fields.description.trim().is_empty() {
        page = page.text(board.fields.description.clone());
    }
    let subscribed = store::subscription_by_key(&store::board_key(viewer.id, id))?.is_some();
    page = page.actions([
        if subscribed {
            Action::new("unsubscribe", t.pick("取消订阅", "Unsubscribe")).argument(id.to_string())
        } else {
            Action::new("subscribe", t.pick("订阅本版", "Subscribe")).argument(id.to_string())
        },
        Action::new("back", t.pick("返回论坛", "Back to the forum")),
    ]);

    let mut listed: Vec<Typed<Thread>> = Vec::new();
    if cursor.is_none() {
        listed.extend(store::threads_of_board(id, true, 50, None)?.0);
    }
    let (rest, next) = store::threads_of_board(id, false, PAGE, cursor)?;
    listed.extend(rest);
    let refs: Vec<_> = listed.iter().collect();
    page = page.table(threads::table(t, &viewer, &refs, &boards, next)?);
    Ok(page.heading(t.pick("发新帖", "New thread")).form(threads::new_thread_form(t, &boards, Some(id), None, true)))
}

pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    if action == "back" {
        return Ok(Outcome::redirect("/p/forum/forum"));
    }
    if action == "open" {
        return Ok(crate::open_thread(argument));
    }
    let viewer = Viewer::current(caller)?;
    let Some(board) =
        argument.and_then(|a| a.trim().parse::<Id>().ok()).and_then(|id| access::visible_board(&viewer, id).ok())
    else {
        return Ok(Outcome::error(t.no_such_board()));
    };
    match action {
        "new-thread" => {
            let draft = NewThread::from_input(input);
            let problems = draft.check(t);
            if let Some((_, first)) = problems.first() {
                return Ok(Outcome::error(first.clone()));
            }
            match threads::start(t, &viewer, &board, &draft, now)? {
                Ok(id) => Ok(Outcome::redirect(threads::link(id))),
                Err(problems) => Ok(Outcome::error(problems.first().map(|p| p.1.clone()).unwrap_or_default())),
            }
        }
        "subscribe" => {
            store::subscribe_board(viewer.id, board.id)?;
            Ok(Outcome::success(t.subscribed_board(&board.fields.name)))
        }
        "unsubscribe" => {
            if let Some(sub) = store::subscription_by_key(&store::board_key(viewer.id, board.id))? {
                records::delete("subscription", sub.id)?;
            }
            Ok(Outcome::success(t.unsubscribed()))
        }
        _ => Err(Error::not_found(format!("no action {action:?} on board"))),
    }
}
