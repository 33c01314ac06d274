//! The organisation's users and departments (capability `directory:read`, since API 0.1.1):
//! names to show, the department tree a plugin needs to decide who belongs where, and since API
//! 0.1.4 users found by name ([`find_users`]) for `@mentions`.

pub use crate::bindings::tessera::plugin::directory::{
    Department, User, UserRoles, departments, find_users, members, roles, users,
};
use crate::{Id, Result};

/// One user, or `None` when the id is not a user of the organisation.
pub fn user(id: Id) -> Result<Option<User>> {
    Ok(users(&[id])?.into_iter().next())
}

/// The department and every department under it, from a list of departments in any order.
pub fn subtree(all: &[Department], root: Id) -> Vec<Id> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|d| d.parent_id == Some(parent)).map(|d| d.id));
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: Id, parent_id: Option<Id>) -> Department {
        Department { id, name: format!("d{id}"), parent_id }
    }

    #[test]
    fn a_subtree_holds_the_root_and_everything_under_it_only() {
        let all = [dept(1, None), dept(2, Some(1)), dept(3, Some(2)), dept(4, None), dept(5, Some(4))];
        assert_eq!(subtree(&all, 2), vec![2, 3]);
        assert_eq!(subtree(&all, 1), vec![1, 2, 3]);
        assert_eq!(subtree(&all, 5), vec![5]);
    }
}
