//! The numbers a salesperson watches: customers waiting in their pools, customers they hold
//! against the cap, claims today against the daily cap, and their customers about to return to
//! the pool. Shown atop the pool page and as the dashboard widget `pool-stats`.

use tessera_sdk::customers::{self, OwnerCount, Selection};
use tessera_sdk::ui::{Page, Stat};
use tessera_sdk::{Caller, Id, Result};

use crate::claim;
use crate::config::Settings;
use crate::pools::Reach;
use crate::rules::Rule;
use crate::text::Text;

/// The stats, for the signed-in user.
pub fn stats(
    t: Text,
    caller: &Caller,
    settings: &Settings,
    reach: &Reach,
    rules: &[Rule],
    now: i64,
) -> Result<Vec<Stat>> {
    let in_pools = match reach.customers(None) {
        Some(selection) => total(&customers::count_by_owner(&selection)?),
        None => 0,
    };
    let mut stats = vec![Stat::new(t.stat_in_pools(), in_pools)];
    let Some(me) = caller.user_id else { return Ok(stats) };

    let held = total(&customers::count_by_owner(&Selection::owned().owners(&[me]))?);
    stats.push(Stat::new(t.stat_held(), of_cap(held, settings.max_held)));

    let today = claim::claimed_since(me, settings.start_of_today(now))?;
    let today = if today >= claim::MAX_COUNTED as usize { format!("{today}+") } else { today.to_string() };
    stats.push(Stat::new(t.stat_claimed_today(), of_cap(today, settings.daily_claim_cap)));

    let (due, window) = due_soon(me, settings, rules, now)?;
    let stat = Stat::new(t.stat_due(), due);
    stats.push(match window {
        Some(days) => stat.hint(t.within_days(days)),
        None => stat.hint(t.no_reminder_set()),
    });
    Ok(stats)
}

/// How many of `me`'s customers the rules will return within their reminder windows, and the
/// longest window; `None` when no rule reminds. A customer due by two criteria counts twice.
pub fn due_soon(me: Id, settings: &Settings, rules: &[Rule], now: i64) -> Result<(u64, Option<u32>)> {
    let mut due = 0;
    let mut window = None;
    for rule in rules {
        for (criterion, days) in rule.criteria() {
            if let Some(selection) = rule.due_soon(criterion, days, now, settings) {
                due += total(&customers::count_by_owner(&selection.owners(&[me]))?);
                window = window.max(Some(rule.remind_days));
            }
        }
    }
    Ok((due, window))
}

/// The widget.
pub fn widget(t: Text, caller: &Caller, settings: &Settings, reach: &Reach, rules: &[Rule], now: i64) -> Result<Page> {
    Ok(Page::new(t.pool_title()).stats(stats(t, caller, settings, reach, rules, now)?))
}

fn total(counts: &[OwnerCount]) -> u64 {
    counts.iter().map(|c| c.count).sum()
}

/// `3 / 200`, or `3` without a cap.
fn of_cap(value: impl std::fmt::Display, cap: u32) -> String {
    if cap == 0 { value.to_string() } else { format!("{value} / {cap}") }
}
