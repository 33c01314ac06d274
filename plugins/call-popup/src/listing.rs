//! What the lists of calls share (the missed calls, the call log, the customer panel, the popup's
//! earlier missed calls): their columns, the names of the agents, the row actions that open a
//! call's popup page and mark a missed call handled.

use std::collections::BTreeMap;

use serde_json::json;
use tessera_sdk::ui::{Action, Outcome, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::call::{self, Status, Stored};
use crate::config::Settings;
use crate::extensions;
use crate::text::Text;

/// Calls per page of a list.
pub const PAGE_SIZE: u32 = 50;

/// The popup's page of a call, which also works as a page of its own.
pub fn popup_link(id: Id) -> String {
    format!("/p/call-popup/call?call={id}")
}

/// A column of a table of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Time,
    Number,
    Customer,
    Agent,
    Extension,
    Status,
    Duration,
    Source,
    Logged,
    Handled,
}

/// A table of calls with `columns`, one row per call, its id as the row id.
pub fn table(t: Text, settings: &Settings, columns: &[Column], calls: &[Stored]) -> Result<Table> {
    let names = if columns.contains(&Column::Agent) {
        extensions::user_names(calls.iter().filter_map(|c| c.fields.user_id))?
    } else {
        BTreeMap::new()
    };
    let table = columns.iter().fold(Table::new(), |table, column| {
        let (key, label) = match column {
            Column::Time => ("started_at", t.time()),
            Column::Number => ("number", t.number()),
            Column::Customer => ("customer", t.customer()),
            Column::Agent => ("agent", t.agent()),
            Column::Extension => ("extension", t.extension()),
            Column::Status => ("status", t.status_label()),
            Column::Duration => ("duration", t.duration_label()),
            Column::Source => ("source", t.source_label()),
            Column::Logged => ("logged", t.logged_label()),
            Column::Handled => ("handled", t.handled_label()),
        };
        table.column(key, label)
    });
    Ok(calls.iter().fold(table, |table, stored| {
        let c = &stored.fields;
        let cells = columns.iter().map(|column| match column {
            Column::Time => settings.format_time(c.started_at),
            Column::Number => c.number.clone(),
            Column::Customer => customer_cell(t, stored),
            Column::Agent => c.user_id.map(|u| extensions::name_in(&names, u)).unwrap_or_else(|| t.nobody()),
            Column::Extension => c.extension.clone().unwrap_or_default(),
            Column::Status => t.status(c.status),
            Column::Duration => c.duration_s.map(|s| t.duration(s)).unwrap_or_default(),
            Column::Source => t.source(c.source),
            Column::Logged => {
                if c.logged {
                    t.logged_yes()
                } else {
                    String::new()
                }
            }
            Column::Handled => {
                if c.handled {
                    t.handled_yes()
                } else {
                    String::new()
                }
            }
        });
        table.row(stored.id.to_string(), cells.collect::<Vec<_>>())
    }))
}

/// Who called: the linked customer, or how many customers had the number.
pub fn customer_cell(t: Text, stored: &Stored) -> String {
    let c = &stored.fields;
    match (&c.customer_name, stored.customer_id, c.matches) {
        (Some(name), Some(_), _) => name.clone(),
        (_, Some(id), _) => format!("#{id}"),
        (_, None, 0) => t.unknown_number(),
        (_, None, n) => t.several_customers(n),
    }
}

/// The row action that opens a call's popup page.
pub fn open_action(t: Text) -> Action {
    Action::new("open", t.open())
}

/// Opens the call of a row.
pub fn open(argument: Option<&str>) -> Result<Outcome> {
    Ok(Outcome::redirect(popup_link(call::parse_id(argument)?)))
}

/// The action that marks a missed call handled (returned or dismissed).
pub fn called_back_action(t: Text) -> Action {
    Action::new("called-back", t.called_back())
}

/// Marks the missed call `argument` handled.
pub fn mark_handled(caller: &Caller, argument: Option<&str>) -> Result<Outcome> {
    let t = Text::of(caller);
    let stored = match call::parse_id(argument).and_then(call::get) {
        Ok(stored) => stored,
        Err(Error::NotFound(_)) => return Ok(Outcome::error(t.no_such_call())),
        Err(e) => return Err(e),
    };
    if stored.fields.status != Status::Missed || stored.fields.handled {
        return Ok(Outcome::info(t.marked_handled()));
    }
    match call::update(stored.id, &json!({ "handled": true }), None) {
        Ok(_) => Ok(Outcome::success(t.marked_handled())),
        Err(Error::Denied(why)) => Ok(Outcome::error(t.refused(&why))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Call, Source};

    fn stored(customer_id: Option<Id>, customer_name: Option<&str>, matches: i64) -> Stored {
        Stored {
            id: 7,
            customer_id,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            version: 1,
            fields: Call {
                call_id: "c".into(),
                number: "010-8765 4321".into(),
                canonical: "+861087654321".into(),
                extension: Some("8001".into()),
                user_id: None,
                status: Status::Ended,
                started_at: 1_796_088_600_000,
                answered_at: Some(1_796_088_605_000),
                ended_at: Some(1_796_088_730_000),
                duration_s: Some(125),
                contact_id: None,
                matches,
                customer_name: customer_name.map(str::to_owned),
                logged: true,
                handled: false,
                source: Source::Freeswitch,
                summary: String::new(),
            },
        }
    }

    #[test]
    fn a_table_of_calls_reads_as_people_say_it() {
        let settings = Settings { utc_offset_ms: 8 * 3_600_000 };
        let columns = [
            Column::Time,
            Column::Number,
            Column::Customer,
            Column::Extension,
            Column::Status,
            Column::Duration,
            Column::Source,
            Column::Logged,
        ];
        let table =
            table(Text::new(false), &settings, &columns, &[stored(Some(3), Some("北京科技"), 1)]).expect("a table");
        assert_eq!(table.row_ids, ["7"]);
        assert_eq!(
            table.rows[0],
            ["2026-12-01 09:30", "010-8765 4321", "北京科技", "8001", "已结束", "2 分 05 秒", "FreeSWITCH", "已记录"]
        );
        assert_eq!(table.columns[0].label, "时间");
    }

    #[test]
    fn the_customer_cell_says_what_is_known() {
        let t = Text::new(true);
        assert_eq!(customer_cell(t, &stored(None, None, 0)), "Unknown number");
        assert_eq!(customer_cell(t, &stored(None, None, 2)), "2 customers");
        assert_eq!(customer_cell(t, &stored(Some(4), None, 1)), "#4");
        assert_eq!(popup_link(12), "/p/call-popup/call?call=12");
    }
}
