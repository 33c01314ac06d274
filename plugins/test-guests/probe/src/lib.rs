//! The probe: the test guest the host's integration tests drive. It requests every capability
//! and exposes every host call over `handle-http`, so a test can grant or withhold each one
//! and check what the host answers; the host must run every call with the grants the admin
//! gave, narrowed to the signed-in user, and keep the plugin's records to the plugin.
//!
//! Routes (under `/api/plugins/probe`); all answer JSON. A host `error` answers with its
//! status (denied 403, not-found 404, invalid 422, conflict 409, limited 429, unavailable 503,
//! internal 500) and the body `{"error": "<variant>", "message": "…"}`; an unknown route 404.
//!
//! | route | host call | success |
//! |---|---|---|
//! | `GET /whoami` | — | 200 `{org_id, user_id, locale}` |
//! | `GET /customers/{id}` | `customers.get` | 200 customer |
//! | `GET /customers?text=&owner=&limit=&cursor=` | `customers.query` | 200 `{items: [{id, name, owner_id}], next}` |
//! | `GET /by-phone/{number}` | `customers.find-by-phone` | 200 `{customers: [ids], contacts: [ids]}` |
//! | `POST /customers` (body passed through) | `customers.create` | 200 customer |
//! | `PATCH /customers/{id}` (body passed through) | `customers.update` | 200 customer |
//! | `POST /customers/{id}/owner` `{owner_id, reason}` | `customers.set-owner` | 200 customer |
//! | `GET /customers/{id}/contacts` | `customers.contacts` | 200 `[contact]` |
//! | `POST /customers/{id}/contacts` (body passed through) | `customers.create-contact` | 200 contact |
//! | `POST /customers/{id}/activities` (body passed through) | `customers.add-activity` | 200 activity |
//! | `POST /records/{entity}` `{fields, customer_id?}` | `records.insert` | 200 record |
//! | `GET /records/{entity}/{id}` | `records.get` | 200 record |
//! | `PATCH /records/{entity}/{id}` `{fields, version?}` | `records.update` | 200 record |
//! | `DELETE /records/{entity}/{id}` | `records.delete` | 204 |
//! | `GET /records/{entity}?text=&status=&customer_id=&order_by=&desc=&limit=&cursor=` | `records.find` | 200 `{items: [record], next}` |
//! | `POST /publish` `{name, subject_kind, subject_id, payload}` | `events.publish` | 204 |
//! | `POST /workflow` `{definition, subject_kind, subject_id, title, fields, submitter}` | `workflow.start` | 200 approval |
//! | `GET /workflow/{id}` | `workflow.get` | 200 approval |
//! | `POST /notify` `{user_ids, title, body, link}` | `notify.push` | 200 `{delivered}` |
//! | `POST /fetch` `{method, url, headers: [[k, v]], body, timeout_ms?}` | `http-client.send` | 200 `{status, body, headers}` |
//! | `GET /settings` | `settings.all` | 200 the settings object |
//! | `PUT /settings/{key}` (body: the JSON value) | `settings.set` | 204 |
//! | `GET /log` | `log.write` once per level | 204 |
//!
//! A customer is `{id, code, name, owner_id, department_id, level, status, tags, phones,
//! last_followed_up_at, data}`, a record `{id, entity, fields, customer_id, owner_id,
//! created_at, updated_at, version}`, an approval `{id, definition, state, data}`, with `data`
//! and `fields` parsed.
//!
//! Events: every event is recorded once as a `seen` record `{event_id, topic}` (a conflict on
//! the unique `event_id` means a redelivery, which succeeds); an event whose payload has
//! `"fail": true` fails with `unavailable` before anything is recorded, so the host must
//! deliver it again. Job `tick` adds an `item` titled "tick". Render: page `items`, panel
//! `customer-items`, widget `summary`; actions `add` and `done`.

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_sdk::customers::{self, Activity, Contact, Customer, CustomerQuery};
use tessera_sdk::events::{self, Event};
use tessera_sdk::http::client;
use tessera_sdk::http::{Request, Response, Router};
use tessera_sdk::notify::{self, Message};
use tessera_sdk::records::{self, Query, Record};
use tessera_sdk::ui::{self, Action, Field, Form, Outcome, Page, RenderRequest, Stat, Table};
use tessera_sdk::workflow::{self, Approval};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, log, settings, to_json};

struct Probe;

impl Plugin for Probe {
    fn on_event(_caller: Caller, event: Event) -> Result<()> {
        let payload = event.payload_value().unwrap_or(Value::Null);
        if payload.get("fail") == Some(&Value::Bool(true)) {
            return Err(Error::unavailable(format!("event {} asked to fail", event.id)));
        }
        match records::insert_typed("seen", &json!({ "event_id": event.id, "topic": event.topic }), None) {
            Ok(_) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn run_job(_caller: Caller, name: String) -> Result<()> {
        match name.as_str() {
            "tick" => records::insert_typed("item", &json!({ "title": "tick" }), None).map(drop),
            _ => Err(Error::invalid(format!("no such job: {name:?}"))),
        }
    }

    fn handle_http(caller: Caller, request: Request) -> Response {
        route(&caller, &request)
    }

    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        match request.target.as_str() {
            "items" => {
                let mut query = Query::new("item").limit(20);
                if let Some(cursor) = request.cursor() {
                    query = query.cursor(cursor);
                }
                if let Some(status) = request.param("status") {
                    query = query.eq("status", status);
                }
                let page = records::find(&query)?;
                let add = Form::new(Action::primary("add", caller.localized("添加", "Add")))
                    .field(Field::text("title", caller.localized("标题", "Title")).required())
                    .field(Field::number("amount", caller.localized("金额", "Amount")));
                Ok(Page::new(caller.localized("条目", "Items"))
                    .table(items_table(&caller, &page.items)?.next(page.next))
                    .form(add))
            }
            "customer-items" => {
                let customer_id = request.require_customer()?;
                let page = records::find(&Query::new("item").customer(customer_id).limit(20))?;
                Ok(Page::new(caller.localized("条目", "Items"))
                    .table(items_table(&caller, &page.items)?.next(page.next)))
            }
            "summary" => {
                let count = records::find_all(&Query::new("item").limit(500))?.len();
                Ok(Page::new(caller.localized("条目概况", "Items summary"))
                    .stats([Stat::new(caller.localized("条目", "Items"), count)]))
            }
            other => Err(Error::not_found(format!("no page, panel or widget {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        match action.as_str() {
            "add" => {
                let input: NewItem = ui::input_as(&input)?;
                let title = input.title.trim();
                if title.is_empty() {
                    return Ok(Outcome::invalid([("title", "required")]));
                }
                let mut fields = json!({ "title": title, "status": "open" });
                if let Some(amount) = number(input.amount)? {
                    fields["amount"] = json!(amount);
                }
                records::insert_typed("item", &fields, input.customer_id)?;
                Ok(Outcome::success(caller.localized("已添加", "Added")))
            }
            "done" => {
                let id = argument
                    .as_deref()
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| Error::invalid(format!("done needs an item id, got {argument:?}")))?;
                records::update("item", id, r#"{"status":"done"}"#, None)?;
                Ok(Outcome::success(caller.localized("已完成", "Done")))
            }
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

#[derive(Deserialize)]
struct NewItem {
    #[serde(default)]
    title: String,
    /// A form sends numbers as text or as numbers.
    #[serde(default)]
    amount: Option<Value>,
    #[serde(default)]
    customer_id: Option<i64>,
}

fn number(value: Option<Value>) -> Result<Option<f64>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| Error::invalid(format!("amount: {s:?}"))),
        Some(other) => Err(Error::invalid(format!("amount: {other}"))),
    }
}

fn items_table(caller: &Caller, items: &[Record]) -> Result<Table> {
    let mut table = Table::new()
        .column("title", caller.localized("标题", "Title"))
        .column("amount", caller.localized("金额", "Amount"))
        .column("status", caller.localized("状态", "Status"))
        .row_action(Action::new("done", caller.localized("完成", "Done")));
    for item in items {
        let fields = item.fields_value()?;
        let cell = |name: &str| match &fields[name] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        table = table.row(item.id.to_string(), [cell("title"), cell("amount"), cell("status")]);
    }
    Ok(table)
}

#[derive(Deserialize)]
struct OwnerChange {
    owner_id: Option<i64>,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct NewRecord {
    fields: Value,
    #[serde(default)]
    customer_id: Option<i64>,
}

#[derive(Deserialize)]
struct RecordChange {
    fields: Value,
    #[serde(default)]
    version: Option<i64>,
}

#[derive(Deserialize)]
struct Publish {
    name: String,
    subject_kind: String,
    subject_id: i64,
    #[serde(default)]
    payload: Value,
}

#[derive(Deserialize)]
struct StartApproval {
    definition: String,
    subject_kind: String,
    subject_id: i64,
    title: String,
    #[serde(default)]
    fields: Value,
    #[serde(default)]
    submitter: Option<i64>,
}

#[derive(Deserialize)]
struct Push {
    user_ids: Vec<i64>,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    link: Option<String>,
}

#[derive(Deserialize)]
struct Fetch {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    timeout_ms: Option<u32>,
}

/// An absent JSON value in a body stands for an empty object.
fn object_or_empty(value: &Value) -> Result<String> {
    if value.is_null() { Ok("{}".into()) } else { to_json(value) }
}

fn route(caller: &Caller, request: &Request) -> Response {
    let ok = |value: Value| Ok(Response::json(200, &value));
    Router::new(request)
        .get("/whoami", |_| ok(json!({ "org_id": caller.org_id, "user_id": caller.user_id, "locale": caller.locale })))
        .get("/customers/{id}", |p| ok(customer_json(&customers::get(p.id("id")?)?)?))
        .get("/customers", |_| {
            let mut query = CustomerQuery::new();
            query.text = request.query_param("text").filter(|t| !t.is_empty());
            query.owner_id = request.query_parsed("owner")?;
            query.limit = request.query_parsed("limit")?;
            query.cursor = request.query_param("cursor").filter(|c| !c.is_empty());
            let page = customers::query(&query)?;
            let items: Vec<Value> =
                page.items.iter().map(|c| json!({ "id": c.id, "name": c.name, "owner_id": c.owner_id })).collect();
            ok(json!({ "items": items, "next": page.next }))
        })
        .get("/by-phone/{number}", |p| {
            let matches = customers::find_by_phone(&p.parse::<String>("number")?)?;
            let customers: Vec<i64> = matches.customers.iter().map(|c| c.id).collect();
            let contacts: Vec<i64> = matches.contacts.iter().map(|c| c.id).collect();
            ok(json!({ "customers": customers, "contacts": contacts }))
        })
        .post("/customers", |_| ok(customer_json(&customers::create(request.text()?)?)?))
        .patch("/customers/{id}", |p| ok(customer_json(&customers::update(p.id("id")?, request.text()?)?)?))
        .post("/customers/{id}/owner", |p| {
            let change: OwnerChange = request.json()?;
            ok(customer_json(&customers::set_owner(p.id("id")?, change.owner_id, &change.reason)?)?)
        })
        .get("/customers/{id}/contacts", |p| {
            let contacts = customers::contacts(p.id("id")?)?;
            ok(Value::Array(contacts.iter().map(contact_json).collect::<Result<_>>()?))
        })
        .post("/customers/{id}/contacts", |p| {
            ok(contact_json(&customers::create_contact(p.id("id")?, request.text()?)?)?)
        })
        .post("/customers/{id}/activities", |p| {
            ok(activity_json(&customers::add_activity(p.id("id")?, request.text()?)?)?)
        })
        .post("/records/{entity}", |p| {
            let new: NewRecord = request.json()?;
            let entity = p.parse::<String>("entity")?;
            ok(record_json(&records::insert(&entity, &to_json(&new.fields)?, new.customer_id)?)?)
        })
        .get("/records/{entity}/{id}", |p| ok(record_json(&records::get(&p.parse::<String>("entity")?, p.id("id")?)?)?))
        .patch("/records/{entity}/{id}", |p| {
            let change: RecordChange = request.json()?;
            let (entity, id) = (p.parse::<String>("entity")?, p.id("id")?);
            ok(record_json(&records::update(&entity, id, &to_json(&change.fields)?, change.version)?)?)
        })
        .delete("/records/{entity}/{id}", |p| {
            records::delete(&p.parse::<String>("entity")?, p.id("id")?)?;
            Ok(Response::empty(204))
        })
        .get("/records/{entity}", |p| {
            let mut query = Query::new(p.parse::<String>("entity")?);
            query.text = request.query_param("text").filter(|t| !t.is_empty());
            if let Some(status) = request.query_param("status").filter(|s| !s.is_empty()) {
                query = query.eq("status", status);
            }
            query.customer_id = request.query_parsed("customer_id")?;
            query.order_by = request.query_param("order_by").filter(|o| !o.is_empty());
            query.descending = matches!(request.query_param("desc").as_deref(), Some("true" | "1"));
            query.limit = request.query_parsed("limit")?;
            query.cursor = request.query_param("cursor").filter(|c| !c.is_empty());
            let page = records::find(&query)?;
            let items = page.items.iter().map(record_json).collect::<Result<Vec<_>>>()?;
            ok(json!({ "items": items, "next": page.next }))
        })
        .post("/publish", |_| {
            let event: Publish = request.json()?;
            events::publish(&event.name, &event.subject_kind, event.subject_id, &object_or_empty(&event.payload)?)?;
            Ok(Response::empty(204))
        })
        .post("/workflow", |_| {
            let start: StartApproval = request.json()?;
            let approval = workflow::start(
                &start.definition,
                &start.subject_kind,
                start.subject_id,
                &start.title,
                &object_or_empty(&start.fields)?,
                start.submitter,
            )?;
            ok(approval_json(&approval)?)
        })
        .get("/workflow/{id}", |p| ok(approval_json(&workflow::get(p.id("id")?)?)?))
        .post("/notify", |_| {
            let push: Push = request.json()?;
            let mut message = Message::new(push.title, push.body);
            message.link = push.link;
            ok(json!({ "delivered": notify::push(&push.user_ids, &message)? }))
        })
        .post("/fetch", |_| {
            let fetch: Fetch = request.json()?;
            let mut outbound = client::Request::new(fetch.method, fetch.url).body(fetch.body);
            outbound.headers = fetch.headers;
            outbound.timeout_ms = fetch.timeout_ms;
            let response = client::send(&outbound)?;
            ok(json!({ "status": response.status, "body": response.text(), "headers": response.headers }))
        })
        .get("/settings", |_| ok(settings::all_value()?))
        .put("/settings/{key}", |p| {
            settings::set(&p.parse::<String>("key")?, request.text()?)?;
            Ok(Response::empty(204))
        })
        .get("/log", |_| {
            log::trace("probe: trace");
            log::debug("probe: debug");
            log::info("probe: info");
            log::warn("probe: warn");
            log::error("probe: error");
            Ok(Response::empty(204))
        })
        .finish()
}

fn customer_json(c: &Customer) -> Result<Value> {
    let phones: Vec<Value> =
        c.phones.iter().map(|p| json!({ "kind": p.kind, "number": p.number, "canonical": p.canonical })).collect();
    Ok(json!({
        "id": c.id,
        "code": c.code,
        "name": c.name,
        "owner_id": c.owner_id,
        "department_id": c.department_id,
        "level": c.level,
        "status": c.status,
        "tags": c.tags,
        "phones": phones,
        "last_followed_up_at": c.last_followed_up_at,
        "data": c.data_value()?,
    }))
}

fn contact_json(c: &Contact) -> Result<Value> {
    Ok(json!({
        "id": c.id,
        "customer_id": c.customer_id,
        "name": c.name,
        "position": c.position,
        "phones": c.phones,
        "email": c.email,
        "data": c.data_value()?,
    }))
}

fn activity_json(a: &Activity) -> Result<Value> {
    Ok(json!({
        "id": a.id,
        "customer_id": a.customer_id,
        "kind": a.kind,
        "content": a.content,
        "data": a.data_value()?,
    }))
}

fn record_json(r: &Record) -> Result<Value> {
    Ok(json!({
        "id": r.id,
        "entity": r.entity,
        "fields": r.fields_value()?,
        "customer_id": r.customer_id,
        "owner_id": r.owner_id,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "version": r.version,
    }))
}

fn approval_json(a: &Approval) -> Result<Value> {
    Ok(json!({ "id": a.id, "definition": a.definition, "state": a.state, "data": a.data_value()? }))
}

tessera_sdk::export!(Probe);
