//! Board management (`boards`, administrators only): the boards with the roles that see them
//! and their moderators; adding, editing (`boards?id=`) and deleting a board (only when empty);
//! adding and removing moderators.

use serde_json::{Value, json};
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::store::{self, Board};
use crate::text::Text;
use crate::threads;

/// Role names as typed: comma- or newline-separated, Chinese commas too.
pub fn parse_roles(text: &str) -> Vec<String> {
    let mut roles: Vec<String> = text
        .split([',', '，', '、', '\n', ';', '；'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    roles.dedup();
    roles
}

fn board_form(t: Text, submit: Action, board: Option<&Board>) -> Form {
    let (name, description, roles, position) = match board {
        Some(b) => (b.name.clone(), b.description.clone(), b.roles.join(", "), b.position),
        None => (String::new(), String::new(), String::new(), 0),
    };
    Form::new(submit)
        .field(Field::text("name", t.pick("名称", "Name")).required().value(name))
        .field(Field::textarea("description", t.pick("说明", "Description")).value(description))
        .field(Field::text("roles", t.pick("可见角色", "Visible to roles")).value(roles).help(t.pick(
            "角色名称，用逗号分隔，例如 Administrator, Sales manager；留空则所有人可见。版主和管理员总能看到。",
            "Role names separated by commas, e.g. Administrator, Sales manager; empty: everyone. Moderators and administrators always see the board.",
        )))
        .field(Field::number("position", t.pick("排序（小的在前）", "Order (smaller first)")).value(position))
}

pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let boards = store::boards()?;
    if let Some(id) = request.param("id").and_then(|v| v.trim().parse::<Id>().ok()) {
        let Some(board) = boards.iter().find(|b| b.id == id) else { return Err(Error::not_found(t.no_such_board())) };
        let people = threads::names(board.fields.moderators.iter().copied())?;
        let mut moderators = Table::new().column("name", t.pick("版主", "Moderator"));
        for m in &board.fields.moderators {
            moderators = moderators.row(format!("{id}:{m}"), [threads::name_in(&people, *m)]);
        }
        return Ok(Page::new(board.fields.name.clone())
            .form(board_form(
                t,
                Action::primary("save-board", t.pick("保存", "Save")).argument(id.to_string()),
                Some(&board.fields),
            ))
            .heading(t.pick("版主", "Moderators"))
            .table(moderators.row_action(Action::danger("remove-moderator", t.pick("移除", "Remove"))))
            .form(
                Form::new(Action::new("add-moderator", t.pick("添加版主", "Add moderator")).argument(id.to_string()))
                    .field(Field::user("user", t.pick("用户", "User")).required()),
            )
            .actions([Action::new("back", t.pick("返回版块列表", "Back to the boards"))]));
    }
    let all_ids: Vec<Id> = boards.iter().flat_map(|b| b.fields.moderators.iter().copied()).collect();
    let people = threads::names(all_ids)?;
    let mut table = Table::new()
        .column("name", t.pick("名称", "Name"))
        .column("roles", t.pick("可见角色", "Visible to roles"))
        .column("moderators", t.pick("版主", "Moderators"))
        .column("position", t.pick("排序", "Order"));
    for b in &boards {
        let roles = if b.fields.roles.is_empty() { t.everyone() } else { b.fields.roles.join(", ") };
        let mods: Vec<String> = b.fields.moderators.iter().map(|m| threads::name_in(&people, *m)).collect();
        table =
            table.row(b.id.to_string(), [b.fields.name.clone(), roles, mods.join(", "), b.fields.position.to_string()]);
    }
    Ok(Page::new(t.pick("版块管理", "Boards"))
        .table(
            table
                .row_action(Action::new("edit-board", t.pick("编辑", "Edit")))
                .row_action(Action::danger("delete-board", t.pick("删除", "Delete"))),
        )
        .heading(t.pick("添加版块", "Add a board"))
        .form(board_form(t, Action::primary("add-board", t.pick("添加", "Add")), None)))
}

pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let arg_id = || argument.and_then(|a| a.trim().parse::<Id>().ok());
    match action {
        "back" => Ok(Outcome::redirect("/p/forum/boards")),
        "add-board" | "save-board" => {
            let name = store::text_of(input, "name");
            if name.is_empty() {
                return Ok(Outcome::error(t.board_name_required()));
            }
            let fields = json!({
                "name": name,
                "description": store::text_of(input, "description"),
                "roles": parse_roles(&store::text_of(input, "roles")),
                "position": store::id_of(input, "position").unwrap_or(0),
            });
            if action == "add-board" {
                let mut fields = fields;
                fields["moderators"] = json!([]);
                records::insert("board", &fields.to_string(), None)?;
            } else {
                let Some(id) = arg_id() else { return Ok(Outcome::error(t.no_such_board())) };
                records::update("board", id, &fields.to_string(), None)?;
            }
            Ok(Outcome::success(t.board_saved(&name)))
        }
        "edit-board" => Ok(Outcome::redirect(format!("/p/forum/boards?id={}", arg_id().unwrap_or_default()))),
        "delete-board" => {
            let Some(id) = arg_id() else { return Ok(Outcome::error(t.no_such_board())) };
            let (left, _) = records::find_typed::<Value>(&Query::new("thread").eq("board_id", id).limit(500))?;
            if !left.is_empty() {
                return Ok(Outcome::error(t.board_not_empty(left.len())));
            }
            store::delete_all(
                "subscription",
                &Query::new("subscription").eq("kind", "board").eq("board_id", id).limit(500),
            )?;
            records::delete("board", id)?;
            Ok(Outcome::success(t.board_deleted()))
        }
        "add-moderator" | "remove-moderator" => {
            let (board_id, user) = if action == "add-moderator" {
                (arg_id(), store::id_of(input, "user"))
            } else {
                let (b, u) = argument.unwrap_or_default().split_once(':').unwrap_or_default();
                (b.parse().ok(), u.parse().ok())
            };
            let (Some(board_id), Some(user)) = (board_id, user) else { return Ok(Outcome::error(t.no_such_board())) };
            let Some(board) = store::board(board_id)? else { return Ok(Outcome::error(t.no_such_board())) };
            let mut moderators = board.fields.moderators.clone();
            moderators.retain(|m| *m != user);
            if action == "add-moderator" {
                moderators.push(user);
            }
            records::update("board", board_id, &json!({ "moderators": moderators }).to_string(), None)?;
            Ok(Outcome::success(t.board_saved(&board.fields.name)))
        }
        _ => Err(Error::not_found(format!("no action {action:?} on boards"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_split_on_any_comma() {
        assert_eq!(parse_roles("Administrator， Sales manager、\n"), ["Administrator", "Sales manager"]);
        assert!(parse_roles("  ").is_empty());
    }
}
