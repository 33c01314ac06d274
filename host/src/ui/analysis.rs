//! The analysis page: the sales funnel by status, customers by level and by source, new
//! customers over time and follow-ups per person, over the customers the user may read, drawn
//! as SVG on the server.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Chrome, FormFields, Lang, UiError, Viewer, charts, render_with};
use crate::customers::analysis::{self, CompositionBy, Period, SeriesQuery, Slice};
use crate::customers::options;
use crate::error::Error;
use crate::web::AppState;

pub struct PersonRow {
    pub name: String,
    pub total: i64,
    /// Counts per kind, in the order of the table's columns.
    pub kinds: Vec<i64>,
}

#[derive(Template)]
#[template(path = "analysis.html")]
struct AnalysisPage {
    chrome: Chrome,
    from: String,
    to: String,
    period: String,
    funnel: String,
    levels: String,
    sources: String,
    trend: String,
    people: Vec<PersonRow>,
    kinds: Vec<&'static str>,
    error: Option<String>,
}

const KINDS: [(&str, &str); 5] = [
    ("call", "activity.kind.call"),
    ("visit", "activity.kind.visit"),
    ("email", "activity.kind.email"),
    ("meeting", "activity.kind.meeting"),
    ("note", "activity.kind.note"),
];

fn label(lang: Lang, s: &Slice) -> String {
    match &s.key {
        Some(_) => lang.pick(&s.label_en, &s.label_zh).to_owned(),
        None => lang.t("field.none").to_owned(),
    }
}

fn bars(lang: Lang, title: &str, slices: &[Slice]) -> String {
    let items: Vec<(String, f64)> = slices.iter().map(|s| (label(lang, s), s.count as f64)).collect();
    charts::bars(title, &items)
}

pub async fn page(State(state): State<AppState>, viewer: Viewer, RawQuery(raw): RawQuery) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let q = FormFields::from_query(raw.as_deref());
    let today = jiff::Zoned::now().with_time_zone(viewer.chrome.tz.clone()).date();
    let year_ago = today.checked_sub(jiff::Span::new().months(11)).unwrap_or(today).first_of_month();
    let from = q.opt("from").unwrap_or_else(|| year_ago.to_string());
    let to = q.opt("to").unwrap_or_else(|| today.to_string());
    let period = match q.get("period") {
        "day" => Period::Day,
        "week" => Period::Week,
        _ => Period::Month,
    };
    let series = SeriesQuery { from: from.clone(), to: to.clone(), period: Some(period) };
    let access = &viewer.access;
    let by_status = analysis::composition(&state.store, access, CompositionBy::Status).await?;
    let by_level = analysis::composition(&state.store, access, CompositionBy::Level).await?;
    let by_source = analysis::composition(&state.store, access, CompositionBy::Source).await?;
    // The funnel runs through the statuses in the order of their option list (the stages).
    let stages = options::list(&state.store, viewer.org_id(), Some("status")).await?;
    let mut funnel: Vec<Slice> = stages
        .iter()
        .filter_map(|o| by_status.iter().find(|s| s.key.as_deref() == Some(o.value.as_str())).cloned())
        .collect();
    let unstaged: Vec<Slice> = by_status.iter().filter(|s| !funnel.iter().any(|f| f.key == s.key)).cloned().collect();
    funnel.extend(unstaged);
    let (trend, people, error) = match (
        analysis::new_customers(&state.store, access, &series).await,
        analysis::follow_ups(&state.store, access, &series).await,
    ) {
        (Ok(points), Ok(people)) => {
            // Months read as 2026-03; days and weeks keep their day.
            let labels: Vec<String> = points
                .iter()
                .map(|p| match period {
                    Period::Month => p.period.get(..7).unwrap_or(&p.period).to_owned(),
                    _ => p.period.get(5..).unwrap_or(&p.period).to_owned(),
                })
                .collect();
            let values: Vec<f64> = points.iter().map(|p| p.count as f64).collect();
            let trend = charts::lines(
                lang.t("analysis.new_customers"),
                &labels,
                &[(lang.t("analysis.new_customers").to_owned(), values)],
            );
            let rows = people
                .iter()
                .map(|p| PersonRow {
                    name: p.display_name.clone(),
                    total: p.total,
                    kinds: KINDS.iter().map(|(k, _)| p.by_kind.get(*k).copied().unwrap_or(0)).collect(),
                })
                .collect();
            (trend, rows, None)
        }
        (Err(Error::Invalid { message, .. }), _) | (_, Err(Error::Invalid { message, .. })) => {
            (String::new(), Vec::new(), Some(message))
        }
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
    };
    let page = AnalysisPage {
        funnel: bars(lang, lang.t("analysis.funnel"), &funnel),
        levels: bars(lang, lang.t("analysis.by_level"), &by_level),
        sources: bars(lang, lang.t("analysis.by_source"), &by_source),
        trend,
        people,
        kinds: KINDS.iter().map(|(_, key)| lang.t(key)).collect(),
        from,
        to,
        period: q.opt("period").unwrap_or_else(|| "month".into()),
        chrome: viewer.chrome(lang.t("analysis.title"), "/analysis"),
        error,
    };
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render_with(status, &page))
}
