//! `directory` (API 0.1.1): the organisation's users and departments, for plugins that show
//! colleagues' names or decide by department (which pool a salesperson claims from). Needs
//! `directory:read`. Only names, departments and whether an account is active are shown: no
//! usernames, e-mail addresses or phone numbers.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;

use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::directory::{Department, Host, User};
use crate::runtime::sandbox::{CallContext, PluginState};
use crate::store::{Id, SqlBuf, Store};

/// Most users one call reads by id.
const MAX_IDS: usize = 1_000;

type Answer<T> = wasmtime::Result<Result<T, PluginFault>>;

impl Host for PluginState {
    async fn users(&mut self, ids: Vec<Id>) -> Answer<Vec<User>> {
        self.enter()?;
        Ok(users(&self.ctx, ids).await)
    }

    async fn departments(&mut self) -> Answer<Vec<Department>> {
        self.enter()?;
        Ok(departments(&self.ctx).await)
    }

    async fn members(&mut self, department_id: Id, with_subdepartments: bool) -> Answer<Vec<User>> {
        self.enter()?;
        Ok(members(&self.ctx, department_id, with_subdepartments).await)
    }
}

async fn users(ctx: &CallContext, ids: Vec<Id>) -> Result<Vec<User>, PluginFault> {
    ctx.require("directory:read")?;
    let ids: Vec<Id> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    if ids.len() > MAX_IDS {
        return Err(PluginFault::Limited(format!("at most {MAX_IDS} users per call, not {}", ids.len())));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = SqlBuf::new("SELECT id, display_name, department_id, active FROM users WHERE org_id = ");
    sql.bind(ctx.org_id()).push(" AND id IN ").bind_list(&ids).push(" ORDER BY id");
    ctx.bounded("directory.users", read_users(&ctx.store, sql)).await
}

async fn departments(ctx: &CallContext) -> Result<Vec<Department>, PluginFault> {
    ctx.require("directory:read")?;
    ctx.bounded("directory.departments", tree(&ctx.store, ctx.org_id())).await
}

async fn members(ctx: &CallContext, department_id: Id, with_subdepartments: bool) -> Result<Vec<User>, PluginFault> {
    ctx.require("directory:read")?;
    let store = &ctx.store;
    let org_id = ctx.org_id();
    let work = async {
        let all = tree(store, org_id).await?;
        if !all.iter().any(|d| d.id == department_id) {
            return Err(crate::Error::NotFound("department"));
        }
        let wanted = if with_subdepartments { subtree(&all, department_id) } else { vec![department_id] };
        let mut sql =
            SqlBuf::new("SELECT id, display_name, department_id, active FROM users WHERE active = 1 AND org_id = ");
        sql.bind(org_id).push(" AND department_id IN ").bind_list(&wanted).push(" ORDER BY id");
        read_users(store, sql).await
    };
    ctx.bounded("directory.members", work).await
}

async fn read_users(store: &Store, sql: SqlBuf) -> crate::Result<Vec<User>> {
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(User {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                department_id: r.try_get(2)?,
                active: r.try_get::<i64, _>(3)? != 0,
            })
        })
        .collect()
}

/// Every department of the organisation, parents before their children.
async fn tree(store: &Store, org_id: Id) -> crate::Result<Vec<Department>> {
    let rows = sqlx::query("SELECT id, name, parent_id FROM departments WHERE org_id = $1 ORDER BY id")
        .bind(org_id)
        .fetch_all(store.pool())
        .await?;
    let all = rows
        .iter()
        .map(|r| Ok(Department { id: r.try_get(0)?, name: r.try_get(1)?, parent_id: r.try_get(2)? }))
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(parents_first(all))
}

/// Orders departments so that each comes after its parent; a department whose parent is
/// missing counts as a root.
fn parents_first(all: Vec<Department>) -> Vec<Department> {
    let known: BTreeSet<Id> = all.iter().map(|d| d.id).collect();
    let mut children: BTreeMap<Option<Id>, Vec<Department>> = BTreeMap::new();
    for d in all {
        let parent = d.parent_id.filter(|p| known.contains(p) && *p != d.id);
        children.entry(parent).or_default().push(d);
    }
    let mut ordered = Vec::new();
    let mut next: Vec<Department> = children.remove(&None).unwrap_or_default();
    next.reverse();
    while let Some(d) = next.pop() {
        if let Some(mut kids) = children.remove(&Some(d.id)) {
            kids.reverse();
            next.extend(kids);
        }
        ordered.push(d);
    }
    ordered
}

fn subtree(all: &[Department], root: Id) -> Vec<Id> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|d| d.parent_id == Some(parent) && d.id != parent).map(|d| d.id));
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault, on_both_backends};
    use crate::store::{Backend, now_ms};

    async fn department(store: &Store, org_id: Id, name: &str, parent: Option<Id>) -> Id {
        sqlx::query_scalar(
            "INSERT INTO departments (org_id, parent_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(org_id)
        .bind(parent)
        .bind(name)
        .bind(now_ms())
        .fetch_one(store.pool())
        .await
        .expect("department")
    }

    async fn names_departments_and_members_within_the_organisation(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = &db.store;
        let org = testing::org(store, "acme").await;
        let other = testing::org(store, "other").await;
        let service = testing::service_user(store, org.id, "test-plugin").await;
        let sales = department(store, org.id, "销售部", None).await;
        let north = department(store, org.id, "华北组", Some(sales)).await;
        let mei = testing::user(store, org.id, "mei", "Salesperson").await;
        let lei = testing::user(store, org.id, "lei", "Salesperson").await;
        let stranger = testing::user(store, other.id, "stranger", "Salesperson").await;
        for (user, dept) in [(mei, sales), (lei, north)] {
            sqlx::query("UPDATE users SET department_id = $2 WHERE id = $1")
                .bind(user)
                .bind(dept)
                .execute(store.pool())
                .await
                .expect("place user");
        }
        let manifest = testing::manifest(&["directory:read"], &[], "");
        let mut none = Setup::new(store, org.id, service, manifest.clone(), &[]).state();
        fault(none.users(vec![mei]).await, "denied");
        let mut s = Setup::new(store, org.id, service, manifest, &["directory:read"]).state();

        let found = s.users(vec![lei, mei, stranger, mei]).await.expect("no trap").expect("users");
        assert_eq!(found.iter().map(|u| (u.id, u.name.as_str())).collect::<Vec<_>>(), vec![(mei, "mei"), (lei, "lei")]);
        assert_eq!((found[0].department_id, found[0].active), (Some(sales), true));

        let tree = s.departments().await.expect("no trap").expect("departments");
        assert_eq!(
            tree.iter().map(|d| (d.id, d.parent_id)).collect::<Vec<_>>(),
            vec![(sales, None), (north, Some(sales))]
        );

        let direct = s.members(sales, false).await.expect("no trap").expect("members");
        assert_eq!(direct.iter().map(|u| u.id).collect::<Vec<_>>(), vec![mei]);
        let all = s.members(sales, true).await.expect("no trap").expect("members");
        assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), vec![mei, lei]);
        fault(s.members(9_999_999, true).await, "not-found");
    }

    on_both_backends!(names_departments_and_members_within_the_organisation);

    fn dept(id: Id, parent_id: Option<Id>) -> Department {
        Department { id, name: format!("d{id}"), parent_id }
    }

    #[test]
    fn departments_come_after_their_parents_and_a_lost_parent_makes_a_root() {
        // In id order, as the database reads them: 2 was made before its parent 6.
        let all = vec![dept(1, None), dept(2, Some(6)), dept(3, Some(1)), dept(6, Some(1)), dept(7, Some(99))];
        let order: Vec<Id> = parents_first(all).iter().map(|d| d.id).collect();
        assert_eq!(order, vec![1, 3, 6, 2, 7]);
    }

    #[test]
    fn a_subtree_holds_its_root_and_everything_under_it() {
        let all = [dept(1, None), dept(2, Some(1)), dept(3, Some(2)), dept(4, None)];
        assert_eq!(subtree(&all, 1), vec![1, 2, 3]);
        assert_eq!(subtree(&all, 4), vec![4]);
    }
}
