//! Real-time notifications to users of the organisation (capability `notify`): messages in
//! their inbox, and (since API 0.1.2) popups, a page of the plugin opened at once over whatever
//! the user is doing.

pub use crate::bindings::tessera::plugin::notify::{Message, push};

impl Message {
    /// A notification with a one-line title and a body, without a link.
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Message {
        Message { title: title.into(), body: body.into(), link: None }
    }

    /// Links the notification to a page of the CRM, e.g. `/customers/42`.
    pub fn link(mut self, link: impl Into<String>) -> Message {
        self.link = Some(link.into());
        self
    }
}

pub use crate::bindings::tessera::plugin::notify::{Popup, pop_up};

impl Popup {
    /// A popup of the plugin's page `page`, with a one-line title and an inbox line.
    pub fn new(page: impl Into<String>, title: impl Into<String>, body: impl Into<String>) -> Popup {
        Popup { title: title.into(), body: body.into(), page: page.into(), params: Vec::new() }
    }

    /// Adds a query parameter the page is rendered with.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Popup {
        self.params.push((name.into(), value.into()));
        self
    }
}
