//! Who may read and change what a category holds. Categories are reference data (everyone reads
//! the list); what they hold is shared with every user through the plugin, so every page,
//! action, download and search result goes through [`Access`]:
//!
//! - a category is readable by administrators, by anyone when its `read_roles` is empty, and by
//!   users with one of its `read_roles` or `edit_roles`, and only when its parent is readable;
//! - it is editable by administrators, and by users with one of its `edit_roles` who may read
//!   it.

use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result, context};

use crate::store::{CATEGORY, Category};
use crate::text::Text;

pub struct Access {
    admin: bool,
    roles: Vec<String>,
    pub categories: Vec<Typed<Category>>,
}

fn has_role(roles: &[String], wanted: &[String]) -> bool {
    wanted.iter().any(|w| roles.iter().any(|r| r.trim().eq_ignore_ascii_case(w.trim())))
}

impl Access {
    /// The signed-in user's roles and every category.
    pub fn load() -> Result<Access> {
        let all = records::find_all(&Query::new(CATEGORY).limit(200))?;
        let mut categories: Vec<Typed<Category>> = all.into_iter().map(|r| r.into_typed()).collect::<Result<_>>()?;
        categories.sort_by(|a, b| a.fields.name.cmp(&b.fields.name));
        Ok(Access::new(context::is_admin(), context::roles(), categories))
    }

    pub fn new(admin: bool, roles: Vec<String>, categories: Vec<Typed<Category>>) -> Access {
        Access { admin, roles, categories }
    }

    pub fn is_admin(&self) -> bool {
        self.admin
    }

    pub fn category(&self, id: Id) -> Option<&Typed<Category>> {
        self.categories.iter().find(|c| c.id == id)
    }

    fn readable_itself(&self, c: &Category) -> bool {
        self.admin
            || c.read_roles.is_empty()
            || has_role(&self.roles, &c.read_roles)
            || has_role(&self.roles, &c.edit_roles)
    }

    pub fn can_read(&self, id: Id) -> bool {
        let mut at = Some(id);
        // A chain longer than the categories there are is a loop: refuse.
        for _ in 0..=self.categories.len() {
            match at {
                None => return true,
                Some(id) => match self.category(id) {
                    Some(c) if self.readable_itself(&c.fields) => at = c.fields.parent_id,
                    _ => return false,
                },
            }
        }
        false
    }

    pub fn can_edit(&self, id: Id) -> bool {
        self.can_read(id)
            && self.category(id).is_some_and(|c| self.admin || has_role(&self.roles, &c.fields.edit_roles))
    }

    /// The categories the user may read, of some kinds (all kinds when empty).
    pub fn readable(&self, kinds: &[&str]) -> Vec<&Typed<Category>> {
        self.categories
            .iter()
            .filter(|c| kinds.is_empty() || kinds.contains(&c.fields.kind.as_str()))
            .filter(|c| self.can_read(c.id))
            .collect()
    }

    pub fn editable(&self, kinds: &[&str]) -> Vec<&Typed<Category>> {
        self.readable(kinds).into_iter().filter(|c| self.can_edit(c.id)).collect()
    }

    /// The category, if the user may read it; "not found" otherwise, which does not reveal it.
    pub fn require_read(&self, t: Text, id: Id) -> Result<&Typed<Category>> {
        match self.category(id) {
            Some(c) if self.can_read(id) => Ok(c),
            _ => Err(Error::not_found(t.not_found())),
        }
    }

    pub fn require_edit(&self, t: Text, id: Id) -> Result<&Typed<Category>> {
        let c = self.require_read(t, id)?;
        if self.can_edit(id) { Ok(c) } else { Err(Error::denied(t.cannot_edit())) }
    }

    /// `分类 / 子分类`: the category's path.
    pub fn path(&self, id: Id) -> String {
        let mut names = Vec::new();
        let mut at = Some(id);
        while let Some(c) = at.and_then(|id| self.category(id)) {
            if names.len() > self.categories.len() {
                break;
            }
            names.push(c.fields.name.clone());
            at = c.fields.parent_id;
        }
        names.reverse();
        names.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(id: Id, parent: Option<Id>, read: &[&str], edit: &[&str]) -> Typed<Category> {
        Typed {
            id,
            customer_id: None,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            version: 1,
            fields: Category {
                name: format!("c{id}"),
                parent_id: parent,
                kind: "article".into(),
                read_roles: read.iter().map(|s| (*s).to_owned()).collect(),
                edit_roles: edit.iter().map(|s| (*s).to_owned()).collect(),
                description: String::new(),
            },
        }
    }

    fn all() -> Vec<Typed<Category>> {
        vec![
            cat(1, None, &[], &[]),
            cat(2, None, &["Administrator"], &[]),
            cat(3, Some(2), &[], &[]),
            cat(4, None, &[], &["Salesperson"]),
            cat(5, None, &["Sales manager"], &["Sales manager"]),
            cat(6, Some(7), &[], &[]),
            cat(7, Some(6), &[], &[]),
        ]
    }

    #[test]
    fn roles_decide_reading_and_editing() {
        let sales = Access::new(false, vec!["Salesperson".into()], all());
        assert!(sales.can_read(1) && !sales.can_edit(1), "open to read, admins edit");
        assert!(!sales.can_read(2), "admin-only");
        assert!(!sales.can_read(3), "under an admin-only parent");
        assert!(sales.can_edit(4), "the role edits");
        assert!(!sales.can_read(5));
        assert!(!sales.can_read(6) && !sales.can_read(7), "a loop reads as nothing");
        assert!(!sales.can_read(99));
        let manager = Access::new(false, vec!["sales manager".into()], all());
        assert!(manager.can_read(5) && manager.can_edit(5), "roles compare without case");
        let admin = Access::new(true, vec![], all());
        assert!(admin.can_read(2) && admin.can_edit(3) && admin.can_edit(5));
        assert_eq!(admin.path(3), "c2 / c3");
    }
}
