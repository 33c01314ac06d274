//! Customer imports over HTTP on both backends: messy files (GBK and UTF-8, full-width digits,
//! repeated rows, missing names, a 10 MB cell, broken quoting), all-or-nothing runs, re-runs
//! that import nothing twice, XLSX, and the dedupe choices.

use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_tests::{Client, TestServer, both_backends};

async fn upload(client: &Client, file_name: &str, bytes: Vec<u8>) -> anyhow::Result<(StatusCode, Value)> {
    let path = format!(
        "/api/v1/customer-imports?file_name={}",
        file_name.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
    );
    client
        .send(client.request(Method::POST, &path).header("content-type", "application/octet-stream").body(bytes))
        .await
}

async fn finish(client: &Client, id: i64) -> anyhow::Result<Value> {
    for _ in 0..200 {
        let (_, info) = client.get(&format!("/api/v1/customer-imports/{id}")).await?;
        if info["status"] == "done" || info["status"] == "failed" {
            return Ok(info);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("import {id} did not finish")
}

async fn count(server: &TestServer) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM customers").fetch_one(server.store().pool()).await?)
}

const CLEAN: &str = "客户名称,电话,级别,联系人,联系人手机,信用额度,标签\n\
北京科技有限公司,０１０－１２３４５６７８,A 重点客户,王经理,１３８ １２３４ ５６７８,\"12,500.50\",vip、华北\n\
上海贸易有限公司,021-5555 6666,b,李总,13900001111,300,\n\
北京科技,010 1234 5678,a,,,,\n\
\"Acme Co., Ltd.\",+1 (415) 555-0100,C 一般客户,\"Smith, John\",,0,export\n";

both_backends! {
    async fn a_clean_file_imports_once_and_only_once(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let (status, info) = upload(&admin, "客户.csv", CLEAN.as_bytes().to_vec()).await?;
        assert_eq!(status, StatusCode::CREATED, "{info}");
        assert_eq!(info["encoding"], "utf-8");
        assert_eq!(info["total_rows"], 4);
        let mapping = info["suggested_mapping"].clone();
        assert_eq!(mapping["客户名称"], "name");
        assert_eq!(mapping["联系人手机"], "contact_phone");
        assert_eq!(mapping["信用额度"], "credit_limit");
        let id = info["id"].as_i64().context("id")?;
        let plan = json!({ "mapping": mapping, "dedupe": "skip" });
        let (status, report) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &plan).await?;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["new_customers"], 3);
        assert_eq!(report["repeated_in_file"], 1, "北京科技 repeats row 2 (same name without 有限公司, same phone)");
        assert_eq!(count(&server).await?, 0, "a dry run changes nothing");
        let (status, started) = admin.post(&format!("/api/v1/customer-imports/{id}/run"), &plan).await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let done = finish(&admin, id).await?;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(count(&server).await?, 3);
        let (_, found) = admin.get("/api/v1/customers/by-phone/01012345678").await?;
        let bj = &found["customers"][0];
        assert_eq!(bj["name"], "北京科技有限公司");
        assert_eq!(bj["level"], "a", "labels map to option values");
        assert_eq!(bj["credit_limit"], 1_250_050);
        assert_eq!(bj["tags"], json!(["vip", "华北"]));
        let (_, contact) = admin.get("/api/v1/customers/by-phone/13812345678").await?;
        assert_eq!(contact["contacts"][0]["name"], "王经理", "full-width digits are normalised");
        let (_, acme) = admin.get("/api/v1/customers?q=acme").await?;
        assert_eq!(acme["items"][0]["phones"][0]["canonical"], "+14155550100");
        // The same run twice: refused. The same file again: nothing imported twice.
        assert_eq!(admin.post(&format!("/api/v1/customer-imports/{id}/run"), &plan).await?.0, StatusCode::CONFLICT);
        let (_, again) = upload(&admin, "客户.csv", CLEAN.as_bytes().to_vec()).await?;
        assert_eq!(again["previously_imported_as"], id);
        let again_id = again["id"].as_i64().context("again")?;
        let (_, report) = admin.post(&format!("/api/v1/customer-imports/{again_id}/dry-run"), &plan).await?;
        assert_eq!(report["new_customers"], 0);
        assert_eq!(report["matched_existing"], 3);
        admin.post(&format!("/api/v1/customer-imports/{again_id}/run"), &plan).await?;
        assert_eq!(finish(&admin, again_id).await?["status"], "done");
        assert_eq!(count(&server).await?, 3, "running it twice imports nothing twice");
        let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM customers ORDER BY code").fetch_all(server.store().pool()).await?;
        assert!(codes.iter().all(|c| c.starts_with("KH-")) && codes.len() == 3);
        Ok(())
    }

    async fn a_messy_file_is_reported_row_by_row_and_imports_nothing(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let huge = "x".repeat(10 * 1024 * 1024);
        let text = format!(
            "客户名称,电话,级别,备注\n\
             广州制造有限公司,020-8888 9999,a,good\n\
             ,020-1111 2222,a,no name\n\
             深圳电子,not a phone,a,bad phone\n\
             杭州商贸,0571-8888 7777,金牌,unknown level\n\
             成都软件,028-8888 1111,b,{huge}\n\
             武汉物流,027-8888 2222,c,\"never closed\n"
        );
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let (status, info) = upload(&admin, "messy.csv", gbk.into_owned()).await?;
        assert_eq!(status, StatusCode::CREATED, "{info}");
        assert_eq!(info["encoding"], "gb18030");
        let id = info["id"].as_i64().context("id")?;
        let plan = json!({ "mapping": { "客户名称": "name", "电话": "phone", "级别": "level", "备注": "notes" } });
        let (_, report) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &plan).await?;
        assert_eq!(report["ok"], false);
        let rows: Vec<i64> = report["problems"].as_array().into_iter().flatten().filter_map(|p| p[0].as_i64()).collect();
        for bad_row in [3, 4, 5, 6, 7] {
            assert!(rows.contains(&bad_row), "row {bad_row} is reported: {report}");
        }
        assert!(!rows.contains(&2), "the good row is not");
        let messages = report["problems"].to_string();
        assert!(messages.contains("name is empty") && messages.contains("not a phone") && messages.contains("金牌") && messages.contains("10,000"), "{messages}");
        admin.post(&format!("/api/v1/customer-imports/{id}/run"), &plan).await?;
        let done = finish(&admin, id).await?;
        assert_eq!(done["status"], "failed");
        assert_eq!(count(&server).await?, 0, "nothing is half-imported");
        // Mapping mistakes are refused up front.
        let (status, body) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &json!({ "mapping": { "电话": "phone" } })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &json!({ "mapping": { "nope": "name" } })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(upload(&admin, "empty.csv", Vec::new()).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(upload(&admin, "fake.xlsx", b"not a zip".to_vec()).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        Ok(())
    }

    async fn xlsx_files_and_dedupe_by_update(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let (_, existing) = admin.post("/api/v1/customers", &json!({ "name": "南京化工有限公司", "level": "c", "tax_id": "9132ABC" })).await?;
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (col, h) in ["名称", "手机", "级别", "税号"].iter().enumerate() {
            sheet.write_string(0, col as u16, *h)?;
        }
        sheet.write_string(1, 0, "南京化工")?;
        sheet.write_number(1, 1, 13812340000.0)?;
        sheet.write_string(1, 2, "a")?;
        sheet.write_string(1, 3, "9132abc")?;
        sheet.write_string(2, 0, "苏州纺织")?;
        sheet.write_number(2, 1, 13812341111.0)?;
        let bytes = book.save_to_buffer()?;
        let (status, info) = upload(&admin, "book.xlsx", bytes).await?;
        assert_eq!(status, StatusCode::CREATED, "{info}");
        assert_eq!(info["sample"][0][1], "13812340000", "whole numbers read without .0");
        let id = info["id"].as_i64().context("id")?;
        let plan = json!({ "mapping": { "名称": "name", "手机": "phone", "级别": "level", "税号": "tax_id" }, "dedupe": "update" });
        let (_, report) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &plan).await?;
        assert_eq!(report["matched_existing"], 1, "{report}");
        assert_eq!(report["new_customers"], 1);
        admin.post(&format!("/api/v1/customer-imports/{id}/run"), &plan).await?;
        assert_eq!(finish(&admin, id).await?["status"], "done");
        let (_, updated) = admin.get(&format!("/api/v1/customers/{}", existing["id"])).await?;
        assert_eq!(updated["level"], "a", "update overwrites");
        assert_eq!(updated["phones"][0]["canonical"], "+8613812340000", "and adds phones");
        assert_eq!(count(&server).await?, 2);
        Ok(())
    }

    async fn exports_stay_in_scope_and_import_back(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        admin.post("/api/v1/customers", &json!({ "name": "出口客户一", "level": "a", "status": "signed", "credit_limit": 123_456,
            "tags": ["vip", "华东"], "phones": [{ "number": "021-5555 6666" }, { "number": "13800001111" }] })).await?;
        admin.post("/api/v1/customers", &json!({ "name": "出口客户二", "kind": "person" })).await?;
        let resp = admin.request(Method::GET, "/api/v1/customers/export/csv?sort=name").send().await?;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str()?.starts_with("text/csv"));
        let csv = resp.bytes().await?.to_vec();
        assert!(csv.starts_with("\u{feff}".as_bytes()), "a BOM for Excel");
        let text = String::from_utf8(csv.clone())?;
        assert!(text.contains("客户编码,客户名称,客户类型") && text.contains("A 重点客户") && text.contains("1234.56") && text.contains("vip、华东"), "{text}");
        assert_eq!(text.lines().count(), 3);
        // XLSX reads back with the import reader.
        let resp = admin.request(Method::GET, "/api/v1/customers/export/xlsx").send().await?;
        assert_eq!(resp.status(), StatusCode::OK);
        let xlsx = resp.bytes().await?.to_vec();
        let table = tessera_tests::tessera_host::customers::import_file::read_table("x.xlsx", &xlsx, &Default::default())?;
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.headers[1], "客户名称");
        assert_eq!(admin.get("/api/v1/customers/export/pdf").await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        // A salesperson has no export permission.
        let role = server.role_id(&admin, "Salesperson").await?;
        server.add_user(&admin, "sally", None, &[role]).await?;
        let sally = server.sign_in("sally", tessera_tests::USER_PASSWORD).await?;
        assert_eq!(sally.get("/api/v1/customers/export/csv").await?.0, StatusCode::FORBIDDEN);
        let (_, audit) = admin.get("/api/v1/audit-log?action=customer.exported").await?;
        assert_eq!(audit.as_array().map(Vec::len), Some(2));
        assert_eq!(audit[1]["detail"]["rows"], 2);
        // The export imports into another organisation as it was.
        tessera_tests::tessera_host::org::create(server.store(), &server.state.hasher, &tessera_tests::tessera_host::org::NewOrg {
            slug: "copy".into(), name: "Copy".into(), time_zone: "Asia/Shanghai".into(), admin_password: "copy admin passphrase".into(),
        }).await?;
        let other = server.anonymous();
        let (_, signed) = other.post("/api/v1/auth/sign-in", &json!({ "org": "copy", "username": "admin", "password": "copy admin passphrase" })).await?;
        let other = other.with_csrf(signed["csrf_token"].as_str().context("csrf")?.to_owned());
        let (_, info) = upload(&other, "export.csv", csv).await?;
        let mut mapping = info["suggested_mapping"].clone();
        mapping["负责人"] = json!("ignore");
        let id = info["id"].as_i64().context("id")?;
        let plan = json!({ "mapping": mapping });
        let (_, report) = other.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &plan).await?;
        assert_eq!(report["ok"], true, "{report}");
        other.post(&format!("/api/v1/customer-imports/{id}/run"), &plan).await?;
        assert_eq!(finish(&other, id).await?["status"], "done");
        let (_, copied) = other.get("/api/v1/customers?q=13800001111").await?;
        let c = &copied["items"][0];
        assert_eq!(c["name"], "出口客户一");
        assert_eq!(c["level"], "a");
        assert_eq!(c["status"], "signed");
        assert_eq!(c["credit_limit"], 123_456);
        assert_eq!(c["tags"], json!(["vip", "华东"]));
        assert_eq!(c["phones"].as_array().map(Vec::len), Some(2));
        Ok(())
    }

    async fn custom_fields_export_and_import_back(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        for field in [
            json!({ "key": "contract_no", "label_zh": "合同编号", "label_en": "Contract no.", "kind": "text", "unique": true }),
            json!({ "key": "employees", "label_zh": "员工人数", "label_en": "Employees", "kind": "number" }),
            json!({ "key": "size", "label_zh": "规模", "label_en": "Size", "kind": "option", "required": true,
                    "options": [{ "value": "small", "label_zh": "小型", "label_en": "Small" }, { "value": "large", "label_zh": "大型", "label_en": "Large" }] }),
            json!({ "key": "manager", "label_zh": "客户经理", "label_en": "Account manager", "kind": "user" }),
        ] {
            let (status, body) = admin.post("/api/v1/custom-fields", &field).await?;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (_, me) = admin.get("/api/v1/me").await?;
        let (status, c) = admin.post("/api/v1/customers", &json!({ "name": "自定义字段客户", "custom": {
            "contract_no": "HT-9", "employees": 250, "size": "large", "manager": me["id"] } })).await?;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let csv = admin.request(Method::GET, "/api/v1/customers/export/csv").send().await?.text().await?;
        assert!(csv.contains("合同编号") && csv.contains("HT-9") && csv.contains("大型") && csv.contains(",250,") && csv.contains(",admin"), "{csv}");
        assert_eq!(admin.delete(&format!("/api/v1/customers/{}", c["id"])).await?.0, StatusCode::NO_CONTENT);
        let (_, info) = upload(&admin, "back.csv", csv.into_bytes()).await?;
        assert_eq!(info["suggested_mapping"]["合同编号"], json!({ "custom": "contract_no" }));
        assert_eq!(info["suggested_mapping"]["规模"], json!({ "custom": "size" }));
        let mut mapping = info["suggested_mapping"].clone();
        mapping["负责人"] = json!("ignore");
        let id = info["id"].as_i64().context("id")?;
        let plan = json!({ "mapping": mapping });
        let (_, report) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &plan).await?;
        assert_eq!(report["ok"], true, "{report}");
        admin.post(&format!("/api/v1/customer-imports/{id}/run"), &plan).await?;
        assert_eq!(finish(&admin, id).await?["status"], "done");
        let (_, back) = admin.get("/api/v1/customers?q=自定义").await?;
        assert_eq!(back["items"][0]["custom"], json!({ "contract_no": "HT-9", "employees": 250, "size": "large", "manager": me["id"] }));
        // A new customer without the required field is a problem on its row; a bad option too.
        let (_, info) = upload(&admin, "req.csv", "客户名称,规模,员工人数\n缺规模公司,,10\n坏规模公司,巨型,10\n好公司,小型,\"1,000\"\n".as_bytes().to_vec()).await?;
        let id = info["id"].as_i64().context("id")?;
        let (_, report) = admin.post(&format!("/api/v1/customer-imports/{id}/dry-run"), &json!({ "mapping": info["suggested_mapping"] })).await?;
        let problems = report["problems"].to_string();
        assert!(problems.contains("Size (size) is required") && problems.contains("巨型"), "{report}");
        let rows: Vec<i64> = report["problems"].as_array().into_iter().flatten().filter_map(|p| p[0].as_i64()).collect();
        assert_eq!(rows, vec![2, 3]);
        assert_eq!(report["new_customers"], 1);
        Ok(())
    }
}
