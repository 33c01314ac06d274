//! `notify`: notifications from a plugin to users of its organisation, made like the host's
//! own (in the inbox and pushed live, by email where a user asked for it) as the kind "messages
//! from plugins", so each user decides where they arrive; and popups (since API 0.1.2), a page of
//! the plugin the browser opens at once in a dialog, kept in the inbox too but never emailed.
//! Needs `notify`.

use std::collections::BTreeSet;

use crate::notifications::{self, Kind, NewNotification, PLUGIN_MESSAGE, PLUGIN_POPUP, Text};
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::notify::{Host, Message, Popup};
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;

/// Most users one call notifies.
const MAX_USERS: usize = 1_000;
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 4_000;
const MAX_LINK: usize = 500;
/// Most query parameters a popup's page is opened with.
const MAX_PARAMS: usize = 20;

impl Host for PluginState {
    async fn push(&mut self, user_ids: Vec<Id>, message: Message) -> wasmtime::Result<Result<u32, PluginFault>> {
        self.enter()?;
        Ok(push(&self.ctx, user_ids, message).await)
    }

    async fn pop_up(&mut self, user_ids: Vec<Id>, popup: Popup) -> wasmtime::Result<Result<u32, PluginFault>> {
        self.enter()?;
        Ok(pop_up(&self.ctx, user_ids, popup).await)
    }
}

async fn push(ctx: &CallContext, user_ids: Vec<Id>, message: Message) -> Result<u32, PluginFault> {
    ctx.require("notify")?;
    let users = recipients(user_ids)?;
    let (title, body) = check_text(&message.title, &message.body)?;
    let link = message.link.as_deref().map(str::trim).filter(|l| !l.is_empty());
    if let Some(link) = link {
        check_link(link)?;
    }
    deliver(ctx, "notify.push", users, PLUGIN_MESSAGE, title, body, link.map(str::to_owned)).await
}

/// A popup is a notification of its own kind whose link is the plugin's page; the browser
/// opens that link in a dialog when the notification arrives live.
async fn pop_up(ctx: &CallContext, user_ids: Vec<Id>, popup: Popup) -> Result<u32, PluginFault> {
    ctx.require("notify")?;
    let users = recipients(user_ids)?;
    let (title, body) = check_text(&popup.title, &popup.body)?;
    let plugin = &ctx.plugin;
    if !plugin.pages.iter().any(|p| p.id == popup.page) {
        let pages: Vec<&str> = plugin.pages.iter().map(|p| p.id.as_str()).collect();
        return Err(PluginFault::Invalid(format!(
            "page: {:?} is not a page of {}; its pages are {}",
            popup.page,
            plugin.label(),
            if pages.is_empty() { "none".to_owned() } else { pages.join(", ") }
        )));
    }
    if popup.params.len() > MAX_PARAMS {
        return Err(PluginFault::Invalid(format!("params: at most {MAX_PARAMS}, not {}", popup.params.len())));
    }
    let mut link = format!("/p/{}/{}", plugin.plugin.id, popup.page);
    if !popup.params.is_empty() {
        link.push('?');
        link.push_str(&serde_urlencoded::to_string(&popup.params).unwrap_or_default());
    }
    check_link(&link)?;
    deliver(ctx, "notify.pop-up", users, PLUGIN_POPUP, title, body, Some(link)).await
}

/// The distinct users of a call, within the limit.
fn recipients(user_ids: Vec<Id>) -> Result<BTreeSet<Id>, PluginFault> {
    let users: BTreeSet<Id> = user_ids.into_iter().collect();
    if users.len() > MAX_USERS {
        return Err(PluginFault::Limited(format!(
            "a notification goes to at most {MAX_USERS} users per call, not {}; send it in parts",
            users.len()
        )));
    }
    Ok(users)
}

/// The title, trimmed, and the body, within their limits.
fn check_text<'a>(title: &'a str, body: &'a str) -> Result<(&'a str, &'a str), PluginFault> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(PluginFault::Invalid(format!("title: 1 to {MAX_TITLE} characters")));
    }
    if body.chars().count() > MAX_BODY {
        return Err(PluginFault::Invalid(format!("body: at most {MAX_BODY} characters")));
    }
    Ok((title, body))
}

/// Makes the notifications in one transaction and wakes the users' live streams; returns how
/// many users received it.
async fn deliver(
    ctx: &CallContext,
    call: &'static str,
    users: BTreeSet<Id>,
    kind: Kind,
    title: &str,
    body: &str,
    link: Option<String>,
) -> Result<u32, PluginFault> {
    let org_id = ctx.org_id();
    // Unique per call: a plugin that sends the same text twice means it twice.
    let dedupe_key = format!("plugin:{}:{}", ctx.plugin.plugin.id, uuid::Uuid::new_v4());
    let store = &ctx.store;
    let work = async {
        let mut tx = store.begin_write().await?;
        let mut made = Vec::new();
        for user_id in users {
            // Users of other organisations and inactive ones are skipped by `create`.
            let n = NewNotification {
                org_id,
                user_id,
                kind,
                title: Text::new(title, title),
                body: Text::new(body, body),
                link: link.clone(),
                subject: None,
                dedupe_key: dedupe_key.clone(),
            };
            if let Some(m) = notifications::create(&mut tx, &n).await? {
                made.push(m);
            }
        }
        // Counted in the table, so that a notification that only goes out by email counts too.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE org_id = $1 AND dedupe_key = $2")
            .bind(org_id)
            .bind(&dedupe_key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        notifications::announce(store, &made);
        Ok(count)
    };
    let count = ctx.bounded(call, work).await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// A link inside the CRM: a path on the host, never another site.
fn check_link(link: &str) -> Result<(), PluginFault> {
    let inside = link.starts_with('/')
        && !link.starts_with("//")
        && !link.contains('\\')
        && !link.chars().any(char::is_control)
        && link.len() <= MAX_LINK;
    if inside {
        Ok(())
    } else {
        Err(PluginFault::Invalid(format!(
            "link: {link:?} is not a link inside the CRM; give a path such as /customers/42 (at most {MAX_LINK} bytes)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::InboxQuery;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault, on_both_backends};
    use crate::store::{Backend, Store};

    fn message(title: &str) -> Message {
        Message {
            title: title.into(), body: "客户北京星河已进入公海".into(), link: Some("/customers/42".into())
        }
    }

    async fn inbox(store: &Store, user_id: Id) -> Vec<notifications::Notification> {
        notifications::inbox(store, user_id, &InboxQuery::default()).await.expect("inbox").items
    }

    async fn notifies_active_users_of_its_organisation_only(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = &db.store;
        let org = testing::org(store, "acme").await;
        let other = testing::org(store, "globex").await;
        let mei = testing::user(store, org.id, "mei", "Salesperson").await;
        let gone = testing::user(store, org.id, "gone", "Salesperson").await;
        sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
            .bind(gone)
            .execute(store.pool())
            .await
            .expect("disable");
        let stranger = testing::user(store, other.id, "stranger", "Salesperson").await;
        let service = testing::service_user(store, org.id, "test-plugin").await;
        let setup = Setup::new(store, org.id, service, testing::manifest(&["notify"], &[], ""), &["notify"]);
        let mut s = setup.state();

        let sent = s.push(vec![mei, org.admin_id, mei, gone, stranger, other.admin_id, 999_999], message("公海提醒"));
        assert_eq!(sent.await.expect("no trap").expect("push"), 2, "mei and the admin; the rest skipped");
        let got = inbox(store, mei).await;
        assert_eq!(got.len(), 1, "a repeated id notifies once");
        assert_eq!((got[0].title.as_str(), got[0].kind.as_str()), ("公海提醒", "plugin_message"));
        assert_eq!(got[0].link.as_deref(), Some("/customers/42"));
        assert_eq!(inbox(store, org.admin_id).await.len(), 1);
        for outsider in [gone, stranger, other.admin_id] {
            assert!(inbox(store, outsider).await.is_empty(), "user {outsider} got nothing");
        }
        // The same message again is a second notification, not a repeat of the first.
        assert_eq!(s.push(vec![mei], message("公海提醒")).await.expect("no trap").expect("push"), 1);
        assert_eq!(inbox(store, mei).await.len(), 2);
        assert_eq!(s.push(vec![], message("nobody")).await.expect("no trap").expect("push"), 0);
    }

    async fn refuses_what_is_too_much_or_malformed(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = &db.store;
        let org = testing::org(store, "acme").await;
        let service = testing::service_user(store, org.id, "test-plugin").await;
        let mut s = Setup::new(store, org.id, service, testing::manifest(&["notify"], &[], ""), &["notify"]).state();
        let many: Vec<Id> = (1..=1_001).collect();
        let m = fault(s.push(many, message("hi")).await, "limited");
        assert!(m.contains("1000"), "{m}");
        fault(s.push(vec![org.admin_id], message(&"题".repeat(201))).await, "invalid");
        fault(s.push(vec![org.admin_id], message("  ")).await, "invalid");
        let long_body = Message { body: "x".repeat(4_001), ..message("hi") };
        fault(s.push(vec![org.admin_id], long_body).await, "invalid");
        for link in ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/a\\b"] {
            let m = fault(
                s.push(vec![org.admin_id], Message { link: Some(link.into()), ..message("hi") }).await,
                "invalid",
            );
            assert!(m.contains("link"), "{link}: {m}");
        }
        assert!(inbox(store, org.admin_id).await.is_empty());

        let mut ungranted = Setup::new(store, org.id, service, testing::manifest(&["notify"], &[], ""), &[]).state();
        let m = fault(ungranted.push(vec![org.admin_id], message("hi")).await, "denied");
        assert!(m.contains("not granted notify"), "{m}");
        let mut unrequested = Setup::new(store, org.id, service, testing::manifest(&[], &[], ""), &[]).state();
        let m = fault(unrequested.push(vec![org.admin_id], message("hi")).await, "denied");
        assert!(m.contains("did not request notify"), "{m}");
    }

    async fn pops_up_a_page_of_the_plugin_and_never_emails_it(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = &db.store;
        let org = testing::org(store, "acme").await;
        let mei = testing::user(store, org.id, "mei", "Salesperson").await;
        sqlx::query("UPDATE users SET email = 'mei@example.com' WHERE id = $1")
            .bind(mei)
            .execute(store.pool())
            .await
            .expect("email");
        let service = testing::service_user(store, org.id, "test-plugin").await;
        let pages = "[[pages]]\nid = \"call\"\ntitle = { zh = \"来电\", en = \"Call\" }\n";
        let mut s = Setup::new(store, org.id, service, testing::manifest(&["notify"], &[], pages), &["notify"]).state();
        let popup = |page: &str| Popup {
            title: "来电 13812345678".into(),
            body: "北京星河科技".into(),
            page: page.into(),
            params: vec![("call".into(), "7".into()), ("from".into(), "+86 138&x".into())],
        };

        assert_eq!(s.pop_up(vec![mei], popup("call")).await.expect("no trap").expect("pop up"), 1);
        let got = inbox(store, mei).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, "plugin_popup");
        assert_eq!(got[0].link.as_deref(), Some("/p/test-plugin/call?call=7&from=%2B86+138%26x"));
        let mailed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification_emails")
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert_eq!(mailed, 0, "a popup is never emailed");
        // Nor can a user ask for it by email.
        let wants_mail =
            notifications::Preference { kind: "plugin_popup".into(), label: String::new(), in_app: true, email: true };
        let refused = notifications::set_preferences(store, mei, "en", &[wants_mail]).await;
        assert!(matches!(refused, Err(crate::error::Error::Invalid { .. })), "{refused:?}");

        let m = fault(s.pop_up(vec![mei], popup("nowhere")).await, "invalid");
        assert!(m.contains("call"), "names the pages there are: {m}");
        let many = Popup { params: (0..21).map(|i| (format!("p{i}"), String::new())).collect(), ..popup("call") };
        fault(s.pop_up(vec![mei], many).await, "invalid");
        let mut ungranted = Setup::new(store, org.id, service, testing::manifest(&["notify"], &[], pages), &[]).state();
        fault(ungranted.pop_up(vec![mei], popup("call")).await, "denied");
        assert_eq!(inbox(store, mei).await.len(), 1);
    }

    on_both_backends!(
        notifies_active_users_of_its_organisation_only,
        refuses_what_is_too_much_or_malformed,
        pops_up_a_page_of_the_plugin_and_never_emails_it
    );
}
