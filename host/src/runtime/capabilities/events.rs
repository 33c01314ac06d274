//! `events`: a plugin publishes events of its own, `<plugin-id>.<name>`, into the host's
//! transactional outbox, from where they reach webhooks and the plugins that subscribe to them
//! like every host event; `publish-once` does so at most once per event name and key. Needs
//! `events:publish`.

use crate::events::Event;
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::events::Host;
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;

/// Largest payload, as JSON text.
const MAX_PAYLOAD: usize = 64 << 10;

/// The first parts of the host's own topics (`customer.created`, `approval.waiting`, …): a
/// plugin whose id is one of them could otherwise publish events that pass for the host's.
const HOST_TOPICS: &[&str] = &["activity", "approval", "contact", "customer", "org", "plugin", "user", "workflow"];

impl Host for PluginState {
    async fn publish(
        &mut self,
        name: String,
        subject_kind: String,
        subject_id: Id,
        payload: String,
    ) -> wasmtime::Result<Result<(), PluginFault>> {
        self.enter()?;
        let subject = (subject_kind.as_str(), subject_id);
        Ok(publish(&self.ctx, &name, None, subject, &payload).await.map(|_| ()))
    }

    async fn publish_once(
        &mut self,
        name: String,
        key: String,
        subject_kind: String,
        subject_id: Id,
        payload: String,
    ) -> wasmtime::Result<Result<bool, PluginFault>> {
        self.enter()?;
        let subject = (subject_kind.as_str(), subject_id);
        Ok(publish(&self.ctx, &name, Some(&key), subject, &payload).await)
    }
}

/// Longest idempotency key.
const MAX_KEY: usize = 200;

/// Records the event `<plugin-id>.<name>`; with a key, only when no event of that name was
/// recorded with it. Whether it was recorded.
async fn publish(
    ctx: &CallContext,
    name: &str,
    key: Option<&str>,
    (subject_kind, subject_id): (&str, Id),
    payload: &str,
) -> Result<bool, PluginFault> {
    ctx.require("events:publish")?;
    let plugin_id = &ctx.plugin.plugin.id;
    if HOST_TOPICS.contains(&plugin_id.as_str()) {
        return Err(PluginFault::Denied(format!(
            "{} may not publish events: its id is the first part of the host's own topics ({plugin_id}.*)",
            ctx.plugin.label()
        )));
    }
    check_name(name)?;
    check_subject_kind(subject_kind)?;
    if let Some(key) = key {
        check_key(key)?;
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(PluginFault::Invalid(format!(
            "payload: at most {} KiB of JSON, not {} bytes",
            MAX_PAYLOAD >> 10,
            payload.len()
        )));
    }
    let payload: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| PluginFault::Invalid(format!("payload: not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(PluginFault::Invalid("payload: must be a JSON object".into()));
    }
    let topic = format!("{plugin_id}.{name}");
    let event = Event {
        org_id: ctx.org_id(),
        topic: &topic,
        aggregate: (subject_kind, subject_id),
        actor_user_id: Some(ctx.access().principal().user_id),
        payload: &payload,
    };
    let store = &ctx.store;
    let work = async {
        let mut tx = store.begin_write().await?;
        let recorded = match key {
            None => event.record(&mut tx).await.map(|_| true)?,
            Some(key) => event.record_once(&mut tx, key).await?.is_some(),
        };
        tx.commit().await?;
        Ok(recorded)
    };
    ctx.bounded(if key.is_some() { "events.publish-once" } else { "events.publish" }, work).await
}

/// An idempotency key: 1 to 200 printable ASCII characters without spaces, since receivers
/// get it in a header (`order-42-v3`).
fn check_key(key: &str) -> Result<(), PluginFault> {
    if (1..=MAX_KEY).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(PluginFault::Invalid(format!(
            "key: {key:?} is not an idempotency key: use 1 to {MAX_KEY} printable ASCII characters without spaces \
             (e.g. order-42-v3)"
        )))
    }
}

/// An event name: 1 to 60 lower-case letters, digits, dots, dashes and underscores.
fn check_name(name: &str) -> Result<(), PluginFault> {
    let ok = (1..=60).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && !name.starts_with('.')
        && !name.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(PluginFault::Invalid(format!(
            "name: {name:?} is not an event name: use 1 to 60 lower-case letters, digits, dots, dashes and \
             underscores, not starting or ending with a dot (e.g. order.shipped)"
        )))
    }
}

/// What the event is about, e.g. `order` or `customer`.
fn check_subject_kind(kind: &str) -> Result<(), PluginFault> {
    let ok = (1..=64).contains(&kind.len())
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_:.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PluginFault::Invalid(format!(
            "subject-kind: {kind:?} is not a kind of record: use up to 64 lower-case letters, digits, `_`, `:`, \
             `.` or `-`, starting with a letter (e.g. order)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use sqlx::Row;

    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault};
    use crate::store::Backend;

    async fn outbox(store: &crate::store::Store) -> Vec<(String, String, Id, Option<Id>, Value)> {
        let rows =
            sqlx::query("SELECT topic, aggregate_type, aggregate_id, actor_user_id, payload FROM outbox ORDER BY id")
                .fetch_all(store.pool())
                .await
                .expect("outbox");
        rows.iter()
            .map(|r| {
                let payload: String = r.get(4);
                (r.get(0), r.get(1), r.get(2), r.get(3), serde_json::from_str(&payload).expect("payload"))
            })
            .collect()
    }

    #[tokio::test]
    async fn publishes_into_the_outbox_under_the_plugins_name() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let service = testing::service_user(&db.store, org.id, "test-plugin").await;
        let before = outbox(&db.store).await.len();
        let setup = Setup::new(
            &db.store,
            org.id,
            service,
            testing::manifest(&["events:publish"], &[], ""),
            &["events:publish"],
        );
        let mut s = setup.state();
        s.publish("order.shipped".into(), "order".into(), 42, r#"{"tracking":"SF123"}"#.into())
            .await
            .expect("no trap")
            .expect("published");
        let events = outbox(&db.store).await;
        assert_eq!(events.len(), before + 1);
        let last = events.last().expect("an event");
        assert_eq!(last.0, "test-plugin.order.shipped");
        assert_eq!((last.1.as_str(), last.2), ("order", 42));
        assert_eq!(last.3, Some(service));
        assert_eq!(last.4, json!({ "tracking": "SF123" }));

        // For a signed-in user, the user is the actor.
        let admin = testing::access(&db.store, org.id, org.admin_id).await;
        let mut s = Setup::new(
            &db.store,
            org.id,
            service,
            testing::manifest(&["events:publish"], &[], ""),
            &["events:publish"],
        )
        .for_user(admin)
        .state();
        s.publish("done".into(), "order".into(), 7, "{}".into()).await.expect("no trap").expect("published");
        assert_eq!(outbox(&db.store).await.last().map(|e| e.3), Some(Some(org.admin_id)));

        for bad in ["", "Order", "order shipped", ".x", "x.", &"x".repeat(61), "订单"] {
            let m = fault(s.publish(bad.into(), "order".into(), 1, "{}".into()).await, "invalid");
            assert!(m.contains("name"), "{bad:?}: {m}");
        }
        fault(s.publish("x".into(), "".into(), 1, "{}".into()).await, "invalid");
        fault(s.publish("x".into(), "Order!".into(), 1, "{}".into()).await, "invalid");
        for bad in ["[1]", "\"text\"", "not json", "null"] {
            let m = fault(s.publish("x".into(), "order".into(), 1, bad.into()).await, "invalid");
            assert!(m.contains("payload"), "{bad:?}: {m}");
        }
        let huge = json!({ "blob": "x".repeat(MAX_PAYLOAD) }).to_string();
        let m = fault(s.publish("x".into(), "order".into(), 1, huge).await, "invalid");
        assert!(m.contains("64 KiB"), "{m}");
        assert_eq!(outbox(&db.store).await.len(), before + 2, "nothing refused reached the outbox");
    }

    async fn once(s: &mut PluginState, name: &str, key: &str, id: Id) -> Result<bool, PluginFault> {
        let payload = json!({ "order": id }).to_string();
        s.publish_once(name.into(), key.into(), "order".into(), id, payload).await.expect("no trap")
    }

    #[tokio::test]
    async fn publishing_once_per_key_publishes_once_on_both_backends() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let db = TestDb::new(backend).await;
            let org = testing::org(&db.store, "acme").await;
            let service = testing::service_user(&db.store, org.id, "test-plugin").await;
            let grants = &["events:publish"];
            let mut s = Setup::new(&db.store, org.id, service, testing::manifest(grants, &[], ""), grants).state();
            let before = outbox(&db.store).await.len();
            assert_eq!(once(&mut s, "order.approved", "order-42-v1", 42).await.ok(), Some(true), "{backend:?}");
            assert_eq!(once(&mut s, "order.approved", "order-42-v1", 42).await.ok(), Some(false), "the same key again");
            assert_eq!(once(&mut s, "order.approved", "order-42-v2", 42).await.ok(), Some(true), "the next version");
            assert_eq!(once(&mut s, "order.cancelled", "order-42-v1", 42).await.ok(), Some(true), "another event name");
            let keys: Vec<Option<String>> =
                sqlx::query_scalar("SELECT idempotency_key FROM outbox WHERE topic LIKE 'test-plugin.%' ORDER BY id")
                    .fetch_all(db.store.pool())
                    .await
                    .expect("keys");
            assert_eq!(keys, [Some("order-42-v1".into()), Some("order-42-v2".into()), Some("order-42-v1".into())]);
            assert_eq!(outbox(&db.store).await.len(), before + 3);

            // Plain events need no key, and many share its absence.
            s.publish("order.noted".into(), "order".into(), 42, "{}".into()).await.expect("no trap").expect("ok");
            s.publish("order.noted".into(), "order".into(), 42, "{}".into()).await.expect("no trap").expect("ok");
            assert_eq!(outbox(&db.store).await.len(), before + 5);

            for bad in ["", "with space", "换行", &"k".repeat(201)] {
                let m = fault(Ok(once(&mut s, "order.approved", bad, 1).await), "invalid");
                assert!(m.contains("key"), "{bad:?}: {m}");
            }
        }
    }

    #[tokio::test]
    async fn publishing_needs_its_grant() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let service = testing::service_user(&db.store, org.id, "test-plugin").await;
        let requested = testing::manifest(&["events:publish"], &[], "");
        let m = fault(
            Setup::new(&db.store, org.id, service, requested, &[])
                .state()
                .publish("x".into(), "order".into(), 1, "{}".into())
                .await,
            "denied",
        );
        assert!(m.contains("not granted events:publish"), "{m}");
        let m = fault(
            Setup::new(&db.store, org.id, service, testing::manifest(&[], &[], ""), &[])
                .state()
                .publish("x".into(), "order".into(), 1, "{}".into())
                .await,
            "denied",
        );
        assert!(m.contains("did not request events:publish"), "{m}");
    }

    #[tokio::test]
    async fn a_plugin_named_like_a_host_topic_cannot_pass_for_the_host() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let mut manifest = testing::manifest(&["events:publish"], &[], "");
        manifest.plugin.id = "customer".into();
        let service = testing::service_user(&db.store, org.id, "customer").await;
        let mut s = Setup::new(&db.store, org.id, service, manifest, &["events:publish"]).state();
        let m = fault(s.publish("created".into(), "customer".into(), 1, "{}".into()).await, "denied");
        assert!(m.contains("host's own topics"), "{m}");
        assert!(!outbox(&db.store).await.iter().any(|e| e.0 == "customer.created"));
    }
}
