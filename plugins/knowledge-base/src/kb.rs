//! The knowledge base's own pages: the home page (search box, categories, newest articles), a
//! category with its articles or standard answers and the form for a new one, the search page
//! across every readable category, and the administrators' categories page.

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, or_default};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::access::Access;
use crate::articles::{self, Draft, as_notice, parse_id};
use crate::qa;
use crate::store::{self, ARTICLE, Article, CATEGORY, Category, QA};
use crate::text::Text;

fn search_form(t: Text, q: &str) -> Form {
    Form::new(Action::primary("search", t.pick("搜索", "Search")))
        .field(Field::text("q", t.pick("搜索知识库", "Search the knowledge base")).value(q.to_owned()))
}

fn article_table(t: Text, access: &Access, found: &[records::Typed<Article>], q: &str) -> Table {
    let mut table = Table::new()
        .column("title", t.pick("标题", "Title"))
        .column("excerpt", t.pick("摘要", "Excerpt"))
        .column("category", t.pick("分类", "Category"))
        .column("updated", t.pick("更新时间", "Updated"));
    for a in found {
        table = table.row(
            a.id.to_string(),
            [
                a.fields.title.clone(),
                store::excerpt_around(&a.fields.body, q, 60),
                access.path(a.fields.category_id),
                store::when(a.fields.edited_at),
            ],
        );
    }
    table.row_action(Action::new("open", t.pick("查看", "Open")))
}

pub fn render_home(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let mut page = Page::new(t.pick("知识库", "Knowledge base")).form(search_form(t, ""));
    let readable = access.readable(&[]);
    if readable.is_empty() {
        let hint = if access.is_admin() {
            t.pick(
                "还没有分类。请先在[知识分类](/p/knowledge-base/categories)中添加。",
                "There are no categories yet. Add some under [Knowledge categories](/p/knowledge-base/categories).",
            )
        } else {
            t.pick("还没有您可以查看的分类。", "There is no category you may read yet.")
        };
        return Ok(page.text(hint));
    }
    let mut table = Table::new()
        .column("name", t.pick("分类", "Category"))
        .column("kind", t.pick("类型", "Kind"))
        .column("description", t.pick("说明", "Description"));
    for c in &readable {
        table = table.row(c.id.to_string(), [access.path(c.id), t.kind(&c.fields.kind), c.fields.description.clone()]);
    }
    page = page
        .heading(t.pick("分类", "Categories"))
        .table(table.row_action(Action::new("open-category", t.pick("浏览", "Browse"))));
    let (newest, _) = articles::find_readable(&access, Query::new(ARTICLE), 10)?;
    Ok(page.heading(t.pick("最近更新", "Recently updated")).table(article_table(t, &access, &newest, "")))
}

pub fn render_category(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let id = articles::id_param(request, "id")?;
    let c = access.require_read(t, id)?;
    let mut page = Page::new(access.path(id)).key_values([
        (t.pick("类型", "Kind"), t.kind(&c.fields.kind)),
        (t.pick("说明", "Description"), c.fields.description.clone()),
    ]);
    let children: Vec<_> = access.readable(&[]).into_iter().filter(|x| x.fields.parent_id == Some(id)).collect();
    if !children.is_empty() {
        let mut table =
            Table::new().column("name", t.pick("下级分类", "Subcategories")).column("kind", t.pick("类型", "Kind"));
        for x in children {
            table = table.row(x.id.to_string(), [x.fields.name.clone(), t.kind(&x.fields.kind)]);
        }
        page = page.table(table.row_action(Action::new("open-category", t.pick("浏览", "Browse"))));
    }
    let editable = access.can_edit(id);
    if c.fields.is_qa() {
        let mut query = Query::new(QA).eq("category_id", id).limit(20);
        if let Some(cursor) = request.cursor() {
            query = query.cursor(cursor);
        }
        let (entries, next) = records::find_typed::<store::Qa>(&query)?;
        let mut table = Table::new()
            .column("question", t.pick("问题", "Question"))
            .column("answer", t.pick("标准答案", "Standard answer"));
        for e in &entries {
            table = table.row(e.id.to_string(), [e.fields.question.clone(), store::excerpt(&e.fields.answer, 80)]);
        }
        page = page.table(table.row_action(Action::new("open-qa", t.pick("查看", "Open"))).next(next));
        if editable {
            page = page.heading(t.pick("新增标准问答", "New standard answer")).form(
                Form::new(Action::primary("add-qa", t.pick("添加", "Add")))
                    .field(
                        Field::select("category_id", t.pick("分类", "Category"), [(id.to_string(), access.path(id))])
                            .required()
                            .value(id.to_string()),
                    )
                    .field(Field::text("question", t.pick("问题", "Question")).required())
                    .field(
                        Field::textarea("answer", t.pick("标准答案（Markdown）", "Standard answer (Markdown)"))
                            .required(),
                    )
                    .field(Field::text("keywords", t.pick("关键词", "Keywords"))),
            );
        }
        return Ok(page);
    }
    let mut query = Query::new(ARTICLE).eq("category_id", id).limit(20);
    if let Some(cursor) = request.cursor() {
        query = query.cursor(cursor);
    }
    let (found, next) = records::find_typed::<Article>(&query)?;
    page = page.table(article_table(t, &access, &found, "").next(next));
    if editable {
        let mut form =
            Form::new(Action::primary("add-article", t.pick("发布文章", "Publish")).argument(id.to_string()))
                .field(Field::text("title", t.pick("标题", "Title")).required())
                .field(
                    Field::text("tags", t.pick("标签", "Tags")).help(t.pick("用逗号分隔。", "Separated by commas.")),
                );
        if c.fields.has_facts() {
            form = form.field(articles::facts_field(t));
        }
        form = form.field(Field::textarea("body", t.pick("正文（Markdown）", "Body (Markdown)")));
        page = page.heading(t.pick("新建文章", "New article")).form(form);
    }
    Ok(page)
}

pub fn render_search(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let q = request.param("q").unwrap_or_default().trim().to_owned();
    let mut page = Page::new(t.pick("知识搜索", "Search")).form(search_form(t, &q));
    if q.is_empty() {
        return Ok(page);
    }
    let mut query = Query::new(ARTICLE).text(&q);
    if let Some(cursor) = request.cursor() {
        query = query.cursor(cursor);
    }
    let (found, next) = articles::find_readable(&access, query, 20)?;
    // Standard answers on the first page only; the library pages through them.
    let entries = if request.cursor().is_none() { qa::find_readable(&access, &q, None, 10)?.0 } else { Vec::new() };
    if found.is_empty() && entries.is_empty() {
        return Ok(page.notice("info", t.no_results(&q)));
    }
    page = page.heading(t.pick("知识文章", "Articles")).table(article_table(t, &access, &found, &q).next(next));
    if !entries.is_empty() {
        let mut table = Table::new()
            .column("question", t.pick("问题", "Question"))
            .column("answer", t.pick("标准答案", "Standard answer"))
            .column("category", t.pick("分类", "Category"));
        for e in &entries {
            table = table.row(
                e.id.to_string(),
                [
                    e.fields.question.clone(),
                    store::excerpt_around(&e.fields.answer, &q, 60),
                    access.path(e.fields.category_id),
                ],
            );
        }
        page = page
            .heading(t.pick("标准问答", "Standard answers"))
            .table(table.row_action(Action::new("open-qa", t.pick("查看", "Open"))));
    }
    Ok(page)
}

// ----- Categories (administrators) -----

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CategoryInput {
    #[serde(default, deserialize_with = "or_default")]
    pub name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub kind: String,
    #[serde(default)]
    pub parent_id: Option<Value>,
    #[serde(default)]
    pub read_roles: Option<Value>,
    #[serde(default)]
    pub edit_roles: Option<Value>,
    #[serde(default, deserialize_with = "or_default")]
    pub description: String,
}

fn roles_of(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => store::parse_roles(s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).flat_map(store::parse_roles).collect(),
        _ => Vec::new(),
    }
}

/// Creates (`id` none) or changes a category; only administrators (the host enforces it too,
/// categories being reference data).
pub fn save_category(caller: &Caller, access: &Access, id: Option<Id>, input: CategoryInput) -> Result<Id> {
    let t = Text::of(caller);
    if !access.is_admin() {
        return Err(Error::denied(t.admins_only_change()));
    }
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(Error::invalid(t.name_required()));
    }
    if !["article", "qa", "product", "competitor"].contains(&input.kind.as_str()) {
        return Err(Error::invalid(t.kind_required()));
    }
    let parent_id = match &input.parent_id {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            Some(s.trim().parse().map_err(|_| Error::invalid(t.parent_loop()))?)
        }
        _ => None,
    };
    if let Some(p) = parent_id {
        // The parent must exist and must not be the category or sit under it.
        let mut at = Some(p);
        let mut steps = 0;
        while let Some(x) = at {
            if Some(x) == id || steps > access.categories.len() {
                return Err(Error::invalid(t.parent_loop()));
            }
            at = access.category(x).ok_or_else(|| Error::invalid(t.parent_loop()))?.fields.parent_id;
            steps += 1;
        }
    }
    let category = Category {
        name,
        parent_id,
        kind: input.kind,
        read_roles: roles_of(&input.read_roles),
        edit_roles: roles_of(&input.edit_roles),
        description: input.description.trim().to_owned(),
    };
    match id {
        Some(id) => {
            records::update_typed(CATEGORY, id, &category, None)?;
            Ok(id)
        }
        None => Ok(records::insert_typed(CATEGORY, &category, None)?.id),
    }
}

pub fn category_json(access: &Access, c: &records::Typed<Category>) -> Value {
    json!({
        "id": c.id, "name": c.fields.name, "path": access.path(c.id), "kind": c.fields.kind,
        "parent_id": c.fields.parent_id, "read_roles": c.fields.read_roles, "edit_roles": c.fields.edit_roles,
        "description": c.fields.description, "can_edit": access.can_edit(c.id),
    })
}

pub fn render_categories(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let roles = |r: &[String], empty: String| if r.is_empty() { empty } else { r.join(", ") };
    let mut table = Table::new()
        .column("name", t.pick("分类", "Category"))
        .column("kind", t.pick("类型", "Kind"))
        .column("read", t.pick("可查看", "Who reads"))
        .column("edit", t.pick("可编辑", "Who edits"));
    for c in &access.categories {
        table = table.row(
            c.id.to_string(),
            [
                access.path(c.id),
                t.kind(&c.fields.kind),
                roles(&c.fields.read_roles, t.everyone()),
                format!("{} + {}", t.pick("管理员", "Administrators"), roles(&c.fields.edit_roles, "—".into())),
            ],
        );
    }
    table = table
        .row_action(Action::new("edit-category", t.pick("修改", "Change")))
        .row_action(Action::danger("delete-category", t.pick("删除", "Delete")));
    let editing = request.param("edit").and_then(|v| v.parse::<Id>().ok()).and_then(|id| access.category(id));
    let c = editing.map(|c| c.fields.clone()).unwrap_or_default();
    let parents: Vec<(String, String)> = access
        .categories
        .iter()
        .filter(|x| Some(x.id) != editing.map(|e| e.id))
        .map(|x| (x.id.to_string(), access.path(x.id)))
        .collect();
    let submit = match editing {
        Some(e) => Action::primary("save-category", t.pick("保存修改", "Save")).argument(e.id.to_string()),
        None => Action::primary("save-category", t.pick("添加分类", "Add category")),
    };
    let role_help = t.pick(
        "角色名称，用逗号分隔，如“Salesperson, Sales manager”。",
        "Role names separated by commas, e.g. \"Salesperson, Sales manager\".",
    );
    let form = Form::new(submit)
        .field(Field::text("name", t.pick("名称", "Name")).required().value(c.name.clone()))
        .field(Field::select("kind", t.pick("类型", "Kind"), t.kinds()).required().value(if c.kind.is_empty() {
            "article".to_owned()
        } else {
            c.kind.clone()
        }))
        .field({
            let f = Field::select("parent_id", t.pick("上级分类", "Parent"), parents);
            match c.parent_id {
                Some(p) => f.value(p.to_string()),
                None => f,
            }
        })
        .field(
            Field::text("read_roles", t.pick("可查看的角色", "Roles that read"))
                .value(c.read_roles.join(", "))
                .help(format!("{} {}", role_help, t.pick("留空：所有人可查看。", "Empty: everyone reads."))),
        )
        .field(
            Field::text("edit_roles", t.pick("可编辑的角色", "Roles that edit"))
                .value(c.edit_roles.join(", "))
                .help(format!("{} {}", role_help, t.pick("留空：仅管理员可编辑。", "Empty: administrators only."))),
        )
        .field(Field::text("description", t.pick("说明", "Description")).value(c.description.clone()));
    Ok(Page::new(t.pick("知识分类", "Knowledge categories"))
        .table(table)
        .heading(if editing.is_some() {
            t.pick("修改分类", "Change the category")
        } else {
            t.pick("新增分类", "New category")
        })
        .form(form))
}

fn delete_category(caller: &Caller, access: &Access, id: Id) -> Result<()> {
    let t = Text::of(caller);
    if !access.is_admin() {
        return Err(Error::denied(t.admins_only_change()));
    }
    let has_children = access.categories.iter().any(|c| c.fields.parent_id == Some(id));
    let (articles, _) =
        records::find(&Query::new(ARTICLE).eq("category_id", id).limit(1)).map(|p| (p.items, p.next))?;
    let (entries, _) = records::find(&Query::new(QA).eq("category_id", id).limit(1)).map(|p| (p.items, p.next))?;
    if has_children || !articles.is_empty() || !entries.is_empty() {
        return Err(Error::conflict(t.category_not_empty()));
    }
    records::delete(CATEGORY, id)
}

/// Actions of the home, category, search and categories pages.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    as_notice((|| match action {
        "search" => {
            let q = input.get("q").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
            Ok(Outcome::redirect(format!("/p/knowledge-base/search?q={}", store::encode(&q))))
        }
        "open-category" => Ok(Outcome::redirect(articles::link("category", parse_id(argument)?))),
        "add-article" => {
            let access = Access::load()?;
            let category = parse_id(argument)?;
            let draft: Draft = serde_json::from_value(input.clone())?;
            let id = articles::create(caller, &access, category, draft)?;
            Ok(Outcome::redirect(articles::link("article", id)))
        }
        "edit-category" => Ok(Outcome::redirect(format!("/p/knowledge-base/categories?edit={}", parse_id(argument)?))),
        "save-category" => {
            let access = Access::load()?;
            let id = argument.and_then(|a| a.trim().parse().ok());
            let input: CategoryInput = serde_json::from_value(input.clone())?;
            save_category(caller, &access, id, input)?;
            if id.is_some() {
                Ok(Outcome::redirect("/p/knowledge-base/categories"))
            } else {
                Ok(Outcome::success(t.saved()))
            }
        }
        "delete-category" => {
            let access = Access::load()?;
            delete_category(caller, &access, parse_id(argument)?)?;
            Ok(Outcome::success(t.deleted()))
        }
        _ => Err(Error::not_found(format!("no action {action:?}"))),
    })())
}
