//! The popup of a call whose customer is known: the customer card, the last five activities, the
//! open items (the next follow-up, this number's missed calls nobody returned yet) and the form
//! to log the call. Everything is read for the agent, so they see no more than their roles allow.

use serde_json::Value;
use tessera_sdk::customers::{self, Activity, Customer};
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Outcome, Page, Table};
use tessera_sdk::{Error, Id, Result};

use crate::call::{self, Status, Stored};
use crate::config::Settings;
use crate::text::Text;
use crate::{extensions, listing, log_call};
use tessera_sdk::time;

/// Activities the card shows.
const LAST_ACTIVITIES: u32 = 5;
/// Earlier missed calls the open items list.
const EARLIER_MISSED: u32 = 10;
/// Characters of an activity's content the table shows.
const CONTENT_CHARS: usize = 80;

/// Adds the customer's sections to the popup of `stored`.
pub fn section(page: Page, t: Text, settings: &Settings, stored: &Stored, customer_id: Id, now: i64) -> Result<Page> {
    let customer = match customers::get(customer_id) {
        Ok(customer) => customer,
        Err(Error::NotFound(_) | Error::Denied(_)) => return Ok(page.notice("warning", t.customer_hidden())),
        Err(e) => return Err(e),
    };
    let earlier = earlier_missed(stored)?;
    // One directory call for the owner and the agents of the earlier calls.
    let names =
        extensions::user_names(customer.owner_id.into_iter().chain(earlier.iter().filter_map(|c| c.fields.user_id)))?;
    let contact = match stored.fields.contact_id {
        Some(id) => customers::contacts(customer_id)?.into_iter().find(|c| c.id == id),
        None => None,
    };

    let owner = customer.owner_id.map(|o| extensions::name_in(&names, o)).unwrap_or_else(|| t.no_owner());
    let phones: Vec<&str> = customer.phones.iter().map(|p| p.number.as_str()).collect();
    let mut card = vec![
        (t.name(), customer.name.clone()),
        (t.code(), customer.code.clone()),
        (t.level(), customer.level.clone().unwrap_or_default()),
        (t.customer_status(), customer.status.clone().unwrap_or_default()),
        (t.owner(), owner),
        (t.phones(), t.list(&phones)),
    ];
    if let Some(contact) = &contact {
        let who = match contact.position.as_deref().filter(|p| !p.is_empty()) {
            Some(position) => format!("{} · {position}", contact.name),
            None => contact.name.clone(),
        };
        card.push((t.contact(), who));
    }
    // An action rather than a link: from the popup it takes the main window to the customer.
    let mut page =
        page.heading(t.card_heading())
            .key_values(card)
            .actions([Action::new("open-customer", t.open_customer()).argument(customer.id.to_string())]);

    page = page.heading(t.activities_heading());
    let activities = customers::activities(customer_id, LAST_ACTIVITIES)?;
    page = if activities.is_empty() {
        page.notice("info", t.no_activities())
    } else {
        page.table(activity_table(t, settings, &activities))
    };

    page = page.heading(t.open_items_heading()).key_values([
        (t.next_follow_up(), next_follow_up(t, settings, &customer, now)),
        (t.earlier_missed(), if earlier.is_empty() { t.none() } else { t.earlier_missed_count(earlier.len()) }),
    ]);
    if !earlier.is_empty() {
        let columns = [listing::Column::Time, listing::Column::Number, listing::Column::Agent];
        page = page.table(listing::table(t, settings, &columns, &earlier)?.row_action(listing::called_back_action(t)));
    }
    Ok(log_call::section(page, t, stored))
}

/// The last activities: time, kind, content, result.
fn activity_table(t: Text, settings: &Settings, activities: &[Activity]) -> Table {
    let table = Table::new()
        .column("occurred_at", t.time())
        .column("kind", t.kind())
        .column("content", t.content())
        .column("result", t.result());
    activities.iter().fold(table, |table, a| {
        let data = a.data_value().unwrap_or(Value::Null);
        let text_of = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let when = time::parse_rfc3339(&text_of("occurred_at")).map(|ms| settings.format_time(ms)).unwrap_or_default();
        let content = if a.content.trim().is_empty() { text_of("subject") } else { a.content.clone() };
        table.row(a.id.to_string(), [when, t.activity_kind(&a.kind), shorten(&content), text_of("result")])
    })
}

/// The customer's next follow-up date, flagged when it is past.
fn next_follow_up(t: Text, settings: &Settings, customer: &Customer, now: i64) -> String {
    let next = customer
        .data_value()
        .ok()
        .and_then(|data| data.get("next_follow_up_at").and_then(Value::as_str).and_then(time::parse_rfc3339));
    match next {
        Some(at) if at < now => t.overdue(&settings.format_date(at)),
        Some(at) => settings.format_date(at),
        None => t.not_scheduled(),
    }
}

/// This number's other missed calls that nobody has handled yet, newest first.
fn earlier_missed(stored: &Stored) -> Result<Vec<Stored>> {
    let canonical = &stored.fields.canonical;
    if canonical.is_empty() {
        return Ok(Vec::new());
    }
    let query = Query::new(call::ENTITY)
        .eq("canonical", canonical.as_str())
        .eq("status", Status::Missed.as_str())
        .eq("handled", false)
        .ne("id", stored.id)
        .order_by("started_at")
        .descending(true)
        .limit(EARLIER_MISSED);
    Ok(records::find_typed(&query)?.0)
}

/// The first characters of a long text, with an ellipsis.
fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= CONTENT_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(CONTENT_CHARS - 1).collect();
    short.push('…');
    short
}

/// "Open customer": the customer's page (from the popup, in the main window).
pub fn open(argument: Option<&str>) -> Result<Outcome> {
    let id: Id = argument
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| Error::invalid("open-customer needs the customer's id as its argument"))?;
    Ok(Outcome::redirect(format!("/customers/{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(next: Option<&str>) -> Customer {
        let data = serde_json::json!({ "name": "北京科技", "next_follow_up_at": next });
        Customer {
            id: 1, code: "KH-1".into(), name: "北京科技".into(), data: data.to_string(), ..Customer::default()
        }
    }

    #[test]
    fn a_past_follow_up_is_flagged_overdue() {
        let settings = Settings { utc_offset_ms: 8 * 3_600_000 };
        let now = 1_796_088_600_000; // 2026-12-01 09:30 in Beijing
        let zh = Text::new(false);
        assert_eq!(next_follow_up(zh, &settings, &customer(Some("2026-11-30T02:00:00Z")), now), "2026-11-30（已逾期）");
        assert_eq!(next_follow_up(zh, &settings, &customer(Some("2026-12-03T01:00:00.000Z")), now), "2026-12-03");
        assert_eq!(next_follow_up(Text::new(true), &settings, &customer(None), now), "Not scheduled");
    }

    #[test]
    fn activities_show_their_time_kind_content_and_result() {
        let data = serde_json::json!({
            "id": 9, "kind": "visit", "subject": "上门拜访", "content": "", "result": "有意向",
            "occurred_at": "2026-12-01T01:30:00Z", "next_follow_up_at": null,
        });
        let activity =
            Activity { id: 9, customer_id: 1, kind: "visit".into(), content: String::new(), data: data.to_string() };
        let table = activity_table(Text::new(false), &Settings { utc_offset_ms: 8 * 3_600_000 }, &[activity]);
        assert_eq!(table.rows[0], ["2026-12-01 09:30", "拜访", "上门拜访", "有意向"]);
    }

    #[test]
    fn long_contents_are_shortened() {
        assert_eq!(shorten(" 短 "), "短");
        let long = "长".repeat(100);
        assert_eq!(shorten(&long).chars().count(), CONTENT_CHARS);
        assert!(shorten(&long).ends_with('…'));
    }
}
