//! The tables of plugins' own records ("entities"). A plugin declares its entities in its
//! manifest (typed fields, indexes, unique and searchable fields, a timeline title); the host
//! keeps each in a real table of its own on SQLite and PostgreSQL, migrates it when a newer
//! version of the plugin declares more, checks every value written against the declaration, and
//! lets the access module decide which records a user reaches.
//!
//! A table is named `plg_<plugin id>__<entity>` with the plugin id's dashes made underscores
//! (`plg_public_pool__claim`). Besides one typed column per field it has the columns every record
//! has: `id`, `org_id`, `customer_id` (the customer the record belongs to), `owner_id`,
//! `department_id`, `created_at`, `updated_at`, `version` and `search_text`. `plugin_entities`
//! remembers what each entity declared and which columns and indexes were made for it, so a
//! migration only ever adds: a field that leaves the manifest keeps its column and its data (they
//! are simply no longer read) and has them back if it is declared again.
//!
//! Identifiers reach SQL only from names checked here (lower-case letters, digits, underscores)
//! and always quoted; every value is bound.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa::ToSchema;

use super::manifest::{Entity, EntityField, FieldType, INDEXABLE_BUILTINS, RESERVED_FIELDS};
use crate::access::{Access, Action, RecordFilter, RecordScope, ScopeColumns};
use crate::customers::names;
use crate::error::{Error, Result};
use crate::store::{Backend, Id, SqlArg, SqlBuf, Store, escape_like, now_ms};

/// One stored record.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Record {
    pub id: Id,
    /// The entity's name, e.g. `claim`.
    pub entity: String,
    /// Every declared field, `null` where the record has no value.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// The customer the record belongs to.
    pub customer_id: Option<Id>,
    pub owner_id: Option<Id>,
    pub department_id: Option<Id>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// 1 when created, incremented by every update; send it back to detect concurrent edits.
    pub version: i64,
}

/// Who reaches the records: the plugin on its own (every record of the org) or a user (narrowed
/// by the access module).
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    /// The plugin itself (a scheduled job, an event handler, a webhook). `acting_user`, when
    /// there is one, becomes the owner of records it creates.
    Plugin { org_id: Id, acting_user: Option<Id> },
    /// A user, through the plugin: never more than the user may do (see [`access_module`]).
    User(&'a Access),
}

impl Reach<'_> {
    /// The organisation whose records are reached.
    pub fn org_id(&self) -> Id {
        match self {
            Reach::Plugin { org_id, .. } => *org_id,
            Reach::User(access) => access.principal().org_id,
        }
    }

    /// The records of the plugin that `action` reaches.
    fn filter(&self, plugin_id: &str, action: Action) -> RecordFilter {
        match self {
            Reach::Plugin { org_id, .. } => RecordFilter::Org { org_id: *org_id },
            Reach::User(access) => access.filter(&access_module(access, plugin_id), action),
        }
    }
}

/// The module whose grants decide what a user reaches of a plugin's records: `plugin:<id>` as
/// soon as one of the user's roles grants anything on it, else `customers` (a plugin's records
/// are the CRM's records, and a salesperson works their own as they work their own customers).
/// Once a role speaks of the plugin, it alone decides: an action it does not grant is refused
/// rather than taken from `customers`.
pub fn access_module(access: &Access, plugin_id: &str) -> String {
    let module = format!("plugin:{plugin_id}");
    if access.grants().iter().any(|(m, _, _)| m == module) { module } else { "customers".to_owned() }
}

/// A comparison in a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Text fields only: the value occurs in the field, as written (case-sensitive).
    Contains,
    /// Text fields only: the field begins with the value, as written (case-sensitive).
    StartsWith,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
        }
    }
}

/// One condition of a [`Query`]: a declared field, or one of `customer_id`, `owner_id`,
/// `created_at`, `updated_at`, compared with a value of its type. `null` with `eq`/`ne` asks
/// for records without (or with) a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub value: Value,
}

/// What [`find`] looks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    /// The entity's name (checked against the entity passed, when given).
    pub entity: String,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// Quick search over the entity's searchable fields: any part of them, also as pinyin or
    /// its initials for Chinese text; case and width do not matter.
    pub text: Option<String>,
    /// Only records belonging to this customer.
    pub customer_id: Option<Id>,
    /// A declared field or `id` (the default), `customer_id`, `owner_id`, `created_at`,
    /// `updated_at`. Records without a value come last.
    pub order_by: Option<String>,
    pub descending: bool,
    /// 1 to 500, default 50.
    pub limit: Option<u32>,
    /// The `next` of the previous page, with the same order.
    pub cursor: Option<String>,
}

/// One page of [`find`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page {
    pub items: Vec<Record>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next: Option<String>,
}

/// A record on a customer's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TimelineItem {
    pub plugin_id: String,
    pub entity: String,
    pub id: Id,
    /// The value of the entity's `timeline` field, as text.
    pub title: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub owner_id: Option<Id>,
}

/// Page sizes of [`find`] and [`timeline`].
pub const MAX_PAGE: u32 = 500;
pub const DEFAULT_PAGE: u32 = 50;
/// Characters of a text field.
const MAX_TEXT: usize = 100_000;
/// Characters of a text field that an index or a uniqueness holds: a B-tree entry must fit in a
/// page (PostgreSQL refuses entries over some 2,700 bytes).
const MAX_INDEXED_TEXT: usize = 1_000;
/// Bytes of a JSON field.
const MAX_JSON: usize = 1_000_000;
/// Characters of a quick search.
const MAX_SEARCH: usize = 100;
const MAX_CONDITIONS: usize = 50;
const MAX_FIELDS: usize = 200;
const MAX_INDEX_COLUMNS: usize = 8;
/// Searchable text up to this many characters also gets its pinyin spellings (names, titles);
/// longer text (posts, articles) is searched as written. Each spelling of a polyphonic text is
/// kept, so the search text of a 60-character reply would be twenty times its length.
const PINYIN_UP_TO: usize = 40;
/// Column names the databases keep for themselves (PostgreSQL's system columns, SQLite's row
/// id aliases): a field may not take them either.
const SYSTEM_COLUMNS: &[&str] = &["oid", "tableoid", "xmin", "xmax", "cmin", "cmax", "ctid", "rowid", "_rowid_"];
/// The longest identifier PostgreSQL keeps whole; longer names are shortened with a hash.
const MAX_IDENT: usize = 63;
/// The PostgreSQL advisory lock that makes migrations of entities take turns across nodes.
const MIGRATION_LOCK: i64 = 0x7465_7373_5f65_6e74;
/// Candidates a search in id order reads from a full-text table first, and at most at once
/// (each batch four times the last).
const FIRST_BATCH: u32 = 200;
const LAST_BATCH: u32 = 12_800;
/// Rows per batch when search texts are rebuilt.
const REBUILD_BATCH: i64 = 1_000;

// ---------------------------------------------------------------------------------------------
// Names

/// The names of an entity's table and of what belongs to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    /// `plg_<plugin>__<entity>` before any shortening; derived names start from it.
    full: String,
    /// The table's name.
    table: String,
}

impl Names {
    fn new(plugin_id: &str, entity: &str) -> Result<Names> {
        check_plugin_id(plugin_id)?;
        check_entity_name(entity)?;
        let full = format!("plg_{}__{entity}", plugin_id.replace('-', "_"));
        Ok(Names { table: ident(&full), full })
    }

    /// The name of an index or another object of the table.
    fn derived(&self, suffix: &str) -> String {
        ident(&format!("{}__{suffix}", self.full))
    }

    /// SQLite's full-text table over `search_text`.
    fn fts(&self) -> String {
        self.derived("fts")
    }

    /// SQLite's full-text table over `search_grams` (PostgreSQL's GIN index on it).
    fn grams(&self) -> String {
        self.derived("grams")
    }
}

/// The table holding an entity's records.
pub fn table_name(plugin_id: &str, entity: &str) -> Result<String> {
    Ok(Names::new(plugin_id, entity)?.table)
}

/// `name`, or, past PostgreSQL's 63 bytes, its beginning and a hash of the whole, so that two
/// long names never end up the same. Names are ASCII here.
fn ident(name: &str) -> String {
    if name.len() <= MAX_IDENT {
        return name.to_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}_{hash}", name.get(..MAX_IDENT - 9).unwrap_or(name))
}

/// A quoted identifier (names are checked before, so there is no quote inside to escape).
fn quoted(ident: &str) -> String {
    format!("\"{ident}\"")
}

fn is_lower_name(s: &str, min: usize, max: usize, sep: char) -> bool {
    (min..=max).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == sep)
        && !s.ends_with(sep)
}

fn schema_error(message: String) -> Error {
    Error::Invalid { field: Some("entities"), message }
}

/// Plugin ids as the manifest has them, without a double dash: with dashes made underscores,
/// the first `__` of a table name must tell the plugin from the entity.
fn check_plugin_id(id: &str) -> Result<()> {
    if is_lower_name(id, 2, 40, '-') && !id.contains("--") {
        Ok(())
    } else {
        Err(schema_error(format!(
            "{id:?} is not a plugin id: use 2 to 40 lower-case letters, digits and single dashes, starting with a letter"
        )))
    }
}

fn check_entity_name(name: &str) -> Result<()> {
    if is_lower_name(name, 2, 30, '_') && !name.contains("__") {
        Ok(())
    } else {
        Err(schema_error(format!(
            "entity {name:?}: use 2 to 30 lower-case letters, digits and single underscores, starting with a letter"
        )))
    }
}

/// Checks an entity's declaration (the manifest did, but entities may come from elsewhere, and
/// their names become SQL identifiers) and returns its names.
fn check_entity(plugin_id: &str, entity: &Entity) -> Result<Names> {
    let names = Names::new(plugin_id, &entity.name)?;
    let e = &entity.name;
    if entity.fields.len() > MAX_FIELDS {
        return Err(schema_error(format!("entity {e:?}: at most {MAX_FIELDS} fields")));
    }
    let mut fields = BTreeMap::new();
    for f in &entity.fields {
        let name = f.name.as_str();
        if !is_lower_name(name, 2, 40, '_') || RESERVED_FIELDS.contains(&name) || SYSTEM_COLUMNS.contains(&name) {
            return Err(schema_error(format!(
                "entity {e:?}: field {name:?} must be 2 to 40 lower-case letters, digits and underscores, \
                 other than {} and {}",
                RESERVED_FIELDS.join(", "),
                SYSTEM_COLUMNS.join(", ")
            )));
        }
        if fields.insert(name, f).is_some() {
            return Err(schema_error(format!("entity {e:?}: field {name:?} is declared twice")));
        }
        if !f.options.is_empty() && f.kind != FieldType::Text {
            return Err(schema_error(format!("entity {e:?}: field {name:?} has options, which only text fields take")));
        }
        if f.unique && f.kind == FieldType::Json {
            return Err(schema_error(format!("entity {e:?}: field {name:?} is JSON, which cannot be unique")));
        }
    }
    for index in &entity.indexes {
        if index.is_empty() || index.len() > MAX_INDEX_COLUMNS {
            return Err(schema_error(format!("entity {e:?}: an index names 1 to {MAX_INDEX_COLUMNS} fields")));
        }
        let mut seen = BTreeSet::new();
        for name in index {
            match fields.get(name.as_str()) {
                Some(f) if f.kind == FieldType::Json => {
                    return Err(schema_error(format!("entity {e:?}: field {name:?} is JSON, which cannot be indexed")));
                }
                Some(_) => {}
                None if INDEXABLE_BUILTINS.contains(&name.as_str()) => {}
                None => {
                    return Err(schema_error(format!(
                        "entity {e:?}: the index {index:?} names the unknown field {name:?}"
                    )));
                }
            }
            if !seen.insert(name) {
                return Err(schema_error(format!("entity {e:?}: the index {index:?} names {name:?} twice")));
            }
        }
    }
    for name in entity.searchable.iter().chain(entity.timeline.iter()) {
        if !fields.contains_key(name.as_str()) {
            return Err(schema_error(format!("entity {e:?}: {name:?} is searched or shown but is not a field")));
        }
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------------
// Types

/// How a type is kept: types kept alike may replace each other in a later version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    Text,
    Int,
    Float,
    Bool,
}

fn storage(kind: FieldType) -> Storage {
    match kind {
        FieldType::Text | FieldType::Date | FieldType::Json => Storage::Text,
        FieldType::Integer | FieldType::Timestamp | FieldType::User | FieldType::Customer => Storage::Int,
        FieldType::Number => Storage::Float,
        FieldType::Bool => Storage::Bool,
    }
}

fn sql_type(kind: FieldType, backend: Backend) -> &'static str {
    match (storage(kind), backend) {
        (Storage::Text, _) => "TEXT",
        (Storage::Int, Backend::Sqlite) => "INTEGER",
        (Storage::Int, Backend::Postgres) => "BIGINT",
        (Storage::Float, Backend::Sqlite) => "REAL",
        (Storage::Float, Backend::Postgres) => "DOUBLE PRECISION",
        (Storage::Bool, Backend::Sqlite) => "INTEGER",
        (Storage::Bool, Backend::Postgres) => "BOOLEAN",
    }
}

const TYPE_NAMES: [(FieldType, &str); 9] = [
    (FieldType::Text, "text"),
    (FieldType::Integer, "integer"),
    (FieldType::Number, "number"),
    (FieldType::Bool, "bool"),
    (FieldType::Date, "date"),
    (FieldType::Timestamp, "timestamp"),
    (FieldType::User, "user"),
    (FieldType::Customer, "customer"),
    (FieldType::Json, "json"),
];

/// The manifest's name of a type.
fn type_name(kind: FieldType) -> &'static str {
    TYPE_NAMES.iter().find(|(k, _)| *k == kind).map_or("json", |(_, n)| n)
}

fn parse_type_name(name: &str) -> Option<FieldType> {
    TYPE_NAMES.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
}

// ---------------------------------------------------------------------------------------------
// Statements

/// A bound value of a typed column; `None` is a NULL of the column's type (PostgreSQL refuses a
/// NULL of another type).
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Text(Option<String>),
}

impl Arg {
    fn is_null(&self) -> bool {
        matches!(self, Arg::Int(None) | Arg::Float(None) | Arg::Bool(None) | Arg::Text(None))
    }
}

impl From<SqlArg> for Arg {
    fn from(arg: SqlArg) -> Self {
        match arg {
            SqlArg::Int(v) => Arg::Int(Some(v)),
            SqlArg::OptInt(v) => Arg::Int(v),
            SqlArg::Text(v) => Arg::Text(Some(v)),
            SqlArg::OptText(v) => Arg::Text(v),
        }
    }
}

/// SQL with its arguments, like [`SqlBuf`] but binding floats and booleans as well.
#[derive(Debug, Default)]
struct Stmt {
    text: String,
    args: Vec<Arg>,
}

impl Stmt {
    fn new(text: impl Into<String>) -> Stmt {
        Stmt { text: text.into(), args: Vec::new() }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    fn bind_id(&mut self, id: Id) -> &mut Self {
        self.bind(Arg::Int(Some(id)))
    }

    /// Appends the access module's condition on the table's `org_id`, `owner_id` and
    /// `department_id`, numbering its placeholders after this statement's.
    fn push_filter(&mut self, filter: &RecordFilter) -> &mut Self {
        let offset = self.args.len();
        let mut buf = SqlBuf { text: String::new(), args: vec![SqlArg::Int(0); offset] };
        filter.push_sql(&ScopeColumns::STANDARD, &mut buf);
        self.text.push_str(&buf.text);
        self.args.extend(buf.args.into_iter().skip(offset).map(Arg::from));
        self
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.as_str()));
        for arg in &self.args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                // sqlx 0.9's `Any` sends a missing f64 to PostgreSQL as a FLOAT4 NULL (and a
                // missing f32 as FLOAT8); a statement prepared with that type then refuses the
                // eight bytes of a later value. A missing f32 arrives as the FLOAT8 NULL wanted.
                Arg::Float(None) => q.bind(None::<f32>),
                Arg::Float(Some(v)) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_deref()),
            };
        }
        q
    }
}

/// Runs one statement of schema change (not kept prepared: each runs once).
async fn ddl(tx: &mut sqlx::Transaction<'static, sqlx::Any>, sql: String) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false).execute(&mut **tx).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Migrations

/// The columns every entity table has, before the fields'.
fn builtin_columns(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL REFERENCES orgs(id), customer_id INTEGER, \
             owner_id INTEGER, department_id INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, \
             version INTEGER NOT NULL DEFAULT 1, search_text TEXT NOT NULL DEFAULT '', \
             search_grams TEXT NOT NULL DEFAULT ''"
        }
        Backend::Postgres => {
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, org_id BIGINT NOT NULL REFERENCES orgs(id), \
             customer_id BIGINT, owner_id BIGINT, department_id BIGINT, created_at BIGINT NOT NULL, \
             updated_at BIGINT NOT NULL, version BIGINT NOT NULL DEFAULT 1, search_text TEXT NOT NULL DEFAULT '', \
             search_grams TEXT[] NOT NULL DEFAULT '{}'"
        }
    }
}

/// An index the table should have.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexSpec {
    name: String,
    unique: bool,
    /// SQL column list.
    columns: String,
    /// The field a unique index keeps unique.
    unique_field: Option<String>,
}

/// A column of an index or a query: a declared field (quoted) or a built-in column.
fn column_sql(name: &str) -> String {
    if INDEXABLE_BUILTINS.contains(&name) || name == "id" { name.to_owned() } else { quoted(name) }
}

/// The indexes of an entity's table: the organisation's records in id order, by customer, by
/// owner and by department (what access filters and timelines read), then those the manifest
/// declares (each within the organisation, ending with the id for keyset paging), and one
/// unique index per unique field.
fn desired_indexes(names: &Names, entity: &Entity) -> Vec<IndexSpec> {
    let mut out = Vec::new();
    let mut add = |suffix: String, unique: bool, columns: String, unique_field: Option<String>| {
        let name = names.derived(&suffix);
        if !out.iter().any(|i: &IndexSpec| i.name == name) {
            out.push(IndexSpec { name, unique, columns, unique_field });
        }
    };
    add("org".into(), false, "org_id, id".into(), None);
    add("customer".into(), false, "org_id, customer_id, id".into(), None);
    add("owner".into(), false, "org_id, owner_id, id".into(), None);
    add("department".into(), false, "org_id, department_id, id".into(), None);
    for index in &entity.indexes {
        // Field names may hold `__`, which would make two column lists read alike; those
        // indexes are named by a hash of their list instead.
        let suffix = if index.iter().any(|f| f.contains("__")) {
            let digest = Sha256::digest(index.join(",").as_bytes());
            format!("ix_{}", digest.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>())
        } else {
            format!("ix_{}", index.join("__"))
        };
        let mut columns = vec!["org_id".to_owned()];
        columns.extend(index.iter().map(|f| column_sql(f)));
        columns.push("id".into());
        add(suffix, false, columns.join(", "), None);
    }
    for f in entity.fields.iter().filter(|f| f.unique) {
        add(format!("uq_{}", f.name), true, format!("org_id, {}", quoted(&f.name)), Some(f.name.clone()));
    }
    out
}

/// The columns a table has now; empty when there is no such table.
async fn table_columns(
    backend: Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
) -> Result<BTreeSet<String>> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1)",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let names: Vec<String> = sqlx::query_scalar(sql).bind(table).fetch_all(&mut **tx).await?;
    Ok(names.into_iter().collect())
}

/// Makes migrations take turns: SQLite's write transaction holds the one write lock already;
/// on PostgreSQL an advisory lock held until the transaction ends keeps two nodes enabling the
/// same plugin from creating the same table at once.
async fn lock_schema(backend: Backend, tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut **tx).await?;
    }
    Ok(())
}

/// What `plugin_entities` remembers of an entity.
#[derive(Debug, Default)]
struct Bookkeeping {
    declared: Option<Entity>,
    /// Every column ever made for a field, with its type's name.
    columns: BTreeMap<String, String>,
    /// The indexes this module made.
    indexes: BTreeSet<String>,
}

async fn bookkeeping(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    plugin_id: &str,
    entity: &str,
) -> Result<Option<Bookkeeping>> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT declared, columns, indexes FROM plugin_entities WHERE plugin_id = $1 AND entity = $2")
            .bind(plugin_id)
            .bind(entity)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(declared, columns, indexes)| Bookkeeping {
        declared: serde_json::from_str(&declared).ok(),
        columns: serde_json::from_str(&columns).unwrap_or_default(),
        indexes: serde_json::from_str(&indexes).unwrap_or_default(),
    }))
}

/// Creates or migrates the tables of a plugin's entities (idempotent; safe to run on every
/// enable/upgrade, and by two nodes at once).
///
/// New entities get their tables, new fields their columns (`ALTER TABLE … ADD COLUMN`), new
/// indexes are made and indexes no longer declared are dropped. Nothing that holds data is ever
/// dropped: an entity or field left out of the manifest keeps its table or column. A field may
/// change its type only to one kept alike (text, date and JSON; integer, timestamp, user and
/// customer); otherwise the migration is refused, naming the field. A field newly unique whose
/// values repeat within an organisation is refused with `Conflict`. When the searchable fields
/// change, every record's search text is rebuilt.
pub async fn migrate(store: &Store, plugin_id: &str, entities: &[Entity]) -> Result<()> {
    check_plugin_id(plugin_id)?;
    let mut checked = Vec::with_capacity(entities.len());
    let mut seen = BTreeSet::new();
    for entity in entities {
        if !seen.insert(entity.name.as_str()) {
            return Err(schema_error(format!("entity {:?} is declared twice", entity.name)));
        }
        checked.push((check_entity(plugin_id, entity)?, entity));
    }
    let backend = store.backend();
    let mut tx = store.begin_write().await?;
    lock_schema(backend, &mut tx).await?;
    for (names, entity) in checked {
        migrate_entity(backend, &mut tx, plugin_id, &names, entity).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn migrate_entity(
    backend: Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    plugin_id: &str,
    names: &Names,
    entity: &Entity,
) -> Result<()> {
    let e = &entity.name;
    let table = quoted(&names.table);
    let mut book = bookkeeping(tx, plugin_id, e).await?.unwrap_or_default();
    let existing = table_columns(backend, tx, &names.table).await?;
    let created = existing.is_empty();
    // Tables made before search grams existed get the column, filled in below.
    let grams_added = !created && !existing.contains("search_grams");
    if grams_added {
        let kind = if backend == Backend::Sqlite { "TEXT NOT NULL DEFAULT ''" } else { "TEXT[] NOT NULL DEFAULT '{}'" };
        ddl(tx, format!("ALTER TABLE {table} ADD COLUMN search_grams {kind}")).await?;
    }
    if created {
        book.columns.clear();
        let mut sql = format!("CREATE TABLE {table} ({}", builtin_columns(backend));
        for f in &entity.fields {
            sql.push_str(&format!(", {} {}", quoted(&f.name), sql_type(f.kind, backend)));
        }
        sql.push(')');
        ddl(tx, sql).await?;
    } else {
        for f in &entity.fields {
            if let Some(before) = book.columns.get(&f.name).and_then(|t| parse_type_name(t))
                && storage(before) != storage(f.kind)
            {
                return Err(schema_error(format!(
                    "{e}.{}: the field was {} and its column keeps those values; it cannot become {} \
                     (declare a field of another name instead)",
                    f.name,
                    type_name(before),
                    type_name(f.kind)
                )));
            }
            if !existing.contains(&f.name) {
                ddl(tx, format!("ALTER TABLE {table} ADD COLUMN {} {}", quoted(&f.name), sql_type(f.kind, backend)))
                    .await?;
            }
        }
    }
    for f in &entity.fields {
        book.columns.insert(f.name.clone(), type_name(f.kind).to_owned());
    }

    let wanted = desired_indexes(names, entity);
    for index in &wanted {
        let unique = if index.unique { "UNIQUE " } else { "" };
        let sql = format!("CREATE {unique}INDEX IF NOT EXISTS {} ON {table} ({})", quoted(&index.name), index.columns);
        let done = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false).execute(&mut **tx).await;
        match (done, &index.unique_field) {
            (Ok(_), _) => {}
            (Err(sqlx::Error::Database(db)), Some(field)) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                return Err(Error::Conflict(format!(
                    "{e}.{field} cannot be made unique: records of one organisation share a value of it"
                )));
            }
            (Err(err), _) => return Err(err.into()),
        }
    }
    for stale in &book.indexes {
        let ours = stale.starts_with("plg_") && stale.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ours && !wanted.iter().any(|w| &w.name == stale) {
            ddl(tx, format!("DROP INDEX IF EXISTS {}", quoted(stale))).await?;
        }
    }
    book.indexes = wanted.into_iter().map(|i| i.name).collect();
    make_search_index(backend, tx, names).await?;

    let searchable_changed = book.declared.as_ref().is_none_or(|d| d.searchable != entity.searchable);
    if !created && (searchable_changed || grams_added) {
        rebuild_search_text(backend, tx, names, entity).await?;
    }

    let now = now_ms();
    let declared = serde_json::to_string(entity).map_err(|err| Error::Internal(err.to_string()))?;
    let columns = serde_json::to_string(&book.columns).map_err(|err| Error::Internal(err.to_string()))?;
    let indexes = serde_json::to_string(&book.indexes).map_err(|err| Error::Internal(err.to_string()))?;
    sqlx::query(
        "INSERT INTO plugin_entities (plugin_id, entity, table_name, declared, columns, indexes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (plugin_id, entity) DO UPDATE SET table_name = excluded.table_name, declared = excluded.declared, \
         columns = excluded.columns, indexes = excluded.indexes, updated_at = excluded.updated_at",
    )
    .bind(plugin_id)
    .bind(e)
    .bind(&names.table)
    .bind(declared)
    .bind(columns)
    .bind(indexes)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The index quick search reads: a trigram GIN index on PostgreSQL (as the customers' search
/// documents have), and on SQLite a trigram full-text table over `search_text`, kept in step by
/// triggers (as `customers_fts` was).
async fn make_search_index(
    backend: Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    names: &Names,
) -> Result<()> {
    let table = quoted(&names.table);
    match backend {
        Backend::Postgres => {
            let index = quoted(&names.derived("search"));
            ddl(tx, format!("CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (search_text gin_trgm_ops)"))
                .await?;
            let grams = quoted(&names.grams());
            ddl(tx, format!("CREATE INDEX IF NOT EXISTS {grams} ON {table} USING gin (search_grams)")).await
        }
        Backend::Sqlite => {
            // Trigrams of the text for three characters and more, CJK grams for one or two.
            make_fts_table(tx, names, &names.fts(), "search_text", "tokenize='trigram'").await?;
            let words = "tokenize='unicode61 remove_diacritics 0', detail='none'";
            make_fts_table(tx, names, &names.grams(), "search_grams", words).await
        }
    }
}

/// A SQLite full-text table over one column of the entity's table (`options` say how it
/// tokenizes), kept in step by triggers named after it; filled from the table when new.
async fn make_fts_table(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    names: &Names,
    fts_name: &str,
    column: &str,
    options: &str,
) -> Result<()> {
    let table = quoted(&names.table);
    let fts = quoted(fts_name);
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = $1")
        .bind(fts_name)
        .fetch_one(&mut **tx)
        .await?;
    if exists == 0 {
        let content = &names.table;
        ddl(
            tx,
            format!(
                "CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{content}', content_rowid='id', {options})"
            ),
        )
        .await?;
        ddl(tx, format!("INSERT INTO {fts} ({fts}) VALUES ('rebuild')")).await?;
    }
    let insert = format!("INSERT INTO {fts} (rowid, {column}) VALUES (new.id, new.{column});");
    let remove = format!("INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column});");
    // The trigram table's triggers keep the names they had before the grams table came.
    let prefix = if column == "search_text" { "fts" } else { "grams" };
    let triggers = [
        (format!("{prefix}_insert"), "AFTER INSERT".to_owned(), insert.clone()),
        (format!("{prefix}_delete"), "AFTER DELETE".to_owned(), remove.clone()),
        (format!("{prefix}_update"), format!("AFTER UPDATE OF {column}"), format!("{remove} {insert}")),
    ];
    for (suffix, when, body) in triggers {
        let name = quoted(&names.derived(&suffix));
        ddl(tx, format!("CREATE TRIGGER IF NOT EXISTS {name} {when} ON {table} BEGIN {body} END")).await?;
    }
    Ok(())
}

/// Appends the value of `search_grams` for a search text: the grams as one space-separated
/// text on SQLite, an array on PostgreSQL.
fn bind_grams(sql: &mut Stmt, backend: Backend, search: &str) {
    let grams = super::grams::grams(search).join(" ");
    match backend {
        Backend::Sqlite => {
            sql.bind(Arg::Text(Some(grams)));
        }
        Backend::Postgres => {
            sql.push("string_to_array(").bind(Arg::Text(Some(grams))).push(", ' ')");
        }
    }
}

/// Recomputes every record's search text and grams (after the searchable fields changed), in
/// batches.
async fn rebuild_search_text(
    backend: Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    names: &Names,
    entity: &Entity,
) -> Result<()> {
    let mut after: Id = 0;
    loop {
        let mut sql = Stmt::new(format!("SELECT {} FROM {} WHERE id > ", select_list(entity), quoted(&names.table)));
        sql.bind_id(after).push(" ORDER BY id");
        sql.text.push_str(&format!(" LIMIT {REBUILD_BATCH}"));
        let rows = sql.query().fetch_all(&mut **tx).await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in &rows {
            let record = record_from_row(entity, row)?;
            let search = search_text(entity, &record.fields);
            let mut update = Stmt::new(format!("UPDATE {} SET search_grams = ", quoted(&names.table)));
            bind_grams(&mut update, backend, &search);
            update.push(", search_text = ").bind(Arg::Text(Some(search))).push(" WHERE id = ").bind_id(record.id);
            update.query().execute(&mut **tx).await?;
            after = record.id;
        }
    }
}

/// Entities of a plugin as `plugin_entities` lists them, with their names.
async fn recorded_entities(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    plugin_id: &str,
) -> Result<Vec<(String, Names)>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT entity FROM plugin_entities WHERE plugin_id = $1 ORDER BY entity")
            .bind(plugin_id)
            .fetch_all(&mut **tx)
            .await?;
    rows.into_iter()
        .map(|entity| {
            let names = Names::new(plugin_id, &entity)?;
            Ok((entity, names))
        })
        .collect()
}

/// Drops every table of the plugin (uninstall with "drop data").
pub async fn drop_all(store: &Store, plugin_id: &str) -> Result<()> {
    check_plugin_id(plugin_id)?;
    let backend = store.backend();
    let mut tx = store.begin_write().await?;
    lock_schema(backend, &mut tx).await?;
    for (_, names) in recorded_entities(&mut tx, plugin_id).await? {
        // The table's triggers and indexes go with it.
        ddl(&mut tx, format!("DROP TABLE IF EXISTS {}", quoted(&names.table))).await?;
        if backend == Backend::Sqlite {
            ddl(&mut tx, format!("DROP TABLE IF EXISTS {}", quoted(&names.fts()))).await?;
            ddl(&mut tx, format!("DROP TABLE IF EXISTS {}", quoted(&names.grams()))).await?;
        }
    }
    sqlx::query("DELETE FROM plugin_entities WHERE plugin_id = $1").bind(plugin_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes one organisation's records of the plugin (uninstall for one org with "drop data").
pub async fn delete_org_data(store: &Store, plugin_id: &str, org_id: Id) -> Result<()> {
    check_plugin_id(plugin_id)?;
    let mut tx = store.begin_write().await?;
    for (_, names) in recorded_entities(&mut tx, plugin_id).await? {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {} WHERE org_id = $1", quoted(&names.table))))
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
    }
    super::files::delete_org_files(&mut tx, plugin_id, org_id).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Values

fn invalid(message: String) -> Error {
    Error::Invalid { field: Some("fields"), message }
}

/// A value as shown in a message, cut short.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

/// `YYYY-MM-DD`, a real day, written exactly so.
fn parse_date(s: &str) -> Option<String> {
    let date: jiff::civil::Date = s.parse().ok()?;
    let canonical = date.to_string();
    (canonical == s).then_some(canonical)
}

/// Checks a value against a type and turns it into the column's value; `null` is a NULL.
/// Only the shape: ranges, options and existence are checked by writes.
fn typed(entity: &str, field: &str, kind: FieldType, value: &Value) -> Result<Arg> {
    let wrong = |what: &str| invalid(format!("{entity}.{field} must be {what}, not {}", show(value)));
    if value.is_null() {
        return Ok(match storage(kind) {
            Storage::Text => Arg::Text(None),
            Storage::Int => Arg::Int(None),
            Storage::Float => Arg::Float(None),
            Storage::Bool => Arg::Bool(None),
        });
    }
    Ok(match kind {
        FieldType::Text => {
            let s = value.as_str().ok_or_else(|| wrong("text"))?;
            if s.contains('\0') {
                return Err(invalid(format!("{entity}.{field} must not contain NUL (\\u0000) characters")));
            }
            Arg::Text(Some(s.to_owned()))
        }
        FieldType::Integer => Arg::Int(Some(value.as_i64().ok_or_else(|| wrong("an integer"))?)),
        FieldType::Timestamp => {
            let ms = value.as_i64().ok_or_else(|| wrong("a time in milliseconds since 1970 (an integer)"))?;
            if jiff::Timestamp::from_millisecond(ms).is_err() {
                return Err(wrong("a time within the years -9999 to 9999"));
            }
            Arg::Int(Some(ms))
        }
        FieldType::User => Arg::Int(Some(value.as_i64().ok_or_else(|| wrong("a user id (an integer)"))?)),
        FieldType::Customer => Arg::Int(Some(value.as_i64().ok_or_else(|| wrong("a customer id (an integer)"))?)),
        FieldType::Number => Arg::Float(Some(value.as_f64().ok_or_else(|| wrong("a number"))?)),
        FieldType::Bool => Arg::Bool(Some(value.as_bool().ok_or_else(|| wrong("true or false"))?)),
        FieldType::Date => {
            let date = value.as_str().and_then(parse_date).ok_or_else(|| wrong("a date written YYYY-MM-DD"))?;
            Arg::Text(Some(date))
        }
        FieldType::Json => {
            let text = value.to_string();
            if text.len() > MAX_JSON {
                return Err(invalid(format!("{entity}.{field} is at most {MAX_JSON} bytes of JSON")));
            }
            Arg::Text(Some(text))
        }
    })
}

/// Whether a field is in an index or unique, so that its text must fit an index entry.
fn is_indexed(entity: &Entity, field: &EntityField) -> bool {
    field.unique || entity.indexes.iter().any(|index| index.contains(&field.name))
}

/// Whether the reach may link a record to a customer: one of the organisation, which a user
/// must also be able to read. Either way, a customer out of reach reads as one that does not
/// exist.
async fn customer_reachable(store: &Store, reach: &Reach<'_>, customer_id: Id) -> Result<bool> {
    match reach {
        Reach::Plugin { org_id, .. } => exists(store, "customers", *org_id, customer_id).await,
        Reach::User(access) => match crate::customers::get(store, access, customer_id, Action::Read).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_) | Error::Forbidden(_)) => Ok(false),
            Err(e) => Err(e),
        },
    }
}

async fn exists(store: &Store, table: &'static str, org_id: Id, id: Id) -> Result<bool> {
    let found: Option<Id> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM {table} WHERE id = $1 AND org_id = $2")))
            .bind(id)
            .bind(org_id)
            .fetch_optional(store.pool())
            .await?;
    Ok(found.is_some())
}

/// The users and customers one write or one import has looked up, so that a file naming the
/// same author on every line asks the database once.
#[derive(Default)]
struct Seen {
    /// A user's department, or `None` when the organisation has no such user.
    users: HashMap<Id, Option<Option<Id>>>,
    /// Whether the reach reaches a customer.
    customers: HashMap<Id, bool>,
}

impl Seen {
    /// The department of a user of the organisation, or `None` when there is no such user.
    async fn user(&mut self, store: &Store, org_id: Id, user: Id) -> Result<Option<Option<Id>>> {
        if let Some(known) = self.users.get(&user) {
            return Ok(*known);
        }
        let department: Option<Option<Id>> =
            sqlx::query_scalar("SELECT department_id FROM users WHERE id = $1 AND org_id = $2")
                .bind(user)
                .bind(org_id)
                .fetch_optional(store.pool())
                .await?;
        self.users.insert(user, department);
        Ok(department)
    }

    async fn customer(&mut self, store: &Store, reach: &Reach<'_>, customer: Id) -> Result<bool> {
        if let Some(known) = self.customers.get(&customer) {
            return Ok(*known);
        }
        let reachable = customer_reachable(store, reach, customer).await?;
        self.customers.insert(customer, reachable);
        Ok(reachable)
    }
}

/// Checks the fields of a write: known, of their types, within their options and lengths,
/// naming users and customers of the organisation, and (`inserting`) every required field
/// given. Returns the columns to set.
async fn check_fields<'e>(
    store: &Store,
    reach: &Reach<'_>,
    entity: &'e Entity,
    fields: &Map<String, Value>,
    inserting: bool,
    seen: &mut Seen,
) -> Result<Vec<(&'e EntityField, Arg)>> {
    let e = &entity.name;
    let mut out = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let Some(field) = entity.fields.iter().find(|f| &f.name == name) else {
            let known: Vec<&str> = entity.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(invalid(format!("{e} has no field {name:?} (its fields: {})", known.join(", "))));
        };
        let arg = typed(e, name, field.kind, value)?;
        if field.required && (arg.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty())) {
            return Err(invalid(format!("{e}.{name} is required")));
        }
        match (&arg, field.kind) {
            (Arg::Text(Some(s)), FieldType::Text) => {
                let max = if is_indexed(entity, field) { MAX_INDEXED_TEXT } else { MAX_TEXT };
                if s.chars().count() > max {
                    return Err(invalid(format!("{e}.{name} is at most {max} characters")));
                }
                if !field.options.is_empty() && !field.options.contains(s) {
                    return Err(invalid(format!(
                        "{e}.{name} must be one of {} (not {})",
                        field.options.join(", "),
                        show(value)
                    )));
                }
            }
            (Arg::Int(Some(id)), FieldType::User) if seen.user(store, reach.org_id(), *id).await?.is_none() => {
                return Err(invalid(format!("{e}.{name}: user {id} does not exist in this organisation")));
            }
            (Arg::Int(Some(id)), FieldType::Customer) if !seen.customer(store, reach, *id).await? => {
                return Err(invalid(format!("{e}.{name}: customer {id} does not exist in this organisation")));
            }
            _ => {}
        }
        out.push((field, arg));
    }
    if inserting {
        for field in entity.fields.iter().filter(|f| f.required) {
            if !out.iter().any(|(f, _)| f.name == field.name) {
                return Err(invalid(format!("{e}.{} is required", field.name)));
            }
        }
    }
    Ok(out)
}

/// The quick-search text of a record: each searchable field's value lower-cased and
/// width-folded, with the pinyin spellings and initials of short text (see
/// [`names::search_text`]), so that `bjkj` and 科技 both find 北京科技.
fn search_text(entity: &Entity, fields: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    for name in &entity.searchable {
        let text = match fields.get(name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let part =
            if text.chars().count() <= PINYIN_UP_TO { names::search_text(&text) } else { names::fold_width(&text) };
        if !part.is_empty() {
            parts.push(part);
        }
    }
    parts.join(" ")
}

/// Refuses a write that would repeat a unique field's value within the organisation, naming
/// the field. (A write racing this one on PostgreSQL meets the unique index instead.)
async fn check_unique(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    names: &Names,
    entity: &Entity,
    org_id: Id,
    record: Option<Id>,
    values: &[(&EntityField, Arg)],
) -> Result<()> {
    for (field, arg) in values.iter().filter(|(f, a)| f.unique && !a.is_null()) {
        let mut sql = Stmt::new(format!("SELECT id FROM {} WHERE org_id = ", quoted(&names.table)));
        sql.bind_id(org_id).push(&format!(" AND {} = ", quoted(&field.name))).bind(arg.clone());
        if let Some(id) = record {
            sql.push(" AND id <> ").bind_id(id);
        }
        sql.push(" LIMIT 1");
        if sql.query().fetch_optional(&mut **tx).await?.is_some() {
            return Err(Error::Conflict(format!(
                "another {} record has this {}; {}.{} is unique",
                entity.name, field.name, entity.name, field.name
            )));
        }
    }
    Ok(())
}

/// A write's database error, with a unique index's refusal told as the conflict it is.
fn write_error(err: sqlx::Error, entity: &Entity) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.kind() == sqlx::error::ErrorKind::UniqueViolation
    {
        let unique: Vec<String> =
            entity.fields.iter().filter(|f| f.unique).map(|f| format!("{}.{}", entity.name, f.name)).collect();
        return Error::Conflict(format!(
            "another {} record has the same value in a unique field ({})",
            entity.name,
            unique.join(", ")
        ));
    }
    err.into()
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The built-in columns a record is read with, before its fields.
const RECORD_COLUMNS: &str = "id, customer_id, owner_id, department_id, created_at, updated_at, version";
const RECORD_COLUMN_COUNT: usize = 7;

fn select_list(entity: &Entity) -> String {
    let mut out = RECORD_COLUMNS.to_owned();
    for f in &entity.fields {
        out.push_str(", ");
        out.push_str(&quoted(&f.name));
    }
    out
}

fn decode_field(row: &sqlx::any::AnyRow, i: usize, kind: FieldType) -> Result<Value> {
    Ok(match storage(kind) {
        Storage::Text => match row.try_get::<Option<String>, _>(i)? {
            None => Value::Null,
            Some(text) if kind == FieldType::Json => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            Some(text) => Value::String(text),
        },
        Storage::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::from),
        // A REAL on SQLite, a DOUBLE PRECISION on PostgreSQL; an integer if either hands one.
        Storage::Float => {
            let v = match row.try_get::<Option<f64>, _>(i) {
                Ok(v) => v,
                Err(_) => row.try_get::<Option<i64>, _>(i)?.map(|n| n as f64),
            };
            v.and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
        }
        // A BOOLEAN on PostgreSQL, 0 or 1 on SQLite.
        Storage::Bool => {
            let v = match row.try_get::<Option<bool>, _>(i) {
                Ok(v) => v,
                Err(_) => row.try_get::<Option<i64>, _>(i)?.map(|n| n != 0),
            };
            v.map_or(Value::Null, Value::Bool)
        }
    })
}

fn record_from_row(entity: &Entity, row: &sqlx::any::AnyRow) -> Result<Record> {
    let mut fields = Map::new();
    for (i, f) in entity.fields.iter().enumerate() {
        fields.insert(f.name.clone(), decode_field(row, RECORD_COLUMN_COUNT + i, f.kind)?);
    }
    Ok(Record {
        id: row.try_get(0)?,
        entity: entity.name.clone(),
        fields,
        customer_id: row.try_get(1)?,
        owner_id: row.try_get(2)?,
        department_id: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
        version: row.try_get(6)?,
    })
}

/// One record within `filter`, if there is one.
async fn fetch<'e, E>(exec: E, names: &Names, entity: &Entity, id: Id, filter: &RecordFilter) -> Result<Option<Record>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut sql = Stmt::new(format!("SELECT {} FROM {} WHERE id = ", select_list(entity), quoted(&names.table)));
    sql.bind_id(id).push(" AND ").push_filter(filter);
    sql.query().fetch_optional(exec).await?.map(|row| record_from_row(entity, &row)).transpose()
}

/// A record the reach may do `action` on. Out of reach it is not found, unless a user may read
/// it, who is told what they may not do.
async fn reachable(
    store: &Store,
    reach: &Reach<'_>,
    plugin_id: &str,
    names: &Names,
    entity: &Entity,
    id: Id,
    action: Action,
) -> Result<Record> {
    if let Some(record) = fetch(store.pool(), names, entity, id, &reach.filter(plugin_id, action)).await? {
        return Ok(record);
    }
    if action != Action::Read
        && matches!(reach, Reach::User(_))
        && fetch(store.pool(), names, entity, id, &reach.filter(plugin_id, Action::Read)).await?.is_some()
    {
        return Err(Error::Forbidden(format!("you may read this {} record but not {action} it", entity.name)));
    }
    Err(Error::NotFound("record"))
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The owner and department of a record the reach creates: the user, or the plugin's acting
/// user, with their department.
async fn new_owner(store: &Store, reach: &Reach<'_>) -> Result<(Option<Id>, Option<Id>)> {
    match reach {
        Reach::User(access) => {
            let p = access.principal();
            Ok((Some(p.user_id), p.department_id))
        }
        Reach::Plugin { org_id, acting_user } => {
            owned_by(store, *org_id, *acting_user, "acting_user", &mut Seen::default()).await
        }
    }
}

/// The owner an entity's owner field names in `fields`: `Some(None)` when it is cleared, `None`
/// when the entity has no owner field or `fields` leaves it out.
fn owner_in(entity: &Entity, fields: &Map<String, Value>) -> Option<Option<Id>> {
    let value = fields.get(entity.owner.as_deref()?)?;
    Some(value.as_i64())
}

/// The owner and department of a record owned by `owner` (named by `field`, for the error).
async fn owned_by(
    store: &Store,
    org_id: Id,
    owner: Option<Id>,
    field: &'static str,
    seen: &mut Seen,
) -> Result<(Option<Id>, Option<Id>)> {
    let Some(user) = owner else { return Ok((None, None)) };
    match seen.user(store, org_id, user).await? {
        Some(department) => Ok((Some(user), department)),
        None => Err(Error::invalid(field, format!("user {user} does not exist in this organisation"))),
    }
}

/// Creates a record. A user owns what they create (filed under their department) and needs
/// the create permission; the plugin's records are owned by its acting user, if any. An entity
/// with an owner field is owned by the user that field names, whoever creates it.
pub async fn insert(
    store: &Store,
    reach: &Reach<'_>,
    plugin_id: &str,
    entity: &Entity,
    fields: &Map<String, Value>,
    customer_id: Option<Id>,
) -> Result<Record> {
    let names = check_entity(plugin_id, entity)?;
    let org_id = reach.org_id();
    let mut seen = Seen::default();
    let (owner_id, department_id) = match owner_in(entity, fields) {
        Some(owner) => owned_by(store, org_id, owner, "owner", &mut seen).await?,
        None => new_owner(store, reach).await?,
    };
    if matches!(reach, Reach::User(_))
        && !reach.filter(plugin_id, Action::Create).allows(&RecordScope { org_id, owner_id, department_id })
    {
        return Err(Error::Forbidden(format!("you may not create {} records", entity.name)));
    }
    if let Some(customer) = customer_id
        && !customer_reachable(store, reach, customer).await?
    {
        return Err(Error::invalid("customer_id", format!("customer {customer} does not exist in this organisation")));
    }
    let values = check_fields(store, reach, entity, fields, true, &mut seen).await?;
    let sql = insert_statement(
        store.backend(),
        &names,
        entity,
        fields,
        &values,
        (org_id, customer_id, owner_id, department_id),
    );
    let mut tx = store.begin_write().await?;
    check_unique(&mut tx, &names, entity, org_id, None, &values).await?;
    let row = sql.query().fetch_one(&mut *tx).await.map_err(|e| write_error(e, entity))?;
    let id: Id = row.try_get(0)?;
    let record = fetch(&mut *tx, &names, entity, id, &RecordFilter::Org { org_id })
        .await?
        .ok_or_else(|| Error::Internal(format!("the {} record just inserted cannot be read", entity.name)))?;
    tx.commit().await?;
    Ok(record)
}

/// The `INSERT … RETURNING id` of a new record of checked values, owned as given.
fn insert_statement(
    backend: Backend,
    names: &Names,
    entity: &Entity,
    fields: &Map<String, Value>,
    values: &[(&EntityField, Arg)],
    owned: Owned,
) -> Stmt {
    let mut sql = insert_head(names, values);
    push_insert_row(&mut sql, backend, entity, fields, values, owned);
    sql.push(" RETURNING id");
    sql
}

/// Who a new record belongs to: (organisation, customer, owner, department).
type Owned = (Id, Option<Id>, Option<Id>, Option<Id>);

/// `INSERT INTO table (columns…) VALUES `, for rows setting the fields of `values`.
fn insert_head(names: &Names, values: &[(&EntityField, Arg)]) -> Stmt {
    let mut sql = Stmt::new(format!(
        "INSERT INTO {} (org_id, customer_id, owner_id, department_id, created_at, updated_at, version, search_grams, search_text",
        quoted(&names.table)
    ));
    for (field, _) in values {
        sql.push(", ").push(&quoted(&field.name));
    }
    sql.push(") VALUES ");
    sql
}

/// Appends one row, `(…)`, of an insert headed by [`insert_head`] with the same fields.
fn push_insert_row(
    sql: &mut Stmt,
    backend: Backend,
    entity: &Entity,
    fields: &Map<String, Value>,
    values: &[(&EntityField, Arg)],
    (org_id, customer_id, owner_id, department_id): Owned,
) {
    let search = search_text(entity, fields);
    let now = now_ms();
    sql.push("(").bind_id(org_id);
    for arg in [Arg::Int(customer_id), Arg::Int(owner_id), Arg::Int(department_id), Arg::Int(Some(now))] {
        sql.push(", ").bind(arg);
    }
    sql.push(", ").bind_id(now).push(", 1, ");
    bind_grams(sql, backend, &search);
    sql.push(", ").bind(Arg::Text(Some(search)));
    for (_, arg) in values {
        sql.push(", ").bind(arg.clone());
    }
    sql.push(")");
}

/// One record of an import: its fields, and the customer it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub customer_id: Option<Id>,
}

/// Checks records to import, as [`insert`] checks each, for the plugin in an organisation;
/// with `write`, also writes them, all in one transaction. Records belong to the plugin (or
/// to their declared owner field). An error comes with the index of the record it is about,
/// when it is about one. `tessera records import` checks a whole file this way before writing
/// any of it.
pub async fn import(
    store: &Store,
    org_id: Id,
    plugin_id: &str,
    entity: &Entity,
    records: &[ImportRecord],
    write: bool,
) -> std::result::Result<u64, (Option<usize>, Error)> {
    let names = check_entity(plugin_id, entity).map_err(|e| (None, e))?;
    let reach = Reach::Plugin { org_id, acting_user: None };
    let mut seen = Seen::default();
    let mut checked = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let at = |e: Error| (Some(i), e);
        let (owner_id, department_id) = match owner_in(entity, &record.fields) {
            Some(owner) => owned_by(store, org_id, owner, "owner", &mut seen).await.map_err(at)?,
            None => (None, None),
        };
        if let Some(customer) = record.customer_id
            && !seen.customer(store, &reach, customer).await.map_err(at)?
        {
            return Err(at(Error::invalid(
                "customer_id",
                format!("customer {customer} does not exist in this organisation"),
            )));
        }
        let values = check_fields(store, &reach, entity, &record.fields, true, &mut seen).await.map_err(at)?;
        checked.push((values, (org_id, record.customer_id, owner_id, department_id)));
    }
    if !write {
        return Ok(0);
    }
    // Records setting the same fields go in one statement, up to IMPORT_ROWS at once; with a
    // unique field, one at a time, so that a repeated value is told with its record.
    let per_statement = if entity.fields.iter().any(|f| f.unique) { 1 } else { IMPORT_ROWS };
    let mut tx = store.begin_write().await.map_err(|e| (None, e))?;
    let mut first = 0;
    while first < checked.len() {
        let columns = |i: usize| checked[i].0.iter().map(|(f, _)| f.name.as_str());
        let mut last = first + 1;
        while last < checked.len() && last - first < per_statement && columns(last).eq(columns(first)) {
            last += 1;
        }
        let mut sql = insert_head(&names, &checked[first].0);
        for i in first..last {
            if i > first {
                sql.push(", ");
            }
            push_insert_row(&mut sql, store.backend(), entity, &records[i].fields, &checked[i].0, checked[i].1);
        }
        sql.query().execute(&mut *tx).await.map_err(|e| (Some(first), write_error(e, entity)))?;
        first = last;
    }
    tx.commit().await.map_err(|e| (None, e.into()))?;
    Ok(checked.len() as u64)
}

/// Records an import writes with one statement.
const IMPORT_ROWS: usize = 100;

/// The entity as the installed plugin declared it, from the host's bookkeeping.
pub async fn declared(store: &Store, plugin_id: &str, entity: &str) -> Result<Entity> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT declared FROM plugin_entities WHERE plugin_id = $1 AND entity = $2")
            .bind(plugin_id)
            .bind(entity)
            .fetch_optional(store.pool())
            .await?;
    let text = text.ok_or(Error::NotFound("entity"))?;
    serde_json::from_str(&text).map_err(|e| Error::Internal(format!("the declaration of {plugin_id}.{entity}: {e}")))
}

/// One record, if the reach may read it.
pub async fn get(store: &Store, reach: &Reach<'_>, plugin_id: &str, entity: &Entity, id: Id) -> Result<Record> {
    let names = check_entity(plugin_id, entity)?;
    reachable(store, reach, plugin_id, &names, entity, id, Action::Read).await
}

/// Sets the given fields of a record (`null` clears one; fields not named stay), if the reach
/// may edit it. With `expected_version`, a record changed since that version is refused with
/// `Conflict`, as is a record changed by someone else during this update; without, a change made
/// by someone else during the update is read and the fields are set on top of it (a few times at
/// most, then `Conflict`).
pub async fn update(
    store: &Store,
    reach: &Reach<'_>,
    plugin_id: &str,
    entity: &Entity,
    id: Id,
    fields: &Map<String, Value>,
    expected_version: Option<i64>,
) -> Result<Record> {
    let names = check_entity(plugin_id, entity)?;
    let mut attempt = 1;
    loop {
        let changed = update_once(store, reach, plugin_id, &names, entity, id, fields, expected_version).await?;
        match changed {
            Changed::Done(record) => return Ok(record),
            Changed::Raced if expected_version.is_none() && attempt < UNVERSIONED_ATTEMPTS => attempt += 1,
            Changed::Raced => return Err(changed_meanwhile(entity)),
        }
    }
}

/// Tries of an update without an expected version that meets concurrent changes.
const UNVERSIONED_ATTEMPTS: usize = 3;

/// One try at an update: done, or raced by a concurrent change (and rolled back).
enum Changed {
    Done(Record),
    Raced,
}

#[allow(clippy::too_many_arguments)]
async fn update_once(
    store: &Store,
    reach: &Reach<'_>,
    plugin_id: &str,
    names: &Names,
    entity: &Entity,
    id: Id,
    fields: &Map<String, Value>,
    expected_version: Option<i64>,
) -> Result<Changed> {
    let org_id = reach.org_id();
    let before = reachable(store, reach, plugin_id, names, entity, id, Action::Edit).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(Error::Conflict(format!(
            "this {} record was changed by someone else (version {} is current); reload it and try again",
            entity.name, before.version
        )));
    }
    let mut seen = Seen::default();
    let values = check_fields(store, reach, entity, fields, false, &mut seen).await?;
    if values.is_empty() {
        return Ok(Changed::Done(before));
    }
    let mut merged = before.fields.clone();
    for (name, value) in fields {
        merged.insert(name.clone(), value.clone());
    }
    // Strictly later than the last change, even within the same millisecond.
    let now = now_ms().max(before.updated_at + 1);
    let mut sql = Stmt::new(format!("UPDATE {} SET ", quoted(&names.table)));
    for (field, arg) in &values {
        sql.push(&quoted(&field.name)).push(" = ").bind(arg.clone()).push(", ");
    }
    if let Some(owner) = owner_in(entity, fields) {
        // The record moves to the new owner; a user may only give it to someone their scope
        // still reaches.
        let (owner_id, department_id) = owned_by(store, org_id, owner, "owner", &mut seen).await?;
        if matches!(reach, Reach::User(_))
            && !reach.filter(plugin_id, Action::Edit).allows(&RecordScope { org_id, owner_id, department_id })
        {
            return Err(Error::Forbidden(format!("you may not give {} records to that user", entity.name)));
        }
        sql.push("owner_id = ").bind(Arg::Int(owner_id)).push(", department_id = ").bind(Arg::Int(department_id));
        sql.push(", ");
    }
    let search = search_text(entity, &merged);
    sql.push("search_grams = ");
    bind_grams(&mut sql, store.backend(), &search);
    sql.push(", search_text = ").bind(Arg::Text(Some(search)));
    sql.push(", updated_at = ").bind_id(now).push(", version = version + 1 WHERE id = ").bind_id(id);
    sql.push(" AND org_id = ").bind_id(org_id).push(" AND version = ").bind_id(before.version);
    let mut tx = store.begin_write().await?;
    check_unique(&mut tx, names, entity, org_id, Some(id), &values).await?;
    let done = sql.query().execute(&mut *tx).await.map_err(|e| write_error(e, entity))?;
    if done.rows_affected() == 0 {
        return Ok(Changed::Raced);
    }
    commit_change(tx, done.rows_affected(), names, entity, id, org_id).await.map(Changed::Done)
}

/// The refusal of a change that met another one to the same record.
fn changed_meanwhile(entity: &Entity) -> Error {
    Error::Conflict(format!(
        "this {} record was changed by someone else at the same moment; reload it and try again",
        entity.name
    ))
}

/// Ends a versioned change of one record: none changed means someone else changed it at the
/// same moment; otherwise the record as it now is, read inside the transaction, committed.
async fn commit_change(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    changed: u64,
    names: &Names,
    entity: &Entity,
    id: Id,
    org_id: Id,
) -> Result<Record> {
    if changed == 0 {
        return Err(changed_meanwhile(entity));
    }
    let record = fetch(&mut *tx, names, entity, id, &RecordFilter::Org { org_id })
        .await?
        .ok_or_else(|| Error::Internal(format!("the {} record just changed cannot be read", entity.name)))?;
    tx.commit().await?;
    Ok(record)
}

/// Links a record to a customer (moving it to that customer's timeline) or, with none,
/// unlinks it, if the reach may edit the record and see the customer.
pub async fn link(
    store: &Store,
    reach: &Reach<'_>,
    plugin_id: &str,
    entity: &Entity,
    id: Id,
    customer_id: Option<Id>,
) -> Result<Record> {
    let names = check_entity(plugin_id, entity)?;
    let org_id = reach.org_id();
    let before = reachable(store, reach, plugin_id, &names, entity, id, Action::Edit).await?;
    if before.customer_id == customer_id {
        return Ok(before);
    }
    if let Some(customer) = customer_id
        && !customer_reachable(store, reach, customer).await?
    {
        return Err(Error::invalid("customer_id", format!("customer {customer} does not exist in this organisation")));
    }
    let now = now_ms().max(before.updated_at + 1);
    let mut sql = Stmt::new(format!("UPDATE {} SET customer_id = ", quoted(&names.table)));
    sql.bind(Arg::Int(customer_id)).push(", updated_at = ").bind_id(now);
    sql.push(", version = version + 1 WHERE id = ").bind_id(id);
    sql.push(" AND org_id = ").bind_id(org_id).push(" AND version = ").bind_id(before.version);
    let mut tx = store.begin_write().await?;
    let changed = sql.query().execute(&mut *tx).await?.rows_affected();
    commit_change(tx, changed, &names, entity, id, org_id).await
}

/// Deletes a record, if the reach may delete it.
pub async fn delete(store: &Store, reach: &Reach<'_>, plugin_id: &str, entity: &Entity, id: Id) -> Result<()> {
    let names = check_entity(plugin_id, entity)?;
    reachable(store, reach, plugin_id, &names, entity, id, Action::Delete).await?;
    let mut tx = store.begin_write().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {} WHERE id = $1 AND org_id = $2", quoted(&names.table))))
        .bind(id)
        .bind(reach.org_id())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Finding

/// A column a query compares or sorts by.
#[derive(Debug, Clone, Copy)]
struct Column<'a> {
    name: &'a str,
    kind: FieldType,
    nullable: bool,
    builtin: bool,
}

impl Column<'_> {
    fn sql(&self) -> String {
        if self.builtin { self.name.to_owned() } else { quoted(self.name) }
    }

    /// This column's value in a record, as JSON.
    fn value_in(&self, record: &Record) -> Value {
        match self.name {
            "id" if self.builtin => record.id.into(),
            "customer_id" if self.builtin => record.customer_id.into(),
            "owner_id" if self.builtin => record.owner_id.into(),
            "created_at" if self.builtin => record.created_at.into(),
            "updated_at" if self.builtin => record.updated_at.into(),
            name => record.fields.get(name).cloned().unwrap_or(Value::Null),
        }
    }
}

/// A declared field or a built-in column a query may name.
fn column<'a>(entity: &'a Entity, name: &'a str, what: &'static str) -> Result<Column<'a>> {
    if let Some(f) = entity.fields.iter().find(|f| f.name == name) {
        return Ok(Column { name: &f.name, kind: f.kind, nullable: true, builtin: false });
    }
    let (kind, nullable) = match name {
        "id" => (FieldType::Integer, false),
        "customer_id" => (FieldType::Customer, true),
        "owner_id" => (FieldType::User, true),
        "created_at" | "updated_at" => (FieldType::Timestamp, false),
        _ => {
            let known: Vec<&str> = entity.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(Error::invalid(
                what,
                format!(
                    "{} has no field {name:?} (its fields: {}; and customer_id, owner_id, created_at, updated_at)",
                    entity.name,
                    known.join(", ")
                ),
            ));
        }
    };
    Ok(Column { name, kind, nullable, builtin: true })
}

/// `*`, `?` and `[` made literal for SQLite's `GLOB`.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// Appends ` AND <condition>`.
fn push_condition(sql: &mut Stmt, backend: Backend, entity: &Entity, cond: &Condition) -> Result<()> {
    let col = column(entity, &cond.field, "conditions")?;
    let e = &entity.name;
    if col.kind == FieldType::Json {
        return Err(Error::invalid("conditions", format!("{e}.{} holds JSON, which cannot be compared", col.name)));
    }
    let expr = col.sql();
    match cond.op {
        Op::Contains | Op::StartsWith => {
            if col.kind != FieldType::Text {
                return Err(Error::invalid(
                    "conditions",
                    format!("{e}.{}: {} applies to text fields only", col.name, cond.op.as_str()),
                ));
            }
            let Some(text) = cond.value.as_str() else {
                return Err(Error::invalid(
                    "conditions",
                    format!("{e}.{}: {} needs a text value, not {}", col.name, cond.op.as_str(), show(&cond.value)),
                ));
            };
            let (open, pattern) = match backend {
                // Case-sensitive on both backends: SQLite's LIKE ignores ASCII case, its GLOB
                // does not.
                Backend::Sqlite => (" GLOB ", escape_glob(text)),
                Backend::Postgres => (" LIKE ", escape_like(text)),
            };
            let any = if backend == Backend::Sqlite { "*" } else { "%" };
            let pattern =
                if cond.op == Op::Contains { format!("{any}{pattern}{any}") } else { format!("{pattern}{any}") };
            sql.push(" AND ").push(&expr).push(open).bind(Arg::Text(Some(pattern)));
        }
        op => {
            let arg = typed(e, col.name, col.kind, &cond.value).map_err(|err| match err {
                Error::Invalid { message, .. } => Error::invalid("conditions", message),
                other => other,
            })?;
            if arg.is_null() {
                match op {
                    Op::Eq => sql.push(" AND ").push(&expr).push(" IS NULL"),
                    Op::Ne => sql.push(" AND ").push(&expr).push(" IS NOT NULL"),
                    _ => {
                        return Err(Error::invalid(
                            "conditions",
                            format!("{e}.{}: only eq and ne compare with null", col.name),
                        ));
                    }
                };
                return Ok(());
            }
            let cmp = match op {
                Op::Eq => " = ",
                Op::Ne => " <> ",
                Op::Lt => " < ",
                Op::Le => " <= ",
                Op::Gt => " > ",
                _ => " >= ",
            };
            if op == Op::Ne && col.nullable {
                // A record without a value differs from any value.
                sql.push(" AND (").push(&expr).push(cmp).bind(arg).push(" OR ").push(&expr).push(" IS NULL)");
            } else {
                sql.push(" AND ").push(&expr).push(cmp).bind(arg);
            }
        }
    }
    Ok(())
}

/// An FTS5 phrase: the text quoted, so that none of it reads as query syntax.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// How a quick search finds its records.
struct TextSearch {
    /// What was typed, width-folded and lower case, as written (single spaces) and without
    /// spaces (`bei jing` finds `beijing`): a record matches when its search text contains one.
    forms: Vec<String>,
    /// On SQLite, the full-text table and the expression whose matches are the candidates:
    /// the trigram table when every form has three characters or more, the grams table for a
    /// query of one or two CJK characters; none when the organisation's records are scanned.
    fts: Option<(String, String)>,
    /// On PostgreSQL, the grams every match has (see [`super::grams::required`]).
    grams: Vec<String>,
}

impl TextSearch {
    fn new(backend: Backend, names: &Names, text: &str) -> Result<Option<TextSearch>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > MAX_SEARCH {
            return Err(Error::invalid("text", format!("a search is at most {MAX_SEARCH} characters")));
        }
        let folded = names::fold_width(text);
        let mut forms = vec![folded.clone()];
        if let Some(compact) = names::search_query(text).filter(|c| !forms.contains(c)) {
            forms.push(compact);
        }
        let mut search = TextSearch { forms, fts: None, grams: Vec::new() };
        match backend {
            Backend::Sqlite if search.forms.iter().all(|f| f.chars().count() >= 3) => {
                let phrases: Vec<String> = search.forms.iter().map(|f| fts_phrase(f)).collect();
                search.fts = Some((names.fts(), phrases.join(" OR ")));
            }
            Backend::Sqlite if folded.chars().all(super::grams::is_cjk) => {
                // One or two CJK characters: their gram.
                search.fts = Some((names.grams(), fts_phrase(&folded)));
            }
            Backend::Sqlite => {}
            Backend::Postgres => search.grams = super::grams::required(&folded),
        }
        Ok(Some(search))
    }

    /// Appends ` AND <the search text matches>`: the candidates (the ids given, or the
    /// full-text table's matches, or the grams), checked for the text itself.
    fn push(&self, sql: &mut Stmt, backend: Backend, candidates: Option<&[Id]>) {
        match (candidates, &self.fts) {
            (Some(ids), _) => {
                // Ids the database gave, written as numbers.
                let list: Vec<String> = ids.iter().map(Id::to_string).collect();
                sql.push(&format!(" AND id IN ({})", list.join(",")));
            }
            (None, Some((table, expr))) => {
                let fts = quoted(table);
                sql.push(&format!(" AND id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH "));
                sql.bind(Arg::Text(Some(expr.clone()))).push(")");
            }
            (None, None) if !self.grams.is_empty() => {
                sql.push(" AND search_grams @> ARRAY[");
                for (i, gram) in self.grams.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(Arg::Text(Some(gram.clone())));
                }
                sql.push("]::text[]");
            }
            (None, None) => {}
        }
        // PostgreSQL's trigram index serves LIKE itself; on SQLite the candidates are checked,
        // or one or two Latin characters are looked for in the organisation's records.
        let escape = if backend == Backend::Sqlite { " ESCAPE '\\'" } else { "" };
        sql.push(" AND (");
        for (i, form) in self.forms.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("search_text LIKE ").bind(Arg::Text(Some(format!("%{}%", escape_like(form))))).push(escape);
        }
        sql.push(")");
    }
}

/// Candidates of a full-text table, newest (or oldest) first after `after`: the next batch a
/// search ordered by id looks through.
async fn fts_candidates(
    store: &Store,
    (table, expr): &(String, String),
    after: Option<Id>,
    descending: bool,
    batch: u32,
) -> Result<Vec<Id>> {
    let fts = quoted(table);
    let mut sql = Stmt::new(format!("SELECT rowid FROM {fts} WHERE {fts} MATCH "));
    sql.bind(Arg::Text(Some(expr.clone())));
    if let Some(id) = after {
        sql.push(if descending { " AND rowid < " } else { " AND rowid > " }).bind_id(id);
    }
    sql.push(if descending { " ORDER BY rowid DESC" } else { " ORDER BY rowid ASC" });
    sql.text.push_str(&format!(" LIMIT {batch}"));
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter().map(|r| r.try_get::<Id, _>(0).map_err(Error::from)).collect()
}

/// Where a page ended: the order it was in, the last record's sort value and id.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    by: String,
    desc: bool,
    key: Value,
    id: Id,
}

fn encode_cursor(cursor: &Cursor) -> Result<String> {
    let json = serde_json::to_vec(cursor).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

fn bad_cursor() -> Error {
    Error::invalid("cursor", "the cursor is not one this server gave out; start again without it")
}

fn decode_cursor(cursor: &str) -> Result<Cursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    serde_json::from_slice(&bytes).map_err(|_| bad_cursor())
}

/// Appends ` AND <after the cursor>` for the order by `col`. Records without a value come
/// after all others, in id order.
fn push_cursor(sql: &mut Stmt, entity: &Entity, col: &Column<'_>, descending: bool, c: &Cursor) -> Result<()> {
    if c.by != col.name || c.desc != descending {
        return Err(Error::invalid("cursor", "the cursor belongs to another order; start again without it"));
    }
    let cmp = if descending { " < " } else { " > " };
    if col.builtin && col.name == "id" {
        sql.push(" AND id").push(cmp).bind_id(c.id);
        return Ok(());
    }
    let key = typed(&entity.name, col.name, col.kind, &c.key).map_err(|_| bad_cursor())?;
    let expr = col.sql();
    if key.is_null() {
        if !col.nullable {
            return Err(bad_cursor());
        }
        sql.push(" AND (").push(&expr).push(" IS NULL AND id").push(cmp).bind_id(c.id).push(")");
        return Ok(());
    }
    sql.push(" AND (");
    if col.nullable {
        sql.push(&expr).push(" IS NULL OR ");
    }
    sql.push(&expr).push(cmp).bind(key.clone());
    sql.push(" OR (").push(&expr).push(" = ").bind(key).push(" AND id").push(cmp).bind_id(c.id).push("))");
    Ok(())
}

/// The records the reach may read that match the query, one page at a time in the order asked
/// for, with the id breaking ties (keyset paging: a page never repeats or skips a record that
/// stays put).
pub async fn find(store: &Store, reach: &Reach<'_>, plugin_id: &str, entity: &Entity, q: &Query) -> Result<Page> {
    let names = check_entity(plugin_id, entity)?;
    if !q.entity.is_empty() && q.entity != entity.name {
        return Err(Error::invalid("entity", format!("the query is for {:?}, not {:?}", q.entity, entity.name)));
    }
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("limit is 1 to {MAX_PAGE}")));
    }
    if q.conditions.len() > MAX_CONDITIONS {
        return Err(Error::invalid("conditions", format!("at most {MAX_CONDITIONS} conditions")));
    }
    let backend = store.backend();
    let order_by = q.order_by.as_deref().unwrap_or("id");
    // Without a sort field the newest come first, as the plugin API promises.
    let descending = q.descending || q.order_by.is_none();
    let sort = column(entity, order_by, "order_by")?;
    if sort.kind == FieldType::Json {
        return Err(Error::invalid("order_by", format!("{}.{order_by} holds JSON, which has no order", entity.name)));
    }
    let text = match &q.text {
        Some(text) => TextSearch::new(backend, &names, text)?,
        None => None,
    };
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let statement = |candidates: Option<&[Id]>, wanted: u32| -> Result<Stmt> {
        let mut sql = Stmt::new(format!("SELECT {} FROM {} WHERE ", select_list(entity), quoted(&names.table)));
        sql.push_filter(&reach.filter(plugin_id, Action::Read));
        if let Some(customer) = q.customer_id {
            sql.push(" AND customer_id = ").bind_id(customer);
        }
        for cond in &q.conditions {
            push_condition(&mut sql, backend, entity, cond)?;
        }
        if let Some(text) = &text {
            text.push(&mut sql, backend, candidates);
        }
        if let Some(cursor) = &cursor {
            push_cursor(&mut sql, entity, &sort, descending, cursor)?;
        }
        let dir = if descending { " DESC" } else { " ASC" };
        let expr = sort.sql();
        sql.push(" ORDER BY ");
        if !(sort.builtin && sort.name == "id") {
            if sort.nullable {
                sql.push(&format!("CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, "));
            }
            sql.push(&expr).push(dir).push(", ");
        }
        sql.push("id").push(dir);
        sql.text.push_str(&format!(" LIMIT {wanted}"));
        Ok(sql)
    };
    let by_id = sort.builtin && sort.name == "id";
    let rows = match text.as_ref().and_then(|t| t.fts.as_ref()) {
        // A search in id order reads the full-text table's matches in that order, a batch at a
        // time, and stops once the page is full: a word in half the records costs no more than
        // a rare one.
        Some(fts) if by_id => {
            let mut rows = Vec::new();
            let mut after = cursor.as_ref().map(|c| c.id);
            let mut batch = FIRST_BATCH;
            loop {
                let candidates = fts_candidates(store, fts, after, descending, batch).await?;
                let Some(&last) = candidates.last() else { break };
                let wanted = limit + 1 - rows.len() as u32;
                rows.extend(
                    statement(Some(&candidates), wanted)?.query().persistent(false).fetch_all(store.pool()).await?,
                );
                if rows.len() > limit as usize || candidates.len() < batch as usize {
                    break;
                }
                after = Some(last);
                batch = (batch * 4).min(LAST_BATCH);
            }
            rows
        }
        // A search is planned for what is searched: the same statement with a common gram and
        // with a rare one wants different plans (walking the id index, or the GIN index), and
        // PostgreSQL's plan of a kept statement would soon stop looking at the values.
        _ => statement(None, limit + 1)?.query().persistent(text.is_none()).fetch_all(store.pool()).await?,
    };
    let mut items = rows.iter().map(|row| record_from_row(entity, row)).collect::<Result<Vec<_>>>()?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = match items.last() {
        Some(last) if more => Some(encode_cursor(&Cursor {
            by: sort.name.to_owned(),
            desc: descending,
            key: sort.value_in(last),
            id: last.id,
        })?),
        _ => None,
    };
    Ok(Page { items, next })
}

// ---------------------------------------------------------------------------------------------
// Timeline

/// Timeline items for a customer from the given (plugin id, entity) pairs whose entity has
/// `timeline` set, newest first, at most `limit`.
///
/// As with the customer's activities, the customer decides: a user who may read the customer
/// sees the records linked to it (their titles), from every plugin whose records the user may
/// read at all; a customer out of reach is not found.
pub async fn timeline(
    store: &Store,
    access: &Access,
    customer_id: Id,
    sources: &[(&str, &Entity)],
    limit: u32,
) -> Result<Vec<TimelineItem>> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("limit is 1 to {MAX_PAGE}")));
    }
    crate::customers::get(store, access, customer_id, Action::Read).await?;
    let org_id = access.principal().org_id;
    let mut sql = Stmt::default();
    let mut picked: Vec<(&str, &str)> = Vec::new();
    for (plugin_id, entity) in sources {
        let Some(title) = &entity.timeline else { continue };
        let names = check_entity(plugin_id, entity)?;
        if access.scope(&access_module(access, plugin_id), Action::Read).is_none() {
            continue;
        }
        if !picked.is_empty() {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!(
            "SELECT {} AS src, id, CAST({} AS TEXT) AS title, created_at, owner_id FROM {} WHERE org_id = ",
            picked.len(),
            quoted(title),
            quoted(&names.table)
        ));
        sql.bind_id(org_id).push(" AND customer_id = ").bind_id(customer_id);
        picked.push((plugin_id, &entity.name));
    }
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    sql.text.push_str(&format!(" ORDER BY 4 DESC, 1, 2 DESC LIMIT {limit}"));
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| {
            let src: i64 = row.try_get(0)?;
            let (plugin_id, entity) = usize::try_from(src)
                .ok()
                .and_then(|i| picked.get(i))
                .ok_or_else(|| Error::Internal(format!("a timeline row came from the unknown source {src}")))?;
            Ok(TimelineItem {
                plugin_id: (*plugin_id).to_owned(),
                entity: (*entity).to_owned(),
                id: row.try_get(1)?,
                title: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                created_at: row.try_get(3)?,
                owner_id: row.try_get(4)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use anyhow::Context as _;
    use serde_json::json;

    use super::*;
    use crate::access::Principal;
    use crate::customers::NewCustomer;
    use crate::runtime::manifest::Localized;

    const PLUGIN: &str = "public-pool";

    // -- A database of its own per test, on either backend ------------------------------------

    fn postgres_admin_url() -> String {
        std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
    }

    /// A migrated database for one test: a temporary SQLite file, or a PostgreSQL database of
    /// its own, dropped afterwards.
    struct TestDb {
        store: Store,
        url: String,
        pg_name: Option<String>,
        dir: Option<PathBuf>,
    }

    impl TestDb {
        async fn new(backend: Backend) -> anyhow::Result<TestDb> {
            let name = format!("tessera_entities_{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
            let (url, pg_name, dir) = match backend {
                Backend::Sqlite => {
                    let dir = std::env::temp_dir().join(&name);
                    std::fs::create_dir_all(&dir)?;
                    (crate::store::sqlite_url_for_data_dir(&dir), None, Some(dir))
                }
                Backend::Postgres => {
                    let admin_url = postgres_admin_url();
                    let admin = Store::connect(&admin_url)
                        .await
                        .with_context(|| format!("PostgreSQL must be running for the tests ({admin_url})"))?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(admin.pool()).await?;
                    admin.close().await;
                    let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin_url);
                    (format!("{base}/{name}"), Some(name), None)
                }
            };
            let store = Store::connect(&url).await?;
            store.migrate().await?;
            Ok(TestDb { store, url, pg_name, dir })
        }

        /// Another host node on the same database.
        async fn another_node(&self) -> anyhow::Result<Store> {
            Ok(Store::connect(&self.url).await?)
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Some(dir) = &self.dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            if let Some(name) = self.pg_name.take() {
                // Dropping needs a connection of its own, on a runtime of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                    rt.block_on(async {
                        if let Ok(admin) = Store::connect(&postgres_admin_url()).await {
                            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(admin.pool()).await;
                            admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }

    /// Runs a test body once per backend, as `<name>::sqlite` and `<name>::postgres`.
    macro_rules! both_backends {
        ($(async fn $name:ident($db:ident) $body:block)*) => {$(
            mod $name {
                use super::*;
                async fn run($db: TestDb) -> anyhow::Result<()> $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() -> anyhow::Result<()> {
                    run(TestDb::new(Backend::Sqlite).await?).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() -> anyhow::Result<()> {
                    run(TestDb::new(Backend::Postgres).await?).await
                }
            }
        )*};
    }

    // -- An organisation with the built-in roles ----------------------------------------------

    /// An organisation: departments Sales and Service; `admin` (Administrator), `alice` and
    /// `bob` (Salespeople in Sales), `carol` (Salesperson in Service), `mona` (Sales manager of
    /// Sales).
    struct Org {
        id: Id,
        sales: Id,
        admin: Id,
        alice: Id,
        bob: Id,
        carol: Id,
        mona: Id,
    }

    async fn org(store: &Store, slug: &str) -> anyhow::Result<Org> {
        let now = now_ms();
        let mut tx = store.begin_write().await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO orgs (slug, name, time_zone, created_at) VALUES ($1, $1, 'Asia/Shanghai', $2) RETURNING id",
        )
        .bind(slug)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut roles = BTreeMap::new();
        for spec in crate::org::roles::builtin_roles() {
            roles.insert(spec.name, crate::org::roles::insert_role(&mut tx, id, &spec, now).await?);
        }
        let mut departments = Vec::new();
        for name in ["Sales", "Service"] {
            let department: Id = sqlx::query_scalar(
                "INSERT INTO departments (org_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
            )
            .bind(id)
            .bind(name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            departments.push(department);
        }
        let (sales, service) = (departments[0], departments[1]);
        let people = [
            ("admin", None, "Administrator"),
            ("alice", Some(sales), "Salesperson"),
            ("bob", Some(sales), "Salesperson"),
            ("carol", Some(service), "Salesperson"),
            ("mona", Some(sales), "Sales manager"),
        ];
        let mut users = Vec::new();
        for (name, department, role) in people {
            let user: Id = sqlx::query_scalar(
                "INSERT INTO users (org_id, username, display_name, password_hash, department_id, password_changed_at, \
                 created_at, updated_at) VALUES ($1, $2, $2, 'not a hash', $3, $4, $4, $4) RETURNING id",
            )
            .bind(id)
            .bind(name)
            .bind(department)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(user)
                .bind(roles.get(role).copied().context("built-in role")?)
                .execute(&mut *tx)
                .await?;
            users.push(user);
        }
        tx.commit().await?;
        store.auth_changed();
        Ok(Org { id, sales, admin: users[0], alice: users[1], bob: users[2], carol: users[3], mona: users[4] })
    }

    impl Org {
        async fn access(&self, store: &Store, user: Id) -> anyhow::Result<Access> {
            let department_id: Option<Id> = sqlx::query_scalar("SELECT department_id FROM users WHERE id = $1")
                .bind(user)
                .fetch_one(store.pool())
                .await?;
            Ok(Access::load(store, Principal { org_id: self.id, user_id: user, department_id }).await?)
        }

        /// A customer owned by `owner`.
        async fn customer(&self, store: &Store, name: &str, owner: Id) -> anyhow::Result<Id> {
            let admin = self.access(store, self.admin).await?;
            let new = NewCustomer { name: name.into(), owner_id: Some(owner), ..Default::default() };
            Ok(crate::customers::create(store, &admin, &new).await?.id)
        }

        fn plugin(&self) -> Reach<'static> {
            Reach::Plugin { org_id: self.id, acting_user: None }
        }
    }

    // -- Entities -----------------------------------------------------------------------------

    fn field(name: &str, kind: FieldType) -> EntityField {
        EntityField {
            name: name.into(),
            kind,
            label: Localized { zh: name.into(), en: name.into() },
            required: false,
            unique: false,
            options: Vec::new(),
        }
    }

    /// A claim on a customer with a field of every type.
    fn claim() -> Entity {
        let mut title = field("title", FieldType::Text);
        title.required = true;
        let mut code = field("code", FieldType::Text);
        code.unique = true;
        let mut status = field("status", FieldType::Text);
        status.options = vec!["open".into(), "closed".into()];
        Entity {
            name: "claim".into(),
            label: Localized { zh: "领取".into(), en: "Claim".into() },
            fields: vec![
                title,
                code,
                status,
                field("amount", FieldType::Number),
                field("quantity", FieldType::Integer),
                field("urgent", FieldType::Bool),
                field("due", FieldType::Date),
                field("claimed_at", FieldType::Timestamp),
                field("assignee", FieldType::User),
                field("account", FieldType::Customer),
                field("extra", FieldType::Json),
            ],
            indexes: vec![vec!["status".into(), "due".into()], vec!["customer_id".into(), "claimed_at".into()]],
            searchable: vec!["title".into(), "code".into()],
            timeline: Some("title".into()),
            reference: false,
            shared: false,
            owner: None,
        }
    }

    /// An entity with one text field and no timeline.
    fn note() -> Entity {
        Entity {
            name: "note".into(),
            label: Localized { zh: "备注".into(), en: "Note".into() },
            fields: vec![field("body", FieldType::Text)],
            indexes: Vec::new(),
            searchable: vec!["body".into()],
            timeline: None,
            reference: false,
            shared: false,
            owner: None,
        }
    }

    fn fields(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn invalid_message<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Err(Error::Invalid { message, .. }) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    async fn columns_of(store: &Store, table: &str) -> anyhow::Result<BTreeSet<String>> {
        let mut tx = store.begin_write().await?;
        let columns = table_columns(store.backend(), &mut tx, table).await?;
        tx.rollback().await?;
        Ok(columns)
    }

    /// The indexes of a table, with what each is made of (SQL as the database keeps it).
    async fn indexes_of(store: &Store, table: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let sql = match store.backend() {
            Backend::Sqlite => {
                "SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
            }
            Backend::Postgres => {
                "SELECT CAST(indexname AS TEXT), indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1"
            }
        };
        let rows: Vec<(String, String)> = sqlx::query_as(sql).bind(table).fetch_all(store.pool()).await?;
        Ok(rows.into_iter().collect())
    }

    async fn ids(store: &Store, reach: &Reach<'_>, entity: &Entity, q: Query) -> anyhow::Result<Vec<Id>> {
        Ok(find(store, reach, PLUGIN, entity, &q).await?.items.iter().map(|r| r.id).collect())
    }

    fn by_text(text: &str) -> Query {
        Query { text: Some(text.into()), ..Default::default() }
    }

    fn with(field: &str, op: Op, value: Value) -> Query {
        Query { conditions: vec![Condition { field: field.into(), op, value }], ..Default::default() }
    }

    // -- Without a database -------------------------------------------------------------------

    #[test]
    fn tables_are_named_from_plugin_and_entity() {
        assert_eq!(table_name("public-pool", "claim").ok().as_deref(), Some("plg_public_pool__claim"));
        for (plugin, entity) in
            [("Public", "claim"), ("a--b", "claim"), ("pool-", "claim"), ("pool", "a__b"), ("pool", "x")]
        {
            assert!(table_name(plugin, entity).is_err(), "{plugin} / {entity}");
        }
        // Past PostgreSQL's 63 bytes names are shortened, and stay apart.
        let long = "a".repeat(40);
        let one = table_name(&long, &format!("{}1", "e".repeat(29))).unwrap_or_default();
        let two = table_name(&long, &format!("{}2", "e".repeat(29))).unwrap_or_default();
        assert!(one.len() <= MAX_IDENT && two.len() <= MAX_IDENT, "{one} {two}");
        assert_ne!(one, two);
    }

    #[test]
    fn declarations_that_would_break_a_table_are_refused() {
        let mut system = claim();
        system.fields.push(field("xmin", FieldType::Integer));
        assert!(check_entity(PLUGIN, &system).is_err(), "a PostgreSQL system column");
        let mut options = claim();
        options.fields[4].options = vec!["1".into()];
        assert!(invalid_message(check_entity(PLUGIN, &options)).contains("options"));
        let mut twice = claim();
        twice.fields.push(field("title", FieldType::Text));
        assert!(invalid_message(check_entity(PLUGIN, &twice)).contains("twice"));
        let mut index = claim();
        index.indexes.push(vec!["extra".into()]);
        assert!(invalid_message(check_entity(PLUGIN, &index)).contains("JSON"));
        assert!(check_entity(PLUGIN, &claim()).is_ok());
    }

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
        assert_eq!(escape_glob("a*b?c[d]"), "a[*]b[?]c[[]d]");
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn values_are_checked_against_their_types() {
        let ok = |kind, value: Value| typed("claim", "f", kind, &value).is_ok();
        assert!(ok(FieldType::Integer, json!(3)) && !ok(FieldType::Integer, json!(3.5)));
        assert!(ok(FieldType::Number, json!(3)) && !ok(FieldType::Number, json!("3")));
        assert!(ok(FieldType::Date, json!("2024-02-29")) && !ok(FieldType::Date, json!("2023-02-29")));
        assert!(!ok(FieldType::Date, json!("2024-2-9")) && !ok(FieldType::Date, json!("2024-02-09T00:00:00")));
        assert!(ok(FieldType::Timestamp, json!(0)) && !ok(FieldType::Timestamp, json!(i64::MAX)));
        assert!(ok(FieldType::Bool, json!(false)) && !ok(FieldType::Bool, json!(0)));
        assert!(!ok(FieldType::Text, json!("a\u{0}b")));
        assert_eq!(
            typed("claim", "f", FieldType::Json, &json!({"a": 1})).ok(),
            Some(Arg::Text(Some("{\"a\":1}".into())))
        );
    }

    // -- On both backends ---------------------------------------------------------------------

    both_backends! {
        async fn migrating_twice_changes_nothing_and_new_fields_keep_old_rows(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let mut entity = claim();
            migrate(store, PLUGIN, &[entity.clone(), note()]).await?;
            migrate(store, PLUGIN, &[entity.clone(), note()]).await?;
            let table = table_name(PLUGIN, "claim")?;
            let before = columns_of(store, &table).await?;
            for column in ["id", "org_id", "customer_id", "owner_id", "department_id", "created_at", "updated_at", "version", "search_text", "title", "extra"] {
                assert!(before.contains(column), "{column} in {before:?}");
            }
            let old = insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "第一", "quantity": 7})), None).await?;
            let indexes = indexes_of(store, &table).await?;
            for suffix in ["org", "customer", "owner", "department", "ix_status__due", "ix_customer_id__claimed_at"] {
                assert!(indexes.contains_key(&format!("{table}__{suffix}")), "{suffix} in {indexes:?}");
            }
            let unique = indexes.get(&format!("{table}__uq_code")).context("the unique index of code")?;
            assert!(unique.contains("UNIQUE") && unique.contains("org_id"), "{unique}");
            match store.backend() {
                Backend::Postgres => {
                    let search = indexes.get(&format!("{table}__search")).context("the search index")?;
                    assert!(search.contains("gin") && search.contains("gin_trgm_ops"), "{search}");
                }
                Backend::Sqlite => {
                    let fts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = $1")
                        .bind(format!("{table}__fts"))
                        .fetch_one(store.pool())
                        .await?;
                    assert_eq!(fts, 1, "the trigram full-text table");
                }
            }

            // Version 2 drops `quantity` and adds `priority` with an index.
            entity.fields.retain(|f| f.name != "quantity");
            entity.fields.push(field("priority", FieldType::Integer));
            entity.indexes.push(vec!["priority".into()]);
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let after = columns_of(store, &table).await?;
            assert!(after.contains("priority"), "the new field has its column");
            assert!(after.contains("quantity"), "the dropped field keeps its column and data");
            let indexes = indexes_of(store, &table).await?;
            assert!(indexes.contains_key(&format!("{table}__ix_priority")), "{indexes:?}");
            entity.indexes.retain(|index| index != &["status", "due"]);
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let indexes = indexes_of(store, &table).await?;
            assert!(!indexes.contains_key(&format!("{table}__ix_status__due")), "an index no longer declared goes");
            assert!(indexes.contains_key(&format!("{table}__ix_priority")));
            let read = get(store, &acme.plugin(), PLUGIN, &entity, old.id).await?;
            assert_eq!(read.fields.get("title"), Some(&json!("第一")));
            assert_eq!(read.fields.get("priority"), Some(&Value::Null));
            assert!(!read.fields.contains_key("quantity"), "a dropped field is no longer read");
            let new = insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "第二", "priority": 3})), None).await?;
            assert_eq!(new.fields.get("priority"), Some(&json!(3)));
            let refused = insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "x", "quantity": 1})), None).await;
            assert!(invalid_message(refused).contains("claim has no field \"quantity\""));

            // Declared again, the field has its old values back.
            entity.fields.push(field("quantity", FieldType::Integer));
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            assert_eq!(get(store, &acme.plugin(), PLUGIN, &entity, old.id).await?.fields.get("quantity"), Some(&json!(7)));

            // A type kept otherwise is refused, naming the field; one kept alike is taken.
            let mut retyped = entity.clone();
            if let Some(f) = retyped.fields.iter_mut().find(|f| f.name == "quantity") {
                f.kind = FieldType::Text;
            }
            let message = invalid_message(migrate(store, PLUGIN, &[retyped]).await);
            assert!(message.contains("claim.quantity") && message.contains("integer"), "{message}");
            let mut alike = entity.clone();
            if let Some(f) = alike.fields.iter_mut().find(|f| f.name == "quantity") {
                f.kind = FieldType::Timestamp;
            }
            migrate(store, PLUGIN, &[alike]).await?;

            // A field made unique while values repeat is a conflict naming it.
            insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "第一"})), None).await?;
            let mut unique_title = entity.clone();
            unique_title.fields[0].unique = true;
            match migrate(store, PLUGIN, &[unique_title]).await {
                Err(Error::Conflict(message)) => assert!(message.contains("claim.title"), "{message}"),
                other => panic!("expected Conflict, got {other:?}"),
            }

            // Two nodes enabling a plugin at the same moment both succeed.
            let other = db.another_node().await?;
            let declared = [claim(), note()];
            let (a, b) = tokio::join!(migrate(store, "call-popup", &declared), migrate(&other, "call-popup", &declared));
            a?;
            b?;
            assert!(columns_of(store, &table_name("call-popup", "note")?).await?.contains("body"));
            other.close().await;
            Ok(())
        }

        async fn records_round_trip(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let customer = acme.customer(store, "北京科技有限公司", acme.admin).await?;
            let reach = Reach::Plugin { org_id: acme.id, acting_user: Some(acme.alice) };
            let values = json!({
                "title": "退款申请", "code": "C-1", "status": "open", "amount": 12.5, "quantity": 3, "urgent": true,
                "due": "2026-03-01", "claimed_at": 1_767_225_600_000_i64, "assignee": acme.bob, "account": customer,
                "extra": {"lines": [1, 2], "note": "备注"},
            });
            let created = insert(store, &reach, PLUGIN, &entity, &fields(values.clone()), Some(customer)).await?;
            assert_eq!(Value::Object(created.fields.clone()), values);
            assert_eq!(created.entity, "claim");
            assert_eq!(created.customer_id, Some(customer));
            assert_eq!((created.owner_id, created.department_id), (Some(acme.alice), Some(acme.sales)), "the acting user owns it");
            assert_eq!(created.version, 1);
            assert_eq!(get(store, &reach, PLUGIN, &entity, created.id).await?, created);

            let changed = update(store, &reach, PLUGIN, &entity, created.id, &fields(json!({"status": "closed", "amount": null, "urgent": false})), Some(1)).await?;
            assert_eq!(changed.version, 2);
            assert!(changed.updated_at > created.updated_at);
            assert_eq!(changed.created_at, created.created_at);
            assert_eq!(changed.fields.get("status"), Some(&json!("closed")));
            assert_eq!(changed.fields.get("amount"), Some(&Value::Null));
            assert_eq!(changed.fields.get("urgent"), Some(&json!(false)));
            assert_eq!(changed.fields.get("title"), Some(&json!("退款申请")), "fields not named stay");
            assert_eq!(get(store, &reach, PLUGIN, &entity, created.id).await?, changed);

            let plugin = acme.plugin();
            let unowned = insert(store, &plugin, PLUGIN, &entity, &fields(json!({"title": "无主"})), None).await?;
            assert_eq!((unowned.owner_id, unowned.department_id, unowned.customer_id), (None, None, None));

            delete(store, &reach, PLUGIN, &entity, created.id).await?;
            assert!(matches!(get(store, &reach, PLUGIN, &entity, created.id).await, Err(Error::NotFound(_))));
            assert!(matches!(delete(store, &reach, PLUGIN, &entity, created.id).await, Err(Error::NotFound(_))));
            let stranger = Reach::Plugin { org_id: acme.id, acting_user: Some(999_999) };
            let refused = insert(store, &stranger, PLUGIN, &entity, &fields(json!({"title": "x"})), None).await;
            assert!(invalid_message(refused).contains("user 999999"));
            Ok(())
        }

        async fn writes_are_validated_naming_entity_and_field(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let globex = org(store, "globex").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let foreign_customer = globex.customer(store, "环球公司", globex.admin).await?;
            let reach = acme.plugin();
            let cases = [
                (json!({"title": "x", "nope": 1}), "claim has no field \"nope\""),
                (json!({}), "claim.title is required"),
                (json!({"title": "   "}), "claim.title is required"),
                (json!({"title": null}), "claim.title is required"),
                (json!({"title": 5}), "claim.title must be text"),
                (json!({"title": "x", "quantity": 1.5}), "claim.quantity must be an integer"),
                (json!({"title": "x", "quantity": "3"}), "claim.quantity must be an integer"),
                (json!({"title": "x", "amount": "12"}), "claim.amount must be a number"),
                (json!({"title": "x", "urgent": 1}), "claim.urgent must be true or false"),
                (json!({"title": "x", "due": "2026-02-30"}), "claim.due must be a date written YYYY-MM-DD"),
                (json!({"title": "x", "due": "2026/01/01"}), "claim.due must be a date written YYYY-MM-DD"),
                (json!({"title": "x", "claimed_at": "yesterday"}), "claim.claimed_at must be a time"),
                (json!({"title": "x", "status": "pending"}), "claim.status must be one of open, closed"),
                (json!({"title": "x", "assignee": globex.alice}), "claim.assignee: user"),
                (json!({"title": "x", "assignee": "alice"}), "claim.assignee must be a user id"),
                (json!({"title": "x", "account": foreign_customer}), "claim.account: customer"),
                (json!({"title": "x", "code": "c".repeat(1001)}), "claim.code is at most 1000 characters"),
            ];
            for (values, expected) in cases {
                let message = invalid_message(insert(store, &reach, PLUGIN, &entity, &fields(values.clone()), None).await);
                assert!(message.contains(expected), "{values}: {message:?} should say {expected:?}");
            }
            match insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "x"})), Some(foreign_customer)).await {
                Err(Error::Invalid { field: Some("customer_id"), message }) => assert!(message.contains("customer"), "{message}"),
                other => panic!("a customer of another organisation: {other:?}"),
            }
            // A salesperson may not link a customer they cannot read; it reads as not existing.
            let mona_customer = acme.customer(store, "经理的客户", acme.mona).await?;
            let alice = acme.access(store, acme.alice).await?;
            let as_alice = Reach::User(&alice);
            match insert(store, &as_alice, PLUGIN, &entity, &fields(json!({"title": "x"})), Some(mona_customer)).await {
                Err(Error::Invalid { field: Some("customer_id"), message }) => assert!(message.contains("does not exist"), "{message}"),
                other => panic!("an unreadable customer: {other:?}"),
            }
            let own_customer = acme.customer(store, "自己的客户", acme.alice).await?;
            insert(store, &as_alice, PLUGIN, &entity, &fields(json!({"title": "x", "account": own_customer})), Some(own_customer)).await?;

            // Unique within the organisation: a conflict naming the field.
            let first = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "a", "code": "U-1"})), None).await?;
            match insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "b", "code": "U-1"})), None).await {
                Err(Error::Conflict(message)) => assert!(message.contains("claim.code"), "{message}"),
                other => panic!("expected Conflict, got {other:?}"),
            }
            insert(store, &globex.plugin(), PLUGIN, &entity, &fields(json!({"title": "b", "code": "U-1"})), None).await?;
            let second = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "b", "code": "U-2"})), None).await?;
            assert!(matches!(
                update(store, &reach, PLUGIN, &entity, second.id, &fields(json!({"code": "U-1"})), None).await,
                Err(Error::Conflict(_))
            ));
            update(store, &reach, PLUGIN, &entity, first.id, &fields(json!({"code": "U-1", "title": "a2"})), None).await?;

            // Updates are checked the same way.
            let message = invalid_message(update(store, &reach, PLUGIN, &entity, first.id, &fields(json!({"title": null})), None).await);
            assert!(message.contains("claim.title is required"), "{message}");
            let message = invalid_message(update(store, &reach, PLUGIN, &entity, first.id, &fields(json!({"nope": 1})), None).await);
            assert!(message.contains("claim has no field \"nope\""), "{message}");
            Ok(())
        }

        async fn nothing_crosses_organisations(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let globex = org(store, "globex").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let record = insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "机密"})), None).await?;
            let globex_admin = globex.access(store, globex.admin).await?;
            for reach in [globex.plugin(), Reach::User(&globex_admin)] {
                assert!(matches!(get(store, &reach, PLUGIN, &entity, record.id).await, Err(Error::NotFound(_))));
                assert!(matches!(
                    update(store, &reach, PLUGIN, &entity, record.id, &fields(json!({"title": "改"})), None).await,
                    Err(Error::NotFound(_))
                ));
                assert!(matches!(delete(store, &reach, PLUGIN, &entity, record.id).await, Err(Error::NotFound(_))));
                assert!(ids(store, &reach, &entity, Query::default()).await?.is_empty());
                assert!(ids(store, &reach, &entity, by_text("机密")).await?.is_empty());
            }
            let acme_admin = acme.access(store, acme.admin).await?;
            assert_eq!(ids(store, &Reach::User(&acme_admin), &entity, Query::default()).await?, vec![record.id]);
            assert_eq!(get(store, &acme.plugin(), PLUGIN, &entity, record.id).await?.fields.get("title"), Some(&json!("机密")));
            Ok(())
        }

        async fn users_reach_what_their_roles_allow(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let [admin, alice, bob, carol, mona] = [acme.admin, acme.alice, acme.bob, acme.carol, acme.mona];
            let mut accesses = BTreeMap::new();
            for user in [admin, alice, bob, carol, mona] {
                accesses.insert(user, acme.access(store, user).await?);
            }
            let access = |user: Id| accesses.get(&user).context("access");
            let mut owned = BTreeMap::new();
            for user in [alice, bob, carol] {
                let reach = Reach::User(access(user)?);
                let record = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": format!("{user} 的记录")})), None).await?;
                assert_eq!(record.owner_id, Some(user), "a user owns what they create");
                owned.insert(user, record.id);
            }
            let alices = owned.get(&alice).copied().context("alice's")?;
            assert_eq!(get(store, &Reach::User(access(alice)?), PLUGIN, &entity, alices).await?.department_id, Some(acme.sales));
            let plugins = insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "插件的"})), None).await?.id;

            let sorted = |mut v: Vec<Id>| { v.sort_unstable(); v };
            let seen = |user: Id| {
                let reach = Reach::User(accesses.get(&user).expect("access"));
                let entity = entity.clone();
                async move { ids(store, &reach, &entity, Query::default()).await.map(sorted) }
            };
            assert_eq!(seen(alice).await?, vec![alices], "a salesperson sees their own");
            let sales = sorted(vec![alices, owned[&bob]]);
            assert_eq!(seen(mona).await?, sales, "a manager sees the department's");
            assert_eq!(seen(admin).await?, sorted(vec![alices, owned[&bob], owned[&carol], plugins]), "scope all sees all");

            let as_alice = Reach::User(access(alice)?);
            let bobs = owned[&bob];
            assert!(matches!(get(store, &as_alice, PLUGIN, &entity, bobs).await, Err(Error::NotFound(_))));
            assert!(matches!(update(store, &as_alice, PLUGIN, &entity, bobs, &fields(json!({"title": "x"})), None).await, Err(Error::NotFound(_))));
            update(store, &as_alice, PLUGIN, &entity, alices, &fields(json!({"title": "改过"})), None).await?;
            assert!(matches!(delete(store, &as_alice, PLUGIN, &entity, alices).await, Err(Error::Forbidden(_))), "salespeople do not delete");
            let as_mona = Reach::User(access(mona)?);
            assert!(matches!(update(store, &as_mona, PLUGIN, &entity, owned[&carol], &fields(json!({"title": "x"})), None).await, Err(Error::NotFound(_))));
            delete(store, &as_mona, PLUGIN, &entity, bobs).await?;

            // A role that grants on the plugin's own module decides alone.
            let now = now_ms();
            let role: Id = sqlx::query_scalar(
                "INSERT INTO roles (org_id, name, description, builtin, created_at, updated_at) VALUES ($1, 'Pool reader', '', 0, $2, $2) RETURNING id",
            )
            .bind(acme.id)
            .bind(now)
            .fetch_one(store.pool())
            .await?;
            sqlx::query("INSERT INTO role_grants (org_id, role_id, module, action, scope) VALUES ($1, $2, 'plugin:public-pool', 'read', 'all')")
                .bind(acme.id)
                .bind(role)
                .execute(store.pool())
                .await?;
            sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
                .bind(acme.id)
                .bind(alice)
                .bind(role)
                .execute(store.pool())
                .await?;
            store.auth_changed();
            let reader = acme.access(store, alice).await?;
            assert_eq!(access_module(&reader, PLUGIN), "plugin:public-pool");
            let as_reader = Reach::User(&reader);
            assert_eq!(sorted(ids(store, &as_reader, &entity, Query::default()).await?), sorted(vec![alices, owned[&carol], plugins]));
            assert!(matches!(
                insert(store, &as_reader, PLUGIN, &entity, &fields(json!({"title": "x"})), None).await,
                Err(Error::Forbidden(_))
            ), "the plugin's module grants no create");
            Ok(())
        }

        async fn quick_search_finds_chinese_by_substring_and_pinyin(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let mut entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let reach = acme.plugin();
            let mut add = Vec::new();
            for (title, code) in [
                ("北京科技有限公司 退款申请", "BJ-1"),
                ("上海贸易 Claim", "SH-2"),
                ("ACME 50% off_sale", "AC-3"),
                (&format!("{}独特关键词{}", "长文".repeat(150), "结尾".repeat(50)) as &str, "LONG-4"),
            ] {
                add.push(insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": title, "code": code})), None).await?.id);
            }
            let (beijing, shanghai, acme_sale, long) = (add[0], add[1], add[2], add[3]);
            let cases: [(&str, Vec<Id>); 13] = [
                ("科技", vec![beijing]),
                ("科技有限", vec![beijing]),
                ("北京 科技", vec![beijing]),
                ("bjkj", vec![beijing]),
                ("BeiJing KeJi", vec![beijing]),
                ("acme", vec![acme_sale]),
                ("ＡＣＭＥ", vec![acme_sale]),
                ("50%", vec![acme_sale]),
                ("%", vec![acme_sale]),
                ("_", vec![acme_sale]),
                ("sh-2", vec![shanghai]),
                ("独特关键词", vec![long]),
                ("不存在", vec![]),
            ];
            for (text, expected) in cases {
                assert_eq!(ids(store, &reach, &entity, by_text(text)).await?, expected, "searching {text:?}");
            }
            let mut both = by_text("科技");
            both.conditions.push(Condition { field: "code".into(), op: Op::Eq, value: json!("SH-2") });
            assert!(ids(store, &reach, &entity, both).await?.is_empty(), "search and conditions both hold");

            // The search text follows updates.
            update(store, &reach, PLUGIN, &entity, beijing, &fields(json!({"title": "广州物流"})), None).await?;
            assert!(ids(store, &reach, &entity, by_text("科技有限")).await?.is_empty());
            assert_eq!(ids(store, &reach, &entity, by_text("广州物流")).await?, vec![beijing]);
            assert_eq!(ids(store, &reach, &entity, by_text("gzwl")).await?, vec![beijing]);

            // New searchable fields apply to the records there are.
            update(store, &reach, PLUGIN, &entity, shanghai, &fields(json!({"status": "closed"})), None).await?;
            assert!(ids(store, &reach, &entity, by_text("closed")).await?.is_empty());
            entity.searchable.push("status".into());
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            assert_eq!(ids(store, &reach, &entity, by_text("closed")).await?, vec![shanghai]);
            let too_long = find(store, &reach, PLUGIN, &entity, &by_text(&"长".repeat(101))).await;
            assert!(invalid_message(too_long).contains("at most 100"));
            Ok(())
        }

        async fn short_chinese_searches_page_through_every_match(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let globex = org(store, "globex").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let reach = acme.plugin();
            // Enough records that a search reads its candidates in several batches, with
            // another organisation's records among them.
            let texts = ["提供售后服务", "产品说明书", "售前咨询", "Refund policy 退款"];
            let mut by_text_of: BTreeMap<usize, Vec<Id>> = BTreeMap::new();
            for i in 0..900_usize {
                let title = format!("{} {i}", texts[i % texts.len()]);
                let status = if i % 10 == 0 { "closed" } else { "open" };
                let values = fields(json!({"title": title, "status": status}));
                if i % 5 == 4 {
                    insert(store, &globex.plugin(), PLUGIN, &entity, &values, None).await?;
                    continue;
                }
                let id = insert(store, &reach, PLUGIN, &entity, &values, None).await?.id;
                by_text_of.entry(i % texts.len()).or_default().push(id);
            }
            let expect = |which: &[usize]| {
                let mut all: Vec<Id> = which.iter().flat_map(|w| by_text_of[w].clone()).collect();
                all.sort_unstable_by(|a, b| b.cmp(a));
                all
            };
            async fn pages(store: &Store, reach: &Reach<'_>, entity: &Entity, q: Query) -> anyhow::Result<Vec<Id>> {
                let (mut seen, mut cursor) = (Vec::new(), None);
                loop {
                    let page = find(store, reach, PLUGIN, entity, &Query { limit: Some(37), cursor, ..q.clone() }).await?;
                    seen.extend(page.items.iter().map(|r| r.id));
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => return Ok(seen),
                    }
                }
            }
            for (text, which) in [
                ("售", vec![0, 2]),
                ("售后", vec![0]),
                ("售后服务", vec![0]),
                ("务", vec![0]),
                ("明书", vec![1]),
                ("refund", vec![3]),
                ("退款", vec![3]),
                ("咨", vec![2]),
                ("无", vec![]),
            ] {
                assert_eq!(pages(store, &reach, &entity, by_text(text)).await?, expect(&which), "searching {text:?}");
            }
            // With a condition most candidates fail.
            let mut closed = by_text("售");
            closed.conditions.push(Condition { field: "status".into(), op: Op::Eq, value: json!("closed") });
            let want: Vec<Id> = {
                let mut all = Vec::new();
                for id in expect(&[0, 2]) {
                    if get(store, &reach, PLUGIN, &entity, id).await?.fields["status"] == json!("closed") {
                        all.push(id);
                    }
                }
                all
            };
            assert!(!want.is_empty());
            assert_eq!(pages(store, &reach, &entity, closed).await?, want);
            // Oldest first, and in another order.
            let mut oldest = by_text("售后");
            oldest.order_by = Some("id".into());
            let mut ascending = expect(&[0]);
            ascending.reverse();
            assert_eq!(pages(store, &reach, &entity, oldest).await?, ascending);
            let mut by_title = by_text("售后");
            by_title.order_by = Some("title".into());
            assert_eq!(pages(store, &reach, &entity, by_title).await?.len(), by_text_of[&0].len());
            // The grams follow updates.
            let first = by_text_of[&1][0];
            update(store, &reach, PLUGIN, &entity, first, &fields(json!({"title": "售后回访"})), None).await?;
            assert!(pages(store, &reach, &entity, by_text("售后")).await?.contains(&first));
            assert!(!pages(store, &reach, &entity, by_text("明书")).await?.contains(&first));
            delete(store, &reach, PLUGIN, &entity, first).await?;
            assert!(!pages(store, &reach, &entity, by_text("售后")).await?.contains(&first));
            Ok(())
        }

        async fn imports_check_every_record_before_writing_any_and_name_the_bad_one(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let globex = org(store, "globex").await?;
            let mut entity = claim();
            entity.fields[1].unique = false;
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            // More records than one statement holds, setting different fields in turn.
            let records: Vec<ImportRecord> = (0..450_usize)
                .map(|i| {
                    let value = match i % 3 {
                        0 => json!({"title": format!("售后服务 {i}"), "status": "open", "assignee": acme.alice}),
                        1 => json!({"title": format!("报价 {i}"), "quantity": i}),
                        _ => json!({"title": format!("售后 refund {i}"), "assignee": acme.bob, "urgent": true}),
                    };
                    ImportRecord { fields: fields(value), customer_id: None }
                })
                .collect();
            async fn written(store: &Store, reach: Reach<'_>, entity: &Entity, text: &str) -> anyhow::Result<usize> {
                Ok(ids(store, &reach, entity, Query { limit: Some(500), ..by_text(text) }).await?.len())
            }
            assert_eq!(import(store, acme.id, PLUGIN, &entity, &records, false).await.map_err(|(_, e)| e)?, 0);
            assert_eq!(written(store, acme.plugin(), &entity, "售后").await?, 0, "a check writes nothing");
            assert_eq!(import(store, acme.id, PLUGIN, &entity, &records, true).await.map_err(|(_, e)| e)?, 450);
            assert_eq!(written(store, acme.plugin(), &entity, "售后").await?, 300);
            assert_eq!(written(store, acme.plugin(), &entity, "refund").await?, 150);
            assert_eq!(written(store, acme.plugin(), &entity, "报价").await?, 150);
            assert_eq!(written(store, globex.plugin(), &entity, "售后").await?, 0);
            let third = ids(store, &acme.plugin(), &entity, with("quantity", Op::Eq, json!(301))).await?;
            let record = get(store, &acme.plugin(), PLUGIN, &entity, third[0]).await?;
            assert_eq!(record.fields["title"], json!("报价 301"));
            assert_eq!(record.fields["quantity"], json!(301));

            // A user of another organisation, on the 8th record: nothing of the file is written.
            let mut bad = records.clone();
            bad[7].fields.insert("assignee".into(), json!(globex.alice));
            match import(store, acme.id, PLUGIN, &entity, &bad, true).await {
                Err((Some(7), Error::Invalid { message, .. })) => assert!(message.contains("does not exist"), "{message}"),
                other => panic!("expected the 8th record refused, got {other:?}"),
            }
            assert_eq!(written(store, acme.plugin(), &entity, "售后").await?, 300);

            // A repeated unique value is told with the record that repeats it, and rolls back.
            let mut unique = claim();
            unique.name = "ticket".into();
            migrate(store, PLUGIN, std::slice::from_ref(&unique)).await?;
            let tickets: Vec<ImportRecord> = (0..6)
                .map(|i| ImportRecord { fields: fields(json!({"title": format!("工单 {i}"), "code": format!("T-{}", i.min(4))})), customer_id: None })
                .collect();
            match import(store, acme.id, PLUGIN, &unique, &tickets, true).await {
                Err((Some(5), Error::Conflict(message))) => assert!(message.contains("code"), "{message}"),
                other => panic!("expected the 6th ticket refused, got {other:?}"),
            }
            assert!(ids(store, &acme.plugin(), &unique, by_text("工单")).await?.is_empty());
            Ok(())
        }

        async fn keyset_paging_visits_every_record_once(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let reach = acme.plugin();
            let mut all = Vec::new();
            for i in 0..23_i64 {
                // Repeated values, and a few records without one.
                let quantity = if i % 7 == 3 { Value::Null } else { json!(i % 4) };
                let amount = if i % 5 == 0 { Value::Null } else { json!(i as f64 / 4.0) };
                let values = json!({"title": format!("t{:02}", (i * 7) % 23), "quantity": quantity, "amount": amount, "urgent": i % 2 == 0});
                all.push(insert(store, &reach, PLUGIN, &entity, &fields(values), None).await?);
            }
            for (by, descending) in [
                ("id", false), ("id", true), ("quantity", false), ("quantity", true), ("amount", true),
                ("title", false), ("urgent", false), ("created_at", true), ("updated_at", false),
            ] {
                let mut seen = Vec::new();
                let mut cursor = None;
                let mut pages = 0;
                loop {
                    let q = Query { order_by: Some(by.into()), descending, limit: Some(5), cursor, ..Default::default() };
                    let page = find(store, &reach, PLUGIN, &entity, &q).await?;
                    assert!(page.items.len() <= 5);
                    seen.extend(page.items.iter().map(|r| r.id));
                    pages += 1;
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                    assert!(pages < 10, "paging by {by} does not end");
                }
                // The expected order: by value (records without one last), then by id.
                let mut expected: Vec<&Record> = all.iter().collect();
                let key = |r: &Record| -> Value {
                    match by {
                        "id" => json!(r.id),
                        "created_at" => json!(r.created_at),
                        "updated_at" => json!(r.updated_at),
                        f => r.fields.get(f).cloned().unwrap_or(Value::Null),
                    }
                };
                let cmp = |a: &Value, b: &Value| match (a, b) {
                    (Value::String(x), Value::String(y)) => x.cmp(y),
                    (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                    (x, y) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(std::cmp::Ordering::Equal),
                };
                expected.sort_by(|a, b| {
                    let (ka, kb) = (key(a), key(b));
                    ka.is_null().cmp(&kb.is_null()).then_with(|| {
                        let order = cmp(&ka, &kb).then(a.id.cmp(&b.id));
                        if descending { order.reverse() } else { order }
                    })
                });
                let expected: Vec<Id> = expected.iter().map(|r| r.id).collect();
                assert_eq!(seen, expected, "by {by}, descending {descending}");
            }
            let first = find(store, &reach, PLUGIN, &entity, &Query { order_by: Some("quantity".into()), limit: Some(5), ..Default::default() }).await?;
            let other_order = Query { order_by: Some("title".into()), cursor: first.next, ..Default::default() };
            assert!(invalid_message(find(store, &reach, PLUGIN, &entity, &other_order).await).contains("another order"));
            let garbage = Query { cursor: Some("not a cursor".into()), ..Default::default() };
            assert!(invalid_message(find(store, &reach, PLUGIN, &entity, &garbage).await).contains("cursor"));
            for limit in [0, 501] {
                let q = Query { limit: Some(limit), ..Default::default() };
                assert!(invalid_message(find(store, &reach, PLUGIN, &entity, &q).await).contains("limit"));
            }
            assert_eq!(find(store, &reach, PLUGIN, &entity, &Query::default()).await?.items.len(), 23, "50 by default");
            Ok(())
        }

        async fn conditions_compare_declared_fields_and_builtins(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let reach = acme.plugin();
            let customer = acme.customer(store, "客户", acme.admin).await?;
            let a = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "A-1", "code": "x%y", "quantity": 1, "status": "open", "due": "2026-01-01"})), Some(customer)).await?.id;
            let b = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "B-2", "code": "x_y", "quantity": 5, "status": "closed", "due": "2025-06-30"})), None).await?.id;
            let c = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "a-3", "code": "xzy"})), None).await?.id;
            let cases = [
                (with("quantity", Op::Gt, json!(1)), vec![b]),
                (with("quantity", Op::Le, json!(5)), vec![a, b]),
                (with("quantity", Op::Ne, json!(1)), vec![b, c]),
                (with("quantity", Op::Eq, Value::Null), vec![c]),
                (with("quantity", Op::Ne, Value::Null), vec![a, b]),
                (with("status", Op::Ne, json!("open")), vec![b, c]),
                (with("code", Op::Contains, json!("%")), vec![a]),
                (with("code", Op::Contains, json!("_")), vec![b]),
                (with("code", Op::StartsWith, json!("x%")), vec![a]),
                (with("title", Op::StartsWith, json!("A")), vec![a]),
                (with("title", Op::Contains, json!("-")), vec![a, b, c]),
                (with("due", Op::Ge, json!("2026-01-01")), vec![a]),
                (with("due", Op::Lt, json!("2026-01-01")), vec![b]),
                (with("customer_id", Op::Eq, json!(customer)), vec![a]),
                (with("created_at", Op::Ge, json!(0)), vec![a, b, c]),
                (with("owner_id", Op::Eq, Value::Null), vec![a, b, c]),
                (Query { customer_id: Some(customer), ..Default::default() }, vec![a]),
            ];
            // Which records match; the order (newest first without a sort field) is tested apart.
            for (q, expected) in cases {
                let mut found = ids(store, &reach, &entity, q.clone()).await?;
                found.sort_unstable();
                assert_eq!(found, expected, "{:?}", q.conditions);
            }
            assert_eq!(ids(store, &reach, &entity, Query::default()).await?, vec![c, b, a], "newest first");
            let refused = [
                (with("quantity", Op::Contains, json!("1")), "text fields only"),
                (with("nope", Op::Eq, json!(1)), "claim has no field \"nope\""),
                (with("extra", Op::Eq, json!({})), "JSON"),
                (with("quantity", Op::Eq, json!("x")), "claim.quantity must be an integer"),
                (with("quantity", Op::Lt, Value::Null), "only eq and ne"),
                (with("title", Op::Contains, json!(3)), "needs a text value"),
                (Query { order_by: Some("nope".into()), ..Default::default() }, "nope"),
                (Query { order_by: Some("extra".into()), ..Default::default() }, "JSON"),
                (Query { entity: "other".into(), ..Default::default() }, "other"),
            ];
            for (q, expected) in refused {
                let message = invalid_message(find(store, &reach, PLUGIN, &entity, &q).await);
                assert!(message.contains(expected), "{message:?} should say {expected:?}");
            }
            Ok(())
        }

        async fn a_stale_version_is_a_conflict(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let reach = acme.plugin();
            let record = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "v1"})), None).await?;
            let second = update(store, &reach, PLUGIN, &entity, record.id, &fields(json!({"title": "v2"})), Some(1)).await?;
            assert_eq!(second.version, 2);
            match update(store, &reach, PLUGIN, &entity, record.id, &fields(json!({"title": "lost"})), Some(1)).await {
                Err(Error::Conflict(message)) => assert!(message.contains("version 2"), "{message}"),
                other => panic!("expected Conflict, got {other:?}"),
            }
            assert_eq!(get(store, &reach, PLUGIN, &entity, record.id).await?.fields.get("title"), Some(&json!("v2")));
            assert_eq!(update(store, &reach, PLUGIN, &entity, record.id, &fields(json!({"title": "v3"})), None).await?.version, 3);
            Ok(())
        }

        async fn concurrent_updates_without_a_version_all_land(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let entity = claim();
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            let reach = acme.plugin();
            let record = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "v1", "quantity": 0})), None).await?;
            // Two writers at once, neither naming a version: each sets its own field on top of
            // whatever the other did; neither is refused.
            let (title, quantity) = (fields(json!({"title": "v2"})), fields(json!({"quantity": 7})));
            let (a, b) = tokio::join!(
                update(store, &reach, PLUGIN, &entity, record.id, &title, None),
                update(store, &reach, PLUGIN, &entity, record.id, &quantity, None),
            );
            a?;
            b?;
            let now = get(store, &reach, PLUGIN, &entity, record.id).await?;
            assert_eq!((now.fields.get("title"), now.fields.get("quantity")), (Some(&json!("v2")), Some(&json!(7))));
            assert_eq!(now.version, 3);
            Ok(())
        }

        async fn timelines_show_linked_records_of_readable_customers(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let (entity, notes) = (claim(), note());
            let mut call = note();
            call.name = "call".into();
            call.timeline = Some("body".into());
            migrate(store, PLUGIN, &[entity.clone(), notes.clone()]).await?;
            migrate(store, "call-popup", std::slice::from_ref(&call)).await?;
            let admins = acme.customer(store, "管理员的客户", acme.admin).await?;
            let alices = acme.customer(store, "小李的客户", acme.alice).await?;
            let reach = acme.plugin();
            let first = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "第一次投诉"})), Some(admins)).await?;
            let second = insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "第二次投诉"})), Some(admins)).await?;
            insert(store, &reach, PLUGIN, &notes, &fields(json!({"body": "不上时间线"})), Some(admins)).await?;
            insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "别的客户"})), Some(alices)).await?;
            insert(store, &reach, PLUGIN, &entity, &fields(json!({"title": "没有客户"})), None).await?;
            let phoned = insert(store, &Reach::Plugin { org_id: acme.id, acting_user: None }, "call-popup", &call, &fields(json!({"body": "来电"})), Some(admins)).await?;
            let sources: [(&str, &Entity); 3] = [(PLUGIN, &entity), (PLUGIN, &notes), ("call-popup", &call)];

            let admin = acme.access(store, acme.admin).await?;
            let items = timeline(store, &admin, admins, &sources, 10).await?;
            let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
            assert_eq!(items.len(), 3, "{titles:?}");
            assert!(items.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first: {items:?}");
            let pos = |id: Id, entity: &str| items.iter().position(|i| i.id == id && i.entity == entity);
            assert!(pos(second.id, "claim") < pos(first.id, "claim"), "{items:?}");
            let call_item = items.iter().find(|i| i.plugin_id == "call-popup").context("the call")?;
            assert_eq!((call_item.id, call_item.title.as_str(), call_item.entity.as_str()), (phoned.id, "来电", "call"));
            assert_eq!(timeline(store, &admin, admins, &sources, 1).await?.len(), 1);
            assert!(invalid_message(timeline(store, &admin, admins, &sources, 0).await).contains("limit"));

            let alice = acme.access(store, acme.alice).await?;
            assert!(matches!(timeline(store, &alice, admins, &sources, 10).await, Err(Error::NotFound(_))), "a customer out of reach");
            let mine = timeline(store, &alice, alices, &sources, 10).await?;
            assert_eq!(mine.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(), vec!["别的客户"]);
            Ok(())
        }

        // A call recorded by a webhook belongs to its agent, who reaches it with their own scope;
        // it moves with the field, and links to a customer once the agent has chosen.
        async fn an_owner_field_gives_the_record_to_its_user_and_link_moves_it_to_a_customer(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let mut call = claim();
            call.owner = Some("assignee".into());
            migrate(store, PLUGIN, std::slice::from_ref(&call)).await?;
            let made = insert(store, &acme.plugin(), PLUGIN, &call, &fields(json!({"title": "来电", "assignee": acme.alice})), None).await?;
            assert_eq!((made.owner_id, made.department_id), (Some(acme.alice), Some(acme.sales)), "the agent's");
            let alice = acme.access(store, acme.alice).await?;
            let bob = acme.access(store, acme.bob).await?;
            get(store, &Reach::User(&alice), PLUGIN, &call, made.id).await?;
            assert!(matches!(get(store, &Reach::User(&bob), PLUGIN, &call, made.id).await, Err(Error::NotFound(_))));
            // A salesperson cannot give it to a colleague; the plugin can.
            let to_bob = fields(json!({"assignee": acme.bob}));
            assert!(matches!(update(store, &Reach::User(&alice), PLUGIN, &call, made.id, &to_bob, None).await, Err(Error::Forbidden(_))));
            let moved = update(store, &acme.plugin(), PLUGIN, &call, made.id, &to_bob, None).await?;
            assert_eq!(moved.owner_id, Some(acme.bob));
            get(store, &Reach::User(&bob), PLUGIN, &call, made.id).await?;
            let nobody = insert(store, &acme.plugin(), PLUGIN, &call, &fields(json!({"title": "无人"})), None).await?;
            assert_eq!(nobody.owner_id, None, "no agent, no owner");
            assert!(invalid_message(insert(store, &acme.plugin(), PLUGIN, &call, &fields(json!({"title": "x", "assignee": 999_999})), None).await).contains("999999"));

            // Linking: to a customer the user may see, and back to none.
            let bobs = acme.customer(store, "小王的客户", acme.bob).await?;
            let admins = acme.customer(store, "管理员的客户", acme.admin).await?;
            let linked = link(store, &Reach::User(&bob), PLUGIN, &call, made.id, Some(bobs)).await?;
            assert_eq!((linked.customer_id, linked.version), (Some(bobs), moved.version + 1));
            assert!(invalid_message(link(store, &Reach::User(&bob), PLUGIN, &call, made.id, Some(admins)).await).contains("customer"));
            assert!(matches!(link(store, &Reach::User(&alice), PLUGIN, &call, made.id, None).await, Err(Error::NotFound(_))));
            assert_eq!(link(store, &acme.plugin(), PLUGIN, &call, made.id, None).await?.customer_id, None);
            Ok(())
        }

        async fn uninstalling_deletes_an_organisations_records_or_drops_the_tables(db) {
            let store = &db.store;
            let acme = org(store, "acme").await?;
            let globex = org(store, "globex").await?;
            let (entity, notes) = (claim(), note());
            migrate(store, PLUGIN, &[entity.clone(), notes.clone()]).await?;
            migrate(store, "call-popup", std::slice::from_ref(&notes)).await?;
            insert(store, &acme.plugin(), PLUGIN, &entity, &fields(json!({"title": "甲"})), None).await?;
            insert(store, &acme.plugin(), PLUGIN, &notes, &fields(json!({"body": "甲"})), None).await?;
            let kept = insert(store, &globex.plugin(), PLUGIN, &entity, &fields(json!({"title": "乙"})), None).await?;
            insert(store, &acme.plugin(), "call-popup", &notes, &fields(json!({"body": "别的插件"})), None).await?;

            delete_org_data(store, PLUGIN, acme.id).await?;
            assert!(ids(store, &acme.plugin(), &entity, Query::default()).await?.is_empty());
            assert!(find(store, &acme.plugin(), PLUGIN, &notes, &Query::default()).await?.items.is_empty());
            assert_eq!(ids(store, &globex.plugin(), &entity, Query::default()).await?, vec![kept.id]);
            assert_eq!(find(store, &acme.plugin(), "call-popup", &notes, &Query::default()).await?.items.len(), 1, "other plugins keep theirs");

            drop_all(store, PLUGIN).await?;
            for name in ["claim", "note"] {
                assert!(columns_of(store, &table_name(PLUGIN, name)?).await?.is_empty(), "{name} is dropped");
            }
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugin_entities WHERE plugin_id = $1").bind(PLUGIN).fetch_one(store.pool()).await?;
            assert_eq!(left, 0);
            if store.backend() == Backend::Sqlite {
                let fts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'plg_public_pool%'").fetch_one(store.pool()).await?;
                assert_eq!(fts, 0, "the search tables and triggers go too");
            }
            assert!(find(store, &acme.plugin(), "call-popup", &notes, &Query::default()).await.is_ok());
            // Installed again, the plugin starts empty.
            migrate(store, PLUGIN, std::slice::from_ref(&entity)).await?;
            assert!(ids(store, &globex.plugin(), &entity, Query::default()).await?.is_empty());
            Ok(())
        }
    }
}
