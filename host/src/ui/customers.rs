//! The customer pages: the list (quick search by name, pinyin initials, code or phone;
//! filters; bulk transfer; export), a new customer, and the customer's 360° page with its card,
//! contacts, timeline, follow-up form and the panels of enabled plugins.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::blocks::BlockView;
use super::blocks::{self, PanelView};
use super::{Choice, Chrome, FormFields, Lang, Posted, UiError, Viewer, render_with, see_other};
use crate::access::{Action, ShareLevel};
use crate::customers::activities::{self, NewActivity, TimelineQuery};
use crate::customers::operations::{self, TransferRequest};
use crate::customers::options::{self, OptionItem};
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

pub struct CustomerRow {
    pub id: Id,
    pub code: String,
    pub name: String,
    pub level: String,
    pub status: String,
    pub owner: String,
    pub last: String,
    pub next: String,
    pub pending: bool,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<CustomerRow>,
    q: String,
    mine: bool,
    levels: Vec<Choice>,
    statuses: Vec<Choice>,
    next_link: Option<String>,
    first_link: Option<String>,
    may_transfer: bool,
    may_create: bool,
    colleagues: Vec<Choice>,
    owners: Vec<Choice>,
    export_link: String,
    error: Option<String>,
    reason: String,
}

async fn list_page(
    state: &AppState,
    viewer: Viewer,
    filters: &FormFields,
    error: Option<String>,
    reason: String,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let mine = filters.get("mine") == "1";
    let owner = match filters.opt("owner") {
        Some(raw) => Some(raw.parse::<Id>().map_err(|_| Error::invalid("owner", "the owner is a user id"))?),
        None => None,
    };
    let query = CustomerQuery {
        q: filters.opt("q"),
        level: filters.opt("level"),
        status: filters.opt("status"),
        owner_id: if mine { Some(viewer.user_id()) } else { owner },
        cursor: filters.opt("cursor"),
        limit: Some(50),
        ..Default::default()
    };
    let page = customers::list(&state.store, &viewer.access, &query).await?;
    let options = options::list(&state.store, org_id, None).await?;
    let people = users::colleagues(&state.store, org_id).await?;
    let names: HashMap<Id, &str> = people.iter().map(|u| (u.id, u.display_name.as_str())).collect();
    let may_transfer = viewer.access.scope("customers", Action::Transfer).is_some();
    let may_create = viewer.access.scope("customers", Action::Create).is_some();
    let title = lang.t("customers.title");
    let chrome = viewer.chrome(title, "/customers");
    let rows = page
        .items
        .iter()
        .map(|c| CustomerRow {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            level: label_of(&options, "level", lang, &c.level),
            status: label_of(&options, "status", lang, &c.status),
            owner: c.owner_id.and_then(|o| names.get(&o).map(|n| (*n).to_owned())).unwrap_or_default(),
            last: chrome.day_opt(&c.last_followed_up_at),
            next: chrome.day_opt(&c.next_follow_up_at),
            pending: c.approval_state == "pending",
        })
        .collect();
    let mut kept: Vec<(&str, String)> = Vec::new();
    for key in ["q", "level", "status", "owner", "mine"] {
        if let Some(v) = filters.opt(key) {
            kept.push((key, v));
        }
    }
    let next_link = page.next_cursor.as_ref().map(|cursor| {
        let mut params = kept.clone();
        params.push(("cursor", cursor.clone()));
        format!("/customers?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    });
    let mut export: Vec<(&str, String)> =
        kept.iter().filter(|(k, _)| !matches!(*k, "mine" | "owner")).cloned().collect();
    if let Some(owner) = query.owner_id {
        export.push(("owner_id", owner.to_string()));
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
        .map(|u| Choice { value: u.id.to_string(), label: u.display_name.clone(), selected: owner == Some(u.id) })
        .collect();
    let failed = error.is_some();
    let page = ListPage {
        rows,
        q: filters.get("q").to_owned(),
        mine,
        levels: choices(&options, "level", lang, filters.get("level")),
        statuses: choices(&options, "status", lang, filters.get("status")),
        next_link,
        first_link: filters
            .opt("cursor")
            .map(|_| format!("/customers?{}", serde_urlencoded::to_string(&kept).unwrap_or_default())),
        may_transfer,
        may_create,
        colleagues,
        owners,
        export_link,
        error,
        reason,
        chrome,
    };
    Ok(render_with(if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &page))
}

pub async fn list(State(state): State<AppState>, viewer: Viewer, RawQuery(raw): RawQuery) -> Result<Response, UiError> {
    let filters = FormFields::from_query(raw.as_deref());
    match list_page(&state, viewer, &filters, None, String::new()).await {
        // A cursor or filter the list refuses (a stale link) shows the first page instead.
        Err(UiError::Page { status: StatusCode::UNPROCESSABLE_ENTITY, .. }) if filters.opt("cursor").is_some() => {
            Ok(see_other("/customers"))
        }
        other => other,
    }
}

/// Transfers the selected customers to a colleague, then shows the list again.
pub async fn transfer(State(state): State<AppState>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let back = super::local_path(form.get("back")).to_owned();
    let filters = FormFields::from_query(back.split_once('?').map(|(_, q)| q));
    let mut ids = Vec::new();
    for raw in form.all("ids") {
        ids.push(raw.parse::<Id>().map_err(|_| Error::invalid("ids", "a selected customer id is not a number"))?);
    }
    if ids.is_empty() {
        let message = viewer.lang().t("customers.transfer_none").to_owned();
        return list_page(&state, viewer, &filters, Some(message), form.get("reason").to_owned()).await;
    }
    let to_user_id =
        form.get("to_user_id").parse::<Id>().map_err(|_| Error::invalid("to_user_id", "choose a colleague"));
    let result = match to_user_id {
        Ok(to_user_id) => {
            let req = TransferRequest {
                customer_ids: ids.clone(),
                from_user_id: None,
                to_user_id,
                reason: form.get("reason").to_owned(),
            };
            operations::transfer(&state.store, &viewer.access, &req).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            // Handing over one's own customer from its page can put it out of one's sight.
            let on_its_page = ids.len() == 1 && back == format!("/customers/{}", ids[0]);
            if on_its_page && customers::get(&state.store, &viewer.access, ids[0], Action::Read).await.is_err() {
                return Ok(see_other("/customers?notice=customers.transferred"));
            }
            let sep = if back.contains('?') { '&' } else { '?' };
            Ok(see_other(&format!("{back}{sep}notice=customers.transferred")))
        }
        Err(Error::Invalid { message, .. } | Error::Forbidden(message) | Error::Conflict(message)) => {
            list_page(&state, viewer, &filters, Some(message), form.get("reason").to_owned()).await
        }
        Err(e) => Err(e.into()),
    }
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
    let input = NewCustomer {
        name: form.get("name").to_owned(),
        kind: form.opt("kind"),
        level: form.opt("level"),
        status: form.opt("status"),
        source: form.opt("source"),
        industry: form.opt("industry"),
        region: form.opt("region"),
        address: form.opt("address"),
        website: form.opt("website"),
        tags: form.get("tags").split([',', '，']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
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
    for active in state.plugins.registry.active_in(org_id) {
        for panel in &active.loaded.manifest.panels {
            panels.push(
                blocks::render_target(state, &active, &viewer.access, lang, blocks::Target::plain(&panel.id, Some(id)))
                    .await,
            );
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
