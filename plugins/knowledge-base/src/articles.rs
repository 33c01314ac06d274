//! Articles and their versions: creating, saving (every save writes an immutable version),
//! restoring an old version as a new one, and the pages that show an article, edit it, list its
//! history, show an old version and compare two versions.

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed, or_default};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Stat, Table};
use tessera_sdk::{Caller, Error, Id, Result, files, time};

use crate::access::Access;
use crate::diff::{self, Op, Shown};
use crate::store::{self, ARTICLE, Article, MAX_BODY, MAX_TITLE, VERSION, Version};
use crate::text::Text;

/// What a user writes when creating or saving an article.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Draft {
    #[serde(default, deserialize_with = "or_default")]
    pub title: String,
    #[serde(default, deserialize_with = "or_default")]
    pub body: String,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: String,
    #[serde(default, deserialize_with = "or_default")]
    pub facts: String,
    #[serde(default, deserialize_with = "or_default")]
    pub note: String,
}

impl Draft {
    fn check(mut self, t: Text) -> Result<Draft> {
        self.title = self.title.trim().to_owned();
        self.tags = store::parse_roles(&self.tags).join(", ");
        if self.title.is_empty() {
            return Err(Error::invalid(t.title_required()));
        }
        if self.title.chars().count() > MAX_TITLE {
            return Err(Error::invalid(t.too_long(&t.pick("标题", "title"), MAX_TITLE)));
        }
        if self.body.chars().count() > MAX_BODY || self.facts.chars().count() > MAX_BODY {
            return Err(Error::invalid(t.too_long(&t.pick("正文", "body"), MAX_BODY)));
        }
        Ok(self)
    }
}

fn version_of(article_id: Id, n: i64, d: &Draft, caller: &Caller, now: i64) -> Version {
    Version {
        article_id,
        version: n,
        title: d.title.clone(),
        body: d.body.clone(),
        tags: d.tags.clone(),
        facts: d.facts.clone(),
        editor: caller.user_id,
        at: now,
        note: d.note.trim().to_owned(),
    }
}

/// Creates an article in a category the user may edit, as its version 1.
pub fn create(caller: &Caller, access: &Access, category_id: Id, draft: Draft) -> Result<Id> {
    let t = Text::of(caller);
    let category = access.require_edit(t, category_id)?;
    if category.fields.is_qa() {
        return Err(Error::invalid(t.wrong_kind()));
    }
    let d = draft.check(t)?;
    let now = time::now_ms();
    let article = Article {
        category_id,
        title: d.title.clone(),
        body: d.body.clone(),
        tags: d.tags.clone(),
        facts: d.facts.clone(),
        current_version: 1,
        updated_by: caller.user_id,
        edited_at: Some(now),
    };
    let record = records::insert_typed(ARTICLE, &article, None)?;
    records::insert_typed(VERSION, &version_of(record.id, 1, &d, caller, now), None)?;
    Ok(record.id)
}

/// An article the user may read.
pub fn readable(access: &Access, t: Text, id: Id) -> Result<Typed<Article>> {
    let article = records::get_typed::<Article>(ARTICLE, id).map_err(|_| Error::not_found(t.not_found()))?;
    access.require_read(t, article.fields.category_id)?;
    Ok(article)
}

/// Saves a new version of an article the user may edit. `expected` is the record version the
/// user edited: someone else's save in between is a conflict rather than a silent overwrite.
/// The article moves first (a compare-and-set on its record version), then its version record is
/// written; both carry the same number.
pub fn save(caller: &Caller, access: &Access, id: Id, draft: Draft, expected: Option<i64>) -> Result<i64> {
    let t = Text::of(caller);
    let article = readable(access, t, id)?;
    access.require_edit(t, article.fields.category_id)?;
    let d = draft.check(t)?;
    let now = time::now_ms();
    let n = article.fields.current_version + 1;
    let patch = json!({
        "title": d.title, "body": d.body, "tags": d.tags, "facts": d.facts,
        "current_version": n, "updated_by": caller.user_id, "edited_at": now,
    });
    records::update_typed(ARTICLE, id, &patch, Some(expected.unwrap_or(article.version))).map_err(|e| match e {
        Error::Conflict(_) => Error::conflict(t.conflict()),
        other => other,
    })?;
    records::insert_typed(VERSION, &version_of(id, n, &d, caller, now), None)?;
    Ok(n)
}

/// Restores an old version as a new one; answers the new version's number.
pub fn restore(caller: &Caller, access: &Access, id: Id, from: i64) -> Result<i64> {
    let t = Text::of(caller);
    readable(access, t, id)?;
    let old = store::version(id, from)?.ok_or_else(|| Error::not_found(t.no_such_version(from)))?;
    let v = old.fields;
    let draft = Draft { title: v.title, body: v.body, tags: v.tags, facts: v.facts, note: t.restore_note(from) };
    save(caller, access, id, draft, None)
}

/// Deletes an article with its versions and attachments (files included).
pub fn delete(caller: &Caller, access: &Access, id: Id) -> Result<()> {
    let t = Text::of(caller);
    let article = readable(access, t, id)?;
    access.require_edit(t, article.fields.category_id)?;
    for a in store::attachments(id)? {
        files::delete(a.fields.file_id)?;
        records::delete(store::ATTACHMENT, a.id)?;
    }
    for v in store::versions(id)? {
        records::delete(VERSION, v.id)?;
    }
    records::delete(ARTICLE, id)
}

/// The article as the JSON API answers it.
pub fn to_json(access: &Access, a: &Typed<Article>) -> Value {
    json!({
        "id": a.id,
        "category_id": a.fields.category_id,
        "category": access.path(a.fields.category_id),
        "title": a.fields.title,
        "body": a.fields.body,
        "tags": a.fields.tags,
        "facts": store::parse_facts(&a.fields.facts),
        "version": a.fields.current_version,
        "record_version": a.version,
        "updated_by": a.fields.updated_by,
        "updated_at": a.fields.edited_at,
    })
}

/// The diff between two versions as the JSON API answers it.
pub fn diff_json(t: Text, id: Id, from: i64, to: i64) -> Result<Value> {
    let (a, b) = two_versions(t, id, from, to)?;
    let lines = diff::lines(&a.body, &b.body);
    let (added, removed) = diff::counts(&lines);
    let rows: Vec<Value> =
        lines.iter().map(|l| json!({"op": op_mark(l.op), "old": l.old, "new": l.new, "text": l.text})).collect();
    Ok(json!({
        "article_id": id, "from": from, "to": to,
        "title": {"old": a.title, "new": b.title},
        "added": added, "removed": removed, "lines": rows,
    }))
}

fn two_versions(t: Text, id: Id, from: i64, to: i64) -> Result<(Version, Version)> {
    let a = store::version(id, from)?.ok_or_else(|| Error::not_found(t.no_such_version(from)))?;
    let b = store::version(id, to)?.ok_or_else(|| Error::not_found(t.no_such_version(to)))?;
    Ok((a.fields, b.fields))
}

fn op_mark(op: Op) -> &'static str {
    match op {
        Op::Same => " ",
        Op::Added => "+",
        Op::Removed => "-",
    }
}

pub fn id_param(request: &RenderRequest, name: &str) -> Result<Id> {
    request
        .param(name)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::invalid(format!("the page needs a numeric `{name}` parameter")))
}

// ----- Pages -----

pub fn render_article(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = id_param(request, "id")?;
    let a = readable(&access, t, id)?;
    let f = &a.fields;
    let category = access.require_read(t, f.category_id)?;
    let editable = access.can_edit(f.category_id);
    let attachments = store::attachments(id)?;
    let names = store::names(std::iter::once(f.updated_by).chain(attachments.iter().map(|x| x.fields.uploaded_by)));
    let mut page = Page::new(f.title.clone()).key_values([
        (t.pick("分类", "Category"), access.path(f.category_id)),
        (t.pick("类型", "Kind"), t.kind(&category.fields.kind)),
        (t.pick("版本", "Version"), f.current_version.to_string()),
        (t.pick("更新人", "Updated by"), store::name_of(&names, f.updated_by)),
        (t.pick("更新时间", "Updated"), store::when(f.edited_at)),
        (t.pick("标签", "Tags"), if f.tags.is_empty() { "—".to_owned() } else { f.tags.clone() }),
    ]);
    let facts = store::parse_facts(&f.facts);
    if !facts.is_empty() {
        page = page.heading(t.pick("关键信息", "Key facts")).key_values(facts);
    }
    if !f.body.trim().is_empty() {
        page = page.text(f.body.clone());
    }
    let mut actions = vec![Action::new("history", t.pick("版本历史", "History")).argument(id.to_string())];
    if editable {
        actions.insert(0, Action::primary("edit", t.pick("编辑", "Edit")).argument(id.to_string()));
        actions.push(Action::danger("delete", t.pick("删除文章", "Delete article")).argument(id.to_string()));
    }
    page = page.actions(actions).heading(t.pick("附件", "Attachments"));
    let mut table = Table::new()
        .column("name", t.pick("文件名", "File"))
        .column("size", t.pick("大小", "Size"))
        .column("by", t.pick("上传人", "Uploaded by"))
        .column("at", t.pick("上传时间", "Uploaded"));
    for x in &attachments {
        table = table.row(
            x.id.to_string(),
            [
                x.fields.name.clone(),
                files::human_size(x.fields.size.max(0) as u64),
                store::name_of(&names, x.fields.uploaded_by),
                store::when(Some(x.created_at)),
            ],
        );
    }
    if editable {
        table = table.row_action(Action::danger("delete-attachment", t.pick("删除", "Delete")));
    }
    page = page.table(table);
    if !attachments.is_empty() {
        // Download links: names as literal text, never markup.
        let links: Vec<String> = attachments
            .iter()
            .map(|x| {
                format!(
                    "- [{} {}](/api/plugins/knowledge-base/files/{})",
                    t.pick("下载", "Download"),
                    store::markdown_literal(&x.fields.name),
                    x.fields.file_id
                )
            })
            .collect();
        page = page.text(links.join("\n"));
    }
    if editable {
        let max = crate::attachments::max_mb();
        page = page.form(
            Form::new(Action::primary("upload", t.pick("上传附件", "Upload")).argument(id.to_string())).field(
                Field::file("file", t.pick("附件", "File"))
                    .required()
                    .help(t.pick(&format!("单个文件不超过 {max} MB。"), &format!("At most {max} MB a file."))),
            ),
        );
    }
    Ok(page)
}

pub fn render_edit(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = id_param(request, "id")?;
    let a = readable(&access, t, id)?;
    let category = access.require_edit(t, a.fields.category_id)?;
    let f = &a.fields;
    let mut form = Form::new(
        Action::primary("save", t.pick("保存为新版本", "Save as a new version"))
            .argument(format!("{id}:{}", a.version)),
    )
    .field(Field::text("title", t.pick("标题", "Title")).required().value(f.title.clone()))
    .field(
        Field::text("tags", t.pick("标签", "Tags"))
            .value(f.tags.clone())
            .help(t.pick("用逗号分隔。", "Separated by commas.")),
    );
    if category.fields.has_facts() || !f.facts.is_empty() {
        form = form.field(facts_field(t).value(f.facts.clone()));
    }
    form = form
        .field(Field::textarea("body", t.pick("正文（Markdown）", "Body (Markdown)")).value(f.body.clone()))
        .field(Field::text("note", t.pick("修改说明", "What changed")));
    Ok(Page::new(format!("{}: {}", t.pick("编辑", "Edit"), f.title))
        .key_values([(t.pick("当前版本", "Current version"), f.current_version.to_string())])
        .form(form))
}

pub fn facts_field(t: Text) -> Field {
    Field::textarea("facts", t.pick("关键信息", "Key facts")).help(t.pick(
        "每行一项，如“价格区间：10-20 万元”“优势：交付快”“劣势：售后网点少”。",
        "One a line, e.g. \"Price range: 10k-20k\", \"Strengths: fast delivery\", \"Weaknesses: few service points\".",
    ))
}

pub fn render_history(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = id_param(request, "id")?;
    let a = readable(&access, t, id)?;
    let editable = access.can_edit(a.fields.category_id);
    let versions = store::versions(id)?;
    let names = store::names(versions.iter().map(|v| v.fields.editor));
    let mut table = Table::new()
        .column("version", t.pick("版本", "Version"))
        .column("title", t.pick("标题", "Title"))
        .column("editor", t.pick("编辑人", "Editor"))
        .column("at", t.pick("时间", "Time"))
        .column("note", t.pick("修改说明", "Note"));
    for v in versions.iter().rev() {
        let current = v.fields.version == a.fields.current_version;
        let label = if current {
            format!("{} ({})", v.fields.version, t.pick("当前", "current"))
        } else {
            v.fields.version.to_string()
        };
        table = table.row(
            format!("{id}:{}", v.fields.version),
            [
                label,
                v.fields.title.clone(),
                store::name_of(&names, v.fields.editor),
                store::when(Some(v.fields.at)),
                v.fields.note.clone(),
            ],
        );
    }
    table = table
        .row_action(Action::new("view-version", t.pick("查看", "View")))
        .row_action(Action::new("diff-previous", t.pick("与上一版对比", "Compare with previous")));
    if editable {
        table = table.row_action(Action::danger("restore", t.pick("恢复此版本", "Restore")));
    }
    let options: Vec<(String, String)> =
        versions.iter().map(|v| (v.fields.version.to_string(), v.fields.version.to_string())).collect();
    let last = a.fields.current_version;
    let compare = Form::new(Action::primary("compare", t.pick("对比", "Compare")).argument(id.to_string()))
        .field(
            Field::select("from", t.pick("旧版本", "Older version"), options.clone())
                .required()
                .value((last - 1).max(1).to_string()),
        )
        .field(Field::select("to", t.pick("新版本", "Newer version"), options).required().value(last.to_string()));
    Ok(Page::new(format!("{}: {}", t.pick("版本历史", "History"), a.fields.title))
        .table(table)
        .heading(t.pick("对比两个版本", "Compare two versions"))
        .form(compare)
        .actions([Action::new("open", t.pick("返回文章", "Back to the article")).argument(id.to_string())]))
}

pub fn render_version(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = id_param(request, "id")?;
    let n = id_param(request, "v")?;
    let a = readable(&access, t, id)?;
    let v = store::version(id, n)?.ok_or_else(|| Error::not_found(t.no_such_version(n)))?.fields;
    let names = store::names([v.editor]);
    let mut page = Page::new(format!(
        "{} ({} {})",
        v.title,
        t.pick("第", "version"),
        if t == Text::new(true) { n.to_string() } else { format!("{n} 版") }
    ))
    .key_values([
        (t.pick("版本", "Version"), n.to_string()),
        (t.pick("编辑人", "Editor"), store::name_of(&names, v.editor)),
        (t.pick("时间", "Time"), store::when(Some(v.at))),
        (t.pick("修改说明", "Note"), v.note.clone()),
        (t.pick("标签", "Tags"), v.tags.clone()),
    ]);
    let facts = store::parse_facts(&v.facts);
    if !facts.is_empty() {
        page = page.heading(t.pick("关键信息", "Key facts")).key_values(facts);
    }
    if !v.body.trim().is_empty() {
        page = page.text(v.body.clone());
    }
    let mut actions = vec![Action::new("history", t.pick("版本历史", "History")).argument(id.to_string())];
    if access.can_edit(a.fields.category_id) && n != a.fields.current_version {
        actions.push(Action::danger("restore", t.pick("恢复此版本", "Restore")).argument(format!("{id}:{n}")));
    }
    Ok(page.actions(actions))
}

pub fn render_diff(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = id_param(request, "id")?;
    let a = readable(&access, t, id)?;
    let (from, to) = (id_param(request, "from")?, id_param(request, "to")?);
    let (old, new) = two_versions(t, id, from, to)?;
    let mut page = Page::new(format!("{}: {} → {}", a.fields.title, from, to));
    let mut changes: Vec<(String, String)> = Vec::new();
    if old.title != new.title {
        changes.push((t.pick("标题", "Title"), format!("{} → {}", old.title, new.title)));
    }
    if old.tags != new.tags {
        changes.push((t.pick("标签", "Tags"), format!("{} → {}", old.tags, new.tags)));
    }
    if !changes.is_empty() {
        page = page.key_values(changes);
    }
    let mut sections = vec![(t.pick("正文", "Body"), diff::lines(&old.body, &new.body))];
    if !old.facts.is_empty() || !new.facts.is_empty() {
        sections.insert(0, (t.pick("关键信息", "Key facts"), diff::lines(&old.facts, &new.facts)));
    }
    for (name, lines) in &sections {
        let (added, removed) = diff::counts(lines);
        page = page.heading(name.clone()).stats([
            Stat::new(t.pick("新增行", "Lines added"), added),
            Stat::new(t.pick("删除行", "Lines removed"), removed),
        ]);
        let mut table = Table::new()
            .column("op", t.pick("变化", "Change"))
            .column("old", t.pick(&format!("旧（第 {from} 版）"), &format!("Old (v{from})")))
            .column("new", t.pick(&format!("新（第 {to} 版）"), &format!("New (v{to})")))
            .column("text", t.pick("内容", "Text"));
        for (k, shown) in diff::with_context(lines, 3).into_iter().enumerate() {
            let cells = match shown {
                Shown::Folded(n) => ["".to_owned(), "".into(), "".into(), t.unchanged_lines(n)],
                Shown::Line(l) => {
                    let mark = match l.op {
                        Op::Same => String::new(),
                        Op::Added => format!("+ {}", t.pick("新增", "added")),
                        Op::Removed => format!("- {}", t.pick("删除", "removed")),
                    };
                    let num = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
                    [mark, num(l.old), num(l.new), l.text.clone()]
                }
            };
            table = table.row(k.to_string(), cells);
        }
        page = page.table(table);
        if added + removed == 0 {
            page = page.notice("info", t.pick("两个版本的这一部分相同。", "This part is the same in both versions."));
        } else {
            page = page.notice("info", t.diff_summary(added, removed));
        }
    }
    Ok(page.actions([
        Action::new("history", t.pick("版本历史", "History")).argument(id.to_string()),
        Action::new("open", t.pick("返回文章", "Back to the article")).argument(id.to_string()),
    ]))
}

// ----- Actions -----

fn parse_pair(argument: Option<&str>) -> Result<(Id, i64)> {
    let (a, b) = argument.and_then(|a| a.split_once(':')).ok_or_else(|| Error::invalid("expected `<id>:<n>`"))?;
    match (a.trim().parse(), b.trim().parse()) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => Err(Error::invalid("expected `<id>:<n>`")),
    }
}

pub fn parse_id(argument: Option<&str>) -> Result<Id> {
    argument.and_then(|a| a.trim().parse().ok()).ok_or_else(|| Error::invalid("expected a record id"))
}

pub fn link(page: &str, id: Id) -> String {
    format!("/p/knowledge-base/{page}?id={id}")
}

/// Errors people can act on become a notice on the page they came from.
pub fn as_notice(result: Result<Outcome>) -> Result<Outcome> {
    match result {
        Err(Error::Invalid(m) | Error::Denied(m) | Error::Conflict(m) | Error::NotFound(m) | Error::Limited(m)) => {
            Ok(Outcome::error(m))
        }
        other => other,
    }
}

/// The actions of the article, edit, history, version and diff pages.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    as_notice((|| match action {
        "open" => Ok(Outcome::redirect(link("article", parse_id(argument)?))),
        "edit" => Ok(Outcome::redirect(link("edit", parse_id(argument)?))),
        "history" => Ok(Outcome::redirect(link("history", parse_id(argument)?))),
        "view-version" => {
            let (id, n) = parse_pair(argument)?;
            Ok(Outcome::redirect(format!("/p/knowledge-base/version?id={id}&v={n}")))
        }
        "diff-previous" => {
            let (id, n) = parse_pair(argument)?;
            Ok(Outcome::redirect(format!("/p/knowledge-base/diff?id={id}&from={}&to={n}", (n - 1).max(1))))
        }
        "compare" => {
            let id = parse_id(argument)?;
            let num =
                |k: &str| input.get(k).and_then(|v| v.as_str().and_then(|s| s.parse::<i64>().ok()).or(v.as_i64()));
            let (from, to) = (num("from").unwrap_or(1), num("to").unwrap_or(1));
            Ok(Outcome::redirect(format!("/p/knowledge-base/diff?id={id}&from={from}&to={to}")))
        }
        "save" => {
            let access = Access::load()?;
            let (id, expected) = parse_pair(argument)?;
            let draft: Draft = serde_json::from_value(input.clone())?;
            save(caller, &access, id, draft, Some(expected))?;
            Ok(Outcome::redirect(link("article", id)))
        }
        "restore" => {
            let access = Access::load()?;
            let (id, from) = parse_pair(argument)?;
            let n = restore(caller, &access, id, from)?;
            Ok(Outcome::success(t.restored(from, n)))
        }
        "delete" => {
            let access = Access::load()?;
            let id = parse_id(argument)?;
            let category = readable(&access, t, id)?.fields.category_id;
            delete(caller, &access, id)?;
            Ok(Outcome::redirect(link("category", category)))
        }
        _ => Err(Error::not_found(format!("no action {action:?}"))),
    })())
}

/// The newest articles of readable categories matching a query, at least `want` of them when
/// there are, and the cursor after them. Unreadable ones are left out; pages of the host are
/// read until enough are found (at most eight pages).
pub fn find_readable(access: &Access, query: Query, want: usize) -> Result<(Vec<Typed<Article>>, Option<String>)> {
    let mut query = query.limit(want.clamp(1, 100) as u32);
    let mut found = Vec::new();
    let mut after = None;
    for _ in 0..8 {
        let (page, next) = records::find_typed::<Article>(&query)?;
        found.extend(page.into_iter().filter(|a| access.can_read(a.fields.category_id)));
        after = next.clone();
        match next {
            Some(next) if found.len() < want => query = query.cursor(next),
            _ => break,
        }
    }
    Ok((found, after))
}
