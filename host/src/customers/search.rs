//! Quick-search documents for customers and contacts, and the indexer that keeps them.
//!
//! A customer's document is its search text (name, pinyin spellings, code) followed by its
//! contacts' (names, spellings, titles), so one index answers "the customer or one of its
//! contacts matches" in list order and stops when a page is full. A contact's document is its
//! own search text, for the contact list.
//!
//! Writes never touch the documents: triggers queue every changed customer and contact in
//! `search_pending` in the writing transaction, and [`index_pending`] rebuilds the documents of
//! queued records in batches shortly after. A search asks the documents for records that are
//! not queued and tests the queued ones against their rows directly, so it never misses or
//! mis-reports a committed write while the indexer catches up (an import of 100,000 rows is
//! searchable at once, and indexed a few seconds later).
//!
//! The documents live in SQLite's FTS5 tables (a trigram index that returns matches in id order,
//! and a word index of Chinese characters and character pairs) or in PostgreSQL tables with
//! trigram and array GIN indexes.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::Row;

use crate::error::Result;
use crate::store::{Backend, Id, SqlArg, SqlBuf, Store, bulk_insert};

/// What a queued record is, as stored in `search_pending.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer = 1,
    Contact = 2,
}

/// Queued records indexed per transaction: small enough that the write lock is held for tens
/// of milliseconds on SQLite, large enough that an import is indexed at full speed.
const BATCH: i64 = 2000;

/// How a search text can be looked up in the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Three or more characters: the trigram index.
    Trigram(String),
    /// One or two Chinese characters: the word index of characters and character pairs
    /// (customers only).
    Cjk(String),
    /// Too short for either (one or two letters or digits): list order only.
    Walk,
}

impl Lookup {
    /// How `text` (a normalised search text, see [`super::names::search_query`]) is looked up.
    pub fn of(text: &str) -> Lookup {
        let n = text.chars().count();
        if n >= 3 {
            Lookup::Trigram(text.to_owned())
        } else if n > 0 && text.chars().all(is_cjk) {
            Lookup::Cjk(text.to_owned())
        } else {
            Lookup::Walk
        }
    }
}

/// Characters written without spaces between words: Chinese, Japanese and Korean.
pub(crate) fn is_cjk(c: char) -> bool {
    u32::from(c) >= 0x2E80 && c.is_alphabetic()
}

/// The words of the character index: every CJK character of `doc` and every pair of
/// neighbouring ones, each once.
pub fn cjk_keys(doc: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut prev: Option<char> = None;
    for c in doc.chars() {
        if !is_cjk(c) {
            prev = None;
            continue;
        }
        if seen.insert(c.to_string()) {
            keys.push(c.to_string());
        }
        if let Some(p) = prev {
            let pair: String = [p, c].iter().collect();
            if seen.insert(pair.clone()) {
                keys.push(pair);
            }
        }
        prev = Some(c);
    }
    keys
}

/// An FTS5 phrase for `text`: the whole text as one quoted string, so no character of it is
/// read as query syntax.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The rows a search branch joins to: a `FROM` fragment (`customers c`, or contacts with
/// their customers) and the column holding the record's id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub from: &'a str,
    pub id: &'a str,
}

/// What a text search looks for: records of `kind` joined as `source`, looked up in the
/// documents as `lookup`, within `window` when there is one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub kind: Kind,
    pub lookup: &'a Lookup,
    pub source: Source<'a>,
    pub window: Option<Window>,
}

/// A window of ids a PostgreSQL search looks through: from the cursor down to `edge`, or up to
/// it for the oldest-first order. A narrow window is `walked`: every document in it is tested,
/// which costs less than reading the trigram index's matches across the whole table when
/// common trigrams make those many.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub edge: Id,
    pub descending: bool,
    pub walk: bool,
}

impl Window {
    /// The comparison that keeps an id inside the window.
    pub fn op(self) -> &'static str {
        if self.descending { ">=" } else { "<=" }
    }
}

/// Appends the `SELECT` of one search branch over the documents of `kind`: the ids of records
/// whose document matches and that are not queued, joined to `source` so that `cond` (access,
/// filters, cursor) applies. Returns false, appending nothing, when the lookup cannot use the
/// documents.
///
/// On SQLite the FTS5 table hands matches back in id order, so an `ORDER BY … LIMIT` over the
/// branch reads only as far as the page needs. PostgreSQL's GIN indexes do not keep an order;
/// there the caller narrows `cond` to a window of ids.
fn push_document_branch(out: &mut SqlBuf, backend: Backend, target: &Target<'_>, cond: SqlBuf) -> bool {
    let Target { kind, lookup, source: Source { from, id }, window } = *target;
    let pending = format!("(SELECT record_id FROM search_pending WHERE kind = {})", kind as i64);
    let text = match (kind, lookup) {
        (_, Lookup::Trigram(t)) | (Kind::Customer, Lookup::Cjk(t)) => t,
        _ => return false,
    };
    match backend {
        Backend::Sqlite => {
            let fts = match (kind, lookup) {
                (Kind::Customer, Lookup::Cjk(_)) => "customer_cjk",
                (Kind::Customer, _) => "customer_docs",
                (Kind::Contact, _) => "contact_docs",
            };
            out.push(&format!("SELECT f.rowid AS id FROM {fts} f CROSS JOIN {from} WHERE {id} = f.rowid AND "));
            out.push(fts).push(" MATCH ").bind(fts_phrase(text));
            out.push(&format!(" AND f.rowid NOT IN {pending} AND "));
        }
        Backend::Postgres => {
            let (docs, key) = match kind {
                Kind::Customer => ("customer_docs", "customer_id"),
                Kind::Contact => ("contact_docs", "contact_id"),
            };
            out.push(&format!("SELECT d.{key} AS id FROM {docs} d CROSS JOIN {from} WHERE {id} = d.{key} AND "));
            // The same test in two forms: one the GIN indexes answer, and one they cannot,
            // which a walk through a narrow window takes.
            match (lookup, window.is_some_and(|w| w.walk)) {
                (Lookup::Cjk(_), false) => {
                    out.push("string_to_array(d.cjk, ' ') @> ARRAY[CAST(").bind(text.as_str()).push(" AS TEXT)]")
                }
                (Lookup::Cjk(_), true) => {
                    out.push("CAST(").bind(text.as_str()).push(" AS TEXT) = ANY (string_to_array(d.cjk, ' '))")
                }
                (_, false) => out.push("d.doc LIKE ").bind(like_pattern(backend, text)),
                (_, true) => out.push("strpos(d.doc, ").bind(text.as_str()).push(") > 0"),
            };
            out.push(&format!(" AND d.{key} NOT IN {pending} AND "));
            // PostgreSQL does not carry a range on the record's id over to the document's, so
            // the window is named on the document too, where the bitmap of its primary key
            // narrows the trigram index's matches before any row is read.
            if let Some(w) = window {
                out.push(&format!("d.{key} {} ", w.op())).bind(w.edge).push(" AND ");
            }
        }
    }
    out.append(cond);
    true
}

/// Appends the `SELECT` of the branch over queued records of `kind`: their ids where `live`
/// (the match tested on the rows themselves) and `cond` hold.
fn push_pending_branch(out: &mut SqlBuf, kind: Kind, source: Source<'_>, live: SqlBuf, cond: SqlBuf) {
    let Source { from, id } = source;
    out.push(&format!(
        "SELECT p.record_id AS id FROM search_pending p CROSS JOIN {from} WHERE {id} = p.record_id AND p.kind = {} AND ",
        kind as i64
    ));
    out.append(live).push(" AND ").append(cond);
}

/// Appends `documents UNION queued`: the ids of the records of `kind` whose text matches,
/// from the documents for indexed records and from `live` (the match on the rows themselves)
/// for those the indexer has not reached. Returns false, appending nothing, when the lookup
/// cannot use the documents.
pub(crate) fn push_text_branches(
    out: &mut SqlBuf,
    backend: Backend,
    target: &Target<'_>,
    live: SqlBuf,
    cond: &SqlBuf,
) -> bool {
    if !push_document_branch(out, backend, target, cond.clone()) {
        return false;
    }
    out.push(union(backend));
    push_pending_branch(out, target.kind, target.source, live, cond.clone());
    true
}

/// Rebuilds the documents of up to [`BATCH`] queued records in one transaction and takes them
/// off the queue. Returns how many it took.
pub async fn index_pending(store: &Store) -> Result<usize> {
    // A look first, so that an idle indexer never takes SQLite's write lock.
    let any: Option<i64> =
        sqlx::query_scalar("SELECT kind FROM search_pending LIMIT 1").fetch_optional(store.pool()).await?;
    if any.is_none() {
        return Ok(0);
    }
    let mut tx = store.begin_write().await?;
    // Several nodes share the queue; each takes records no other node is indexing.
    let lock = store.skip_locked(" FOR UPDATE SKIP LOCKED");
    let queued: Vec<(i64, Id)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT kind, record_id FROM search_pending ORDER BY kind, record_id LIMIT {BATCH}{lock}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    if queued.is_empty() {
        return Ok(0);
    }
    let ids = |kind: Kind| -> Vec<Id> { queued.iter().filter(|(k, _)| *k == kind as i64).map(|(_, id)| *id).collect() };
    let customers = ids(Kind::Customer);
    let contacts = ids(Kind::Contact);
    if !customers.is_empty() {
        index_customers(store.backend(), &mut tx, &customers).await?;
    }
    if !contacts.is_empty() {
        index_contacts(store.backend(), &mut tx, &contacts).await?;
    }
    for (kind, ids) in [(Kind::Customer, &customers), (Kind::Contact, &contacts)] {
        if ids.is_empty() {
            continue;
        }
        let mut sql = SqlBuf::new(format!("DELETE FROM search_pending WHERE kind = {} AND record_id IN ", kind as i64));
        sql.bind_list(ids);
        sql.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(queued.len())
}

/// Indexes until the queue is empty (the demo loader and the command-line import, which
/// finish with their data searchable through the indexes).
pub async fn index_all(store: &Store) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = index_pending(store).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// Runs the indexer until the process ends: a batch whenever records are queued, a look at the
/// queue every `idle` otherwise, and a compaction of the indexes once a large amount has been
/// indexed and the queue is empty. A failed batch is logged and tried again later; the
/// searches meanwhile test the queued records directly.
pub fn spawn_indexer(store: Store, idle: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut since_compaction = 0;
        loop {
            let started = std::time::Instant::now();
            match index_pending(&store).await {
                Ok(0) if since_compaction >= COMPACT_AFTER => match compact(&store).await {
                    Ok(()) => since_compaction = 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "compacting the search indexes failed; trying again later");
                        tokio::time::sleep(idle * 10).await;
                    }
                },
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(n) => {
                    since_compaction += n;
                    // SQLite has one writer at a time and no queue for the others: each waits
                    // and tries again. Pausing as long as the batch took leaves them room.
                    if store.backend() == Backend::Sqlite {
                        tokio::time::sleep(started.elapsed().max(Duration::from_millis(5))).await;
                    }
                }
                Err(e) if e.is_busy() => {
                    tracing::debug!("the database is busy with another writer; indexing a little later");
                    tokio::time::sleep(idle).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "search indexing failed; trying again shortly");
                    tokio::time::sleep(idle * 10).await;
                }
            }
        }
    })
}

/// Records indexed after which the indexer compacts the indexes.
const COMPACT_AFTER: usize = 20_000;

/// Pages of index one compaction step writes: a short hold of SQLite's write lock.
const COMPACT_STEP: i64 = 500;

/// Merges the segments of SQLite's full-text indexes into one, a step per transaction so that
/// writers wait at most one step. Every batch the indexer writes adds a segment, and a search
/// reads each: after an import of 100,000 customers a search reads tens of segments; after
/// compaction, one, which makes it several times faster. PostgreSQL's GIN indexes merge their
/// pending entries themselves.
pub async fn compact(store: &Store) -> Result<()> {
    if store.backend() != Backend::Sqlite {
        return Ok(());
    }
    for table in ["customer_docs", "customer_cjk", "contact_docs"] {
        loop {
            let started = std::time::Instant::now();
            let mut tx = store.begin_write().await?;
            let before: i64 = sqlx::query_scalar("SELECT total_changes()").fetch_one(&mut *tx).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} ({table}, rank) VALUES ('merge', {})",
                -COMPACT_STEP
            )))
            .execute(&mut *tx)
            .await?;
            let after: i64 = sqlx::query_scalar("SELECT total_changes()").fetch_one(&mut *tx).await?;
            tx.commit().await?;
            // FTS5 writes at least two rows when a merge step did any work.
            if after - before < 2 {
                break;
            }
            // Room for other writers, as between indexing batches.
            tokio::time::sleep(started.elapsed()).await;
        }
    }
    Ok(())
}

async fn index_customers(backend: Backend, tx: &mut sqlx::Transaction<'static, sqlx::Any>, ids: &[Id]) -> Result<()> {
    let mut sql = SqlBuf::new("SELECT c.id, c.org_id, c.search_text FROM customers c WHERE c.id IN ");
    sql.bind_list(ids);
    let rows = sql.query().fetch_all(&mut **tx).await?;
    let mut docs: Vec<(Id, Id, String)> = Vec::with_capacity(rows.len());
    let mut at: HashMap<Id, usize> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: Id = r.try_get(0)?;
        at.insert(id, docs.len());
        docs.push((id, r.try_get(1)?, r.try_get(2)?));
    }
    let mut sql = SqlBuf::new(
        "SELECT k.customer_id, k.search_text FROM customers c JOIN contacts k ON k.org_id = c.org_id \
         AND k.customer_id = c.id WHERE c.id IN ",
    );
    sql.bind_list(ids).push(" ORDER BY k.id");
    for r in sql.query().fetch_all(&mut **tx).await? {
        let customer_id: Id = r.try_get(0)?;
        let text: String = r.try_get(1)?;
        if let Some(&i) = at.get(&customer_id) {
            docs[i].2.push(' ');
            docs[i].2.push_str(&text);
        }
    }
    // Each document once per table and batch, in as few statements as the backends allow:
    // every FTS5 statement leaves a segment that later merges must fold in.
    match backend {
        Backend::Sqlite => {
            for table in ["customer_docs", "customer_cjk"] {
                let mut del = SqlBuf::new(format!("DELETE FROM {table} WHERE rowid IN "));
                del.bind_list(ids);
                del.query().execute(&mut **tx).await?;
            }
            let mut trigram = Vec::with_capacity(docs.len());
            let mut cjk = Vec::with_capacity(docs.len());
            for (id, _, doc) in docs {
                let keys = cjk_keys(&doc);
                if !keys.is_empty() {
                    cjk.push(vec![SqlArg::Int(id), keys.join(" ").into()]);
                }
                trigram.push(vec![SqlArg::Int(id), doc.into()]);
            }
            bulk_insert(tx, "customer_docs", &["rowid", "doc"], trigram).await?;
            bulk_insert(tx, "customer_cjk", &["rowid", "doc"], cjk).await?;
        }
        Backend::Postgres => {
            let mut del = SqlBuf::new("DELETE FROM customer_docs WHERE customer_id IN ");
            del.bind_list(ids);
            del.query().execute(&mut **tx).await?;
            let rows = docs
                .into_iter()
                .map(|(id, org_id, doc)| {
                    let keys = cjk_keys(&doc).join(" ");
                    vec![SqlArg::Int(id), SqlArg::Int(org_id), doc.into(), keys.into()]
                })
                .collect();
            bulk_insert(tx, "customer_docs", &["customer_id", "org_id", "doc", "cjk"], rows).await?;
        }
    }
    Ok(())
}

async fn index_contacts(backend: Backend, tx: &mut sqlx::Transaction<'static, sqlx::Any>, ids: &[Id]) -> Result<()> {
    let mut sql = SqlBuf::new("SELECT id, org_id, search_text FROM contacts WHERE id IN ");
    sql.bind_list(ids);
    let rows = sql.query().fetch_all(&mut **tx).await?;
    let key = match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "contact_id",
    };
    let mut del = SqlBuf::new(format!("DELETE FROM contact_docs WHERE {key} IN "));
    del.bind_list(ids);
    del.query().execute(&mut **tx).await?;
    let mut docs = Vec::with_capacity(rows.len());
    for r in &rows {
        let (id, org_id, doc): (Id, Id, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        docs.push(match backend {
            Backend::Sqlite => vec![SqlArg::Int(id), doc.into()],
            Backend::Postgres => vec![SqlArg::Int(id), SqlArg::Int(org_id), doc.into()],
        });
    }
    let columns: &[&str] = match backend {
        Backend::Sqlite => &["rowid", "doc"],
        Backend::Postgres => &["contact_id", "org_id", "doc"],
    };
    bulk_insert(tx, "contact_docs", columns, docs).await
}

/// How the branches of a search are combined. SQLite merges `UNION` branches that each arrive
/// in id order and stops at the page; PostgreSQL only merges `UNION ALL` branches (a `UNION`
/// reads every branch to the end to remove duplicates), so there the caller removes the
/// duplicates (a customer matching by name and by phone) above the merge.
pub(crate) fn union(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => " UNION ",
        Backend::Postgres => " UNION ALL ",
    }
}

/// `%text%` for `LIKE`, with the text matched as written: PostgreSQL reads a backslash in a
/// pattern as an escape, SQLite does not. (`%` and `_` are taken out of search texts before.)
pub(crate) fn like_pattern(backend: Backend, text: &str) -> String {
    match backend {
        Backend::Sqlite => format!("%{text}%"),
        Backend::Postgres => format!("%{}%", text.replace('\\', "\\\\")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_follow_the_length_and_script_of_the_text() {
        assert_eq!(Lookup::of("北京华信"), Lookup::Trigram("北京华信".into()));
        assert_eq!(Lookup::of("bjhx"), Lookup::Trigram("bjhx".into()));
        assert_eq!(Lookup::of("上海"), Lookup::Cjk("上海".into()));
        assert_eq!(Lookup::of("覃"), Lookup::Cjk("覃".into()));
        assert_eq!(Lookup::of("bj"), Lookup::Walk);
        assert_eq!(Lookup::of("上a"), Lookup::Walk);
    }

    #[test]
    fn character_keys_are_characters_and_neighbouring_pairs_within_a_run() {
        assert_eq!(
            cjk_keys("上海天润 shanghai 王伟"),
            vec!["上", "海", "上海", "天", "海天", "润", "天润", "王", "伟", "王伟"]
        );
        // No pair across a space or a Latin word, and each key once.
        assert_eq!(cjk_keys("上海 上海x海"), vec!["上", "海", "上海"]);
    }

    #[test]
    fn phrases_quote_what_they_hold() {
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
    }
}
