//! The web CRM over a real socket on both backends, as a browser without JavaScript uses it:
//! signing in through the form, pages in the user's language, forms guarded by CSRF tokens,
//! a salesperson's own customers only, escaped output, bulk transfer, and the menu and panels
//! of a plugin appearing when it is enabled and going when it is disabled.

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::json;
use tessera_tests::pages::Browser;
use tessera_tests::{ADMIN_PASSWORD, TestServer, USER_PASSWORD, both_backends};

#[path = "web/admin_integrations.rs"]
mod admin_integrations;
#[path = "web/admin_org.rs"]
mod admin_org;
#[path = "web/contacts_and_import.rs"]
mod contacts_and_import;

async fn add_salesperson(server: &TestServer, name: &str, locale: &str) -> Result<i64> {
    let admin = server.admin().await?;
    let role = server.role_id(&admin, "Salesperson").await?;
    let id = server.add_user(&admin, name, None, &[role]).await?;
    let (status, body) = admin.patch(&format!("/api/v1/users/{id}"), &json!({ "locale": locale })).await?;
    ensure!(status == StatusCode::OK, "locale: {status} {body}");
    Ok(id)
}

both_backends! {
    async fn sign_in_is_a_form_with_its_own_token_and_pages_carry_a_strict_policy(backend) {
        let server = TestServer::start(backend).await?;
        let browser = Browser::new(&server, "en-GB,en;q=0.9")?;

        let home = browser.get("/").await?;
        assert_eq!(home.status, StatusCode::SEE_OTHER);
        assert_eq!(home.location.as_deref(), Some("/sign-in"));
        let deep = browser.get("/customers?q=abc").await?;
        assert_eq!(deep.location.as_deref(), Some("/sign-in?next=%2Fcustomers%3Fq%3Dabc"));

        let form = browser.get("/sign-in").await?;
        assert!(form.html.contains("<html lang=\"en\">") && form.html.contains(">Sign in<"), "{}", form.html);
        let csp = form.csp.clone().context("no CSP on the sign-in page")?;
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(!form.html.contains("<script>") && !form.html.contains(" style="), "inline script or style");

        // A sign-in posted from elsewhere (no token cookie) is refused.
        let stranger = Browser::new(&server, "en")?;
        let forged = stranger
            .post("/sign-in", &[("_token", "guess"), ("username", "admin"), ("password", ADMIN_PASSWORD)])
            .await?;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);

        let token = form.hidden("_token")?;
        let wrong = browser.post("/sign-in", &[("_token", &token), ("username", "admin"), ("password", "nope")]).await?;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.html.contains("Wrong organisation, user name or password."), "{}", wrong.html);
        assert!(wrong.html.contains("value=\"admin\""), "the user name is kept");

        let token = wrong.hidden("_token")?;
        let next = "/customers?q=abc";
        let ok = browser
            .post("/sign-in", &[("_token", &token), ("username", "admin"), ("password", ADMIN_PASSWORD), ("next", next)])
            .await?;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
        assert_eq!(ok.location.as_deref(), Some(next));
        // Somewhere outside the CRM is never a place sign-in sends the browser.
        let other = Browser::new(&server, "en")?;
        let form = other.get("/sign-in?next=https://evil.example/").await?;
        assert!(form.html.contains("name=\"next\" value=\"/\""), "{}", form.html);

        let unknown = browser.get("/no/such/page").await?;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(unknown.html.contains("This page does not exist") && unknown.csp.is_some());
        let api = browser.http.get(server.url("/api/v1/no-such-thing")).send().await?;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert!(api.text().await?.contains("\"not_found\""));
        server.stop().await;
        Ok(())
    }

    async fn a_salesperson_creates_follows_up_and_finds_own_customers_only(backend) {
        let server = TestServer::start(backend).await?;
        add_salesperson(&server, "zhang", "zh-CN").await?;
        add_salesperson(&server, "li", "en").await?;
        let zhang = Browser::new(&server, "en")?;
        let home = zhang.sign_in("zhang", USER_PASSWORD).await?;
        // The user's preference wins over the browser's Accept-Language.
        assert!(home.html.contains("<html lang=\"zh-CN\">") && home.html.contains("我的待跟进"), "{}", home.html);

        // A form without the session's token is refused and changes nothing.
        let refused = zhang.post("/customers", &[("name", "北京科技有限公司")]).await?;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.html.contains("表单已过期"), "{}", refused.html);

        let form = zhang.get("/customers/new").await?;
        let csrf = form.csrf()?;
        let empty = zhang.post("/customers", &[("_csrf", &csrf), ("name", " "), ("phone", "138 0013 8000")]).await?;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.html.contains("aria-invalid=\"true\"") && empty.html.contains("138 0013 8000"), "{}", empty.html);

        let made = zhang
            .post("/customers", &[("_csrf", &csrf), ("name", "北京科技有限公司"), ("kind", "company"),
                                  ("phone", "138 0013 8000"), ("tags", "重点，VIP")])
            .await?;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let link = made.location.context("redirect")?;
        assert!(link.starts_with("/customers/") && link.ends_with("?notice=customers.created"), "{link}");
        let page = zhang.get(&link).await?;
        assert!(page.html.contains("客户已创建。") && page.html.contains("北京科技有限公司"), "{}", page.html);
        assert!(page.html.contains("重点, VIP") && page.html.contains("138 0013 8000"));
        let id = link.trim_start_matches("/customers/").split('?').next().context("id")?.to_owned();

        // A follow-up with a date that is not one keeps what was typed and says what is wrong.
        let bad = zhang
            .post(&format!("/customers/{id}/follow-ups"), &[("_csrf", &csrf), ("kind", "visit"),
                  ("subject", "上门拜访"), ("next", "next tuesday")])
            .await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("next tuesday") && bad.html.contains("上门拜访"), "{}", bad.html);
        assert!(bad.html.contains("不是有效日期（格式如 2026-12-24）") && !bad.html.contains("is not a date"), "{}", bad.html);
        let good = zhang
            .post(&format!("/customers/{id}/follow-ups"), &[("_csrf", &csrf), ("kind", "visit"),
                  ("subject", "上门拜访"), ("content", "谈了报价"), ("next", "2030-01-15")])
            .await?;
        assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.html);
        let page = zhang.get(good.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("跟进已记录。") && page.html.contains("谈了报价"), "{}", page.html);
        assert!(page.html.contains("2030年1月15日"), "the next follow-up in Chinese date form");

        // Pinyin initials find it; the list links to it.
        let found = zhang.get("/customers?q=bjkj").await?;
        assert!(found.html.contains(&format!("href=\"/customers/{id}\"")), "{}", found.html);

        // Another salesperson neither lists nor opens it, and sees English.
        let li = Browser::new(&server, "zh-CN")?;
        li.sign_in("li", USER_PASSWORD).await?;
        let list = li.get("/customers").await?;
        assert!(list.html.contains("<html lang=\"en\">") && list.html.contains("No customer matches."), "{}", list.html);
        assert!(!list.html.contains("北京科技有限公司"));
        let hidden = li.get(&format!("/customers/{id}")).await?;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert!(hidden.html.contains("This page does not exist"));
        let li_csrf = li.get("/customers/new").await?.csrf()?;
        // The domain's rule speaks the reader's language: English for Li, Chinese for Zhang.
        let many: Vec<String> = (0..51).map(|n| format!("t{n}")).collect();
        let tags = many.join(",");
        let tagged = li.post("/customers", &[("_csrf", &li_csrf), ("name", "Acme"), ("tags", &tags)]).await?;
        assert_eq!(tagged.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(tagged.html.contains("at most 50 tags"), "{}", tagged.html);
        let tagged = zhang.post("/customers", &[("_csrf", &csrf), ("name", "华信"), ("tags", &tags)]).await?;
        assert_eq!(tagged.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(tagged.html.contains("最多 50 个标签") && !tagged.html.contains("at most 50 tags"), "{}", tagged.html);

        // The language switch stores the preference and returns to the page.
        let switched = zhang.post("/profile/language", &[("_csrf", &csrf), ("lang", "en"), ("back", "/customers")]).await?;
        assert_eq!(switched.location.as_deref(), Some("/customers"));
        let list = zhang.get("/customers").await?;
        assert!(list.html.contains("<html lang=\"en\">") && list.html.contains("Next follow-up"), "{}", list.html);

        // Signing out ends the session: its cookie no longer opens pages.
        let out = zhang.post("/sign-out", &[("_csrf", &csrf)]).await?;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(zhang.get("/customers").await?.status, StatusCode::SEE_OTHER);
        server.stop().await;
        Ok(())
    }

    async fn whatever_users_type_is_shown_as_text(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
        let (status, made) = admin.post("/api/v1/customers", &json!({ "name": evil, "notes": "\"><svg onload=alert(3)>" })).await?;
        ensure!(status == StatusCode::CREATED, "{made}");
        let browser = Browser::new(&server, "en")?;
        browser.sign_in("admin", ADMIN_PASSWORD).await?;
        for path in ["/customers".to_owned(), format!("/customers/{}", made["id"])] {
            let page = browser.get(&path).await?;
            assert_eq!(page.status, StatusCode::OK);
            assert!(!page.html.contains("<script>alert") && !page.html.contains("<img src=x") && !page.html.contains("<svg onload"),
                    "unescaped on {path}: {}", page.html);
            assert!(page.html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{path}: {}", page.html);
        }
        server.stop().await;
        Ok(())
    }

    async fn a_manager_transfers_the_customers_of_someone_who_left(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let manager_role = server.role_id(&admin, "Sales manager").await?;
        let (_, dept) = admin.post("/api/v1/departments", &json!({ "name": "Sales" })).await?;
        let dept_id = dept["id"].as_i64();
        let boss_id = server.add_user(&admin, "boss", dept_id, &[manager_role]).await?;
        let (status, body) = admin.patch(&format!("/api/v1/users/{boss_id}"), &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let sales_role = server.role_id(&admin, "Salesperson").await?;
        let leaver = server.add_user(&admin, "leaver", dept_id, &[sales_role]).await?;
        let stayer = server.add_user(&admin, "stayer", dept_id, &[sales_role]).await?;
        let mut ids = Vec::new();
        for name in ["离职客户一", "离职客户二"] {
            let (status, c) = admin.post("/api/v1/customers", &json!({ "name": name, "owner_id": leaver })).await?;
            ensure!(status == StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().context("id")?.to_string());
        }
        let boss = Browser::new(&server, "en")?;
        boss.sign_in("boss", USER_PASSWORD).await?;
        let list = boss.get("/customers").await?;
        assert!(list.html.contains("离职客户一") && list.html.contains("Transfer to"), "{}", list.html);
        let csrf = list.csrf()?;
        let stayer_id = stayer.to_string();
        // No reason: refused with the reason, nothing moves.
        let refused = boss
            .post("/customers/transfer", &[("_csrf", &csrf), ("ids", &ids[0]), ("ids", &ids[1]),
                  ("to_user_id", &stayer_id), ("reason", ""), ("back", "/customers")])
            .await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.html.contains("give a reason"), "{}", refused.html);
        let done = boss
            .post("/customers/transfer", &[("_csrf", &csrf), ("ids", &ids[0]), ("ids", &ids[1]),
                  ("to_user_id", &stayer_id), ("reason", "离职交接"), ("back", "/customers")])
            .await?;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let page = boss.get(done.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Customers transferred."), "{}", page.html);
        for id in &ids {
            let (_, c) = admin.get(&format!("/api/v1/customers/{id}")).await?;
            assert_eq!(c["owner_id"].as_i64(), Some(stayer), "{c}");
        }

        // A request waits for the manager, who approves it from the approvals inbox.
        let (status, def) = admin
            .post("/api/v1/workflow/definitions", &json!({ "name": "Discount", "subject_type": "discount",
                  "steps": [{ "name": "Manager", "approvers": [{ "kind": "user", "user_id": boss_id }] }] }))
            .await?;
        ensure!(status == StatusCode::CREATED, "{def}");
        let stayer_api = server.sign_in("stayer", USER_PASSWORD).await?;
        let (status, request) = stayer_api
            .post("/api/v1/approvals", &json!({ "definition_id": def["id"], "subject_id": 1,
                  "title": "八折优惠 for 离职客户一", "fields": { "discount": "20%" } }))
            .await?;
        ensure!(status == StatusCode::CREATED, "{request}");
        let home = boss.get("/").await?;
        let link = format!("/approvals/{}", request["id"]);
        assert!(home.html.contains(&format!("href=\"{link}\"")), "{}", home.html);
        let inbox = boss.get("/approvals").await?;
        assert!(inbox.html.contains("八折优惠 for 离职客户一") && inbox.html.contains("stayer"), "{}", inbox.html);
        let detail = boss.get(&link).await?;
        assert!(detail.html.contains("20%") && detail.html.contains("Approve"), "{}", detail.html);
        // The submitter may look but not decide.
        let submitter = Browser::new(&server, "en")?;
        submitter.sign_in("stayer", USER_PASSWORD).await?;
        let theirs = submitter.get(&link).await?;
        assert_eq!(theirs.status, StatusCode::OK);
        assert!(!theirs.html.contains("/approve\""), "{}", theirs.html);
        let approved = boss.post(&format!("{link}/approve"), &[("_csrf", &csrf), ("comment", "同意，下不为例")]).await?;
        assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.html);
        let detail = boss.get(approved.location.as_deref().context("redirect")?).await?;
        assert!(detail.html.contains("Approved.") && detail.html.contains("同意，下不为例"), "{}", detail.html);
        let (_, a) = stayer_api.get(&link.replace("/approvals", "/api/v1/approvals")).await?;
        assert_eq!(a["state"], "approved", "{a}");
        // Deciding again is refused in words, not with a server error.
        let again = boss.post(&format!("{link}/reject"), &[("_csrf", &csrf)]).await?;
        assert!(again.status.is_client_error(), "{} {}", again.status, again.html);
        server.stop().await;
        Ok(())
    }

    async fn the_list_keeps_views_and_columns_and_edits_and_shares_in_bulk(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let manager_role = server.role_id(&admin, "Sales manager").await?;
        let sales_role = server.role_id(&admin, "Salesperson").await?;
        let (_, dept) = admin.post("/api/v1/departments", &json!({ "name": "East" })).await?;
        let dept_id = dept["id"].as_i64();
        let boss_id = server.add_user(&admin, "boss", dept_id, &[manager_role]).await?;
        let (status, body) = admin.patch(&format!("/api/v1/users/{boss_id}"), &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let seller = server.add_user(&admin, "seller", dept_id, &[sales_role]).await?;
        let helper = server.add_user(&admin, "helper", dept_id, &[sales_role]).await?;
        let mut ids = Vec::new();
        for (name, level) in [("甲级客户一", "a"), ("甲级客户二", "a"), ("乙级客户", "b")] {
            let (status, c) = admin
                .post("/api/v1/customers", &json!({ "name": name, "level": level, "industry": "trade", "owner_id": seller }))
                .await?;
            ensure!(status == StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().context("id")?.to_string());
        }
        let boss = Browser::new(&server, "en")?;
        boss.sign_in("boss", USER_PASSWORD).await?;

        // A filtered list saved as a view shared with everyone comes back by its link.
        let backwards = boss.get("/customers?sort=name&desc=false").await?;
        assert!(backwards.html.contains("<option value=\"false\" selected>Ascending</option>"), "{}", backwards.html);
        let filtered = boss.get("/customers?level=a&sort=name").await?;
        assert!(filtered.html.contains("甲级客户一") && !filtered.html.contains("乙级客户"), "{}", filtered.html);
        let csrf = filtered.csrf()?;
        let query = filtered.hidden("query")?;
        assert!(query.contains("level=a") && query.contains("sort=name"), "{query}");
        let saved = boss
            .post("/customers/views", &[("_csrf", &csrf), ("name", "Key accounts"), ("query", "level=a&#38;sort=name"),
                  ("shared", "1")])
            .await?;
        // The form's value is HTML-escaped on the page; a browser posts it unescaped.
        assert_eq!(saved.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", saved.html);
        let saved = boss
            .post("/customers/views", &[("_csrf", &csrf), ("name", "Key accounts"), ("query", &query.replace("&#38;", "&")),
                  ("shared", "1")])
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let link = saved.location.context("redirect")?;
        let view = boss.get(&link).await?;
        assert!(view.html.contains("View saved.") && view.html.contains("aria-current=\"page\">Key accounts<"), "{}", view.html);
        assert!(view.html.contains("甲级客户二") && !view.html.contains("乙级客户"), "{}", view.html);
        let again = boss
            .post("/customers/views", &[("_csrf", &csrf), ("name", "Key accounts"), ("query", "level=b")])
            .await?;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.html);
        assert!(again.html.contains("already have a view named"), "{}", again.html);
        // A colleague sees the shared view (and, through it, only what they may see).
        let colleague = Browser::new(&server, "en")?;
        colleague.sign_in("helper", USER_PASSWORD).await?;
        let theirs = colleague.get("/customers").await?;
        assert!(theirs.html.contains("Key accounts") && !theirs.html.contains("甲级客户一"), "{}", theirs.html);

        // The column chooser keeps its choice in this browser.
        let chosen = boss
            .post("/customers/columns", &[("_csrf", &csrf), ("columns", "industry"), ("columns", "tags"),
                  ("columns", "owner"), ("back", "/customers")])
            .await?;
        assert_eq!(chosen.status, StatusCode::SEE_OTHER);
        let list = boss.get("/customers").await?;
        assert!(list.html.contains("<th scope=\"col\">Industry</th>") && list.html.contains(">Trade</td>"), "{}", list.html);
        assert!(!list.html.contains("<th scope=\"col\" class=\"wide\">Last follow-up</th>"), "{}", list.html);

        // Bulk edit: nothing chosen is refused in words; a level and a tag change every selected one.
        let nothing = boss
            .post("/customers/batch-edit", &[("_csrf", &csrf), ("ids", &ids[0]), ("back", "/customers")])
            .await?;
        assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(nothing.html.contains("Choose at least one change."), "{}", nothing.html);
        let edited = boss
            .post("/customers/batch-edit", &[("_csrf", &csrf), ("ids", &ids[0]), ("ids", &ids[2]), ("set_level", "c"),
                  ("add_tags", "展会, 回访"), ("back", "/customers")])
            .await?;
        assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.html);
        let page = boss.get(edited.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Customers changed.") && page.html.contains("展会, 回访"), "{}", page.html);
        for id in [&ids[0], &ids[2]] {
            let (_, c) = admin.get(&format!("/api/v1/customers/{id}")).await?;
            assert_eq!(c["level"], "c", "{c}");
            assert_eq!(c["tags"], json!(["展会", "回访"]), "{c}");
        }

        // Bulk share: the colleague may now read both.
        let no_one = boss
            .post("/customers/share", &[("_csrf", &csrf), ("ids", &ids[0]), ("back", "/customers")])
            .await?;
        assert_eq!(no_one.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(no_one.html.contains("Choose a colleague."), "{}", no_one.html);
        let helper_id = helper.to_string();
        let shared = boss
            .post("/customers/share", &[("_csrf", &csrf), ("ids", &ids[0]), ("ids", &ids[1]),
                  ("share_user_id", &helper_id), ("share_level", "read"), ("back", "/customers")])
            .await?;
        assert_eq!(shared.status, StatusCode::SEE_OTHER, "{}", shared.html);
        let theirs = colleague.get("/customers").await?;
        assert!(theirs.html.contains("甲级客户一") && theirs.html.contains("甲级客户二"), "{}", theirs.html);
        assert!(!theirs.html.contains("乙级客户"), "{}", theirs.html);

        // Views are deleted by their owner.
        let view_id = link.trim_start_matches("/customers?view=").split('&').next().context("view id")?.to_owned();
        let gone = boss.post(&format!("/customers/views/{view_id}/delete"), &[("_csrf", &csrf)]).await?;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        let stale = boss.get(&format!("/customers?view={view_id}")).await?;
        assert_eq!(stale.status, StatusCode::NOT_FOUND);
        server.stop().await;
        Ok(())
    }

    async fn custom_fields_are_filled_in_on_the_customer_forms_and_shown_on_the_card(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        for field in [
            json!({ "key": "scale", "label_zh": "规模", "label_en": "Staff", "kind": "number" }),
            json!({ "key": "channel", "label_zh": "渠道", "label_en": "Channel", "kind": "multi_option", "options": [
                { "value": "online", "label_zh": "线上", "label_en": "Online" },
                { "value": "store", "label_zh": "门店", "label_en": "Store" }] }),
            json!({ "key": "signed_on", "label_zh": "签约日", "label_en": "Signed on", "kind": "date" }),
        ] {
            let (status, body) = admin_api.post("/api/v1/custom-fields", &field).await?;
            ensure!(status == StatusCode::CREATED, "{body}");
        }
        add_salesperson(&server, "zhang", "en").await?;
        let zhang = Browser::new(&server, "en")?;
        zhang.sign_in("zhang", USER_PASSWORD).await?;
        let form = zhang.get("/customers/new").await?;
        assert!(form.html.contains("<label for=\"custom-scale\">Staff</label>") && form.html.contains("> Online</label>"), "{}", form.html);
        let csrf = form.csrf()?;
        let wrong = zhang
            .post("/customers", &[("_csrf", &csrf), ("name", "杭州贸易"), ("custom.scale", "lots"), ("custom.channel", "store")])
            .await?;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.html.contains("Staff: not a number") && wrong.html.contains("value=\"lots\""), "{}", wrong.html);
        let made = zhang
            .post("/customers", &[("_csrf", &csrf), ("name", "杭州贸易"), ("custom.scale", "1200"),
                  ("custom.channel", "online"), ("custom.channel", "store"), ("custom.signed_on", "2026-03-01")])
            .await?;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let link = made.location.context("redirect")?;
        let page = zhang.get(&link).await?;
        assert!(page.html.contains("<dt>Staff</dt><dd>1,200</dd>") && page.html.contains("<dd>Online, Store</dd>"), "{}", page.html);
        let id = link.trim_start_matches("/customers/").split('?').next().context("id")?.to_owned();
        let (_, c) = admin_api.get(&format!("/api/v1/customers/{id}")).await?;
        assert_eq!(c["custom"], json!({ "scale": 1200, "channel": ["online", "store"], "signed_on": "2026-03-01" }), "{c}");

        // The edit form shows them; emptying one clears it and the others stay.
        let edit = zhang.get(&format!("/customers/{id}/edit")).await?;
        assert!(edit.html.contains("value=\"1200\"") && edit.html.contains("value=\"2026-03-01\""), "{}", edit.html);
        let version = edit.hidden("version")?;
        let saved = zhang
            .post(&format!("/customers/{id}/edit"), &[("_csrf", &csrf), ("version", &version), ("name", "杭州贸易"),
                  ("custom.scale", ""), ("custom.channel", "online"), ("custom.signed_on", "2026-03-01")])
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let (_, c) = admin_api.get(&format!("/api/v1/customers/{id}")).await?;
        assert!(c["custom"]["scale"].is_null(), "{c}");
        assert_eq!(c["custom"]["channel"], json!(["online"]), "{c}");
        server.stop().await;
        Ok(())
    }

    async fn an_enabled_plugin_adds_its_menu_page_and_panel_and_they_go_when_disabled(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        admin_api.install_and_enable("hello-crm", &["customers:read", "events:subscribe", "schedule"]).await?;
        let (status, c) = admin_api.post("/api/v1/customers", &json!({ "name": "插件客户" })).await?;
        ensure!(status == StatusCode::CREATED, "{c}");
        let browser = Browser::new(&server, "en")?;
        let home = browser.sign_in("admin", ADMIN_PASSWORD).await?;
        assert!(home.html.contains("href=\"/p/hello-crm/notes\""), "menu missing: {}", home.html);

        let page = browser.get("/p/hello-crm/notes").await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let csrf = page.csrf()?;
        // The plugin refuses an empty title by field: the form comes back with the error.
        let refused = browser
            .post("/p/hello-crm/notes/act/add", &[("_csrf", &csrf), ("_back", "/p/hello-crm/notes"), ("title", ""), ("body", "kept text")])
            .await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
        assert!(refused.html.contains("Give the note a title") && refused.html.contains("kept text"), "{}", refused.html);

        // From the customer's panel, the note belongs to the customer.
        let customer = browser.get(&format!("/customers/{}", c["id"])).await?;
        assert!(customer.html.contains("plugin-panel") && customer.html.contains("name=\"customer_id\""), "{}", customer.html);
        let types = customer.hidden("_types")?;
        let added = browser
            .post("/p/hello-crm/customer-notes/act/add", &[("_csrf", &csrf), ("_types", &types),
                  ("_back", &format!("/customers/{}", c["id"])), ("title", "带伞"), ("customer_id", &c["id"].to_string())])
            .await?;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.html);
        let back = browser.get(added.location.as_deref().context("redirect")?).await?;
        assert!(back.html.contains("Note added") && back.html.contains("带伞"), "{}", back.html);
        // The notice shows once.
        let again = browser.get(&format!("/customers/{}", c["id"])).await?;
        assert!(!again.html.contains("Note added"));

        let (status, body) = admin_api.post("/api/v1/plugins/hello-crm/disable", &json!({})).await?;
        ensure!(status == StatusCode::OK, "disable: {status} {body}");
        let home = browser.get("/").await?;
        assert!(!home.html.contains("/p/hello-crm/notes"), "menu still there");
        assert_eq!(browser.get("/p/hello-crm/notes").await?.status, StatusCode::NOT_FOUND);
        server.stop().await;
        Ok(())
    }

    async fn an_administrator_adds_a_role_and_a_user_and_enables_a_plugin_from_its_grant_screen(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let (status, body) = admin_api.install_plugin(tessera_tests::plugin_package("hello-crm")?).await?;
        ensure!(status == StatusCode::CREATED, "install: {body}");
        let admin = Browser::new(&server, "en")?;
        let home = admin.sign_in("admin", ADMIN_PASSWORD).await?;
        assert!(home.html.contains("href=\"/admin/users\""), "the admin menu: {}", home.html);

        // A role from the scope matrix.
        let roles = admin.get("/admin/roles").await?;
        let csrf = roles.csrf()?;
        let bad = admin.post("/admin/roles", &[("_csrf", &csrf), ("name", "Support"), ("grant.customers.read", "everything")]).await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(bad.html.contains("value=\"Support\""), "the name is kept");
        let made = admin
            .post("/admin/roles", &[("_csrf", &csrf), ("name", "Support 客服"), ("description", "Reads every customer"),
                  ("grant.customers.read", "all"), ("grant.activities.create", "all"), ("grant.activities.read", "all")])
            .await?;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let (_, list) = admin_api.get("/api/v1/roles").await?;
        let role = list.as_array().and_then(|l| l.iter().find(|r| r["name"] == "Support 客服").cloned()).context("role")?;
        assert_eq!(role["grants"].as_array().map(Vec::len), Some(3), "{role}");

        // A user holding it; a short password is refused in words, the form kept.
        let role_id = role["id"].to_string();
        let short = admin
            .post("/admin/users", &[("_csrf", &csrf), ("username", "kefu"), ("display_name", "客服小王"),
                  ("password", "short"), ("role_ids", &role_id)])
            .await?;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", short.html);
        assert!(short.html.contains("客服小王"));
        let added = admin
            .post("/admin/users", &[("_csrf", &csrf), ("username", "kefu"), ("display_name", "客服小王"),
                  ("password", USER_PASSWORD), ("role_ids", &role_id), ("locale", "en")])
            .await?;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.html);
        let users = admin.get(added.location.as_deref().context("redirect")?).await?;
        assert!(users.html.contains("User created.") && users.html.contains("客服小王"), "{}", users.html);
        let kefu = Browser::new(&server, "en")?;
        let their_home = kefu.sign_in("kefu", USER_PASSWORD).await?;
        assert!(!their_home.html.contains("/admin/users"), "no admin menu for a non-admin");
        assert_eq!(kefu.get("/admin/users").await?.status, StatusCode::FORBIDDEN);

        // The plugin: its grant screen lists what it asks for; enabling shows its menu.
        let plugins = admin.get("/admin/plugins").await?;
        assert!(plugins.html.contains("Hello CRM") && plugins.html.contains("Installed"), "{}", plugins.html);
        let screen = admin.get("/admin/plugins/hello-crm/enable").await?;
        for cap in ["customers:read", "events:subscribe", "schedule"] {
            assert!(screen.html.contains(&format!("value=\"{cap}\" checked")), "{cap}: {}", screen.html);
        }
        let greedy = admin
            .post("/admin/plugins/hello-crm/enable", &[("_csrf", &csrf), ("capabilities", "customers:write")])
            .await?;
        assert_eq!(greedy.status, StatusCode::UNPROCESSABLE_ENTITY, "a capability it did not ask for: {}", greedy.html);
        let enabled = admin
            .post("/admin/plugins/hello-crm/enable", &[("_csrf", &csrf), ("capabilities", "customers:read"),
                  ("capabilities", "events:subscribe"), ("capabilities", "schedule")])
            .await?;
        assert_eq!(enabled.status, StatusCode::SEE_OTHER, "{}", enabled.html);
        let page = admin.get(enabled.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Plugin enabled.") && page.html.contains("href=\"/p/hello-crm/notes\""), "{}", page.html);
        let (_, info) = admin_api.get("/api/v1/plugins/hello-crm").await?;
        assert_eq!(info["grants"], json!(["customers:read", "events:subscribe", "schedule"]), "{info}");

        // Its settings form, drawn from the manifest, with the default filled in.
        let list = admin.get("/admin/plugins").await?;
        assert!(list.html.contains("href=\"/admin/plugins/hello-crm/settings\""), "{}", list.html);
        let form = admin.get("/admin/plugins/hello-crm/settings").await?;
        assert!(form.html.contains(">Greeting<") && form.html.contains("value=\"你好\""), "{}", form.html);
        let saved = admin
            .post("/admin/plugins/hello-crm/settings", &[("_csrf", &csrf), ("greeting", "欢迎 <b>光临</b>")])
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let form = admin.get(saved.location.as_deref().context("redirect")?).await?;
        assert!(form.html.contains("Settings saved.") && form.html.contains("欢迎 &#60;b&#62;光临&#60;/b&#62;"), "{}", form.html);
        let (_, settings) = admin_api.get("/api/v1/plugins/hello-crm/settings").await?;
        assert_eq!(settings["values"]["greeting"], "欢迎 <b>光临</b>", "{settings}");

        let disabled = admin.post("/admin/plugins/hello-crm/disable", &[("_csrf", &csrf)]).await?;
        assert_eq!(disabled.status, StatusCode::SEE_OTHER);
        let page = admin.get(disabled.location.as_deref().context("redirect")?).await?;
        assert!(!page.html.contains("/p/hello-crm/notes"), "the menu is gone: {}", page.html);
        let (_, log) = admin_api.get("/api/v1/audit-log?action=plugin.disable").await?;
        assert!(log.to_string().contains("hello-crm"), "{log}");

        // Uninstalled (keeping its records): the organisation no longer has it, and the
        // settings page is gone with it.
        let odd = admin.post("/admin/plugins/hello-crm/uninstall", &[("_csrf", &csrf), ("data", "maybe")]).await?;
        assert_eq!(odd.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", odd.html);
        let gone = admin.post("/admin/plugins/hello-crm/uninstall", &[("_csrf", &csrf), ("data", "keep")]).await?;
        assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.html);
        let page = admin.get(gone.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Plugin uninstalled."), "{}", page.html);
        let (_, info) = admin_api.get("/api/v1/plugins/hello-crm").await?;
        assert!(info["status"].is_null(), "{info}");
        let settings = admin.get("/admin/plugins/hello-crm/settings").await?;
        assert_eq!(settings.status, StatusCode::NOT_FOUND);
        let (_, log) = admin_api.get("/api/v1/audit-log?action=plugin.uninstall").await?;
        assert!(log.to_string().contains("hello-crm"), "{log}");
        server.stop().await;
        Ok(())
    }

    async fn analysis_draws_its_charts_and_the_bell_leads_to_the_inbox(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        for (name, level) in [("甲客户", "a"), ("乙客户", "a"), ("丙客户", "b")] {
            let (status, c) = admin_api.post("/api/v1/customers", &json!({ "name": name, "level": level })).await?;
            ensure!(status == StatusCode::CREATED, "{c}");
        }
        let admin = Browser::new(&server, "en")?;
        admin.sign_in("admin", ADMIN_PASSWORD).await?;
        let page = admin.get("/analysis").await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_eq!(page.html.matches("<svg class=\"chart\"").count(), 4, "funnel, trend, levels, sources");
        assert!(page.html.contains("Sales funnel by status") && page.html.contains("<polyline"), "{}", page.html);
        assert!(page.html.contains("href=\"/analysis\" aria-current=\"page\""), "the menu marks where the user is");
        let bad = admin.get("/analysis?from=2026-12-31&to=2026-01-01").await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("the last day is before the first"), "{}", bad.html);

        // A transfer tells the new owner; the bell's page lists it and marks it read.
        let role = server.role_id(&admin_api, "Salesperson").await?;
        let to = server.add_user(&admin_api, "receiver", None, &[role]).await?;
        let (_, page_of) = admin_api.get("/api/v1/customers?limit=1").await?;
        let id = page_of["items"][0]["id"].as_i64().context("a customer")?;
        let (status, body) = admin_api
            .post("/api/v1/customers/transfer", &json!({ "customer_ids": [id], "to_user_id": to, "reason": "handover" }))
            .await?;
        ensure!(status == StatusCode::OK, "{body}");
        let receiver = Browser::new(&server, "en")?;
        receiver.sign_in("receiver", USER_PASSWORD).await?;
        let mut inbox = receiver.get("/notifications").await?;
        for _ in 0..100 {
            if inbox.html.contains("class=\"unread\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            inbox = receiver.get("/notifications").await?;
        }
        assert!(inbox.html.contains("class=\"unread\"") && inbox.html.contains(&format!("/customers/{id}")), "{}", inbox.html);
        let csrf = inbox.csrf()?;
        let read = receiver.post("/notifications/read-all", &[("_csrf", &csrf)]).await?;
        assert_eq!(read.status, StatusCode::SEE_OTHER);
        let inbox = receiver.get("/notifications").await?;
        assert!(!inbox.html.contains("class=\"unread\""), "{}", inbox.html);
        assert!(inbox.html.contains("data-count=\"0\""), "the bell counts none unread");
        server.stop().await;
        Ok(())
    }

    async fn a_customer_is_edited_shared_and_its_duplicate_merged_from_its_page(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let (_, a) = admin_api
            .post("/api/v1/customers", &json!({ "name": "深圳市华信科技有限公司", "phones": [{ "number": "0755-12345678" }] }))
            .await?;
        let (_, b) = admin_api
            .post("/api/v1/customers", &json!({ "name": "华信科技", "phones": [{ "number": "(0755) 1234 5678" }] }))
            .await?;
        let (a_id, b_id) = (a["id"].as_i64().context("a")?, b["id"].as_i64().context("b")?);
        let admin = Browser::new(&server, "en")?;
        admin.sign_in("admin", ADMIN_PASSWORD).await?;
        let page = admin.get(&format!("/customers/{a_id}")).await?;
        assert!(page.html.contains("Possible duplicates") && page.html.contains(&format!("href=\"/customers/{b_id}\"")), "{}", page.html);
        let csrf = page.csrf()?;

        // An edit made on a stale version is reported, with what was typed kept.
        let form = admin.get(&format!("/customers/{a_id}/edit")).await?;
        let version = form.hidden("version")?;
        let (status, body) = admin_api.patch(&format!("/api/v1/customers/{a_id}"), &json!({ "website": "https://huaxin.example" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let edit = |name: &'static str, version: String| {
            let csrf = csrf.clone();
            let admin = &admin;
            async move {
                admin
                    .post(&format!("/customers/{a_id}/edit"), &[("_csrf", csrf.as_str()), ("version", version.as_str()),
                          ("name", name), ("kind", "company"), ("phone", "0755-12345678"), ("notes", "大客户")])
                    .await
            }
        };
        let stale = edit("华信科技集团", version).await?;
        assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", stale.html);
        assert!(stale.html.contains("Someone changed this customer") && stale.html.contains("华信科技集团"), "{}", stale.html);
        let fresh = admin.get(&format!("/customers/{a_id}/edit")).await?;
        let saved = edit("华信科技集团", fresh.hidden("version")?).await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let (_, now) = admin_api.get(&format!("/api/v1/customers/{a_id}")).await?;
        assert_eq!(now["name"], "华信科技集团");
        assert_eq!(now["notes"], "大客户");
        assert_eq!(now["phones"].as_array().map(Vec::len), Some(1), "the phone stays: {now}");

        // Shared for reading with a salesperson, who then sees it but cannot edit it.
        let role = server.role_id(&admin_api, "Salesperson").await?;
        let seller = server.add_user(&admin_api, "seller", None, &[role]).await?;
        let (status, body) = admin_api.patch(&format!("/api/v1/users/{seller}"), &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let other = Browser::new(&server, "en")?;
        other.sign_in("seller", USER_PASSWORD).await?;
        assert_eq!(other.get(&format!("/customers/{a_id}")).await?.status, StatusCode::NOT_FOUND);
        let shared = admin
            .post(&format!("/customers/{a_id}/shares"), &[("_csrf", &csrf), ("user_id", &seller.to_string()), ("level", "read")])
            .await?;
        assert_eq!(shared.status, StatusCode::SEE_OTHER, "{}", shared.html);
        let theirs = other.get(&format!("/customers/{a_id}")).await?;
        assert_eq!(theirs.status, StatusCode::OK);
        assert!(!theirs.html.contains(&format!("/customers/{a_id}/edit")), "a read share offers no edit");
        assert!(other.get(&format!("/customers/{a_id}/edit")).await?.status.is_client_error());
        let (_, shares) = admin_api.get(&format!("/api/v1/customers/{a_id}/shares")).await?;
        let share_id = shares[0]["id"].as_i64().context("share")?;
        let withdrawn = admin.post(&format!("/customers/{a_id}/shares/{share_id}/withdraw"), &[("_csrf", &csrf)]).await?;
        assert_eq!(withdrawn.status, StatusCode::SEE_OTHER);
        assert_eq!(other.get(&format!("/customers/{a_id}")).await?.status, StatusCode::NOT_FOUND);

        // The duplicate merged in: its page is gone, the customer keeps one of each phone.
        let merged = admin.post(&format!("/customers/{a_id}/merge"), &[("_csrf", &csrf), ("from", &b_id.to_string())]).await?;
        assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.html);
        let page = admin.get(merged.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Duplicate merged into this customer.") && !page.html.contains("Possible duplicates"), "{}", page.html);
        assert_eq!(admin.get(&format!("/customers/{b_id}")).await?.status, StatusCode::NOT_FOUND);
        server.stop().await;
        Ok(())
    }

    async fn malformed_form_posts_get_clear_client_errors(backend) {
        let server = TestServer::start(backend).await?;
        let browser = Browser::new(&server, "en")?;
        let home = browser.sign_in("admin", ADMIN_PASSWORD).await?;
        let csrf = home.csrf()?;
        let post_raw = |path: &str, content_type: &str, body: Vec<u8>| {
            browser.http.post(server.url(path)).header("content-type", content_type.to_owned()).body(body).send()
        };
        let form = |fields: &[(&str, &str)]| serde_urlencoded::to_string(fields).unwrap_or_default().into_bytes();
        let cases: Vec<(&str, reqwest::Response)> = vec![
            ("JSON to a form", post_raw("/customers", "application/json", br#"{"name":"x"}"#.to_vec()).await?),
            ("NUL in a field", post_raw("/customers", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf), ("name", "a\0b")])).await?),
            ("not form encoding", post_raw("/customers", "application/x-www-form-urlencoded", b"%zz=%%".to_vec()).await?),
            ("a huge form", post_raw("/customers", "application/x-www-form-urlencoded", vec![b'a'; 3 * 1024 * 1024]).await?),
            ("a word for an id", post_raw("/customers/abc/follow-ups", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf)])).await?),
            ("a word among ids", post_raw("/customers/transfer", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf), ("ids", "abc"), ("to_user_id", "1"), ("reason", "x")])).await?),
            ("a share with nobody", post_raw("/customers/1/shares", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf), ("user_id", "")])).await?),
            ("an unknown plugin", post_raw("/p/nope/page/act/go", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf)])).await?),
            ("an unknown plugin change", post_raw("/admin/plugins/nope/explode", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf)])).await?),
            ("an approval decision nobody knows", post_raw("/approvals/1/shrug", "application/x-www-form-urlencoded", form(&[("_csrf", &csrf)])).await?),
        ];
        for (what, resp) in cases {
            assert!(resp.status().is_client_error(), "{what}: {}", resp.status());
        }
        for path in ["/customers/99999999", "/customers/abc", "/approvals/99999999", "/analysis?from=someday", "/customers?cursor=%00%ff"] {
            let page = browser.get(path).await?;
            assert!(page.status.is_client_error() || page.status == StatusCode::SEE_OTHER, "{path}: {}", page.status);
        }
        assert_eq!(browser.get("/").await?.status, StatusCode::OK, "the host is still up");
        server.stop().await;
        Ok(())
    }
}
