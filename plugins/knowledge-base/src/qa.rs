//! The standard Q&A library (标准题库): entries with a question, a standard answer and keywords;
//! the library page, an entry's page, the customer panel and the answer page that service staff
//! search while answering a customer, and inserting an answer into the customer's follow-ups.

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed, or_default};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result, customers, time};

use crate::access::Access;
use crate::articles::{self, as_notice, parse_id};
use crate::store::{self, ARTICLE, Article, MAX_BODY, MAX_TITLE, QA, Qa};
use crate::text::Text;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct QaDraft {
    #[serde(default)]
    pub category_id: Option<Value>,
    #[serde(default, deserialize_with = "or_default")]
    pub question: String,
    #[serde(default, deserialize_with = "or_default")]
    pub answer: String,
    #[serde(default, deserialize_with = "or_default")]
    pub keywords: String,
}

fn number(v: &Option<Value>) -> Option<Id> {
    match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

fn check(t: Text, d: &QaDraft) -> Result<()> {
    if d.question.trim().is_empty() {
        return Err(Error::invalid(t.question_required()));
    }
    if d.answer.trim().is_empty() {
        return Err(Error::invalid(t.answer_required()));
    }
    if d.question.chars().count() > MAX_TITLE * 5 {
        return Err(Error::invalid(t.too_long(&t.pick("问题", "question"), MAX_TITLE * 5)));
    }
    if d.answer.chars().count() > MAX_BODY {
        return Err(Error::invalid(t.too_long(&t.pick("标准答案", "answer"), MAX_BODY)));
    }
    Ok(())
}

pub fn create(caller: &Caller, access: &Access, d: QaDraft) -> Result<Id> {
    let t = Text::of(caller);
    let category_id = number(&d.category_id).ok_or_else(|| Error::invalid(t.category_required()))?;
    let category = access.require_edit(t, category_id)?;
    if !category.fields.is_qa() {
        return Err(Error::invalid(t.wrong_kind()));
    }
    check(t, &d)?;
    let qa = Qa {
        category_id,
        question: d.question.trim().to_owned(),
        answer: d.answer,
        keywords: store::parse_roles(&d.keywords).join(", "),
        updated_by: caller.user_id,
        edited_at: Some(time::now_ms()),
    };
    Ok(records::insert_typed(QA, &qa, None)?.id)
}

pub fn readable(access: &Access, t: Text, id: Id) -> Result<Typed<Qa>> {
    let qa = records::get_typed::<Qa>(QA, id).map_err(|_| Error::not_found(t.not_found()))?;
    access.require_read(t, qa.fields.category_id)?;
    Ok(qa)
}

fn update(caller: &Caller, access: &Access, id: Id, d: QaDraft, expected: i64) -> Result<()> {
    let t = Text::of(caller);
    let qa = readable(access, t, id)?;
    access.require_edit(t, qa.fields.category_id)?;
    check(t, &d)?;
    let patch = json!({
        "question": d.question.trim(), "answer": d.answer, "keywords": store::parse_roles(&d.keywords).join(", "),
        "updated_by": caller.user_id, "edited_at": time::now_ms(),
    });
    records::update_typed(QA, id, &patch, Some(expected)).map_err(|e| match e {
        Error::Conflict(_) => Error::conflict(t.conflict()),
        other => other,
    })?;
    Ok(())
}

/// Standard answers of readable categories, newest first, matching `q` when given.
pub fn find_readable(
    access: &Access,
    q: &str,
    cursor: Option<&str>,
    want: usize,
) -> Result<(Vec<Typed<Qa>>, Option<String>)> {
    let mut query = Query::new(QA).limit(want.clamp(1, 100) as u32);
    if !q.trim().is_empty() {
        query = query.text(q.trim());
    }
    if let Some(c) = cursor {
        query = query.cursor(c);
    }
    let mut found = Vec::new();
    let mut after = None;
    for _ in 0..8 {
        let (page, next) = records::find_typed::<Qa>(&query)?;
        found.extend(page.into_iter().filter(|a| access.can_read(a.fields.category_id)));
        after = next.clone();
        match next {
            Some(next) if found.len() < want => query = query.cursor(next),
            _ => break,
        }
    }
    Ok((found, after))
}

pub fn to_json(access: &Access, q: &Typed<Qa>) -> Value {
    json!({
        "id": q.id,
        "category_id": q.fields.category_id,
        "category": access.path(q.fields.category_id),
        "question": q.fields.question,
        "answer": q.fields.answer,
        "keywords": q.fields.keywords,
        "record_version": q.version,
    })
}

fn search_form(t: Text, q: &str, customer_id: Option<Id>) -> Form {
    let mut form = Form::new(Action::primary("search", t.pick("搜索", "Search")))
        .field(Field::text("q", t.pick("关键词", "Words")).value(q.to_owned()));
    if let Some(c) = customer_id {
        form = form.field(Field::customer("customer_id", t.pick("客户", "Customer")).value(c));
    }
    form
}

fn qa_table(t: Text, access: &Access, entries: &[Typed<Qa>], q: &str) -> Table {
    let mut table = Table::new()
        .column("question", t.pick("问题", "Question"))
        .column("answer", t.pick("标准答案", "Standard answer"))
        .column("category", t.pick("分类", "Category"));
    for e in entries {
        table = table.row(
            e.id.to_string(),
            [
                e.fields.question.clone(),
                store::excerpt_around(&e.fields.answer, q, 80),
                access.path(e.fields.category_id),
            ],
        );
    }
    table
}

/// The library page: search, the entries, and the form for a new one.
pub fn render_library(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let q = request.param("q").unwrap_or_default().trim().to_owned();
    let (entries, next) = find_readable(&access, &q, request.cursor(), 20)?;
    let mut page = Page::new(t.pick("标准题库", "Q&A library")).form(search_form(t, &q, None));
    if !q.is_empty() && entries.is_empty() {
        page = page.notice("info", t.no_results(&q));
    }
    page = page.table(
        qa_table(t, &access, &entries, &q).row_action(Action::new("open-qa", t.pick("查看", "Open"))).next(next),
    );
    let editable = access.editable(&["qa"]);
    if !editable.is_empty() {
        let options: Vec<(String, String)> = editable.iter().map(|c| (c.id.to_string(), access.path(c.id))).collect();
        page = page.heading(t.pick("新增标准问答", "New standard answer")).form(
            Form::new(Action::primary("add-qa", t.pick("添加", "Add")))
                .field(Field::select("category_id", t.pick("分类", "Category"), options).required())
                .field(Field::text("question", t.pick("问题", "Question")).required())
                .field(
                    Field::textarea("answer", t.pick("标准答案（Markdown）", "Standard answer (Markdown)")).required(),
                )
                .field(
                    Field::text("keywords", t.pick("关键词", "Keywords"))
                        .help(t.pick("用逗号分隔。", "Separated by commas.")),
                ),
        );
    }
    Ok(page)
}

pub fn render_entry(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = articles::id_param(request, "id")?;
    let e = readable(&access, t, id)?;
    let names = store::names([e.fields.updated_by]);
    let mut page = Page::new(e.fields.question.clone())
        .key_values([
            (t.pick("分类", "Category"), access.path(e.fields.category_id)),
            (t.pick("关键词", "Keywords"), e.fields.keywords.clone()),
            (t.pick("更新人", "Updated by"), store::name_of(&names, e.fields.updated_by)),
            (t.pick("更新时间", "Updated"), store::when(e.fields.edited_at)),
        ])
        .heading(t.pick("标准答案", "Standard answer"))
        .text(e.fields.answer.clone());
    if access.can_edit(e.fields.category_id) {
        page = page
            .heading(t.pick("修改", "Change"))
            .form(
                Form::new(Action::primary("save-qa", t.pick("保存", "Save")).argument(format!("{id}:{}", e.version)))
                    .field(
                        Field::text("question", t.pick("问题", "Question")).required().value(e.fields.question.clone()),
                    )
                    .field(
                        Field::textarea("answer", t.pick("标准答案（Markdown）", "Standard answer (Markdown)"))
                            .required()
                            .value(e.fields.answer.clone()),
                    )
                    .field(Field::text("keywords", t.pick("关键词", "Keywords")).value(e.fields.keywords.clone())),
            )
            .actions([Action::danger("delete-qa", t.pick("删除", "Delete")).argument(id.to_string())]);
    }
    Ok(page)
}

/// The customer panel: a search box that opens the answer page for this customer, and the
/// newest standard answers, each insertable into the customer's follow-ups at once.
pub fn render_panel(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let customer_id = request.require_customer()?;
    let access = Access::load()?;
    let (entries, _) = find_readable(&access, "", None, 5)?;
    let mut table = Table::new().column("question", t.pick("常用问答", "Standard answers"));
    for e in &entries {
        table = table.row(format!("{customer_id}:qa:{}", e.id), [e.fields.question.clone()]);
    }
    Ok(Page::new(t.pick("知识库", "Knowledge base"))
        .form(search_form(t, "", Some(customer_id)))
        .table(table.row_action(Action::primary("insert", t.pick("插入跟进", "Insert into follow-up")))))
}

/// The answer page (`?customer_id=&q=`): standard answers and articles matching the words, each
/// insertable into the customer's follow-ups.
pub fn render_answer(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let customer_id = articles::id_param(request, "customer_id").map_err(|_| Error::invalid(t.customer_required()))?;
    let customer = customers::get(customer_id)?;
    let access = Access::load()?;
    let q = request.param("q").unwrap_or_default().trim().to_owned();
    let (entries, _) = find_readable(&access, &q, None, 20)?;
    let mut query = Query::new(ARTICLE);
    if !q.is_empty() {
        query = query.text(&q);
    }
    let (found, _) = articles::find_readable(&access, query, 10)?;
    let mut page = Page::new(format!("{} · {}", t.pick("查找标准答案", "Find a standard answer"), customer.name))
        .text(format!(
            "{} [{}](/customers/{customer_id})",
            t.pick("客户：", "Customer:"),
            store::markdown_literal(&customer.name)
        ))
        .form(search_form(t, &q, Some(customer_id)));
    if !q.is_empty() && entries.is_empty() && found.is_empty() {
        page = page.notice("info", t.no_results(&q));
    }
    let mut rows = qa_table(t, &access, &entries, &q);
    rows.row_ids = entries.iter().map(|e| format!("{customer_id}:qa:{}", e.id)).collect();
    page = page
        .heading(t.pick("标准问答", "Standard answers"))
        .table(rows.row_action(Action::primary("insert", t.pick("插入跟进", "Insert into follow-up"))));
    let mut table = Table::new()
        .column("title", t.pick("文章", "Article"))
        .column("excerpt", t.pick("摘要", "Excerpt"))
        .column("category", t.pick("分类", "Category"));
    for a in &found {
        table = table.row(
            format!("{customer_id}:article:{}", a.id),
            [a.fields.title.clone(), store::excerpt_around(&a.fields.body, &q, 80), access.path(a.fields.category_id)],
        );
    }
    Ok(page.heading(t.pick("知识文章", "Articles")).table(
        table
            .row_action(Action::primary("insert", t.pick("插入跟进", "Insert into follow-up")))
            .row_action(Action::new("open-article", t.pick("查看", "Open"))),
    ))
}

/// Adds a standard answer or an article to a customer's follow-ups, as a note; answers the
/// customer's name.
pub fn insert(caller: &Caller, customer_id: Id, what: &str, id: Id) -> Result<String> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let (subject, body) = match what {
        "qa" => {
            let e = readable(&access, t, id)?;
            (e.fields.question, e.fields.answer)
        }
        "article" => {
            let a = articles::readable(&access, t, id)?;
            (a.fields.title, a.fields.body)
        }
        _ => return Err(Error::invalid("expected `qa` or `article`")),
    };
    let customer = customers::get(customer_id)?;
    let content = format!("{}{subject}\n\n{}", t.follow_up_prefix(), store::plain_text(&body));
    customers::add_activity(
        customer_id,
        &json!({ "kind": "note", "subject": store::excerpt(&subject, 100), "content": content }).to_string(),
    )?;
    Ok(customer.name)
}

fn parse_insert(argument: Option<&str>) -> Result<(Id, String, Id)> {
    let parts: Vec<&str> = argument.unwrap_or_default().split(':').collect();
    match parts.as_slice() {
        [c, what, id] => match (c.parse(), id.parse()) {
            (Ok(c), Ok(id)) => Ok((c, (*what).to_owned(), id)),
            _ => Err(Error::invalid("expected `<customer>:<qa|article>:<id>`")),
        },
        _ => Err(Error::invalid("expected `<customer>:<qa|article>:<id>`")),
    }
}

/// Actions of the library, entry, panel and answer pages.
pub fn act(caller: &Caller, target: &str, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    as_notice((|| match action {
        "search" => {
            let q = input.get("q").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
            let customer = input.get("customer_id").and_then(Value::as_i64);
            match (target, customer) {
                (_, Some(c)) => {
                    Ok(Outcome::redirect(format!("/p/knowledge-base/answer?customer_id={c}&q={}", store::encode(&q))))
                }
                _ => Ok(Outcome::redirect(format!("/p/knowledge-base/qa?q={}", store::encode(&q)))),
            }
        }
        "open-qa" => Ok(Outcome::redirect(articles::link("qa-entry", parse_id(argument)?))),
        "open-article" => {
            let (_, _, id) = parse_insert(argument)?;
            Ok(Outcome::redirect(articles::link("article", id)))
        }
        "insert" => {
            let (customer_id, what, id) = parse_insert(argument)?;
            let name = insert(caller, customer_id, &what, id)?;
            Ok(Outcome::success(t.inserted(&name)))
        }
        "add-qa" => {
            let access = Access::load()?;
            let d: QaDraft = serde_json::from_value(input.clone())?;
            let id = create(caller, &access, d)?;
            Ok(Outcome::redirect(articles::link("qa-entry", id)))
        }
        "save-qa" => {
            let access = Access::load()?;
            let (id, expected) = argument
                .and_then(|a| a.split_once(':'))
                .and_then(|(a, b)| Some((a.parse::<Id>().ok()?, b.parse::<i64>().ok()?)))
                .ok_or_else(|| Error::invalid("expected `<id>:<version>`"))?;
            let d: QaDraft = serde_json::from_value(input.clone())?;
            update(caller, &access, id, d, expected)?;
            Ok(Outcome::success(t.saved()))
        }
        "delete-qa" => {
            let access = Access::load()?;
            let id = parse_id(argument)?;
            let e = readable(&access, t, id)?;
            access.require_edit(t, e.fields.category_id)?;
            records::delete(QA, id)?;
            Ok(Outcome::redirect("/p/knowledge-base/qa"))
        }
        _ => Err(Error::not_found(format!("no action {action:?}"))),
    })())
}

/// Reads articles' JSON for the API's answer to a search.
pub fn article_hits(access: &Access, found: &[Typed<Article>], q: &str) -> Vec<Value> {
    found
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "title": a.fields.title, "category_id": a.fields.category_id,
                "category": access.path(a.fields.category_id), "excerpt": store::excerpt_around(&a.fields.body, q, 80),
                "version": a.fields.current_version,
            })
        })
        .collect()
}

pub fn create_from_api(caller: &Caller, body: Value) -> Result<Value> {
    let access = Access::load()?;
    let d: QaDraft = serde_json::from_value(body)?;
    let id = create(caller, &access, d)?;
    Ok(to_json(&access, &readable(&access, Text::of(caller), id)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_arguments_name_the_customer_the_kind_and_the_record() {
        assert_eq!(parse_insert(Some("42:qa:7")).ok(), Some((42, "qa".to_owned(), 7)));
        assert!(parse_insert(Some("42:qa")).is_err());
        assert!(parse_insert(None).is_err());
    }
}
