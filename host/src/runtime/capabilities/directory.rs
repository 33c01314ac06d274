//! `directory` (API 0.1.1): the organisation's users and departments, for plugins that show
//! colleagues' names or decide by department (which pool a salesperson claims from). Needs
//! `directory:read`. Only names, departments and whether an account is active are shown: no
//! usernames, e-mail addresses or phone numbers.

use std::collections::BTreeSet;

use sqlx::Row;

use crate::access::DepartmentTree;
use crate::org::departments;
use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::directory::{Department, Host, User, UserRoles};
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

    async fn find_users(&mut self, text: String, limit: u32) -> Answer<Vec<User>> {
        self.enter()?;
        Ok(find_users(&self.ctx, &text, limit).await)
    }

    async fn roles(&mut self, ids: Vec<Id>) -> Answer<Vec<UserRoles>> {
        self.enter()?;
        Ok(roles(&self.ctx, ids).await)
    }
}

/// Each user's role names and whether one of them administers the organisation (grants `admin`
/// on `org` with the scope `all`, as `Access::is_admin` decides), in the order of the ids.
async fn roles(ctx: &CallContext, ids: Vec<Id>) -> Result<Vec<UserRoles>, PluginFault> {
    ctx.require("directory:read")?;
    let ids: Vec<Id> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    if ids.len() > MAX_IDS {
        return Err(PluginFault::Limited(format!("at most {MAX_IDS} users per call, not {}", ids.len())));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    ctx.bounded("directory.roles", user_roles(&ctx.store, ctx.org_id(), &ids)).await
}

/// Each user's role names and whether one of them administers the organisation, for the users
/// of the organisation among `ids` (sorted, distinct), in that order.
pub(crate) async fn user_roles(store: &Store, org_id: Id, ids: &[Id]) -> crate::Result<Vec<UserRoles>> {
    let mut sql = SqlBuf::new("SELECT id FROM users WHERE org_id = ");
    sql.bind(org_id).push(" AND id IN ").bind_list(ids).push(" ORDER BY id");
    let users: Vec<Id> =
        sql.query().fetch_all(store.pool()).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    let mut sql = SqlBuf::new(
        "SELECT ur.user_id, r.name, EXISTS (SELECT 1 FROM role_grants g WHERE g.role_id = r.id AND g.org_id = r.org_id \
         AND g.module = 'org' AND g.action = 'admin' AND g.scope = 'all') \
         FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id WHERE ur.org_id = ",
    );
    sql.bind(org_id).push(" AND ur.user_id IN ").bind_list(ids).push(" ORDER BY ur.user_id, r.name");
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut out: Vec<UserRoles> =
        users.into_iter().map(|user_id| UserRoles { user_id, roles: Vec::new(), admin: false }).collect();
    for row in rows {
        let (user_id, name): (Id, String) = (row.try_get(0)?, row.try_get(1)?);
        let admin = row.try_get::<bool, _>(2).or_else(|_| row.try_get::<i64, _>(2).map(|v| v != 0))?;
        if let Some(u) = out.iter_mut().find(|u| u.user_id == user_id) {
            u.roles.push(name);
            u.admin |= admin;
        }
    }
    Ok(out)
}

/// Most users one search returns.
const MAX_FOUND: u32 = 100;

/// Active users whose display name or sign-in name contains the text: names that start with
/// it first, then the shortest names, then by id.
async fn find_users(ctx: &CallContext, text: &str, limit: u32) -> Result<Vec<User>, PluginFault> {
    ctx.require("directory:read")?;
    if !(1..=MAX_FOUND).contains(&limit) {
        return Err(PluginFault::Invalid(format!("limit is 1 to {MAX_FOUND}")));
    }
    let text = crate::customers::names::fold_width(text.trim());
    if text.is_empty() || text.chars().count() > 100 {
        return Err(PluginFault::Invalid("text: give 1 to 100 characters".into()));
    }
    let like = format!("%{}%", crate::store::escape_like(&text));
    let starts = format!("{}%", crate::store::escape_like(&text));
    let mut sql =
        SqlBuf::new("SELECT id, display_name, department_id, active FROM users WHERE active = 1 AND org_id = ");
    sql.bind(ctx.org_id())
        .push(" AND (lower(display_name) LIKE ")
        .bind(like.clone())
        .push(" ESCAPE '\\' OR lower(username) LIKE ")
        .bind(like)
        .push(" ESCAPE '\\') ORDER BY CASE WHEN lower(display_name) LIKE ")
        .bind(starts)
        .push(&format!(" ESCAPE '\\' THEN 0 ELSE 1 END, length(display_name), id LIMIT {limit}"));
    ctx.bounded("directory.find-users", read_users(&ctx.store, sql)).await
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

    async fn finds_active_users_by_name_for_mentions(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = &db.store;
        let org = testing::org(store, "acme").await;
        let other = testing::org(store, "other").await;
        let service = testing::service_user(store, org.id, "test-plugin").await;
        for (username, name) in
            [("zhang.weiming", "张伟明"), ("zhang.wei", "张伟"), ("wang.fang", "王芳"), ("left", "张伟东")]
        {
            let id = testing::user(store, org.id, username, "Salesperson").await;
            sqlx::query("UPDATE users SET display_name = $2, active = $3 WHERE id = $1")
                .bind(id)
                .bind(name)
                .bind(i64::from(username != "left"))
                .execute(store.pool())
                .await
                .expect("name user");
        }
        testing::user(store, other.id, "zhang.stranger", "Salesperson").await;
        let manifest = testing::manifest(&["directory:read"], &[], "");
        let mut none = Setup::new(store, org.id, service, manifest.clone(), &[]).state();
        fault(none.find_users("张".into(), 10).await, "denied");
        let mut s = Setup::new(store, org.id, service, manifest, &["directory:read"]).state();
        let found = |users: Vec<User>| users.into_iter().map(|u| u.name).collect::<Vec<_>>();
        // Names that start with it first, the shorter first; a disabled account is left out.
        assert_eq!(found(s.find_users("张伟".into(), 10).await.unwrap().unwrap()), ["张伟", "张伟明"]);
        assert_eq!(found(s.find_users("ＺＨＡＮＧ".into(), 10).await.unwrap().unwrap()), ["张伟", "张伟明"]);
        assert_eq!(found(s.find_users("伟".into(), 1).await.unwrap().unwrap()), ["张伟"]);
        assert!(s.find_users("stranger".into(), 10).await.unwrap().unwrap().is_empty(), "not another organisation's");
        assert!(s.find_users("%".into(), 10).await.unwrap().unwrap().is_empty(), "LIKE wildcards are literal");
        fault(s.find_users("张".into(), 0).await, "invalid");
        let boss = testing::user(store, org.id, "boss", "Administrator").await;
        let mei = testing::user(store, org.id, "mei", "Salesperson").await;
        let stranger = testing::user(store, other.id, "far", "Administrator").await;
        let roles = s.roles(vec![mei, boss, stranger]).await.unwrap().unwrap();
        let seen: Vec<(Id, Vec<String>, bool)> = roles.into_iter().map(|r| (r.user_id, r.roles, r.admin)).collect();
        assert_eq!(
            seen,
            vec![(boss, vec!["Administrator".to_owned()], true), (mei, vec!["Salesperson".to_owned()], false)]
        );
        fault(s.find_users("  ".into(), 5).await, "invalid");
    }

    on_both_backends!(names_departments_and_members_within_the_organisation, finds_active_users_by_name_for_mentions);
}
