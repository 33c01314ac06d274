//! The panel on the customer page (`customer-calls`, 来电 / Calls): the customer's calls, newest
//! first, each opening its popup page.

use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Page, RenderRequest};
use tessera_sdk::{Caller, Result};

use crate::call::{self, Call};
use crate::config::Settings;
use crate::listing::{self, Column};
use crate::text::Text;

/// Calls the panel lists.
const SHOWN: u32 = 20;

/// Draws the panel of one customer.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let customer = request.require_customer()?;
    let settings = Settings::load()?;
    let query = Query::new(call::ENTITY).customer(customer).order_by("started_at").descending(true).limit(SHOWN);
    let (calls, _) = records::find_typed::<Call>(&query)?;
    let page = Page::new(t.popup_title());
    if calls.is_empty() {
        return Ok(page.notice("info", t.no_calls_of_customer()));
    }
    let columns = [Column::Time, Column::Number, Column::Status, Column::Duration, Column::Agent, Column::Logged];
    Ok(page.table(listing::table(t, &settings, &columns, &calls)?.row_action(listing::open_action(t))))
}
