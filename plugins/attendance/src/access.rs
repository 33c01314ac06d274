//! Who the caller is to attendance: an administrator (who sees and corrects everyone), or a
//! member of a department (who sees the reports of their department and the departments under
//! it, as far as the host lets them read their colleagues' punches).

use std::collections::BTreeMap;

use tessera_sdk::directory::{self, Department, User};
use tessera_sdk::{Caller, Error, Id, Result};

/// Whether the signed-in user is one of the organisation's administrators.
pub fn is_admin(caller: &Caller) -> Result<bool> {
    Ok(caller.user_id.is_some() && tessera_sdk::context::is_admin())
}

/// The signed-in user, or `denied`.
pub fn user_id(caller: &Caller) -> Result<Id> {
    caller.user_id.ok_or_else(|| Error::denied("attendance is for signed-in users"))
}

/// The caller's own directory entry.
pub fn me(caller: &Caller) -> Result<Option<User>> {
    directory::user(user_id(caller)?)
}

/// Users by id, in one call.
pub fn users_by_id(ids: impl IntoIterator<Item = Id>) -> Result<BTreeMap<Id, User>> {
    let mut ids: Vec<Id> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(directory::users(&ids)?.into_iter().map(|u| (u.id, u)).collect())
}

/// The departments a non-administrator may report on: their own and those under it.
pub fn reportable(own: Option<Id>, departments: &[Department]) -> Vec<Id> {
    own.map(|d| directory::subtree(departments, d)).unwrap_or_default()
}

/// A department's name, or `#id`.
pub fn department_name(departments: &[Department], id: Option<Id>) -> String {
    match id {
        Some(id) => departments.iter().find(|d| d.id == id).map(|d| d.name.clone()).unwrap_or_else(|| format!("#{id}")),
        None => String::new(),
    }
}

/// A user's name from a map, or `#id`.
pub fn name_in(users: &BTreeMap<Id, User>, id: Id) -> String {
    users.get(&id).map(|u| u.name.clone()).unwrap_or_else(|| format!("#{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_reports_on_their_department_and_below() {
        let d = |id, parent_id| Department { id, name: format!("部门{id}"), parent_id };
        let all = [d(1, None), d(2, Some(1)), d(3, Some(2)), d(4, None)];
        assert_eq!(reportable(Some(2), &all), vec![2, 3]);
        assert!(reportable(None, &all).is_empty());
        assert_eq!(department_name(&all, Some(3)), "部门3");
        assert_eq!(department_name(&all, Some(9)), "#9");
    }
}
