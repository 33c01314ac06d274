//! `workflow`: approvals of a plugin's records on the host's workflow kernel. The plugin starts
//! an approval of a definition its organisation's admin declared for one of its entities (the
//! definition's subject type is `<plugin-id>:<entity>`), on behalf of the signed-in user or of
//! a user it names when it acts on its own, and reads the approvals of its own records. The
//! outcome arrives as a `workflow.completed` event. Needs `workflow`.

use crate::error::Error;
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::workflow::{Approval, Host};
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;
use crate::workflow::{definitions, instances};

/// Largest `fields` object, as JSON text (as the REST API allows).
const MAX_FIELDS: usize = 64 << 10;
const MAX_TITLE: usize = 200;

impl Host for PluginState {
    async fn start(
        &mut self,
        definition: String,
        subject_kind: String,
        subject_id: Id,
        title: String,
        fields: String,
        submitter: Option<Id>,
    ) -> wasmtime::Result<Result<Approval, PluginFault>> {
        self.enter()?;
        let subject = Subject { kind: &subject_kind, id: subject_id, title: &title, fields: &fields };
        Ok(start(&self.ctx, &definition, subject, submitter).await)
    }

    async fn get(&mut self, id: Id) -> wasmtime::Result<Result<Approval, PluginFault>> {
        self.enter()?;
        Ok(get(&self.ctx, id).await)
    }
}

/// What an approval is about, as the plugin gives it.
struct Subject<'a> {
    kind: &'a str,
    id: Id,
    title: &'a str,
    fields: &'a str,
}

/// The subject type of the plugin's approvals: `<plugin-id>:`.
fn prefix(ctx: &CallContext) -> String {
    format!("{}:", ctx.plugin.plugin.id)
}

async fn start(
    ctx: &CallContext,
    definition: &str,
    subject: Subject<'_>,
    submitter: Option<Id>,
) -> Result<Approval, PluginFault> {
    ctx.require("workflow")?;
    let plugin = &ctx.plugin;
    if plugin.entity(subject.kind).is_none() {
        let declared: Vec<&str> = plugin.entities.iter().map(|e| e.name.as_str()).collect();
        return Err(PluginFault::Invalid(format!(
            "subject-kind: {:?} is not an entity of {}; {}",
            subject.kind,
            plugin.label(),
            if declared.is_empty() {
                "it declares none".to_owned()
            } else {
                format!("its entities are {}", declared.join(", "))
            }
        )));
    }
    let subject_type = format!("{}{}", prefix(ctx), subject.kind);
    let title = subject.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(PluginFault::Invalid(format!("title: 1 to {MAX_TITLE} characters")));
    }
    if subject.fields.len() > MAX_FIELDS {
        return Err(PluginFault::Invalid(format!("fields: at most {} KiB of JSON", MAX_FIELDS >> 10)));
    }
    let fields = match serde_json::from_str(subject.fields) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return Err(PluginFault::Invalid("fields: must be a JSON object".into())),
        Err(e) => return Err(PluginFault::Invalid(format!("fields: not JSON: {e}"))),
    };
    let org_id = ctx.org_id();
    let store = &ctx.store;
    let submitter = match (&ctx.user, submitter) {
        (Some(user), None) => user.principal().user_id,
        (Some(user), Some(named)) if named == user.principal().user_id => named,
        (Some(_), Some(_)) => {
            return Err(PluginFault::Invalid(
                "submitter: a call made for a signed-in user submits as that user; leave submitter out".into(),
            ));
        }
        (None, Some(named)) => {
            let active: Option<i64> = ctx
                .bounded("workflow.start", async {
                    Ok(sqlx::query_scalar("SELECT active FROM users WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(named)
                        .fetch_optional(store.pool())
                        .await?)
                })
                .await?;
            if active != Some(1) {
                return Err(PluginFault::Invalid(format!(
                    "submitter: user {named} is not an active user of this organisation"
                )));
            }
            named
        }
        (None, None) => {
            return Err(PluginFault::Invalid(
                "submitter: no user is behind this call, so name the user on whose behalf the approval starts".into(),
            ));
        }
    };
    let found = ctx.bounded("workflow.start", definitions::list(store, org_id)).await?;
    let named: Vec<&definitions::Definition> = found.iter().filter(|d| d.name == definition).collect();
    // An active definition before an archived one of the same name, the newest first.
    let chosen = named.iter().filter(|d| d.subject_type == subject_type).max_by_key(|d| (d.active, d.id));
    let Some(chosen) = chosen else {
        return Err(match named.first() {
            None => PluginFault::Invalid(format!(
                "definition: this organisation has no approval definition named {definition:?}; its admin declares it \
                 with the subject type {subject_type}"
            )),
            Some(other) => PluginFault::Invalid(format!(
                "definition: {definition:?} approves {}, not {subject_type}",
                other.subject_type
            )),
        });
    };
    let host_subject = instances::Subject { subject_type, subject_id: subject.id, title: title.to_owned(), fields };
    let definition_id = chosen.id;
    let work = async {
        let mut tx = store.begin_write().await?;
        let id = instances::submit_in(&mut tx, org_id, submitter, definition_id, &host_subject, None).await?;
        tx.commit().await?;
        instances::get(store, org_id, submitter, true, id).await
    };
    let approval = ctx.bounded("workflow.start", work).await?;
    to_approval(approval, &chosen.name)
}

async fn get(ctx: &CallContext, id: Id) -> Result<Approval, PluginFault> {
    ctx.require("workflow")?;
    let org_id = ctx.org_id();
    let store = &ctx.store;
    let work = async {
        // Read as the organisation first: an approval of something else is "not found" to the
        // plugin whoever is behind the call, so ids reveal nothing.
        let approval = instances::get(store, org_id, 0, true, id).await?;
        if !approval.subject_type.starts_with(&prefix(ctx)) {
            return Err(Error::NotFound("approval"));
        }
        // A signed-in user sees it only if the workflow kernel would show it to them.
        if let Some(user) = &ctx.user {
            instances::get(store, org_id, user.principal().user_id, user.is_admin(), id).await?;
        }
        let definition = definitions::get(store.pool(), org_id, approval.definition_id).await?;
        Ok((approval, definition.name))
    };
    let (approval, name) = ctx.bounded("workflow.get", work).await?;
    to_approval(approval, &name)
}

fn to_approval(approval: instances::Approval, definition: &str) -> Result<Approval, PluginFault> {
    let data = serde_json::to_string(&approval).map_err(|e| {
        tracing::warn!(error = %e, "an approval did not serialize for a plugin");
        PluginFault::Internal("the host could not serialize the approval; it is logged".into())
    })?;
    Ok(Approval { id: approval.id, definition: definition.to_owned(), state: approval.state.as_str().into(), data })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault};
    use crate::store::{Backend, Store};

    const ENTITIES: &str = r#"
[[entities]]
name = "expense"
label = { zh = "报销", en = "Expense" }
fields = [{ name = "amount", type = "number", label = { zh = "金额", en = "Amount" } }]
"#;

    struct World {
        db: TestDb,
        org: testing::TestOrg,
        service: Id,
        mei: Id,
    }

    impl World {
        async fn new() -> World {
            let db = TestDb::new(Backend::Sqlite).await;
            let org = testing::org(&db.store, "acme").await;
            let service = testing::service_user(&db.store, org.id, "test-plugin").await;
            let mei = testing::user(&db.store, org.id, "mei", "Salesperson").await;
            World { db, org, service, mei }
        }

        fn store(&self) -> &Store {
            &self.db.store
        }

        fn setup(&self, grants: &[&str]) -> Setup {
            Setup::new(self.store(), self.org.id, self.service, testing::manifest(&["workflow"], &[], ENTITIES), grants)
        }

        /// A definition the admin declares: one step the admin approves.
        async fn definition(&self, name: &str, subject_type: &str) -> Id {
            let new: definitions::NewDefinition = serde_json::from_value(json!({
                "name": name, "subject_type": subject_type,
                "steps": [{ "name": "财务审批", "approvers": [{ "kind": "user", "user_id": self.org.admin_id }] }],
            }))
            .expect("definition");
            definitions::create(self.store(), self.org.id, self.org.admin_id, &new).await.expect("create").id
        }
    }

    fn start<'a>(
        s: &'a mut PluginState,
        definition: &str,
        kind: &str,
        submitter: Option<Id>,
    ) -> impl Future<Output = wasmtime::Result<Result<Approval, PluginFault>>> + 'a {
        s.start(definition.into(), kind.into(), 7, "差旅报销 1,200 元".into(), r#"{"amount":1200}"#.into(), submitter)
    }

    #[tokio::test]
    async fn starts_and_reads_approvals_of_its_own_records() {
        let w = World::new().await;
        w.definition("报销审批", "test-plugin:expense").await;
        let mei = testing::access(w.store(), w.org.id, w.mei).await;
        let mut as_mei = w.setup(&["workflow"]).for_user(mei).state();
        let approval = start(&mut as_mei, "报销审批", "expense", None).await.expect("no trap").expect("start");
        assert_eq!((approval.definition.as_str(), approval.state.as_str()), ("报销审批", "pending"));
        let data: Value = serde_json::from_str(&approval.data).expect("data");
        assert_eq!(data["subject_type"], "test-plugin:expense");
        assert_eq!(data["subject_id"], 7);
        assert_eq!(data["submitter_id"], w.mei);
        assert_eq!(data["fields"], json!({ "amount": 1200 }));
        assert_eq!(data["waiting_for"], json!([w.org.admin_id]));
        assert_eq!(data["history"][0]["action"], "submit");
        let again = as_mei.get(approval.id).await.expect("no trap").expect("get");
        assert_eq!((again.id, again.state.as_str()), (approval.id, "pending"));

        // On its own, the plugin names the submitter.
        let mut alone = w.setup(&["workflow"]).state();
        let started = start(&mut alone, "报销审批", "expense", Some(w.mei)).await.expect("no trap").expect("start");
        let data: Value = serde_json::from_str(&started.data).expect("data");
        assert_eq!(data["submitter_id"], w.mei);
        assert_eq!(alone.get(approval.id).await.expect("no trap").expect("get").id, approval.id);

        // Someone else behind the call does not see mei's approval.
        let lei = testing::user(w.store(), w.org.id, "lei", "Salesperson").await;
        let lei = testing::access(w.store(), w.org.id, lei).await;
        fault(w.setup(&["workflow"]).for_user(lei).state().get(approval.id).await, "denied");
    }

    #[tokio::test]
    async fn refuses_submitters_definitions_and_subjects_that_do_not_fit() {
        let w = World::new().await;
        w.definition("报销审批", "test-plugin:expense").await;
        w.definition("客户审批", "customer").await;
        let other = testing::org(w.store(), "globex").await;
        let mut alone = w.setup(&["workflow"]).state();
        let m = fault(start(&mut alone, "报销审批", "expense", None).await, "invalid");
        assert!(m.contains("submitter"), "{m}");
        let m = fault(start(&mut alone, "报销审批", "expense", Some(other.admin_id)).await, "invalid");
        assert!(m.contains("not an active user of this organisation"), "{m}");
        fault(start(&mut alone, "报销审批", "expense", Some(w.service)).await, "invalid");
        let m = fault(start(&mut alone, "没有这个", "expense", Some(w.mei)).await, "invalid");
        assert!(m.contains("no approval definition named"), "{m}");
        let m = fault(start(&mut alone, "客户审批", "expense", Some(w.mei)).await, "invalid");
        assert!(m.contains("approves customer"), "{m}");
        let m = fault(start(&mut alone, "报销审批", "invoice", Some(w.mei)).await, "invalid");
        assert!(m.contains("its entities are expense"), "{m}");
        let bad_fields = alone.start("报销审批".into(), "expense".into(), 7, "t".into(), "[1]".into(), Some(w.mei));
        fault(bad_fields.await, "invalid");
        let no_title = alone.start("报销审批".into(), "expense".into(), 7, " ".into(), "{}".into(), Some(w.mei));
        fault(no_title.await, "invalid");

        let mei = testing::access(w.store(), w.org.id, w.mei).await;
        let mut as_mei = w.setup(&["workflow"]).for_user(mei).state();
        let m = fault(start(&mut as_mei, "报销审批", "expense", Some(w.org.admin_id)).await, "invalid");
        assert!(m.contains("signed-in user"), "{m}");
    }

    #[tokio::test]
    async fn approvals_of_other_subjects_are_not_found() {
        let w = World::new().await;
        let customer_definition = w.definition("客户审批", "customer").await;
        let admin = testing::access(w.store(), w.org.id, w.org.admin_id).await;
        let customer: crate::customers::NewCustomer =
            serde_json::from_value(json!({ "name": "北京星河科技" })).expect("customer");
        let customer = crate::customers::create(w.store(), &admin, &customer).await.expect("customer");
        let new = instances::NewApproval {
            definition_id: customer_definition,
            subject_id: customer.id,
            title: None,
            fields: None,
            comment: None,
        };
        let theirs = instances::submit(w.store(), &admin, &new).await.expect("submit");
        let mut s = w.setup(&["workflow"]).state();
        fault(s.get(theirs.id).await, "not-found");
        fault(w.setup(&["workflow"]).for_user(admin).state().get(theirs.id).await, "not-found");
        fault(s.get(999_999).await, "not-found");
    }

    #[tokio::test]
    async fn approvals_need_the_workflow_grant() {
        let w = World::new().await;
        w.definition("报销审批", "test-plugin:expense").await;
        let mut s = w.setup(&[]).state();
        let m = fault(start(&mut s, "报销审批", "expense", Some(w.mei)).await, "denied");
        assert!(m.contains("not granted workflow"), "{m}");
        fault(s.get(1).await, "denied");
        let unrequested = Setup::new(w.store(), w.org.id, w.service, testing::manifest(&[], &[], ENTITIES), &[]);
        let m = fault(unrequested.state().get(1).await, "denied");
        assert!(m.contains("did not request workflow"), "{m}");
    }
}
