//! A short-lived memory of who an API token belongs to and what each user may do, and of each
//! organisation's reference data (its settings, colleagues' names, option lists), each user's
//! unread count and saved views, so that a busy client does not make every request read the
//! same rows.
//!
//! Two rules keep it honest:
//! - every write that changes who may do what (users, roles, grants, departments, token
//!   revocation, ended sessions) or the reference data (users' names, option lists) calls
//!   [`AuthCache::changed`] after it commits, which forgets everything this node remembers;
//!   notifications made or read, and views saved or deleted, forget the unread counts or the
//!   views the same way;
//! - nothing is remembered for longer than [`AuthCache::TTL`], which bounds how long another
//!   node sharing the database can act on a change it did not make itself.
//!
//! Entries carry the epoch read *before* their rows were loaded, so a load that raced with a
//! change is never kept past it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::access::{DepartmentTree, Grants};
use crate::customers::options::OptionItem;
use crate::customers::views::SavedView;
use crate::org::Org;
use crate::org::users::Colleague;
use crate::store::Id;

/// What a valid API token resolved to.
#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub token_id: Id,
    pub org_id: Id,
    pub user_id: Id,
    pub department_id: Option<Id>,
    pub username: String,
    pub display_name: String,
    pub locale: String,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a valid session cookie resolved to, with the times that end it.
#[derive(Debug, Clone)]
pub struct SessionEntry {
    pub who: crate::auth::Authenticated,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A user's grants and, where their scope needs it, their organisation's department tree.
#[derive(Debug, Clone)]
pub struct AccessEntry {
    pub grants: Grants,
    pub tree: DepartmentTree,
}

struct Slot<V> {
    value: V,
    epoch: u64,
    at: Instant,
}

struct Map<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K: Eq + Hash, V: Clone> Map<K, V> {
    fn new() -> Self {
        Map { slots: Mutex::new(HashMap::new()) }
    }

    fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q, epoch: u64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(key)?;
        (slot.epoch == epoch && slot.at.elapsed() < AuthCache::TTL).then(|| slot.value.clone())
    }

    fn put(&self, key: K, value: V, epoch: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= AuthCache::MAX_ENTRIES {
            slots.retain(|_, s| s.epoch == epoch && s.at.elapsed() < AuthCache::TTL);
            if slots.len() >= AuthCache::MAX_ENTRIES {
                slots.clear();
            }
        }
        slots.insert(key, Slot { value, epoch, at: Instant::now() });
    }

    fn remove<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
    {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// A map with its own epoch, for what changes more often than access does (unread counts,
/// saved views): a change moves the epoch and forgets the map, so a load that raced with it is
/// not kept.
struct Guarded<K, V> {
    epoch: AtomicU64,
    map: Map<K, V>,
}

impl<K: Eq + Hash, V: Clone> Guarded<K, V> {
    fn new() -> Self {
        Guarded { epoch: AtomicU64::new(0), map: Map::new() }
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn get(&self, key: &K) -> Option<V> {
        self.map.get(key, self.epoch())
    }

    fn put(&self, key: K, value: V, epoch: u64) {
        if epoch == self.epoch() {
            self.map.put(key, value, epoch);
        }
    }

    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.map.clear();
    }
}

/// The node's memory of tokens and access; one per [`crate::store::Store`].
pub struct AuthCache {
    epoch: AtomicU64,
    tokens: Map<String, TokenEntry>,
    sessions: Map<String, SessionEntry>,
    access: Map<(Id, Id), AccessEntry>,
    orgs: Map<Id, Org>,
    colleagues: Map<Id, Arc<Vec<Colleague>>>,
    options: Map<Id, Arc<Vec<OptionItem>>>,
    unread: Guarded<Id, i64>,
    views: Guarded<(Id, Id), Arc<Vec<SavedView>>>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").field("epoch", &self.epoch()).finish_non_exhaustive()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache {
            epoch: AtomicU64::new(0),
            tokens: Map::new(),
            sessions: Map::new(),
            access: Map::new(),
            orgs: Map::new(),
            colleagues: Map::new(),
            options: Map::new(),
            unread: Guarded::new(),
            views: Guarded::new(),
        }
    }
}

impl AuthCache {
    /// The longest a remembered answer is used.
    pub const TTL: Duration = Duration::from_secs(2);
    const MAX_ENTRIES: usize = 20_000;

    /// The current epoch; read it before loading what is then passed to a `put_*`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Forgets everything: users, roles, grants, departments, tokens or option lists changed.
    pub fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.sessions.clear();
        self.access.clear();
        self.orgs.clear();
        self.colleagues.clear();
        self.options.clear();
        self.unread.changed();
        self.views.changed();
    }

    /// The token whose SHA-256 is `hash`, if remembered.
    pub fn token(&self, hash: &str) -> Option<TokenEntry> {
        self.tokens.get(hash, self.epoch())
    }

    pub fn put_token(&self, hash: String, entry: TokenEntry, epoch: u64) {
        self.tokens.put(hash, entry, epoch);
    }

    /// Forgets one token (its last use was just written).
    pub fn forget_token(&self, hash: &str) {
        self.tokens.remove(hash);
    }

    /// The session whose cookie secret has the SHA-256 `hash`, if remembered.
    pub fn session(&self, hash: &str) -> Option<SessionEntry> {
        self.sessions.get(hash, self.epoch())
    }

    pub fn put_session(&self, hash: String, entry: SessionEntry, epoch: u64) {
        self.sessions.put(hash, entry, epoch);
    }

    /// Forgets one session (it ended, or its last use was just written).
    pub fn forget_session(&self, hash: &str) {
        self.sessions.remove(hash);
    }

    /// The access of `user_id` in `org_id`, if remembered.
    pub fn access(&self, org_id: Id, user_id: Id) -> Option<AccessEntry> {
        self.access.get(&(org_id, user_id), self.epoch())
    }

    pub fn put_access(&self, org_id: Id, user_id: Id, entry: AccessEntry, epoch: u64) {
        self.access.put((org_id, user_id), entry, epoch);
    }

    /// The organisation `org_id`, if remembered.
    pub fn org(&self, org_id: Id) -> Option<Org> {
        self.orgs.get(&org_id, self.epoch())
    }

    pub fn put_org(&self, org: Org, epoch: u64) {
        self.orgs.put(org.id, org, epoch);
    }

    /// Every user of `org_id` by display name, if remembered.
    pub fn colleagues(&self, org_id: Id) -> Option<Arc<Vec<Colleague>>> {
        self.colleagues.get(&org_id, self.epoch())
    }

    pub fn put_colleagues(&self, org_id: Id, people: Arc<Vec<Colleague>>, epoch: u64) {
        self.colleagues.put(org_id, people, epoch);
    }

    /// Every item of every option list of `org_id`, if remembered.
    pub fn options(&self, org_id: Id) -> Option<Arc<Vec<OptionItem>>> {
        self.options.get(&org_id, self.epoch())
    }

    pub fn put_options(&self, org_id: Id, items: Arc<Vec<OptionItem>>, epoch: u64) {
        self.options.put(org_id, items, epoch);
    }

    /// How many unread notifications `user_id` has, if remembered.
    pub fn unread(&self, user_id: Id) -> Option<i64> {
        self.unread.get(&user_id)
    }

    /// Read before counting what is then passed to [`AuthCache::put_unread`].
    pub fn unread_epoch(&self) -> u64 {
        self.unread.epoch()
    }

    pub fn put_unread(&self, user_id: Id, count: i64, epoch: u64) {
        self.unread.put(user_id, count, epoch);
    }

    /// Notifications were made or read.
    pub fn unread_changed(&self) {
        self.unread.changed();
    }

    /// The saved views `user_id` of `org_id` sees, if remembered.
    pub fn views(&self, org_id: Id, user_id: Id) -> Option<Arc<Vec<SavedView>>> {
        self.views.get(&(org_id, user_id))
    }

    /// Read before loading what is then passed to [`AuthCache::put_views`].
    pub fn views_epoch(&self) -> u64 {
        self.views.epoch()
    }

    pub fn put_views(&self, org_id: Id, user_id: Id, views: Arc<Vec<SavedView>>, epoch: u64) {
        self.views.put((org_id, user_id), views, epoch);
    }

    /// A view was saved or deleted.
    pub fn views_changed(&self) {
        self.views.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> TokenEntry {
        TokenEntry {
            token_id: 1,
            org_id: 1,
            user_id: 2,
            department_id: None,
            username: "li.na".into(),
            display_name: "李娜".into(),
            locale: "zh-CN".into(),
            expires_at: i64::MAX,
            last_used_at: None,
        }
    }

    #[test]
    fn a_change_forgets_what_was_loaded_before_it() {
        let cache = AuthCache::default();
        let before = cache.epoch();
        cache.put_token("h".into(), entry(), before);
        assert!(cache.token("h").is_some());
        cache.changed();
        assert!(cache.token("h").is_none());
        // A load that started before the change and finishes after it is not kept.
        cache.put_token("h".into(), entry(), before);
        assert!(cache.token("h").is_none());
        cache.put_token("h".into(), entry(), cache.epoch());
        assert_eq!(cache.token("h").map(|t| t.user_id), Some(2));
    }

    #[test]
    fn an_unread_count_counted_before_a_notification_is_not_kept() {
        let cache = AuthCache::default();
        let before = cache.unread_epoch();
        cache.unread_changed();
        cache.put_unread(7, 3, before);
        assert_eq!(cache.unread(7), None);
        cache.put_unread(7, 4, cache.unread_epoch());
        assert_eq!(cache.unread(7), Some(4));
        // A change to access forgets the counts too.
        cache.changed();
        assert_eq!(cache.unread(7), None);
    }

    #[test]
    fn forgetting_one_token_keeps_the_others() {
        let cache = AuthCache::default();
        let epoch = cache.epoch();
        cache.put_token("a".into(), entry(), epoch);
        cache.put_token("b".into(), entry(), epoch);
        cache.forget_token("a");
        assert!(cache.token("a").is_none());
        assert!(cache.token("b").is_some());
    }
}
