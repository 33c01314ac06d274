//! `notify`: notifications from a plugin to users of its organisation, made like the host's
//! own (in the inbox and pushed live, by email where a user asked for it) as the kind "messages
//! from plugins", so each user decides where they arrive. Needs `notify`.

use std::collections::BTreeSet;

use crate::notifications::{self, NewNotification, PLUGIN_MESSAGE, Text};
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::notify::{Host, Message};
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;

/// Most users one call notifies.
const MAX_USERS: usize = 1_000;
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 4_000;
const MAX_LINK: usize = 500;

impl Host for PluginState {
    async fn push(&mut self, user_ids: Vec<Id>, message: Message) -> wasmtime::Result<Result<u32, PluginFault>> {
        self.enter()?;
        Ok(push(&self.ctx, user_ids, message).await)
    }
}

async fn push(ctx: &CallContext, user_ids: Vec<Id>, message: Message) -> Result<u32, PluginFault> {
    ctx.require("notify")?;
    let users: BTreeSet<Id> = user_ids.into_iter().collect();
    if users.len() > MAX_USERS {
        return Err(PluginFault::Limited(format!(
            "a notification goes to at most {MAX_USERS} users per call, not {}; send it in parts",
            users.len()
        )));
    }
    let title = message.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(PluginFault::Invalid(format!("title: 1 to {MAX_TITLE} characters")));
    }
    if message.body.chars().count() > MAX_BODY {
        return Err(PluginFault::Invalid(format!("body: at most {MAX_BODY} characters")));
    }
    let link = message.link.as_deref().map(str::trim).filter(|l| !l.is_empty());
    if let Some(link) = link {
        check_link(link)?;
    }
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
                kind: PLUGIN_MESSAGE,
                title: Text::new(title, title),
                body: Text::new(message.body.as_str(), message.body.as_str()),
                link: link.map(str::to_owned),
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
    let count = ctx.bounded("notify.push", work).await?;
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

    on_both_backends!(notifies_active_users_of_its_organisation_only, refuses_what_is_too_much_or_malformed);
}
