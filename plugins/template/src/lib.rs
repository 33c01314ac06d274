//! Hello CRM, the template plugin: notes on customers. Copy this crate to start a plugin; it
//! shows each thing a plugin can do once, in the order a newcomer meets them:
//!
//! - an entity, `note`, declared in `plugin.toml` and stored by the host;
//! - a page listing notes with a form to add one (`render` and `act`);
//! - a panel on the customer detail page with that customer's notes;
//! - a JSON route, `GET /api/plugins/hello-crm/notes` (`handle_http`);
//! - an event handler for `customer.created` that gives every new customer a first note
//!   (`on_event`);
//! - a daily job, `daily-summary` (`run_job`);
//! - a setting, `greeting`, read when rendering.

use serde::{Deserialize, Serialize};
use tessera_sdk::events::Event;
use tessera_sdk::http::{Request, Response, Router};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, customers, log, settings};

/// The fields of a `note` record, as `plugin.toml` declares them. The host checks them on
/// every write; serde turns them into the JSON object the API carries.
#[derive(Debug, Serialize, Deserialize)]
struct Note {
    title: String,
    #[serde(default)]
    body: String,
}

/// What the form on the notes page submits.
#[derive(Deserialize)]
struct NewNote {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    /// Notes added from a customer panel belong to that customer.
    #[serde(default)]
    customer_id: Option<i64>,
}

/// The plugin. It has no fields: the host starts it afresh for every call, so anything it
/// must remember goes into records or settings.
struct HelloCrm;

impl Plugin for HelloCrm {
    /// Called for every `customer.created` event (see `events` in plugin.toml): the new
    /// customer gets a first note, so its timeline and its panel start with the day it arrived.
    fn on_event(caller: Caller, event: Event) -> Result<()> {
        let customer_id = event.subject_id;
        // Events come at least once, so a handler must be harmless to repeat: when the note is
        // there already, this delivery is a repeat and adds nothing.
        let title = caller.localized("新客户", "New customer");
        let existing = records::find(&Query::new("note").customer(customer_id).eq("title", title).limit(1))?;
        if !existing.items.is_empty() {
            return Ok(());
        }
        // Reading the customer needs `customers:read`. If the admin did not grant it, the call
        // fails with `denied`; the note is still written, without the name, rather than failing
        // the event, which would only make the host deliver it again and again.
        let body = match customers::get(customer_id) {
            Ok(customer) => format!("{} ({})", customer.name, customer.code),
            Err(e) => {
                log::warn(format!("new customer #{customer_id}, not readable: {e}"));
                String::new()
            }
        };
        // An error here (the database did not answer) fails the event, and the host delivers
        // it again later.
        records::insert_typed("note", &Note { title: title.to_owned(), body }, Some(customer_id))?;
        Ok(())
    }

    /// Called on the schedule of each `[[jobs]]` entry. Jobs run without a signed-in user.
    fn run_job(_caller: Caller, name: String) -> Result<()> {
        match name.as_str() {
            "daily-summary" => {
                let count = records::find_all(&Query::new("note").limit(500))?.len();
                log::info(format!("daily summary: {count} notes"));
                Ok(())
            }
            // The SDK's default answer for a job the plugin does not know.
            _ => Err(Error::invalid(format!("no such job: {name:?}"))),
        }
    }

    /// Requests to `/api/plugins/hello-crm/…`, from signed-in users. The router answers
    /// paths it does not know with a JSON 404, and errors with their HTTP status.
    fn handle_http(_caller: Caller, request: Request) -> Response {
        Router::new(&request)
            .get("/notes", |_| {
                let text = request.query_param("text");
                let mut query = Query::new("note").limit(50);
                if let Some(text) = text {
                    query = query.text(text);
                }
                let (notes, next) = records::find_typed::<Note>(&query)?;
                let items: Vec<_> = notes.iter().map(note_json).collect();
                Ok(Response::json(200, &serde_json::json!({ "items": items, "next": next })))
            })
            .finish()
    }

    /// Draws the notes page and the customer panel as blocks; the host turns them into HTML
    /// with its own templates.
    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        match request.target.as_str() {
            "notes" => {
                // A setting with a default in plugin.toml always has a value.
                let greeting: String = settings::get_typed("greeting")?.unwrap_or_default();
                let mut query = Query::new("note").limit(20);
                if let Some(cursor) = request.cursor() {
                    query = query.cursor(cursor);
                }
                let (notes, next) = records::find_typed::<Note>(&query)?;
                Ok(Page::new(caller.localized("笔记", "Notes"))
                    .text(greeting)
                    .table(notes_table(&caller, &notes).next(next))
                    .form(note_form(&caller, None)))
            }
            "customer-notes" => {
                let customer_id = request.require_customer()?;
                let (notes, next) = records::find_typed::<Note>(&Query::new("note").customer(customer_id).limit(20))?;
                Ok(Page::new(caller.localized("笔记", "Notes"))
                    .table(notes_table(&caller, &notes).next(next))
                    .form(note_form(&caller, Some(customer_id))))
            }
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    /// Called when a user submits a form or presses an action of a page.
    fn act(caller: Caller, target: String, action: String, _argument: Option<String>, input: Json) -> Result<Outcome> {
        match action.as_str() {
            "add" => {
                let new: NewNote = tessera_sdk::ui::input_as(&input)?;
                // Check what a person typed and answer by field; the host shows the form again.
                if new.title.trim().is_empty() {
                    return Ok(Outcome::invalid([("title", caller.localized("请填写标题", "Give the note a title"))]));
                }
                let note = Note { title: new.title.trim().to_owned(), body: new.body };
                records::insert_typed("note", &note, new.customer_id)?;
                Ok(Outcome::success(caller.localized("已添加笔记", "Note added")))
            }
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

fn note_json(note: &Typed<Note>) -> serde_json::Value {
    serde_json::json!({
        "id": note.id,
        "title": note.fields.title,
        "body": note.fields.body,
        "customer_id": note.customer_id,
    })
}

fn notes_table(caller: &Caller, notes: &[Typed<Note>]) -> Table {
    let table = Table::new()
        .column("title", caller.localized("标题", "Title"))
        .column("body", caller.localized("内容", "Body"));
    notes.iter().fold(table, |table, note| {
        table.row(note.id.to_string(), [note.fields.title.as_str(), note.fields.body.as_str()])
    })
}

fn note_form(caller: &Caller, customer_id: Option<i64>) -> Form {
    let mut form = Form::new(Action::primary("add", caller.localized("添加", "Add")))
        .field(Field::text("title", caller.localized("标题", "Title")).required())
        .field(Field::textarea("body", caller.localized("内容", "Body")));
    // A panel's form remembers its customer in a field the user does not need to touch.
    if let Some(id) = customer_id {
        form = form.field(Field::customer("customer_id", caller.localized("客户", "Customer")).value(id));
    }
    form
}

// Registers `HelloCrm` as the component's exports. Exactly one per plugin.
tessera_sdk::export!(HelloCrm);
