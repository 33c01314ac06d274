//! `directory` (API 0.1.1): the organisation's users and departments, for plugins that show
//! colleagues' names or decide by department (which pool a salesperson claims from). Needs
//! `directory:read`. Only names, departments and whether an account is active are shown: no
//! usernames, e-mail addresses or phone numbers.

use std::collections::BTreeSet;

use sqlx::Row;

use crate::access::DepartmentTree;
use crate::org::departments;
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
        let wanted = if with_subdepartments {
            DepartmentTree::from_edges(all.iter().map(|d| (d.id, d.parent_id))).subtree(department_id)
        } else {
            vec![department_id]
        };
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

/// Every department of the organisation, each followed by the departments under it (the
/// order of the admin's department tree).
async fn tree(store: &Store, org_id: Id) -> crate::Result<Vec<Department>> {
    let list = departments::list(store, org_id).await?;
    Ok(departments::tree_order(&list)
        .into_iter()
        .map(|(d, _)| Department { id: d.id, name: d.name.clone(), parent_id: d.parent_id })
        .collect())
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
}
