//! Who may see and moderate which board. The host hands every user every shared record of the
//! forum, so these rules are the forum's access control: every page, action, search result and
//! notification passes through them.
//!
//! A board is visible to a user when it names no roles, when the user holds one of its roles,
//! moderates it, or is an administrator. Moderators and administrators pin, lock, move and
//! delete threads and replies.

use std::collections::BTreeSet;

use tessera_sdk::records::Typed;
use tessera_sdk::{Caller, Error, Id, Result, context, directory};

use crate::store::{self, Board};

/// A user as the forum sees them: their id, role names and whether they administer the
/// organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub id: Id,
    pub roles: Vec<String>,
    pub admin: bool,
}

impl Viewer {
    /// The signed-in user, with the roles the host gives for this call.
    pub fn current(caller: &Caller) -> Result<Viewer> {
        let id = caller.user_id.ok_or_else(|| Error::denied("the forum is for signed-in users"))?;
        Ok(Viewer { id, roles: context::roles(), admin: context::is_admin() })
    }

    /// Other users, with their roles as the directory has them now (users of another
    /// organisation, or gone, are left out): whom a notification may reach.
    pub fn others(ids: &[Id]) -> Result<Vec<Viewer>> {
        Ok(directory::roles(ids)?
            .into_iter()
            .map(|u| Viewer { id: u.user_id, roles: u.roles, admin: u.admin })
            .collect())
    }

    pub fn can_see(&self, board: &Board) -> bool {
        self.admin
            || board.roles.iter().all(|r| r.trim().is_empty())
            || board.moderators.contains(&self.id)
            || board.roles.iter().any(|r| self.roles.iter().any(|mine| same_role(mine, r)))
    }

    pub fn moderates(&self, board: &Board) -> bool {
        self.admin || board.moderators.contains(&self.id)
    }
}

fn same_role(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    !a.is_empty() && a.to_lowercase() == b.to_lowercase()
}

/// The boards a viewer may see, in order.
pub fn visible_boards(viewer: &Viewer) -> Result<Vec<Typed<Board>>> {
    Ok(store::boards()?.into_iter().filter(|b| viewer.can_see(&b.fields)).collect())
}

/// The ids of boards a viewer may see.
pub fn visible_ids(boards: &[Typed<Board>]) -> BTreeSet<Id> {
    boards.iter().map(|b| b.id).collect()
}

/// A board the viewer may see, or `not-found` (a hidden board does not exist for them).
pub fn visible_board(viewer: &Viewer, id: Id) -> Result<Typed<Board>> {
    match store::board(id)? {
        Some(board) if viewer.can_see(&board.fields) => Ok(board),
        _ => Err(Error::not_found(format!("board {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(roles: &[&str], moderators: &[Id]) -> Board {
        Board {
            name: "b".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            moderators: moderators.to_vec(),
            ..Board::default()
        }
    }

    fn viewer(id: Id, roles: &[&str], admin: bool) -> Viewer {
        Viewer { id, roles: roles.iter().map(|r| r.to_string()).collect(), admin }
    }

    #[test]
    fn a_board_without_roles_is_open_to_everyone() {
        assert!(viewer(1, &[], false).can_see(&board(&[], &[])));
        assert!(viewer(1, &["Salesperson"], false).can_see(&board(&[" "], &[])));
    }

    #[test]
    fn a_restricted_board_admits_its_roles_moderators_and_administrators_only() {
        let b = board(&["Sales manager"], &[7]);
        assert!(!viewer(1, &["Salesperson"], false).can_see(&b));
        assert!(viewer(2, &["sales manager"], false).can_see(&b));
        assert!(viewer(7, &[], false).can_see(&b));
        assert!(viewer(3, &[], true).can_see(&b));
        assert!(viewer(7, &[], false).moderates(&b));
        assert!(!viewer(2, &["Sales manager"], false).moderates(&b));
    }
}
