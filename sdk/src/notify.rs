//! Real-time notifications to users of the organisation (capability `notify`).

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
