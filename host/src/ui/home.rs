//! The home dashboard: my follow-ups due this week, approvals waiting for me, recent
//! notifications, my customers by level, and the widgets of enabled plugins.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::blocks::{self, BlockView, PanelView};
use super::{Chrome, UiError, Viewer, charts, render};
use crate::customers::analysis::{self, CompositionBy};
use crate::customers::{self, CustomerQuery, SortField};
use crate::notifications::{self, InboxQuery};
use crate::store::Id;
use crate::web::AppState;
use crate::workflow::instances::{self, ApprovalQuery};

pub struct DueRow {
    pub id: Id,
    pub name: String,
    pub due: String,
    pub overdue: bool,
}

pub struct ApprovalRow {
    pub id: Id,
    pub title: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    due: Vec<DueRow>,
    approvals: Vec<ApprovalRow>,
    recent: Vec<super::notifications::Row>,
    levels_chart: String,
    widgets: Vec<PanelView>,
}

pub async fn home(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let (org_id, user_id) = (viewer.org_id(), viewer.user_id());
    let now = jiff::Timestamp::now();
    let week = now.checked_add(jiff::SignedDuration::from_hours(24 * 7)).unwrap_or(now);
    let due = customers::list(
        &state.store,
        &viewer.access,
        &CustomerQuery {
            owner_id: Some(user_id),
            follow_up_before: Some(week.to_string()),
            sort: Some(SortField::NextFollowUp),
            desc: Some(false),
            limit: Some(10),
            ..Default::default()
        },
    )
    .await?;
    let approvals =
        instances::inbox(&state.store, org_id, user_id, &ApprovalQuery { limit: Some(5), ..Default::default() })
            .await?;
    let recent =
        notifications::inbox(&state.store, user_id, &InboxQuery { limit: Some(8), ..Default::default() }).await?;
    let levels = analysis::composition(&state.store, &viewer.access, CompositionBy::Level).await?;
    let mut widgets = Vec::new();
    let admin = viewer.is_admin();
    for active in state.plugins.registry.active_in(org_id) {
        let m = &active.loaded.manifest;
        for widget in m.widgets.iter().filter(|w| m.shows(&w.id, admin)) {
            widgets
                .push(blocks::render_target(&state, &active, &viewer, blocks::Target::plain(&widget.id, None)).await);
        }
    }
    let chrome = viewer.chrome(lang.t("home.title"), "/");
    let page = HomePage {
        due: due
            .items
            .iter()
            .map(|c| DueRow {
                id: c.id,
                name: c.name.clone(),
                due: chrome.day_opt(&c.next_follow_up_at),
                overdue: c
                    .next_follow_up_at
                    .as_deref()
                    .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|d| d < now),
            })
            .collect(),
        approvals: approvals
            .items
            .iter()
            .map(|a| ApprovalRow { id: a.id, title: a.title.clone(), since: chrome.when(&a.created_at) })
            .collect(),
        recent: recent.items.iter().map(|n| super::notifications::Row::of(n, &chrome)).collect(),
        levels_chart: charts::bars(
            lang.t("home.by_level"),
            &levels
                .iter()
                .map(|s| {
                    let label = match &s.key {
                        Some(_) => lang.pick(&s.label_en, &s.label_zh).to_owned(),
                        None => lang.t("field.none").to_owned(),
                    };
                    (label, s.count as f64)
                })
                .collect::<Vec<_>>(),
        ),
        widgets,
        chrome,
    };
    Ok(render(&page))
}
