//! 知识库 / Knowledge base: categories with access control by role; articles with a version
//! history, a readable line diff between versions and restore; a standard Q&A library (标准题库)
//! that service staff search from the customer page and insert into a follow-up; product and
//! competitor information with key facts; attachments kept through the host's `files`
//! capability; search that finds any substring, Chinese included (the host indexes the
//! entities' `searchable` fields).
//!
//! - `store`: the records and small helpers; `access`: who reads and edits which category;
//!   `diff`: the line diff;
//! - `kb`: home, category, search and categories pages; `articles`: article, edit, history,
//!   version and diff pages and saving; `qa`: the Q&A library, the customer panel, the answer
//!   page and inserting into follow-ups; `attachments`: upload, download, delete; `api`: the
//!   JSON routes; `text`: every string in both languages.

mod access;
mod api;
mod articles;
mod attachments;
mod diff;
mod kb;
mod qa;
mod store;
mod text;

use serde_json::Value;
use tessera_sdk::http::{Request, Response};
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, from_json};

/// The plugin. The host starts it afresh for every call; what it keeps lives in its records,
/// files and settings.
struct KnowledgeBase;

impl Plugin for KnowledgeBase {
    fn handle_http(caller: Caller, request: Request) -> Response {
        api::handle(&caller, &request)
    }

    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        match request.target.as_str() {
            "kb" => kb::render_home(&caller),
            "category" => kb::render_category(&caller, &request),
            "search" => kb::render_search(&caller, &request),
            "categories" => kb::render_categories(&caller, &request),
            "article" => articles::render_article(&caller, &request),
            "edit" => articles::render_edit(&caller, &request),
            "history" => articles::render_history(&caller, &request),
            "version" => articles::render_version(&caller, &request),
            "diff" => articles::render_diff(&caller, &request),
            "qa" => qa::render_library(&caller, &request),
            "qa-entry" => qa::render_entry(&caller, &request),
            "answer" => qa::render_answer(&caller, &request),
            "customer-kb" => qa::render_panel(&caller, &request),
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        let input: Value = from_json("form input", &input)?;
        let argument = argument.as_deref().filter(|a| !a.is_empty());
        match action.as_str() {
            "search" if matches!(target.as_str(), "qa" | "customer-kb" | "answer") => {
                qa::act(&caller, &target, &action, argument, &input)
            }
            "open" | "edit" | "history" | "view-version" | "diff-previous" | "compare" | "save" | "restore"
            | "delete" => articles::act(&caller, &action, argument, &input),
            "upload" => attachments::upload_from_form(&caller, argument, &input),
            "delete-attachment" => articles::as_notice((|| {
                let id = articles::parse_id(argument)?;
                attachments::delete(&caller, id)?;
                Ok(Outcome::success(text::Text::of(&caller).deleted()))
            })()),
            "open-qa" | "open-article" | "insert" | "add-qa" | "save-qa" | "delete-qa" => {
                qa::act(&caller, &target, &action, argument, &input)
            }
            _ => kb::act(&caller, &action, argument, &input),
        }
    }
}

tessera_sdk::export!(KnowledgeBase);
