//! The customer database over HTTP on both backends: codes, validation, contacts, the
//! timeline, phone lookup, quick search with pinyin, paging, access scopes and outbox events.

use std::collections::BTreeSet;

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_host::jiff as jiff_ts;
use tessera_tests::{Client, TestServer, USER_PASSWORD, both_backends};

async fn create(client: &Client, body: Value) -> anyhow::Result<Value> {
    let (status, created) = client.post("/api/v1/customers", &body).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "create {body}: {status} {created}");
    Ok(created)
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().map(|a| a.iter().filter_map(|c| c["id"].as_i64()).collect()).unwrap_or_default()
}

/// A sales organisation: East and North under Sales, a manager over Sales, one salesperson in
/// each region.
struct Sales {
    manager: Client,
    east: Client,
    north: Client,
    east_id: i64,
}

async fn sales(server: &TestServer, admin: &Client) -> anyhow::Result<Sales> {
    let (_, sales) = admin.post("/api/v1/departments", &json!({ "name": "Sales" })).await?;
    let (_, east) = admin.post("/api/v1/departments", &json!({ "name": "East", "parent_id": sales["id"] })).await?;
    let (_, north) = admin.post("/api/v1/departments", &json!({ "name": "North", "parent_id": sales["id"] })).await?;
    let manager_role = server.role_id(admin, "Sales manager").await?;
    let sales_role = server.role_id(admin, "Salesperson").await?;
    server.add_user(admin, "manager", sales["id"].as_i64(), &[manager_role]).await?;
    let east_id = server.add_user(admin, "east", east["id"].as_i64(), &[sales_role]).await?;
    server.add_user(admin, "north", north["id"].as_i64(), &[sales_role]).await?;
    Ok(Sales {
        manager: server.sign_in("manager", USER_PASSWORD).await?,
        east: server.sign_in("east", USER_PASSWORD).await?,
        north: server.sign_in("north", USER_PASSWORD).await?,
        east_id,
    })
}

both_backends! {
    async fn codes_are_unique_and_gap_free_under_concurrent_creation(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.token_client(&server.admin().await?).await?;
        let attempts: Vec<_> = (0..30).map(|i| {
            let c = admin.clone();
            async move { c.post("/api/v1/customers", &json!({ "name": format!("并发客户 {i}") })).await }
        }).collect();
        let mut codes = BTreeSet::new();
        for r in futures::future::join_all(attempts).await {
            let (status, body) = r?;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            codes.insert(body["code"].as_str().context("code")?.to_owned());
        }
        let year = codes.iter().next().and_then(|c| c.get(3..7)).context("year")?.to_owned();
        let expected: BTreeSet<String> = (1..=30).map(|n| format!("KH-{year}-{n:05}")).collect();
        assert_eq!(codes, expected);
        // A refused creation gives its number back.
        let (status, _) = admin.post("/api/v1/customers", &json!({ "name": "bad", "level": "no-such-level" })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let next = create(&admin, json!({ "name": "after the refusal" })).await?;
        assert_eq!(next["code"], format!("KH-{year}-00031"));
        // A new pattern applies to new customers.
        assert_eq!(admin.put("/api/v1/settings/customer-code-pattern", &json!({ "pattern": "C{yy}{seq:3}" })).await?.0, StatusCode::OK);
        let c = create(&admin, json!({ "name": "new pattern" })).await?;
        assert_eq!(c["code"], format!("C{}001", &year[2..]));
        assert_eq!(admin.put("/api/v1/settings/customer-code-pattern", &json!({ "pattern": "no sequence" })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        Ok(())
    }

    async fn customers_are_validated_updated_and_deleted_with_events(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let parent = create(&admin, json!({ "name": "华为集团" })).await?;
        let c = create(&admin, json!({
            "name": "  深圳华为技术有限公司 ", "category": "customer", "level": "a", "status": "potential", "industry": "it",
            "region": "south", "source": "exhibition", "tax_id": "91440300192203821A", "credit_limit": 5_000_000,
            "tags": ["vip", " 战略 ", "vip"], "parent_id": parent["id"],
            "phones": [{ "label": "总机", "number": "0755-2878 0808" }],
        })).await?;
        assert_eq!(c["name"], "深圳华为技术有限公司");
        assert_eq!(c["tags"], json!(["vip", "战略"]));
        assert_eq!(c["phones"][0]["canonical"], "+8675528780808");
        assert_eq!(c["version"], 1);
        let id = c["id"].as_i64().context("id")?;
        for (bad, field) in [
            (json!({ "name": "" }), "name"),
            (json!({ "name": "x", "level": "z" }), "level"),
            (json!({ "name": "x", "kind": "robot" }), "kind"),
            (json!({ "name": "x", "phones": [{ "number": "call me" }] }), "phones"),
            (json!({ "name": "x", "parent_id": 999_999 }), "parent_id"),
            (json!({ "name": "x", "credit_limit": -1 }), "credit_limit"),
            (json!({ "name": "x", "tags": ["a,b"] }), "tags"),
        ] {
            let (status, body) = admin.post("/api/v1/customers", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field, "{bad}");
        }
        let (status, updated) = admin.patch(&format!("/api/v1/customers/{id}"), &json!({ "status": "signed", "version": 1, "website": null })).await?;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["status"], "signed");
        assert_eq!(updated["version"], 2);
        assert_eq!(updated["level"], "a", "untouched fields stay");
        let (status, body) = admin.patch(&format!("/api/v1/customers/{id}"), &json!({ "status": "lost", "version": 1 })).await?;
        assert_eq!(status, StatusCode::CONFLICT, "a stale version is refused: {body}");
        let (status, _) = admin.patch(&format!("/api/v1/customers/{}", parent["id"]), &json!({ "parent_id": id })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "group cycles are refused");
        assert_eq!(admin.delete(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::NO_CONTENT);
        assert_eq!(admin.get(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::NOT_FOUND);
        let topics: Vec<String> = sqlx::query_scalar("SELECT topic FROM outbox WHERE aggregate_type = 'customer' AND aggregate_id = $1 ORDER BY id")
            .bind(id).fetch_all(server.store().pool()).await?;
        assert_eq!(topics, ["customer.created", "customer.updated", "customer.deleted"]);
        let payload: String = sqlx::query_scalar("SELECT payload FROM outbox WHERE aggregate_id = $1 AND topic = 'customer.updated'")
            .bind(id).fetch_one(server.store().pool()).await?;
        assert_eq!(serde_json::from_str::<Value>(&payload)?["status"], "signed");
        Ok(())
    }

    async fn scopes_decide_who_sees_which_customers(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let east_customer = create(&s.east, json!({ "name": "东方客户", "phones": [{ "number": "021-5555 6666" }] })).await?;
        let north_customer = create(&s.north, json!({ "name": "北方客户" })).await?;
        let (e, n) = (east_customer["id"].as_i64().context("e")?, north_customer["id"].as_i64().context("n")?);
        assert_eq!(east_customer["owner_id"], s.east_id);
        let (_, page) = s.east.get("/api/v1/customers").await?;
        assert_eq!(ids(&page), vec![e], "a salesperson sees their own");
        assert_eq!(s.east.get(&format!("/api/v1/customers/{n}")).await?.0, StatusCode::NOT_FOUND);
        assert_eq!(s.east.patch(&format!("/api/v1/customers/{n}"), &json!({ "name": "mine now" })).await?.0, StatusCode::NOT_FOUND);
        assert_eq!(s.east.post(&format!("/api/v1/customers/{n}/activities"), &json!({ "kind": "call" })).await?.0, StatusCode::NOT_FOUND);
        let (_, found) = s.north.get("/api/v1/customers/by-phone/02155556666").await?;
        assert_eq!(found["customers"], json!([]), "by-phone respects scopes");
        let (_, found) = s.east.get("/api/v1/customers/by-phone/02155556666").await?;
        assert_eq!(found["customers"][0]["id"], e);
        let (_, page) = s.manager.get("/api/v1/customers").await?;
        assert_eq!(ids(&page).into_iter().collect::<BTreeSet<_>>(), BTreeSet::from([e, n]), "the manager sees the department tree");
        assert_eq!(s.north.delete(&format!("/api/v1/customers/{n}")).await?.0, StatusCode::FORBIDDEN, "salespeople may read but not delete their own");
        // Creating for someone else needs a scope that reaches them.
        let (status, _) = s.east.post("/api/v1/customers", &json!({ "name": "x", "owner_id": server.role_id(&admin, "Administrator").await? })).await?;
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::UNPROCESSABLE_ENTITY, "{status}");
        // Another organisation sees nothing.
        tessera_host::org::create(server.store(), &server.state.hasher, &tessera_host::org::NewOrg {
            slug: "other".into(), name: "Other".into(), time_zone: "Asia/Shanghai".into(), admin_password: "other admin passphrase".into(),
        }).await?;
        let other = server.anonymous();
        let (_, signed) = other.post("/api/v1/auth/sign-in", &json!({ "org": "other", "username": "admin", "password": "other admin passphrase" })).await?;
        let other = other.with_csrf(signed["csrf_token"].as_str().context("csrf")?.to_owned());
        let (_, page) = other.get("/api/v1/customers").await?;
        assert_eq!(ids(&page), Vec::<i64>::new());
        assert_eq!(other.get(&format!("/api/v1/customers/{e}")).await?.0, StatusCode::NOT_FOUND);
        let (_, found) = other.get("/api/v1/customers/by-phone/02155556666").await?;
        assert_eq!(found["customers"], json!([]));
        Ok(())
    }

    async fn phones_in_any_format_find_customers_and_contacts(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let c = create(&admin, json!({ "name": "北京科技有限公司", "phones": [{ "label": "office", "number": "010-12345678" }] })).await?;
        let id = c["id"].as_i64().context("id")?;
        let (status, contact) = admin.post(&format!("/api/v1/customers/{id}/contacts"), &json!({
            "name": "王经理", "title": "采购经理", "decision_role": "decision_maker", "birthday": "1985-06-01",
            "phones": [{ "label": "mobile", "number": "+86 138 1234 5678" }],
        })).await?;
        assert_eq!(status, StatusCode::CREATED, "{contact}");
        for number in ["(010)12345678", "+86 10 1234 5678", "0086-10-12345678", "０１０－１２３４５６７８"] {
            let (status, found) = admin.get(&format!("/api/v1/customers/by-phone/{}", urlencode(number))).await?;
            assert_eq!(status, StatusCode::OK, "{number}");
            assert_eq!(found["customers"][0]["id"], id, "{number}");
        }
        for number in ["13812345678", "+8613812345678", "１３８ １２３４ ５６７８"] {
            let (_, found) = admin.get(&format!("/api/v1/customers/by-phone/{}", urlencode(number))).await?;
            assert_eq!(found["contacts"][0]["name"], "王经理", "{number}");
            assert_eq!(found["customers"], json!([]), "the customer's own phones differ");
        }
        let (status, body) = admin.get("/api/v1/customers/by-phone/not-a-number").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // Contact validation.
        for (bad, field) in [
            (json!({ "name": "x", "birthday": "1985-13-01" }), "birthday"),
            (json!({ "name": "x", "decision_role": "boss" }), "decision_role"),
            (json!({ "name": "x", "email": "no-at-sign" }), "email"),
            (json!({ "name": "x", "reports_to_id": 999_999 }), "reports_to_id"),
        ] {
            let (status, body) = admin.post(&format!("/api/v1/customers/{id}/contacts"), &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field);
        }
        let (_, deputy) = admin.post(&format!("/api/v1/customers/{id}/contacts"), &json!({ "name": "李助理", "reports_to_id": contact["id"] })).await?;
        let (status, _) = admin.patch(&format!("/api/v1/contacts/{}", contact["id"]), &json!({ "reports_to_id": deputy["id"] })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "reporting cycles are refused");
        let (_, list) = admin.get(&format!("/api/v1/customers/{id}/contacts")).await?;
        assert_eq!(list.as_array().map(Vec::len), Some(2));
        Ok(())
    }

    async fn quick_search_finds_names_pinyin_codes_phones_and_contacts(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let bj = create(&admin, json!({ "name": "北京科技有限公司", "phones": [{ "number": "010-87654321" }] })).await?;
        let cq = create(&admin, json!({ "name": "重庆银行" })).await?;
        let acme = create(&admin, json!({ "name": "Acme Co., Ltd." })).await?;
        let (_, k) = admin.post(&format!("/api/v1/customers/{}/contacts", acme["id"]), &json!({ "name": "Zhang San" })).await?;
        assert!(k["id"].is_i64());
        let find = |q: &'static str| {
            let admin = admin.clone();
            async move {
                let (status, page) = admin.get(&format!("/api/v1/customers?q={}", urlencode(q))).await?;
                anyhow::ensure!(status == StatusCode::OK, "{q}: {status} {page}");
                Ok::<_, anyhow::Error>(ids(&page))
            }
        };
        let bj_id = bj["id"].as_i64().context("bj")?;
        for q in ["北京", "bjkj", "beijing", "BeiJing", "beijingkeji", "87654321", "8765 4321"] {
            assert_eq!(find(q).await?, vec![bj_id], "{q}");
        }
        let code = bj["code"].as_str().context("code")?.to_lowercase();
        assert_eq!(find(Box::leak(code.into_boxed_str())).await?, vec![bj_id], "by code");
        assert_eq!(find("chongqing").await?, vec![cq["id"].as_i64().context("cq")?], "polyphonic 重 as chong");
        assert_eq!(find("cqyh").await?, vec![cq["id"].as_i64().context("cq")?]);
        assert_eq!(find("acme").await?, vec![acme["id"].as_i64().context("acme")?]);
        assert_eq!(find("zhang san").await?, vec![acme["id"].as_i64().context("acme")?], "by contact name");
        assert!(find("no such thing").await?.is_empty());
        Ok(())
    }

    async fn the_timeline_moves_follow_up_dates(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let c = create(&admin, json!({ "name": "跟进客户" })).await?;
        let id = c["id"].as_i64().context("id")?;
        let log = |body: Value| { let admin = admin.clone(); async move { admin.post(&format!("/api/v1/customers/{id}/activities"), &body).await } };
        let (status, a) = log(json!({ "kind": "call", "subject": "首次电话", "result": "有意向", "occurred_at": "2026-11-20T10:00:00+08:00", "next_follow_up_at": "2026-11-25T10:00:00+08:00" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let (_, after) = admin.get(&format!("/api/v1/customers/{id}")).await?;
        assert_eq!(after["last_followed_up_at"], "2026-11-20T02:00:00Z");
        assert_eq!(after["next_follow_up_at"], "2026-11-25T02:00:00Z");
        // An older follow-up logged later does not move the dates back.
        log(json!({ "kind": "note", "occurred_at": "2026-11-18T09:00:00+08:00", "next_follow_up_at": "2026-11-19T09:00:00+08:00" })).await?;
        let (_, after) = admin.get(&format!("/api/v1/customers/{id}")).await?;
        assert_eq!(after["next_follow_up_at"], "2026-11-25T02:00:00Z");
        log(json!({ "kind": "visit", "occurred_at": "2026-11-22T15:00:00+08:00" })).await?;
        let (_, after) = admin.get(&format!("/api/v1/customers/{id}")).await?;
        assert_eq!(after["last_followed_up_at"], "2026-11-22T07:00:00Z");
        assert_eq!(after["next_follow_up_at"], Value::Null, "the latest follow-up set no next date");
        let (_, timeline) = admin.get(&format!("/api/v1/customers/{id}/activities")).await?;
        let kinds: Vec<&str> = timeline.as_array().map(|a| a.iter().filter_map(|x| x["kind"].as_str()).collect()).unwrap_or_default();
        assert_eq!(kinds, ["visit", "call", "note"], "newest first");
        for (bad, field) in [
            (json!({ "kind": "fax" }), "kind"),
            (json!({ "kind": "call", "occurred_at": "yesterday" }), "occurred_at"),
            (json!({ "kind": "call", "occurred_at": "2026-11-22T10:00:00Z", "next_follow_up_at": "2026-11-21T10:00:00Z" }), "next_follow_up_at"),
            (json!({ "kind": "call", "contact_id": 999_999 }), "contact_id"),
        ] {
            let (status, body) = log(bad.clone()).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field);
        }
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE topic = 'activity.created' AND aggregate_id = $1")
            .bind(id).fetch_one(server.store().pool()).await?;
        assert_eq!(events, 3);
        Ok(())
    }

    async fn lists_page_with_keyset_cursors(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        for name in ["Delta", "Alpha", "Echo", "Charlie", "Bravo", "Golf", "Foxtrot"] {
            create(&admin, json!({ "name": name, "level": if name < "D" { "a" } else { "b" } })).await?;
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("/api/v1/customers?sort=name&limit=3&cursor={c}"),
                None => "/api/v1/customers?sort=name&limit=3".into(),
            };
            let (status, page) = admin.get(&url).await?;
            assert_eq!(status, StatusCode::OK, "{page}");
            seen.extend(page["items"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_owned)));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"]);
        let (_, page) = admin.get("/api/v1/customers?level=a&sort=name&desc=true").await?;
        let names: Vec<&str> = page["items"].as_array().map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect()).unwrap_or_default();
        assert_eq!(names, ["Charlie", "Bravo", "Alpha"]);
        assert_eq!(admin.get("/api/v1/customers?cursor=garbage").await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(admin.get("/api/v1/customers?sort=shoe_size").await?.0, StatusCode::BAD_REQUEST);
        assert_eq!(admin.get("/api/v1/customers?limit=0").await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        Ok(())
    }

    async fn sharing_lends_reading_and_editing(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let c = create(&s.east, json!({ "name": "共享客户" })).await?;
        let id = c["id"].as_i64().context("id")?;
        s.east.post(&format!("/api/v1/customers/{id}/activities"), &json!({ "kind": "call", "subject": "hello" })).await?;
        let (_, me) = s.north.get("/api/v1/me").await?;
        let north_id = me["id"].as_i64().context("north")?;
        assert_eq!(s.north.get(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::NOT_FOUND);
        let (status, share) = s.east.post(&format!("/api/v1/customers/{id}/shares"), &json!({ "user_id": north_id, "level": "read" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{share}");
        assert_eq!(s.north.get(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::OK);
        let (_, page) = s.north.get("/api/v1/customers").await?;
        assert_eq!(ids(&page), vec![id], "shared customers are listed");
        let (_, timeline) = s.north.get(&format!("/api/v1/customers/{id}/activities")).await?;
        assert_eq!(timeline.as_array().map(Vec::len), Some(1), "and their timeline readable");
        let (status, body) = s.north.patch(&format!("/api/v1/customers/{id}"), &json!({ "notes": "x" })).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "read share does not edit: {body}");
        assert_eq!(s.north.post(&format!("/api/v1/customers/{id}/shares"), &json!({ "user_id": north_id, "level": "edit" })).await?.0, StatusCode::FORBIDDEN);
        // Sharing again upgrades the level.
        s.east.post(&format!("/api/v1/customers/{id}/shares"), &json!({ "user_id": north_id, "level": "edit" })).await?;
        let (_, shares) = s.east.get(&format!("/api/v1/customers/{id}/shares")).await?;
        assert_eq!(shares.as_array().map(Vec::len), Some(1));
        assert_eq!(s.north.patch(&format!("/api/v1/customers/{id}"), &json!({ "notes": "edited by north" })).await?.0, StatusCode::OK);
        assert_eq!(s.north.delete(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::FORBIDDEN, "shares never lend deletion");
        let share_id = shares[0]["id"].as_i64().context("share")?;
        assert_eq!(s.east.delete(&format!("/api/v1/customers/{id}/shares/{share_id}")).await?.0, StatusCode::NO_CONTENT);
        assert_eq!(s.north.get(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::NOT_FOUND);
        // A whole department.
        let (_, north_user) = admin.get(&format!("/api/v1/users/{north_id}")).await?;
        s.east.post(&format!("/api/v1/customers/{id}/shares"), &json!({ "department_id": north_user["department_id"], "level": "read" })).await?;
        assert_eq!(s.north.get(&format!("/api/v1/customers/{id}")).await?.0, StatusCode::OK);
        assert_eq!(s.east.post(&format!("/api/v1/customers/{id}/shares"), &json!({ "level": "read" })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        Ok(())
    }

    async fn transfers_move_customers_with_their_open_follow_ups(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let (_, me) = s.north.get("/api/v1/me").await?;
        let north_id = me["id"].as_i64().context("north")?;
        let a = create(&s.east, json!({ "name": "客户甲" })).await?;
        let b = create(&s.east, json!({ "name": "客户乙" })).await?;
        let (a_id, b_id) = (a["id"].as_i64().context("a")?, b["id"].as_i64().context("b")?);
        s.east.post(&format!("/api/v1/customers/{a_id}/activities"), &json!({ "kind": "visit", "occurred_at": "2026-01-05T10:00:00Z" })).await?;
        s.east.post(&format!("/api/v1/customers/{a_id}/activities"), &json!({ "kind": "call", "next_follow_up_at": "2099-01-01T00:00:00Z" })).await?;
        // Salespeople may not transfer.
        let (status, _) = s.east.post("/api/v1/customers/transfer", &json!({ "customer_ids": [a_id], "to_user_id": north_id, "reason": "x" })).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(s.manager.post("/api/v1/customers/transfer", &json!({ "customer_ids": [a_id], "to_user_id": north_id, "reason": " " })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        // Someone left: the manager moves everything east owned.
        let (status, result) = s.manager.post("/api/v1/customers/transfer", &json!({ "from_user_id": s.east_id, "to_user_id": north_id, "reason": "离职交接" })).await?;
        assert_eq!(status, StatusCode::OK, "{result}");
        assert_eq!(result["transferred"], json!([a_id, b_id]));
        assert_eq!(result["open_follow_ups_moved"], 1);
        let (_, moved) = s.north.get(&format!("/api/v1/customers/{a_id}")).await?;
        assert_eq!(moved["owner_id"], north_id);
        assert_eq!(moved["department_id"], me["department_id"]);
        assert_eq!(s.east.get(&format!("/api/v1/customers/{a_id}")).await?.0, StatusCode::NOT_FOUND);
        let (_, timeline) = s.north.get(&format!("/api/v1/customers/{a_id}/activities")).await?;
        let owners: Vec<i64> = timeline.as_array().map(|t| t.iter().filter_map(|x| x["owner_id"].as_i64()).collect()).unwrap_or_default();
        assert_eq!(owners, vec![north_id, s.east_id], "the open follow-up moved; history keeps its author");
        let (_, log) = s.north.get(&format!("/api/v1/customers/{a_id}/transfers")).await?;
        assert_eq!(log[0]["reason"], "离职交接");
        assert_eq!(log[0]["from_user_id"], s.east_id);
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE topic = 'customer.transferred'").fetch_one(server.store().pool()).await?;
        assert_eq!(events, 2);
        // All or nothing: one customer out of reach stops the whole transfer.
        let other = create(&admin, json!({ "name": "总部客户" })).await?;
        let (status, _) = s.manager.post("/api/v1/customers/transfer", &json!({ "customer_ids": [a_id, other["id"]], "to_user_id": s.east_id, "reason": "x" })).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, still) = s.north.get(&format!("/api/v1/customers/{a_id}")).await?;
        assert_eq!(still["owner_id"], north_id);
        Ok(())
    }

    async fn batch_edits_are_all_or_nothing(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let mut mine = Vec::new();
        for n in 0..3 {
            mine.push(create(&s.manager, json!({ "name": format!("批量 {n}"), "tags": ["old"] })).await?["id"].as_i64().context("id")?);
        }
        let (status, r) = s.manager.post("/api/v1/customers/batch-edit", &json!({ "customer_ids": mine, "level": "b", "add_tags": ["重点"], "remove_tags": ["old"] })).await?;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["updated"], 3);
        let (_, c) = s.manager.get(&format!("/api/v1/customers/{}", mine[0])).await?;
        assert_eq!(c["level"], "b");
        assert_eq!(c["tags"], json!(["重点"]));
        let foreign = create(&admin, json!({ "name": "not theirs" })).await?["id"].as_i64().context("id")?;
        let mut with_foreign = mine.clone();
        with_foreign.push(foreign);
        let (status, _) = s.manager.post("/api/v1/customers/batch-edit", &json!({ "customer_ids": with_foreign, "level": "c" })).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, c) = s.manager.get(&format!("/api/v1/customers/{}", mine[0])).await?;
        assert_eq!(c["level"], "b", "nothing changed");
        assert_eq!(s.manager.post("/api/v1/customers/batch-edit", &json!({ "customer_ids": mine, "level": "zz" })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);

        // Sharing many at once is all or nothing too.
        let (status, _) = s.manager.post("/api/v1/customers/share", &json!({ "customer_ids": with_foreign, "user_id": s.east_id, "level": "read" })).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, shares) = s.manager.get(&format!("/api/v1/customers/{}/shares", mine[0])).await?;
        assert_eq!(shares, json!([]), "nothing shared");
        let (status, r) = s.manager.post("/api/v1/customers/share", &json!({ "customer_ids": mine, "user_id": s.east_id, "level": "read" })).await?;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["updated"], 3);
        let (status, _) = s.east.get(&format!("/api/v1/customers/{}", mine[2])).await?;
        assert_eq!(status, StatusCode::OK, "shared to read");
        let (status, _) = s.manager.post("/api/v1/customers/share", &json!({ "customer_ids": [], "user_id": s.east_id, "level": "read" })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // `mine=true` lists the caller's own customers only.
        let (_, own) = s.manager.get("/api/v1/customers?mine=true").await?;
        let ids: Vec<i64> = own["items"].as_array().context("items")?.iter().filter_map(|c| c["id"].as_i64()).collect();
        assert_eq!(ids.len(), 3, "{own}");
        assert!(mine.iter().all(|id| ids.contains(id)), "{own}");
        Ok(())
    }

    async fn duplicates_are_found_and_merged(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let a = create(&admin, json!({ "name": "北京科技有限公司", "tax_id": "91110000ABC", "phones": [{ "number": "010-11112222" }], "tags": ["a"] })).await?;
        let b = create(&admin, json!({ "name": "北京科技", "level": "a", "phones": [{ "number": "13900001111" }, { "number": "(010) 1111 2222" }], "tags": ["b"] })).await?;
        let c = create(&admin, json!({ "name": "Totally Different", "tax_id": "91110000abc" })).await?;
        let d = create(&admin, json!({ "name": "Unrelated" })).await?;
        let (a_id, b_id, c_id) = (a["id"].as_i64().context("a")?, b["id"].as_i64().context("b")?, c["id"].as_i64().context("c")?);
        let (_, k) = admin.post(&format!("/api/v1/customers/{b_id}/contacts"), &json!({ "name": "联系人", "phones": [{ "number": "13700002222" }] })).await?;
        admin.post(&format!("/api/v1/customers/{c_id}/activities"), &json!({ "kind": "note", "occurred_at": "2026-10-01T00:00:00Z" })).await?;
        let (_, dups) = admin.get(&format!("/api/v1/customers/{a_id}/duplicates")).await?;
        let found: Vec<(i64, Vec<String>)> = dups.as_array().into_iter().flatten()
            .map(|d| (d["customer"]["id"].as_i64().unwrap_or(0), d["reasons"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(str::to_owned)).collect())).collect();
        assert_eq!(found, vec![(b_id, vec!["name".to_owned(), "phone".to_owned()]), (c_id, vec!["tax_id".to_owned()])]);
        let (_, probe) = admin.post("/api/v1/customers/duplicates", &json!({ "name": "北京科技股份有限公司", "phones": ["13700002222"] })).await?;
        let probe_ids: Vec<i64> = probe.as_array().into_iter().flatten().filter_map(|d| d["customer"]["id"].as_i64()).collect();
        assert_eq!(probe_ids, vec![a_id, b_id], "name key and a contact's phone both match");
        // Merge b and c into a.
        let (status, merged) = admin.post(&format!("/api/v1/customers/{a_id}/merge"), &json!({ "from_ids": [b_id, c_id] })).await?;
        assert_eq!(status, StatusCode::OK, "{merged}");
        assert_eq!(merged["level"], "a", "empty fields filled from the merged ones");
        assert_eq!(merged["tags"], json!(["a", "b"]));
        let canon: BTreeSet<&str> = merged["phones"].as_array().into_iter().flatten().filter_map(|p| p["canonical"].as_str()).collect();
        assert_eq!(canon, BTreeSet::from(["+861011112222", "+8613900001111"]), "phones united without doubles");
        assert_eq!(merged["last_followed_up_at"], "2026-10-01T00:00:00Z");
        for gone in [b_id, c_id] {
            assert_eq!(admin.get(&format!("/api/v1/customers/{gone}")).await?.0, StatusCode::NOT_FOUND);
        }
        let (_, contacts) = admin.get(&format!("/api/v1/customers/{a_id}/contacts")).await?;
        assert_eq!(contacts[0]["id"], k["id"], "contacts moved");
        let (_, found) = admin.get("/api/v1/customers/by-phone/13700002222").await?;
        assert_eq!(found["contacts"][0]["customer_id"], a_id);
        let (_, timeline) = admin.get(&format!("/api/v1/customers/{a_id}/activities")).await?;
        assert_eq!(timeline.as_array().map(Vec::len), Some(1));
        let (_, audit) = admin.get("/api/v1/audit-log?action=customer.merged").await?;
        assert_eq!(audit[0]["detail"]["merged"].as_array().map(Vec::len), Some(2), "the audit keeps the merged customers");
        assert_eq!(admin.post(&format!("/api/v1/customers/{a_id}/merge"), &json!({ "from_ids": [a_id] })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        let _ = d;
        Ok(())
    }

    async fn analysis_counts_only_what_the_user_may_read(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let (_, me) = s.north.get("/api/v1/me").await?;
        let north_id = me["id"].as_i64().context("north")?;
        let mut made = Vec::new();
        for (who, level) in [(&s.east, Some("a")), (&s.east, Some("a")), (&s.east, None), (&s.north, Some("b"))] {
            let mut body = json!({ "name": "分析客户" });
            if let Some(l) = level {
                body["level"] = json!(l);
            }
            made.push(create(who, body).await?["id"].as_i64().context("id")?);
        }
        // Creation times in Asia/Shanghai: Jan 15, Jan 31 23:30 (still January there), Feb 1 04:00, Mar 3.
        for (id, at) in made.iter().zip(["2026-01-15T02:00:00Z", "2026-01-31T15:30:00Z", "2026-01-31T20:00:00Z", "2026-03-03T01:00:00Z"]) {
            let ms = at.parse::<jiff_ts::Timestamp>().map(|t| t.as_millisecond())?;
            sqlx::query("UPDATE customers SET created_at = $1 WHERE id = $2").bind(ms).bind(id).execute(server.store().pool()).await?;
        }
        let slices = |client: &Client| {
            let client = client.clone();
            async move {
                let (status, body) = client.get("/api/v1/analysis/customers/composition?by=level").await?;
                anyhow::ensure!(status == StatusCode::OK, "{body}");
                Ok::<_, anyhow::Error>(body.as_array().into_iter().flatten().map(|x| (x["key"].as_str().map(str::to_owned), x["count"].as_i64().unwrap_or(0))).collect::<Vec<_>>())
            }
        };
        assert_eq!(slices(&s.manager).await?, vec![(Some("a".to_owned()), 2), (None, 1), (Some("b".to_owned()), 1)]);
        assert_eq!(slices(&s.east).await?, vec![(Some("a".to_owned()), 2), (None, 1)], "a salesperson sees their own");
        let (_, labelled) = s.manager.get("/api/v1/analysis/customers/composition?by=level").await?;
        assert_eq!(labelled[0]["label_zh"], "A 重点客户");
        let (_, by_owner) = s.manager.get("/api/v1/analysis/customers/composition?by=owner").await?;
        assert_eq!(by_owner[0]["label_en"], "east");
        let (status, series) = s.manager.get("/api/v1/analysis/customers/new?from=2026-01-01&to=2026-03-31&period=month").await?;
        assert_eq!(status, StatusCode::OK, "{series}");
        assert_eq!(series, json!([{ "period": "2026-01-01", "count": 2 }, { "period": "2026-02-01", "count": 1 }, { "period": "2026-03-01", "count": 1 }]));
        let (_, weeks) = s.manager.get("/api/v1/analysis/customers/new?from=2026-01-26&to=2026-02-08&period=week").await?;
        assert_eq!(weeks, json!([{ "period": "2026-01-26", "count": 2 }, { "period": "2026-02-02", "count": 0 }]));
        let (_, days) = s.east.get("/api/v1/analysis/customers/new?from=2026-01-31&to=2026-02-01&period=day").await?;
        assert_eq!(days, json!([{ "period": "2026-01-31", "count": 1 }, { "period": "2026-02-01", "count": 1 }]));
        // Call volume.
        for (who, id, kind, at) in [(&s.east, made[0], "call", "2026-02-02T01:00:00Z"), (&s.east, made[0], "visit", "2026-02-03T01:00:00Z"),
                                    (&s.east, made[1], "call", "2026-02-10T01:00:00Z"), (&s.north, made[3], "call", "2026-02-04T01:00:00Z")] {
            let (status, body) = who.post(&format!("/api/v1/customers/{id}/activities"), &json!({ "kind": kind, "occurred_at": at })).await?;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (_, volume) = s.manager.get("/api/v1/analysis/follow-ups?from=2026-02-01&to=2026-02-28&period=week").await?;
        assert_eq!(volume[0]["user_id"], s.east_id);
        assert_eq!(volume[0]["total"], 3);
        assert_eq!(volume[0]["by_kind"], json!({ "call": 2, "visit": 1 }));
        assert_eq!(volume[0]["points"][0], json!({ "period": "2026-01-26", "count": 0 }));
        assert_eq!(volume[0]["points"][1], json!({ "period": "2026-02-02", "count": 2 }));
        assert_eq!(volume[1]["user_id"], north_id);
        let (_, own) = s.north.get("/api/v1/analysis/follow-ups?from=2026-02-01&to=2026-02-28").await?;
        assert_eq!(own.as_array().map(Vec::len), Some(1), "north sees only follow-ups on what they may read");
        for bad in ["from=2026-02-30&to=2026-03-01", "from=2026-03-01&to=2026-02-01", "from=2020-01-01&to=2026-01-01", "from=2026-01-01&to=2026-02-01&period=year"] {
            let (status, _) = s.manager.get(&format!("/api/v1/analysis/customers/new?{bad}")).await?;
            assert!(status.is_client_error(), "{bad}: {status}");
        }
        assert_eq!(s.manager.get("/api/v1/analysis/customers/composition?by=shoe_size").await?.0, StatusCode::BAD_REQUEST);
        Ok(())
    }

    async fn saved_views_keep_filters_per_user(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let (status, view) = s.east.post("/api/v1/customer-views", &json!({ "name": "A 级客户", "query": "?level=a&sort=name" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["query"], "level=a&sort=name");
        assert_eq!(s.east.post("/api/v1/customer-views", &json!({ "name": "A 级客户", "query": "level=b" })).await?.0, StatusCode::CONFLICT);
        for bad in ["sort=shoe_size", "colour=red", "limit=abc", "cursor=xyz"] {
            let (status, body) = s.east.post("/api/v1/customer-views", &json!({ "name": bad, "query": bad })).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        }
        s.manager.post("/api/v1/customer-views", &json!({ "name": "团队待跟进", "query": "sort=next_follow_up", "shared": true })).await?;
        let (_, mine) = s.east.get("/api/v1/customer-views").await?;
        let names: Vec<&str> = mine.as_array().into_iter().flatten().filter_map(|v| v["name"].as_str()).collect();
        assert_eq!(names, ["A 级客户", "团队待跟进"]);
        let (_, theirs) = s.north.get("/api/v1/customer-views").await?;
        assert_eq!(theirs.as_array().map(Vec::len), Some(1), "private views stay private");
        assert_eq!(s.north.delete(&format!("/api/v1/customer-views/{}", view["id"])).await?.0, StatusCode::NOT_FOUND);
        assert_eq!(s.east.delete(&format!("/api/v1/customer-views/{}", view["id"])).await?.0, StatusCode::NO_CONTENT);
        Ok(())
    }

    async fn lists_and_labels_print_as_pdf_within_the_export_scope(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        create(&s.east, json!({ "name": "东区客户", "address": "上海市浦东新区世纪大道100号", "phones": [{ "number": "021-5555 6666" }] })).await?;
        create(&admin, json!({ "name": "总部客户" })).await?;
        let hex = |text: &str| text.encode_utf16().map(|u| format!("{u:04X}")).collect::<String>();
        let fetch = |client: &Client, path: &'static str| {
            let client = client.clone();
            async move {
                let resp = client.request(reqwest::Method::GET, path).send().await?;
                let status = resp.status();
                let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                Ok::<_, anyhow::Error>((status, kind, resp.bytes().await?.to_vec()))
            }
        };
        let (status, kind, pdf) = fetch(&s.manager, "/api/v1/customers/print/list?sort=name").await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(kind, "application/pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf).to_uppercase();
        assert!(text.contains(&hex("东区客户")), "the manager's department's customer is printed");
        assert!(!text.contains(&hex("总部客户")), "customers outside the export scope are not");
        assert!(text.contains(&hex("客户列表")), "headers in the user's language");
        let (status, _, labels) = fetch(&s.manager, "/api/v1/customers/print/labels").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&labels).to_uppercase().contains(&hex("世纪大道")));
        let (status, _, _) = fetch(&s.east, "/api/v1/customers/print/list").await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "salespeople have no export permission");
        Ok(())
    }

    async fn custom_fields_are_typed_required_and_unique(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        for field in [
            json!({ "key": "contract_no", "label_zh": "合同编号", "label_en": "Contract no.", "kind": "text", "unique": true }),
            json!({ "key": "employees", "label_zh": "员工人数", "label_en": "Employees", "kind": "number" }),
            json!({ "key": "founded", "label_zh": "成立日期", "label_en": "Founded", "kind": "date" }),
            json!({ "key": "size", "label_zh": "规模", "label_en": "Size", "kind": "option", "required": true,
                    "options": [{ "value": "small", "label_zh": "小", "label_en": "Small" }, { "value": "large", "label_zh": "大", "label_en": "Large" }] }),
            json!({ "key": "channels", "label_zh": "渠道", "label_en": "Channels", "kind": "multi_option",
                    "options": [{ "value": "online", "label_zh": "线上", "label_en": "Online" }, { "value": "shop", "label_zh": "门店", "label_en": "Shop" }] }),
            json!({ "key": "account_manager", "label_zh": "客户经理", "label_en": "Account manager", "kind": "user" }),
        ] {
            let (status, body) = admin.post("/api/v1/custom-fields", &field).await?;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        for (bad, field) in [
            (json!({ "key": "Bad Key", "label_zh": "x", "label_en": "x", "kind": "text" }), "key"),
            (json!({ "key": "opt", "label_zh": "x", "label_en": "x", "kind": "option" }), "options"),
            (json!({ "key": "multi", "label_zh": "x", "label_en": "x", "kind": "multi_option", "unique": true, "options": [{ "value": "a", "label_zh": "a", "label_en": "a" }] }), "unique"),
        ] {
            let (status, body) = admin.post("/api/v1/custom-fields", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field);
        }
        assert_eq!(admin.post("/api/v1/custom-fields", &json!({ "key": "size", "label_zh": "x", "label_en": "x", "kind": "text" })).await?.0, StatusCode::CONFLICT);
        let (_, me) = admin.get("/api/v1/me").await?;
        let (status, body) = admin.post("/api/v1/customers", &json!({ "name": "无规模" })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a required field is required: {body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("Size"));
        let (status, c) = admin.post("/api/v1/customers", &json!({ "name": "有字段", "custom": {
            "contract_no": " HT-2026-001 ", "employees": 120, "founded": "2008-08-08", "size": "large",
            "channels": ["online", "shop", "online"], "account_manager": me["id"] } })).await?;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        assert_eq!(c["custom"]["contract_no"], "HT-2026-001");
        assert_eq!(c["custom"]["channels"], json!(["online", "shop"]));
        let id = c["id"].as_i64().context("id")?;
        for (custom, why) in [
            (json!({ "employees": "many" }), "number"),
            (json!({ "founded": "08/08/2008" }), "date"),
            (json!({ "size": "huge" }), "one of"),
            (json!({ "channels": ["tv"] }), "options"),
            (json!({ "account_manager": 999_999 }), "no such user"),
            (json!({ "nope": 1 }), "no custom field"),
            (json!({ "size": null }), "required"),
        ] {
            let (status, body) = admin.patch(&format!("/api/v1/customers/{id}"), &json!({ "custom": custom })).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{custom}: {body}");
            assert!(body["error"]["message"].as_str().unwrap_or_default().contains(why), "{custom}: {body}");
        }
        // Unique, ignoring case and spaces; freed when changed.
        let (status, body) = admin.post("/api/v1/customers", &json!({ "name": "重复合同", "custom": { "size": "small", "contract_no": "ht-2026-001" } })).await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, _) = admin.patch(&format!("/api/v1/customers/{id}"), &json!({ "custom": { "contract_no": "HT-2026-002", "employees": null } })).await?;
        assert_eq!(status, StatusCode::OK);
        let (_, after) = admin.get(&format!("/api/v1/customers/{id}")).await?;
        assert!(after["custom"].get("employees").is_none(), "null removes a value");
        assert_eq!(after["custom"]["founded"], "2008-08-08", "keys not named stay");
        let (status, _) = admin.post("/api/v1/customers", &json!({ "name": "新合同", "custom": { "size": "small", "contract_no": "HT-2026-001" } })).await?;
        assert_eq!(status, StatusCode::CREATED, "the old value is free again");
        // Making a field unique over existing duplicates is refused.
        let (_, fields) = admin.get("/api/v1/custom-fields").await?;
        let founded = fields.as_array().and_then(|f| f.iter().find(|x| x["key"] == "founded")).and_then(|x| x["id"].as_i64()).context("founded")?;
        admin.post("/api/v1/customers", &json!({ "name": "同日成立", "custom": { "size": "small", "founded": "2008-08-08" } })).await?;
        assert_eq!(admin.patch(&format!("/api/v1/custom-fields/{founded}"), &json!({ "unique": true })).await?.0, StatusCode::CONFLICT);
        // Retiring a required field lifts the requirement.
        let size = fields.as_array().and_then(|f| f.iter().find(|x| x["key"] == "size")).and_then(|x| x["id"].as_i64()).context("size")?;
        assert_eq!(admin.patch(&format!("/api/v1/custom-fields/{size}"), &json!({ "active": false })).await?.0, StatusCode::OK);
        assert_eq!(admin.post("/api/v1/customers", &json!({ "name": "无规模也行" })).await?.0, StatusCode::CREATED);
        Ok(())
    }

    async fn no_customer_endpoint_reaches_past_scope_or_organisation(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let theirs = create(&s.north, json!({ "name": "北区独有客户", "tax_id": "NORTH-ONLY", "phones": [{ "number": "029-8888 7777" }] })).await?;
        let id = theirs["id"].as_i64().context("id")?;
        let (_, contact) = s.north.post(&format!("/api/v1/customers/{id}/contacts"), &json!({ "name": "北区联系人" })).await?;
        let contact_id = contact["id"].as_i64().context("contact")?;
        let mine = create(&s.east, json!({ "name": "东区客户" })).await?["id"].as_i64().context("mine")?;
        tessera_host::org::create(server.store(), &server.state.hasher, &tessera_host::org::NewOrg {
            slug: "rival".into(), name: "Rival".into(), time_zone: "Asia/Shanghai".into(), admin_password: "rival admin passphrase".into(),
        }).await?;
        let rival = server.anonymous();
        let (_, signed) = rival.post("/api/v1/auth/sign-in", &json!({ "org": "rival", "username": "admin", "password": "rival admin passphrase" })).await?;
        let rival = rival.with_csrf(signed["csrf_token"].as_str().context("csrf")?.to_owned());
        let (_, rival_customer) = rival.post("/api/v1/customers", &json!({ "name": "Rival's own" })).await?;
        let (_, me) = s.east.get("/api/v1/me").await?;
        let east_user = me["id"].as_i64().context("east")?;
        let requests: Vec<(&str, String, Value)> = vec![
            ("GET", format!("/api/v1/customers/{id}"), json!(null)),
            ("PATCH", format!("/api/v1/customers/{id}"), json!({ "name": "taken" })),
            ("DELETE", format!("/api/v1/customers/{id}"), json!(null)),
            ("GET", format!("/api/v1/customers/{id}/contacts"), json!(null)),
            ("POST", format!("/api/v1/customers/{id}/contacts"), json!({ "name": "spy" })),
            ("PATCH", format!("/api/v1/contacts/{contact_id}"), json!({ "name": "taken" })),
            ("DELETE", format!("/api/v1/contacts/{contact_id}"), json!(null)),
            ("GET", format!("/api/v1/customers/{id}/activities"), json!(null)),
            ("POST", format!("/api/v1/customers/{id}/activities"), json!({ "kind": "note" })),
            ("GET", format!("/api/v1/customers/{id}/shares"), json!(null)),
            ("POST", format!("/api/v1/customers/{id}/shares"), json!({ "user_id": east_user, "level": "edit" })),
            ("GET", format!("/api/v1/customers/{id}/transfers"), json!(null)),
            ("GET", format!("/api/v1/customers/{id}/duplicates"), json!(null)),
            ("POST", format!("/api/v1/customers/{id}/merge"), json!({ "from_ids": [mine] })),
            ("POST", format!("/api/v1/customers/{mine}/merge"), json!({ "from_ids": [id] })),
            ("POST", "/api/v1/customers/transfer".to_owned(), json!({ "customer_ids": [id], "to_user_id": east_user, "reason": "grab" })),
            ("POST", "/api/v1/customers/batch-edit".to_owned(), json!({ "customer_ids": [id], "level": "a" })),
        ];
        for (who, client) in [("a colleague in a sibling department", &s.east), ("another organisation's administrator", &rival)] {
            for (method, path, body) in &requests {
                let mut req = client.request(reqwest::Method::from_bytes(method.as_bytes())?, path);
                if !body.is_null() {
                    req = req.json(body);
                }
                let (status, answer) = client.send(req).await?;
                assert!(
                    [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN, StatusCode::UNPROCESSABLE_ENTITY].contains(&status),
                    "{who}: {method} {path} gave {status} {answer}"
                );
                assert!(!answer.to_string().contains("北区独有客户"), "{who}: {method} {path} leaked the customer");
            }
            let (_, list) = client.get("/api/v1/customers?q=北区").await?;
            assert_eq!(ids(&list), Vec::<i64>::new(), "{who}: search");
            let (_, found) = client.get("/api/v1/customers/by-phone/02988887777").await?;
            assert_eq!(found["customers"], json!([]), "{who}: by-phone");
            let (_, dups) = client.post("/api/v1/customers/duplicates", &json!({ "tax_id": "NORTH-ONLY", "name": "北区独有客户" })).await?;
            assert_eq!(dups, json!([]), "{who}: duplicate probe");
            let (_, composition) = client.get("/api/v1/analysis/customers/composition?by=level").await?;
            let counted: i64 = composition.as_array().into_iter().flatten().filter_map(|x| x["count"].as_i64()).sum();
            assert!(counted <= 1, "{who}: analysis counts only their own ({composition})");
        }
        // The rival's export holds their own customer only; east may not export at all.
        let csv = rival.request(reqwest::Method::GET, "/api/v1/customers/export/csv").send().await?.text().await?;
        assert!(csv.contains("Rival's own") && !csv.contains("北区独有客户"));
        assert_eq!(s.east.get("/api/v1/customers/export/csv").await?.0, StatusCode::FORBIDDEN);
        assert_eq!(s.east.get("/api/v1/customers/print/list").await?.0, StatusCode::FORBIDDEN);
        // And nothing changed.
        let (_, still) = s.north.get(&format!("/api/v1/customers/{id}")).await?;
        assert_eq!(still["name"], "北区独有客户");
        assert_eq!(still["version"], 1);
        assert_eq!(s.east.get(&format!("/api/v1/customers/{}", rival_customer["id"])).await?.0, StatusCode::NOT_FOUND);
        Ok(())
    }

    async fn contacts_list_across_customers_and_groups_form_a_tree(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let s = sales(&server, &admin).await?;
        let hq = create(&s.east, json!({ "name": "华东集团" })).await?;
        let sub = create(&s.east, json!({ "name": "华东集团上海分公司", "parent_id": hq["id"] })).await?;
        let subsub = create(&s.east, json!({ "name": "华东集团浦东办事处", "parent_id": sub["id"] })).await?;
        let hidden = create(&s.north, json!({ "name": "北区子公司", "parent_id": hq["id"] })).await?;
        let (status, tree) = s.east.get(&format!("/api/v1/customers/{}/group", subsub["id"])).await?;
        assert_eq!(status, StatusCode::OK, "{tree}");
        assert_eq!(tree["id"], hq["id"], "the tree starts at the top company");
        assert_eq!(tree["children"].as_array().map(Vec::len), Some(1), "a company out of reach hides its branch: {tree}");
        assert_eq!(tree["children"][0]["children"][0]["id"], subsub["id"]);
        let (_, managers) = s.manager.get(&format!("/api/v1/customers/{}/group", hq["id"])).await?;
        assert_eq!(managers["children"].as_array().map(Vec::len), Some(2));
        let _ = hidden;
        for (customer, name, birthday, phone, email) in [(&hq, "王总", "1970-03-15", "13911112222", "Wang.Zong@HuaDong.example"), (&sub, "李经理", "1985-07-01", "13933334444", "li@huadong.example")] {
            s.east.post(&format!("/api/v1/customers/{}/contacts", customer["id"]), &json!({ "name": name, "birthday": birthday, "title": "总经理", "phones": [{ "number": phone }], "email": email })).await?;
        }
        s.north.post(&format!("/api/v1/customers/{}/contacts", hidden["id"]), &json!({ "name": "王北区", "birthday": "1980-03-02", "email": "wang@north.example" })).await?;
        let names = |v: &Value| -> Vec<String> { v.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect() };
        let (_, all) = s.east.get("/api/v1/contacts").await?;
        assert_eq!(names(&all), ["王总", "李经理"], "only contacts of customers east may read");
        let (_, wang) = s.east.get("/api/v1/contacts?q=wang").await?;
        assert_eq!(names(&wang), ["王总"], "pinyin finds contacts");
        let (_, by_phone) = s.east.get("/api/v1/contacts?q=33334444").await?;
        assert_eq!(names(&by_phone), ["李经理"]);
        let (_, by_email) = s.east.get("/api/v1/contacts?q=wang.zong%40huadong.example").await?;
        assert_eq!(names(&by_email), ["王总"], "a whole email address, in any case");
        let (_, out_of_reach) = s.east.get("/api/v1/contacts?q=wang%40north.example").await?;
        assert_eq!(names(&out_of_reach), Vec::<String>::new(), "an address does not reach past the scope");
        let (_, march) = s.manager.get("/api/v1/contacts?birthday_month=3").await?;
        assert_eq!(names(&march), ["王总", "王北区"], "birthdays this month, for greetings");
        assert_eq!(s.east.get("/api/v1/contacts?birthday_month=13").await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        Ok(())
    }

    async fn the_search_index_follows_renames_deletions_and_merges(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let find = |q: &'static str| {
            let admin = admin.clone();
            async move { Ok::<_, anyhow::Error>(ids(&admin.get(&format!("/api/v1/customers?q={}", urlencode(q))).await?.1)) }
        };
        let a = create(&admin, json!({ "name": "旧名称贸易有限公司", "phones": [{ "number": "0755-2345 6789" }] })).await?;
        let a_id = a["id"].as_i64().context("a")?;
        assert_eq!(find("旧名称贸易").await?, vec![a_id]);
        admin.patch(&format!("/api/v1/customers/{a_id}"), &json!({ "name": "新名称科技有限公司" })).await?;
        assert!(find("旧名称贸易").await?.is_empty(), "the old name is gone from the index");
        assert_eq!(find("新名称科技").await?, vec![a_id]);
        assert_eq!(find("xmckj").await?, vec![a_id], "pinyin initials of the new name");
        assert_eq!(find("23456789").await?, vec![a_id], "phone suffix");
        assert_eq!(find("0755-23456789").await?, vec![a_id], "whole number in another format");
        assert!(find("0755-2345").await?.is_empty(), "a number's beginning is not its end");
        let b = create(&admin, json!({ "name": "被合并公司" })).await?;
        let (_, k) = admin.post(&format!("/api/v1/customers/{}/contacts", b["id"]), &json!({ "name": "欧阳娜娜" })).await?;
        assert!(k["id"].is_i64());
        assert_eq!(find("欧阳娜").await?, vec![b["id"].as_i64().context("b")?]);
        admin.post(&format!("/api/v1/customers/{a_id}/merge"), &json!({ "from_ids": [b["id"]] })).await?;
        assert_eq!(find("欧阳娜").await?, vec![a_id], "contacts moved by a merge are found on the target");
        assert!(find("被合并").await?.is_empty());
        admin.delete(&format!("/api/v1/customers/{a_id}")).await?;
        assert!(find("新名称科技").await?.is_empty());
        assert!(find("欧阳娜").await?.is_empty());
        Ok(())
    }

    async fn demo_data_loads_consistently_in_bulk(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let made = tessera_host::demo::seed_customers(&server.state, server.org_id, 2_500, 7).await?;
        assert_eq!(made, 2_500);
        let pool = server.store().pool();
        let count = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await };
        let contacts = count("SELECT COUNT(*) FROM contacts").await?;
        let activities = count("SELECT COUNT(*) FROM activities").await?;
        assert!((6_000..=9_000).contains(&contacts), "about three contacts each: {contacts}");
        assert!((10_000..=15_000).contains(&activities), "about five follow-ups each: {activities}");
        let inconsistent = count(
            "SELECT COUNT(*) FROM customers c WHERE COALESCE(c.last_followed_up_at, -1) <> \
             COALESCE((SELECT MAX(a.occurred_at) FROM activities a WHERE a.customer_id = c.id), -1)",
        )
        .await?;
        assert_eq!(inconsistent, 0, "last follow-up dates match the timeline");
        let codes = count("SELECT COUNT(DISTINCT code) FROM customers").await?;
        assert_eq!(codes, 2_500);
        // New rows after a bulk load get fresh ids and codes, and everything is searchable.
        let c = create(&admin, json!({ "name": "批量之后" })).await?;
        assert!(c["id"].as_i64().unwrap_or(0) > 2_500);
        assert!(c["code"].as_str().unwrap_or_default().ends_with("02501"), "{c}");
        let phone: String = sqlx::query_scalar("SELECT raw FROM phones WHERE contact_id IS NOT NULL ORDER BY id LIMIT 1").fetch_one(pool).await?;
        let (_, found) = admin.get(&format!("/api/v1/customers?q={phone}")).await?;
        assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{phone}: {found}");
        let name: String = sqlx::query_scalar("SELECT name FROM customers WHERE name LIKE '%有限公司' ORDER BY id LIMIT 1").fetch_one(pool).await?;
        let (_, found) = admin.get(&format!("/api/v1/customers?q={}", urlencode(&name))).await?;
        assert!(!ids(&found).is_empty(), "{name}");
        Ok(())
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
