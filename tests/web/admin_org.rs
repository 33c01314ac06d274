//! The organisation administration pages through the no-JavaScript browser: the department
//! tree, custom fields, option lists, the customer code pattern, sign-in restrictions and the
//! audit log that records all of them; refusals come back as filled-in forms, strangers' ids
//! as 404 pages, and a salesperson is turned away.

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_tests::pages::{Browser, Page};
use tessera_tests::{ADMIN_PASSWORD, TestServer, USER_PASSWORD, both_backends};

/// Signs the administrator in and sets their language (the default is Chinese).
async fn admin_browser(server: &TestServer, lang: &'static str) -> Result<Browser> {
    let browser = Browser::new(server, lang)?;
    let home = browser.sign_in("admin", ADMIN_PASSWORD).await?;
    let csrf = home.csrf()?;
    let set = browser.post("/profile/language", &[("_csrf", &csrf), ("lang", lang), ("back", "/")]).await?;
    ensure!(set.status == StatusCode::SEE_OTHER, "language: {} {}", set.status, set.html);
    Ok(browser)
}

/// Posts a form of `page` (its CSRF token added) and returns the answer.
async fn submit(browser: &Browser, page: &Page, path: &str, fields: &[(&str, &str)]) -> Result<Page> {
    let csrf = page.csrf()?;
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

/// Expects a redirect back to `to` with a notice, and returns the page it leads to.
async fn follow(browser: &Browser, answer: Page, to: &str) -> Result<Page> {
    ensure!(answer.status == StatusCode::SEE_OTHER, "expected a redirect, got {}: {}", answer.status, answer.html);
    let location = answer.location.context("no location")?;
    ensure!(location.starts_with(&format!("{to}?notice=done.")), "redirected to {location}");
    let page = browser.get(&location).await?;
    ensure!(page.status == StatusCode::OK, "{location}: {} {}", page.status, page.html);
    Ok(page)
}

fn id_named(list: &Value, field: &str, name: &str) -> Result<i64> {
    list.as_array()
        .and_then(|a| a.iter().find(|d| d[field] == name))
        .and_then(|d| d["id"].as_i64())
        .with_context(|| format!("{name} in {list}"))
}

both_backends! {
    async fn departments_are_a_tree_and_a_department_with_people_stays(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let browser = admin_browser(&server, "en").await?;

        let page = browser.get("/admin/departments").await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains("There are no departments yet."), "{}", page.html);
        let page = follow(&browser, submit(&browser, &page, "/admin/departments", &[("name", "Sales")]).await?, "/admin/departments").await?;
        assert!(page.html.contains("Department added."), "{}", page.html);
        let (_, depts) = admin_api.get("/api/v1/departments").await?;
        let sales = id_named(&depts, "name", "Sales")?;
        let sales_s = sales.to_string();
        let page = follow(&browser, submit(&browser, &page, "/admin/departments", &[("name", "North"), ("parent_id", &sales_s)]).await?, "/admin/departments").await?;
        // North is drawn inside Sales' item, in a nested list.
        let (at_sales, at_north) = (page.html.find(">Sales</strong>").context("Sales")?, page.html.find(">North</strong>").context("North")?);
        let nested = page.html[at_sales..at_north].find("<ul class=\"org-chart depth-1\">");
        assert!(nested.is_some(), "North is not nested under Sales: {}", page.html);
        let (_, depts) = admin_api.get("/api/v1/departments").await?;
        let north = id_named(&depts, "name", "North")?;
        assert_eq!(depts.as_array().and_then(|a| a.iter().find(|d| d["id"] == north)).map(|d| d["parent_id"].clone()), Some(json!(sales)));

        // A blank name is refused with the form filled in.
        let blank = submit(&browser, &page, "/admin/departments", &[("name", " "), ("parent_id", &sales_s)]).await?;
        assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(blank.html.contains("a department name is 1–100 characters"), "{}", blank.html);
        let add_form = &blank.html[blank.html.find("id=\"new-dept-parent\"").context("the add form")?..];
        assert!(add_form.contains(&format!("<option value=\"{sales}\" selected>")), "parent kept: {add_form}");

        // A department with a member, or with a sub-department, is not deleted.
        let role = server.role_id(&admin_api, "Salesperson").await?;
        server.add_user(&admin_api, "nora", Some(north), &[role]).await?;
        for id in [north, sales] {
            let refused = submit(&browser, &page, &format!("/admin/departments/{id}/delete"), &[]).await?;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
            assert!(refused.html.contains("This department still has members or sub-departments."), "{}", refused.html);
            assert!(refused.html.contains(&format!("dept-{id}\" data-depth")), "the tree is still drawn");
        }
        let page = browser.get("/admin/departments").await?;
        assert!(page.html.contains("Members: 1"), "member count: {}", page.html);

        // Moving Sales under its own sub-department is refused; renaming and moving North works.
        let north_s = north.to_string();
        let cycle = submit(&browser, &page, &format!("/admin/departments/{sales}"), &[("name", "Sales"), ("parent_id", &north_s)]).await?;
        assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(cycle.html.contains("cannot move under itself"), "{}", cycle.html);
        assert!(cycle.html.contains(&format!("id=\"dept-{sales}-name\"")), "the refused form is shown on the department's page: {}", cycle.html);
        // Each department's form is on its own page, offering neither itself nor its
        // sub-departments as the new parent; the tree links to them and carries no form of its own.
        let sales_page = browser.get(&format!("/admin/departments/{sales}")).await?;
        assert_eq!(sales_page.status, StatusCode::OK, "{}", sales_page.html);
        let at = sales_page.html.find(&format!("id=\"dept-{sales}-parent\"")).context("the parent choice")?;
        let choice = &sales_page.html[at..];
        let choice = &choice[..choice.find("</select>").context("its end")?];
        assert!(!choice.contains(&format!("value=\"{north}\"")) && !choice.contains(&format!("value=\"{sales}\"")), "{choice}");
        let tree = browser.get("/admin/departments").await?;
        assert_eq!(tree.html.matches("<select").count(), 2, "only the add form's choices: {}", tree.html);
        assert!(tree.html.contains(&format!("href=\"/admin/departments/{north}\"")), "{}", tree.html);
        let moved = submit(&browser, &page, &format!("/admin/departments/{north}"), &[("name", "North China"), ("parent_id", "")]).await?;
        let page = follow(&browser, moved, "/admin/departments").await?;
        assert!(page.html.contains(">North China</strong>") && !page.html.contains("org-chart depth-1"), "{}", page.html);

        // An empty department goes; ids of nothing are 404 pages.
        let page = follow(&browser, submit(&browser, &page, "/admin/departments", &[("name", "Temporary")]).await?, "/admin/departments").await?;
        let (_, depts) = admin_api.get("/api/v1/departments").await?;
        let temp = id_named(&depts, "name", "Temporary")?;
        let page = follow(&browser, submit(&browser, &page, &format!("/admin/departments/{temp}/delete"), &[]).await?, "/admin/departments").await?;
        assert!(page.html.contains("Department deleted.") && !page.html.contains("Temporary"), "{}", page.html);
        for path in ["/admin/departments/999999", "/admin/departments/999999/delete", "/admin/departments/abc"] {
            let missing = submit(&browser, &page, path, &[("name", "Ghost")]).await?;
            assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}: {}", missing.html);
        }
        server.stop().await;
        Ok(())
    }

    async fn fields_options_codes_and_rules_are_changed_and_found_in_the_audit_log(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let browser = admin_browser(&server, "en").await?;

        // Custom fields: a text field, a refused duplicate, an option field, then retiring one.
        let page = browser.get("/admin/custom-fields").await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let text_field = [("key", "contract_no"), ("label_zh", "合同号"), ("label_en", "Contract number"), ("kind", "text"), ("unique", "1")];
        let page = follow(&browser, submit(&browser, &page, "/admin/custom-fields", &text_field).await?, "/admin/custom-fields").await?;
        assert!(page.html.contains("contract_no") && page.html.contains("Contract number") && page.html.contains("合同号"), "{}", page.html);
        let again = submit(&browser, &page, "/admin/custom-fields", &text_field).await?;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.html);
        assert!(again.html.contains("exists already") && again.html.contains("value=\"Contract number\""), "{}", again.html);
        let no_options = submit(&browser, &page, "/admin/custom-fields", &[("key", "tier"), ("label_zh", "等级"), ("label_en", "Tier"), ("kind", "option")]).await?;
        assert_eq!(no_options.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(no_options.html.contains("needs at least one option"), "{}", no_options.html);
        assert!(no_options.html.contains("<option value=\"option\" selected>"), "kind kept: {}", no_options.html);
        let tier = [("key", "tier"), ("label_zh", "等级"), ("label_en", "Tier"), ("kind", "option"), ("options", "gold | 金牌 | Gold\nsilver | 银牌 | Silver")];
        let page = follow(&browser, submit(&browser, &page, "/admin/custom-fields", &tier).await?, "/admin/custom-fields").await?;
        assert!(page.html.contains("Gold, Silver"), "{}", page.html);
        let (_, fields) = admin_api.get("/api/v1/custom-fields").await?;
        let contract = id_named(&fields, "key", "contract_no")?;
        let tier_field = fields.as_array().and_then(|a| a.iter().find(|f| f["key"] == "tier")).context("tier")?;
        assert_eq!(tier_field["kind"], "option");
        assert_eq!(tier_field["options"][0], json!({ "value": "gold", "label_zh": "金牌", "label_en": "Gold" }));
        // The new field is in force: a customer's value is checked against its options.
        let (status, body) = admin_api.post("/api/v1/customers", &json!({ "name": "Tiered Ltd", "custom": { "tier": "platinum" } })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let retire = [("label_zh", "合同编号"), ("label_en", "Contract no."), ("position", "5")];
        let page = follow(&browser, submit(&browser, &page, &format!("/admin/custom-fields/{contract}"), &retire).await?, "/admin/custom-fields").await?;
        assert!(page.html.contains("Contract no.") && page.html.contains("<span class=\"badge\">Disabled</span>"), "{}", page.html);
        let (_, fields) = admin_api.get("/api/v1/custom-fields").await?;
        let retired = fields.as_array().and_then(|a| a.iter().find(|f| f["id"] == contract)).context("contract")?;
        assert_eq!((retired["active"].clone(), retired["unique"].clone()), (json!(false), json!(false)));
        let missing = submit(&browser, &page, "/admin/custom-fields/999999", &retire).await?;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // Option lists: an industry added, a duplicate refused, then disabled.
        let page = browser.get("/admin/option-lists").await?;
        assert!(page.html.contains("id=\"list-industry\"") && page.html.contains("manufacturing"), "{}", page.html);
        let biotech = [("value", "biotech"), ("label_zh", "生物科技"), ("label_en", "Biotech")];
        let added = submit(&browser, &page, "/admin/option-lists/industry", &biotech).await?;
        let page = follow(&browser, added, "/admin/option-lists").await?;
        assert!(page.html.contains("biotech") && page.html.contains("value=\"生物科技\""), "{}", page.html);
        let twice = submit(&browser, &page, "/admin/option-lists/industry", &biotech).await?;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", twice.html);
        assert!(twice.html.contains("already has the value"), "{}", twice.html);
        let (_, items) = admin_api.get("/api/v1/option-lists?list=industry").await?;
        let item = id_named(&items, "value", "biotech")?;
        let disable = [("label_zh", "生物医药"), ("label_en", "Life sciences"), ("position", "0")];
        let page = follow(&browser, submit(&browser, &page, &format!("/admin/option-lists/items/{item}"), &disable).await?, "/admin/option-lists").await?;
        assert!(page.html.contains("value=\"Life sciences\""), "{}", page.html);
        let (_, items) = admin_api.get("/api/v1/option-lists?list=industry").await?;
        let changed = items.as_array().and_then(|a| a.iter().find(|i| i["id"] == item)).context("item")?;
        assert_eq!((changed["active"].clone(), changed["position"].clone()), (json!(false), json!(0)));
        for (path, status) in [("/admin/option-lists/planets", StatusCode::NOT_FOUND), ("/admin/option-lists/items/999999", StatusCode::NOT_FOUND)] {
            let answer = submit(&browser, &page, path, &biotech).await?;
            assert_eq!(answer.status, status, "{path}");
        }

        // The customer code pattern: a bad one shows why, a good one numbers the next customer.
        let page = browser.get("/admin/customer-codes").await?;
        assert!(page.html.contains("id=\"code-current\">KH-{yyyy}-{seq:5}<") && page.html.contains("id=\"code-next\">KH-"), "{}", page.html);
        let bad = submit(&browser, &page, "/admin/customer-codes", &[("pattern", "KH-{week}-{seq:3}")]).await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("unknown field {week}") && bad.html.contains("value=\"KH-{week}-{seq:3}\""), "{}", bad.html);
        let page = follow(&browser, submit(&browser, &page, "/admin/customer-codes", &[("pattern", "WEB{seq:4}")]).await?, "/admin/customer-codes").await?;
        assert!(page.html.contains("id=\"code-current\">WEB{seq:4}<") && page.html.contains("id=\"code-next\">WEB0001<"), "{}", page.html);
        let (status, made) = admin_api.post("/api/v1/customers", &json!({ "name": "Numbered Ltd" })).await?;
        ensure!(status == StatusCode::CREATED, "{made}");
        assert_eq!(made["code"], "WEB0001");
        let page = browser.get("/admin/customer-codes").await?;
        assert!(page.html.contains("id=\"code-next\">WEB0002<"), "{}", page.html);

        // Sign-in restrictions: a refused range, a rule for the salespeople, then deleted.
        let page = browser.get("/admin/sign-in-rules").await?;
        assert!(page.html.contains("There are no sign-in restrictions."), "{}", page.html);
        let role = server.role_id(&admin_api, "Salesperson").await?;
        let subject = format!("role:{role}");
        let mut rule = vec![("subject", subject.as_str()), ("ip_allow", "10.0.0.0/8, 192.168.1.7"), ("start", "08:00"), ("end", "18:00"), ("note", "Office only")];
        for day in ["1", "2", "3", "4", "5"] {
            rule.push(("weekdays", day));
        }
        let mut bad_rule = rule.clone();
        bad_rule[1] = ("ip_allow", "the office");
        let refused = submit(&browser, &page, "/admin/sign-in-rules", &bad_rule).await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.html.contains("is not an address or a CIDR range"), "{}", refused.html);
        assert!(refused.html.contains("value=\"Office only\"") && !refused.html.contains("name=\"weekdays\" value=\"6\" checked"), "refilled: {}", refused.html);
        let page = follow(&browser, submit(&browser, &page, "/admin/sign-in-rules", &rule).await?, "/admin/sign-in-rules").await?;
        for shown in ["Role:</span> Salesperson", "10.0.0.0/8", "192.168.1.7/32", "Mon, Tue, Wed, Thu, Fri", "08:00–18:00", "Office only"] {
            assert!(page.html.contains(shown), "{shown} missing: {}", page.html);
        }
        let (_, rules) = admin_api.get("/api/v1/sign-in-rules").await?;
        let rule_id = rules[0]["id"].as_i64().context("rule id")?;
        assert_eq!(rules[0]["role_id"], role);
        let page = follow(&browser, submit(&browser, &page, &format!("/admin/sign-in-rules/{rule_id}/delete"), &[]).await?, "/admin/sign-in-rules").await?;
        assert!(page.html.contains("There are no sign-in restrictions."), "{}", page.html);
        let gone = submit(&browser, &page, &format!("/admin/sign-in-rules/{rule_id}/delete"), &[]).await?;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);

        // Every change is in the audit log, newest first, by name.
        let log = browser.get("/admin/audit").await?;
        assert_eq!(log.status, StatusCode::OK, "{}", log.html);
        let order: Vec<usize> = ["sign_in_rule.deleted", "sign_in_rule.created", "setting.customer_code_pattern", "option.updated", "option.created", "custom_field.updated", "custom_field.created"]
            .iter()
            .map(|action| log.html.find(&format!(">{action}<")).with_context(|| format!("{action} not in the log: {}", log.html)))
            .collect::<Result<_>>()?;
        assert!(order.windows(2).all(|w| w[0] < w[1]), "not newest first: {order:?}");
        assert!(log.html.contains("<td>Administrator</td>"), "the actor by name: {}", log.html);
        let only = browser.get("/admin/audit?action=sign_in_rule.deleted").await?;
        assert!(only.html.contains(">sign_in_rule.deleted<") && !only.html.contains(">option.created<"), "{}", only.html);
        let (_, me) = admin_api.get("/api/v1/me").await?;
        let by_admin = browser.get(&format!("/admin/audit?actor={}&target_type=option", me["id"])).await?;
        assert!(by_admin.html.contains(">option.created<") && !by_admin.html.contains(">custom_field.created<"), "{}", by_admin.html);
        let future = browser.get("/admin/audit?from=2999-01-01").await?;
        assert!(future.html.contains("No entries match.") && future.html.contains("value=\"2999-01-01\""), "{}", future.html);
        let past = browser.get("/admin/audit?to=2000-01-01").await?;
        assert!(past.html.contains("No entries match."), "{}", past.html);
        let bad_day = browser.get("/admin/audit?from=yesterday").await?;
        assert_eq!(bad_day.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad_day.html.contains("A day is written YYYY-MM-DD."), "{}", bad_day.html);
        server.stop().await;
        Ok(())
    }

    async fn a_salesperson_is_turned_away_and_chinese_reads_as_chinese(backend) {
        let server = TestServer::start(backend).await?;
        crate::add_salesperson(&server, "sally", "en").await?;
        let sally = Browser::new(&server, "en")?;
        let home = sally.sign_in("sally", USER_PASSWORD).await?;
        let csrf = home.csrf()?;
        for path in ["/admin/departments", "/admin/custom-fields", "/admin/option-lists", "/admin/customer-codes", "/admin/sign-in-rules", "/admin/audit"] {
            let page = sally.get(path).await?;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.html);
            let posted = sally.post(path, &[("_csrf", &csrf), ("name", "Mine"), ("pattern", "X{seq:2}")]).await?;
            assert!(posted.status == StatusCode::FORBIDDEN || posted.status == StatusCode::METHOD_NOT_ALLOWED, "{path}: {}", posted.status);
        }
        let posted = sally.post("/admin/option-lists/industry", &[("_csrf", &csrf), ("value", "mine"), ("label_zh", "我的"), ("label_en", "Mine")]).await?;
        assert_eq!(posted.status, StatusCode::FORBIDDEN);
        let admin_api = server.admin().await?;
        let (_, items) = admin_api.get("/api/v1/option-lists?list=industry").await?;
        assert!(id_named(&items, "value", "mine").is_err(), "the salesperson's item was stored");
        let (_, pattern) = admin_api.get("/api/v1/settings/customer-code-pattern").await?;
        assert_eq!(pattern["pattern"], "KH-{yyyy}-{seq:5}");

        let browser = admin_browser(&server, "zh-CN").await?;
        let page = browser.get("/admin/departments").await?;
        assert!(page.html.contains("<html lang=\"zh-CN\">") && page.html.contains("还没有部门。") && page.html.contains("新建部门"), "{}", page.html);
        let page = follow(&browser, submit(&browser, &page, "/admin/departments", &[("name", "华东区")]).await?, "/admin/departments").await?;
        assert!(page.html.contains("部门已添加。") && page.html.contains(">华东区</strong>"), "{}", page.html);
        let (_, depts) = admin_api.get("/api/v1/departments").await?;
        let east = id_named(&depts, "name", "华东区")?;
        let role = server.role_id(&admin_api, "Salesperson").await?;
        server.add_user(&admin_api, "dong", Some(east), &[role]).await?;
        let refused = submit(&browser, &page, &format!("/admin/departments/{east}/delete"), &[]).await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.html.contains("该部门仍有成员或下级部门"), "{}", refused.html);
        let codes = browser.get("/admin/customer-codes").await?;
        assert!(codes.html.contains("下一个编号") && codes.html.contains("四位年份"), "{}", codes.html);
        let log = browser.get("/admin/audit").await?;
        assert!(log.html.contains("操作人") && log.html.contains(">department.created<"), "{}", log.html);
        server.stop().await;
        Ok(())
    }
}
