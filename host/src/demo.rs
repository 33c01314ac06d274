//! Demo data for a first look at the CRM: a small sales organisation with departments,
//! a manager and salespeople. (`cargo xtask run` starts with it.)

use crate::error::Result;
use crate::org::{departments, roles, users};
use crate::store::Id;
use crate::web::AppState;

/// Adds the demo departments and users to an organisation; every demo user gets `password`.
pub async fn seed_people(state: &AppState, org_id: Id, password: &str) -> Result<()> {
    let store = &state.store;
    let all_roles = roles::list(store, org_id).await?;
    let role = |name: &str| all_roles.iter().find(|r| r.name == name).map(|r| r.id);
    let dept = |name: &str, parent: Option<Id>| departments::NewDepartment {
        name: name.into(),
        parent_id: parent,
        head_user_id: None,
    };
    let sales = departments::create(store, org_id, None, None, &dept("销售部 Sales", None)).await?;
    let east = departments::create(store, org_id, None, None, &dept("华东区 East", Some(sales.id))).await?;
    let north = departments::create(store, org_id, None, None, &dept("华北区 North", Some(sales.id))).await?;
    let person = |username: &str, name: &str, dept: Id, manager: Option<Id>, role_id: Option<Id>| users::NewUser {
        username: username.into(),
        display_name: name.into(),
        password: password.into(),
        email: Some(format!("{username}@demo.tessera.example")),
        phone: None,
        department_id: Some(dept),
        manager_id: manager,
        locale: Some("zh-CN".into()),
        role_ids: role_id.into_iter().collect(),
    };
    let manager =
        users::create(state, org_id, None, None, &person("wang.fang", "王芳", sales.id, None, role("Sales manager")))
            .await?;
    for (username, name, d) in
        [("zhang.wei", "张伟", east.id), ("li.na", "李娜", east.id), ("liu.yang", "刘洋", north.id)]
    {
        users::create(state, org_id, None, None, &person(username, name, d, Some(manager.id), role("Salesperson")))
            .await?;
    }
    for d in [sales.id, east.id, north.id] {
        let patch = departments::DepartmentPatch { head_user_id: Some(Some(manager.id)), ..Default::default() };
        departments::update(store, org_id, None, None, d, &patch).await?;
    }
    Ok(())
}
