//! The price lists page (`price-lists`, menu 价格表): the lists with their currency, validity
//! and whether they are active, a form to add one; and one list (`?list=<id>`) with its prices
//! and a form to set a product's price. Reference data, changed by administrators.

use std::collections::HashMap;

use serde_json::Value;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::config::{self, CURRENCIES};
use crate::listing;
use crate::money;
use crate::price_list;
use crate::product;
use crate::text::Text;

const PAGE_LINK: &str = "/p/orders-to-erp/price-lists";

/// Draws the page.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    if let Some(id) = request.param("list").and_then(|id| id.trim().parse::<Id>().ok()) {
        return render_list(t, id);
    }
    let lists = price_list::all()?;
    let currency = config::currency();
    let mut page = Page::new(t.pick("价格表", "Price lists")).text(t.pick(
        "新订单采用本组织币种下、当天有效的最新启用价格表；价格表中没有的产品按产品单价计。",
        "A new order takes the newest active price list in the organisation's currency that is valid on the day; products the list has no price for keep their own price.",
    ));
    if lists.is_empty() {
        page = page.notice("info", t.pick("还没有价格表。", "No price lists yet."));
    } else {
        let mut table = Table::new()
            .column("name", t.pick("名称", "Name"))
            .column("currency", t.currency())
            .column("valid_from", t.pick("生效日期", "Valid from"))
            .column("valid_to", t.pick("失效日期", "Valid to"))
            .column("active", t.active());
        for list in &lists {
            let l = &list.fields;
            table = table.row(
                list.id.to_string(),
                [
                    l.name.clone(),
                    l.currency.clone(),
                    l.valid_from.clone().unwrap_or_else(|| t.dash()),
                    l.valid_to.clone().unwrap_or_else(|| t.dash()),
                    t.yes_no(l.active),
                ],
            );
        }
        page = page.table(
            table
                .row_action(Action::new("open", t.pick("查看价格", "Prices")))
                .row_action(Action::new("toggle", t.pick("启用/停用", "Activate/deactivate"))),
        );
    }
    let options: Vec<(String, String)> = CURRENCIES.iter().map(|c| ((*c).to_owned(), (*c).to_owned())).collect();
    Ok(page.form(
        Form::new(Action::primary("add-list", t.pick("添加价格表", "Add price list")))
            .field(Field::text("name", t.pick("名称", "Name")).required())
            .field(Field::select("currency", t.currency(), options).required().value(currency))
            .field(Field::date("valid_from", t.pick("生效日期", "Valid from")))
            .field(Field::date("valid_to", t.pick("失效日期", "Valid to"))),
    ))
}

fn render_list(t: Text, id: Id) -> Result<Page> {
    let list = price_list::get(id)?;
    let l = &list.fields;
    let items = price_list::items(id)?;
    let products = product::active(500)?;
    let by_id: HashMap<Id, &product::Stored> = products.iter().map(|p| (p.id, p)).collect();
    let mut page = Page::new(format!("{} {}", t.pick("价格表", "Price list"), l.name))
        .key_values([
            (t.currency(), l.currency.clone()),
            (t.pick("生效日期", "Valid from"), l.valid_from.clone().unwrap_or_else(|| t.dash())),
            (t.pick("失效日期", "Valid to"), l.valid_to.clone().unwrap_or_else(|| t.dash())),
            (t.active(), t.yes_no(l.active)),
        ])
        .actions([Action::new("back", t.pick("返回价格表列表", "Back to the price lists"))]);
    if items.is_empty() {
        page = page.notice("info", t.pick("该价格表还没有价格。", "This list has no prices yet."));
    } else {
        let mut table = Table::new()
            .column("sku", t.sku())
            .column("name", t.product_name())
            .column("list_price", t.pick("价格表价格", "List price"))
            .column("product_price", t.pick("产品单价", "Product price"));
        for item in &items {
            let product = by_id.get(&item.fields.product_id);
            table = table.row(
                item.id.to_string(),
                [
                    product.map(|p| p.fields.sku.clone()).unwrap_or_else(|| format!("#{}", item.fields.product_id)),
                    product.map(|p| p.fields.name.clone()).unwrap_or_else(|| t.pick("（已停售）", "(not sold)")),
                    money::format(item.fields.price_minor, &l.currency),
                    product.map(|p| money::format(p.fields.price_minor, &l.currency)).unwrap_or_else(|| t.dash()),
                ],
            );
        }
        page = page.table(table.row_action(Action::danger("remove-item", t.pick("删除", "Remove"))));
    }
    let options: Vec<(String, String)> =
        products.iter().map(|p| (p.id.to_string(), product::choice_label(&p.fields, &l.currency))).collect();
    Ok(page.form(
        Form::new(Action::primary("set-price", t.pick("设置价格", "Set price")).argument(id.to_string()))
            .field(Field::select("product_id", t.product(), options).required())
            .field(Field::text("price", t.pick("价格（不含税）", "Price (excl. tax)")).required()),
    ))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let result = match action {
        "add-list" => match price_list::from_form(input, t.is_english()) {
            Err(errors) => return Ok(Outcome::invalid(errors)),
            Ok(list) => {
                price_list::insert(&list).map(|stored| Outcome::redirect(format!("{PAGE_LINK}?list={}", stored.id)))
            }
        },
        "open" => Ok(Outcome::redirect(format!("{PAGE_LINK}?list={}", listing::argument_id(argument, "price list")?))),
        "back" => Ok(Outcome::redirect(PAGE_LINK)),
        "toggle" => {
            let id = listing::argument_id(argument, "price list")?;
            let list = price_list::get(id)?;
            price_list::set_active(id, !list.fields.active).map(|()| {
                Outcome::success(match list.fields.active {
                    true => format!("{} {}", t.pick("已停用", "Deactivated"), list.fields.name),
                    false => format!("{} {}", t.pick("已启用", "Activated"), list.fields.name),
                })
            })
        }
        "set-price" => {
            let list = listing::argument_id(argument, "price list")?;
            let product_id = input
                .get("product_id")
                .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
            let Some(product_id) = product_id else {
                return Ok(Outcome::invalid([("product_id", t.pick("请选择产品", "Choose a product"))]));
            };
            let price = match input.get("price").map(|p| money::parse_amount(p, "price")) {
                Some(Ok(price)) if price >= 0 => price,
                _ => {
                    return Ok(Outcome::invalid([(
                        "price",
                        t.pick(
                            "请输入不小于 0 的金额，最多两位小数",
                            "Enter an amount of 0 or more with at most two decimals",
                        ),
                    )]));
                }
            };
            product::get(product_id)?;
            price_list::set_price(list, product_id, price)
                .map(|()| Outcome::success(t.pick("价格已设置。", "The price is set.")))
        }
        "remove-item" => price_list::remove_item(listing::argument_id(argument, "price")?)
            .map(|_| Outcome::success(t.pick("已删除该价格。", "The price is removed."))),
        _ => return Err(Error::not_found(format!("no action {action:?} on the price lists page"))),
    };
    match result {
        Err(Error::Invalid(m) | Error::Conflict(m) | Error::Denied(m)) => Ok(Outcome::error(m)),
        other => other,
    }
}
