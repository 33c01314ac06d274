//! `customers`: the host's customers, contacts and follow-up activities, through the same
//! functions as the REST API and checked by the same access rules. Reading needs
//! `customers:read`; creating and changing customers and contacts needs `customers:write`;
//! changing an owner needs `customers:transfer`; adding activities needs `activities:write`.
//! A call made for a signed-in user sees and changes only what that user may; otherwise the
//! plugin's service user acts with organisation-wide scope for exactly its grants.
//!
//! The calls of API 0.1.1 for assigning customers on the plugin's own rules (`select`,
//! `count-by-owner`, `assign`, `release`, `owner-history`) need `customers:assign` and always
//! act on the plugin's authority over the whole organisation; the signed-in user, if any, is
//! logged as the one who acted.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::access::Action;
use crate::customers::ownership::{self, Assignment};
use crate::customers::{self as host, activities, contacts, operations, phone};
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::customers::{
    Activity, AssignLimits, Contact, Customer, CustomerPage, CustomerQuery, Host, OwnerChange, OwnerCount, Phone,
    PhoneMatches, Released, Selection,
};
use crate::runtime::capabilities::assigning::{self, refusal};
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::Id;

/// Page size of `query` when the plugin names none, and the largest it may ask for.
pub(super) const DEFAULT_LIMIT: u32 = 50;
pub(super) const MAX_LIMIT: u32 = 200;

type Answer<T> = wasmtime::Result<Result<T, PluginFault>>;

impl Host for PluginState {
    async fn get(&mut self, id: Id) -> Answer<Customer> {
        self.enter()?;
        Ok(get(&self.ctx, id).await)
    }

    async fn query(&mut self, q: CustomerQuery) -> Answer<CustomerPage> {
        self.enter()?;
        Ok(query(&self.ctx, q).await)
    }

    async fn find_by_phone(&mut self, number: String) -> Answer<PhoneMatches> {
        self.enter()?;
        Ok(find_by_phone(&self.ctx, &number).await)
    }

    async fn create(&mut self, input: String) -> Answer<Customer> {
        self.enter()?;
        Ok(create(&self.ctx, &input).await)
    }

    async fn update(&mut self, id: Id, patch: String) -> Answer<Customer> {
        self.enter()?;
        Ok(update(&self.ctx, id, &patch).await)
    }

    async fn set_owner(&mut self, id: Id, owner_id: Option<Id>, reason: String) -> Answer<Customer> {
        self.enter()?;
        Ok(set_owner(&self.ctx, id, owner_id, reason).await)
    }

    async fn contacts(&mut self, customer_id: Id) -> Answer<Vec<Contact>> {
        self.enter()?;
        Ok(list_contacts(&self.ctx, customer_id).await)
    }

    async fn create_contact(&mut self, customer_id: Id, input: String) -> Answer<Contact> {
        self.enter()?;
        Ok(create_contact(&self.ctx, customer_id, &input).await)
    }

    async fn add_activity(&mut self, customer_id: Id, input: String) -> Answer<Activity> {
        self.enter()?;
        Ok(add_activity(&self.ctx, customer_id, &input).await)
    }

    async fn select(&mut self, s: Selection) -> Answer<CustomerPage> {
        self.enter()?;
        Ok(assigning::select(&self.ctx, s).await)
    }

    async fn count_by_owner(&mut self, s: Selection) -> Answer<Vec<OwnerCount>> {
        self.enter()?;
        Ok(assigning::count_by_owner(&self.ctx, s).await)
    }

    async fn assign(
        &mut self,
        id: Id,
        expected_owner_id: Option<Id>,
        owner_id: Option<Id>,
        reason: String,
        limits: AssignLimits,
    ) -> Answer<Customer> {
        self.enter()?;
        Ok(assigning::assign(&self.ctx, id, expected_owner_id, owner_id, &reason, limits).await)
    }

    async fn release(&mut self, s: Selection, reason: String) -> Answer<Vec<Released>> {
        self.enter()?;
        Ok(assigning::release(&self.ctx, s, &reason).await)
    }

    async fn owner_history(&mut self, id: Id) -> Answer<Vec<OwnerChange>> {
        self.enter()?;
        Ok(assigning::owner_history(&self.ctx, id).await)
    }

    async fn activities(&mut self, customer_id: Id, limit: u32) -> Answer<Vec<Activity>> {
        self.enter()?;
        Ok(timeline(&self.ctx, customer_id, limit).await)
    }

    async fn canonical_phone(&mut self, number: String) -> wasmtime::Result<Option<String>> {
        self.enter()?;
        Ok(phone::normalize(&number, None).ok().map(|p| p.canonical))
    }
}

async fn get(ctx: &CallContext, id: Id) -> Result<Customer, PluginFault> {
    ctx.require("customers:read")?;
    let access = ctx.access();
    let found = ctx.bounded("customers.get", host::get(&ctx.store, &access, id, Action::Read)).await?;
    to_customer(found)
}

async fn query(ctx: &CallContext, q: CustomerQuery) -> Result<CustomerPage, PluginFault> {
    ctx.require("customers:read")?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(PluginFault::Invalid(format!("limit is 1 to {MAX_LIMIT}, not {limit}")));
    }
    let not_followed_up_since = match q.not_followed_up_since {
        Some(ms) => Some(
            jiff::Timestamp::from_millisecond(ms)
                .map_err(|_| PluginFault::Invalid(format!("not-followed-up-since: {ms} is not a time in ms")))?
                .to_string(),
        ),
        None => None,
    };
    let host_query = host::CustomerQuery {
        q: q.text,
        owner_id: q.owner_id,
        level: q.level,
        status: q.status,
        tag: q.tag,
        not_followed_up_since,
        limit: Some(i64::from(limit)),
        cursor: q.cursor,
        ..host::CustomerQuery::default()
    };
    let access = ctx.access();
    let page = ctx.bounded("customers.query", host::list(&ctx.store, &access, &host_query)).await?;
    Ok(CustomerPage {
        items: page.items.into_iter().map(to_customer).collect::<Result<_, _>>()?,
        next: page.next_cursor,
    })
}

async fn find_by_phone(ctx: &CallContext, number: &str) -> Result<PhoneMatches, PluginFault> {
    ctx.require("customers:read")?;
    let access = ctx.access();
    let found = ctx.bounded("customers.find-by-phone", host::by_phone(&ctx.store, &access, number)).await?;
    Ok(PhoneMatches {
        customers: found.customers.into_iter().map(to_customer).collect::<Result<_, _>>()?,
        contacts: found.contacts.into_iter().map(to_contact).collect::<Result<_, _>>()?,
    })
}

async fn create(ctx: &CallContext, input: &str) -> Result<Customer, PluginFault> {
    ctx.require("customers:write")?;
    let input: host::NewCustomer = parse("customer", input)?;
    let access = ctx.access();
    let created = ctx.bounded("customers.create", host::create(&ctx.store, &access, &input)).await?;
    to_customer(created)
}

async fn update(ctx: &CallContext, id: Id, patch: &str) -> Result<Customer, PluginFault> {
    ctx.require("customers:write")?;
    let patch: host::CustomerPatch = parse("customer patch", patch)?;
    let access = ctx.access();
    let updated = ctx.bounded("customers.update", host::update(&ctx.store, &access, id, &patch)).await?;
    to_customer(updated)
}

async fn set_owner(ctx: &CallContext, id: Id, owner_id: Option<Id>, reason: String) -> Result<Customer, PluginFault> {
    ctx.require("customers:transfer")?;
    let access = ctx.access();
    let store = &ctx.store;
    let Some(to_user_id) = owner_id else {
        // To nobody: the caller must be allowed to transfer the customer, which then stays in
        // its department without an owner.
        let work = async {
            let customer = host::get(store, &access, id, Action::Transfer).await?;
            let assignment = Assignment {
                org_id: ctx.org_id(),
                actor_user_id: assigning::actor(ctx),
                by: &ctx.plugin.plugin.id,
                customer_id: id,
                expected_owner_id: customer.owner_id,
                owner_id: None,
                reason: &reason,
                limits: ownership::AssignLimits::default(),
            };
            ownership::assign(store, &assignment).await
        };
        ctx.bounded("customers.set-owner", work).await?.map_err(refusal)?;
        return to_customer(
            ctx.bounded("customers.set-owner", host::get(store, &ctx.plugin_access(), id, Action::Read)).await?,
        );
    };
    let request = operations::TransferRequest { customer_ids: vec![id], from_user_id: None, to_user_id, reason };
    let work = async {
        operations::transfer(store, &access, &request).await?;
        host::get(store, &access, id, Action::Read).await
    };
    to_customer(ctx.bounded("customers.set-owner", work).await?)
}

async fn list_contacts(ctx: &CallContext, customer_id: Id) -> Result<Vec<Contact>, PluginFault> {
    ctx.require("customers:read")?;
    let access = ctx.access();
    let list = ctx.bounded("customers.contacts", contacts::list_for_customer(&ctx.store, &access, customer_id)).await?;
    list.into_iter().map(to_contact).collect()
}

async fn create_contact(ctx: &CallContext, customer_id: Id, input: &str) -> Result<Contact, PluginFault> {
    ctx.require("customers:write")?;
    let input: contacts::NewContact = parse("contact", input)?;
    let access = ctx.access();
    let created =
        ctx.bounded("customers.create-contact", contacts::create(&ctx.store, &access, customer_id, &input)).await?;
    to_contact(created)
}

async fn add_activity(ctx: &CallContext, customer_id: Id, input: &str) -> Result<Activity, PluginFault> {
    ctx.require("activities:write")?;
    let input: activities::NewActivity = parse("activity", input)?;
    let access = ctx.access();
    let created =
        ctx.bounded("customers.add-activity", activities::create(&ctx.store, &access, customer_id, &input)).await?;
    to_activity(&created)
}

/// Most activities one `activities` call returns.
const MAX_TIMELINE: u32 = 50;

async fn timeline(ctx: &CallContext, customer_id: Id, limit: u32) -> Result<Vec<Activity>, PluginFault> {
    ctx.require("customers:read")?;
    if !(1..=MAX_TIMELINE).contains(&limit) {
        return Err(PluginFault::Invalid(format!("limit: 1 to {MAX_TIMELINE}, not {limit}")));
    }
    let access = ctx.access();
    let q = activities::TimelineQuery { before_id: None, limit: Some(i64::from(limit)) };
    let found = ctx.bounded("customers.activities", activities::timeline(&ctx.store, &access, customer_id, &q)).await?;
    found.iter().map(to_activity).collect()
}

fn to_activity(a: &activities::Activity) -> Result<Activity, PluginFault> {
    Ok(Activity {
        id: a.id,
        customer_id: a.customer_id,
        kind: a.kind.clone(),
        content: a.content.clone(),
        data: to_json(a)?,
    })
}

/// Reads a JSON body as the REST API would, naming what is wrong with it.
fn parse<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, PluginFault> {
    serde_json::from_str(text).map_err(|e| PluginFault::Invalid(format!("the {what} JSON was refused: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, PluginFault> {
    serde_json::to_string(value).map_err(|e| {
        tracing::warn!(error = %e, "a host record did not serialize for a plugin");
        PluginFault::Internal("the host could not serialize the record; it is logged".into())
    })
}

/// An RFC 3339 time, as the host's records show them, in ms since the epoch.
fn ms(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond())
}

pub(super) fn to_customer(c: host::Customer) -> Result<Customer, PluginFault> {
    let data = to_json(&c)?;
    Ok(Customer {
        id: c.id,
        last_followed_up_at: c.last_followed_up_at.as_deref().and_then(ms),
        phones: c.phones.iter().map(to_phone).collect(),
        code: c.code,
        name: c.name,
        owner_id: c.owner_id,
        department_id: c.department_id,
        level: c.level,
        status: c.status,
        tags: c.tags,
        data,
    })
}

fn to_phone(p: &host::PhoneEntry) -> Phone {
    Phone { kind: phone_kind(&p.label, &p.canonical).into(), number: p.number.clone(), canonical: p.canonical.clone() }
}

/// The WIT's kind of a phone (`mobile`, `office`, `fax`, `other`) from the label people gave
/// it, in either language, or from the number when it has no label.
fn phone_kind(label: &str, canonical: &str) -> &'static str {
    let label = label.trim().to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| label.contains(w));
    if has(&["fax", "传真"]) {
        "fax"
    } else if has(&["mobile", "cell", "手机", "移动"]) {
        "mobile"
    } else if has(&["office", "work", "landline", "办公", "座机", "公司", "总机"]) {
        "office"
    } else if label.is_empty() {
        match phone::normalize(canonical, None).map(|p| p.kind) {
            Ok(phone::PhoneKind::Mobile) => "mobile",
            Ok(phone::PhoneKind::Landline | phone::PhoneKind::Service) => "office",
            _ => "other",
        }
    } else {
        "other"
    }
}

fn to_contact(c: contacts::Contact) -> Result<Contact, PluginFault> {
    let data = to_json(&c)?;
    Ok(Contact {
        id: c.id,
        customer_id: c.customer_id,
        phones: c.phones.into_iter().map(|p| p.number).collect(),
        name: c.name,
        position: c.title,
        email: c.email,
        data,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault, on_both_backends};
    use crate::runtime::sandbox::{BudgetSpent, Limits};
    use crate::store::{Backend, Store};

    const ALL: &[&str] = &["customers:read", "customers:write", "customers:transfer", "activities:write"];

    struct World {
        db: TestDb,
        org: testing::TestOrg,
        service: Id,
    }

    impl World {
        async fn new(backend: Backend) -> World {
            let db = TestDb::new(backend).await;
            let org = testing::org(&db.store, "acme").await;
            let service = testing::service_user(&db.store, org.id, "test-plugin").await;
            World { db, org, service }
        }

        fn store(&self) -> &Store {
            &self.db.store
        }

        /// The plugin requesting every customer capability, granted `grants`.
        fn setup(&self, grants: &[&str]) -> Setup {
            Setup::new(self.store(), self.org.id, self.service, testing::manifest(ALL, &[], ""), grants)
        }

        /// A customer made by the admin through the host, owned by `owner`.
        async fn customer(&self, name: &str, owner: Id, phone: &str) -> host::Customer {
            let admin = testing::access(self.store(), self.org.id, self.org.admin_id).await;
            let input: host::NewCustomer = serde_json::from_value(json!({
                "name": name, "owner_id": owner, "level": "a", "tags": ["vip"],
                "phones": [{ "label": "手机", "number": phone }],
            }))
            .expect("new customer");
            host::create(self.store(), &admin, &input).await.expect("create customer")
        }
    }

    async fn each_capability_is_denied_without_its_grant(backend: Backend) {
        let w = World::new(backend).await;
        let c = w.customer("北京星河科技有限公司", w.org.admin_id, "138 1234 5678").await;
        let mut none = w.setup(&[]).state();
        let m = fault(none.get(c.id).await, "denied");
        assert!(m.contains("not granted customers:read"), "{m}");
        fault(none.query(query()).await, "denied");
        fault(none.find_by_phone("13812345678".into()).await, "denied");
        fault(none.contacts(c.id).await, "denied");
        let m = fault(none.create(r#"{"name":"x"}"#.into()).await, "denied");
        assert!(m.contains("customers:write"), "{m}");
        fault(none.update(c.id, "{}".into()).await, "denied");
        fault(none.create_contact(c.id, r#"{"name":"x"}"#.into()).await, "denied");
        let m = fault(none.set_owner(c.id, Some(w.org.admin_id), "why".into()).await, "denied");
        assert!(m.contains("customers:transfer"), "{m}");
        let m = fault(none.add_activity(c.id, r#"{"kind":"call"}"#.into()).await, "denied");
        assert!(m.contains("activities:write"), "{m}");

        // Reading granted is not writing granted, even for an administrator behind the call.
        let admin = testing::access(w.store(), w.org.id, w.org.admin_id).await;
        let mut reader = w.setup(&["customers:read"]).for_user(admin).state();
        assert_eq!(reader.get(c.id).await.expect("no trap").expect("read").name, c.name);
        fault(reader.create(r#"{"name":"x"}"#.into()).await, "denied");

        // A capability the manifest never asked for is refused as such.
        let unrequested = Setup::new(
            w.store(),
            w.org.id,
            w.service,
            testing::manifest(&["customers:read"], &[], ""),
            &["customers:read"],
        );
        let m = fault(unrequested.state().create(r#"{"name":"x"}"#.into()).await, "denied");
        assert!(m.contains("did not request customers:write"), "{m}");
    }

    fn query() -> CustomerQuery {
        CustomerQuery {
            text: None,
            owner_id: None,
            level: None,
            status: None,
            tag: None,
            not_followed_up_since: None,
            limit: None,
            cursor: None,
        }
    }

    async fn reads_customers_contacts_and_phones_within_grants(backend: Backend) {
        let w = World::new(backend).await;
        let first = w.customer("北京星河科技有限公司", w.org.admin_id, "138 1234 5678").await;
        let second = w.customer("上海明月贸易有限公司", w.org.admin_id, "139 8765 4321").await;
        let mut s = w.setup(&["customers:read", "customers:write"]).state();

        let got = s.get(first.id).await.expect("no trap").expect("get");
        assert_eq!((got.code.as_str(), got.name.as_str()), (first.code.as_str(), first.name.as_str()));
        assert_eq!(got.level.as_deref(), Some("a"));
        assert_eq!(got.tags, vec!["vip".to_owned()]);
        assert_eq!(got.phones.len(), 1);
        assert_eq!(got.phones[0].kind, "mobile");
        assert_eq!(got.phones[0].canonical, "+8613812345678");
        let data: Value = serde_json::from_str(&got.data).expect("data is JSON");
        assert_eq!(data, serde_json::to_value(&first).expect("REST form"), "data is the REST API's customer");

        let page = s.query(query()).await.expect("no trap").expect("query");
        let ids: Vec<Id> = page.items.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![second.id, first.id], "newest first");
        let one = s.query(CustomerQuery { limit: Some(1), ..query() }).await.expect("no trap").expect("page 1");
        assert_eq!(one.items.len(), 1);
        let rest = s
            .query(CustomerQuery { limit: Some(1), cursor: one.next.clone(), ..query() })
            .await
            .expect("no trap")
            .expect("page 2");
        assert_eq!(rest.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![first.id]);
        let m = fault(s.query(CustomerQuery { limit: Some(201), ..query() }).await, "invalid");
        assert!(m.contains("limit"), "{m}");
        let by_text = s.query(CustomerQuery { text: Some("明月".into()), ..query() }).await.expect("no trap");
        assert_eq!(by_text.expect("search").items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![second.id]);

        let contact = s
            .create_contact(
                first.id,
                r#"{"name":"王经理","title":"采购经理","phones":[{"label":"office","number":"010-8765 4321"}]}"#.into(),
            )
            .await
            .expect("no trap")
            .expect("contact");
        assert_eq!(contact.position.as_deref(), Some("采购经理"));
        let listed = s.contacts(first.id).await.expect("no trap").expect("contacts");
        assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![contact.id]);

        let matches = s.find_by_phone("+86 138-1234-5678".into()).await.expect("no trap").expect("by phone");
        assert_eq!(matches.customers.iter().map(|c| c.id).collect::<Vec<_>>(), vec![first.id]);
        let matches = s.find_by_phone("(010) 87654321".into()).await.expect("no trap").expect("by phone");
        assert_eq!(matches.contacts.iter().map(|c| c.id).collect::<Vec<_>>(), vec![contact.id]);
        fault(s.find_by_phone("not a number".into()).await, "invalid");
    }

    async fn a_salesperson_sees_only_their_own_customers(backend: Backend) {
        let w = World::new(backend).await;
        let mei = testing::user(w.store(), w.org.id, "mei", "Salesperson").await;
        let lei = testing::user(w.store(), w.org.id, "lei", "Salesperson").await;
        let hers = w.customer("梅的客户", mei, "138 0000 0001").await;
        let his = w.customer("雷的客户", lei, "138 0000 0002").await;
        let mei_access = testing::access(w.store(), w.org.id, mei).await;
        // The plugin holds every grant; the person using it does not.
        let mut s = w.setup(ALL).for_user(mei_access).state();

        let page = s.query(query()).await.expect("no trap").expect("query");
        assert_eq!(page.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![hers.id]);
        fault(s.get(his.id).await, "not-found");
        fault(s.contacts(his.id).await, "not-found");
        fault(s.update(his.id, r#"{"notes":"mine now"}"#.into()).await, "not-found");
        fault(s.add_activity(his.id, r#"{"kind":"call"}"#.into()).await, "not-found");
        let found = s.find_by_phone("13800000002".into()).await.expect("no trap").expect("by phone");
        assert!(found.customers.is_empty(), "another salesperson's number finds nothing");
        // Salespeople may not transfer, whatever the plugin was granted.
        fault(s.set_owner(hers.id, Some(lei), "leaving".into()).await, "denied");
        // Creating for someone else is outside their scope.
        fault(s.create(format!(r#"{{"name":"新客户","owner_id":{lei}}}"#)).await, "denied");
        let own = s.create(r#"{"name":"新客户"}"#.into()).await.expect("no trap").expect("create own");
        assert_eq!(own.owner_id, Some(mei));

        // The same plugin on its own reaches the whole organisation.
        let page = w.setup(ALL).state().query(query()).await.expect("no trap").expect("query");
        assert_eq!(page.items.len(), 3);
    }

    async fn nothing_crosses_organisations(backend: Backend) {
        let w = World::new(backend).await;
        let other = testing::org(w.store(), "globex").await;
        let other_admin = testing::access(w.store(), other.id, other.admin_id).await;
        let input: host::NewCustomer = serde_json::from_value(json!({ "name": "别家的客户" })).expect("input");
        let theirs = host::create(w.store(), &other_admin, &input).await.expect("create");
        let mut s = w.setup(ALL).state();
        fault(s.get(theirs.id).await, "not-found");
        fault(s.contacts(theirs.id).await, "not-found");
        fault(s.update(theirs.id, r#"{"notes":"x"}"#.into()).await, "not-found");
        fault(s.create_contact(theirs.id, r#"{"name":"x"}"#.into()).await, "not-found");
        fault(s.add_activity(theirs.id, r#"{"kind":"call"}"#.into()).await, "not-found");
        fault(s.set_owner(theirs.id, Some(w.org.admin_id), "why".into()).await, "not-found");
        let page = s.query(query()).await.expect("no trap").expect("query");
        assert!(page.items.is_empty());
        // Nor may a customer of this organisation go to a user of another.
        let ours = w.customer("我们的客户", w.org.admin_id, "138 0000 0003").await;
        fault(s.set_owner(ours.id, Some(other.admin_id), "why".into()).await, "invalid");
    }

    async fn writes_check_their_json(backend: Backend) {
        let w = World::new(backend).await;
        let c = w.customer("北京星河科技有限公司", w.org.admin_id, "138 1234 5678").await;
        let mut s = w.setup(ALL).state();
        for bad in ["not json", "[]", r#"{"nom":"x"}"#, r#"{"name":42}"#, "{}"] {
            let m = fault(s.create(bad.into()).await, "invalid");
            assert!(m.contains("customer JSON"), "{bad}: {m}");
        }
        let m = fault(s.create(r#"{"name":"x","colour":"red"}"#.into()).await, "invalid");
        assert!(m.contains("colour"), "the refusal names the field: {m}");
        let m = fault(s.create(r#"{"name":"   "}"#.into()).await, "invalid");
        assert!(m.contains("name"), "{m}");
        fault(s.update(c.id, r#"{"version":"one"}"#.into()).await, "invalid");
        fault(s.update(c.id, r#"{"kind":"robot"}"#.into()).await, "invalid");
        fault(s.create_contact(c.id, r#"{"title":"no name"}"#.into()).await, "invalid");
        fault(s.add_activity(c.id, r#"{"kind":"telepathy"}"#.into()).await, "invalid");
        fault(s.add_activity(c.id, "call".into()).await, "invalid");

        let made = s.create(r#"{"name":"杭州云帆网络","level":"b","tags":["新"]}"#.into()).await;
        let made = made.expect("no trap").expect("create");
        assert!(made.code.starts_with("KH-"), "{}", made.code);
        let changed = s.update(made.id, r#"{"level":null,"notes":"回访"}"#.into()).await.expect("no trap");
        let changed = changed.expect("update");
        assert_eq!(changed.level, None, "null clears");
        assert_eq!(changed.tags, vec!["新".to_owned()], "absent fields stay");
        let m = fault(s.update(made.id, r#"{"version":1,"notes":"stale"}"#.into()).await, "conflict");
        assert!(m.contains("version"), "{m}");
    }

    async fn activities_move_follow_up_dates_and_owners_change(backend: Backend) {
        let w = World::new(backend).await;
        let c = w.customer("北京星河科技有限公司", w.org.admin_id, "138 1234 5678").await;
        let quiet = w.customer("上海明月贸易有限公司", w.org.admin_id, "139 8765 4321").await;
        let mut s = w.setup(ALL).state();
        let activity = s
            .add_activity(c.id, r#"{"kind":"visit","content":"谈了报价","occurred_at":"2026-03-01T08:00:00Z"}"#.into())
            .await
            .expect("no trap")
            .expect("activity");
        assert_eq!((activity.kind.as_str(), activity.content.as_str()), ("visit", "谈了报价"));
        let data: Value = serde_json::from_str(&activity.data).expect("data");
        assert_eq!(data["occurred_at"], "2026-03-01T08:00:00Z");
        let got = s.get(c.id).await.expect("no trap").expect("get");
        assert_eq!(got.last_followed_up_at, Some(1_772_352_000_000));

        let since = |ms| CustomerQuery { not_followed_up_since: Some(ms), ..query() };
        let stale = s.query(since(1_772_352_000_001)).await.expect("no trap").expect("query");
        assert_eq!(stale.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![quiet.id, c.id]);
        let stale = s.query(since(1_772_352_000_000)).await.expect("no trap").expect("query");
        assert_eq!(stale.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![quiet.id], "never followed up");

        let mei = testing::user(w.store(), w.org.id, "mei", "Salesperson").await;
        let moved = s.set_owner(c.id, Some(mei), "客户在她的区域".into()).await.expect("no trap").expect("transfer");
        assert_eq!(moved.owner_id, Some(mei));
        let pooled = s.set_owner(c.id, None, "回到公海".into()).await.expect("no trap").expect("to nobody");
        assert_eq!((pooled.owner_id, pooled.department_id), (None, moved.department_id), "it stays in its department");
        fault(s.set_owner(c.id, Some(w.org.admin_id), "  ".into()).await, "invalid");
    }

    async fn the_host_call_budget_traps(backend: Backend) {
        let w = World::new(backend).await;
        let c = w.customer("北京星河科技有限公司", w.org.admin_id, "138 1234 5678").await;
        let mut setup = w.setup(&["customers:read"]);
        setup.limits = Limits { host_call_budget: 2, ..Limits::default() };
        let mut s = setup.state();
        s.get(c.id).await.expect("first call").expect("get");
        // A denied call counts too: a plugin cannot probe forever.
        fault(s.create("{}".into()).await, "denied");
        let trap = s.get(c.id).await.expect_err("the third call traps");
        assert!(trap.downcast_ref::<BudgetSpent>().is_some(), "{trap:?}");
    }

    on_both_backends!(
        each_capability_is_denied_without_its_grant,
        reads_customers_contacts_and_phones_within_grants,
        a_salesperson_sees_only_their_own_customers,
        nothing_crosses_organisations,
        writes_check_their_json,
        activities_move_follow_up_dates_and_owners_change,
        the_host_call_budget_traps,
    );

    #[test]
    fn phone_kinds_come_from_labels_or_numbers() {
        assert_eq!(phone_kind("手机", "+8613812345678"), "mobile");
        assert_eq!(phone_kind("Office", "+861087654321"), "office");
        assert_eq!(phone_kind("传真", "+861087654321"), "fax");
        assert_eq!(phone_kind("", "+8613812345678"), "mobile");
        assert_eq!(phone_kind("", "+861087654321"), "office");
        assert_eq!(phone_kind("家里", "+861087654321"), "other");
    }
}
