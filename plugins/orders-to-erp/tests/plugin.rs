//! Sales orders to the ERP end to end, with the test kit: each test starts a real Tessera host,
//! installs this plugin built for wasm32-wasip2, and works it as people and systems do: an
//! administrator sets up products and price lists on the pages, a salesperson makes orders from
//! the customer's page and through the JSON API, approvals go through the workflow kernel's REST
//! API, the host delivers approved orders to a webhook receiver the test runs (checking the
//! Standard Webhooks signature), the "ERP" calls back with signed requests, and stock levels are
//! pulled from an HTTP server the test runs.
//!
//! Run with `cargo test -p orders-to-erp` in `plugins/`.
#![cfg(not(target_family = "wasm"))]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera_testkit::{Client, Method, Role, StatusCode, TestHost, TestPlugin, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const API: &str = "/api/plugins/orders-to-erp";
const CALLBACK: &str = "/hooks/orders-to-erp/acme/erp";
/// The callback secret the tests configure: `whsec_` and the base64 of the key.
const KEY: &[u8] = b"erp-callback-key-for-the-tests!!";

// ----- A small HTTP server: the ERP's webhook receiver and its stock API -----

/// One request the server got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

type Answer = Arc<dyn Fn(&Received) -> (u16, String) + Send + Sync>;

/// An HTTP/1.1 server on a loopback port that keeps every request and answers as told.
#[derive(Clone)]
struct Server {
    base: String,
    got: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Server {
    async fn start() -> Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let answer: Answer = Arc::new(|_| (200, "{}".to_owned()));
        let server = Server { base, got: Arc::default(), answer: Arc::new(Mutex::new(answer)) };
        let me = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let _ = me.serve(stream).await;
                });
            }
        });
        Ok(server)
    }

    async fn serve(&self, mut stream: tokio::net::TcpStream) -> Result<()> {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            data.extend_from_slice(&chunk[..n]);
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, path) = (first.next().unwrap_or_default().to_owned(), first.next().unwrap_or_default().to_owned());
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = data[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let received = Received { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() };
        let answer = self.answer.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        let (status, text) = answer(&received);
        self.got.lock().map_err(|_| anyhow::anyhow!("lock"))?.push(received);
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        Ok(())
    }

    fn answer_with(&self, answer: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) {
        if let Ok(mut slot) = self.answer.lock() {
            *slot = Arc::new(answer);
        }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

// ----- Signatures, as the host signs its webhooks and the ERP signs its callbacks -----

fn sign(key: &[u8], id: &str, timestamp: &str, body: &str) -> Result<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| anyhow::anyhow!("{e}"))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

fn whsec(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Posts a callback signed with `key` at `timestamp`.
async fn callback_as(host: &TestHost, key: &[u8], timestamp: i64, body: &Value) -> Result<(StatusCode, Value)> {
    let erp = host.anonymous()?;
    let text = body.to_string();
    let id = format!("msg_{}", SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos());
    let signature = sign(key, &id, &timestamp.to_string(), &text)?;
    let request = erp
        .request(Method::POST, CALLBACK)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(text);
    erp.send(request).await
}

async fn callback(host: &TestHost, body: Value) -> Result<(StatusCode, Value)> {
    callback_as(host, KEY, now_s(), &body).await
}

// ----- Setting up -----

async fn start() -> Result<(TestHost, TestPlugin)> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    Ok((host, plugin))
}

fn id_of(value: &Value) -> Result<i64> {
    value["id"].as_i64().with_context(|| format!("an id in {value}"))
}

fn notice_of(outcome: &Value) -> (&str, &str) {
    (outcome["level"].as_str().unwrap_or("(no level)"), outcome["text"].as_str().unwrap_or("(no text)"))
}

/// Adds a product on the products page, as the administrator; its id from the API.
async fn add_product(
    host: &TestHost,
    plugin: &TestPlugin,
    sku: &str,
    name: &str,
    price: &str,
    tax: &str,
) -> Result<i64> {
    let input = json!({ "sku": sku, "name": name, "unit": "件", "price": price, "tax_rate": tax, "active": true });
    let outcome = plugin.act("products", "add-product", None, input).await?;
    ensure!(notice_of(&outcome).0 == "success", "adding {sku} failed: {outcome}");
    let (status, products) = host.admin().get(&format!("{API}/products?limit=500")).await?;
    ensure!(status == StatusCode::OK, "{status} {products}");
    products["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["sku"] == sku))
        .and_then(|p| p["id"].as_i64())
        .with_context(|| format!("{sku} in {products}"))
}

async fn customer(host: &TestHost, name: &str, owner: Option<i64>) -> Result<i64> {
    let made = host.create_customer(json!({ "name": name, "owner_id": owner })).await?;
    id_of(&made)
}

/// Creates an order through the JSON API as `client`; expects 201.
async fn api_order(client: &Client, body: Value) -> Result<Value> {
    let (status, order) = client.post(&format!("{API}/orders"), &body).await?;
    ensure!(status == StatusCode::CREATED, "POST /orders {body} answered {status} {order}");
    Ok(order)
}

async fn get_order(client: &Client, id: i64) -> Result<Value> {
    let (status, order) = client.get(&format!("{API}/orders/{id}")).await?;
    ensure!(status == StatusCode::OK, "GET /orders/{id}: {status} {order}");
    Ok(order)
}

/// Waits until the order has `status`.
async fn wait_for_status(host: &TestHost, id: i64, status: &str) -> Result<Value> {
    host.wait_for(|| async {
        let order = get_order(host.admin(), id).await?;
        Ok((order["status"] == status).then_some(order))
    })
    .await
    .with_context(|| format!("order {id} never became {status}"))
}

/// The plugin's entries on a customer's timeline, as the administrator sees them.
async fn timeline(host: &TestHost, customer: i64) -> Result<Vec<Value>> {
    let (status, items) = host.admin().get(&format!("/api/v1/customers/{customer}/plugin-timeline")).await?;
    ensure!(status == StatusCode::OK, "cannot read the timeline of {customer}: {status} {items}");
    Ok(items
        .as_array()
        .map(|a| a.iter().filter(|i| i["plugin_id"] == "orders-to-erp").cloned().collect())
        .unwrap_or_default())
}

fn titles(items: &[Value], entity: &str) -> Vec<String> {
    items.iter().filter(|i| i["entity"] == entity).filter_map(|i| i["title"].as_str().map(str::to_owned)).collect()
}

fn blocks<'p>(page: &'p Value, kind: &str) -> Vec<&'p Value> {
    page["blocks"].as_array().map(|all| all.iter().filter(|b| b["type"] == kind).collect()).unwrap_or_default()
}

/// The value of a key-values item on a page.
fn value_of(page: &Value, key: &str) -> Option<String> {
    blocks(page, "key_values").iter().find_map(|kv| {
        kv["items"].as_array()?.iter().find(|pair| pair[0] == key).and_then(|pair| pair[1].as_str().map(str::to_owned))
    })
}

/// Makes `user` report to `manager`.
async fn set_manager(host: &TestHost, user: i64, manager: i64) -> Result<()> {
    let (status, body) =
        host.admin().patch(&format!("/api/v1/users/{user}"), &json!({ "manager_id": manager })).await?;
    ensure!(status == StatusCode::OK, "cannot set the manager of {user}: {status} {body}");
    Ok(())
}

/// A webhook endpoint subscribed to the plugin's events, pointing at `server`; its secret.
async fn subscribe(host: &TestHost, server: &Server) -> Result<(i64, String)> {
    let body = json!({ "url": format!("{}/erp/orders", server.base), "topics": ["orders-to-erp.*"] });
    let (status, endpoint) = host.admin().post("/api/v1/webhooks", &body).await?;
    ensure!(status == StatusCode::CREATED, "cannot add the webhook endpoint: {status} {endpoint}");
    let secret = endpoint["secret"].as_str().context("the endpoint's secret")?.to_owned();
    Ok((id_of(&endpoint)?, secret))
}

/// The deliveries of approved orders the receiver got for an idempotency key.
fn deliveries_of(server: &Server, key: &str) -> Vec<Received> {
    server.got().into_iter().filter(|r| r.json()["data"]["idempotency_key"] == key).collect()
}

/// Checks a delivery's Standard Webhooks signature with the endpoint's secret.
fn check_signature(received: &Received, secret: &str) -> Result<()> {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_"))?;
    let id = received.header("webhook-id").context("webhook-id")?;
    let timestamp = received.header("webhook-timestamp").context("webhook-timestamp")?;
    let expected = sign(&key, id, timestamp, &received.body)?;
    let given = received.header("webhook-signature").context("webhook-signature")?;
    ensure!(given.split(' ').any(|s| s == expected), "the signature {given} is not {expected}");
    Ok(())
}

// ----- The tests -----

#[tokio::test]
async fn products_price_lists_and_an_order_from_the_customer_page() -> Result<()> {
    let (host, plugin) = start().await?;

    // A product form with mistakes comes back with every bad field named.
    let outcome = plugin
        .act("products", "add-product", None, json!({ "sku": "", "name": "椅子", "price": "12.345", "tax_rate": "13" }))
        .await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    assert!(outcome["errors"]["sku"].is_string() && outcome["errors"]["price"].is_string(), "{outcome}");

    let chair = add_product(&host, &plugin, "CH-100", "人体工学椅", "100.00", "13").await?;
    add_product(&host, &plugin, "PN-20", "签字笔（盒）", "20", "6").await?;
    // The SKU is unique.
    let outcome = plugin
        .act(
            "products",
            "add-product",
            None,
            json!({ "sku": "CH-100", "name": "again", "price": "1", "tax_rate": "0" }),
        )
        .await?;
    assert_eq!(notice_of(&outcome).0, "error", "{outcome}");

    // A price list in CNY valid today, with a price for the chair only.
    let outcome =
        plugin.act("price-lists", "add-list", None, json!({ "name": "2026 经销价", "currency": "CNY" })).await?;
    let link = outcome["to"].as_str().with_context(|| format!("a redirect: {outcome}"))?;
    let list: i64 = link.rsplit('=').next().and_then(|id| id.parse().ok()).context("the list id")?;
    let outcome = plugin
        .act("price-lists", "set-price", Some(&list.to_string()), json!({ "product_id": chair, "price": "90.00" }))
        .await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    let page = plugin.render("price-lists", &[("list", &list.to_string())]).await?;
    assert!(page["blocks"].to_string().contains("¥90.00"), "{page}");

    // From the customer's page: a new draft order, opened at once.
    let beijing = customer(&host, "北京星河科技", None).await?;
    let panel = plugin.render("customer-orders", &[("customer_id", &beijing.to_string())]).await?;
    assert!(panel["blocks"].to_string().contains("new-order"), "{panel}");
    let outcome = plugin.act("customer-orders", "new-order", Some(&beijing.to_string()), json!({})).await?;
    let to = outcome["to"].as_str().with_context(|| format!("a redirect: {outcome}"))?;
    ensure!(to.starts_with("/p/orders-to-erp/order?id="), "{outcome}");
    let order: i64 = to.rsplit('=').next().and_then(|id| id.parse().ok()).context("the order id")?;
    let arg = order.to_string();

    // Lines: 2.5 chairs at the list's ¥90.00 less 10 %, and 3 boxes of pens at ¥20.00.
    let outcome = plugin
        .act(
            "order",
            "add-line",
            Some(&arg),
            json!({ "product_id": chair.to_string(), "quantity": "2.5", "discount": "10" }),
        )
        .await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    let page = plugin.render("order", &[("id", &arg)]).await?;
    let pens = blocks(&page, "form")
        .iter()
        .find(|f| f["submit"]["name"] == "add-line")
        .and_then(|f| f["fields"].as_array()?.iter().find(|x| x["name"] == "product_id").cloned())
        .and_then(|field| {
            field["options"].as_array()?.iter().find(|o| o[1].as_str().is_some_and(|l| l.starts_with("PN-20"))).cloned()
        })
        .and_then(|o| o[0].as_str().map(str::to_owned))
        .with_context(|| format!("the pens among the products of the add-line form: {page}"))?;
    plugin.act("order", "add-line", Some(&arg), json!({ "product_id": pens, "quantity": 3 })).await?;
    // A quantity of 0 is refused on the form.
    let outcome = plugin.act("order", "add-line", Some(&arg), json!({ "product_id": pens, "quantity": "0" })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    // An order discount of ¥12.50, before tax, and a note.
    let outcome =
        plugin.act("order", "save", Some(&arg), json!({ "discount": "12.50", "notes": "月底前发货" })).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    // More discount than the order is worth is refused.
    let outcome = plugin.act("order", "save", Some(&arg), json!({ "discount": "9999", "notes": "" })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");

    // chair: 2.5 × 90.00 = 225.00, less 22.50 = 202.50; pens: 60.00; subtotal 262.50.
    // 12.50 spread 9.64 / 2.86 (largest remainder); tax 13 % of 192.86 = 25.07, 6 % of 57.14 = 3.43.
    let o = get_order(host.admin(), order).await?;
    assert_eq!(
        (&o["subtotal_minor"], &o["discount_minor"], &o["tax_minor"], &o["total_minor"]),
        (&json!(26_250), &json!(1_250), &json!(2_850), &json!(27_850)),
        "{o}"
    );
    assert_eq!(o["price_list_id"], list, "{o}");
    assert_eq!((&o["lines"][0]["unit_price_minor"], &o["lines"][0]["net_minor"]), (&json!(9_000), &json!(20_250)));
    assert_eq!(
        (&o["lines"][0]["order_discount_minor"], &o["lines"][1]["order_discount_minor"]),
        (&json!(964), &json!(286))
    );
    assert_eq!(o["lines"][0]["quantity"], "2.5");
    assert_eq!((&o["status"], &o["version"], &o["notes"]), (&json!("draft"), &json!(0), &json!("月底前发货")));
    let number = o["number"].as_str().context("a number")?.to_owned();
    ensure!(number.starts_with("SO-") && number.ends_with(&format!("-{order:04}")), "{number}");

    // The page shows the totals; the panel lists the order.
    let page = plugin.render("order", &[("id", &arg)]).await?;
    assert_eq!(value_of(&page, "价税合计").as_deref(), Some("¥278.50"), "{page}");
    assert_eq!(value_of(&page, "整单折扣").as_deref(), Some("¥12.50"), "{page}");
    let panel = plugin.render("customer-orders", &[("customer_id", &beijing.to_string())]).await?;
    assert!(panel["blocks"].to_string().contains(&number), "{panel}");

    // Removing a line computes the order again: the whole discount now on the pens,
    // 60.00 − 12.50 = 47.50, 6 % VAT 2.85.
    let chair_line = o["lines"][0]["line_id"].as_i64().context("line id")?.to_string();
    plugin.act("order", "remove-line", Some(&chair_line), json!({})).await?;
    let o = get_order(host.admin(), order).await?;
    assert_eq!(
        (&o["line_count"], &o["subtotal_minor"], &o["total_minor"]),
        (&json!(1), &json!(6_000), &json!(5_035)),
        "{o}"
    );

    // The order is on the customer's timeline, with its creation.
    let items = timeline(&host, beijing).await?;
    assert_eq!(
        titles(&items, "order"),
        [format!("销售订单 {number} · 草稿 · ¥50.35 (sales order, draft)")],
        "{items:?}"
    );
    assert_eq!(titles(&items, "order_event"), [format!("订单 {number}：新建草稿 (order created as draft)")]);

    // Cancelled in the CRM, it can no longer change.
    plugin.act("order", "cancel", Some(&arg), json!({})).await?;
    let outcome = plugin.act("order", "save", Some(&arg), json!({ "discount": "0" })).await?;
    assert_eq!(notice_of(&outcome).0, "error", "{outcome}");
    assert_eq!(get_order(host.admin(), order).await?["status"], "cancelled");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_json_api_creates_orders_and_refuses_bad_input_precisely() -> Result<()> {
    let (host, plugin) = start().await?;
    add_product(&host, &plugin, "A-1", "办公桌", "1,299.90", "13").await?;
    add_product(&host, &plugin, "BIG", "生产线", "1000000", "13").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let shanghai = customer(&host, "上海贸易", mei.user_id()).await?;
    let orders = format!("{API}/orders");

    let cases = [
        (json!({ "lines": [] }), "customer_id: required"),
        (json!({ "customer_id": 999_999 }), "customer_id: no customer 999999"),
        (
            json!({ "customer_id": shanghai, "lines": [{ "sku": "NOPE", "quantity": 1 }] }),
            "lines[0].sku: no product has the SKU \"NOPE\"",
        ),
        (
            json!({ "customer_id": shanghai, "lines": [{ "sku": "A-1", "quantity": 0 }] }),
            "lines[0].quantity: the quantity must be greater than 0",
        ),
        (
            json!({ "customer_id": shanghai, "lines": [{ "sku": "A-1", "quantity": -1 }] }),
            "lines[0].quantity: the quantity must be greater than 0",
        ),
        (
            json!({ "customer_id": shanghai, "lines": [{ "sku": "A-1", "quantity": 1, "discount_bp": 20000 }] }),
            "lines[0].discount_bp",
        ),
        (json!({ "customer_id": shanghai, "lines": [{ "sku": "BIG", "quantity": "999999999999.999" }] }), "too large"),
        (
            json!({ "customer_id": shanghai, "lines": [{ "sku": "A-1", "quantity": 1 }], "discount_minor": 999_999_999 }),
            "discount_minor",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = mei.post(&orders, &body).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        let text = answer["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{body}: {text:?} should say {message:?}");
    }
    let request =
        mei.request(Method::POST, &orders).header("content-type", "application/json").body("{\"customer_id\": ");
    let (status, answer) = mei.send(request).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // Nothing was written by the refused requests.
    let (_, listed) = mei.get(&orders).await?;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0), "{listed}");

    // 3 desks at ¥1,299.90 = 3,899.70, less 5 % (194.985 → 194.99) = 3,704.71, 13 % VAT 481.61.
    let created = api_order(
        &mei,
        json!({
            "customer_id": shanghai,
            "lines": [{ "sku": "A-1", "quantity": 3, "discount_bp": 500 }],
            "notes": "API",
        }),
    )
    .await?;
    assert_eq!((&created["status"], &created["version"]), (&json!("draft"), &json!(0)), "{created}");
    assert_eq!(
        (&created["subtotal_minor"], &created["tax_minor"], &created["total_minor"]),
        (&json!(370_471), &json!(48_161), &json!(418_632))
    );
    assert_eq!(created["customer"]["name"], "上海贸易");
    assert_eq!(created["lines"][0]["line_discount_minor"], 19_499);
    let id = id_of(&created)?;
    let shown = get_order(&mei, id).await?;
    assert_eq!(shown["number"], created["number"]);
    assert_eq!(shown["history"][0]["to"], "draft", "{shown}");
    // Listed, filtered by status.
    let (_, drafts) = mei.get(&format!("{orders}?status=draft")).await?;
    assert_eq!(drafts["items"][0]["id"], id, "{drafts}");
    let (_, none) = mei.get(&format!("{orders}?status=shipped")).await?;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
    let (status, _) = mei.get(&format!("{orders}?status=lost")).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = mei.get(&format!("{orders}/987654")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Products for integrations.
    let (status, products) = mei.get(&format!("{API}/products?active=true")).await?;
    assert_eq!(status, StatusCode::OK);
    let skus: Vec<&str> =
        products["items"].as_array().context("items")?.iter().filter_map(|p| p["sku"].as_str()).collect();
    assert_eq!(skus, ["A-1", "BIG"]);
    // Submitting an order without lines is refused.
    let empty = api_order(&mei, json!({ "customer_id": shanghai })).await?;
    let (status, answer) = mei.post(&format!("{orders}/{}/submit", id_of(&empty)?), &json!({})).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_small_order_is_approved_at_once_and_delivered_exactly_once() -> Result<()> {
    let (host, plugin) = start().await?;
    let receiver = Server::start().await?;
    let (endpoint, secret) = subscribe(&host, &receiver).await?;
    add_product(&host, &plugin, "A-1", "办公桌", "1000", "13").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let shenzhen = customer(&host, "深圳伙伴科技", mei.user_id()).await?;

    // ¥2,000.00 + 13 %: far below the ¥50,000.00 of the approval's step, which skips, so the
    // approval completes as approved at once; mei has no manager and needs none.
    let created =
        api_order(&mei, json!({ "customer_id": shenzhen, "lines": [{ "sku": "A-1", "quantity": 2 }], "submit": true }))
            .await?;
    let id = id_of(&created)?;
    assert_eq!((&created["status"], &created["version"]), (&json!("approved"), &json!(1)), "{created}");
    let approval = created["approval_id"].as_i64().context("an approval id")?;
    let (status, instance) = mei.get(&format!("/api/v1/approvals/{approval}")).await?;
    assert_eq!((status, &instance["state"]), (StatusCode::OK, &json!("approved")), "{instance}");

    // The host delivers the order to the endpoint, signed, with the idempotency key.
    let key = format!("order-{id}-v1");
    let got = host
        .wait_for(|| async { Ok(Some(deliveries_of(&receiver, &key)).filter(|d| !d.is_empty())) })
        .await
        .context("the approved order never reached the ERP's endpoint")?;
    let delivery = &got[0];
    check_signature(delivery, &secret)?;
    let body = delivery.json();
    assert_eq!(body["type"], "orders-to-erp.order.approved", "{body}");
    assert_eq!(delivery.header("idempotency-key"), Some(key.as_str()), "{:?}", delivery.headers);
    let data = &body["data"];
    assert_eq!((&data["order_id"], &data["number"], &data["version"]), (&json!(id), &created["number"], &json!(1)));
    assert_eq!(data["customer"]["name"], "深圳伙伴科技");
    assert!(data["customer"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{data}");
    assert_eq!(
        (&data["total_minor"], &data["tax_minor"], &data["currency"]),
        (&json!(226_000), &json!(26_000), &json!("CNY"))
    );
    assert_eq!(data["lines"][0]["sku"], "A-1");
    assert!(data["approved_at"].is_string(), "{data}");

    // The submitting call and the workflow.completed event both applied the outcome: still one
    // event, one delivery, one approval in the history.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = deliveries_of(&receiver, &key);
    let ids: std::collections::BTreeSet<&str> = got.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "one event for the version: {got:?}");
    let (status, log) = host.admin().get(&format!("/api/v1/webhooks/{endpoint}/deliveries")).await?;
    assert_eq!(status, StatusCode::OK);
    let approved: Vec<&Value> = log
        .as_array()
        .map(|all| all.iter().filter(|d| d["topic"] == "orders-to-erp.order.approved").collect())
        .unwrap_or_default();
    assert_eq!(approved.len(), 1, "{log}");
    assert_eq!(approved[0]["status"], "delivered", "{log}");
    let order = get_order(&mei, id).await?;
    let steps: Vec<(String, String)> = order["history"]
        .as_array()
        .context("history")?
        .iter()
        .map(|h| (h["from"].as_str().unwrap_or("").to_owned(), h["to"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(
        steps,
        [("".into(), "draft".into()), ("draft".into(), "pending".into()), ("pending".into(), "approved".into())],
        "{order}"
    );

    // The status history is on the customer's timeline.
    let number = created["number"].as_str().context("number")?;
    let items = timeline(&host, shenzhen).await?;
    let events = titles(&items, "order_event");
    assert!(
        events.contains(&format!("订单 {number}：待审批 → 已批准 (order pending approval → approved)")),
        "{events:?}"
    );
    assert_eq!(titles(&items, "order"), [format!("销售订单 {number} · 已批准 · ¥2,260.00 (sales order, approved)")]);

    // The ERP page shows it waiting for the ERP, with its key.
    let page = plugin.render("erp", &[]).await?;
    assert!(page["blocks"].to_string().contains(&key), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_repeated_request_with_an_idempotency_key_places_one_order() -> Result<()> {
    let (host, plugin) = start().await?;
    add_product(&host, &plugin, "C-1", "打印纸", "25", "13").await?;
    let hangzhou = customer(&host, "杭州西湖文具", None).await?;
    let admin = host.admin();
    let body = json!({ "customer_id": hangzhou, "lines": [{ "sku": "C-1", "quantity": 10 }], "submit": true });
    let post = |key: &str| {
        admin.send(admin.request(Method::POST, &format!("{API}/orders")).header("idempotency-key", key).json(&body))
    };

    let (status, first) = post("erp-batch-7/line-1").await?;
    assert_eq!((status, &first["status"]), (StatusCode::CREATED, &json!("approved")), "{first}");
    // The integration got no answer and sends the same request again: the same order.
    let (status, again) = post("erp-batch-7/line-1").await?;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!((&again["id"], &again["number"], &again["status"]), (&first["id"], &first["number"], &first["status"]));
    let (status, other) = post("erp-batch-7/line-2").await?;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_ne!(other["id"], first["id"]);
    let (_, listed) = admin.get(&format!("{API}/orders?customer_id={hangzhou}")).await?;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2), "{listed}");

    for bad in ["", "batch 7", &"k".repeat(101)] {
        let (status, answer) = post(bad).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| m.starts_with("Idempotency-Key:")), "{answer}");
    }
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn an_approval_whose_call_stopped_before_publishing_is_published_by_the_job() -> Result<()> {
    let (host, plugin) = start().await?;
    let receiver = Server::start().await?;
    subscribe(&host, &receiver).await?;
    add_product(&host, &plugin, "B-1", "文件柜", "800", "13").await?;
    let shanghai = customer(&host, "上海云帆商贸", None).await?;
    let draft =
        api_order(host.admin(), json!({ "customer_id": shanghai, "lines": [{ "sku": "B-1", "quantity": 1 }] })).await?;
    let id = id_of(&draft)?;

    // What a call stopped between the approval and the publication leaves behind: the order
    // approved (version 1) and flagged, nothing published, no event to finish it.
    let approved_at = tessera_testkit::tessera_host::store::now_ms() - 120_000;
    let sql = format!(
        "UPDATE plg_orders_to_erp__order SET status = 'approved', revision = 1, approved_at = {approved_at}, \
         publish_pending = TRUE WHERE id = {id}"
    );
    let changed =
        tessera_testkit::tessera_host::store::SqlBuf::new(&sql).query().execute(host.state().store.pool()).await?;
    ensure!(changed.rows_affected() == 1, "order {id} was not changed");
    plugin.run_job("publish-approved").await?;

    let key = format!("order-{id}-v1");
    let got = host
        .wait_for(|| async { Ok(Some(deliveries_of(&receiver, &key)).filter(|d| !d.is_empty())) })
        .await
        .context("the job never published the approved order")?;
    assert_eq!(got[0].json()["data"]["version"], 1, "{}", got[0].body);
    let order = get_order(host.admin(), id).await?;
    let approvals = order["history"].as_array().map(|h| h.iter().filter(|e| e["to"] == "approved").count());
    assert_eq!(approvals, Some(1), "the approval is in the history once: {order}");

    // The flag is cleared: a second run publishes nothing, and the version went out once.
    plugin.run_job("publish-approved").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ids: std::collections::BTreeSet<String> =
        deliveries_of(&receiver, &key).iter().filter_map(|r| r.header("webhook-id").map(str::to_owned)).collect();
    assert_eq!(ids.len(), 1, "one event for the version: {ids:?}");
    let (status, page) = host.admin().get(&format!("{API}/orders/{id}")).await?;
    assert_eq!((status, &page["status"]), (StatusCode::OK, &json!("approved")), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_big_order_waits_for_the_manager_and_a_rejected_one_comes_back_as_a_new_version() -> Result<()> {
    let (host, plugin) = start().await?;
    let receiver = Server::start().await?;
    subscribe(&host, &receiver).await?;
    add_product(&host, &plugin, "LINE", "包装线", "30000", "13").await?;
    let boss = host.user("boss", Role::SalesManager).await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    set_manager(&host, mei.user_id().context("mei")?, boss.user_id().context("boss")?).await?;
    let hangzhou = customer(&host, "杭州制造", mei.user_id()).await?;
    let big = json!({ "customer_id": hangzhou, "lines": [{ "sku": "LINE", "quantity": 2 }], "submit": true });

    // ¥67,800.00 with tax: above ¥50,000.00, so it waits for mei's manager.
    let created = api_order(&mei, big.clone()).await?;
    let id = id_of(&created)?;
    assert_eq!((&created["status"], &created["total_minor"]), (&json!("pending"), &json!(6_780_000)), "{created}");
    let approval = created["approval_id"].as_i64().context("approval")?;
    let (status, inbox) = boss.get("/api/v1/approvals/inbox").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["items"][0]["id"], approval, "{inbox}");
    assert!(deliveries_of(&receiver, &format!("order-{id}-v1")).is_empty(), "nothing goes out before the approval");

    let (status, answer) =
        boss.post(&format!("/api/v1/approvals/{approval}/approve"), &json!({ "comment": "同意" })).await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let approved = wait_for_status(&host, id, "approved").await?;
    assert_eq!(approved["version"], 1);
    host.wait_for(|| async {
        Ok(Some(()).filter(|_| !deliveries_of(&receiver, &format!("order-{id}-v1")).is_empty()))
    })
    .await
    .context("the approved order was not delivered")?;

    // Rejected: the order can be changed, which makes it a draft again under a new version.
    let second = api_order(&mei, big).await?;
    let second_id = id_of(&second)?;
    let approval = second["approval_id"].as_i64().context("approval")?;
    let (status, answer) =
        boss.post(&format!("/api/v1/approvals/{approval}/reject"), &json!({ "comment": "价格太低" })).await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let rejected = wait_for_status(&host, second_id, "rejected").await?;
    assert_eq!(rejected["version"], 0);
    let arg = second_id.to_string();
    let outcome =
        plugin.act_as(&mei, "order", "save", Some(&arg), json!({ "discount": "100", "notes": "调价" })).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    let edited = get_order(&mei, second_id).await?;
    assert_eq!(
        (&edited["status"], &edited["version"], &edited["discount_minor"]),
        (&json!("draft"), &json!(1), &json!(10_000))
    );
    // Submitted again from the page, it waits for the manager again, and approved it is version 2.
    let outcome = plugin.act_as(&mei, "order", "submit", Some(&arg), json!({})).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    let again = get_order(&mei, second_id).await?;
    let approval = again["approval_id"].as_i64().context("approval")?;
    boss.post(&format!("/api/v1/approvals/{approval}/approve"), &json!({})).await?;
    let approved = wait_for_status(&host, second_id, "approved").await?;
    assert_eq!(approved["version"], 2);
    let got = host
        .wait_for(|| async {
            Ok(Some(deliveries_of(&receiver, &format!("order-{second_id}-v2"))).filter(|d| !d.is_empty()))
        })
        .await?;
    assert_eq!(got[0].json()["data"]["discount_minor"], 10_000);
    assert!(
        deliveries_of(&receiver, &format!("order-{second_id}-v1")).is_empty(),
        "the rejected version never went out"
    );

    // A big order of someone without a manager cannot be submitted: the step has nobody to ask.
    let admin_customer = customer(&host, "无经理客户", None).await?;
    let (status, answer) = host
        .admin()
        .post(
            &format!("{API}/orders"),
            &json!({ "customer_id": admin_customer, "lines": [{ "sku": "LINE", "quantity": 2 }], "submit": true }),
        )
        .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["order"]["status"], "draft", "the draft is given back: {answer}");
    let (_, drafts) = host.admin().get(&format!("{API}/orders?customer_id={admin_customer}")).await?;
    assert_eq!(drafts["items"][0]["id"], answer["order"]["id"], "the order stays a draft: {drafts}");
    assert_eq!(drafts["items"][0]["status"], "draft", "{drafts}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_erp_calls_back_with_signed_requests() -> Result<()> {
    let (host, plugin) = start().await?;
    add_product(&host, &plugin, "A-1", "办公桌", "10", "13").await?;
    let guangzhou = customer(&host, "广州商贸", None).await?;
    let order = api_order(
        host.admin(),
        json!({ "customer_id": guangzhou, "lines": [{ "sku": "A-1", "quantity": 1 }], "submit": true }),
    )
    .await?;
    let id = id_of(&order)?;
    let number = order["number"].as_str().context("number")?.to_owned();
    let shipped = json!({ "type": "order.shipped", "data": { "order_id": id, "erp_reference": "ERP-7781", "tracking": "SF1234567890" } });

    // Without a secret configured, every callback is refused.
    let (status, answer) = callback(&host, shipped.clone()).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    plugin.set_settings(json!({ "erp_secret": whsec(KEY) })).await?;

    // A wrong key, a stale timestamp, no signature at all: 401.
    let (status, answer) = callback_as(&host, b"another key entirely, not ours!!", now_s(), &shipped).await?;
    assert_eq!((status, &answer["error"]), (StatusCode::UNAUTHORIZED, &json!("bad-signature")), "{answer}");
    let (status, _) = callback_as(&host, KEY, now_s() - 600, &shipped).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let unsigned = host.anonymous()?;
    let (status, _) = unsigned.send(unsigned.request(Method::POST, CALLBACK).body(shipped.to_string())).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(get_order(host.admin(), id).await?["status"], "approved");

    // Signed: shipped, with the ERP's reference and the tracking number.
    let (status, answer) = callback(&host, shipped.clone()).await?;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((&answer["status"], &answer["changed"]), (&json!("shipped"), &json!(true)));
    let o = get_order(host.admin(), id).await?;
    assert_eq!(
        (&o["status"], &o["erp_reference"], &o["tracking"]),
        (&json!("shipped"), &json!("ERP-7781"), &json!("SF1234567890"))
    );
    // Again: nothing changes, and the ERP is told it is done.
    let (status, answer) = callback(&host, shipped).await?;
    assert_eq!((status, &answer["changed"]), (StatusCode::OK, &json!(false)), "{answer}");

    // Invoiced, naming the order by its number; then cancelling is no longer possible.
    let (status, answer) = callback(
        &host,
        json!({ "type": "order.invoiced", "data": { "number": number, "invoice_number": "FP-2026-001" } }),
    )
    .await?;
    assert_eq!((status, &answer["status"]), (StatusCode::OK, &json!("invoiced")), "{answer}");
    let (status, answer) = callback(&host, json!({ "type": "order.cancelled", "data": { "order_id": id } })).await?;
    assert_eq!((status, &answer["error"]), (StatusCode::CONFLICT, &json!("invalid-transition")), "{answer}");
    // A late "shipped" after the invoice changes nothing.
    let (status, answer) = callback(&host, json!({ "type": "order.shipped", "data": { "order_id": id } })).await?;
    assert_eq!((status, &answer["changed"]), (StatusCode::OK, &json!(false)), "{answer}");

    // Unknown orders, unknown types and bodies of another shape.
    let (status, _) = callback(&host, json!({ "type": "order.shipped", "data": { "order_id": 987_654 } })).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        callback(&host, json!({ "type": "order.shipped", "data": { "number": "SO-19990101-0001" } })).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = callback(&host, json!({ "type": "order.lost", "data": { "order_id": id } })).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = callback(&host, json!({ "type": "order.shipped" })).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = callback(&host, json!({ "type": "order.shipped", "data": {} })).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A draft cannot be shipped.
    let draft = api_order(host.admin(), json!({ "customer_id": guangzhou })).await?;
    let (status, _) =
        callback(&host, json!({ "type": "order.shipped", "data": { "order_id": id_of(&draft)? } })).await?;
    assert_eq!(status, StatusCode::CONFLICT);

    // Each change is in the order's history and on the customer's timeline, once.
    let o = get_order(host.admin(), id).await?;
    let to: Vec<&str> = o["history"].as_array().context("history")?.iter().filter_map(|h| h["to"].as_str()).collect();
    assert_eq!(to, ["draft", "pending", "approved", "shipped", "invoiced"], "{o}");
    let events = titles(&timeline(&host, guangzhou).await?, "order_event");
    assert!(
        events.contains(&format!("订单 {number}：已批准 → 已发货 (order approved → shipped) · tracking SF1234567890")),
        "{events:?}"
    );
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn stock_levels_are_pulled_from_the_erp() -> Result<()> {
    let (host, plugin) = start().await?;
    add_product(&host, &plugin, "A-1", "办公桌", "10", "13").await?;
    add_product(&host, &plugin, "B-2", "文件柜", "20", "13").await?;
    let erp = Server::start().await?;
    let levels = Arc::new(Mutex::new(
        json!([{ "sku": "A-1", "on_hand": 12 }, { "sku": "B-2", "on_hand": 0 }, { "sku": "X-9", "on_hand": 5 }]),
    ));
    let served = levels.clone();
    erp.answer_with(move |request| {
        if request.method != "GET" || request.path != "/erp-api/stock" {
            return (404, "{}".to_owned());
        }
        if request.header("authorization") != Some("Bearer erp-token-42") {
            return (401, "{\"error\":\"token\"}".to_owned());
        }
        (200, served.lock().map(|l| l.to_string()).unwrap_or_default())
    });
    plugin
        .set_settings(json!({ "erp_api_url": format!("{}/erp-api/", erp.base), "erp_api_token": "erp-token-42" }))
        .await?;

    plugin.run_job("pull-stock").await?;
    let stock = |products: &Value, sku: &str| -> Option<(Option<i64>, Option<String>)> {
        let p = products["items"].as_array()?.iter().find(|p| p["sku"] == sku)?;
        Some((p["stock"].as_i64(), p["stock_synced_at"].as_str().map(str::to_owned)))
    };
    let (_, products) = host.admin().get(&format!("{API}/products")).await?;
    let (a_stock, a_synced) = stock(&products, "A-1").context("A-1")?;
    assert_eq!(a_stock, Some(12), "{products}");
    assert!(a_synced.is_some(), "{products}");
    assert_eq!(stock(&products, "B-2").map(|s| s.0), Some(Some(0)));
    assert_eq!(erp.got().len(), 1);

    // Only B-2 changes next time: A-1 keeps the time it last changed.
    if let Ok(mut l) = levels.lock() {
        *l = json!([{ "sku": "A-1", "on_hand": 12 }, { "sku": "B-2", "on_hand": 7 }]);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let outcome = plugin.act("products", "sync-stock", None, json!({})).await?;
    assert_eq!(notice_of(&outcome), ("success", "库存已同步：更新 1 个，未变 1 个，未知编码 0 个。"), "{outcome}");
    let (_, products) = host.admin().get(&format!("{API}/products")).await?;
    assert_eq!(stock(&products, "A-1"), Some((Some(12), a_synced)), "{products}");
    assert_eq!(stock(&products, "B-2").map(|s| s.0), Some(Some(7)));
    let page = plugin.render("products", &[]).await?;
    assert!(page["blocks"].to_string().contains("更新 1 个"), "{page}");

    // A failing ERP leaves the stock as it was and says why.
    erp.answer_with(|_| (500, "{\"error\":\"down\"}".to_owned()));
    let outcome = plugin.act("products", "sync-stock", None, json!({})).await?;
    let (level, text) = notice_of(&outcome);
    assert_eq!(level, "error", "{outcome}");
    assert!(text.contains("500"), "{text}");
    match plugin.run_job("pull-stock").await {
        Ok(()) => bail!("the job should fail while the ERP fails"),
        Err(e) => assert!(format!("{e:#}").contains("500"), "{e:#}"),
    }
    let (_, products) = host.admin().get(&format!("{API}/products")).await?;
    assert_eq!(stock(&products, "B-2").map(|s| s.0), Some(Some(7)));
    host.stop().await;
    Ok(())
}
