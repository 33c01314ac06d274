//! The forum's front page (`forum`): a search box, the boards the user may see, the latest
//! threads of those boards with unread markers, and a form to start a thread in any of them.

use serde_json::Value;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, Table};
use tessera_sdk::{Caller, Result};

use crate::access::{self, Viewer};
use crate::store;
use crate::text::Text;
use crate::threads::{self, NewThread};

pub fn render(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let boards = access::visible_boards(&viewer)?;
    let visible = access::visible_ids(&boards);
    let mut page = Page::new(t.pick("论坛", "Forum"))
        .form(search_form(t, ""))
        .actions([Action::new("my-subscriptions", t.pick("我的订阅", "My subscriptions"))]);

    let mut table =
        Table::new().column("name", t.pick("版块", "Board")).column("description", t.pick("说明", "Description"));
    for b in &boards {
        table = table.row(b.id.to_string(), [b.fields.name.clone(), b.fields.description.clone()]);
    }
    page = page
        .heading(t.pick("版块", "Boards"))
        .table(table.row_action(Action::primary("open-board", t.pick("进入", "Open"))));
    if boards.is_empty() {
        page = page.notice(
            "info",
            t.pick(
                "还没有您可以查看的版块。管理员可在“版块管理”中添加。",
                "There is no board you may see yet. Administrators add boards under “Boards”.",
            ),
        );
        return Ok(page);
    }

    let latest: Vec<_> =
        store::latest_threads(100)?.into_iter().filter(|th| visible.contains(&th.fields.board_id)).take(20).collect();
    let refs: Vec<_> = latest.iter().collect();
    page = page.heading(t.pick("最新帖子", "Latest threads")).table(threads::table(t, &viewer, &refs, &boards, None)?);
    page = page.heading(t.pick("发新帖", "New thread")).form(threads::new_thread_form(t, &boards, None, None, true));
    Ok(page)
}

/// The search box, shared with the search page.
pub fn search_form(t: Text, query: &str) -> Form {
    let field = Field::text("q", t.pick("搜索论坛", "Search the forum"));
    let field = if query.is_empty() { field } else { field.value(query) };
    Form::new(Action::primary("search", t.pick("搜索", "Search"))).field(field)
}

/// Goes to the search page for the query typed.
pub fn search(input: &Value) -> Outcome {
    let q = store::text_of(input, "q");
    Outcome::redirect(format!("/p/forum/search?q={}", crate::encode(&q)))
}

/// Starts a thread from the front page's form (the board chosen in it).
pub fn new_thread(caller: &Caller, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let draft = NewThread::from_input(input);
    let mut problems = draft.check(t);
    let board = match store::id_of(input, "board") {
        Some(id) => access::visible_board(&viewer, id).ok(),
        None => None,
    };
    if board.is_none() {
        problems.insert(0, ("board", t.choose_board()));
    }
    let Some(board) = board.filter(|_| problems.is_empty()) else {
        return Ok(Outcome::invalid(problems));
    };
    match threads::start(t, &viewer, &board, &draft, now)? {
        Ok(id) => Ok(Outcome::redirect(threads::link(id))),
        Err(problems) => Ok(Outcome::invalid(problems)),
    }
}
