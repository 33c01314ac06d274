//! Printing a filtered customer view: a paginated list, or address labels, as PDF. Printing
//! takes the `export` permission on customers, since a printout leaves the system as surely
//! as a file does.

use std::collections::BTreeMap;

use super::pdf::{self, Column, Label, LabelSheet, ListDocument};
use super::{Customer, CustomerQuery};
use crate::access::{Access, Action};
use crate::error::{Error, Result};
use crate::store::Store;

/// The most customers one printout holds.
pub const MAX_PRINT_ROWS: usize = 5_000;

async fn collect(store: &Store, access: &Access, q: &CustomerQuery) -> Result<Vec<Customer>> {
    if access.scope("customers", Action::Export).is_none() {
        return Err(Error::Forbidden("printing customers needs the export permission on customers".into()));
    }
    let mut all = Vec::new();
    super::each_page(store, access, q, Action::Export, MAX_PRINT_ROWS, |items| {
        all.extend(items);
        async { Ok(()) }
    })
    .await?;
    Ok(all)
}

async fn user_names(store: &Store, org_id: i64) -> Result<BTreeMap<i64, String>> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, display_name FROM users WHERE org_id = $1")
        .bind(org_id)
        .fetch_all(store.pool())
        .await?;
    Ok(rows.into_iter().collect())
}

fn date_only(ts: &Option<String>) -> String {
    ts.as_deref().and_then(|t| t.get(..10)).unwrap_or_default().to_owned()
}

/// The view as a list, in the user's language.
pub async fn list_pdf(store: &Store, access: &Access, q: &CustomerQuery, chinese: bool) -> Result<Vec<u8>> {
    let customers = collect(store, access, q).await?;
    let names = user_names(store, access.principal().org_id).await?;
    let headers: [(&str, &str, f32); 7] = [
        ("编码", "Code", 1.3),
        ("名称", "Name", 3.0),
        ("级别", "Level", 0.8),
        ("状态", "Status", 1.0),
        ("负责人", "Owner", 1.2),
        ("电话", "Phone", 1.6),
        ("下次跟进", "Next follow-up", 1.2),
    ];
    let columns: Vec<Column<'_>> =
        headers.iter().map(|(zh, en, w)| Column { header: if chinese { zh } else { en }, weight: *w }).collect();
    let rows: Vec<Vec<String>> = customers
        .iter()
        .map(|c| {
            vec![
                c.code.clone(),
                c.name.clone(),
                c.level.clone().unwrap_or_default().to_uppercase(),
                c.status.clone().unwrap_or_default(),
                c.owner_id.and_then(|o| names.get(&o).cloned()).unwrap_or_default(),
                c.phones.first().map(|p| p.number.clone()).unwrap_or_default(),
                date_only(&c.next_follow_up_at),
            ]
        })
        .collect();
    let today = jiff::Timestamp::now().to_string();
    let subtitle = if chinese {
        format!("{} · 共 {} 位客户", today.get(..10).unwrap_or_default(), rows.len())
    } else {
        format!("{} · {} customers", today.get(..10).unwrap_or_default(), rows.len())
    };
    let title = if chinese { "客户列表" } else { "Customers" };
    Ok(pdf::list_pdf(&ListDocument { title, subtitle: &subtitle, columns: &columns, rows: &rows, landscape: true }))
}

/// The view as address labels (3 × 8 on A4): name, address, first phone.
pub async fn labels_pdf(store: &Store, access: &Access, q: &CustomerQuery, chinese: bool) -> Result<Vec<u8>> {
    let customers = collect(store, access, q).await?;
    let labels: Vec<Label> = customers
        .iter()
        .map(|c| {
            let mut lines = vec![c.name.clone()];
            if let Some(a) = &c.address {
                lines.push(a.clone());
            }
            if let Some(p) = c.phones.first() {
                lines.push(format!("{} {}", if chinese { "电话" } else { "Tel." }, p.number));
            }
            Label { lines }
        })
        .collect();
    Ok(pdf::labels_pdf(&labels, &LabelSheet::A4_3X8))
}
