//! The customer pages: the list (quick search by name, pinyin initials, code or phone;
//! filters; bulk transfer; export), a new customer, and the customer's 360° page with its card,
//! contacts, timeline, follow-up form and the panels of enabled plugins.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::blocks::BlockView;
use super::blocks::{self, PanelView};
use super::custom_inputs::{self, CustomInput};
use super::{Choice, Chrome, FormFields, Lang, Posted, UiError, Viewer, render_with, see_other};
use crate::access::{Action, ShareLevel};
use crate::customers::activities::{self, NewActivity, TimelineQuery};
use crate::customers::operations::{self, BatchEdit, NewShare, TransferRequest};
use crate::customers::options::{self, OptionItem};
use crate::customers::views::{self, NewView};
use crate::customers::{self, Customer, CustomerQuery, NewCustomer, PhoneInput, contacts};
use crate::error::Error;
use crate::org::users;
use crate::store::Id;
use crate::web::AppState;

pub(super) fn choices(items: &[OptionItem], list: &str, lang: Lang, selected: &str) -> Vec<Choice> {
    items
        .iter()
        .filter(|o| o.list == list && (o.active || o.value == selected))
        .map(|o| Choice {
            value: o.value.clone(),
            label: lang.pick(&o.label_en, &o.label_zh).to_owned(),
            selected: o.value == selected,
        })
        .collect()
}

/// The label of a stored option value, or the value itself when the list lost it.
fn label_of(items: &[OptionItem], list: &str, lang: Lang, value: &Option<String>) -> String {
    match value {
        None => String::new(),
        Some(v) => items
            .iter()
            .find(|o| o.list == list && o.value == *v)
            .map_or_else(|| v.clone(), |o| lang.pick(&o.label_en, &o.label_zh).to_owned()),
    }
}

/// A column the customer list can show besides the name, with its heading and the class of
/// its cells (`wide` ones give way on a phone).
pub struct Column {
    pub key: &'static str,
    pub label_key: &'static str,
    pub class: &'static str,
    pub default: bool,
}

/// The columns a user may choose from, in the order the list shows them.
pub const COLUMNS: &[Column] = &[
    Column { key: "code", label_key: "field.code", class: "code", default: true },
    Column { key: "level", label_key: "field.level", class: "", default: true },
    Column { key: "status", label_key: "field.status", class: "", default: true },
    Column { key: "industry", label_key: "field.industry", class: "", default: false },
    Column { key: "region", label_key: "field.region", class: "", default: false },
    Column { key: "source", label_key: "field.source", class: "", default: false },
    Column { key: "tags", label_key: "field.tags", class: "wide", default: false },
    Column { key: "phone", label_key: "field.phone", class: "wide", default: false },
    Column { key: "owner", label_key: "field.owner", class: "owner", default: true },
    Column { key: "last", label_key: "field.last_follow_up", class: "wide", default: true },
    Column { key: "next", label_key: "field.next_follow_up", class: "wide", default: true },
    Column { key: "created", label_key: "field.created_at", class: "wide", default: false },
];

/// The cookie that keeps a browser's choice of columns.
const COLUMNS_COOKIE: &str = "tessera_columns";

/// The columns chosen in this browser (the defaults when it chose none, or only unknown ones).
fn chosen_columns(headers: &HeaderMap) -> Vec<&'static Column> {
    let chosen: Vec<&'static Column> = super::cookie_value(headers, COLUMNS_COOKIE)
        .map(|v| COLUMNS.iter().filter(|c| v.split('.').any(|k| k == c.key)).collect())
        .unwrap_or_default();
    if chosen.is_empty() { COLUMNS.iter().filter(|c| c.default).collect() } else { chosen }
}

/// A filter parameter of the list; `owner` is the older name of `owner_id`.
const FILTERS: &[&str] =
    &["q", "level", "status", "industry", "region", "source", "tag", "owner_id", "mine", "sort", "desc"];

/// The list's filters, in the API's words, from the page's query string.
fn filters_of(raw: &FormFields) -> Vec<(&'static str, String)> {
    FILTERS
        .iter()
        .filter_map(|key| {
            let value = raw.opt(key).or_else(|| (*key == "owner_id").then(|| raw.opt("owner")).flatten());
            let value = match *key {
                "mine" => value.filter(|v| v == "1" || v == "true").map(|_| "true".to_owned()),
                "desc" => value.and_then(|v| match v.as_str() {
                    "1" | "true" => Some("true".to_owned()),
                    "0" | "false" => Some("false".to_owned()),
                    _ => None,
                }),
                _ => value,
            };
            value.map(|v| (*key, v))
        })
        .collect()
}

pub struct CustomerRow {
    pub id: Id,
    pub name: String,
    /// The chosen columns' cells: (class, text).
    pub cells: Vec<(&'static str, String)>,
    pub pending: bool,
}

/// A saved view in the bar above the list.
pub struct ViewLink {
    pub id: Id,
    pub name: String,
    pub shared: bool,
    pub active: bool,
    /// The user may delete it (their own, or any shared one for an administrator).
    pub deletable: bool,
}

/// A column in the chooser.
pub struct ColumnChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub chosen: bool,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<CustomerRow>,
    headings: Vec<(&'static str, &'static str)>,
    column_choices: Vec<ColumnChoice>,
    views: Vec<ViewLink>,
    /// The current filters as a query string, what "save this view" keeps.
    view_query: String,
    q: String,
    mine: bool,
    /// The chosen order: none for the sort field's own (newest first for dates).
    desc: Option<bool>,
    levels: Vec<Choice>,
    statuses: Vec<Choice>,
    industries: Vec<Choice>,
    sorts: Vec<Choice>,
    next_link: Option<String>,
    first_link: Option<String>,
    may_transfer: bool,
    may_edit: bool,
    may_create: bool,
    colleagues: Vec<Choice>,
    owners: Vec<Choice>,
    bulk_levels: Vec<Choice>,
    bulk_statuses: Vec<Choice>,
    bulk_industries: Vec<Choice>,
    bulk_regions: Vec<Choice>,
    bulk_sources: Vec<Choice>,
    export_link: String,
    error: Option<String>,
    /// The bulk form as it was posted, when it is shown again after a refusal.
    bulk: FormFields,
}

impl ListPage {
    fn any_bulk(&self) -> bool {
        self.may_transfer || self.may_edit
    }

    fn no_view_active(&self) -> bool {
        self.views.iter().all(|v| !v.active)
    }

    fn column_count(&self) -> usize {
        self.headings.len() + 1 + usize::from(self.any_bulk())
    }
}

/// What a list page shows besides its filters: a refusal of a bulk form, and that form.
#[derive(Default)]
struct Outcome {
    error: Option<String>,
    bulk: FormFields,
}

const SORTS: &[(&str, &str)] = &[
    ("created", "customers.sort_created"),
    ("updated", "customers.sort_updated"),
    ("name", "customers.sort_name"),
    ("code", "customers.sort_code"),
    ("next_follow_up", "customers.sort_next"),
    ("last_followed_up", "customers.sort_last"),
];

async fn list_page(
    state: &AppState,
    viewer: Viewer,
    headers: &HeaderMap,
    raw: &FormFields,
    outcome: Outcome,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let saved = views::list(&state.store, &viewer.access).await?;
    let (view_id, filters) = match raw.opt("view") {
        Some(id) => {
            let view = saved.iter().find(|v| v.id.to_string() == id).ok_or(Error::NotFound("view"))?;
            (Some(view.id), filters_of(&FormFields::from_query(Some(&view.query))))
        }
        None => (None, filters_of(raw)),
    };
    let view_query = serde_urlencoded::to_string(&filters).unwrap_or_default();
    let mut query: CustomerQuery = serde_urlencoded::from_str(&view_query).map_err(|_| {
        Error::invalid("query", "the list's filters are not ones it knows; start again from the customer list")
    })?;
    query.cursor = raw.opt("cursor");
    query.limit = Some(50);
    let page = customers::list(&state.store, &viewer.access, &query).await?;
    let options = options::list(&state.store, org_id, None).await?;
    let people = users::colleagues(&state.store, org_id).await?;
    let names: HashMap<Id, &str> = people.iter().map(|u| (u.id, u.display_name.as_str())).collect();
    let may_transfer = viewer.access.scope("customers", Action::Transfer).is_some();
    let may_edit = viewer.access.scope("customers", Action::Edit).is_some();
    let may_create = viewer.access.scope("customers", Action::Create).is_some();
    let is_admin = viewer.is_admin();
    let me = viewer.user_id();
    let title = lang.t("customers.title");
    let chrome = viewer.chrome(title, "/customers");
    let columns = chosen_columns(headers);
    let rows = page
        .items
        .iter()
        .map(|c| CustomerRow {
            id: c.id,
            name: c.name.clone(),
            cells: columns
                .iter()
                .map(|col| {
                    let text = match col.key {
                        "code" => c.code.clone(),
                        "level" => label_of(&options, "level", lang, &c.level),
                        "status" => label_of(&options, "status", lang, &c.status),
                        "industry" => label_of(&options, "industry", lang, &c.industry),
                        "region" => label_of(&options, "region", lang, &c.region),
                        "source" => label_of(&options, "source", lang, &c.source),
                        "tags" => c.tags.join(", "),
                        "phone" => c.phones.first().map(|p| p.number.clone()).unwrap_or_default(),
                        "owner" => c.owner_id.and_then(|o| names.get(&o).map(|n| (*n).to_owned())).unwrap_or_default(),
                        "last" => chrome.day_opt(&c.last_followed_up_at),
                        "next" => chrome.day_opt(&c.next_follow_up_at),
                        "created" => chrome.day_opt(&Some(c.created_at.clone())),
                        _ => String::new(),
                    };
                    (col.class, text)
                })
                .collect(),
            pending: c.approval_state == "pending",
        })
        .collect();
    let link = |extra: Option<(&'static str, String)>| {
        let mut params: Vec<(&str, String)> = match view_id {
            Some(id) => vec![("view", id.to_string())],
            None => filters.clone(),
        };
        params.extend(extra);
        format!("/customers?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    };
    let next_link = page.next_cursor.as_ref().map(|cursor| link(Some(("cursor", cursor.clone()))));
    let first_link = raw.opt("cursor").map(|_| link(None));
    let mut export: Vec<(&str, String)> = filters.iter().filter(|(k, _)| *k != "mine").cloned().collect();
    if query.mine == Some(true) {
        export.push(("owner_id", me.to_string()));
    }
    let export_link =
        format!("/api/v1/customers/export/csv?{}", serde_urlencoded::to_string(&export).unwrap_or_default());
    let colleagues = people
        .iter()
        .filter(|u| u.active)
        .map(|u| Choice { value: u.id.to_string(), label: u.display_name.clone(), selected: false })
        .collect();
    // Former colleagues stay in the owner filter: their customers are the ones to hand over.
    let owners = people
        .iter()
        .map(|u| Choice {
            value: u.id.to_string(),
            label: u.display_name.clone(),
            selected: query.owner_id == Some(u.id),
        })
        .collect();
    let failed = outcome.error.is_some();
    let bulk = &outcome.bulk;
    let sort = query.sort.map(|s| format!("{s:?}")).unwrap_or_default();
    let page = ListPage {
        rows,
        headings: columns.iter().map(|c| (c.class, lang.t(c.label_key))).collect(),
        column_choices: COLUMNS
            .iter()
            .map(|c| ColumnChoice {
                key: c.key,
                label: lang.t(c.label_key),
                chosen: columns.iter().any(|k| k.key == c.key),
            })
            .collect(),
        views: saved
            .iter()
            .map(|v| ViewLink {
                id: v.id,
                name: v.name.clone(),
                shared: v.shared,
                active: view_id == Some(v.id),
                deletable: v.user_id == me || (v.shared && is_admin),
            })
            .collect(),
        view_query,
        q: query.q.clone().unwrap_or_default(),
        mine: query.mine == Some(true),
        desc: query.desc,
        levels: choices(&options, "level", lang, query.level.as_deref().unwrap_or("")),
        statuses: choices(&options, "status", lang, query.status.as_deref().unwrap_or("")),
        industries: choices(&options, "industry", lang, query.industry.as_deref().unwrap_or("")),
        sorts: SORTS
            .iter()
            .map(|(value, key)| Choice {
                value: (*value).to_owned(),
                label: lang.t(key).to_owned(),
                selected: sort.eq_ignore_ascii_case(&value.replace('_', "")),
            })
            .collect(),
        next_link,
        first_link,
        may_transfer,
        may_edit,
        may_create,
        colleagues,
        owners,
        bulk_levels: choices(&options, "level", lang, bulk.get("set_level")),
        bulk_statuses: choices(&options, "status", lang, bulk.get("set_status")),
        bulk_industries: choices(&options, "industry", lang, bulk.get("set_industry")),
        bulk_regions: choices(&options, "region", lang, bulk.get("set_region")),
        bulk_sources: choices(&options, "source", lang, bulk.get("set_source")),
        export_link,
        error: outcome.error,
        bulk: outcome.bulk,
        chrome,
    };
    Ok(render_with(if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &page))
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let filters = FormFields::from_query(raw.as_deref());
    match list_page(&state, viewer, &headers, &filters, Outcome::default()).await {
        // A cursor or filter the list refuses (a stale link) shows the first page instead.
        Err(UiError::Page { status: StatusCode::UNPROCESSABLE_ENTITY, .. }) if filters.opt("cursor").is_some() => {
            Ok(see_other("/customers"))
        }
        other => other,
    }
}

/// Tags as typed: separated by commas, Chinese or not.
pub(super) fn tag_list(typed: &str) -> Vec<String> {
    typed.split([',', '，']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// The selected customers of a bulk form, and where the list was.
fn selection(form: &FormFields) -> Result<(Vec<Id>, String), Error> {
    let mut ids = Vec::new();
    for raw in form.all("ids") {
        ids.push(raw.parse::<Id>().map_err(|_| Error::invalid("ids", "a selected customer id is not a number"))?);
    }
    Ok((ids, super::local_path(form.get("back")).to_owned()))
}

/// Goes back to the list with a notice, or shows it again with the refusal of a bulk form.
async fn after_bulk(
    state: &AppState,
    viewer: Viewer,
    headers: &HeaderMap,
    form: FormFields,
    result: Result<(), Error>,
    notice: &str,
) -> Result<Response, UiError> {
    let back = super::local_path(form.get("back")).to_owned();
    match result {
        Ok(()) => {
            let sep = if back.contains('?') { '&' } else { '?' };
            Ok(see_other(&format!("{back}{sep}notice={notice}")))
        }
        Err(Error::Invalid { message, .. } | Error::Forbidden(message) | Error::Conflict(message)) => {
            let filters = FormFields::from_query(back.split_once('?').map(|(_, q)| q));
            list_page(state, viewer, headers, &filters, Outcome { error: Some(message), bulk: form }).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Transfers the selected customers to a colleague, then shows the list again.
pub async fn transfer(State(state): State<AppState>, headers: HeaderMap, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let (ids, back) = selection(&form)?;
    let result = if ids.is_empty() {
        Err(Error::invalid("ids", viewer.lang().t("customers.transfer_none")))
    } else {
        match form.get("to_user_id").parse::<Id>() {
            Ok(to_user_id) => {
                let req = TransferRequest {
                    customer_ids: ids.clone(),
                    from_user_id: None,
                    to_user_id,
                    reason: form.get("reason").to_owned(),
                };
                operations::transfer(&state.store, &viewer.access, &req).await.map(|_| ())
            }
            Err(_) => Err(Error::invalid("to_user_id", viewer.lang().t("customers.choose_colleague"))),
        }
    };
    // Handing over one's own customer from its page can put it out of one's sight.
    let on_its_page = ids.len() == 1 && back == format!("/customers/{}", ids[0]);
    if result.is_ok()
        && on_its_page
        && customers::get(&state.store, &viewer.access, ids[0], Action::Read).await.is_err()
    {
        return Ok(see_other("/customers?notice=customers.transferred"));
    }
    after_bulk(&state, viewer, &headers, form, result, "customers.transferred").await
}

/// Changes level, status, industry, region, source or tags of the selected customers at once.
pub async fn batch_edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted,
) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let (ids, _) = selection(&form)?;
    let tags = |name| tag_list(form.get(name));
    let edit = BatchEdit {
        customer_ids: ids.clone(),
        category: None,
        level: form.opt("set_level"),
        status: form.opt("set_status"),
        industry: form.opt("set_industry"),
        region: form.opt("set_region"),
        source: form.opt("set_source"),
        add_tags: tags("add_tags"),
        remove_tags: tags("remove_tags"),
    };
    let nothing = edit.level.is_none()
        && edit.status.is_none()
        && edit.industry.is_none()
        && edit.region.is_none()
        && edit.source.is_none()
        && edit.add_tags.is_empty()
        && edit.remove_tags.is_empty();
    let result = if ids.is_empty() {
        Err(Error::invalid("ids", viewer.lang().t("customers.transfer_none")))
    } else if nothing {
        Err(Error::invalid("set_level", viewer.lang().t("customers.edit_nothing")))
    } else {
        operations::batch_edit(&state.store, &viewer.access, &edit).await.map(|_| ())
    };
    after_bulk(&state, viewer, &headers, form, result, "customers.bulk_edited").await
}

/// Shares the selected customers with a colleague.
pub async fn bulk_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted,
) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let (ids, _) = selection(&form)?;
    let level = if form.get("share_level") == "edit" { ShareLevel::Edit } else { ShareLevel::Read };
    let result = if ids.is_empty() {
        Err(Error::invalid("ids", viewer.lang().t("customers.transfer_none")))
    } else {
        match form.get("share_user_id").parse::<Id>() {
            Ok(user_id) => operations::share_many(
                &state.store,
                &viewer.access,
                &ids,
                &NewShare { user_id: Some(user_id), department_id: None, level },
            )
            .await
            .map(|_| ()),
            Err(_) => Err(Error::invalid("share_user_id", viewer.lang().t("customers.choose_colleague"))),
        }
    };
    after_bulk(&state, viewer, &headers, form, result, "customers.bulk_shared").await
}

/// Saves the current filters as a named view.
pub async fn save_view(State(state): State<AppState>, headers: HeaderMap, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let new = NewView {
        name: form.get("name").to_owned(),
        query: form.get("query").to_owned(),
        shared: form.get("shared") == "1",
    };
    match views::create(&state.store, &viewer.access, &new).await {
        Ok(view) => Ok(see_other(&format!("/customers?view={}&notice=customers.view_saved", view.id))),
        Err(Error::Invalid { message, .. } | Error::Conflict(message)) => {
            let filters = FormFields::from_query(Some(form.get("query")));
            list_page(&state, viewer, &headers, &filters, Outcome { error: Some(message), bulk: form }).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes a saved view.
pub async fn delete_view(
    State(state): State<AppState>,
    Path(id): Path<Id>,
    posted: Posted,
) -> Result<Response, UiError> {
    views::delete(&state.store, &posted.viewer.access, id).await?;
    Ok(see_other("/customers?notice=customers.view_deleted"))
}

/// Keeps this browser's choice of columns, then goes back to the list.
pub async fn choose_columns(posted: Posted) -> Result<Response, UiError> {
    let form = posted.form;
    let keys: Vec<&str> = COLUMNS.iter().filter(|c| form.all("columns").any(|k| k == c.key)).map(|c| c.key).collect();
    let mut resp = see_other(super::local_path(form.get("back")));
    // A year; choosing none goes back to the defaults.
    let cookie = format!("{COLUMNS_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", keys.join("."));
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Template)]
#[template(path = "customer_new.html")]
struct NewPage {
    chrome: Chrome,
    /// The values as typed.
    form: FormFields,
    /// A new customer's one phone is always typed here (see `customer_fields.html`).
    phone_editable: bool,
    phones: String,
    levels: Vec<Choice>,
    statuses: Vec<Choice>,
    sources: Vec<Choice>,
    industries: Vec<Choice>,
    regions: Vec<Choice>,
    custom: Vec<CustomInput>,
    error: Option<String>,
    error_field: String,
}

async fn new_page(
    state: &AppState,
    viewer: Viewer,
    fields: &FormFields,
    error: Option<(String, Option<&'static str>)>,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let options = options::list(&state.store, viewer.org_id(), None).await?;
    let custom_fields = customers::fields::list(&state.store, viewer.org_id()).await?;
    let people = users::colleagues(&state.store, viewer.org_id()).await?;
    let chrome = viewer.chrome(lang.t("customers.new"), "/customers");
    let failed = error.is_some();
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f.unwrap_or("").to_owned()),
        None => (None, String::new()),
    };
    let page = NewPage {
        chrome,
        form: fields.clone(),
        phone_editable: true,
        phones: String::new(),
        levels: choices(&options, "level", lang, fields.get("level")),
        statuses: choices(&options, "status", lang, fields.get("status")),
        sources: choices(&options, "source", lang, fields.get("source")),
        industries: choices(&options, "industry", lang, fields.get("industry")),
        regions: choices(&options, "region", lang, fields.get("region")),
        custom: custom_inputs::inputs(&custom_fields, fields, lang, &people),
        error,
        error_field,
    };
    Ok(render_with(if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &page))
}

pub async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    viewer.access.require("customers", Action::Create, crate::access::Scope::Own)?;
    new_page(&state, viewer, &FormFields::default(), None).await
}

pub async fn create(State(state): State<AppState>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let custom_fields = customers::fields::list(&state.store, viewer.org_id()).await?;
    let custom = match custom_inputs::read(&custom_fields, &form, viewer.lang(), false) {
        Ok(custom) => custom,
        Err(Error::Invalid { message, field }) => return new_page(&state, viewer, &form, Some((message, field))).await,
        Err(e) => return Err(e.into()),
    };
    let input = NewCustomer {
        custom: (!custom.is_empty()).then_some(custom),
        name: form.get("name").to_owned(),
        kind: form.opt("kind"),
        level: form.opt("level"),
        status: form.opt("status"),
        source: form.opt("source"),
        industry: form.opt("industry"),
        region: form.opt("region"),
        address: form.opt("address"),
        website: form.opt("website"),
        tags: tag_list(form.get("tags")),
        notes: form.get("notes").to_owned(),
        phones: form.opt("phone").map(|number| vec![PhoneInput { label: "office".into(), number }]).unwrap_or_default(),
        ..Default::default()
    };
    if input.name.is_empty() {
        let message = format!("{}: {}", viewer.lang().t("field.name"), viewer.lang().t("form.required"));
        return new_page(&state, viewer, &form, Some((message, Some("name")))).await;
    }
    match customers::create(&state.store, &viewer.access, &input).await {
        Ok(c) => Ok(see_other(&format!("/customers/{}?notice=customers.created", c.id))),
        Err(Error::Invalid { message, field }) => new_page(&state, viewer, &form, Some((message, field))).await,
        Err(e) => Err(e.into()),
    }
}

pub struct ContactRow {
    pub name: String,
    pub title: String,
    pub phones: String,
    pub email: String,
    pub reports_to: String,
    /// Depth in the customer's org chart, for indenting.
    pub depth: usize,
}

pub struct ActivityRow {
    pub kind: &'static str,
    pub subject: String,
    pub content: String,
    pub result: String,
    pub when: String,
    pub by: String,
    pub next: String,
}

/// The follow-up form's values, as typed.
#[derive(Default)]
pub struct FollowUpForm {
    pub kind: String,
    pub subject: String,
    pub content: String,
    pub result: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct ShowPage {
    chrome: Chrome,
    id: Id,
    name: String,
    code: String,
    pending: bool,
    card: Vec<(&'static str, String)>,
    /// The organisation's custom fields that have a value: label and text.
    custom_card: Vec<(String, String)>,
    contacts: Vec<ContactRow>,
    timeline: Vec<ActivityRow>,
    panels: Vec<PanelView>,
    kinds: Vec<Choice>,
    follow_up: FollowUpForm,
    follow_up_error: Option<String>,
    may_follow_up: bool,
    /// Colleagues the customer may be handed to, when the user may transfer it.
    transfer_to: Vec<Choice>,
    /// Whether the user may edit it (and so share it and merge duplicates into it).
    may_edit: bool,
    shares: Vec<ShareRow>,
    share_with: Vec<Choice>,
    duplicates: Vec<DuplicateRow>,
}

pub struct ShareRow {
    pub id: Id,
    pub who: String,
    pub level: &'static str,
}

pub struct DuplicateRow {
    pub id: Id,
    pub name: String,
    pub code: String,
    pub reasons: String,
}

/// Contacts in org-chart order: each after the one they report to, indented below them.
fn org_chart(list: &[contacts::Contact]) -> Vec<(usize, &contacts::Contact)> {
    let ids: std::collections::HashSet<Id> = list.iter().map(|c| c.id).collect();
    let mut out = Vec::with_capacity(list.len());
    fn walk<'a>(
        parent: Option<Id>,
        depth: usize,
        list: &'a [contacts::Contact],
        ids: &std::collections::HashSet<Id>,
        out: &mut Vec<(usize, &'a contacts::Contact)>,
    ) {
        for c in list {
            let boss = c.reports_to_id.filter(|b| ids.contains(b) && *b != c.id);
            if boss == parent && depth < 8 && !out.iter().any(|(_, o): &(usize, &contacts::Contact)| o.id == c.id) {
                out.push((depth, c));
                walk(Some(c.id), depth + 1, list, ids, out);
            }
        }
    }
    walk(None, 0, list, &ids, &mut out);
    // Whatever a reporting loop left out still shows, unindented.
    for c in list {
        if !out.iter().any(|(_, o)| o.id == c.id) {
            out.push((0, c));
        }
    }
    out
}

async fn show_page(
    state: &AppState,
    viewer: Viewer,
    id: Id,
    follow_up: FollowUpForm,
    follow_up_error: Option<String>,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let c: Customer = customers::get(&state.store, &viewer.access, id, Action::Read).await?;
    let contact_list = contacts::list_for_customer(&state.store, &viewer.access, id).await?;
    let activities =
        activities::timeline(&state.store, &viewer.access, id, &TimelineQuery { before_id: None, limit: Some(50) })
            .await?;
    let options = options::list(&state.store, org_id, None).await?;
    let people = users::colleagues(&state.store, org_id).await?;
    let names: HashMap<Id, &str> = people.iter().map(|u| (u.id, u.display_name.as_str())).collect();
    let name_of = |id: Option<Id>| id.and_then(|i| names.get(&i).map(|n| (*n).to_owned())).unwrap_or_default();
    let may_follow_up = viewer.access.allows("activities", Action::Create, &c.scope(org_id));
    let transfer_to = if viewer.access.allows("customers", Action::Transfer, &c.scope(org_id)) {
        people
            .iter()
            .filter(|u| u.active && Some(u.id) != c.owner_id)
            .map(|u| Choice { value: u.id.to_string(), label: u.display_name.clone(), selected: false })
            .collect()
    } else {
        Vec::new()
    };
    let mut panels = Vec::new();
    let admin = viewer.is_admin();
    for active in state.plugins.registry.active_in(org_id) {
        let m = &active.loaded.manifest;
        for panel in m.panels.iter().filter(|p| m.shows(&p.id, admin)) {
            panels
                .push(blocks::render_target(state, &active, &viewer, blocks::Target::plain(&panel.id, Some(id))).await);
        }
    }
    let may_edit = customers::get(&state.store, &viewer.access, id, Action::Edit).await.is_ok();
    let (shares, share_with, duplicates) = if may_edit {
        let shares = operations::list_shares(&state.store, &viewer.access, id).await?;
        let probe = operations::DuplicateProbe {
            name: Some(c.name.clone()),
            phones: c.phones.iter().map(|p| p.canonical.clone()).collect(),
            tax_id: c.tax_id.clone(),
            exclude_id: Some(id),
        };
        let candidates = operations::find_duplicates(&state.store, &viewer.access, &probe).await?;
        let share_rows = shares
            .iter()
            .filter_map(|s| {
                Some(ShareRow {
                    id: s.id,
                    who: name_of(Some(s.user_id?)),
                    level: if s.level == ShareLevel::Edit { "customer.share_edit" } else { "customer.share_read" },
                })
            })
            .collect();
        let with = people
            .iter()
            .filter(|u| u.active && Some(u.id) != c.owner_id && !shares.iter().any(|s| s.user_id == Some(u.id)))
            .map(|u| Choice { value: u.id.to_string(), label: u.display_name.clone(), selected: false })
            .collect();
        let dups = candidates
            .iter()
            .map(|d| DuplicateRow {
                id: d.customer.id,
                name: d.customer.name.clone(),
                code: d.customer.code.clone(),
                reasons: d
                    .reasons
                    .iter()
                    .map(|r| match r.as_str() {
                        "name" => lang.t("customer.same_name"),
                        "phone" => lang.t("customer.same_phone"),
                        _ => lang.t("customer.same_tax_id"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        (share_rows, with, dups)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let chrome = viewer.chrome(&c.name, "/customers");
    let mut card: Vec<(&'static str, String)> = vec![
        ("field.kind", lang.t(if c.kind == "person" { "field.kind.person" } else { "field.kind.company" }).to_owned()),
        ("field.level", label_of(&options, "level", lang, &c.level)),
        ("field.status", label_of(&options, "status", lang, &c.status)),
        ("field.source", label_of(&options, "source", lang, &c.source)),
        ("field.industry", label_of(&options, "industry", lang, &c.industry)),
        ("field.region", label_of(&options, "region", lang, &c.region)),
        ("field.phones", c.phones.iter().map(|p| p.number.clone()).collect::<Vec<_>>().join(", ")),
        ("field.address", c.address.clone().unwrap_or_default()),
        ("field.website", c.website.clone().unwrap_or_default()),
        ("field.tags", c.tags.join(", ")),
        ("field.owner", name_of(c.owner_id)),
        ("field.last_follow_up", chrome.when_opt(&c.last_followed_up_at)),
        ("field.next_follow_up", chrome.day_opt(&c.next_follow_up_at)),
        ("field.created_at", chrome.when(&c.created_at)),
    ];
    if let Some(limit) = c.credit_limit {
        card.push(("field.credit_limit", lang.money(limit)));
    }
    if !c.notes.is_empty() {
        card.push(("field.notes", c.notes.clone()));
    }
    card.retain(|(_, v)| !v.is_empty());
    let custom_fields = customers::fields::list(&state.store, org_id).await?;
    let custom_card = custom_inputs::card(&custom_fields, &c.custom, lang, &people);
    let contact_names: HashMap<Id, &str> = contact_list.iter().map(|x| (x.id, x.name.as_str())).collect();
    let contacts = org_chart(&contact_list)
        .into_iter()
        .map(|(depth, x)| ContactRow {
            name: x.name.clone(),
            title: x.title.clone().unwrap_or_default(),
            phones: x.phones.iter().map(|p| p.number.clone()).collect::<Vec<_>>().join(", "),
            email: x.email.clone().unwrap_or_default(),
            reports_to: x
                .reports_to_id
                .and_then(|r| contact_names.get(&r).map(|n| (*n).to_owned()))
                .unwrap_or_default(),
            depth: depth.min(4),
        })
        .collect();
    let timeline = activities
        .iter()
        .map(|a| ActivityRow {
            kind: activity_kind_key(&a.kind),
            subject: a.subject.clone(),
            content: a.content.clone(),
            result: a.result.clone(),
            when: chrome.when(&a.occurred_at),
            by: name_of(a.owner_id),
            next: a.next_follow_up_at.as_ref().map(|n| lang.date(n, &chrome.tz)).unwrap_or_default(),
        })
        .collect();
    let selected = if follow_up.kind.is_empty() { "call" } else { follow_up.kind.as_str() };
    let kinds = activities::KINDS
        .iter()
        .map(|k| Choice { value: (*k).into(), label: lang.t(activity_kind_key(k)).into(), selected: *k == selected })
        .collect();
    let failed = follow_up_error.is_some();
    let page = ShowPage {
        chrome,
        id: c.id,
        name: c.name.clone(),
        code: c.code.clone(),
        pending: c.approval_state == "pending",
        card,
        custom_card,
        contacts,
        timeline,
        panels,
        kinds,
        follow_up,
        follow_up_error,
        may_follow_up,
        transfer_to,
        may_edit,
        shares,
        share_with,
        duplicates,
    };
    Ok(render_with(if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &page))
}

fn activity_kind_key(kind: &str) -> &'static str {
    match kind {
        "call" => "activity.kind.call",
        "visit" => "activity.kind.visit",
        "email" => "activity.kind.email",
        "meeting" => "activity.kind.meeting",
        _ => "activity.kind.note",
    }
}

pub async fn show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    let id = id.parse::<Id>().map_err(|_| UiError::status(StatusCode::NOT_FOUND, "error.not_found"))?;
    show_page(&state, viewer, id, FollowUpForm::default(), None).await
}

/// The day a follow-up is due, as 09:00 that day in the organisation's time zone.
fn due_at(day: &str, tz: &jiff::tz::TimeZone) -> Result<Option<String>, Error> {
    if day.is_empty() {
        return Ok(None);
    }
    let date: jiff::civil::Date = day
        .parse()
        .map_err(|_| Error::invalid("next_follow_up_at", format!("{day:?} is not a date such as 2026-12-24")))?;
    let zoned = date
        .at(9, 0, 0, 0)
        .to_zoned(tz.clone())
        .map_err(|_| Error::invalid("next_follow_up_at", format!("{day:?} is not a date such as 2026-12-24")))?;
    Ok(Some(zoned.timestamp().to_string()))
}

pub async fn follow_up(State(state): State<AppState>, Path(id): Path<Id>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let typed = FollowUpForm {
        kind: form.get("kind").to_owned(),
        subject: form.get("subject").to_owned(),
        content: form.get("content").to_owned(),
        result: form.get("result").to_owned(),
        next: form.get("next").to_owned(),
    };
    let saved = async {
        let input = NewActivity {
            kind: typed.kind.clone(),
            subject: typed.subject.clone(),
            content: typed.content.clone(),
            result: typed.result.clone(),
            next_follow_up_at: due_at(&typed.next, &viewer.chrome.tz)?,
            ..Default::default()
        };
        activities::create(&state.store, &viewer.access, id, &input).await
    }
    .await;
    match saved {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?notice=customer.follow_up_saved"))),
        Err(Error::Invalid { message, .. }) => show_page(&state, viewer, id, typed, Some(message)).await,
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_up_days_are_due_at_nine_in_the_morning_locally() {
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        assert_eq!(due_at("2026-12-24", &shanghai).expect("date").as_deref(), Some("2026-12-24T01:00:00Z"));
        assert_eq!(due_at("", &shanghai).expect("empty"), None);
        assert!(matches!(due_at("24/12/2026", &shanghai), Err(Error::Invalid { .. })));
    }
}
