//! Stock levels pulled from the ERP: every ten minutes (job `pull-stock`) and on demand (the
//! products page's "sync stock now"), `GET <erp_api_url>/stock`, with `Authorization: Bearer
//! <erp_api_token>` when a token is set. The ERP answers a JSON array of
//! `{"sku": "A-100", "on_hand": 12}` (`on_hand` a whole number, negative for a backlog). Products
//! whose stock changed get the new stock and `stock_synced_at`; unchanged ones are not
//! written. The outcome is kept as `_stock_sync` for the pages.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;
use tessera_sdk::http::client::{self, Request};
use tessera_sdk::records::{self, Query};
use tessera_sdk::{Error, Result, log};

use crate::config::{self, StockSync};
use crate::product::{self, Product};

/// How long the ERP may take to answer.
const TIMEOUT_MS: u32 = 20_000;
/// Products read per page.
const PAGE: u32 = 500;

/// One entry of the ERP's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Level {
    pub sku: String,
    pub on_hand: i64,
}

/// Reads the ERP's answer: the array, or an error saying what is wrong with it.
pub fn parse(body: &[u8]) -> Result<Vec<Level>> {
    serde_json::from_slice::<Vec<Level>>(body).map_err(|e| {
        Error::invalid(format!("the ERP's stock answer is not a JSON array of {{\"sku\", \"on_hand\"}}: {e}"))
    })
}

/// What changes: `(product id, new stock)` for every product whose stock differs, and the
/// counts of unchanged products and unknown SKUs. A SKU the ERP lists twice counts once, with
/// its last level.
pub fn plan(products: &[(i64, Product)], levels: &[Level]) -> (Vec<(i64, i64)>, u32, u32) {
    let reported: HashMap<&str, i64> = levels.iter().map(|l| (l.sku.trim(), l.on_hand)).collect();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut known = 0;
    for (id, p) in products {
        if let Some(on_hand) = reported.get(p.sku.as_str()) {
            known += 1;
            if p.stock == Some(*on_hand) {
                unchanged += 1;
            } else {
                changes.push((*id, *on_hand));
            }
        }
    }
    let unknown = u32::try_from(reported.len().saturating_sub(known)).unwrap_or(u32::MAX);
    (changes, unchanged, unknown)
}

/// Pulls the stock levels now; `Ok(None)` when no `erp_api_url` is set. The outcome, failed
/// or not, is remembered for the pages.
pub fn pull(now: i64) -> Result<Option<StockSync>> {
    let Some(base) = config::erp_api_url() else {
        return Ok(None);
    };
    match pull_from(&base, now) {
        Ok(sync) => {
            config::set_stock_sync(&sync)?;
            log::info(format!(
                "stock pulled: {} updated, {} unchanged, {} unknown SKUs",
                sync.updated, sync.unchanged, sync.unknown
            ));
            Ok(Some(sync))
        }
        Err(e) => {
            let failed = StockSync { at: now, error: Some(e.message().to_owned()), ..StockSync::default() };
            config::set_stock_sync(&failed)?;
            Err(e)
        }
    }
}

fn pull_from(base: &str, now: i64) -> Result<StockSync> {
    let mut request = Request::get(format!("{base}/stock")).header("accept", "application/json").timeout_ms(TIMEOUT_MS);
    if let Some(token) = config::erp_api_token() {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client::send(&request)?;
    if !response.is_success() {
        let text: String = response.text().chars().take(200).collect();
        return Err(Error::unavailable(format!("the ERP answered {} to GET {base}/stock: {text}", response.status)));
    }
    let levels = parse(&response.body)?;
    let products: Vec<(i64, Product)> = records::find_all(&Query::new(product::ENTITY).limit(PAGE))?
        .into_iter()
        .map(|r| r.into_typed::<Product>().map(|t| (t.id, t.fields)))
        .collect::<Result<_>>()?;
    let (changes, unchanged, unknown) = plan(&products, &levels);
    for (id, stock) in &changes {
        records::update(product::ENTITY, *id, &json!({ "stock": stock, "stock_synced_at": now }).to_string(), None)?;
    }
    Ok(StockSync {
        at: now,
        updated: u32::try_from(changes.len()).unwrap_or(u32::MAX),
        unchanged,
        unknown,
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(sku: &str, stock: Option<i64>) -> Product {
        Product {
            sku: sku.into(),
            name: sku.into(),
            unit: None,
            price_minor: 100,
            tax_rate_bp: 1_300,
            active: true,
            stock,
            stock_synced_at: None,
        }
    }

    #[test]
    fn only_changed_stock_is_written() {
        let products = [
            (1, product("A", Some(5))),
            (2, product("B", None)),
            (3, product("C", Some(7))),
            (4, product("D", Some(1))),
        ];
        let levels = parse(
            br#"[{"sku":"A","on_hand":5},{"sku":"B","on_hand":0},{"sku":"C","on_hand":-2},{"sku":"Z","on_hand":9}]"#,
        )
        .expect("parses");
        let (changes, unchanged, unknown) = plan(&products, &levels);
        assert_eq!(changes, [(2, 0), (3, -2)]);
        assert_eq!((unchanged, unknown), (1, 1));
    }

    #[test]
    fn a_repeated_sku_counts_once_with_its_last_level() {
        let levels = parse(br#"[{"sku":"A","on_hand":1},{"sku":" A ","on_hand":3}]"#).expect("parses");
        assert_eq!(plan(&[(1, product("A", Some(1)))], &levels), (vec![(1, 3)], 0, 0));
    }

    #[test]
    fn answers_of_another_shape_are_refused() {
        for bad in
            [&br#"{"sku":"A","on_hand":1}"#[..], br#"[{"sku":"A","on_hand":1.5}]"#, br#"[{"sku":"A"}]"#, b"<html>"]
        {
            let err = parse(bad).expect_err("refused");
            assert!(err.message().contains("sku"), "{err}");
        }
        assert_eq!(parse(b"[]").expect("parses"), []);
    }
}
