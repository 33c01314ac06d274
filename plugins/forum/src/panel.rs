//! The panel on the customer page (`customer-threads`): the threads about the customer in
//! boards the user may see, and a form to start one about them.

use serde_json::Value;
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Result};

use crate::access::{self, Viewer};
use crate::store;
use crate::text::Text;
use crate::threads;

pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let customer = request.require_customer()?;
    let viewer = Viewer::current(caller)?;
    let boards = access::visible_boards(&viewer)?;
    let visible = access::visible_ids(&boards);
    let about: Vec<_> =
        store::threads_about(customer, 100)?.into_iter().filter(|th| visible.contains(&th.fields.board_id)).collect();
    let refs: Vec<_> = about.iter().collect();
    let mut page =
        Page::new(t.pick("论坛帖子", "Forum threads")).table(threads::table(t, &viewer, &refs, &boards, None)?);
    if !boards.is_empty() {
        page = page
            .heading(t.pick("就该客户发帖", "Start a thread about this customer"))
            .form(threads::new_thread_form(t, &boards, None, Some(customer), false));
    }
    Ok(page)
}

/// Starts a thread about the customer the form carries.
pub fn new_thread(caller: &Caller, input: &Value, now: i64) -> Result<Outcome> {
    crate::home::new_thread(caller, input, now)
}
