//! Returning customers to the pool by the rules, nightly (job `recycle`) or when an admin asks
//! (rules page). The host does the work in bulk: one `release` per rule and criterion, one
//! `count-by-owner` per reminder, and one notification per owner, so the run costs the same
//! number of host calls for a thousand customers as for a million.

use std::collections::BTreeMap;

use tessera_sdk::customers;
use tessera_sdk::notify::{self, Message};
use tessera_sdk::{Caller, Id, Result, log};

use crate::config::Settings;
use crate::rules::{self, Rule};
use crate::text::Text;
use tessera_sdk::time;

/// Where the notification takes an owner: their customers about to return.
pub const DUE_LINK: &str = "/p/public-pool/pool?due=1";
/// Longest notification body the host takes, in characters.
const MAX_BODY: usize = 4_000;

/// The nightly job: returns every overdue customer to the pool, and tells each owner what they
/// lost and what they are about to lose.
pub fn nightly(caller: &Caller) -> Result<()> {
    let settings = Settings::load()?;
    let rules = rules::defined()?;
    let released = run(Text::of(caller), &settings, &rules, time::now_ms(), Reminders::Send)?;
    log::info(format!("recycle: {released} customers returned to the pool by {} rules", rules.len()));
    Ok(())
}

/// Whether a run also reminds owners of customers about to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminders {
    Send,
    /// For a run an admin starts by hand: the nightly run reminds once a day already.
    Skip,
}

/// Returns every customer overdue by a rule to the pool and notifies the owners. Answers how
/// many customers returned.
pub fn run(t: Text, settings: &Settings, rules: &[Rule], now: i64, reminders: Reminders) -> Result<usize> {
    let mut news: BTreeMap<Id, Vec<String>> = BTreeMap::new();
    let mut released_total = 0;
    for rule in rules {
        for (criterion, days) in rule.criteria() {
            let selection = rule.overdue(criterion, days, now, settings);
            let released = customers::release(&selection, &rules::release_reason(criterion, days))?;
            released_total += released.len();
            let mut by_owner: BTreeMap<Id, u64> = BTreeMap::new();
            for r in &released {
                *by_owner.entry(r.former_owner_id).or_default() += 1;
            }
            for (owner, count) in by_owner {
                news.entry(owner).or_default().push(t.released_line(&rule.level, criterion, days, count));
            }
        }
    }
    if reminders == Reminders::Send {
        for rule in rules {
            for (criterion, days) in rule.criteria() {
                let Some(selection) = rule.due_soon(criterion, days, now, settings) else { continue };
                for counted in customers::count_by_owner(&selection)? {
                    if let (Some(owner), count @ 1..) = (counted.owner_id, counted.count) {
                        let line = t.due_line(&rule.level, criterion, days, rule.remind_days, count);
                        news.entry(owner).or_default().push(line);
                    }
                }
            }
        }
    }
    for (owner, lines) in news {
        let body: String = lines.join("\n").chars().take(MAX_BODY).collect();
        let message = Message::new(t.news_title(), body).link(DUE_LINK);
        // One owner the host cannot notify must not keep the others from hearing.
        if let Err(e) = notify::push(&[owner], &message) {
            log::warn(format!("recycle: could not notify user {owner}: {e}"));
        }
    }
    Ok(released_total)
}
