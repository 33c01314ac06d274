//! Plugin pages, customer panels and dashboard widgets, drawn by the host from the blocks a
//! plugin returns. A plugin sends data, never markup: every string goes through the template's
//! escaping, charts are drawn here, and the only links are inside the CRM.

use std::sync::Arc;

use crate::runtime::bindings::tessera::plugin::ui;
use crate::runtime::registry::Active;
use crate::store::Id;
use crate::web::AppState;

/// A button or row action, posted to the plugin's `act`.
pub struct ActionView {
    pub name: String,
    pub label: String,
    /// `primary`, `default` or `danger`.
    pub style: String,
    pub argument: String,
}

/// An input of a plugin form.
pub struct FieldView {
    pub name: String,
    pub label: String,
    /// The HTML input type (`text`, `number`, `date`, `datetime-local`, `checkbox`), or
    /// `textarea` / `select`.
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<super::Choice>,
    pub value: String,
    pub checked: bool,
    pub help: String,
    pub error: Option<String>,
}

pub struct RowView {
    pub id: String,
    pub cells: Vec<String>,
}

pub struct StatView {
    pub label: String,
    pub value: String,
    pub hint: String,
}

/// One block, ready for the template.
pub enum BlockView {
    Heading(String),
    /// The Markdown as safe HTML (`ui::markdown`).
    Text(String),
    KeyValues(Vec<(String, String)>),
    Table {
        columns: Vec<String>,
        rows: Vec<RowView>,
        row_actions: Vec<ActionView>,
        next: Option<String>,
    },
    /// `types` tells the action which fields are numbers or checkboxes (`name:kind,…`).
    Form {
        submit: ActionView,
        fields: Vec<FieldView>,
        types: String,
        /// Sent as `multipart/form-data`: the form has a file field.
        multipart: bool,
    },
    Stats(Vec<StatView>),
    /// Server-drawn SVG, built from escaped text only.
    Chart(String),
    Actions(Vec<ActionView>),
    Notice {
        kind: &'static str,
        text: String,
    },
}

/// A rendered plugin page, panel or widget, or why it could not be drawn.
pub struct PanelView {
    pub plugin: String,
    pub target: String,
    pub title: String,
    pub blocks: Vec<BlockView>,
    /// Where its actions post to.
    pub act_base: String,
    /// The customer of a customer panel, posted back with its actions.
    pub customer_id: String,
    pub failed: Option<String>,
}

fn notice_kind(kind: &str) -> &'static str {
    match kind {
        "success" => "success",
        "warning" => "warning",
        "error" => "error",
        _ => "info",
    }
}

fn action_view(a: &ui::Action) -> ActionView {
    let style = match a.style.as_str() {
        "primary" | "danger" => a.style.clone(),
        _ => "default".into(),
    };
    ActionView { name: a.name.clone(), label: a.label.clone(), style, argument: a.argument.clone().unwrap_or_default() }
}

fn field_view(f: &ui::Field, submitted: Option<&super::FormFields>, errors: &[(String, String)]) -> FieldView {
    let stored = f.value.as_deref().and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok());
    let value = match (submitted, &stored) {
        (Some(form), _) => form.get(&f.name).to_owned(),
        (None, Some(serde_json::Value::String(s))) => s.clone(),
        (None, Some(serde_json::Value::Null) | None) => String::new(),
        (None, Some(v)) => v.to_string(),
    };
    let checked = match submitted {
        Some(form) => !form.get(&f.name).is_empty(),
        None => stored.as_ref().and_then(serde_json::Value::as_bool).unwrap_or(false),
    };
    let kind = match f.kind.as_str() {
        "textarea" => "textarea",
        "number" => "number",
        "date" => "date",
        "datetime" => "datetime-local",
        "select" => "select",
        "checkbox" => "checkbox",
        // The device's position, which the browser fills in (see `app.js`).
        "location" => "location",
        // A file the host stores among the plugin's files before the action runs.
        "file" => "file",
        // A customer or user the page already chose (a panel's own customer) is carried
        // along unseen; otherwise its id is typed.
        "customer" | "user" if !value.is_empty() => "hidden",
        "customer" | "user" => "number",
        _ => "text",
    };
    FieldView {
        name: f.name.clone(),
        label: f.label.clone(),
        kind,
        required: f.required,
        options: f
            .options
            .iter()
            .map(|(v, l)| super::Choice { value: v.clone(), label: l.clone(), selected: *v == value })
            .collect(),
        value,
        checked,
        help: f.help.clone().unwrap_or_default(),
        error: errors.iter().find(|(k, _)| *k == f.name).map(|(_, m)| m.clone()),
    }
}

/// The blocks of a page as the template draws them. `submitted` and `errors` refill a form
/// the plugin refused.
pub fn block_views(
    page: &ui::Page,
    page_link: &str,
    submitted: Option<&super::FormFields>,
    errors: &[(String, String)],
) -> Vec<BlockView> {
    page.blocks
        .iter()
        .map(|b| match b {
            ui::Block::Heading(t) => BlockView::Heading(t.clone()),
            ui::Block::Text(t) => BlockView::Text(super::markdown::to_safe_html(t)),
            ui::Block::KeyValues(kv) => BlockView::KeyValues(kv.clone()),
            ui::Block::Table(t) => BlockView::Table {
                columns: t.columns.iter().map(|c| c.label.clone()).collect(),
                rows: t
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, cells)| RowView {
                        id: t.row_ids.get(i).cloned().unwrap_or_default(),
                        cells: cells.clone(),
                    })
                    .collect(),
                row_actions: t.row_actions.iter().map(action_view).collect(),
                next: t.next.as_ref().map(|cursor| next_link(page_link, cursor)),
            },
            ui::Block::Form(f) => BlockView::Form {
                submit: action_view(&f.submit),
                fields: f.fields.iter().map(|field| field_view(field, submitted, errors)).collect(),
                types: f
                    .fields
                    .iter()
                    .filter(|field| {
                        matches!(field.kind.as_str(), "number" | "customer" | "user" | "checkbox" | "location" | "file")
                    })
                    .map(|field| format!("{}:{}", field.name, field.kind))
                    .collect::<Vec<_>>()
                    .join(","),
                multipart: f.fields.iter().any(|field| field.kind == "file"),
            },
            ui::Block::Stats(stats) => BlockView::Stats(
                stats
                    .iter()
                    .map(|s| StatView {
                        label: s.label.clone(),
                        value: s.value.clone(),
                        hint: s.hint.clone().unwrap_or_default(),
                    })
                    .collect(),
            ),
            ui::Block::Chart(c) => BlockView::Chart(super::charts::chart(&c.kind, &c.labels, &c.series)),
            ui::Block::Actions(actions) => BlockView::Actions(actions.iter().map(action_view).collect()),
            ui::Block::Notice((kind, text)) => BlockView::Notice { kind: notice_kind(kind), text: text.clone() },
        })
        .collect()
}

/// The page's link with its parameters but the cursor, e.g. `/p/orders-to-erp/orders?status=approved`:
/// the next page keeps the filters the user chose.
fn page_link(base: &str, params: &[(String, String)]) -> String {
    let kept: Vec<&(String, String)> = params.iter().filter(|(name, _)| name != "cursor").collect();
    if kept.is_empty() {
        return base.to_owned();
    }
    format!("{base}?{}", serde_urlencoded::to_string(&kept).unwrap_or_default())
}

fn next_link(page_link: &str, cursor: &str) -> String {
    let sep = if page_link.contains('?') { '&' } else { '?' };
    format!("{page_link}{sep}{}", serde_urlencoded::to_string([("cursor", cursor)]).unwrap_or_default())
}

/// What to ask a plugin to render.
pub struct Target<'a> {
    /// A page, customer panel or widget id of the manifest.
    pub target: &'a str,
    /// The customer of a customer panel.
    pub customer_id: Option<Id>,
    /// Query parameters (filters, `cursor`).
    pub params: Vec<(String, String)>,
    /// A refused form's values and errors by field, to show it again.
    pub refill: Option<(&'a super::FormFields, &'a [(String, String)])>,
}

impl<'a> Target<'a> {
    pub fn plain(target: &'a str, customer_id: Option<Id>) -> Self {
        Target { target, customer_id, params: Vec::new(), refill: None }
    }
}

/// Asks a plugin to render one of its targets; a plugin that fails leaves a notice in its
/// place and the rest of the page stands.
pub async fn render_target(
    state: &AppState,
    active: &Arc<Active>,
    viewer: &super::Viewer,
    what: Target<'_>,
) -> PanelView {
    let (access, lang) = (&viewer.access, viewer.lang());
    let Target { target, customer_id, params, refill } = what;
    let plugin = active.loaded.manifest.plugin.id.clone();
    let m = &active.loaded.manifest;
    let title = m
        .pages
        .iter()
        .chain(&m.panels)
        .chain(&m.widgets)
        .find(|p| p.id == target)
        .map(|p| p.title.get(lang.tag()).to_owned())
        .unwrap_or_else(|| target.to_owned());
    let base_link = format!("/p/{plugin}/{target}");
    let link = page_link(&base_link, &params);
    let request = ui::RenderRequest { target: target.to_owned(), customer_id, params };
    let mut view = PanelView {
        act_base: base_link.clone(),
        plugin,
        target: target.to_owned(),
        title,
        blocks: Vec::new(),
        customer_id: customer_id.map(|c| c.to_string()).unwrap_or_default(),
        failed: None,
    };
    match state.plugins.render(active, access.clone(), &viewer.origin(), request).await {
        Ok(page) => {
            if !page.title.trim().is_empty() {
                view.title = page.title.clone();
            }
            let (submitted, errors) = match refill {
                Some((form, errors)) => (Some(form), errors),
                None => (None, &[][..]),
            };
            view.blocks = block_views(&page, &link, submitted, errors);
        }
        Err(failure) => {
            tracing::warn!(plugin = %view.plugin, target, error = %failure.message, "plugin render failed");
            view.failed = Some(failure.message);
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_keeps_the_filters_and_moves_the_cursor() {
        let params = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let base = "/p/orders-to-erp/orders";
        assert_eq!(next_link(&page_link(base, &[]), "c2"), "/p/orders-to-erp/orders?cursor=c2");
        let filtered = page_link(base, &params(&[("status", "approved"), ("cursor", "c1"), ("q", "北京 科技")]));
        assert_eq!(filtered, "/p/orders-to-erp/orders?status=approved&q=%E5%8C%97%E4%BA%AC+%E7%A7%91%E6%8A%80");
        assert_eq!(
            next_link(&filtered, "c2/=+"),
            "/p/orders-to-erp/orders?status=approved&q=%E5%8C%97%E4%BA%AC+%E7%A7%91%E6%8A%80&cursor=c2%2F%3D%2B"
        );
    }
}
