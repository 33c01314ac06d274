//! The contacts page and the customer import wizard, as a browser without JavaScript uses
//! them: a salesperson finds their own contacts and no one else's and edits one; an
//! administrator uploads a CSV with a Chinese name and a refused row, sees the suggested
//! mapping and the check's report, imports the other rows, follows the progress page to its
//! summary and finds the customers; bad uploads and forged forms are refused with clear pages.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_TYPE};
use serde_json::json;
use tessera_tests::pages::{Browser, Page};
use tessera_tests::{ADMIN_PASSWORD, TestServer, USER_PASSWORD, both_backends};

use super::add_salesperson;

/// Posts a multipart form as a browser does: text parts, and a file part when one is given.
async fn post_multipart(
    browser: &Browser,
    path: &str,
    texts: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> Result<Page> {
    let boundary = "----tessera-test-7d3f9a";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((file_name, content)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let resp = browser
        .http
        .post(format!("{}{path}", browser.base))
        .header(ACCEPT_LANGUAGE, browser.lang)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await?;
    Browser::page(resp).await
}

/// A form with the session's token and the fields given.
fn with_token<'a>(csrf: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("_csrf", csrf)];
    form.extend_from_slice(fields);
    form
}

/// The id in a path such as `/customers/import/12/progress?notice=…`.
fn id_in(location: &str, prefix: &str) -> Result<String> {
    let rest = location.strip_prefix(prefix).with_context(|| format!("{location} does not start with {prefix}"))?;
    Ok(rest.split(['/', '?']).next().unwrap_or_default().to_owned())
}

both_backends! {
    async fn contacts_are_found_by_their_owners_only_and_edited_in_place(backend) {
        let server = TestServer::start(backend).await?;
        add_salesperson(&server, "zhang", "en").await?;
        add_salesperson(&server, "li", "en").await?;
        let admin = server.admin().await?;
        let (status, body) = admin.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let (status, acme) = admin.post("/api/v1/customers", &json!({ "name": "上海贸易有限公司" })).await?;
        ensure!(status == StatusCode::CREATED, "customer: {status} {acme}");
        let acme_id = acme["id"].as_i64().context("id")?;
        let (status, boss) = admin
            .post(&format!("/api/v1/customers/{acme_id}/contacts"), &json!({
                "name": "王经理", "title": "采购经理", "email": "wang@example.com",
                "phones": [{ "label": "mobile", "number": "138 1234 5678" }],
            }))
            .await?;
        ensure!(status == StatusCode::CREATED, "contact: {status} {boss}");
        let boss_id = boss["id"].as_i64().context("contact id")?;

        let zhang_api = server.sign_in("zhang", USER_PASSWORD).await?;
        let (status, own) = zhang_api.post("/api/v1/customers", &json!({ "name": "Hangzhou Tea Co" })).await?;
        ensure!(status == StatusCode::CREATED, "own customer: {status} {own}");
        let own_id = own["id"].as_i64().context("id")?;
        let (status, mine) = zhang_api
            .post(&format!("/api/v1/customers/{own_id}/contacts"), &json!({ "name": "Chen Jing", "title": "Buyer" }))
            .await?;
        ensure!(status == StatusCode::CREATED, "own contact: {status} {mine}");
        let mine_id = mine["id"].as_i64().context("contact id")?;

        // The administrator finds the contact by name, with its title, phone and customer.
        let browser = Browser::new(&server, "en")?;
        browser.sign_in("admin", ADMIN_PASSWORD).await?;
        let found = browser.get("/contacts?q=%E7%8E%8B%E7%BB%8F%E7%90%86").await?;
        assert_eq!(found.status, StatusCode::OK, "{}", found.html);
        assert!(found.html.contains("王经理") && found.html.contains("采购经理"), "{}", found.html);
        assert!(found.html.contains("138 1234 5678") && found.html.contains("wang@example.com"), "{}", found.html);
        assert!(found.html.contains(&format!("href=\"/customers/{acme_id}\">上海贸易有限公司")), "{}", found.html);
        assert!(found.html.contains(&format!("href=\"/contacts/{boss_id}\"")), "{}", found.html);
        assert!(!found.html.contains("Chen Jing"), "the search narrows the list");
        let by_customer = browser.get(&format!("/contacts?customer={own_id}")).await?;
        assert!(by_customer.html.contains("Chen Jing") && !by_customer.html.contains("王经理"), "{}", by_customer.html);
        let bad_month = browser.get("/contacts?month=13").await?;
        assert_eq!(bad_month.status, StatusCode::UNPROCESSABLE_ENTITY);

        // A salesperson sees their own contacts only.
        let zhang = Browser::new(&server, "zh-CN")?;
        zhang.sign_in("zhang", USER_PASSWORD).await?;
        let list = zhang.get("/contacts").await?;
        assert!(list.html.contains("<html lang=\"en\">"), "the user's language wins");
        assert!(list.html.contains("Chen Jing") && !list.html.contains("王经理"), "{}", list.html);
        let li = Browser::new(&server, "en")?;
        li.sign_in("li", USER_PASSWORD).await?;
        let none = li.get("/contacts?q=Chen").await?;
        assert!(none.html.contains("No contact matches.") && !none.html.contains("Chen Jing"), "{}", none.html);
        assert_eq!(li.get(&format!("/contacts/{mine_id}")).await?.status, StatusCode::NOT_FOUND);
        assert_eq!(zhang.get(&format!("/contacts/{boss_id}")).await?.status, StatusCode::NOT_FOUND);
        assert_eq!(zhang.get("/contacts/not-a-number").await?.status, StatusCode::NOT_FOUND);

        // Editing: a refusal keeps what was typed; a save comes back with a notice.
        let form = zhang.get(&format!("/contacts/{mine_id}")).await?;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let csrf = form.csrf()?;
        let path = format!("/contacts/{mine_id}");
        let forged = zhang.post(&path, &[("name", "Chen Jing"), ("title", "Boss")]).await?;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let bad = zhang
            .post(&path, &[("_csrf", &csrf), ("name", "Chen Jing"), ("title", "Head buyer"), ("email", "no-at-sign")])
            .await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(bad.html.contains("value=\"no-at-sign\"") && bad.html.contains("value=\"Head buyer\""), "{}", bad.html);
        assert!(bad.html.contains("aria-invalid=\"true\""), "the refused field is marked");
        let saved = zhang
            .post(&path, &[("_csrf", &csrf), ("name", "Chen Jing"), ("title", "Head buyer"), ("email", "chen@example.com"),
                           ("phones", "139 0000 1111")])
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let page = zhang.get(saved.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Contact saved.") && page.html.contains("Head buyer"), "{}", page.html);
        let (_, stored) = zhang_api.get(&format!("/api/v1/customers/{own_id}/contacts")).await?;
        assert_eq!(stored[0]["email"], "chen@example.com", "{stored}");
        assert_eq!(stored[0]["phones"][0]["number"], "139 0000 1111", "{stored}");
        server.stop().await;
        Ok(())
    }

    async fn customers_are_imported_through_the_wizard(backend) {
        let server = TestServer::start(backend).await?;
        let (status, body) = server.admin().await?.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let browser = Browser::new(&server, "en")?;
        browser.sign_in("admin", ADMIN_PASSWORD).await?;
        let start = browser.get("/customers/import").await?;
        assert_eq!(start.status, StatusCode::OK, "{}", start.html);
        assert!(start.html.contains("enctype=\"multipart/form-data\"") && start.html.contains("<label for=\"file\""));
        let csrf = start.csrf()?;

        // Uploads that cannot be imported are refused with a page that says why.
        let forged = post_multipart(&browser, "/customers/import", &[], Some(("a.csv", "名称\n甲\n".as_bytes()))).await?;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
        let picture = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)],
                                     Some(("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"))).await?;
        assert_eq!(picture.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", picture.html);
        assert!(picture.html.contains("Only .csv and .xlsx files can be imported."), "{}", picture.html);
        let garbage = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)],
                                     Some(("data.csv", b"\0\x01\x02\xff\xfe garbage \0\0"))).await?;
        assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", garbage.html);
        assert!(garbage.html.contains("This file cannot be imported.") && garbage.html.contains("binary"), "{}", garbage.html);
        let fake_xlsx = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)],
                                       Some(("book.xlsx", b"not a workbook"))).await?;
        assert_eq!(fake_xlsx.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", fake_xlsx.html);
        let empty = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)], Some(("empty.csv", b""))).await?;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.html.contains("The file is empty."), "{}", empty.html);
        let no_file = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)], None).await?;
        assert_eq!(no_file.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(no_file.html.contains("Choose a file to upload."), "{}", no_file.html);
        let not_multipart = browser.post("/customers/import", &[("_csrf", &csrf)]).await?;
        assert!(not_multipart.status.is_client_error(), "{}", not_multipart.status);
        for unknown in ["/customers/import/999999", "/customers/import/999999/progress", "/customers/import/abc"] {
            let page = browser.get(unknown).await?;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{unknown}");
            assert!(page.html.contains("This page does not exist"), "{unknown}: {}", page.html);
        }

        // A file with a Chinese name and a row without a name.
        let file = "客户名称,电话,联系人,邮箱\n\
                    杭州西湖茶业有限公司,139 0013 9000,王芳,wang@example.com\n\
                    ,139 0013 9001,李四,\n\
                    Acme Trading Ltd,021 6666 8888,John,john@example.com\n";
        let uploaded = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)],
                                      Some(("customers.csv", file.as_bytes()))).await?;
        assert_eq!(uploaded.status, StatusCode::SEE_OTHER, "{}", uploaded.html);
        let location = uploaded.location.context("redirect")?;
        let id = id_in(&location, "/customers/import/")?;

        let mapping = browser.get(&location).await?;
        assert_eq!(mapping.status, StatusCode::OK, "{}", mapping.html);
        for suggested in ["value=\"name\" selected", "value=\"phone\" selected", "value=\"contact_name\" selected",
                          "value=\"contact_email\" selected"] {
            assert!(mapping.html.contains(suggested), "{suggested} in {}", mapping.html);
        }
        assert!(mapping.html.contains("杭州西湖茶业有限公司") && mapping.html.contains("<label for=\"col0\">客户名称</label>"),
                "{}", mapping.html);
        assert!(mapping.html.contains("Do not import"), "the skip choice");

        let plan = [("col0", "name"), ("col1", "phone"), ("col2", "contact_name"), ("col3", "contact_email"), ("dedupe", "skip")];
        let check = format!("/customers/import/{id}/check");
        let forged = browser.post(&check, &plan).await?;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let nameless = browser
            .post(&check, &with_token(&csrf, &[("col0", "ignore"), ("col1", "phone"), ("col2", "ignore"), ("col3", "ignore")]))
            .await?;
        assert_eq!(nameless.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nameless.html);
        assert!(nameless.html.contains("map one column to name"), "{}", nameless.html);

        let report = browser.post(&check, &with_token(&csrf, &plan)).await?;
        assert_eq!(report.status, StatusCode::OK, "{}", report.html);
        assert!(report.html.contains("<td class=\"code\">3</td>") && report.html.contains("the name is empty"),
                "the refused row's number and reason: {}", report.html);
        assert!(report.html.contains("Import the other rows") && !report.html.contains(">Import now<"), "{}", report.html);

        // Importing the other rows: a copy without row 3 runs; the page follows it to the end.
        let run = format!("/customers/import/{id}/run");
        let forged = browser.post(&run, &plan).await?;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let mut form = with_token(&csrf, &plan);
        form.push(("leave_out", "1"));
        let started = browser.post(&run, &form).await?;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.html);
        let progress = started.location.context("redirect")?;
        assert!(progress.ends_with("/progress?notice=done.import_started"), "{progress}");
        let copy = id_in(&progress, "/customers/import/")?;
        let (status, info) = {
            let resp = browser.http.get(server.url(&format!("/api/v1/customer-imports/{copy}"))).send().await?;
            (resp.status(), resp.json::<serde_json::Value>().await?)
        };
        assert_eq!(status, StatusCode::OK, "the page's script polls this with the session: {info}");
        assert_eq!(info["total_rows"], 2, "{info}");
        let first = browser.get(&progress).await?;
        assert!(first.html.contains("The import has started."), "{}", first.html);

        let deadline = Instant::now() + Duration::from_secs(120);
        let done = loop {
            let page = browser.get(&format!("/customers/import/{copy}/progress")).await?;
            assert_eq!(page.status, StatusCode::OK, "{}", page.html);
            if !page.html.contains("data-status=\"running\"") {
                break page;
            }
            assert!(page.html.contains("<progress") && page.html.contains("http-equiv=\"refresh\""), "{}", page.html);
            ensure!(Instant::now() < deadline, "the import did not finish: {}", page.html);
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(done.html.contains("Import finished.") && done.html.contains("href=\"/customers\""), "{}", done.html);
        assert!(!done.html.contains("http-equiv=\"refresh\""), "a finished import stops refreshing");

        let list = browser.get("/customers?q=%E6%9D%AD%E5%B7%9E%E8%A5%BF%E6%B9%96").await?;
        assert!(list.html.contains("杭州西湖茶业有限公司"), "{}", list.html);
        let list = browser.get("/customers?q=Acme").await?;
        assert!(list.html.contains("Acme Trading Ltd"), "{}", list.html);
        let contacts = browser.get("/contacts?q=%E7%8E%8B%E8%8A%B3").await?;
        assert!(contacts.html.contains("王芳") && contacts.html.contains("杭州西湖茶业有限公司"), "{}", contacts.html);

        // The original upload stays unrun; a finished import's pages lead to its summary.
        let again = browser.get(&format!("/customers/import/{copy}")).await?;
        assert_eq!(again.location.as_deref(), Some(format!("/customers/import/{copy}/progress").as_str()));
        let rerun = browser.post(&format!("/customers/import/{copy}/run"), &with_token(&csrf, &plan)).await?;
        assert_eq!(rerun.status, StatusCode::SEE_OTHER);

        // A clean file is imported as it is, from the check's own button.
        let clean = post_multipart(&browser, "/customers/import", &[("_csrf", &csrf)],
                                   Some(("more.csv", "名称,级别\n广州花城贸易有限公司,\n".as_bytes()))).await?;
        let clean_id = id_in(clean.location.as_deref().context("redirect")?, "/customers/import/")?;
        let clean_plan = [("col0", "name"), ("col1", "ignore"), ("dedupe", "skip")];
        let report = browser.post(&format!("/customers/import/{clean_id}/check"), &with_token(&csrf, &clean_plan)).await?;
        assert!(report.html.contains("Every row can be imported.") && report.html.contains(">Import now<"), "{}", report.html);
        let started = browser.post(&format!("/customers/import/{clean_id}/run"), &with_token(&csrf, &clean_plan)).await?;
        assert_eq!(started.location, Some(format!("/customers/import/{clean_id}/progress?notice=done.import_started")));
        let deadline = Instant::now() + Duration::from_secs(120);
        while browser.get(&format!("/customers/import/{clean_id}/progress")).await?.html.contains("data-status=\"running\"") {
            ensure!(Instant::now() < deadline, "the second import did not finish");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let list = browser.get("/customers?q=%E5%B9%BF%E5%B7%9E").await?;
        assert!(list.html.contains("广州花城贸易有限公司"), "{}", list.html);

        // A salesperson may import too, in Chinese; nobody else's uploads are theirs to see.
        add_salesperson(&server, "zhao", "zh-CN").await?;
        let zhao = Browser::new(&server, "en")?;
        zhao.sign_in("zhao", USER_PASSWORD).await?;
        let page = zhao.get("/customers/import").await?;
        assert!(page.html.contains("导入客户") && page.html.contains("上传"), "{}", page.html);
        assert_eq!(zhao.get(&format!("/customers/import/{id}")).await?.status, StatusCode::NOT_FOUND);
        assert_eq!(zhao.get(&format!("/customers/import/{copy}/progress")).await?.status, StatusCode::NOT_FOUND);
        server.stop().await;
        Ok(())
    }
}
