//! The dashboard widget (`call-stats`): today's calls and the missed calls nobody returned yet,
//! of those the user may see.

use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Page, Stat};
use tessera_sdk::{Caller, Result};

use crate::call::{self, Status};
use crate::config::Settings;
use crate::text::Text;

/// The most calls one count reads; more show as `500+`.
const MAX_COUNTED: u32 = 500;

/// Draws the widget.
pub fn render(caller: &Caller, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let settings = Settings::load()?;
    let today = Query::new(call::ENTITY).ge("started_at", settings.start_of_today(now)).limit(MAX_COUNTED);
    let waiting =
        Query::new(call::ENTITY).eq("status", Status::Missed.as_str()).eq("handled", false).limit(MAX_COUNTED);
    Ok(Page::new(t.popup_title())
        .stats([Stat::new(t.calls_today(), count(&today)?), Stat::new(t.missed_waiting(), count(&waiting)?)]))
}

/// How many records a query finds, up to [`MAX_COUNTED`].
fn count(query: &Query) -> Result<String> {
    let found = records::find(query)?.items.len();
    Ok(if found >= MAX_COUNTED as usize { format!("{found}+") } else { found.to_string() })
}
