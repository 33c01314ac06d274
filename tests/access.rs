//! The permission matrix: for every data scope, role combination and department position,
//! the access module yields exactly the records it should, as SQL and as a one-record check,
//! and nothing ever crosses organisations.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use tessera_host::access::{Access, Action, Principal, RecordScope, Scope, ScopeColumns};
use tessera_host::org::{self, departments, roles, users};
use tessera_host::store::{Backend, SqlBuf, Store};
use tessera_host::web::{AppState, WebConfig};
use tessera_tests::{ADMIN_PASSWORD, TestDb, TestServer, USER_PASSWORD, both_backends};

/// Department positions, each with the departments at and below it, written out by hand so
/// the test does not reuse the code it checks.
///
/// HQ ─┬─ Sales ─┬─ East ── Shanghai
///     │         └─ North
///     └─ Service
const POSITIONS: &[(&str, Option<&str>, &[&str])] = &[
    ("HQ", None, &["HQ", "Sales", "East", "Shanghai", "North", "Service"]),
    ("Sales", Some("HQ"), &["Sales", "East", "Shanghai", "North"]),
    ("East", Some("Sales"), &["East", "Shanghai"]),
    ("Shanghai", Some("East"), &["Shanghai"]),
    ("North", Some("Sales"), &["North"]),
    ("Service", Some("HQ"), &["Service"]),
];

struct Org {
    id: i64,
    admin: i64,
    departments: BTreeMap<&'static str, i64>,
    /// user name → (user id, department name)
    users: BTreeMap<String, (i64, Option<&'static str>)>,
    scope_roles: BTreeMap<Scope, i64>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    id: i64,
    org_id: i64,
    owner_id: Option<i64>,
    department_id: Option<i64>,
}

async fn build_org(state: &AppState, slug: &str) -> anyhow::Result<Org> {
    let created = org::create(
        &state.store,
        &state.hasher,
        &org::NewOrg {
            slug: slug.into(),
            name: slug.into(),
            time_zone: "Asia/Shanghai".into(),
            admin_password: ADMIN_PASSWORD.into(),
        },
    )
    .await?;
    let org_id = created.org.id;
    let mut depts = BTreeMap::new();
    for (name, parent, _) in POSITIONS {
        let parent_id = parent.map(|p| depts[p]);
        let d = departments::create(
            &state.store,
            org_id,
            None,
            None,
            &departments::NewDepartment { name: (*name).into(), parent_id, head_user_id: None },
        )
        .await?;
        depts.insert(*name, d.id);
    }
    let mut people = BTreeMap::new();
    let mut positions: Vec<Option<&'static str>> = POSITIONS.iter().map(|p| Some(p.0)).collect();
    positions.push(None);
    for dept in positions {
        let username = format!("u-{}", dept.unwrap_or("none").to_lowercase());
        let u = users::create(
            state,
            org_id,
            None,
            None,
            &users::NewUser {
                username: username.clone(),
                display_name: username.clone(),
                password: USER_PASSWORD.into(),
                email: None,
                phone: None,
                department_id: dept.map(|d| depts[d]),
                manager_id: None,
                locale: None,
                role_ids: vec![],
            },
        )
        .await?;
        people.insert(username, (u.id, dept));
    }
    let mut scope_roles = BTreeMap::new();
    for scope in Scope::ALL {
        let role = roles::create(
            &state.store,
            org_id,
            created.admin_user_id,
            None,
            &roles::NewRole {
                name: format!("customers {}", scope.as_str()),
                description: String::new(),
                grants: vec![roles::Grant { module: "customers".into(), action: Action::Read, scope }],
            },
        )
        .await?;
        scope_roles.insert(scope, role.id);
    }
    Ok(Org { id: org_id, admin: created.admin_user_id, departments: depts, users: people, scope_roles })
}

async fn create_probe(store: &Store) -> anyhow::Result<()> {
    let ddl = match store.backend() {
        Backend::Sqlite => {
            "CREATE TABLE access_probe (id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL, owner_id INTEGER, department_id INTEGER)"
        }
        Backend::Postgres => {
            "CREATE TABLE access_probe (id BIGINT PRIMARY KEY, org_id BIGINT NOT NULL, owner_id BIGINT, department_id BIGINT)"
        }
    };
    sqlx::query(ddl).execute(store.pool()).await?;
    Ok(())
}

/// Each user owns two records in their department; each department has one record without an
/// owner; the East user also owns one record filed under North.
async fn fill_probe(store: &Store, org: &Org, next_id: &mut i64, records: &mut Vec<Record>) -> anyhow::Result<()> {
    let mut add = |owner: Option<i64>, dept: Option<i64>| {
        *next_id += 1;
        records.push(Record { id: *next_id, org_id: org.id, owner_id: owner, department_id: dept });
    };
    for (user_id, dept) in org.users.values() {
        let d = dept.map(|d| org.departments[d]);
        add(Some(*user_id), d);
        add(Some(*user_id), d);
    }
    for d in org.departments.values() {
        add(None, Some(*d));
    }
    add(Some(org.users["u-east"].0), Some(org.departments["North"]));
    for r in records.iter().filter(|r| r.org_id == org.id) {
        sqlx::query("INSERT INTO access_probe (id, org_id, owner_id, department_id) VALUES ($1, $2, $3, $4)")
            .bind(r.id)
            .bind(r.org_id)
            .bind(r.owner_id)
            .bind(r.department_id)
            .execute(store.pool())
            .await?;
    }
    Ok(())
}

/// What a user at `dept` with `scope` must see, from the hand-written table.
fn expected(org: &Org, records: &[Record], user_id: i64, dept: Option<&str>, scope: Scope) -> BTreeSet<i64> {
    let reach: Vec<i64> = match (scope, dept) {
        (Scope::Department, Some(d)) => vec![org.departments[d]],
        (Scope::DepartmentTree, Some(d)) => {
            let below = POSITIONS.iter().find(|p| p.0 == d).map(|p| p.2).unwrap_or(&[]);
            below.iter().map(|b| org.departments[b]).collect()
        }
        _ => vec![],
    };
    records
        .iter()
        .filter(|r| r.org_id == org.id)
        .filter(|r| match scope {
            Scope::All => true,
            _ => r.owner_id == Some(user_id) || r.department_id.is_some_and(|d| reach.contains(&d)),
        })
        .map(|r| r.id)
        .collect()
}

async fn visible(store: &Store, access: &Access) -> anyhow::Result<BTreeSet<i64>> {
    let mut sql = SqlBuf::new("SELECT id FROM access_probe WHERE ");
    access.filter("customers", Action::Read).push_sql(&ScopeColumns::STANDARD, &mut sql);
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
}

async fn access_for(store: &Store, org: &Org, username: &str) -> anyhow::Result<Access> {
    let (user_id, dept) = org.users[username];
    Ok(Access::load(store, Principal { org_id: org.id, user_id, department_id: dept.map(|d| org.departments[d]) })
        .await?)
}

both_backends! {
    async fn every_scope_role_and_position_sees_exactly_its_records(backend) {
        let db = TestDb::new(backend).await?;
        let store = db.store().await?;
        let state = AppState::new(store.clone(), WebConfig::default());
        create_probe(&store).await?;
        let orgs = [build_org(&state, "org-a").await?, build_org(&state, "org-b").await?];
        let mut records = Vec::new();
        let mut next_id = 0;
        for org in &orgs {
            fill_probe(&store, org, &mut next_id, &mut records).await?;
        }
        let mut checked = 0;
        for org in &orgs {
            for (username, (user_id, dept)) in &org.users {
                // No role: nothing at all.
                let none = access_for(&store, org, username).await?;
                assert!(visible(&store, &none).await?.is_empty(), "{username} without roles");
                for scope in Scope::ALL {
                    users::set_roles(&store, org.id, org.admin, None, *user_id, &[org.scope_roles[&scope]]).await?;
                    let access = access_for(&store, org, username).await?;
                    let want = expected(org, &records, *user_id, *dept, scope);
                    let got = visible(&store, &access).await?;
                    assert_eq!(got, want, "{} {username} with scope {scope:?}", org.id);
                    for r in &records {
                        let one = RecordScope { org_id: r.org_id, owner_id: r.owner_id, department_id: r.department_id };
                        assert_eq!(access.allows("customers", Action::Read, &one), want.contains(&r.id), "record {} for {username} {scope:?}", r.id);
                        assert!(!access.allows("customers", Action::Edit, &one), "read grants no edit");
                    }
                    assert!(got.iter().all(|id| records.iter().any(|r| r.id == *id && r.org_id == org.id)), "nothing crosses orgs");
                    checked += 1;
                }
                // Grants add up: own + department-and-below is department-and-below.
                users::set_roles(&store, org.id, org.admin, None, *user_id, &[org.scope_roles[&Scope::Own], org.scope_roles[&Scope::DepartmentTree]]).await?;
                let access = access_for(&store, org, username).await?;
                assert_eq!(visible(&store, &access).await?, expected(org, &records, *user_id, *dept, Scope::DepartmentTree));
                users::set_roles(&store, org.id, org.admin, None, *user_id, &[]).await?;
            }
        }
        assert_eq!(checked, 2 * 7 * 4);
        Ok(())
    }

    async fn siblings_see_nothing_of_each_other(backend) {
        let db = TestDb::new(backend).await?;
        let store = db.store().await?;
        let state = AppState::new(store.clone(), WebConfig::default());
        create_probe(&store).await?;
        let org = build_org(&state, "org-s").await?;
        let mut records = Vec::new();
        fill_probe(&store, &org, &mut 0, &mut records).await?;
        let owned_by = |name: &str| -> BTreeSet<i64> {
            records.iter().filter(|r| r.owner_id == Some(org.users[name].0)).map(|r| r.id).collect()
        };
        for scope in [Scope::Own, Scope::Department] {
            for (me, sibling) in [("u-east", "u-north"), ("u-north", "u-east"), ("u-sales", "u-service")] {
                users::set_roles(&store, org.id, org.admin, None, org.users[me].0, &[org.scope_roles[&scope]]).await?;
                let seen = visible(&store, &access_for(&store, &org, me).await?).await?;
                let theirs: BTreeSet<i64> = owned_by(sibling).into_iter()
                    .filter(|id| records.iter().any(|r| r.id == *id && r.department_id == Some(org.departments[org.users[sibling].1.unwrap_or("HQ")])))
                    .collect();
                assert!(seen.is_disjoint(&theirs), "{me} sees {sibling}'s records with {scope:?}");
            }
        }
        // Department and below reaches down, never up.
        users::set_roles(&store, org.id, org.admin, None, org.users["u-shanghai"].0, &[org.scope_roles[&Scope::DepartmentTree]]).await?;
        let seen = visible(&store, &access_for(&store, &org, "u-shanghai").await?).await?;
        assert!(seen.is_disjoint(&owned_by("u-east")), "Shanghai does not see its parent East");
        users::set_roles(&store, org.id, org.admin, None, org.users["u-sales"].0, &[org.scope_roles[&Scope::DepartmentTree]]).await?;
        let seen = visible(&store, &access_for(&store, &org, "u-sales").await?).await?;
        assert!(owned_by("u-shanghai").is_subset(&seen), "Sales sees two levels down");
        assert!(seen.is_disjoint(&owned_by("u-service")), "but not the sibling branch");
        Ok(())
    }

    async fn the_user_directory_follows_the_read_scope(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let (_, east) = admin.post("/api/v1/departments", &json!({ "name": "East" })).await?;
        let (_, north) = admin.post("/api/v1/departments", &json!({ "name": "North" })).await?;
        let (_, role) = admin.post("/api/v1/roles", &json!({ "name": "Colleagues", "grants": [{ "module": "org", "action": "read", "scope": "department" }] })).await?;
        let role = role["id"].as_i64().context("role")?;
        server.add_user(&admin, "ed", east["id"].as_i64(), &[role]).await?;
        let eve = server.add_user(&admin, "eve", east["id"].as_i64(), &[role]).await?;
        let nick = server.add_user(&admin, "nick", north["id"].as_i64(), &[role]).await?;
        let ed = server.sign_in("ed", USER_PASSWORD).await?;
        let (status, list) = ed.get("/api/v1/users").await?;
        assert_eq!(status, StatusCode::OK);
        let names: BTreeSet<&str> = list.as_array().map(|a| a.iter().filter_map(|u| u["username"].as_str()).collect()).unwrap_or_default();
        assert_eq!(names, BTreeSet::from(["ed", "eve"]));
        assert_eq!(ed.get(&format!("/api/v1/users/{eve}")).await?.0, StatusCode::OK);
        assert_eq!(ed.get(&format!("/api/v1/users/{nick}")).await?.0, StatusCode::NOT_FOUND);
        Ok(())
    }
}
