//! `records`: the plugin's own records, of the entities its manifest declares, stored by the
//! host's entity tables (`runtime::entities`), which check fields and access. A call made for a
//! signed-in user reaches what that user may; otherwise the plugin reaches its records of the
//! organisation. Needs no grant: a plugin always reaches its own records.

use serde_json::{Map, Value};

use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::records::{Condition, Host, Op, Page, Query, Record};
use crate::runtime::entities::{self, Reach};
use crate::runtime::manifest::Entity;
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;

/// Page size of `find`: at most this many.
const MAX_LIMIT: u32 = 500;

type Answer<T> = wasmtime::Result<Result<T, PluginFault>>;

impl Host for PluginState {
    async fn insert(&mut self, entity: String, fields: String, customer_id: Option<Id>) -> Answer<Record> {
        self.enter()?;
        Ok(insert(&self.ctx, &entity, &fields, customer_id).await)
    }

    async fn get(&mut self, entity: String, id: Id) -> Answer<Record> {
        self.enter()?;
        Ok(get(&self.ctx, &entity, id).await)
    }

    async fn update(
        &mut self,
        entity: String,
        id: Id,
        fields: String,
        expected_version: Option<i64>,
    ) -> Answer<Record> {
        self.enter()?;
        Ok(update(&self.ctx, &entity, id, &fields, expected_version).await)
    }

    async fn delete(&mut self, entity: String, id: Id) -> Answer<()> {
        self.enter()?;
        Ok(delete(&self.ctx, &entity, id).await)
    }

    async fn find(&mut self, q: Query) -> Answer<Page> {
        self.enter()?;
        Ok(find(&self.ctx, q).await)
    }

    async fn link(&mut self, entity: String, id: Id, customer_id: Option<Id>) -> Answer<Record> {
        self.enter()?;
        Ok(link(&self.ctx, &entity, id, customer_id).await)
    }
}

/// On whose behalf the call reaches records of `entity`. A reference entity (pools, rules,
/// boards, categories) is read by every user of the organisation and changed, during a user's
/// call, only for an administrator; its writes then act as the plugin with that user as owner.
/// A shared entity (forum threads, articles) is reached as the plugin, which checks access
/// itself; what a user creates is theirs.
fn reach<'a>(ctx: &'a CallContext, entity: &Entity, write: bool) -> Result<Reach<'a>, PluginFault> {
    match &ctx.user {
        Some(user) if entity.reference => {
            if write && !user.is_admin() {
                return Err(PluginFault::Denied(format!(
                    "only the organisation's administrators change {} records of {}",
                    entity.name,
                    ctx.plugin.label()
                )));
            }
            Ok(Reach::Plugin { org_id: ctx.org_id(), acting_user: Some(user.principal().user_id) })
        }
        // The plugin decides who reaches shared records (a board's roles, its moderators).
        Some(user) if entity.shared => {
            Ok(Reach::Plugin { org_id: ctx.org_id(), acting_user: Some(user.principal().user_id) })
        }
        Some(user) => Ok(Reach::User(user)),
        None => Ok(Reach::Plugin { org_id: ctx.org_id(), acting_user: None }),
    }
}

/// The declared entity of this name.
fn entity<'a>(ctx: &'a CallContext, name: &str) -> Result<&'a Entity, PluginFault> {
    let plugin = &ctx.plugin;
    plugin.entity(name).ok_or_else(|| {
        let declared: Vec<&str> = plugin.entities.iter().map(|e| e.name.as_str()).collect();
        PluginFault::Invalid(format!(
            "entity: {name:?} is not an entity of {}; {}",
            plugin.label(),
            if declared.is_empty() {
                "it declares none".to_owned()
            } else {
                format!("its entities are {}", declared.join(", "))
            }
        ))
    })
}

/// The `fields` argument: a JSON object.
fn fields(text: &str) -> Result<Map<String, Value>, PluginFault> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(PluginFault::Invalid("fields: must be a JSON object of field values by name".into())),
        Err(e) => Err(PluginFault::Invalid(format!("fields: not JSON: {e}"))),
    }
}

async fn insert(ctx: &CallContext, name: &str, text: &str, customer_id: Option<Id>) -> Result<Record, PluginFault> {
    let entity = entity(ctx, name)?;
    let fields = fields(text)?;
    let reach = reach(ctx, entity, true)?;
    let work = entities::insert(&ctx.store, &reach, &ctx.plugin.plugin.id, entity, &fields, customer_id);
    to_record(ctx.bounded("records.insert", work).await?)
}

async fn get(ctx: &CallContext, name: &str, id: Id) -> Result<Record, PluginFault> {
    let entity = entity(ctx, name)?;
    let reach = reach(ctx, entity, false)?;
    let work = entities::get(&ctx.store, &reach, &ctx.plugin.plugin.id, entity, id);
    to_record(ctx.bounded("records.get", work).await?)
}

async fn update(
    ctx: &CallContext,
    name: &str,
    id: Id,
    text: &str,
    expected_version: Option<i64>,
) -> Result<Record, PluginFault> {
    let entity = entity(ctx, name)?;
    let fields = fields(text)?;
    let plugin_id = &ctx.plugin.plugin.id;
    let reach = reach(ctx, entity, true)?;
    let work = entities::update(&ctx.store, &reach, plugin_id, entity, id, &fields, expected_version);
    to_record(ctx.bounded("records.update", work).await?)
}

async fn delete(ctx: &CallContext, name: &str, id: Id) -> Result<(), PluginFault> {
    let entity = entity(ctx, name)?;
    let reach = reach(ctx, entity, true)?;
    let work = entities::delete(&ctx.store, &reach, &ctx.plugin.plugin.id, entity, id);
    ctx.bounded("records.delete", work).await
}

async fn link(ctx: &CallContext, name: &str, id: Id, customer_id: Option<Id>) -> Result<Record, PluginFault> {
    let entity = entity(ctx, name)?;
    let reach = reach(ctx, entity, true)?;
    let work = entities::link(&ctx.store, &reach, &ctx.plugin.plugin.id, entity, id, customer_id);
    to_record(ctx.bounded("records.link", work).await?)
}

async fn find(ctx: &CallContext, q: Query) -> Result<Page, PluginFault> {
    let entity = entity(ctx, &q.entity)?;
    if let Some(limit) = q.limit
        && !(1..=MAX_LIMIT).contains(&limit)
    {
        return Err(PluginFault::Invalid(format!("limit: 1 to {MAX_LIMIT}, not {limit}")));
    }
    let conditions = q.where_.into_iter().map(condition).collect::<Result<Vec<_>, _>>()?;
    let query = entities::Query {
        entity: q.entity,
        conditions,
        text: q.text,
        customer_id: q.customer_id,
        order_by: q.order_by,
        descending: q.descending,
        limit: q.limit,
        cursor: q.cursor,
    };
    let reach = reach(ctx, entity, false)?;
    let work = entities::find(&ctx.store, &reach, &ctx.plugin.plugin.id, entity, &query);
    let page = ctx.bounded("records.find", work).await?;
    Ok(Page { items: page.items.into_iter().map(to_record).collect::<Result<_, _>>()?, next: page.next })
}

fn condition(c: Condition) -> Result<entities::Condition, PluginFault> {
    let value = serde_json::from_str(&c.value)
        .map_err(|e| PluginFault::Invalid(format!("where: the value for {} is not JSON: {e}", c.field)))?;
    let op = match c.op {
        Op::Eq => entities::Op::Eq,
        Op::Ne => entities::Op::Ne,
        Op::Lt => entities::Op::Lt,
        Op::Le => entities::Op::Le,
        Op::Gt => entities::Op::Gt,
        Op::Ge => entities::Op::Ge,
        Op::Contains => entities::Op::Contains,
        Op::StartsWith => entities::Op::StartsWith,
    };
    Ok(entities::Condition { field: c.field, op, value })
}

fn to_record(r: entities::Record) -> Result<Record, PluginFault> {
    Ok(Record {
        id: r.id,
        entity: r.entity,
        fields: Value::Object(r.fields).to_string(),
        customer_id: r.customer_id,
        owner_id: r.owner_id,
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault};
    use crate::store::Backend;

    const ENTITIES: &str = r#"
[[entities]]
name = "claim"
label = { zh = "领取", en = "Claim" }
fields = [{ name = "reason", type = "text", label = { zh = "原因", en = "Reason" } }]

[[entities]]
name = "visit_plan"
label = { zh = "拜访计划", en = "Visit plan" }
fields = [{ name = "day", type = "date", label = { zh = "日期", en = "Day" } }]
"#;

    /// Boards every user reads and only administrators change, and posts that are people's own.
    const FORUM: &str = r#"
[[entities]]
name = "board"
label = { zh = "版块", en = "Board" }
reference = true
fields = [{ name = "title", type = "text", label = { zh = "标题", en = "Title" } }]

[[entities]]
name = "post"
label = { zh = "帖子", en = "Post" }
fields = [{ name = "title", type = "text", label = { zh = "标题", en = "Title" } }]
"#;

    #[tokio::test]
    async fn reference_records_are_read_by_everyone_and_changed_by_administrators_only() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let manifest = testing::manifest(&[], &[], FORUM);
        entities::migrate(&db.store, "test-plugin", &manifest.entities).await.expect("tables");
        let mei = testing::user(&db.store, org.id, "mei", "Salesperson").await;
        let for_user = |user| Setup::new(&db.store, org.id, org.admin_id, manifest.clone(), &[]).for_user(user);
        let mut admin = for_user(testing::access(&db.store, org.id, org.admin_id).await).state();
        let mut mei_s = for_user(testing::access(&db.store, org.id, mei).await).state();

        let board = admin.insert("board".into(), r#"{"title":"产品讨论"}"#.into(), None).await.expect("no trap");
        let board = board.expect("an administrator adds a board");
        assert_eq!(board.owner_id, Some(org.admin_id), "the administrator's board is theirs");
        admin.insert("post".into(), r#"{"title":"管理员的帖子"}"#.into(), None).await.expect("no trap").expect("post");

        // Mei reads every board, but only her own posts.
        let boards = mei_s.find(query("board")).await.expect("no trap").expect("boards");
        assert_eq!(boards.items.iter().map(|r| r.id).collect::<Vec<_>>(), vec![board.id]);
        mei_s.get("board".into(), board.id).await.expect("no trap").expect("one board");
        assert!(mei_s.find(query("post")).await.expect("no trap").expect("posts").items.is_empty());
        mei_s.insert("post".into(), r#"{"title":"我的帖子"}"#.into(), None).await.expect("no trap").expect("her post");

        // She changes no board.
        let m = fault(mei_s.insert("board".into(), r#"{"title":"x"}"#.into(), None).await, "denied");
        assert!(m.contains("administrators") && m.contains("board"), "{m}");
        fault(mei_s.update("board".into(), board.id, r#"{"title":"x"}"#.into(), None).await, "denied");
        fault(mei_s.delete("board".into(), board.id).await, "denied");
        admin.delete("board".into(), board.id).await.expect("no trap").expect("the administrator deletes it");
    }

    fn query(entity: &str) -> Query {
        Query {
            entity: entity.into(),
            where_: Vec::new(),
            text: None,
            customer_id: None,
            order_by: None,
            descending: false,
            limit: None,
            cursor: None,
        }
    }

    #[tokio::test]
    async fn refuses_entities_the_manifest_does_not_declare_and_fields_that_are_not_objects() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let mut s = Setup::new(&db.store, org.id, org.admin_id, testing::manifest(&[], &[], ENTITIES), &[]).state();
        let m = fault(s.insert("customer".into(), "{}".into(), None).await, "invalid");
        assert!(m.contains("\"customer\"") && m.contains("claim, visit_plan"), "{m}");
        fault(s.get("other".into(), 1).await, "invalid");
        fault(s.update("other".into(), 1, "{}".into(), None).await, "invalid");
        fault(s.delete("other".into(), 1).await, "invalid");
        fault(s.find(query("other")).await, "invalid");
        for bad in ["[]", "\"reason\"", "42", "not json", ""] {
            let m = fault(s.insert("claim".into(), bad.into(), None).await, "invalid");
            assert!(m.contains("fields"), "{bad:?}: {m}");
            fault(s.update("claim".into(), 1, bad.into(), Some(1)).await, "invalid");
        }
        let m = fault(s.find(Query { limit: Some(501), ..query("claim") }).await, "invalid");
        assert!(m.contains("limit"), "{m}");
        let bad_value = Condition { field: "reason".into(), op: Op::Eq, value: "unquoted".into() };
        let m = fault(s.find(Query { where_: vec![bad_value], ..query("claim") }).await, "invalid");
        assert!(m.contains("reason"), "{m}");

        let mut none = Setup::new(&db.store, org.id, org.admin_id, testing::manifest(&[], &[], ""), &[]).state();
        let m = fault(none.get("claim".into(), 1).await, "invalid");
        assert!(m.contains("declares none"), "{m}");
    }

    #[test]
    fn conditions_carry_their_operator_and_value() {
        let c = condition(Condition { field: "day".into(), op: Op::StartsWith, value: "\"2026-03\"".into() })
            .expect("condition");
        assert!(matches!(c.op, entities::Op::StartsWith));
        assert_eq!((c.field.as_str(), c.value), ("day", Value::from("2026-03")));
    }
}
