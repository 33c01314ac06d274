//! `customers` since API 0.1.1: assigning customers on the plugin's own rules. A plugin that
//! decides who holds which customer (a public pool, lead distribution) asks for
//! `customers:assign`; these calls then act on the plugin's authority over the whole
//! organisation, also during a signed-in user's call, and log that user as the one who acted.
//! The host guarantees what rules cannot: of racing assignments of a customer exactly one
//! wins, and the limits on what one user may take hold under concurrency.

use crate::access::Action;
use crate::customers::ownership::{self, Assignment, Refused};
use crate::customers::{self as host};
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::customers::{
    AssignLimits, Customer, CustomerPage, OwnerChange, OwnerCount, Ownership, Released, Selection,
};
use crate::runtime::capabilities::customers::{DEFAULT_LIMIT, MAX_LIMIT, to_customer};
use crate::runtime::sandbox::CallContext;
use crate::store::Id;

/// The most owner changes `owner-history` answers, newest first.
const HISTORY_LIMIT: i64 = 200;

/// The host's selection from the WIT's; quick search is only for `select`.
fn to_selection(s: Selection) -> ownership::Selection {
    ownership::Selection {
        ownership: match s.ownership {
            Ownership::Any => ownership::Ownership::Any,
            Ownership::Owned => ownership::Ownership::Owned,
            Ownership::Unowned => ownership::Ownership::Unowned,
        },
        ids: s.ids,
        owner_ids: s.owner_ids,
        department_ids: s.department_ids,
        levels: s.levels,
        exclude_statuses: s.exclude_statuses,
        exclude_tags: s.exclude_tags,
        owned_before: s.owned_before,
        idle_since: s.idle_since,
    }
}

fn no_text(s: &Selection, call: &str) -> Result<(), PluginFault> {
    match (&s.text, &s.cursor) {
        (None, None) => Ok(()),
        _ => Err(PluginFault::Invalid(format!(
            "text and cursor are for select only; {call} takes every customer of the selection"
        ))),
    }
}

pub(super) fn refusal(refused: Refused) -> PluginFault {
    match refused {
        Refused::Raced(m) => PluginFault::Conflict(m),
        Refused::Limit(m) => PluginFault::Limited(m),
    }
}

/// The signed-in user the plugin acts for, logged as the actor of an assignment.
pub(super) fn actor(ctx: &CallContext) -> Option<Id> {
    ctx.user.as_ref().map(|u| u.principal().user_id)
}

pub(super) async fn select(ctx: &CallContext, s: Selection) -> Result<CustomerPage, PluginFault> {
    ctx.require("customers:assign")?;
    let limit = s.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(PluginFault::Invalid(format!("limit is 1 to {MAX_LIMIT}, not {limit}")));
    }
    let host_query = host::CustomerQuery {
        q: s.text.clone(),
        limit: Some(i64::from(limit)),
        cursor: s.cursor.clone(),
        selection: Some(to_selection(s)),
        ..host::CustomerQuery::default()
    };
    let access = ctx.plugin_access();
    let page = ctx.bounded("customers.select", host::list(&ctx.store, &access, &host_query)).await?;
    Ok(CustomerPage {
        items: page.items.into_iter().map(to_customer).collect::<Result<_, _>>()?,
        next: page.next_cursor,
    })
}

pub(super) async fn count_by_owner(ctx: &CallContext, s: Selection) -> Result<Vec<OwnerCount>, PluginFault> {
    ctx.require("customers:assign")?;
    no_text(&s, "count-by-owner")?;
    let selection = to_selection(s);
    let counts = ctx
        .bounded_bulk("customers.count-by-owner", ownership::count_by_owner(&ctx.store, ctx.org_id(), &selection))
        .await?;
    Ok(counts.into_iter().map(|c| OwnerCount { owner_id: c.owner_id, count: c.count }).collect())
}

pub(super) async fn assign(
    ctx: &CallContext,
    id: Id,
    expected_owner_id: Option<Id>,
    owner_id: Option<Id>,
    reason: &str,
    limits: AssignLimits,
) -> Result<Customer, PluginFault> {
    ctx.require("customers:assign")?;
    let assignment = Assignment {
        org_id: ctx.org_id(),
        actor_user_id: actor(ctx),
        by: &ctx.plugin.plugin.id,
        customer_id: id,
        expected_owner_id,
        owner_id,
        reason,
        limits: ownership::AssignLimits {
            max_held: limits.max_held,
            max_taken_since: limits.max_taken_since,
            cooldown_ms: limits.cooldown_ms,
        },
    };
    ctx.bounded("customers.assign", ownership::assign(&ctx.store, &assignment)).await?.map_err(refusal)?;
    let access = ctx.plugin_access();
    to_customer(ctx.bounded("customers.assign", host::get(&ctx.store, &access, id, Action::Read)).await?)
}

pub(super) async fn release(ctx: &CallContext, s: Selection, reason: &str) -> Result<Vec<Released>, PluginFault> {
    ctx.require("customers:assign")?;
    no_text(&s, "release")?;
    let selection = to_selection(s);
    let by = &ctx.plugin.plugin.id;
    let work = ownership::release(&ctx.store, ctx.org_id(), actor(ctx), by, &selection, reason);
    let released = ctx.bounded_bulk("customers.release", work).await?;
    Ok(released
        .into_iter()
        .map(|r| Released { customer_id: r.customer_id, former_owner_id: r.former_owner_id })
        .collect())
}

pub(super) async fn owner_history(ctx: &CallContext, id: Id) -> Result<Vec<OwnerChange>, PluginFault> {
    ctx.require("customers:assign")?;
    let changes = ctx
        .bounded("customers.owner-history", ownership::history(&ctx.store, ctx.org_id(), id, Some(HISTORY_LIMIT)))
        .await?;
    Ok(changes
        .into_iter()
        .map(|c| OwnerChange {
            from_user_id: c.from_user_id,
            to_user_id: c.to_user_id,
            reason: c.reason,
            actor_user_id: c.actor_user_id,
            at: c.at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::runtime::bindings::tessera::plugin::customers::Host as _;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault, on_both_backends};
    use crate::store::{Backend, Store, now_ms};

    const DAY: i64 = 86_400_000;

    struct World {
        db: TestDb,
        org: testing::TestOrg,
        service: Id,
        mei: Id,
        lei: Id,
    }

    impl World {
        async fn new(backend: Backend) -> World {
            let db = TestDb::new(backend).await;
            let org = testing::org(&db.store, "acme").await;
            let service = testing::service_user(&db.store, org.id, "test-plugin").await;
            let mei = testing::user(&db.store, org.id, "mei", "Salesperson").await;
            let lei = testing::user(&db.store, org.id, "lei", "Salesperson").await;
            World { db, org, service, mei, lei }
        }

        fn store(&self) -> &Store {
            &self.db.store
        }

        /// The plugin requesting what a public pool needs, granted `grants`, acting on its own.
        fn setup(&self, grants: &[&str]) -> Setup {
            let asks = ["customers:read", "customers:assign"];
            Setup::new(self.store(), self.org.id, self.service, testing::manifest(&asks, &[], ""), grants)
        }

        /// The same plugin, granted everything it asks for, during `user`'s call.
        async fn as_user(&self, user: Id) -> Setup {
            let access = testing::access(self.store(), self.org.id, user).await;
            self.setup(&["customers:read", "customers:assign"]).for_user(access)
        }

        /// A customer of level `level` held by `owner` (or nobody), made by the admin.
        async fn customer(&self, name: &str, owner: Option<Id>, level: &str) -> Id {
            let admin = testing::access(self.store(), self.org.id, self.org.admin_id).await;
            let input: host::NewCustomer = serde_json::from_value(
                json!({ "name": name, "owner_id": owner.unwrap_or(self.org.admin_id), "level": level }),
            )
            .expect("new customer");
            let made = host::create(self.store(), &admin, &input).await.expect("create customer");
            if owner.is_none() {
                sqlx::query("UPDATE customers SET owner_id = NULL WHERE id = $1")
                    .bind(made.id)
                    .execute(self.store().pool())
                    .await
                    .expect("to nobody");
            }
            made.id
        }

        /// Makes a customer look as if its owner took it, and last followed it up, days ago.
        async fn age(&self, id: Id, taken_days_ago: i64, followed_up_days_ago: Option<i64>) {
            let now = now_ms();
            sqlx::query(
                "UPDATE customers SET created_at = $2, owner_since = $2, last_followed_up_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(now - taken_days_ago * DAY)
            .bind(followed_up_days_ago.map(|d| now - d * DAY))
            .execute(self.store().pool())
            .await
            .expect("age the customer");
        }

        async fn owner_of(&self, id: Id) -> Option<Id> {
            sqlx::query_scalar("SELECT owner_id FROM customers WHERE id = $1")
                .bind(id)
                .fetch_one(self.store().pool())
                .await
                .expect("customer")
        }
    }

    fn unowned() -> Selection {
        Selection {
            ownership: Ownership::Unowned,
            ids: Vec::new(),
            owner_ids: Vec::new(),
            department_ids: Vec::new(),
            levels: Vec::new(),
            exclude_statuses: Vec::new(),
            exclude_tags: Vec::new(),
            owned_before: None,
            idle_since: None,
            text: None,
            limit: None,
            cursor: None,
        }
    }

    fn claim_limits() -> AssignLimits {
        AssignLimits { max_held: None, max_taken_since: None, cooldown_ms: None }
    }

    async fn assigning_needs_its_own_grant(backend: Backend) {
        let w = World::new(backend).await;
        let c = w.customer("北京星河科技", None, "a").await;
        let mut reader = w.setup(&["customers:read"]).state();
        let m = fault(reader.select(unowned()).await, "denied");
        assert!(m.contains("customers:assign"), "{m}");
        fault(reader.assign(c, None, Some(w.mei), "领取".into(), claim_limits()).await, "denied");
        fault(reader.release(unowned(), "回收".into()).await, "denied");
        fault(reader.count_by_owner(unowned()).await, "denied");
        fault(reader.owner_history(c).await, "denied");
    }

    async fn a_salesperson_claims_from_the_pool_and_exactly_one_of_two_racing_claims_wins(backend: Backend) {
        let w = World::new(backend).await;
        let pooled = w.customer("北京星河科技", None, "a").await;
        w.customer("上海明月贸易", Some(w.lei), "a").await;

        // Mei may not see a customer without an owner on her own scope, but the pool may show it.
        let mei_access = testing::access(w.store(), w.org.id, w.mei).await;
        let hers = host::list(w.store(), &mei_access, &host::CustomerQuery::default()).await.expect("list");
        assert!(hers.items.is_empty());
        let mut mei = w.as_user(w.mei).await.state();
        let page = mei.select(unowned()).await.expect("no trap").expect("select");
        assert_eq!(page.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![pooled]);

        let mut lei = w.as_user(w.lei).await.state();
        let (a, b) = tokio::join!(
            mei.assign(pooled, None, Some(w.mei), "从公海领取".into(), claim_limits()),
            lei.assign(pooled, None, Some(w.lei), "从公海领取".into(), claim_limits()),
        );
        let (a, b) = (a.expect("no trap"), b.expect("no trap"));
        assert!(a.is_ok() != b.is_ok(), "exactly one claim wins: {a:?} {b:?}");
        let (winner, loser) = if a.is_ok() { (w.mei, b) } else { (w.lei, a) };
        let loser = loser.expect_err("the other claim lost");
        assert_eq!(loser.kind(), "conflict", "{loser:?}");
        assert_eq!(w.owner_of(pooled).await, Some(winner));

        let history = mei.owner_history(pooled).await.expect("no trap").expect("history");
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!((history[0].from_user_id, history[0].to_user_id), (None, Some(winner)));
        assert_eq!((history[0].reason.as_str(), history[0].actor_user_id), ("从公海领取", Some(winner)));
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE topic = 'customer.transferred' AND aggregate_id = $1",
        )
        .bind(pooled)
        .fetch_one(w.store().pool())
        .await
        .expect("outbox");
        assert_eq!(events, 1);
    }

    async fn caps_and_the_cooldown_hold_also_for_racing_claims(backend: Backend) {
        let w = World::new(backend).await;
        let first = w.customer("一号客户", None, "a").await;
        let second = w.customer("二号客户", None, "a").await;
        let third = w.customer("三号客户", None, "a").await;
        w.customer("雷的客户", Some(w.lei), "a").await;
        let mut mei = w.as_user(w.mei).await.state();
        let mut mei_again = w.as_user(w.mei).await.state();

        // Held cap 1: of two racing claims by one user, one wins and the other hits the cap.
        let held = AssignLimits { max_held: Some(1), ..claim_limits() };
        let (a, b) = tokio::join!(
            mei.assign(first, None, Some(w.mei), "领取".into(), held),
            mei_again.assign(second, None, Some(w.mei), "领取".into(), held),
        );
        let (a, b) = (a.expect("no trap"), b.expect("no trap"));
        assert!(a.is_ok() != b.is_ok(), "one claim fits under the cap: {a:?} {b:?}");
        let refused = if a.is_ok() { b } else { a }.expect_err("over the cap");
        assert_eq!(refused.kind(), "limited");
        assert!(refused.to_string().contains("max-held"), "{refused:?}");

        // Daily cap 1 since this morning: the claim already made today counts.
        let today = AssignLimits { max_taken_since: Some((1, now_ms() - DAY)), ..claim_limits() };
        let m = fault(mei.assign(third, None, Some(w.mei), "领取".into(), today).await, "limited");
        assert!(m.starts_with("max-taken-since"), "{m}");
        let yesterday = AssignLimits { max_taken_since: Some((1, now_ms() + 1)), ..claim_limits() };
        mei.assign(third, None, Some(w.mei), "领取".into(), yesterday).await.expect("no trap").expect("a new day");

        // Released by hand, the customer may not go back to Mei within the cooldown; Lei may take it.
        mei.assign(third, Some(w.mei), None, "客户暂无需求".into(), claim_limits())
            .await
            .expect("no trap")
            .expect("release");
        let cooldown = AssignLimits { cooldown_ms: Some(7 * DAY), ..claim_limits() };
        let m = fault(mei.assign(third, None, Some(w.mei), "再领".into(), cooldown).await, "limited");
        assert!(m.starts_with("cooldown-ms"), "{m}");
        let mut lei = w.as_user(w.lei).await.state();
        lei.assign(third, None, Some(w.lei), "领取".into(), cooldown).await.expect("no trap").expect("someone else");

        // A stale expectation loses, naming who holds the customer now.
        let m = fault(mei.assign(third, None, Some(w.mei), "领取".into(), claim_limits()).await, "conflict");
        assert!(m.contains(&format!("user {}", w.lei)), "{m}");
        fault(mei.assign(third, Some(w.lei), None, " ".into(), claim_limits()).await, "invalid");
        fault(mei.assign(9_999_999, None, Some(w.mei), "领取".into(), claim_limits()).await, "not-found");
    }

    async fn a_release_returns_idle_and_unwon_customers_and_spares_locked_and_won_ones(backend: Backend) {
        let w = World::new(backend).await;
        let idle = w.customer("久未跟进", Some(w.mei), "a").await;
        w.age(idle, 60, Some(40)).await;
        let fresh = w.customer("刚跟进", Some(w.mei), "a").await;
        w.age(fresh, 60, Some(2)).await;
        let just_taken = w.customer("刚领取", Some(w.mei), "a").await;
        w.age(just_taken, 3, None).await;
        let locked = w.customer("已锁定", Some(w.mei), "a").await;
        w.age(locked, 60, Some(40)).await;
        sqlx::query("UPDATE customers SET tags = '重点,锁定' WHERE id = $1")
            .bind(locked)
            .execute(w.store().pool())
            .await
            .expect("lock");
        let won = w.customer("已签约", Some(w.lei), "a").await;
        w.age(won, 60, Some(40)).await;
        sqlx::query("UPDATE customers SET status = 'signed' WHERE id = $1")
            .bind(won)
            .execute(w.store().pool())
            .await
            .expect("win");
        let other_level = w.customer("B 级客户", Some(w.lei), "b").await;
        w.age(other_level, 60, Some(40)).await;

        let rule = Selection {
            ownership: Ownership::Owned,
            levels: vec!["a".into()],
            exclude_statuses: vec!["signed".into()],
            exclude_tags: vec!["锁定".into()],
            idle_since: Some(now_ms() - 30 * DAY),
            ..unowned()
        };
        let mut job = w.setup(&["customers:read", "customers:assign"]).state();
        let due = job.count_by_owner(rule.clone()).await.expect("no trap").expect("count");
        assert_eq!(due.iter().map(|c| (c.owner_id, c.count)).collect::<Vec<_>>(), vec![(Some(w.mei), 1)]);
        let released =
            job.release(rule.clone(), "自动回收：超过 30 天未跟进".into()).await.expect("no trap").expect("release");
        assert_eq!(
            released.iter().map(|r| (r.customer_id, r.former_owner_id)).collect::<Vec<_>>(),
            vec![(idle, w.mei)]
        );
        assert_eq!(w.owner_of(idle).await, None);
        for kept in [fresh, just_taken, locked, won, other_level] {
            assert!(w.owner_of(kept).await.is_some(), "customer {kept} stays with its owner");
        }
        let again = job.release(rule, "自动回收".into()).await.expect("no trap").expect("release again");
        assert!(again.is_empty(), "a released customer is not released twice");

        // Mei no longer sees it; the history and the outbox tell what happened.
        let mei_access = testing::access(w.store(), w.org.id, w.mei).await;
        let hers = host::list(w.store(), &mei_access, &host::CustomerQuery::default()).await.expect("list");
        assert!(!hers.items.iter().any(|c| c.id == idle));
        let history = job.owner_history(idle).await.expect("no trap").expect("history");
        assert_eq!(
            (history[0].from_user_id, history[0].to_user_id, history[0].actor_user_id),
            (Some(w.mei), None, None)
        );
        let payload: String =
            sqlx::query_scalar("SELECT payload FROM outbox WHERE topic = 'customer.released' AND aggregate_id = $1")
                .bind(idle)
                .fetch_one(w.store().pool())
                .await
                .expect("event");
        let payload: serde_json::Value = serde_json::from_str(&payload).expect("json");
        assert_eq!((payload["from_user_id"].as_i64(), payload["by"].as_str()), (Some(w.mei), Some("test-plugin")));

        // M days without a win: counted from when the owner took the customer.
        let unwon = Selection {
            ownership: Ownership::Owned,
            levels: vec!["a".into()],
            exclude_statuses: vec!["signed".into()],
            owned_before: Some(now_ms() - 50 * DAY),
            ..unowned()
        };
        let released =
            job.release(unwon, "自动回收：超过 50 天未成交".into()).await.expect("no trap").expect("release");
        let mut ids: Vec<Id> = released.iter().map(|r| r.customer_id).collect();
        ids.sort_unstable();
        let mut expected = vec![fresh, locked];
        expected.sort_unstable();
        assert_eq!(ids, expected);

        let mut bad = unowned();
        bad.text = Some("星河".into());
        fault(job.release(bad, "x".into()).await, "invalid");
    }

    on_both_backends!(
        assigning_needs_its_own_grant,
        a_salesperson_claims_from_the_pool_and_exactly_one_of_two_racing_claims_wins,
        caps_and_the_cooldown_hold_also_for_racing_claims,
        a_release_returns_idle_and_unwon_customers_and_spares_locked_and_won_ones,
    );
}
