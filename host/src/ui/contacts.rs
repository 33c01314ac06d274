//! The contacts pages: every contact the user may see across their customers (quick search
//! by name, pinyin initials, title or phone; filters by birthday month and by customer; keyset
//! paging), each linking to its customer, and a contact's own page where it can be changed.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use sqlx::Row;

use super::admin::status_of;
use super::i18n::Strings;
use super::{Choice, Chrome, FormFields, Lang, Posted, UiError, Viewer, path_id, render_with, see_other};
use crate::access::{Access, Action};
use crate::customers::contacts::{self, Contact, ContactPatch, ContactQuery};
use crate::customers::{self, PhoneInput};
use crate::error::Error;
use crate::store::{Id, SqlBuf, Store};
use crate::web::AppState;

/// The strings of these pages: key, English, Chinese.
pub(super) const STRINGS: Strings = &[
    ("contacts.title", "Contacts", "联系人"),
    ("contacts.search", "Search", "搜索"),
    (
        "contacts.search_placeholder",
        "Name, pinyin initials, title, phone or email",
        "姓名、拼音首字母、职务、电话或邮箱",
    ),
    ("contacts.birthday_month", "Birthday in", "生日月份"),
    ("contacts.any_month", "Any month", "不限"),
    ("contacts.filter", "Filter", "筛选"),
    ("contacts.none", "No contact matches.", "没有符合条件的联系人。"),
    ("contacts.list_label", "Contacts found", "联系人列表"),
    ("contacts.name", "Name", "姓名"),
    ("contacts.position", "Title", "职务"),
    ("contacts.customer", "Customer", "客户"),
    ("contacts.phone", "Phone", "电话"),
    ("contacts.email", "Email", "邮箱"),
    ("contacts.next_page", "Next page", "下一页"),
    ("contacts.first_page", "First page", "第一页"),
    ("contacts.of_customer", "Only the contacts of", "仅显示此客户的联系人："),
    ("contacts.show_all", "Show every contact", "显示全部联系人"),
    ("contacts.import", "Import customers", "导入客户"),
    ("contacts.edit_title", "Edit contact", "编辑联系人"),
    ("contacts.view_title", "Contact", "联系人"),
    ("contacts.read_only", "You may see this contact but not change it.", "您可以查看此联系人，但无权修改。"),
    ("contacts.department", "Department", "部门"),
    ("contacts.birthday", "Birthday", "生日"),
    ("contacts.birthday_help", "For example 1985-06-30.", "例如 1985-06-30。"),
    ("contacts.hobbies", "Hobbies", "爱好"),
    ("contacts.reports_to", "Reports to", "上级"),
    ("contacts.nobody", "Nobody", "无"),
    ("contacts.decision_role", "Role in buying decisions", "决策角色"),
    ("contacts.role.decision_maker", "Decision maker", "决策人"),
    ("contacts.role.influencer", "Influencer", "影响人"),
    ("contacts.role.evaluator", "Evaluator", "评估人"),
    ("contacts.role.user", "User", "使用人"),
    ("contacts.role.gatekeeper", "Gatekeeper", "把关人"),
    ("contacts.role.other", "Other", "其他"),
    ("contacts.phones", "Phones", "电话"),
    ("contacts.phones_help", "Separate numbers with commas.", "多个号码用逗号分隔。"),
    ("contacts.notes", "Notes", "备注"),
    ("contacts.back", "Back to the customer", "返回客户"),
    ("done.contact_saved", "Contact saved.", "联系人已保存。"),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/contacts", get(list)).route("/contacts/{id}", get(show).post(save))
}

/// Contacts per page.
const PAGE: i64 = 50;

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A month's name in the page's language.
fn month_name(lang: Lang, month: u32) -> String {
    match lang {
        Lang::En => MONTHS_EN[(month as usize - 1) % 12].to_owned(),
        Lang::ZhCn => format!("{month}月"),
    }
}

pub struct ContactListRow {
    pub id: Id,
    pub name: String,
    pub title: String,
    pub customer_id: Id,
    /// Empty when the user may see the contact but not its customer.
    pub customer: String,
    pub phones: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ContactListRow>,
    q: String,
    months: Vec<Choice>,
    /// The customer the list is narrowed to: id and name.
    customer: Option<(Id, String)>,
    next_link: Option<String>,
    first_link: Option<String>,
    may_import: bool,
}

/// The names of the customers the user may read among `ids`.
async fn customer_names(store: &Store, access: &Access, ids: &[Id]) -> Result<HashMap<Id, String>, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = SqlBuf::new("SELECT c.id, c.name FROM customers c WHERE ");
    customers::push_access(access, "customers", Action::Read, &mut sql);
    sql.push(" AND c.id IN ").bind_list(ids);
    let mut names = HashMap::new();
    for r in sql.query().fetch_all(store.pool()).await? {
        names.insert(r.try_get::<Id, _>(0)?, r.try_get::<String, _>(1)?);
    }
    Ok(names)
}

/// Whether a contact of one customer's list matches the search typed, as the full list's
/// search would: name, title or phone digits.
fn matches_text(c: &Contact, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    c.name.to_lowercase().contains(&q)
        || c.title.as_deref().is_some_and(|t| t.to_lowercase().contains(&q))
        || c.email.as_deref().is_some_and(|e| e.to_lowercase().contains(&q))
        || (digits.len() >= 3 && c.phones.iter().any(|p| p.canonical.contains(&digits) || p.number.contains(&q)))
}

async fn list_page(state: &AppState, viewer: Viewer, filters: &FormFields) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let month = match filters.opt("month") {
        Some(m) => Some(
            m.parse::<u32>()
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| Error::invalid("month", "a month is 1 to 12"))?,
        ),
        None => None,
    };
    let after_id = match filters.opt("after") {
        Some(a) => Some(a.parse::<Id>().map_err(|_| Error::invalid("after", "not a contact id"))?),
        None => None,
    };
    let customer_id = filters.opt("customer").as_deref().map(path_id).transpose()?;
    let (items, more, customer) = match customer_id {
        // One customer's contacts are few: all of them, filtered here.
        Some(cid) => {
            let c = customers::get(&state.store, &viewer.access, cid, Action::Read).await?;
            let mut items = contacts::list_for_customer(&state.store, &viewer.access, cid).await?;
            items.retain(|k| matches_text(k, filters.get("q")));
            if let Some(m) = month {
                let mm = format!("-{m:02}-");
                items.retain(|k| k.birthday.as_deref().is_some_and(|b| b.get(4..8) == Some(mm.as_str())));
            }
            (items, false, Some((c.id, c.name)))
        }
        None => {
            let query = ContactQuery { q: filters.opt("q"), birthday_month: month, after_id, limit: Some(PAGE + 1) };
            let mut items = contacts::list(&state.store, &viewer.access, &query).await?;
            let more = items.len() as i64 > PAGE;
            items.truncate(PAGE as usize);
            (items, more, None)
        }
    };
    let mut ids: Vec<Id> = items.iter().map(|k| k.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = customer_names(&state.store, &viewer.access, &ids).await?;
    let rows = items
        .iter()
        .map(|k| ContactListRow {
            id: k.id,
            name: k.name.clone(),
            title: k.title.clone().unwrap_or_default(),
            customer_id: k.customer_id,
            customer: names.get(&k.customer_id).cloned().unwrap_or_default(),
            phones: k.phones.iter().map(|p| p.number.clone()).collect::<Vec<_>>().join(", "),
            email: k.email.clone().unwrap_or_default(),
        })
        .collect();
    let mut kept: Vec<(&str, String)> = Vec::new();
    for key in ["q", "month", "customer"] {
        if let Some(v) = filters.opt(key) {
            kept.push((key, v));
        }
    }
    let next_link = match (more, items.last()) {
        (true, Some(last)) => {
            let mut params = kept.clone();
            params.push(("after", last.id.to_string()));
            Some(format!("/contacts?{}", serde_urlencoded::to_string(&params).unwrap_or_default()))
        }
        _ => None,
    };
    let first_link = after_id.map(|_| format!("/contacts?{}", serde_urlencoded::to_string(&kept).unwrap_or_default()));
    let months = (1..=12)
        .map(|m| Choice { value: m.to_string(), label: month_name(lang, m), selected: month == Some(m) })
        .collect();
    let may_import = viewer.access.scope("customers", Action::Create).is_some();
    let page = ListPage {
        chrome: viewer.chrome(lang.t("contacts.title"), "/contacts"),
        rows,
        q: filters.get("q").to_owned(),
        months,
        customer,
        next_link,
        first_link,
        may_import,
    };
    Ok(render_with(StatusCode::OK, &page))
}

async fn list(State(state): State<AppState>, viewer: Viewer, RawQuery(raw): RawQuery) -> Result<Response, UiError> {
    let filters = FormFields::from_query(raw.as_deref());
    match list_page(&state, viewer, &filters).await {
        // A stale or hand-made paging link shows the first page instead.
        Err(UiError::Page { status: StatusCode::UNPROCESSABLE_ENTITY, .. }) if filters.opt("after").is_some() => {
            Ok(see_other("/contacts"))
        }
        other => other,
    }
}

#[derive(Template)]
#[template(path = "contacts_edit.html")]
struct EditPage {
    chrome: Chrome,
    id: Id,
    customer_id: Id,
    customer: String,
    may_edit: bool,
    /// The values as stored or as typed.
    form: FormFields,
    roles: Vec<Choice>,
    reports_to: Vec<Choice>,
    error: Option<String>,
    error_field: String,
}

fn role_key(role: &str) -> &'static str {
    match role {
        "decision_maker" => "contacts.role.decision_maker",
        "influencer" => "contacts.role.influencer",
        "evaluator" => "contacts.role.evaluator",
        "user" => "contacts.role.user",
        "gatekeeper" => "contacts.role.gatekeeper",
        _ => "contacts.role.other",
    }
}

/// A contact's fields as the form shows them.
fn form_of(c: &Contact) -> FormFields {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    FormFields(vec![
        ("name".into(), c.name.clone()),
        ("title".into(), text(&c.title)),
        ("department".into(), text(&c.department)),
        ("email".into(), text(&c.email)),
        ("birthday".into(), text(&c.birthday)),
        ("hobbies".into(), text(&c.hobbies)),
        ("decision_role".into(), text(&c.decision_role)),
        ("reports_to_id".into(), c.reports_to_id.map(|i| i.to_string()).unwrap_or_default()),
        ("phones".into(), phones_text(c)),
        ("notes".into(), c.notes.clone()),
    ])
}

fn phones_text(c: &Contact) -> String {
    c.phones.iter().map(|p| p.number.clone()).collect::<Vec<_>>().join(", ")
}

async fn edit_page(
    state: &AppState,
    viewer: Viewer,
    id: Id,
    typed: Option<FormFields>,
    error: Option<(String, Option<&'static str>)>,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let contact = contacts::get(&state.store, &viewer.access, id, Action::Read).await?;
    let may_edit = contacts::get(&state.store, &viewer.access, id, Action::Edit).await.is_ok();
    let customer = customers::get(&state.store, &viewer.access, contact.customer_id, Action::Read)
        .await
        .map(|c| c.name)
        .unwrap_or_default();
    let colleagues =
        contacts::list_for_customer(&state.store, &viewer.access, contact.customer_id).await.unwrap_or_default();
    let form = typed.unwrap_or_else(|| form_of(&contact));
    let role = form.get("decision_role").to_owned();
    let roles = contacts::DECISION_ROLES
        .iter()
        .map(|r| Choice { value: (*r).into(), label: lang.t(role_key(r)).into(), selected: *r == role })
        .collect();
    let boss = form.get("reports_to_id").to_owned();
    let reports_to = colleagues
        .iter()
        .filter(|k| k.id != id)
        .map(|k| Choice { value: k.id.to_string(), label: k.name.clone(), selected: k.id.to_string() == boss })
        .collect();
    let title = lang.t(if may_edit { "contacts.edit_title" } else { "contacts.view_title" });
    let page = EditPage {
        chrome: viewer.chrome(title, "/contacts"),
        id,
        customer_id: contact.customer_id,
        customer,
        may_edit,
        form,
        roles,
        reports_to,
        error_field: error.as_ref().and_then(|e| e.1).unwrap_or("").to_owned(),
        error: error.map(|e| e.0),
    };
    Ok(render_with(status_of(&page.error), &page))
}

async fn show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    edit_page(&state, viewer, path_id(&id)?, None, None).await
}

/// The change the form asks for: every field as typed (blank clears), and the phones only
/// when their text changed, so the labels of unchanged numbers stay.
fn patch_of(form: &FormFields, before: &Contact) -> Result<ContactPatch, Error> {
    let opt = |name: &str| Some(form.opt(name));
    let reports_to_id = match form.opt("reports_to_id") {
        Some(raw) => Some(raw.parse::<Id>().map_err(|_| Error::invalid("reports_to_id", "choose a contact"))?),
        None => None,
    };
    let typed: Vec<&str> =
        form.get("phones").split([',', '，', ';', '；']).map(str::trim).filter(|n| !n.is_empty()).collect();
    let phones = if typed.join(", ") == phones_text(before) {
        None
    } else {
        Some(
            typed
                .iter()
                .map(|n| PhoneInput {
                    label: before.phones.iter().find(|p| p.number == *n).map(|p| p.label.clone()).unwrap_or_default(),
                    number: (*n).to_owned(),
                })
                .collect(),
        )
    };
    Ok(ContactPatch {
        name: Some(form.get("name").to_owned()),
        title: opt("title"),
        department: opt("department"),
        email: opt("email"),
        birthday: opt("birthday"),
        hobbies: opt("hobbies"),
        reports_to_id: Some(reports_to_id),
        decision_role: opt("decision_role"),
        notes: Some(form.get("notes").to_owned()),
        phones,
    })
}

async fn save(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let Posted { viewer, form } = posted;
    let before = contacts::get(&state.store, &viewer.access, id, Action::Edit).await?;
    if form.get("name").is_empty() {
        let message = format!("{}: {}", viewer.lang().t("contacts.name"), viewer.lang().t("form.required"));
        return edit_page(&state, viewer, id, Some(form), Some((message, Some("name")))).await;
    }
    let saved = match patch_of(&form, &before) {
        Ok(patch) => contacts::update(&state.store, &viewer.access, id, &patch).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(see_other(&format!("/contacts/{id}?notice=done.contact_saved"))),
        Err(Error::Invalid { message, field }) => {
            edit_page(&state, viewer, id, Some(form), Some((message, field))).await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_read_as_each_language_writes_them() {
        assert_eq!(month_name(Lang::En, 1), "January");
        assert_eq!(month_name(Lang::ZhCn, 12), "12月");
    }
}
