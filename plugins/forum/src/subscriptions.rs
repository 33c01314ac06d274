//! My subscriptions (`subscriptions`): the boards and keywords the user follows, a form to
//! follow a board or a keyword, and a row action to stop following.

use serde_json::Value;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, Table};
use tessera_sdk::{Caller, Error, Id, Result, records};

use crate::access::{self, Viewer};
use crate::store::{self, MAX_KEYWORD, Subscription};
use crate::text::Text;

pub fn render(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let boards = access::visible_boards(&viewer)?;
    let mut table = Table::new().column("kind", t.pick("类型", "Kind")).column("what", t.pick("订阅内容", "Following"));
    for sub in store::subscriptions_of(viewer.id)? {
        let (kind, what) = match (sub.fields.kind.as_str(), sub.fields.board_id, &sub.fields.keyword) {
            ("board", Some(board), _) => match boards.iter().find(|b| b.id == board) {
                Some(b) => (t.pick("版块", "Board"), b.fields.name.clone()),
                None => continue,
            },
            (_, _, Some(keyword)) => (t.pick("关键词", "Keyword"), keyword.clone()),
            _ => continue,
        };
        table = table.row(sub.id.to_string(), [kind, what]);
    }
    let options: Vec<(String, String)> = boards.iter().map(|b| (b.id.to_string(), b.fields.name.clone())).collect();
    Ok(Page::new(t.pick("我的订阅", "My subscriptions"))
        .notice(
            "info",
            t.pick(
                "订阅版块：该版块有新帖时通知您。订阅关键词：任何您能查看的版块中出现包含该关键词的新帖或回复时通知您。您发的帖子、回复的帖子有新回复时也会通知您。",
                "Following a board tells you of its new threads; following a keyword tells you of new threads and replies containing it in any board you may see. You are also told of replies to threads you started or replied to.",
            ),
        )
        .table(table.row_action(Action::danger("unsubscribe", t.pick("取消订阅", "Unsubscribe"))))
        .heading(t.pick("订阅关键词", "Follow a keyword"))
        .form(Form::new(Action::primary("add-keyword", t.pick("订阅", "Follow"))).field(Field::text("keyword", t.pick("关键词", "Keyword")).required()))
        .heading(t.pick("订阅版块", "Follow a board"))
        .form(Form::new(Action::primary("add-board", t.pick("订阅", "Follow"))).field(Field::select("board", t.pick("版块", "Board"), options).required())))
}

pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    match action {
        "add-keyword" => {
            let keyword = store::text_of(input, "keyword");
            if keyword.is_empty() {
                return Ok(Outcome::invalid([("keyword", t.keyword_required())]));
            }
            if keyword.chars().count() > MAX_KEYWORD {
                return Ok(Outcome::invalid([("keyword", t.keyword_too_long(MAX_KEYWORD))]));
            }
            let key = store::keyword_key(viewer.id, &keyword);
            store::subscribe(&Subscription {
                key,
                user_id: viewer.id,
                kind: "keyword".into(),
                board_id: None,
                keyword: Some(keyword.clone()),
            })?;
            Ok(Outcome::success(t.subscribed_keyword(&keyword)))
        }
        "add-board" => {
            let Some(board) = store::id_of(input, "board").and_then(|id| access::visible_board(&viewer, id).ok())
            else {
                return Ok(Outcome::invalid([("board", t.choose_board())]));
            };
            store::subscribe_board(viewer.id, board.id)?;
            Ok(Outcome::success(t.subscribed_board(&board.fields.name)))
        }
        "unsubscribe" => {
            let id = argument.and_then(|a| a.trim().parse::<Id>().ok());
            let mine = store::subscriptions_of(viewer.id)?;
            if let Some(sub) = mine.iter().find(|s| Some(s.id) == id) {
                records::delete("subscription", sub.id)?;
            }
            Ok(Outcome::success(t.unsubscribed()))
        }
        _ => Err(Error::not_found(format!("no action {action:?} on subscriptions"))),
    }
}
