//! The JSON routes under `/api/plugins/knowledge-base/…` for signed-in users (API clients,
//! integrations, the browser test's setup), with the same access rules as the pages, and the
//! attachment download the article page links to.
//!
//! | route | does |
//! |---|---|
//! | `GET /categories`, `POST /categories` | readable categories; a new one (administrators) |
//! | `GET /search?q=&cursor=` | articles and standard answers of readable categories |
//! | `POST /articles`, `GET|PUT|DELETE /articles/{id}` | create, read, save as a new version, delete |
//! | `GET /articles/{id}/versions`, `GET /articles/{id}/diff?from=&to=`, `POST /articles/{id}/restore?version=` | history |
//! | `GET|POST /articles/{id}/attachments` (`?name=`, raw body) | list, upload |
//! | `GET /files/{file_id}`, `DELETE /attachments/{id}` | download, delete |
//! | `GET /qa?q=`, `POST /qa` | the Q&A library |
//! | `POST /customers/{id}/follow-ups` (`{"qa_id"}` or `{"article_id"}`) | insert into a follow-up |

use serde_json::{Value, json};
use tessera_sdk::http::{Request, Response, Router};
use tessera_sdk::records::Query;
use tessera_sdk::{Caller, Error, Id, Result};

use crate::access::Access;
use crate::articles::{self, Draft};
use crate::attachments;
use crate::kb::{self, CategoryInput};
use crate::qa;
use crate::store::{self, ARTICLE};
use crate::text::Text;

fn id_in(body: &Value, key: &str) -> Option<Id> {
    match body.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn article_response(caller: &Caller, id: Id, status: u16) -> Result<Response> {
    let access = Access::load()?;
    let a = articles::readable(&access, Text::of(caller), id)?;
    let mut body = articles::to_json(&access, &a);
    body["attachments"] = store::attachments(id)?.iter().map(attachments::to_json).collect();
    Ok(Response::json(status, &body))
}

pub fn handle(caller: &Caller, request: &Request) -> Response {
    let t = Text::of(caller);
    if request.is_hook() || request.is_driver() {
        return Response::error(&Error::not_found("the knowledge base serves signed-in users only"));
    }
    Router::new(request)
        .get("/categories", |_| {
            let access = Access::load()?;
            let list: Vec<Value> = access.readable(&[]).into_iter().map(|c| kb::category_json(&access, c)).collect();
            Ok(Response::json(200, &list))
        })
        .post("/categories", |_| {
            let access = Access::load()?;
            let input: CategoryInput = request.json()?;
            let id = kb::save_category(caller, &access, None, input)?;
            let access = Access::load()?;
            let c = access.category(id).ok_or_else(|| Error::internal("the category just saved is gone"))?;
            Ok(Response::json(201, &kb::category_json(&access, c)))
        })
        .get("/search", |_| {
            let access = Access::load()?;
            let q = request.query_param("q").unwrap_or_default();
            let mut query = Query::new(ARTICLE);
            if !q.trim().is_empty() {
                query = query.text(q.trim());
            }
            if let Some(c) = request.query_param("cursor") {
                query = query.cursor(c);
            }
            let limit = request.query_parsed::<usize>("limit")?.unwrap_or(20).clamp(1, 100);
            let (found, next) = articles::find_readable(&access, query, limit)?;
            let (entries, _) = qa::find_readable(&access, &q, None, limit)?;
            Ok(Response::json(
                200,
                &json!({
                    "articles": qa::article_hits(&access, &found, &q),
                    "qa": entries.iter().map(|e| qa::to_json(&access, e)).collect::<Vec<_>>(),
                    "next": next,
                }),
            ))
        })
        .post("/articles", |_| {
            let access = Access::load()?;
            let body: Value = request.json()?;
            let category = id_in(&body, "category_id").ok_or_else(|| Error::invalid(t.category_required()))?;
            let draft: Draft = serde_json::from_value(body)?;
            let id = articles::create(caller, &access, category, draft)?;
            article_response(caller, id, 201)
        })
        .get("/articles/{id}", |p| article_response(caller, p.id("id")?, 200))
        .put("/articles/{id}", |p| {
            let access = Access::load()?;
            let id = p.id("id")?;
            let body: Value = request.json()?;
            let expected = body.get("record_version").and_then(Value::as_i64);
            let draft: Draft = serde_json::from_value(body)?;
            articles::save(caller, &access, id, draft, expected)?;
            article_response(caller, id, 200)
        })
        .delete("/articles/{id}", |p| {
            let access = Access::load()?;
            articles::delete(caller, &access, p.id("id")?)?;
            Ok(Response::empty(204))
        })
        .get("/articles/{id}/versions", |p| {
            let access = Access::load()?;
            let id = p.id("id")?;
            articles::readable(&access, t, id)?;
            let list: Vec<Value> = store::versions(id)?
                .into_iter()
                .map(|v| {
                    let v = v.fields;
                    json!({"version": v.version, "title": v.title, "body": v.body, "tags": v.tags, "facts": v.facts,
                           "editor": v.editor, "at": v.at, "note": v.note})
                })
                .collect();
            Ok(Response::json(200, &list))
        })
        .get("/articles/{id}/diff", |p| {
            let access = Access::load()?;
            let id = p.id("id")?;
            articles::readable(&access, t, id)?;
            let from = request.query_parsed::<i64>("from")?.ok_or_else(|| Error::invalid("give `from`"))?;
            let to = request.query_parsed::<i64>("to")?.ok_or_else(|| Error::invalid("give `to`"))?;
            Ok(Response::json(200, &articles::diff_json(t, id, from, to)?))
        })
        .post("/articles/{id}/restore", |p| {
            let access = Access::load()?;
            let id = p.id("id")?;
            let from = request.query_parsed::<i64>("version")?.ok_or_else(|| Error::invalid("give `version`"))?;
            articles::restore(caller, &access, id, from)?;
            article_response(caller, id, 200)
        })
        .get("/articles/{id}/attachments", |p| {
            let access = Access::load()?;
            let id = p.id("id")?;
            articles::readable(&access, t, id)?;
            let list: Vec<Value> = store::attachments(id)?.iter().map(attachments::to_json).collect();
            Ok(Response::json(200, &list))
        })
        .post("/articles/{id}/attachments", |p| match attachments::upload_from_api(caller, request, p.id("id")?) {
            Err(e @ Error::Limited(_)) => Ok(attachments::too_large(&e)),
            other => other,
        })
        .get("/files/{id}", |p| attachments::download(caller, p.id("id")?))
        .delete("/attachments/{id}", |p| {
            attachments::delete(caller, p.id("id")?)?;
            Ok(Response::empty(204))
        })
        .get("/qa", |_| {
            let access = Access::load()?;
            let q = request.query_param("q").unwrap_or_default();
            let (entries, next) = qa::find_readable(&access, &q, request.query_param("cursor").as_deref(), 20)?;
            let items: Vec<Value> = entries.iter().map(|e| qa::to_json(&access, e)).collect();
            Ok(Response::json(200, &json!({"items": items, "next": next})))
        })
        .post("/qa", |_| Ok(Response::json(201, &qa::create_from_api(caller, request.json()?)?)))
        .post("/customers/{id}/follow-ups", |p| {
            let body: Value = request.json()?;
            let (what, id) = match (id_in(&body, "qa_id"), id_in(&body, "article_id")) {
                (Some(id), _) => ("qa", id),
                (None, Some(id)) => ("article", id),
                _ => return Err(Error::invalid("give `qa_id` or `article_id`")),
            };
            let name = qa::insert(caller, p.id("id")?, what, id)?;
            Ok(Response::json(201, &json!({"customer": name, "message": t.inserted(&name)})))
        })
        .finish()
}
