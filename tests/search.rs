//! Quick search against the rows themselves, on both backends: for names, pinyin, initials,
//! contact names, codes and phone numbers of every length, the list answers exactly the
//! customers whose rows match, page after page, whether the search documents are up to date,
//! out of date after edits, or not built yet.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use tessera_host::access::{Access, Principal};
use tessera_host::customers::{self, CustomerQuery, names, phone, search};
use tessera_host::server::{self, ServeOptions};
use tessera_host::store::Store;
use tessera_host::web::WebConfig;
use tessera_tests::{ADMIN_PASSWORD, TestDb, both_backends};

/// The rows a search is checked against, read once per round of queries.
struct Rows {
    customers: Vec<(i64, String)>,
    contacts: Vec<(i64, String)>,
    phones: Vec<(i64, String, String)>,
}

impl Rows {
    async fn read(store: &Store, org_id: i64) -> anyhow::Result<Rows> {
        let pool = store.pool();
        Ok(Rows {
            customers: sqlx::query_as("SELECT id, search_text FROM customers WHERE org_id = $1")
                .bind(org_id)
                .fetch_all(pool)
                .await?,
            contacts: sqlx::query_as("SELECT customer_id, search_text FROM contacts WHERE org_id = $1")
                .bind(org_id)
                .fetch_all(pool)
                .await?,
            phones: sqlx::query_as("SELECT customer_id, digits_rev, canonical FROM phones WHERE org_id = $1")
                .bind(org_id)
                .fetch_all(pool)
                .await?,
        })
    }

    /// What a search must find: customers whose own search text or one of whose contacts'
    /// contains the text, or with a phone ending in the digits or equal to the number typed.
    fn expected(&self, q: &str) -> BTreeSet<i64> {
        let text = names::search_query(q).map(|t| t.replace(['%', '_'], "")).filter(|t| !t.is_empty());
        let digits = phone::search_digits(q);
        let mut found = BTreeSet::new();
        if let Some(t) = &text {
            let texts = self.customers.iter().chain(&self.contacts);
            found.extend(texts.filter(|(_, s)| s.contains(t.as_str())).map(|(id, _)| *id));
        }
        if let Some(d) = &digits {
            let reversed: String = d.chars().rev().collect();
            let canonical = phone::normalize(q, None).ok().map(|p| p.canonical);
            found.extend(
                self.phones
                    .iter()
                    .filter(|(_, rev, c)| rev.starts_with(&reversed) || canonical.as_deref() == Some(c.as_str()))
                    .map(|(id, _, _)| *id),
            );
        }
        found
    }
}

/// Every customer the list answers for `q`, newest first, through every page.
async fn listed(store: &Store, access: &Access, q: &str, page_size: i64) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::new();
    let mut query = CustomerQuery { q: Some(q.to_owned()), limit: Some(page_size), ..CustomerQuery::default() };
    loop {
        let page = customers::list(store, access, &query).await?;
        out.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Queries of every kind, taken from the data: pieces of names of one to five characters,
/// pinyin and initials, contact names, codes, phone endings and whole numbers, and text that
/// matches nothing.
async fn queries(store: &Store) -> anyhow::Result<Vec<String>> {
    let pool = store.pool();
    let names: Vec<(String, String)> =
        sqlx::query_as("SELECT name, code FROM customers ORDER BY id").fetch_all(pool).await?;
    let contacts: Vec<String> = sqlx::query_scalar("SELECT name FROM contacts ORDER BY id").fetch_all(pool).await?;
    let phones: Vec<String> = sqlx::query_scalar("SELECT raw FROM phones ORDER BY id").fetch_all(pool).await?;
    let mut qs: Vec<String> = Vec::new();
    for (i, (name, code)) in names.iter().enumerate().step_by(211) {
        let chars: Vec<char> = name.chars().collect();
        let len = 1 + i % 5;
        let start = i % chars.len().max(1);
        qs.push(chars.iter().skip(start).take(len).collect());
        let keys = names::search_keys(name);
        if let Some(full) = keys.full.first() {
            qs.push(full.chars().skip(i % 4).take(3 + i % 6).collect());
        }
        if let Some(initials) = keys.initials.first() {
            qs.push(initials.chars().take(2 + i % 4).collect());
        }
        qs.push(code.to_lowercase());
    }
    for (i, c) in contacts.iter().enumerate().step_by(601) {
        qs.push(c.chars().take(1 + i % 3).collect());
    }
    for (i, p) in phones.iter().enumerate().step_by(809) {
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        qs.push(digits.chars().skip(digits.len().saturating_sub(4 + i % 5)).collect());
        qs.push(p.clone());
    }
    qs.extend(
        [
            "有限公司",
            "上海",
            "科",
            "bj",
            "zzqx",
            "没有这家公司",
            "00000000",
            "Acme",
            "a",
            "间隔",
            "仓储服务",
            "cangchu",
        ]
        .map(str::to_owned),
    );
    qs.retain(|q| !q.trim().is_empty());
    qs.sort();
    qs.dedup();
    Ok(qs)
}

async fn compare(store: &Store, access: &Access, org_id: i64, qs: &[String], when: &str) -> anyhow::Result<()> {
    let rows = Rows::read(store, org_id).await?;
    for (i, q) in qs.iter().enumerate() {
        let want: Vec<i64> = rows.expected(q).into_iter().rev().collect();
        // Small pages for some queries, so that cursors cross branch and window boundaries.
        let got = listed(store, access, q, if i % 3 == 0 { 7 } else { 200 }).await?;
        assert_eq!(got, want, "{when}: the search {q:?} answered {} customers, the rows say {}", got.len(), want.len());
    }
    Ok(())
}

/// Adds a customer `gap` ids after the last one, so that the next customers start there.
async fn leave_a_gap(store: &Store, org_id: i64, n: u64, gap: i64) -> anyhow::Result<()> {
    let pool = store.pool();
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM customers").fetch_one(pool).await?;
    let name = format!("间隔{n}号仓储服务有限公司");
    sqlx::query(
        "INSERT INTO customers (id, org_id, code, name, kind, name_key, search_text, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'company', $5, $6, 0, 0)",
    )
    .bind(last + gap)
    .bind(org_id)
    .bind(format!("GAP-{n}"))
    .bind(&name)
    .bind(names::company_key(&name))
    .bind(customers::search_text_for(&name, &format!("GAP-{n}")))
    .execute(pool)
    .await?;
    if store.backend() == tessera_host::store::Backend::Postgres {
        sqlx::query("SELECT setval(pg_get_serial_sequence('customers', 'id'), $1)")
            .bind(last + gap)
            .execute(pool)
            .await?;
    }
    Ok(())
}

both_backends! {
    async fn search_answers_what_the_rows_say_before_during_and_after_indexing(backend) {
        let db = std::sync::Arc::new(TestDb::new(backend).await?);
        // Prepared but not serving: no indexer runs, so the test decides when documents are
        // built.
        let running = server::prepare(&ServeOptions {
            listen: "127.0.0.1:0".parse()?,
            database_url: db.url.clone(),
            web: WebConfig::default(),
            first_org_slug: "acme".into(),
            first_org_name: "Acme".into(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            demo: false,
            dispatch: Default::default(),
            mail: None,
            plugins: Default::default(),
        })
        .await?;
        let state = running.state.clone();
        let store = state.store.clone();
        let org_id = tessera_host::org::find_by_slug(&store, "acme").await?.context("org")?.id;
        // Three batches far apart in the id space, so that PostgreSQL's windows of ids (2,000
        // wide at first) meet pages that span gaps, empty windows and window edges inside a
        // batch.
        for (batch, gap) in [(0, 0), (1, 5_000), (2, 40_000)] {
            if gap > 0 {
                leave_a_gap(&store, org_id, batch, gap).await?;
            }
            tessera_host::demo::seed_customers(&state, org_id, 1_500, 11 + batch).await?;
        }
        let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'").fetch_one(store.pool()).await?;
        let access = Access::load(&store, Principal { org_id, user_id: admin_id, department_id: None }).await?;
        let qs = queries(&store).await?;
        assert!(qs.len() > 80, "{} queries", qs.len());

        compare(&store, &access, org_id, &qs, "nothing indexed yet").await?;
        let indexed = search::index_all(&store).await?;
        assert!(indexed >= 4_502, "customers and contacts indexed: {indexed}");
        search::compact(&store).await?;
        compare(&store, &access, org_id, &qs, "everything indexed").await?;

        // Edits leave some documents out of date: renamed customers, contacts renamed, moved
        // and deleted, customers deleted.
        let pool = store.pool();
        let some: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers ORDER BY id").fetch_all(pool).await?;
        for (n, id) in some.iter().step_by(149).enumerate() {
            let name = format!("改名{n}号精密仪器有限公司");
            sqlx::query("UPDATE customers SET name = $1, search_text = $2 WHERE id = $3")
                .bind(&name)
                .bind(customers::search_text_for(&name, "x"))
                .bind(id)
                .execute(pool)
                .await?;
        }
        let contact_ids: Vec<(i64, i64)> = sqlx::query_as("SELECT id, customer_id FROM contacts ORDER BY id").fetch_all(pool).await?;
        let mut moved = HashMap::new();
        for (n, (id, customer)) in contact_ids.iter().step_by(401).enumerate() {
            match n % 3 {
                0 => {
                    sqlx::query("UPDATE contacts SET search_text = $1 WHERE id = $2")
                        .bind(names::search_text("诸葛青云"))
                        .bind(id)
                        .execute(pool)
                        .await?;
                }
                1 => {
                    let to = some[(n * 7) % some.len()];
                    sqlx::query("UPDATE contacts SET customer_id = $1 WHERE id = $2").bind(to).bind(id).execute(pool).await?;
                    moved.insert(*id, (*customer, to));
                }
                _ => {
                    sqlx::query("DELETE FROM contacts WHERE id = $1").bind(id).execute(pool).await?;
                }
            }
        }
        for id in some.iter().skip(5).step_by(307) {
            sqlx::query("DELETE FROM activities WHERE customer_id = $1").bind(id).execute(pool).await?;
            sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(pool).await?;
        }
        let mut qs = qs;
        qs.extend(["改名", "gaiming", "jingmiyiqi", "诸葛", "zhuge", "zgqy", "诸葛青云"].map(str::to_owned));
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_pending").fetch_one(pool).await?;
        assert!(pending > 20, "edits queue their records: {pending}");
        compare(&store, &access, org_id, &qs, "documents out of date").await?;
        search::index_all(&store).await?;
        compare(&store, &access, org_id, &qs, "documents rebuilt").await?;
        assert!(!moved.is_empty());
        Ok(())
    }
}
