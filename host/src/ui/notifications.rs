//! The notification inbox behind the bell: newest first, read and unread, with the links
//! they point to inside the CRM.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::{Chrome, FormFields, Posted, UiError, Viewer, local_path, render, see_other};
use crate::error::Error;
use crate::notifications::{self, InboxQuery};
use crate::store::Id;
use crate::web::AppState;

/// A notification as the inbox and the home page list it.
pub struct Row {
    pub id: Id,
    pub title: String,
    pub body: String,
    /// A path inside the CRM, or empty.
    pub link: String,
    pub when: String,
    pub unread: bool,
}

impl Row {
    pub fn of(n: &notifications::Notification, chrome: &Chrome) -> Row {
        Row {
            id: n.id,
            title: n.title.clone(),
            body: n.body.clone(),
            link: n.link.as_deref().map(local_path).unwrap_or("").to_owned(),
            when: chrome.when(&n.created_at),
            unread: n.read_at.is_none(),
        }
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct InboxPage {
    chrome: Chrome,
    items: Vec<Row>,
    older: Option<String>,
}

pub async fn inbox(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let q = FormFields::from_query(raw.as_deref());
    let before_id = match q.opt("before") {
        Some(raw) => Some(raw.parse::<Id>().map_err(|_| Error::invalid("before", "not an id"))?),
        None => None,
    };
    let page = notifications::inbox(
        &state.store,
        viewer.user_id(),
        &InboxQuery { before_id, limit: Some(50), ..Default::default() },
    )
    .await?;
    let title = viewer.lang().t("notifications.title");
    let chrome = viewer.chrome(title, "/notifications");
    let items = page.items.iter().map(|n| Row::of(n, &chrome)).collect();
    let older = page.next_before_id.map(|id| format!("/notifications?before={id}"));
    Ok(render(&InboxPage { chrome, items, older }))
}

pub async fn read_all(State(state): State<AppState>, posted: Posted) -> Result<Response, UiError> {
    notifications::mark_all_read(&state.store, posted.viewer.user_id()).await?;
    Ok(see_other("/notifications"))
}

pub async fn read_one(State(state): State<AppState>, Path(id): Path<Id>, posted: Posted) -> Result<Response, UiError> {
    notifications::mark(&state.store, posted.viewer.user_id(), id, true).await?;
    Ok(see_other("/notifications"))
}
