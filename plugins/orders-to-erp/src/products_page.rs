//! The products page (`products`, menu 产品与库存): every product with its price, tax rate,
//! stock and when the ERP last changed it; a form to add a product (or edit one, `?edit=<id>`);
//! a row action to stop or resume selling it; and "sync stock now". Products are reference
//! data: everyone reads them, administrators change them (the host refuses anyone else).

use serde_json::Value;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::config::{self, Clock};
use crate::listing;
use crate::money;
use crate::product::{self, Product};
use crate::stock;
use crate::text::Text;

const PAGE_LINK: &str = "/p/orders-to-erp/products";
const PAGE_SIZE: u32 = 100;

/// Draws the page.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let clock = Clock::load();
    let currency = config::currency();
    let mut page = Page::new(t.pick("产品与库存", "Products"));
    page = match config::stock_sync() {
        None => page.key_values([(t.pick("库存同步", "Stock sync"), t.never())]),
        Some(sync) => {
            let outcome = match &sync.error {
                Some(error) => format!("{}：{error}", t.pick("失败", "failed")),
                None => match t.is_english() {
                    true => {
                        format!("{} updated, {} unchanged, {} unknown SKUs", sync.updated, sync.unchanged, sync.unknown)
                    }
                    false => {
                        format!("更新 {} 个，未变 {} 个，未知编码 {} 个", sync.updated, sync.unchanged, sync.unknown)
                    }
                },
            };
            page.key_values([
                (t.pick("上次库存同步", "Last stock sync"), clock.time(sync.at)),
                (t.pick("结果", "Outcome"), outcome),
            ])
        }
    };
    let configured = config::erp_api_url().is_some();
    if configured {
        page = page.actions([Action::new("sync-stock", t.pick("立即同步库存", "Sync stock now"))]);
    } else {
        page = page.notice(
            "info",
            t.pick(
                "未设置 ERP 接口地址（erp_api_url），库存不会同步。",
                "No ERP API URL (erp_api_url) is set, so stock is not synced.",
            ),
        );
    }

    let editing = match request.param("edit").and_then(|id| id.trim().parse::<Id>().ok()) {
        Some(id) => Some(product::get(id)?),
        None => None,
    };
    page = page.form(product_form(t, editing.as_ref()));

    let mut query = Query::new(product::ENTITY).order_by("sku").limit(PAGE_SIZE);
    if let Some(cursor) = request.cursor() {
        query = query.cursor(cursor);
    }
    let (products, next) = records::find_typed::<Product>(&query)?;
    if products.is_empty() && request.cursor().is_none() {
        return Ok(page.notice("info", t.pick("还没有产品。", "No products yet.")));
    }
    let mut table = Table::new()
        .column("sku", t.sku())
        .column("name", t.product_name())
        .column("unit", t.unit())
        .column("price", t.price())
        .column("tax_rate", t.tax_rate())
        .column("stock", t.stock())
        .column("stock_synced_at", t.pick("库存更新时间", "Stock updated"))
        .column("active", t.active());
    for p in &products {
        let f = &p.fields;
        table = table.row(
            p.id.to_string(),
            [
                f.sku.clone(),
                f.name.clone(),
                f.unit.clone().unwrap_or_default(),
                money::format(f.price_minor, &currency),
                money::format_bp(f.tax_rate_bp),
                f.stock.map(|s| s.to_string()).unwrap_or_else(|| t.dash()),
                f.stock_synced_at.map(|at| clock.time(at)).unwrap_or_else(|| t.dash()),
                t.yes_no(f.active),
            ],
        );
    }
    table = table
        .row_action(Action::new("edit", t.pick("编辑", "Edit")))
        .row_action(Action::new("toggle", t.pick("停售/恢复", "Stop/resume selling")))
        .next(next);
    Ok(page.table(table))
}

fn product_form(t: Text, editing: Option<&product::Stored>) -> Form {
    let submit = match editing {
        Some(p) => Action::primary("save-product", t.pick("保存产品", "Save product")).argument(p.id.to_string()),
        None => Action::primary("add-product", t.pick("添加产品", "Add product")),
    };
    let p = editing.map(|p| &p.fields);
    let text = |value: Option<String>| value.unwrap_or_default();
    Form::new(submit)
        .field(Field::text("sku", t.sku()).required().value(text(p.map(|p| p.sku.clone()))))
        .field(Field::text("name", t.product_name()).required().value(text(p.map(|p| p.name.clone()))))
        .field(Field::text("unit", t.unit()).value(text(p.and_then(|p| p.unit.clone()))))
        .field(
            Field::text("price", t.price())
                .required()
                .value(text(p.map(|p| money::format_plain(p.price_minor))))
                .help(t.pick("不含税单价，最多两位小数", "Tax-exclusive, at most two decimals")),
        )
        .field(
            Field::text("tax_rate", t.pick("税率 %", "Tax rate %"))
                .value(
                    p.map(|p| money::format_bp(p.tax_rate_bp).trim_end_matches('%').to_owned())
                        .unwrap_or_else(|| "13".to_owned()),
                )
                .help(t.pick("增值税税率，如 13、9、6", "VAT rate, e.g. 13, 9, 6")),
        )
        .field(Field::checkbox("active", t.active()).value(p.is_none_or(|p| p.active)))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let result = match action {
        "add-product" | "save-product" => {
            let (product, errors) = product::from_form(input, t.is_english());
            let Some(product) = product else { return Ok(Outcome::invalid(errors)) };
            if action == "add-product" {
                product::insert(&product)
                    .map(|_| Outcome::success(format!("{} {}", t.pick("已添加", "Added"), product.sku)))
            } else {
                let id = listing::argument_id(argument, "product")?;
                if let Some(other) = product::by_sku(&product.sku)?.filter(|p| p.id != id) {
                    return Ok(Outcome::invalid([(
                        "sku",
                        format!("{} {}", t.pick("编码已被使用：", "The SKU is taken by"), other.fields.name),
                    )]));
                }
                product::update(id, &product).map(|_| Outcome::redirect(PAGE_LINK))
            }
        }
        "edit" => Ok(Outcome::redirect(format!("{PAGE_LINK}?edit={}", listing::argument_id(argument, "product")?))),
        "toggle" => {
            let id = listing::argument_id(argument, "product")?;
            let p = product::get(id)?;
            product::set_active(id, !p.fields.active).map(|p| {
                Outcome::success(match p.fields.active {
                    true => format!("{} {}", t.pick("已恢复销售", "Selling again:"), p.fields.sku),
                    false => format!("{} {}", t.pick("已停售", "No longer sold:"), p.fields.sku),
                })
            })
        }
        "sync-stock" => match stock::pull(now) {
            Ok(Some(sync)) => Ok(Outcome::success(match t.is_english() {
                true => format!(
                    "Stock synced: {} updated, {} unchanged, {} unknown SKUs.",
                    sync.updated, sync.unchanged, sync.unknown
                ),
                false => format!(
                    "库存已同步：更新 {} 个，未变 {} 个，未知编码 {} 个。",
                    sync.updated, sync.unchanged, sync.unknown
                ),
            })),
            Ok(None) => Ok(Outcome::warning(
                t.pick("请先设置 ERP 接口地址（erp_api_url）。", "Set the ERP API URL (erp_api_url) first."),
            )),
            Err(e) => {
                Ok(Outcome::error(format!("{} {}", t.pick("库存同步失败：", "The stock sync failed:"), e.message())))
            }
        },
        _ => return Err(Error::not_found(format!("no action {action:?} on the products page"))),
    };
    match result {
        Err(Error::Invalid(m) | Error::Conflict(m) | Error::Denied(m)) => Ok(Outcome::error(m)),
        other => other,
    }
}
