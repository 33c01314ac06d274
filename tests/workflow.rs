//! The workflow kernel on both backends, over real HTTP: administrators manage approval
//! definitions; submitted approvals walk their steps (conditions skip steps; approvers come
//! from users, roles, managers and department heads; any-of and all-of); approvers approve,
//! reject, return and transfer, submitters resubmit, urge and withdraw; each user's inbox shows
//! what waits for them; the history and the outbox record every action with whom to tell;
//! deadlines remind and escalate once; new customers of chosen categories wait for approval;
//! and a thousand simultaneous double approvals each land exactly once.

use std::collections::HashMap;

use anyhow::Context;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_tests::{Client, TestServer, USER_PASSWORD, both_backends, error_code};

/// An organisation with a small chart: `alice` (Sales, managed by `boss`) submits; `head`
/// heads Sales; `fin1` and `fin2` hold the Finance role (`fin1` is managed by `boss`);
/// `outsider` has nothing to do with anything.
struct Org {
    admin: Client,
    users: HashMap<&'static str, (i64, Client)>,
    finance_role: i64,
    sales_department: i64,
}

impl Org {
    fn id(&self, name: &str) -> i64 {
        self.users.get(name).map(|u| u.0).unwrap_or_default()
    }

    fn client(&self, name: &str) -> &Client {
        self.users.get(name).map(|u| &u.1).unwrap_or(&self.admin)
    }
}

async fn org(server: &TestServer) -> anyhow::Result<Org> {
    let admin = server.admin().await?;
    let sales_role = server.role_id(&admin, "Salesperson").await?;
    let (status, role) = admin.post("/api/v1/roles", &json!({ "name": "Finance" })).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{status} {role}");
    let finance_role = role["id"].as_i64().context("role id")?;
    let (status, dept) = admin.post("/api/v1/departments", &json!({ "name": "Sales" })).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{status} {dept}");
    let sales_department = dept["id"].as_i64().context("department id")?;
    let mut ids = HashMap::new();
    for (name, dept, roles) in [
        ("boss", None, vec![sales_role]),
        ("head", Some(sales_department), vec![sales_role]),
        ("alice", Some(sales_department), vec![sales_role]),
        ("fin1", None, vec![finance_role]),
        ("fin2", None, vec![finance_role]),
        ("outsider", None, vec![sales_role]),
    ] {
        ids.insert(name, server.add_user(&admin, name, dept, &roles).await?);
    }
    for (user, manager) in [("alice", "boss"), ("fin1", "boss")] {
        let (status, body) =
            admin.patch(&format!("/api/v1/users/{}", ids[user]), &json!({ "manager_id": ids[manager] })).await?;
        anyhow::ensure!(status == StatusCode::OK, "{status} {body}");
    }
    let (status, body) = admin
        .patch(&format!("/api/v1/departments/{sales_department}"), &json!({ "head_user_id": ids["head"] }))
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "{status} {body}");
    let mut users = HashMap::new();
    for (name, id) in ids {
        users.insert(name, (id, server.sign_in(name, USER_PASSWORD).await?));
    }
    Ok(Org { admin, users, finance_role, sales_department })
}

async fn definition(admin: &Client, body: Value) -> anyhow::Result<i64> {
    let (status, d) = admin.post("/api/v1/workflow/definitions", &body).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "definition {body}: {status} {d}");
    d["id"].as_i64().context("definition id")
}

async fn submit(client: &Client, definition_id: i64, title: &str, fields: Value) -> anyhow::Result<Value> {
    let (status, a) = client
        .post(
            "/api/v1/approvals",
            &json!({ "definition_id": definition_id, "subject_id": 1, "title": title, "fields": fields }),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "submit {title}: {status} {a}");
    Ok(a)
}

async fn act(client: &Client, id: i64, action: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
    client.post(&format!("/api/v1/approvals/{id}/{action}"), &body).await
}

/// Ids of the approvals in a user's inbox.
async fn inbox(client: &Client) -> anyhow::Result<Vec<i64>> {
    let (status, page) = client.get("/api/v1/approvals/inbox").await?;
    anyhow::ensure!(status == StatusCode::OK, "{status} {page}");
    Ok(page["items"].as_array().context("items")?.iter().filter_map(|a| a["id"].as_i64()).collect())
}

/// The `approval.*` events of an instance, oldest first, as (topic, payload).
async fn events(server: &TestServer, id: i64) -> anyhow::Result<Vec<(String, Value)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT topic, payload FROM outbox WHERE aggregate_type = 'approval' AND aggregate_id = $1 AND topic LIKE 'approval.%' ORDER BY id",
    )
    .bind(id)
    .fetch_all(server.store().pool())
    .await?;
    Ok(rows.into_iter().map(|(t, p)| (t, serde_json::from_str(&p).unwrap_or(Value::Null))).collect())
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default()
}

fn history_actions(a: &Value) -> Vec<String> {
    a["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

both_backends! {
    async fn definitions_are_managed_by_administrators(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let admin = &org.admin;
        let body = json!({ "name": "Expenses", "subject_type": "expense", "steps": [
            { "name": "Manager", "approvers": [{ "kind": "manager" }] },
            { "name": "Finance", "approvers": [{ "kind": "role", "role_id": org.finance_role }], "mode": "all",
              "condition": { "field": "amount", "op": ">", "value": 50000 }, "deadline_hours": 24, "remind_after_hours": 8,
              "escalate_to": { "kind": "approver_manager" } },
        ]});
        let (status, created) = admin.post("/api/v1/workflow/definitions", &body).await?;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["version"], 1);
        assert_eq!(created["steps"][1]["mode"], "all");
        assert_eq!(created["steps"][0]["mode"], "any", "any-of is the default");
        let id = created["id"].as_i64().context("id")?;

        let (status, list) = admin.get("/api/v1/workflow/definitions").await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(1));

        // Renaming keeps the version; new steps make a new one.
        let (status, renamed) = admin.patch(&format!("/api/v1/workflow/definitions/{id}"), &json!({ "name": "Travel expenses" })).await?;
        assert_eq!((status, renamed["version"].clone()), (StatusCode::OK, json!(1)), "{renamed}");
        let (status, changed) = admin
            .patch(&format!("/api/v1/workflow/definitions/{id}"), &json!({ "steps": [{ "name": "Head", "approvers": [{ "kind": "department_head" }] }] }))
            .await?;
        assert_eq!((status, changed["version"].clone()), (StatusCode::OK, json!(2)), "{changed}");
        assert_eq!(changed["name"], "Travel expenses");

        // Bad input is refused with a precise 422 that names what is wrong.
        let step = |extra: Value| {
            let mut s = json!({ "name": "S", "approvers": [{ "kind": "user", "user_id": org.id("boss") }] });
            if let (Some(s), Some(extra)) = (s.as_object_mut(), extra.as_object()) {
                s.extend(extra.clone());
            }
            json!({ "name": "Bad", "subject_type": "expense", "steps": [s] })
        };
        for (bad, says) in [
            (json!({ "name": "Bad", "subject_type": "expense", "steps": [] }), "1 to 20 steps"),
            (json!({ "name": "", "subject_type": "expense", "steps": [] }), "name"),
            (json!({ "name": "Bad", "subject_type": "Expense!", "steps": [] }), "subject type"),
            (json!({ "name": "Bad", "subject_type": "expense", "steps": [{ "name": "S", "approvers": [] }] }), "1 to 20 approvers"),
            (json!({ "name": "Bad", "subject_type": "expense", "steps": [{ "name": "S", "approvers": [{ "kind": "user", "user_id": 999_999 }] }] }), "does not exist"),
            (json!({ "name": "Bad", "subject_type": "expense", "steps": [{ "name": "S", "approvers": [{ "kind": "role", "role_id": 999_999 }] }] }), "does not exist"),
            (step(json!({ "condition": { "field": "amount", "op": ">", "value": "lots" } })), "compares with a number"),
            (step(json!({ "condition": { "field": "amount", "op": "in", "value": [] } })), "`in`"),
            (step(json!({ "escalate_to": { "kind": "approver_manager" } })), "deadline"),
            (step(json!({ "deadline_hours": 4, "remind_after_hours": 5 })), "before the deadline"),
            (step(json!({ "deadline_hours": 0 })), "8,760"),
        ] {
            let (status, err) = admin.post("/api/v1/workflow/definitions", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
            assert_eq!(error_code(&err), "invalid_input");
            let message = err["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{bad}: {message:?} should say {says:?}");
        }
        // Unknown fields and operators are refused too, not ignored.
        for bad in [
            step(json!({ "colour": "red" })),
            step(json!({ "condition": { "field": "amount", "op": "~", "value": 1 } })),
            step(json!({ "approvers": [{ "kind": "astrologer" }] })),
        ] {
            let (status, err) = admin.post("/api/v1/workflow/definitions", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        }

        // Only administrators manage definitions.
        let alice = org.client("alice");
        let (status, err) = alice.get("/api/v1/workflow/definitions").await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
        let (status, _) = alice.post("/api/v1/workflow/definitions", &body).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = alice.delete(&format!("/api/v1/workflow/definitions/{id}")).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, err) = admin.get("/api/v1/workflow/definitions/999999").await?;
        assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "not_found".to_owned()));
        let (status, _) = admin.patch("/api/v1/workflow/definitions/999999", &json!({ "name": "x" })).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A definition nobody used goes; one that was used is archived and starts nothing new.
        let (status, _) = admin.delete(&format!("/api/v1/workflow/definitions/{id}")).await?;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin.get(&format!("/api/v1/workflow/definitions/{id}")).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let used = definition(admin, json!({ "name": "Used", "subject_type": "expense", "steps": [{ "name": "Boss", "approvers": [{ "kind": "user", "user_id": org.id("boss") }] }] })).await?;
        submit(alice, used, "Taxi", json!({})).await?;
        let (status, _) = admin.delete(&format!("/api/v1/workflow/definitions/{used}")).await?;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, archived) = admin.get(&format!("/api/v1/workflow/definitions/{used}")).await?;
        assert_eq!(archived["active"], false);
        let (status, err) = alice
            .post("/api/v1/approvals", &json!({ "definition_id": used, "subject_id": 2, "title": "Bus" }))
            .await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        server.stop().await;
        Ok(())
    }

    async fn a_multi_step_flow_routes_to_managers_roles_and_heads_and_skips_steps(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let def = definition(&org.admin, json!({ "name": "Expenses", "subject_type": "expense", "steps": [
            { "name": "Manager", "approvers": [{ "kind": "manager" }] },
            { "name": "Big amounts", "approvers": [{ "kind": "user", "user_id": org.id("outsider") }],
              "condition": { "field": "amount", "op": ">", "value": 50000 } },
            { "name": "Finance", "approvers": [{ "kind": "role", "role_id": org.finance_role }], "mode": "all" },
            { "name": "Head of Sales", "approvers": [{ "kind": "department_head", "department_id": org.sales_department }] },
        ]})).await?;
        let (alice, boss, head, fin1, fin2, outsider) = (
            org.client("alice"), org.client("boss"), org.client("head"), org.client("fin1"), org.client("fin2"), org.client("outsider"),
        );

        let a = submit(alice, def, "Trip to Shenzhen", json!({ "amount": 1000 })).await?;
        let id = a["id"].as_i64().context("id")?;
        assert_eq!(a["state"], "pending");
        assert_eq!(a["step"], 0);
        assert_eq!(a["steps"][1]["skipped"], true, "1,000 is not above 50,000: {a}");
        assert_eq!(ids(&a["steps"][2]["approvers"]), vec![org.id("fin1"), org.id("fin2")]);
        assert_eq!(ids(&a["waiting_for"]), vec![org.id("boss")]);
        assert_eq!(inbox(boss).await?, vec![id]);
        assert!(inbox(fin1).await?.is_empty());

        // People with no part in it neither see it nor act on it; later approvers wait their turn.
        let (status, err) = outsider.get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "forbidden".to_owned()));
        let (status, _) = act(outsider, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, err) = act(fin1, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
        let (status, _) = act(alice, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "the submitter is not an approver here");

        let (status, a) = act(boss, id, "approve", json!({ "comment": "fine by me" })).await?;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_eq!(a["step"], 2, "the big-amount step is skipped");
        assert_eq!(ids(&a["waiting_for"]), vec![org.id("fin1"), org.id("fin2")]);
        let (status, err) = act(boss, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT, "a second click on a decided step: {err}");
        assert!(inbox(boss).await?.is_empty());

        // All of Finance must approve.
        let (_, a) = act(fin1, id, "approve", json!({})).await?;
        assert_eq!((a["step"].clone(), ids(&a["waiting_for"])), (json!(2), vec![org.id("fin2")]));
        let (status, _) = act(fin1, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(inbox(fin1).await?.is_empty());
        assert_eq!(inbox(fin2).await?, vec![id]);
        let (_, a) = act(fin2, id, "approve", json!({})).await?;
        assert_eq!((a["step"].clone(), ids(&a["waiting_for"])), (json!(3), vec![org.id("head")]));
        let (status, a) = act(head, id, "approve", json!({ "comment": "go" })).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(a["state"], "approved");
        assert!(a["finished_at"].is_string());

        // The history has every action with its actor and comment; the submitter's list shows it.
        let (status, detail) = alice.get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(history_actions(&detail), ["submit", "approve", "approve", "approve", "approve"]);
        let h = &detail["history"];
        assert_eq!(h[1]["actor_user_id"], org.id("boss"));
        assert_eq!(h[1]["comment"], "fine by me");
        assert_eq!(h[1]["step"], 0);
        assert_eq!(h[4]["step"], 3);
        assert!(h[0]["at"].is_string());
        let (_, visible) = fin1.get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!(visible["id"], id, "approvers of any step see it");
        let (_, visible) = org.admin.get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!(visible["id"], id, "administrators see it");
        let (_, mine) = alice.get("/api/v1/approvals/mine?state=approved").await?;
        assert_eq!(mine["items"][0]["id"], id);
        assert!(mine["items"][0].get("history").is_none(), "lists leave the history out");

        // The outbox told the right people at each step.
        let got = events(&server, id).await?;
        let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["approval.submitted", "approval.waiting", "approval.waiting", "approval.waiting", "approval.approved"]);
        let notify: Vec<Vec<i64>> = got.iter().map(|(_, p)| ids(&p["notify"])).collect();
        assert_eq!(notify, vec![
            vec![org.id("boss")],
            vec![org.id("fin1"), org.id("fin2")],
            vec![],
            vec![org.id("head")],
            vec![org.id("alice")],
        ]);
        let (_, approved) = &got[4];
        assert_eq!(approved["instance_id"], id);
        assert_eq!(approved["definition_id"], def);
        assert_eq!(approved["subject_type"], "expense");
        assert_eq!(approved["subject_id"], 1);
        assert_eq!(approved["title"], "Trip to Shenzhen");
        assert_eq!(approved["actor_user_id"], org.id("head"));
        assert_eq!(approved["comment"], "go");
        assert_eq!(got[1].1["step"], 2);
        let completed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE topic = 'workflow.completed' AND aggregate_id = $1")
            .bind(id)
            .fetch_one(server.store().pool())
            .await?;
        assert_eq!(completed, 1);

        // A big amount runs the step the small one skipped.
        let big = submit(alice, def, "Trade fair", json!({ "amount": 60000 })).await?;
        let big_id = big["id"].as_i64().context("id")?;
        assert_eq!(big["steps"][1]["skipped"], false);
        act(boss, big_id, "approve", json!({})).await?;
        assert_eq!(inbox(outsider).await?, vec![big_id]);

        // A paged inbox: one at a time, then the next page.
        let third = submit(alice, def, "Lunch", json!({ "amount": 10 })).await?;
        let (_, page1) = boss.get("/api/v1/approvals/inbox?limit=1").await?;
        assert_eq!(page1["items"][0]["id"], third["id"]);
        assert!(page1["next_before_id"].is_null(), "boss has one waiting: {page1}");
        let (_, all) = alice.get("/api/v1/approvals/mine?limit=2").await?;
        let next = all["next_before_id"].as_i64().context("a next page")?;
        let (_, rest) = alice.get(&format!("/api/v1/approvals/mine?limit=2&before_id={next}")).await?;
        assert_eq!(rest["items"][0]["id"], id);
        let (status, _) = alice.get("/api/v1/approvals/mine?limit=0").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = alice.get("/api/v1/approvals/mine?state=lost").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // A step that resolves to nobody is refused at submission, naming the step.
        let nobody = definition(&org.admin, json!({ "name": "Managers", "subject_type": "expense", "steps": [
            { "name": "My manager", "approvers": [{ "kind": "manager" }] }] })).await?;
        let (status, err) = outsider
            .post("/api/v1/approvals", &json!({ "definition_id": nobody, "subject_id": 1, "title": "x" }))
            .await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["error"]["message"].as_str().unwrap_or_default().contains("My manager"), "{err}");
        server.stop().await;
        Ok(())
    }

    async fn return_resubmit_transfer_urge_withdraw_and_reject(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let def = definition(&org.admin, json!({ "name": "Leave", "subject_type": "leave", "steps": [
            { "name": "Boss", "approvers": [{ "kind": "user", "user_id": org.id("boss") }] }] })).await?;
        let (alice, boss, head) = (org.client("alice"), org.client("boss"), org.client("head"));
        let a = submit(alice, def, "Three days off", json!({ "days": 3 })).await?;
        let id = a["id"].as_i64().context("id")?;

        let (status, a) = act(boss, id, "return", json!({ "comment": "which days?" })).await?;
        assert_eq!((status, a["state"].clone()), (StatusCode::OK, json!("returned")), "{a}");
        assert!(inbox(boss).await?.is_empty());
        let (status, _) = act(boss, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT, "a returned approval waits for its submitter");
        let (status, _) = act(boss, id, "resubmit", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "only the submitter resubmits");
        let (status, a) = act(alice, id, "resubmit", json!({ "comment": "Mon to Wed" })).await?;
        assert_eq!((status, a["state"].clone(), a["step"].clone()), (StatusCode::OK, json!("pending"), json!(0)));
        let (status, _) = act(alice, id, "resubmit", json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT);

        // Transfer hands the step to someone else.
        let (status, err) = act(boss, id, "transfer", json!({})).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let (status, _) = act(boss, id, "transfer", json!({ "to_user_id": 999_999 })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = act(boss, id, "transfer", json!({ "to_user_id": org.id("boss") })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = act(boss, id, "approve", json!({ "to_user_id": org.id("head") })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "to_user_id is for transfers");
        let (status, a) = act(boss, id, "transfer", json!({ "to_user_id": org.id("head"), "comment": "I am away" })).await?;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_eq!(ids(&a["waiting_for"]), vec![org.id("head")]);
        assert_eq!(inbox(head).await?, vec![id]);
        let (status, _) = act(boss, id, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "boss handed the step over");
        let (status, _) = boss.get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!(status, StatusCode::OK, "a former approver still sees it");

        // Urging nudges the current approvers, once in a while, and only the submitter may.
        let (status, _) = act(head, id, "urge", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, a) = act(alice, id, "urge", json!({ "comment": "please" })).await?;
        assert_eq!(status, StatusCode::OK, "{a}");
        let (status, err) = act(alice, id, "urge", json!({})).await?;
        assert_eq!((status, error_code(&err)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts".to_owned()));

        // Withdrawal ends it; nothing more can happen.
        let (status, _) = act(head, id, "withdraw", json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, a) = act(alice, id, "withdraw", json!({})).await?;
        assert_eq!((status, a["state"].clone()), (StatusCode::OK, json!("withdrawn")));
        for action in ["approve", "withdraw", "urge", "reject"] {
            let (status, err) = act(if action == "approve" || action == "reject" { head } else { alice }, id, action, json!({})).await?;
            assert_eq!(status, StatusCode::CONFLICT, "{action} after withdrawal: {err}");
        }
        assert!(inbox(head).await?.is_empty());

        let (_, detail) = alice.get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!(history_actions(&detail), ["submit", "return", "resubmit", "transfer", "urge", "withdraw"]);
        assert_eq!(detail["history"][1]["comment"], "which days?");
        assert_eq!(ids(&detail["history"][3]["to_user_ids"]), vec![org.id("head")]);
        assert_eq!(detail["history"][4]["actor_user_id"], org.id("alice"));

        let got = events(&server, id).await?;
        let summary: Vec<(String, Vec<i64>)> = got.iter().map(|(t, p)| (t.clone(), ids(&p["notify"]))).collect();
        assert_eq!(summary, vec![
            ("approval.submitted".to_owned(), vec![org.id("boss")]),
            ("approval.returned".to_owned(), vec![org.id("alice")]),
            ("approval.submitted".to_owned(), vec![org.id("boss")]),
            ("approval.transferred".to_owned(), vec![org.id("head")]),
            ("approval.urged".to_owned(), vec![org.id("head")]),
            ("approval.withdrawn".to_owned(), vec![org.id("head")]),
        ]);
        assert_eq!(got[1].1["comment"], "which days?");
        assert_eq!(got[1].1["state"], "returned");

        // Rejection is final and tells the submitter.
        let b = submit(alice, def, "A week off", json!({})).await?;
        let b_id = b["id"].as_i64().context("id")?;
        let (status, b) = act(boss, b_id, "reject", json!({ "comment": "busy season" })).await?;
        assert_eq!((status, b["state"].clone()), (StatusCode::OK, json!("rejected")));
        let (status, _) = act(alice, b_id, "withdraw", json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT);
        let got = events(&server, b_id).await?;
        assert_eq!(got.last().map(|(t, p)| (t.as_str(), ids(&p["notify"]))), Some(("approval.rejected", vec![org.id("alice")])));

        let (status, _) = alice.get("/api/v1/approvals/999999").await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = act(alice, 999_999, "approve", json!({})).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = act(alice, b_id, "approve", json!({ "comment": "x".repeat(2001) })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        server.stop().await;
        Ok(())
    }

    async fn customers_of_chosen_categories_wait_for_approval(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let admin = &org.admin;
        let def = definition(admin, json!({ "name": "New partners", "subject_type": "customer", "steps": [
            { "name": "Manager", "approvers": [{ "kind": "manager" }] },
            { "name": "Credit", "approvers": [{ "kind": "department_head" }],
              "condition": { "field": "credit_limit", "op": ">=", "value": 5000000 } }] })).await?;
        let expense = definition(admin, json!({ "name": "Other", "subject_type": "expense", "steps": [
            { "name": "Boss", "approvers": [{ "kind": "user", "user_id": org.id("boss") }] }] })).await?;

        for (bad, field) in [
            (json!({ "categories": ["partner"], "definition_id": expense }), "definition_id"),
            (json!({ "categories": ["partner"] }), "definition_id"),
            (json!({ "categories": ["no-such-category"], "definition_id": def }), "categories"),
            (json!({ "categories": ["partner"], "definition_id": 999_999 }), "definition_id"),
        ] {
            let (status, err) = admin.put("/api/v1/workflow/customer-approval", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
            assert_eq!(err["error"]["field"], field, "{err}");
        }
        let (status, _) = org.client("alice").put("/api/v1/workflow/customer-approval", &json!({ "categories": [] })).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, setting) = admin
            .put("/api/v1/workflow/customer-approval", &json!({ "categories": ["partner", "distributor"], "definition_id": def }))
            .await?;
        assert_eq!(status, StatusCode::OK, "{setting}");
        let (_, setting) = admin.get("/api/v1/workflow/customer-approval").await?;
        assert_eq!(setting["categories"], json!(["partner", "distributor"]));
        let (status, err) = admin.delete(&format!("/api/v1/workflow/definitions/{def}")).await?;
        assert_eq!(status, StatusCode::CONFLICT, "the setting uses it: {err}");

        let (alice, boss, head) = (org.client("alice"), org.client("boss"), org.client("head"));
        let (status, plain) = alice.post("/api/v1/customers", &json!({ "name": "Plain Customer", "category": "customer" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{plain}");
        assert_eq!(plain["approval_state"], "active");
        assert!(plain["approval_instance_id"].is_null());

        let (status, partner) = alice.post("/api/v1/customers", &json!({ "name": "深圳伙伴科技", "category": "partner" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{partner}");
        assert_eq!(partner["approval_state"], "pending");
        let instance = partner["approval_instance_id"].as_i64().context("an approval started")?;
        let customer_id = partner["id"].as_i64().context("id")?;
        let (_, waiting) = boss.get("/api/v1/approvals/inbox").await?;
        assert_eq!(waiting["items"][0]["id"], instance);
        assert_eq!(waiting["items"][0]["title"], "深圳伙伴科技");
        assert_eq!(waiting["items"][0]["subject_type"], "customer");
        assert_eq!(waiting["items"][0]["subject_id"], customer_id);
        assert_eq!(waiting["items"][0]["steps"][1]["skipped"], true, "no credit limit");
        let created_payload: String = sqlx::query_scalar("SELECT payload FROM outbox WHERE topic = 'customer.created' AND aggregate_id = $1")
            .bind(customer_id)
            .fetch_one(server.store().pool())
            .await?;
        assert!(created_payload.contains("\"approval_state\":\"pending\""), "{created_payload}");

        let (status, a) = act(boss, instance, "approve", json!({})).await?;
        assert_eq!((status, a["state"].clone()), (StatusCode::OK, json!("approved")), "{a}");
        let (_, now) = alice.get(&format!("/api/v1/customers/{customer_id}")).await?;
        assert_eq!(now["approval_state"], "active");
        assert_eq!(now["approval_instance_id"], instance);

        // A large credit limit brings in the department head, who rejects.
        let (_, big) = alice
            .post("/api/v1/customers", &json!({ "name": "Big Distributor", "category": "distributor", "credit_limit": 9_000_000 }))
            .await?;
        let big_instance = big["approval_instance_id"].as_i64().context("instance")?;
        let big_id = big["id"].as_i64().context("id")?;
        act(boss, big_instance, "approve", json!({})).await?;
        assert_eq!(inbox(head).await?, vec![big_instance]);
        let (status, _) = act(head, big_instance, "reject", json!({ "comment": "too risky" })).await?;
        assert_eq!(status, StatusCode::OK);
        let (_, rejected) = alice.get(&format!("/api/v1/customers/{big_id}")).await?;
        assert_eq!(rejected["approval_state"], "rejected");

        // Lists show the state as well.
        let (_, list) = alice.get("/api/v1/customers").await?;
        let states: HashMap<i64, String> = list["items"]
            .as_array()
            .context("items")?
            .iter()
            .filter_map(|c| Some((c["id"].as_i64()?, c["approval_state"].as_str()?.to_owned())))
            .collect();
        assert_eq!(states.get(&big_id).map(String::as_str), Some("rejected"));
        assert_eq!(states.get(&customer_id).map(String::as_str), Some("active"));

        // Submitting a customer by hand takes the customer's own name and fields.
        let (status, by_hand) = alice
            .post("/api/v1/approvals", &json!({ "definition_id": def, "subject_id": plain["id"], "title": "ignored" }))
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{by_hand}");
        assert_eq!(by_hand["title"], "Plain Customer");
        assert_eq!(by_hand["fields"]["category"], "customer");
        let (status, _) = org.client("outsider")
            .post("/api/v1/approvals", &json!({ "definition_id": def, "subject_id": plain["id"] }))
            .await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "a customer one may not read is not there");

        // Imported customers of those categories wait for approval too.
        let csv = "name,category\n导入伙伴一号,partner\n导入普通客户,customer\n";
        let path = "/api/v1/customer-imports?file_name=partners.csv";
        let (status, upload) = alice
            .send(alice.request(reqwest::Method::POST, path).header("content-type", "application/octet-stream").body(csv.as_bytes().to_vec()))
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{upload}");
        let import = upload["id"].as_i64().context("import id")?;
        let plan = json!({ "mapping": { "name": "name", "category": "category" }, "dedupe": "skip" });
        let (status, started) = alice.post(&format!("/api/v1/customer-imports/{import}/run"), &plan).await?;
        assert!(status.is_success(), "{status} {started}");
        let mut states = Vec::new();
        for _ in 0..200 {
            let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
                "SELECT name, approval_state, approval_instance_id FROM customers WHERE name LIKE '导入%' ORDER BY name",
            )
            .fetch_all(server.store().pool())
            .await?;
            if rows.len() == 2 {
                states = rows;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(states.len(), 2, "the import ran");
        assert_eq!((states[0].0.as_str(), states[0].1.as_str()), ("导入伙伴一号", "pending"), "{states:?}");
        assert!(states[0].2.is_some_and(|i| i > 0));
        assert_eq!((states[1].1.as_str(), states[1].2), ("active", None), "{states:?}");
        let (_, waiting) = boss.get("/api/v1/approvals/inbox").await?;
        assert!(waiting["items"].as_array().is_some_and(|w| w.iter().any(|a| a["title"] == "导入伙伴一号")), "{waiting}");

        // Turning it off lets partners in at once.
        admin.put("/api/v1/workflow/customer-approval", &json!({ "categories": [] })).await?;
        let (_, free) = alice.post("/api/v1/customers", &json!({ "name": "Free Partner", "category": "partner" })).await?;
        assert_eq!(free["approval_state"], "active");
        server.stop().await;
        Ok(())
    }

    async fn deadlines_remind_and_escalate_once(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let def = definition(&org.admin, json!({ "name": "Purchases", "subject_type": "purchase", "steps": [
            { "name": "Finance", "approvers": [{ "kind": "user", "user_id": org.id("fin1") }],
              "deadline_hours": 4, "remind_after_hours": 1, "escalate_to": { "kind": "approver_manager" } },
            { "name": "Head", "approvers": [{ "kind": "user", "user_id": org.id("head") }],
              "deadline_hours": 2, "escalate_to": { "kind": "user", "user_id": org.id("fin2") } }] })).await?;
        let quiet = definition(&org.admin, json!({ "name": "No deadline", "subject_type": "purchase", "steps": [
            { "name": "Someone", "approvers": [{ "kind": "user", "user_id": org.id("outsider") }] }] })).await?;
        let store = server.store();
        let start = tessera_host::store::now_ms();
        let a = submit(org.client("alice"), def, "Laptops", json!({})).await?;
        let id = a["id"].as_i64().context("id")?;
        submit(org.client("alice"), quiet, "Pens", json!({})).await?;
        let hour = 3_600_000;

        assert_eq!(tessera_host::workflow::run_deadlines(store, start + hour / 2).await?, 0, "nothing is due yet");
        assert_eq!(tessera_host::workflow::run_deadlines(store, start + hour + 60_000).await?, 1, "the reminder");
        assert_eq!(tessera_host::workflow::run_deadlines(store, start + hour + 60_000).await?, 0, "once");
        assert_eq!(tessera_host::workflow::run_deadlines(store, start + 2 * hour).await?, 0);
        assert_eq!(tessera_host::workflow::run_deadlines(store, start + 5 * hour).await?, 1, "the escalation");
        assert_eq!(tessera_host::workflow::run_deadlines(store, start + 50 * hour).await?, 0, "once");

        // fin1's manager (boss) now decides the step too.
        assert_eq!(inbox(org.client("boss")).await?, vec![id]);
        let (status, a) = act(org.client("boss"), id, "approve", json!({})).await?;
        assert_eq!((status, a["step"].clone()), (StatusCode::OK, json!(1)), "{a}");
        assert!(inbox(org.client("fin1")).await?.is_empty(), "the step was decided");

        // The second step started now; with no reminder time it is reminded at its deadline,
        // when it also escalates to the named user.
        let later = tessera_host::store::now_ms() + 3 * hour;
        assert_eq!(tessera_host::workflow::run_deadlines(store, later).await?, 2);
        assert_eq!(tessera_host::workflow::run_deadlines(store, later).await?, 0);
        assert_eq!(inbox(org.client("fin2")).await?, vec![id]);

        let (_, detail) = org.client("alice").get(&format!("/api/v1/approvals/{id}")).await?;
        assert_eq!(history_actions(&detail), ["submit", "remind", "escalate", "approve", "remind", "escalate"]);
        assert!(detail["history"][1]["actor_user_id"].is_null(), "the host reminds");
        assert_eq!(ids(&detail["history"][2]["to_user_ids"]), vec![org.id("boss")]);
        let summary: Vec<(String, Vec<i64>)> =
            events(&server, id).await?.iter().map(|(t, p)| (t.clone(), ids(&p["notify"]))).collect();
        assert_eq!(summary, vec![
            ("approval.submitted".to_owned(), vec![org.id("fin1")]),
            ("approval.reminder".to_owned(), vec![org.id("fin1")]),
            ("approval.escalated".to_owned(), vec![org.id("boss")]),
            ("approval.waiting".to_owned(), vec![org.id("head")]),
            ("approval.reminder".to_owned(), vec![org.id("head")]),
            ("approval.escalated".to_owned(), vec![org.id("fin2")]),
        ]);
        server.stop().await;
        Ok(())
    }

    async fn approvers_and_submitters_are_notified(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let def = definition(&org.admin, json!({ "name": "Leave", "subject_type": "leave", "steps": [
            { "name": "Boss", "approvers": [{ "kind": "user", "user_id": org.id("boss") }] }] })).await?;
        let (alice, boss) = (org.client("alice"), org.client("boss"));
        let a = submit(alice, def, "年假三天", json!({ "days": 3 })).await?;
        let id = a["id"].as_i64().context("id")?;
        // The dispatcher turns the events into notifications: the approver is told it waits.
        let told = |client: &Client, n: usize| {
            let client = client.clone();
            async move {
                for _ in 0..200 {
                    let (_, page) = client.get("/api/v1/notifications").await?;
                    let items = page["items"].as_array().cloned().unwrap_or_default();
                    if items.len() >= n {
                        return Ok::<_, anyhow::Error>(items);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                anyhow::bail!("never told {n} times")
            }
        };
        let items = told(boss, 1).await?;
        assert_eq!(items[0]["title"], "待你审批：年假三天", "{}", items[0]);
        assert_eq!(items[0]["kind"], "approval_waiting");
        assert_eq!(items[0]["link"], format!("/approvals/{id}"));
        let (status, _) = act(boss, id, "approve", json!({ "comment": "好的" })).await?;
        assert_eq!(status, StatusCode::OK);
        let items = told(alice, 1).await?;
        assert_eq!(items[0]["title"], "审批已通过：年假三天", "{}", items[0]);
        assert_eq!(items[0]["body"], "意见：好的");
        assert_eq!(items[0]["kind"], "approval_update");
        // Nobody is told of their own action.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(told(boss, 1).await?.len(), 1);
        server.stop().await;
        Ok(())
    }

    async fn a_thousand_double_approvals_each_land_exactly_once(backend) {
        let server = TestServer::start(backend).await?;
        let org = org(&server).await?;
        let def = definition(&org.admin, json!({ "name": "Quick", "subject_type": "quote", "steps": [
            { "name": "Either", "approvers": [{ "kind": "user", "user_id": org.id("fin1") }, { "kind": "user", "user_id": org.id("fin2") }] }] })).await?;
        let alice = org.client("alice").clone();
        let instances: Vec<i64> = futures::stream::iter(0..1000)
            .map(|n| {
                let alice = alice.clone();
                async move {
                    let a = submit(&alice, def, &format!("Quote {n}"), json!({ "n": n })).await?;
                    a["id"].as_i64().context("id")
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<anyhow::Result<i64>>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        assert_eq!(instances.len(), 1000);

        let (fin1, fin2) = (org.client("fin1").clone(), org.client("fin2").clone());
        let attempts = instances.iter().flat_map(|id| [(*id, fin1.clone()), (*id, fin2.clone())]);
        let results: Vec<(i64, StatusCode, Value)> = futures::stream::iter(attempts)
            .map(|(id, client)| async move {
                let (status, body) = act(&client, id, "approve", json!({})).await?;
                anyhow::Ok((id, status, body))
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        let mut per_instance: HashMap<i64, Vec<StatusCode>> = HashMap::new();
        for (id, status, body) in &results {
            if *status == StatusCode::CONFLICT {
                assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
            }
            per_instance.entry(*id).or_default().push(*status);
        }
        assert_eq!(per_instance.len(), 1000);
        for (id, statuses) in &per_instance {
            let mut s = statuses.clone();
            s.sort();
            assert_eq!(s, vec![StatusCode::OK, StatusCode::CONFLICT], "instance {id}");
        }

        let pool = server.store().pool();
        let approves: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT instance_id, COUNT(*) FROM approval_history WHERE action = 'approve' GROUP BY instance_id",
        )
        .fetch_all(pool)
        .await?;
        assert_eq!(approves.len(), 1000);
        assert!(approves.iter().all(|(_, n)| *n == 1), "one approval in each history");
        let approved_events: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT aggregate_id, COUNT(*) FROM outbox WHERE topic = 'approval.approved' GROUP BY aggregate_id",
        )
        .fetch_all(pool)
        .await?;
        assert_eq!(approved_events.len(), 1000);
        assert!(approved_events.iter().all(|(_, n)| *n == 1), "one approval.approved per instance");
        let states: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approval_instances WHERE state = 'approved' AND version = 2")
            .fetch_one(pool)
            .await?;
        assert_eq!(states, 1000, "every instance approved with exactly one write after submission");
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approval_waiting").fetch_one(pool).await?;
        assert_eq!(waiting, 0);
        server.stop().await;
        Ok(())
    }
}
