//! Pools: the unowned customers of a department and of every department under it. A user sees
//! and claims from the pools over their own department (a pool over 华东 serves the people of 上海
//! under it); a user in no department sees every pool. With no pool defined, one implicit pool
//! holds every unowned customer of the organisation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tessera_sdk::customers::{Customer, Selection};
use tessera_sdk::directory::{self, Department};
use tessera_sdk::records::{self, Record};
use tessera_sdk::{Id, Result};

use crate::reference;

/// The entity that stores pools.
pub const ENTITY: &str = "pool";

/// A pool as defined on the rules page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// The record's id.
    pub id: Id,
    pub name: String,
    /// The department whose subtree the pool serves.
    pub department: Id,
}

/// The fields of a `pool` record.
#[derive(Debug, Serialize, Deserialize)]
struct PoolFields {
    name: String,
    department: Id,
}

impl Pool {
    fn from_record(record: &Record) -> Result<Pool> {
        let fields: PoolFields = reference::fields_of(record)?;
        Ok(Pool { id: record.id, name: fields.name, department: fields.department })
    }
}

/// Every pool defined.
pub fn defined() -> Result<Vec<Pool>> {
    reference::records_of(ENTITY)?.iter().map(Pool::from_record).collect()
}

/// Stores a new pool. The host refuses a second pool for the same department (`conflict`), and
/// anyone but an administrator (`denied`).
pub fn create(name: &str, department: Id) -> Result<Pool> {
    let fields = PoolFields { name: name.to_owned(), department };
    Pool::from_record(&records::insert_typed(ENTITY, &fields, None)?)
}

/// Deletes a pool; the host refuses anyone but an administrator.
pub fn delete(id: Id) -> Result<()> {
    records::delete(ENTITY, id)
}

/// The department ids of a pool's subtree.
fn covered(pool: &Pool, departments: &[Department]) -> Vec<Id> {
    directory::subtree(departments, pool.department)
}

/// The pools one user may see and claim from.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The pools defined that the user sees, in the order they were made.
    pub pools: Vec<Pool>,
    /// No pool is defined: the implicit pool over every unowned customer.
    pub implicit: bool,
    /// Every department of the organisation, for names and subtrees.
    pub departments: Vec<Department>,
}

impl Reach {
    /// The pools of `user`; `None` (a job) sees every pool.
    pub fn of(user: Option<Id>) -> Result<Reach> {
        let all = defined()?;
        let departments = directory::departments()?;
        let own_department = match user {
            Some(id) => directory::user(id)?.and_then(|u| u.department_id),
            None => None,
        };
        Ok(Reach::among(all, departments, own_department))
    }

    /// The pools among `all` whose subtree holds `department` (every pool when it is none).
    fn among(all: Vec<Pool>, departments: Vec<Department>, department: Option<Id>) -> Reach {
        let implicit = all.is_empty();
        let pools = all
            .into_iter()
            .filter(|pool| department.is_none_or(|d| covered(pool, &departments).contains(&d)))
            .collect();
        Reach { pools, implicit, departments }
    }

    /// Whether the user has any pool to claim from.
    pub fn is_empty(&self) -> bool {
        !self.implicit && self.pools.is_empty()
    }

    /// The user's pool of this id.
    pub fn pool(&self, id: Id) -> Option<&Pool> {
        self.pools.iter().find(|p| p.id == id)
    }

    /// The departments of the user's pools (of `only` that pool, when it is one of them);
    /// `None` for the implicit pool, which has no department filter.
    fn department_ids(&self, only: Option<Id>) -> Option<Vec<Id>> {
        if self.implicit {
            return None;
        }
        let chosen: Vec<&Pool> = match only.and_then(|id| self.pool(id)) {
            Some(pool) => vec![pool],
            None => self.pools.iter().collect(),
        };
        let mut ids: Vec<Id> = chosen.iter().flat_map(|pool| covered(pool, &self.departments)).collect();
        ids.sort_unstable();
        ids.dedup();
        Some(ids)
    }

    /// The customers of the user's pools (of pool `only`, when it is one of them), or `None`
    /// when the user has no pool. Never an open department filter for a user without a pool:
    /// an empty list would select every department.
    pub fn customers(&self, only: Option<Id>) -> Option<Selection> {
        if self.is_empty() {
            return None;
        }
        Some(match self.department_ids(only) {
            Some(ids) => Selection::unowned().departments(&ids),
            None => Selection::unowned(),
        })
    }

    /// Whether a customer is unowned and in one of the user's pools.
    pub fn holds(&self, customer: &Customer) -> bool {
        if customer.owner_id.is_some() || self.is_empty() {
            return false;
        }
        match self.department_ids(None) {
            None => true,
            Some(ids) => customer.department_id.is_some_and(|d| ids.contains(&d)),
        }
    }

    /// Department names by id.
    pub fn department_names(&self) -> BTreeMap<Id, String> {
        self.departments.iter().map(|d| (d.id, d.name.clone())).collect()
    }
}

/// The departments as select options, each indented under its parent: `("3", "　　上海")`.
pub fn department_options(departments: &[Department]) -> Vec<(String, String)> {
    fn add(out: &mut Vec<(String, String)>, all: &[Department], parent: Option<Id>, depth: usize) {
        for d in all.iter().filter(|d| d.parent_id == parent) {
            out.push((d.id.to_string(), format!("{}{}", "　".repeat(depth), d.name)));
            // A tree deeper than this is a cycle in bad data; stop rather than recurse forever.
            if depth < 32 {
                add(out, all, Some(d.id), depth + 1);
            }
        }
    }
    let mut out = Vec::new();
    add(&mut out, departments, None, 0);
    // Departments whose parent is missing still get an option.
    for d in departments {
        if !out.iter().any(|(id, _)| *id == d.id.to_string()) {
            out.push((d.id.to_string(), d.name.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: Id, parent_id: Option<Id>) -> Department {
        Department { id, name: format!("d{id}"), parent_id }
    }

    /// 1 华东 ─ 2 上海 ─ 3 浦东; 4 华北.
    fn tree() -> Vec<Department> {
        vec![dept(1, None), dept(2, Some(1)), dept(3, Some(2)), dept(4, None)]
    }

    fn pool(id: Id, department: Id) -> Pool {
        Pool { id, name: format!("p{id}"), department }
    }

    #[test]
    fn a_user_sees_the_pools_over_their_department() {
        let pools = vec![pool(10, 1), pool(11, 2), pool(12, 4)];
        let reach = Reach::among(pools.clone(), tree(), Some(3));
        assert_eq!(reach.pools.iter().map(|p| p.id).collect::<Vec<_>>(), [10, 11]);
        assert_eq!(reach.customers(None).map(|s| s.department_ids), Some(vec![1, 2, 3]));
        assert_eq!(reach.customers(Some(11)).map(|s| s.department_ids), Some(vec![2, 3]));
        // A pool the user does not see is no filter of theirs.
        assert_eq!(reach.customers(Some(12)).map(|s| s.department_ids), Some(vec![1, 2, 3]));

        let north = Reach::among(pools.clone(), tree(), Some(4));
        assert_eq!(north.customers(None).map(|s| s.department_ids), Some(vec![4]));
        let everyone = Reach::among(pools, tree(), None);
        assert_eq!(everyone.pools.len(), 3);
    }

    #[test]
    fn a_user_outside_every_pool_selects_nothing() {
        let reach = Reach::among(vec![pool(10, 2)], tree(), Some(4));
        assert!(reach.is_empty());
        assert!(reach.customers(None).is_none(), "never an open department filter");
    }

    #[test]
    fn without_pools_one_implicit_pool_holds_every_unowned_customer() {
        let reach = Reach::among(Vec::new(), tree(), Some(4));
        assert!(reach.implicit && !reach.is_empty());
        let selection = reach.customers(None).expect("the implicit pool");
        assert!(selection.department_ids.is_empty());
    }

    #[test]
    fn departments_are_offered_as_an_indented_tree() {
        let options = department_options(&[dept(4, None), dept(2, Some(1)), dept(1, None), dept(9, Some(77))]);
        let labels: Vec<&str> = options.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["d4", "d1", "　d2", "d9"]);
    }
}
