//! Record-level access: the one place that decides which records a user may touch.
//!
//! A role grants actions per module, each with a data scope (own, department, department and
//! sub-departments, all). A user may hold several roles; for each module and action the widest
//! scope among them applies. Given the acting user, a module and an action, [`Access`] yields
//! a [`RecordFilter`] that renders as a SQL condition for list queries and answers the same
//! question for one record. Every filter is confined to the user's organisation, whatever the
//! scope: nothing ever crosses organisations.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::store::{Id, SqlBuf, Store};

/// The modules of the host that roles grant actions on. Plugins add theirs at run time.
pub const HOST_MODULES: &[&str] = &["customers", "contacts", "activities", "org"];

/// What a user wants to do with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Create,
    Edit,
    Delete,
    Transfer,
    Export,
    Admin,
}

impl Action {
    pub const ALL: [Action; 7] =
        [Action::Read, Action::Create, Action::Edit, Action::Delete, Action::Transfer, Action::Export, Action::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Edit => "edit",
            Action::Delete => "delete",
            Action::Transfer => "transfer",
            Action::Export => "export",
            Action::Admin => "admin",
        }
    }
}

impl FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::invalid("action", format!("unknown action {s:?}")))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a grant reaches. Ordered from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Records the user owns.
    Own,
    /// Records of the user's own department (and the user's own records).
    Department,
    /// Records of the user's department and every department below it.
    DepartmentTree,
    /// Every record of the organisation.
    All,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Own, Scope::Department, Scope::DepartmentTree, Scope::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Department => "department",
            Scope::DepartmentTree => "department_tree",
            Scope::All => "all",
        }
    }
}

impl FromStr for Scope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Scope::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::invalid("scope", format!("unknown scope {s:?}")))
    }
}

/// Checks a module name against the modules roles may grant.
/// Besides the host's modules, each plugin's records are a module `plugin:<id>`, so a role can
/// give a plugin's records a scope of their own (else the role's `customers` scope applies).
pub fn validate_module(module: &str) -> Result<()> {
    let plugin = module.strip_prefix("plugin:").is_some_and(|id| {
        (2..=40).contains(&id.len()) && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    if HOST_MODULES.contains(&module) || plugin {
        Ok(())
    } else {
        Err(Error::invalid(
            "module",
            format!("unknown module {module:?}; known modules: {}, and plugin:<plugin id>", HOST_MODULES.join(", ")),
        ))
    }
}

/// The actions a user holds, per module, with the widest scope any of their roles gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    by_module: BTreeMap<String, BTreeMap<Action, Scope>>,
}

impl Grants {
    /// Adds a grant; grants add up, so the wider scope wins.
    pub fn add(&mut self, module: &str, action: Action, scope: Scope) {
        let slot = self.by_module.entry(module.to_owned()).or_default().entry(action).or_insert(scope);
        *slot = (*slot).max(scope);
    }

    pub fn scope(&self, module: &str, action: Action) -> Option<Scope> {
        self.by_module.get(module)?.get(&action).copied()
    }

    /// Every grant as (module, action, scope).
    pub fn iter(&self) -> impl Iterator<Item = (&str, Action, Scope)> {
        self.by_module.iter().flat_map(|(m, actions)| actions.iter().map(move |(a, s)| (m.as_str(), *a, *s)))
    }

    /// Loads the combined grants of every role the user holds.
    pub async fn load(store: &Store, org_id: Id, user_id: Id) -> Result<Grants> {
        let rows = sqlx::query(
            "SELECT g.module, g.action, g.scope FROM role_grants g \
             JOIN user_roles ur ON ur.role_id = g.role_id AND ur.org_id = g.org_id \
             WHERE ur.user_id = $1 AND ur.org_id = $2",
        )
        .bind(user_id)
        .bind(org_id)
        .fetch_all(store.pool())
        .await?;
        let mut grants = Grants::default();
        for row in rows {
            let module: String = row.try_get(0)?;
            let action: String = row.try_get(1)?;
            let scope: String = row.try_get(2)?;
            // Rows were validated on write; an unknown value (from a newer version) grants nothing.
            if let (Ok(action), Ok(scope)) = (action.parse(), scope.parse()) {
                grants.add(&module, action, scope);
            }
        }
        Ok(grants)
    }
}

/// The organisation's department tree, as child lists.
#[derive(Debug, Clone, Default)]
pub struct DepartmentTree {
    children: HashMap<Id, Vec<Id>>,
}

impl DepartmentTree {
    pub fn from_edges(edges: impl IntoIterator<Item = (Id, Option<Id>)>) -> Self {
        let mut children: HashMap<Id, Vec<Id>> = HashMap::new();
        for (id, parent) in edges {
            if let Some(parent) = parent {
                children.entry(parent).or_default().push(id);
            }
        }
        DepartmentTree { children }
    }

    pub async fn load(store: &Store, org_id: Id) -> Result<DepartmentTree> {
        let rows = sqlx::query("SELECT id, parent_id FROM departments WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(store.pool())
            .await?;
        let mut edges = Vec::with_capacity(rows.len());
        for row in rows {
            edges.push((row.try_get::<i64, _>(0)?, row.try_get::<Option<i64>, _>(1)?));
        }
        Ok(DepartmentTree::from_edges(edges))
    }

    /// `root` and every department below it, sorted. Guards against cycles.
    pub fn subtree(&self, root: Id) -> Vec<Id> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = self.children.get(&out[i]) {
                for kid in kids {
                    if !out.contains(kid) {
                        out.push(*kid);
                    }
                }
            }
            i += 1;
        }
        out.sort_unstable();
        out
    }
}

/// Who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub org_id: Id,
    pub user_id: Id,
    pub department_id: Option<Id>,
}

/// Where a record sits, for the check of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordScope {
    pub org_id: Id,
    pub owner_id: Option<Id>,
    pub department_id: Option<Id>,
}

/// The columns of a table that carry a record's organisation, owner and department.
#[derive(Debug, Clone, Copy)]
pub struct ScopeColumns<'a> {
    pub org: &'a str,
    pub owner: &'a str,
    pub department: &'a str,
}

impl ScopeColumns<'static> {
    /// The usual names: `org_id`, `owner_id`, `department_id`.
    pub const STANDARD: ScopeColumns<'static> =
        ScopeColumns { org: "org_id", owner: "owner_id", department: "department_id" };
}

/// Which records of an organisation a user may act on, for one module and action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFilter {
    /// No grant: nothing at all.
    Nothing,
    /// Records owned by `user_id`.
    Owner { org_id: Id, user_id: Id },
    /// Records of these departments, plus those owned by `user_id`.
    Departments { org_id: Id, user_id: Id, departments: Vec<Id> },
    /// Every record of the organisation.
    Org { org_id: Id },
}

impl RecordFilter {
    /// Appends this filter as a parenthesised SQL condition on `cols`: the organisation once,
    /// then the scope within it. Keeping the organisation a single term lets the planners use
    /// the `(org_id, id)` index in order instead of OR-ing index scans and sorting.
    pub fn push_sql(&self, cols: &ScopeColumns<'_>, sql: &mut SqlBuf) {
        match self.org_id() {
            None => {
                sql.push("(1 = 0)");
            }
            Some(org_id) => {
                sql.push("(").push(cols.org).push(" = ").bind(org_id).push(" AND ");
                self.push_scope(cols, sql);
                sql.push(")");
            }
        }
    }

    fn org_id(&self) -> Option<Id> {
        match self {
            RecordFilter::Nothing => None,
            RecordFilter::Owner { org_id, .. }
            | RecordFilter::Departments { org_id, .. }
            | RecordFilter::Org { org_id } => Some(*org_id),
        }
    }

    /// The condition within the organisation.
    fn push_scope(&self, cols: &ScopeColumns<'_>, sql: &mut SqlBuf) {
        match self {
            RecordFilter::Nothing => {
                sql.push("1 = 0");
            }
            RecordFilter::Owner { user_id, .. } => {
                sql.push(cols.owner).push(" = ").bind(*user_id);
            }
            RecordFilter::Departments { user_id, departments, .. } => {
                sql.push("(").push(cols.owner).push(" = ").bind(*user_id);
                if !departments.is_empty() {
                    sql.push(" OR ").push(cols.department).push(" IN ").bind_list(departments);
                }
                sql.push(")");
            }
            RecordFilter::Org { .. } => {
                sql.push("1 = 1");
            }
        }
    }

    /// Whether one record passes this filter.
    pub fn allows(&self, record: &RecordScope) -> bool {
        match self {
            RecordFilter::Nothing => false,
            RecordFilter::Owner { org_id, user_id } => record.org_id == *org_id && record.owner_id == Some(*user_id),
            RecordFilter::Departments { org_id, user_id, departments } => {
                record.org_id == *org_id
                    && (record.owner_id == Some(*user_id)
                        || record.department_id.is_some_and(|d| departments.contains(&d)))
            }
            RecordFilter::Org { org_id } => record.org_id == *org_id,
        }
    }
}

/// What a per-record share allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareLevel {
    Read,
    Edit,
}

impl ShareLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareLevel::Read => "read",
            ShareLevel::Edit => "edit",
        }
    }

    /// The share levels that allow `action`: sharing lends reading and editing, nothing else.
    fn allowing(action: Action) -> Option<&'static [ShareLevel]> {
        match action {
            Action::Read => Some(&[ShareLevel::Read, ShareLevel::Edit]),
            Action::Edit => Some(&[ShareLevel::Edit]),
            _ => None,
        }
    }
}

/// A table of per-record shares with a colleague or a department, with columns `org_id`,
/// `user_id`, `department_id`, `level` and the shared record's id in `record_column`.
#[derive(Debug, Clone, Copy)]
pub struct ShareTable<'a> {
    pub table: &'a str,
    pub record_column: &'a str,
}

/// One share of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordShare {
    pub user_id: Option<Id>,
    pub department_id: Option<Id>,
    pub level: ShareLevel,
}

/// A user's access, ready to answer for any module and action.
#[derive(Debug, Clone)]
pub struct Access {
    principal: Principal,
    grants: Grants,
    tree: DepartmentTree,
}

impl Access {
    pub fn new(principal: Principal, grants: Grants, tree: DepartmentTree) -> Self {
        Access { principal, grants, tree }
    }

    /// Loads the grants of `principal` and, where a department-and-below scope needs it, the
    /// department tree; remembered for a moment (see [`crate::cache`]).
    pub async fn load(store: &Store, principal: Principal) -> Result<Access> {
        let cache = store.auth_cache();
        if let Some(hit) = cache.access(principal.org_id, principal.user_id) {
            return Ok(Access::new(principal, hit.grants, hit.tree));
        }
        let epoch = cache.epoch();
        let grants = Grants::load(store, principal.org_id, principal.user_id).await?;
        let needs_tree =
            principal.department_id.is_some() && grants.iter().any(|(_, _, scope)| scope == Scope::DepartmentTree);
        let tree =
            if needs_tree { DepartmentTree::load(store, principal.org_id).await? } else { DepartmentTree::default() };
        let entry = crate::cache::AccessEntry { grants, tree };
        cache.put_access(principal.org_id, principal.user_id, entry.clone(), epoch);
        Ok(Access::new(principal, entry.grants, entry.tree))
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    pub fn scope(&self, module: &str, action: Action) -> Option<Scope> {
        self.grants.scope(module, action)
    }

    /// The filter for `action` on `module`.
    pub fn filter(&self, module: &str, action: Action) -> RecordFilter {
        let Principal { org_id, user_id, department_id } = self.principal;
        match self.scope(module, action) {
            None => RecordFilter::Nothing,
            Some(Scope::All) => RecordFilter::Org { org_id },
            Some(Scope::Own) => RecordFilter::Owner { org_id, user_id },
            Some(Scope::Department) => match department_id {
                Some(d) => RecordFilter::Departments { org_id, user_id, departments: vec![d] },
                None => RecordFilter::Owner { org_id, user_id },
            },
            Some(Scope::DepartmentTree) => match department_id {
                Some(d) => RecordFilter::Departments { org_id, user_id, departments: self.tree.subtree(d) },
                None => RecordFilter::Owner { org_id, user_id },
            },
        }
    }

    /// Whether the user may do `action` on one record.
    pub fn allows(&self, module: &str, action: Action, record: &RecordScope) -> bool {
        self.filter(module, action).allows(record)
    }

    /// Appends the filter for `action` on `module`, widened by the records shared with the user
    /// (or their department) at a level that allows the action. `id_column` is the record id.
    pub fn push_filter_with_shares(
        &self,
        module: &str,
        action: Action,
        cols: &ScopeColumns<'_>,
        id_column: &str,
        shares: &ShareTable<'_>,
        sql: &mut SqlBuf,
    ) {
        let filter = self.filter(module, action);
        let levels = match (ShareLevel::allowing(action), &filter) {
            // Everything of the organisation is visible already; shares add nothing.
            (Some(_), RecordFilter::Org { .. }) | (None, _) => {
                filter.push_sql(cols, sql);
                return;
            }
            (Some(levels), _) => levels,
        };
        let Principal { org_id, user_id, department_id } = self.principal;
        sql.push("(").push(cols.org).push(" = ").bind(org_id).push(" AND (");
        filter.push_scope(cols, sql);
        sql.push(" OR ").push(id_column).push(" IN (SELECT ");
        sql.push(shares.record_column).push(" FROM ").push(shares.table).push(" WHERE org_id = ").bind(org_id);
        sql.push(" AND level IN (");
        for (i, level) in levels.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(level.as_str());
        }
        sql.push(") AND (user_id = ").bind(user_id);
        if let Some(d) = department_id {
            sql.push(" OR department_id = ").bind(d);
        }
        sql.push("))))");
    }

    /// Whether the user may do `action` on one record, counting its shares.
    pub fn allows_with_shares(
        &self,
        module: &str,
        action: Action,
        record: &RecordScope,
        shares: &[RecordShare],
    ) -> bool {
        if self.allows(module, action, record) {
            return true;
        }
        let Some(levels) = ShareLevel::allowing(action) else { return false };
        record.org_id == self.principal.org_id
            && shares.iter().any(|s| {
                levels.contains(&s.level)
                    && (s.user_id == Some(self.principal.user_id)
                        || (s.department_id.is_some() && s.department_id == self.principal.department_id))
            })
    }

    /// Whether the user administers the organisation.
    pub fn is_admin(&self) -> bool {
        self.require("org", Action::Admin, Scope::All).is_ok()
    }

    /// Fails with `Forbidden` unless the user holds `action` on `module` with at least `min`.
    pub fn require(&self, module: &str, action: Action, min: Scope) -> Result<Scope> {
        match self.scope(module, action) {
            Some(scope) if scope >= min => Ok(scope),
            _ => Err(Error::Forbidden(format!(
                "you need the {action} permission on {module} (scope {}) for this",
                min.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> DepartmentTree {
        // 1 ─┬─ 2 ── 4
        //    └─ 3
        DepartmentTree::from_edges([(1, None), (2, Some(1)), (3, Some(1)), (4, Some(2))])
    }

    #[test]
    fn grants_add_up_to_the_widest_scope() {
        let mut g = Grants::default();
        g.add("customers", Action::Read, Scope::Own);
        g.add("customers", Action::Read, Scope::DepartmentTree);
        g.add("customers", Action::Read, Scope::Department);
        assert_eq!(g.scope("customers", Action::Read), Some(Scope::DepartmentTree));
        assert_eq!(g.scope("customers", Action::Edit), None);
        assert_eq!(g.scope("contacts", Action::Read), None);
    }

    #[test]
    fn subtree_includes_every_level_below() {
        assert_eq!(tree().subtree(1), vec![1, 2, 3, 4]);
        assert_eq!(tree().subtree(2), vec![2, 4]);
        assert_eq!(tree().subtree(3), vec![3]);
    }

    #[test]
    fn subtree_survives_a_cycle() {
        let t = DepartmentTree::from_edges([(1, Some(2)), (2, Some(1))]);
        assert_eq!(t.subtree(1), vec![1, 2]);
    }

    #[test]
    fn filters_follow_scope() {
        let p = Principal { org_id: 7, user_id: 70, department_id: Some(2) };
        let mut g = Grants::default();
        g.add("customers", Action::Read, Scope::DepartmentTree);
        g.add("customers", Action::Edit, Scope::Own);
        g.add("customers", Action::Export, Scope::Department);
        let access = Access::new(p, g, tree());
        let rec = |org, owner, dept| RecordScope { org_id: org, owner_id: owner, department_id: dept };
        // department and below reaches department 4 under 2, not sibling 3
        assert!(access.allows("customers", Action::Read, &rec(7, Some(1), Some(4))));
        assert!(!access.allows("customers", Action::Read, &rec(7, Some(1), Some(3))));
        // own: only what the user owns, wherever it sits
        assert!(access.allows("customers", Action::Edit, &rec(7, Some(70), Some(3))));
        assert!(!access.allows("customers", Action::Edit, &rec(7, Some(71), Some(2))));
        // department: the own department only
        assert!(access.allows("customers", Action::Export, &rec(7, None, Some(2))));
        assert!(!access.allows("customers", Action::Export, &rec(7, None, Some(4))));
        // no grant, nothing; another org, never
        assert!(!access.allows("customers", Action::Delete, &rec(7, Some(70), Some(2))));
        assert!(!access.allows("customers", Action::Edit, &rec(8, Some(70), Some(2))));
    }

    #[test]
    fn shares_lend_reading_and_editing_only() {
        let p = Principal { org_id: 7, user_id: 70, department_id: Some(2) };
        let access = Access::new(p, Grants::default(), tree());
        let rec = RecordScope { org_id: 7, owner_id: Some(1), department_id: Some(3) };
        let to_me = RecordShare { user_id: Some(70), department_id: None, level: ShareLevel::Read };
        let to_my_dept = RecordShare { user_id: None, department_id: Some(2), level: ShareLevel::Edit };
        let to_other = RecordShare { user_id: Some(71), department_id: None, level: ShareLevel::Edit };
        assert!(access.allows_with_shares("customers", Action::Read, &rec, &[to_me]));
        assert!(!access.allows_with_shares("customers", Action::Edit, &rec, &[to_me]));
        assert!(access.allows_with_shares("customers", Action::Edit, &rec, &[to_my_dept]));
        assert!(!access.allows_with_shares("customers", Action::Delete, &rec, &[to_my_dept]));
        assert!(!access.allows_with_shares("customers", Action::Read, &rec, &[to_other]));
        let elsewhere = RecordScope { org_id: 8, ..rec };
        assert!(!access.allows_with_shares("customers", Action::Read, &elsewhere, &[to_me]), "never across orgs");
    }

    #[test]
    fn sql_binds_every_value() {
        let f = RecordFilter::Departments { org_id: 1, user_id: 2, departments: vec![3, 4] };
        let mut sql = SqlBuf::new("SELECT id FROM t WHERE ");
        f.push_sql(&ScopeColumns::STANDARD, &mut sql);
        assert_eq!(sql.text, "SELECT id FROM t WHERE (org_id = $1 AND (owner_id = $2 OR department_id IN ($3, $4)))");
        assert_eq!(sql.args.len(), 4);
    }
}
