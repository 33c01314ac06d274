//! Importing customers from CSV (UTF-8 or GBK) and XLSX files.
//!
//! An upload is kept with its content; the user maps columns to fields (a mapping is suggested
//! from the header names, in Chinese or English), runs a dry run that reports every bad row
//! with its column and problem, then runs the import as a background job whose progress can be
//! polled. A run is all or nothing: one bad row and nothing is imported. Rows that match an
//! existing customer (same tax id, same name ignoring legal-form suffixes, or a shared phone)
//! are skipped, update that customer, or are merged into it, as chosen; so running the same
//! file again imports nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa::ToSchema;

use super::import_file::{self, Limits, Table};
use super::{PhoneInput, names, options, phone};
use crate::access::{Access, Action, RecordScope};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::store::{Id, SqlArg, SqlBuf, Store, bulk_insert, now_ms};
use crate::timefmt::rfc3339_opt;

/// A field a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Name,
    Kind,
    Category,
    Level,
    Status,
    Industry,
    Region,
    Source,
    Address,
    Website,
    BankName,
    BankAccount,
    TaxId,
    /// In yuan, e.g. `12,500.50`.
    CreditLimit,
    /// Separated by commas or 、.
    Tags,
    Notes,
    /// Several columns may map to phone.
    Phone,
    /// The owner's user name.
    Owner,
    ContactName,
    ContactTitle,
    ContactPhone,
    ContactEmail,
    /// Leave the column out.
    Ignore,
}

/// What a column fills: a standard field (`"name"`), or a custom field (`{"custom": "key"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Mapped {
    Field(Target),
    Custom { custom: String },
}

/// Header names recognised for each field (lower case, width folded).
const HEADER_NAMES: &[(Target, &[&str])] = &[
    (
        Target::Name,
        &[
            "name",
            "customer",
            "customer name",
            "company",
            "company name",
            "客户名称",
            "客户",
            "名称",
            "公司名称",
            "公司",
            "单位名称",
        ],
    ),
    (Target::Kind, &["kind", "type", "客户类型", "类型"]),
    (Target::Category, &["category", "客户类别", "类别", "分类"]),
    (Target::Level, &["level", "grade", "客户级别", "级别", "等级"]),
    (Target::Status, &["status", "客户状态", "状态"]),
    (Target::Industry, &["industry", "行业", "所属行业"]),
    (Target::Region, &["region", "area", "区域", "地区"]),
    (Target::Source, &["source", "lead source", "客户来源", "来源"]),
    (Target::Address, &["address", "地址", "详细地址", "公司地址"]),
    (Target::Website, &["website", "web", "url", "网址", "网站"]),
    (Target::BankName, &["bank", "bank name", "开户行", "开户银行"]),
    (Target::BankAccount, &["bank account", "account", "银行账号", "账号"]),
    (Target::TaxId, &["tax id", "tax number", "vat", "税号", "纳税人识别号", "统一社会信用代码"]),
    (Target::CreditLimit, &["credit limit", "credit", "信用额度"]),
    (Target::Tags, &["tags", "tag", "标签"]),
    (Target::Notes, &["notes", "note", "remarks", "备注"]),
    (Target::Phone, &["phone", "telephone", "tel", "mobile", "电话", "联系电话", "固话", "手机", "公司电话"]),
    (Target::Owner, &["owner", "salesperson", "负责人", "业务员", "销售"]),
    (Target::ContactName, &["contact", "contact name", "联系人", "联系人姓名"]),
    (Target::ContactTitle, &["contact title", "position", "title", "职务", "职位"]),
    (Target::ContactPhone, &["contact phone", "contact mobile", "联系人电话", "联系人手机"]),
    (Target::ContactEmail, &["email", "e-mail", "contact email", "邮箱", "电子邮件"]),
];

/// Suggests a field for each header: a standard field by its Chinese or English names, or a
/// custom field by its key or labels.
pub fn suggest_mapping(headers: &[String], custom: &[super::fields::CustomField]) -> BTreeMap<String, Mapped> {
    headers
        .iter()
        .map(|h| {
            let folded = names::fold_width(h);
            let standard =
                HEADER_NAMES.iter().find(|(_, names)| names.contains(&folded.as_str())).map(|(t, _)| Mapped::Field(*t));
            let mapped = standard
                .or_else(|| {
                    custom
                        .iter()
                        .filter(|f| f.active)
                        .find(|f| [&f.key, &f.label_zh, &f.label_en].iter().any(|n| names::fold_width(n) == folded))
                        .map(|f| Mapped::Custom { custom: f.key.clone() })
                })
                .unwrap_or(Mapped::Field(Target::Ignore));
            (h.clone(), mapped)
        })
        .collect()
}

/// What to do with a row that matches an existing customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dedupe {
    /// Leave the existing customer as it is.
    #[default]
    Skip,
    /// Overwrite its fields with the file's non-empty values; add phones, tags and contacts.
    Update,
    /// Fill only its empty fields; add phones, tags and contacts.
    Merge,
}

/// The mapping and dedupe choice of a dry run or a run.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportPlan {
    /// Header → field. Headers left out are ignored.
    pub mapping: BTreeMap<String, Mapped>,
    #[serde(default)]
    pub dedupe: Dedupe,
}

/// A problem with one row (or the header, row 1).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RowProblem {
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
}

/// The outcome of a dry run or a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// True when the file can be (or was) imported: no problems.
    pub ok: bool,
    pub total_rows: usize,
    pub new_customers: usize,
    /// Rows matching an existing customer (skipped, updated or merged by the dedupe choice).
    pub matched_existing: usize,
    /// Rows repeating an earlier row of the same file (skipped).
    pub repeated_in_file: usize,
    pub updated: usize,
    pub contacts_added: usize,
    /// Every problem, row by row (the first 1,000; `problem_count` has them all).
    pub problems: Vec<(usize, Option<String>, String)>,
    pub problem_count: usize,
}

/// An upload as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportInfo {
    pub id: Id,
    pub file_name: String,
    /// `uploaded`, `running`, `done` or `failed`.
    pub status: String,
    pub total_rows: i64,
    pub headers: Vec<String>,
    /// The first rows, to check the mapping against.
    pub sample: Vec<Vec<String>>,
    pub encoding: String,
    pub suggested_mapping: BTreeMap<String, Mapped>,
    /// A run of this very file that already finished, if any.
    pub previously_imported_as: Option<Id>,
    /// While running: rows done so far.
    pub processed: Option<usize>,
    pub report: Option<ImportReport>,
    pub finished_at: Option<String>,
}

/// Progress of running imports on this node.
#[derive(Debug, Default)]
pub struct ImportProgress {
    running: Mutex<HashMap<Id, usize>>,
}

impl ImportProgress {
    fn set(&self, id: Id, processed: usize) {
        if let Ok(mut m) = self.running.lock() {
            m.insert(id, processed);
        }
    }
    fn clear(&self, id: Id) {
        if let Ok(mut m) = self.running.lock() {
            m.remove(&id);
        }
    }
    fn get(&self, id: Id) -> Option<usize> {
        self.running.lock().ok().and_then(|m| m.get(&id).copied())
    }
}

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

fn read(file_name: &str, bytes: &[u8]) -> Result<Table> {
    import_file::read_table(file_name, bytes, &Limits { max_bytes: MAX_UPLOAD_BYTES, ..Limits::default() })
        .map_err(|e| Error::invalid("file", e.to_string()))
}

/// Keeps an uploaded file and describes it.
pub async fn upload(
    store: &Store,
    access: &Access,
    file_name: &str,
    bytes: &[u8],
    progress: &ImportProgress,
) -> Result<ImportInfo> {
    let p = access.principal();
    if access.scope("customers", Action::Create).is_none() {
        return Err(Error::Forbidden("importing needs the create permission on customers".into()));
    }
    let file_name = file_name.trim();
    if file_name.is_empty() || file_name.chars().count() > 200 {
        return Err(Error::invalid("file_name", "give the file's name (1–200 characters), e.g. customers.xlsx"));
    }
    let table = read(file_name, bytes)?;
    let hash: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    let summary = Summary {
        headers: table.headers.clone(),
        sample: table.rows.iter().take(5).map(|(_, cells)| cells.clone()).collect(),
        encoding: table.encoding.to_owned(),
    };
    let id: Id = sqlx::query_scalar(
        "INSERT INTO customer_imports (org_id, user_id, file_name, content_hash, content, status, total_rows, created_at, summary) \
         VALUES ($1, $2, $3, $4, $5, 'uploaded', $6, $7, $8) RETURNING id",
    )
    .bind(p.org_id)
    .bind(p.user_id)
    .bind(file_name)
    .bind(&hash)
    .bind(bytes.to_vec())
    .bind(table.rows.len() as i64)
    .bind(now_ms())
    .bind(serde_json::to_string(&summary).map_err(|e| Error::Internal(e.to_string()))?)
    .fetch_one(store.pool())
    .await?;
    get(store, access, id, progress).await
}

/// What an upload holds, kept at upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Summary {
    headers: Vec<String>,
    sample: Vec<Vec<String>>,
    encoding: String,
}

/// An upload of the user's, with its progress or outcome.
pub async fn get(store: &Store, access: &Access, id: Id, progress: &ImportProgress) -> Result<ImportInfo> {
    let p = access.principal();
    let row = sqlx::query(
        "SELECT file_name, status, total_rows, result, summary, content_hash, finished_at FROM customer_imports \
         WHERE id = $1 AND org_id = $2 AND user_id = $3",
    )
    .bind(id)
    .bind(p.org_id)
    .bind(p.user_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(Error::NotFound("import"))?;
    let file_name: String = row.try_get(0)?;
    let hash: String = row.try_get(5)?;
    let summary: Summary = match serde_json::from_str(&row.try_get::<String, _>(4)?) {
        Ok(summary) => summary,
        // Uploads from before summaries were kept: read the file once more.
        Err(_) => {
            let (table, _) = load_table(store, access, id).await?;
            Summary {
                sample: table.rows.iter().take(5).map(|(_, cells)| cells.clone()).collect(),
                headers: table.headers,
                encoding: table.encoding.to_owned(),
            }
        }
    };
    let result: String = row.try_get(3)?;
    let report: Option<ImportReport> =
        serde_json::from_str(&result).ok().filter(|r: &ImportReport| r.total_rows > 0 || r.problem_count > 0);
    let previously: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM customer_imports WHERE org_id = $1 AND content_hash = $2 AND status = 'done' AND id <> $3 ORDER BY id LIMIT 1",
    )
    .bind(p.org_id)
    .bind(&hash)
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    let custom_fields = super::fields::list(store, p.org_id).await?;
    Ok(ImportInfo {
        id,
        suggested_mapping: suggest_mapping(&summary.headers, &custom_fields),
        sample: summary.sample,
        headers: summary.headers,
        encoding: summary.encoding,
        file_name,
        status: row.try_get(1)?,
        total_rows: row.try_get(2)?,
        previously_imported_as: previously,
        processed: progress.get(id),
        report,
        finished_at: rfc3339_opt(row.try_get(6)?),
    })
}

/// A row ready to write.
#[derive(Debug, Clone, Default)]
struct Prepared {
    row: usize,
    name: String,
    kind: Option<String>,
    fields: BTreeMap<&'static str, String>,
    credit_limit: Option<i64>,
    tags: Vec<String>,
    notes: Option<String>,
    phones: Vec<(PhoneInput, phone::Phone)>,
    owner_id: Option<Id>,
    contact: Option<RowContact>,
    custom: serde_json::Map<String, serde_json::Value>,
    /// Why the row could not create a customer (a required custom field left empty).
    missing_required: Option<String>,
    name_key: String,
    tax_id: Option<String>,
}

/// The contact a row brings along.
#[derive(Debug, Clone, Default)]
struct RowContact {
    name: String,
    title: Option<String>,
    phones: Vec<(PhoneInput, phone::Phone)>,
    email: Option<String>,
}

/// What the organisation already has, to match rows against.
struct Existing {
    by_name: HashMap<String, Id>,
    by_tax: HashMap<String, Id>,
    by_phone: HashMap<String, Id>,
}

/// The customers of the organisation that rows could match: looked up by the rows' own name
/// keys, tax ids and phones through their indexes, so the cost follows the file, not the
/// size of the organisation.
async fn existing(store: &Store, org_id: Id, rows: &[Prepared]) -> Result<Existing> {
    let names = rows.iter().map(|r| r.name_key.clone()).collect();
    // Tax ids are matched without regard to case, as they were typed.
    let taxes = rows.iter().filter_map(|r| r.tax_id.as_ref()).map(|t| t.to_uppercase()).collect();
    // Phones through the reversed-digits index; the canonical numbers come back as the keys.
    let phones = rows.iter().flat_map(|r| r.phones.iter().map(|(_, p)| super::reversed_digits(&p.canonical))).collect();
    Ok(Existing {
        by_name: lookup(store, "SELECT id, name_key FROM customers WHERE org_id = ", "name_key", org_id, names).await?,
        by_tax: lookup(
            store,
            "SELECT id, upper(tax_id) FROM customers WHERE org_id = ",
            "upper(tax_id)",
            org_id,
            taxes,
        )
        .await?,
        by_phone: lookup(
            store,
            "SELECT customer_id, canonical FROM phones WHERE org_id = ",
            "digits_rev",
            org_id,
            phones,
        )
        .await?,
    })
}

/// Keys looked up per statement when matching an import against the organisation.
const LOOKUP_CHUNK: usize = 400;

/// Runs `select` (`SELECT <id>, <key> … WHERE org_id = `) for the distinct `keys` of `column`,
/// a chunk at a time, and maps each key found (the second column) to the smallest id that has
/// it.
async fn lookup(
    store: &Store,
    select: &str,
    column: &str,
    org_id: Id,
    mut keys: Vec<String>,
) -> Result<HashMap<String, Id>> {
    keys.sort_unstable();
    keys.dedup();
    let mut found: HashMap<String, Id> = HashMap::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let mut sql = SqlBuf::new(select);
        sql.bind(org_id).push(" AND ").push(column).push(" IN (");
        for (i, key) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(key.as_str());
        }
        sql.push(")");
        for r in sql.query().fetch_all(store.pool()).await? {
            let id: Id = r.try_get(0)?;
            found.entry(r.try_get(1)?).and_modify(|v| *v = (*v).min(id)).or_insert(id);
        }
    }
    Ok(found)
}

impl Existing {
    fn find(&self, p: &Prepared) -> Option<Id> {
        p.tax_id
            .as_ref()
            .and_then(|t| self.by_tax.get(t))
            .or_else(|| self.by_name.get(&p.name_key))
            .or_else(|| p.phones.iter().find_map(|(_, ph)| self.by_phone.get(&ph.canonical)))
            .copied()
    }
}

/// Parses a yuan amount into fen.
fn parse_yuan(s: &str) -> Option<i64> {
    let s: String = names::fold_width(s).chars().filter(|c| !matches!(c, ',' | ' ' | '¥' | '￥')).collect();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let yuan: i64 = int.parse().ok()?;
    let fen: i64 = format!("{frac:0<2}").parse().ok()?;
    yuan.checked_mul(100)?.checked_add(fen)
}

/// Reads a custom field's cell as the JSON value the field stores: numbers with thousands
/// separators, dates as YYYY-MM-DD or YYYY/MM/DD, options by value or label, users by user name.
fn custom_cell(
    field: &super::fields::CustomField,
    text: &str,
    users: &HashMap<String, (Id, Option<Id>)>,
) -> std::result::Result<serde_json::Value, String> {
    use super::fields::FieldKind;
    use serde_json::Value;
    let folded = names::fold_width(text);
    let option = |t: &str| {
        field
            .options
            .iter()
            .find(|o| [&o.value, &o.label_zh, &o.label_en].iter().any(|n| names::fold_width(n) == names::fold_width(t)))
            .map(|o| Value::String(o.value.clone()))
            .ok_or_else(|| format!("{t:?} is not one of the options of {}", field.label_en))
    };
    match field.kind {
        FieldKind::Text => Ok(Value::String(text.to_owned())),
        FieldKind::Number => folded
            .replace(',', "")
            .parse::<f64>()
            .ok()
            .and_then(|n| {
                // Whole numbers stay integers, as the API stores them.
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Some(Value::from(n as i64))
                } else {
                    serde_json::Number::from_f64(n).map(Value::Number)
                }
            })
            .ok_or_else(|| format!("{text:?} is not a number")),
        FieldKind::Date => Ok(Value::String(folded.replace(['/', '.'], "-").chars().take(10).collect())),
        FieldKind::Option => option(text),
        FieldKind::MultiOption => text
            .split([',', '，', '、', ';', '；'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(option)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Value::Array),
        FieldKind::User => users
            .get(&folded.to_lowercase())
            .map(|(id, _)| Value::from(*id))
            .ok_or_else(|| format!("there is no active user {text:?}")),
    }
}

/// Validates every row against the plan; returns the prepared rows and the problems.
async fn prepare(
    store: &Store,
    access: &Access,
    table: &Table,
    plan: &ImportPlan,
) -> Result<(Vec<Prepared>, Vec<RowProblem>)> {
    let org_id = access.principal().org_id;
    let mut problems: Vec<RowProblem> = table
        .problems
        .iter()
        .map(|p| RowProblem { row: p.row, column: p.column.clone(), message: p.message.clone() })
        .collect();
    for header in plan.mapping.keys() {
        if !table.headers.contains(header) {
            return Err(Error::invalid("mapping", format!("the file has no column {header:?}")));
        }
    }
    let mut conn = store.pool().acquire().await?;
    let field_set = super::fields::FieldSet::load(&mut conn, org_id).await?;
    drop(conn);
    let columns: Vec<(usize, &String, Target)> = table
        .headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| match plan.mapping.get(h) {
            Some(Mapped::Field(t)) if *t != Target::Ignore => Some((i, h, *t)),
            _ => None,
        })
        .collect();
    let mut custom_columns: Vec<(usize, &String, &super::fields::CustomField)> = Vec::new();
    for (i, h) in table.headers.iter().enumerate() {
        if let Some(Mapped::Custom { custom }) = plan.mapping.get(h) {
            let field = field_set.get(custom).ok_or_else(|| {
                Error::invalid("mapping", format!("there is no custom field {custom:?} (column {h:?})"))
            })?;
            if custom_columns.iter().any(|(_, _, f)| f.key == field.key) {
                return Err(Error::invalid("mapping", format!("only one column can fill {}", field.label_en)));
            }
            custom_columns.push((i, h, field));
        }
    }
    if !columns.iter().any(|(_, _, t)| *t == Target::Name) {
        return Err(Error::invalid("mapping", "map one column to name; every customer needs one"));
    }
    for single in [Target::Name, Target::Kind, Target::Owner, Target::ContactName] {
        if columns.iter().filter(|(_, _, t)| *t == single).count() > 1 {
            return Err(Error::invalid("mapping", format!("only one column can be {single:?}")));
        }
    }
    // Option lists accept the stored value or either label.
    let mut option_values: HashMap<(&'static str, String), String> = HashMap::new();
    for item in options::list(store, org_id, None).await?.into_iter().filter(|o| o.active) {
        let list: &'static str = options::LISTS.iter().copied().find(|l| *l == item.list).unwrap_or("category");
        for key in [&item.value, &item.label_zh, &item.label_en] {
            option_values.insert((list, names::fold_width(key)), item.value.clone());
        }
    }
    let users: HashMap<String, (Id, Option<Id>)> =
        sqlx::query("SELECT username, id, department_id FROM users WHERE org_id = $1 AND active = 1")
            .bind(org_id)
            .fetch_all(store.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, (r.try_get(1)?, r.try_get(2)?))))
            .collect::<Result<_>>()?;
    let mut prepared = Vec::with_capacity(table.rows.len());
    for (row, cells) in &table.rows {
        let mut p = Prepared { row: *row, ..Prepared::default() };
        let mut contact_name = None;
        let mut contact_title = None;
        let mut contact_phones = Vec::new();
        let mut contact_email = None;
        let mut bad = |column: &String, message: String| {
            problems.push(RowProblem { row: *row, column: Some(column.clone()), message })
        };
        for (i, header, target) in &columns {
            let value = cells.get(*i).map(|v| v.trim()).unwrap_or_default();
            if value.is_empty() {
                continue;
            }
            let too_long = |max: usize| value.chars().count() > max;
            match target {
                Target::Name if too_long(200) => bad(header, "the name is over 200 characters".into()),
                Target::Name => p.name = value.to_owned(),
                Target::Kind => match names::fold_width(value).as_str() {
                    "company" | "公司" | "企业" | "单位" => p.kind = Some("company".into()),
                    "person" | "个人" | "个体" => p.kind = Some("person".into()),
                    _ => bad(header, format!("{value:?} is neither company (公司) nor person (个人)")),
                },
                Target::Category
                | Target::Level
                | Target::Status
                | Target::Industry
                | Target::Region
                | Target::Source => {
                    let list = match target {
                        Target::Category => "category",
                        Target::Level => "level",
                        Target::Status => "status",
                        Target::Industry => "industry",
                        Target::Region => "region",
                        _ => "source",
                    };
                    match option_values.get(&(list, names::fold_width(value))) {
                        Some(v) => {
                            p.fields.insert(list, v.clone());
                        }
                        None => bad(
                            header,
                            format!("{value:?} is not in the {list} list; add it under option lists or fix the cell"),
                        ),
                    }
                }
                Target::Address | Target::Website | Target::BankName | Target::BankAccount => {
                    let (field, max) = match target {
                        Target::Address => ("address", 500),
                        Target::Website => ("website", 300),
                        Target::BankName => ("bank_name", 200),
                        _ => ("bank_account", 64),
                    };
                    if too_long(max) {
                        bad(header, format!("over {max} characters"));
                    } else {
                        p.fields.insert(field, value.to_owned());
                    }
                }
                Target::TaxId if too_long(64) => bad(header, "the tax id is over 64 characters".into()),
                Target::TaxId => p.tax_id = Some(names::fold_width(value).to_uppercase()),
                Target::CreditLimit => match parse_yuan(value) {
                    Some(fen) => p.credit_limit = Some(fen),
                    None => bad(header, format!("{value:?} is not an amount in yuan such as 12500.50")),
                },
                Target::Tags => {
                    let tags: Vec<String> = value
                        .split([',', '，', '、', ';', '；'])
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect();
                    match super::clean_tags(&tags) {
                        Ok(_) => p.tags.extend(tags),
                        Err(e) => bad(header, e.to_string()),
                    }
                }
                Target::Notes if too_long(10_000) => bad(header, "notes are over 10,000 characters".into()),
                Target::Notes => p.notes = Some(value.to_owned()),
                Target::Phone | Target::ContactPhone => {
                    for number in value.split(['/', '、', ';', '；', '\n']).map(str::trim).filter(|n| !n.is_empty()) {
                        match phone::normalize(number, None) {
                            Ok(ph) => {
                                let input = PhoneInput { label: String::new(), number: number.to_owned() };
                                if *target == Target::Phone {
                                    p.phones.push((input, ph));
                                } else {
                                    contact_phones.push((input, ph));
                                }
                            }
                            Err(e) => bad(header, format!("{number:?}: {e}")),
                        }
                    }
                }
                Target::Owner => match users.get(&value.to_lowercase()) {
                    Some((id, dept)) => {
                        let scope = RecordScope { org_id, owner_id: Some(*id), department_id: *dept };
                        if access.allows("customers", Action::Create, &scope) {
                            p.owner_id = Some(*id);
                        } else {
                            bad(header, format!("you may not create customers for {value:?}"));
                        }
                    }
                    None => bad(header, format!("there is no active user {value:?}")),
                },
                Target::ContactName if too_long(100) => bad(header, "the contact name is over 100 characters".into()),
                Target::ContactName => contact_name = Some(value.to_owned()),
                Target::ContactTitle => contact_title = Some(value.chars().take(100).collect()),
                Target::ContactEmail if !crate::org::users::looks_like_email(value) => {
                    bad(header, format!("{value:?} is not an email address"))
                }
                Target::ContactEmail => contact_email = Some(value.to_owned()),
                Target::Ignore => {}
            }
        }
        for (i, header, field) in &custom_columns {
            let value = cells.get(*i).map(|v| v.trim()).unwrap_or_default();
            if value.is_empty() {
                continue;
            }
            match custom_cell(field, value, &users) {
                Ok(v) => match field_set.normalize(&field.key, &v) {
                    Ok(v) => {
                        p.custom.insert(field.key.clone(), v);
                    }
                    Err(e) => {
                        problems.push(RowProblem { row: *row, column: Some((*header).clone()), message: e.to_string() })
                    }
                },
                Err(message) => problems.push(RowProblem { row: *row, column: Some((*header).clone()), message }),
            }
        }
        if p.name.is_empty() {
            let name_header = columns.iter().find(|(_, _, t)| *t == Target::Name).map(|(_, h, _)| (*h).clone());
            problems.push(RowProblem {
                row: *row,
                column: name_header,
                message: "the name is empty; every customer needs one".into(),
            });
        }
        if p.phones.len() + contact_phones.len() > 20 {
            problems.push(RowProblem { row: *row, column: None, message: "more than 20 phone numbers".into() });
        }
        if let Some(name) = contact_name {
            p.contact = Some(RowContact { name, title: contact_title, phones: contact_phones, email: contact_email });
        }
        p.name_key = names::company_key(&p.name);
        p.missing_required = field_set.check_required(&p.custom).err().map(|e| e.to_string());
        prepared.push(p);
    }
    problems.sort_by_key(|p| p.row);
    Ok((prepared, problems))
}

/// Checks the file against a plan without changing anything.
pub async fn dry_run(store: &Store, access: &Access, id: Id, plan: &ImportPlan) -> Result<ImportReport> {
    let (table, _) = load_table(store, access, id).await?;
    let (prepared, problems) = prepare(store, access, &table, plan).await?;
    let existing = existing(store, access.principal().org_id, &prepared).await?;
    Ok(plan_outcome(&prepared, problems, &existing, plan.dedupe).0)
}

async fn load_table(store: &Store, access: &Access, id: Id) -> Result<(Table, String)> {
    let (file_name, content, status) = original_file(store, access, id).await?;
    Ok((read(&file_name, &content)?, status))
}

/// The name, content and status of one of the user's uploads, as it was uploaded.
pub async fn original_file(store: &Store, access: &Access, id: Id) -> Result<(String, Vec<u8>, String)> {
    let p = access.principal();
    let row = sqlx::query(
        "SELECT file_name, content, status FROM customer_imports WHERE id = $1 AND org_id = $2 AND user_id = $3",
    )
    .bind(id)
    .bind(p.org_id)
    .bind(p.user_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(Error::NotFound("import"))?;
    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
}

/// What each row will do.
enum RowAction {
    Create,
    Existing(Id),
    Repeat,
}

fn plan_outcome(
    prepared: &[Prepared],
    mut problems: Vec<RowProblem>,
    existing: &Existing,
    dedupe: Dedupe,
) -> (ImportReport, Vec<RowAction>) {
    let mut report = ImportReport { total_rows: prepared.len(), ..ImportReport::default() };
    let bad_rows: std::collections::HashSet<usize> = problems.iter().map(|p| p.row).collect();
    let mut seen_name: HashMap<&str, usize> = HashMap::new();
    let mut seen_tax: HashMap<&str, usize> = HashMap::new();
    let mut seen_phone: HashMap<&str, usize> = HashMap::new();
    let mut actions = Vec::with_capacity(prepared.len());
    for p in prepared {
        let repeat = seen_name.contains_key(p.name_key.as_str())
            || p.tax_id.as_deref().is_some_and(|t| seen_tax.contains_key(t))
            || p.phones.iter().any(|(_, ph)| seen_phone.contains_key(ph.canonical.as_str()));
        seen_name.entry(&p.name_key).or_insert(p.row);
        if let Some(t) = &p.tax_id {
            seen_tax.entry(t).or_insert(p.row);
        }
        for (_, ph) in &p.phones {
            seen_phone.entry(&ph.canonical).or_insert(p.row);
        }
        let action = if bad_rows.contains(&p.row) {
            // Counted among the problems, not as new or matching.
            RowAction::Repeat
        } else if repeat {
            report.repeated_in_file += 1;
            RowAction::Repeat
        } else if let Some(id) = existing.find(p) {
            report.matched_existing += 1;
            if dedupe != Dedupe::Skip {
                report.updated += 1;
                if p.contact.is_some() {
                    report.contacts_added += 1;
                }
            }
            RowAction::Existing(id)
        } else if let Some(message) = &p.missing_required {
            // Only new customers need every required field; matches keep theirs.
            problems.push(RowProblem { row: p.row, column: None, message: message.clone() });
            RowAction::Repeat
        } else {
            report.new_customers += 1;
            if p.contact.is_some() {
                report.contacts_added += 1;
            }
            RowAction::Create
        };
        actions.push(action);
    }
    problems.sort_by_key(|p| p.row);
    report.problem_count = problems.len();
    report.ok = problems.is_empty();
    report.problems = problems.into_iter().take(1000).map(|p| (p.row, p.column, p.message)).collect();
    (report, actions)
}

/// Starts the import in the background; poll [`get`] for progress and the outcome.
pub async fn start(
    store: &Store,
    access: &Access,
    id: Id,
    plan: ImportPlan,
    progress: Arc<ImportProgress>,
) -> Result<()> {
    let p = *access.principal();
    // Fail fast on a plan that cannot work at all.
    let (table, _) = load_table(store, access, id).await?;
    let checked = prepare(store, access, &table, &plan).await?;
    drop(table);
    let claimed = sqlx::query("UPDATE customer_imports SET status = 'running' WHERE id = $1 AND org_id = $2 AND status IN ('uploaded', 'failed')")
        .bind(id)
        .bind(p.org_id)
        .execute(store.pool())
        .await?;
    if claimed.rows_affected() == 0 {
        return Err(Error::Conflict(
            "this file is being imported or was imported already; upload it again to import it anew".into(),
        ));
    }
    progress.set(id, 0);
    let store = store.clone();
    let access = access.clone();
    tokio::spawn(async move {
        let outcome = run(&store, &access, id, checked, &plan, &progress).await;
        let (status, report) = match outcome {
            Ok(report) if report.ok => ("done", report),
            Ok(report) => ("failed", report),
            Err(e) => {
                tracing::error!(import = id, error = %e, "import failed");
                let message = match &e {
                    Error::Database(_) | Error::Internal(_) => {
                        "the import failed on the server; nothing was imported".to_owned()
                    }
                    other => other.to_string(),
                };
                (
                    "failed",
                    ImportReport { problems: vec![(0, None, message)], problem_count: 1, ..ImportReport::default() },
                )
            }
        };
        let result = serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
        // The outcome must land, or the import would show as running for ever: a busy database
        // (another long write) is waited out.
        let mut delay = std::time::Duration::from_millis(100);
        for attempt in 1.. {
            let saved =
                sqlx::query("UPDATE customer_imports SET status = $2, result = $3, finished_at = $4 WHERE id = $1")
                    .bind(id)
                    .bind(status)
                    .bind(&result)
                    .bind(now_ms())
                    .execute(store.pool())
                    .await;
            match saved {
                Ok(_) => break,
                Err(e) if attempt < OUTCOME_ATTEMPTS => {
                    tracing::warn!(import = id, error = %e, "cannot record the outcome of an import yet; trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(import = id, error = %e, "cannot record the outcome of an import");
                    break;
                }
            }
        }
        progress.clear(id);
        if status == "done"
            && report.new_customers >= LARGE_IMPORT
            && let Err(e) = store.refresh_statistics().await
        {
            tracing::warn!(import = id, error = %e, "cannot refresh the planner's statistics after an import");
        }
    });
    Ok(())
}

async fn run(
    store: &Store,
    access: &Access,
    id: Id,
    (prepared, problems): (Vec<Prepared>, Vec<RowProblem>),
    plan: &ImportPlan,
    progress: &ImportProgress,
) -> Result<ImportReport> {
    let p = *access.principal();
    let existing = existing(store, p.org_id, &prepared).await?;
    let (report, actions) = plan_outcome(&prepared, problems, &existing, plan.dedupe);
    if !report.ok {
        return Ok(report);
    }
    let creating: Vec<&Prepared> =
        prepared.iter().zip(&actions).filter(|(_, a)| matches!(a, RowAction::Create)).map(|(row, _)| row).collect();
    let mut tx = store.begin_write().await?;
    let now = now_ms();
    // Rows that match customers the organisation already has: updated or merged one by one.
    let mut contacts: Vec<(Id, &RowContact)> = Vec::new();
    for (row, action) in prepared.iter().zip(&actions) {
        if let RowAction::Existing(existing_id) = action
            && plan.dedupe != Dedupe::Skip
        {
            apply_to_existing(&mut tx, access, *existing_id, row, plan.dedupe, now).await?;
            if let Some(contact) = &row.contact {
                contacts.push((*existing_id, contact));
            }
        }
    }
    // New customers: written in bulk, a batch at a time, in the same transaction.
    let (pattern, time_zone) = super::codes::org_pattern(&mut *tx, p.org_id).await?;
    let codes = super::codes::take_codes(&mut tx, p.org_id, &pattern, &time_zone, creating.len() as i64).await?;
    let departments: HashMap<Id, Option<Id>> =
        sqlx::query_as::<_, (Id, Option<Id>)>("SELECT id, department_id FROM users WHERE org_id = $1")
            .bind(p.org_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let mut unique = UniqueValues::load(&mut tx, p.org_id).await?;
    // New customers of categories that need approval wait for it, as those created one by one
    // do.
    let approval = crate::workflow::customer_approval::get(&mut *tx, p.org_id).await?;
    let mut awaiting_approval: Vec<Id> = Vec::new();
    let mut written = prepared.len() - creating.len();
    for (batch, codes) in creating.chunks(IMPORT_BATCH).zip(codes.chunks(IMPORT_BATCH)) {
        let ids = store.reserve_ids(&mut tx, "customers", batch.len()).await?;
        let mut customers = Vec::with_capacity(batch.len());
        let mut phones = Vec::new();
        let mut events = Vec::with_capacity(batch.len());
        let mut unique_rows = Vec::new();
        for ((row, code), new_id) in batch.iter().zip(codes).zip(&ids) {
            let owner_id = row.owner_id.unwrap_or(p.user_id);
            let department_id =
                if row.owner_id.is_some() { departments.get(&owner_id).copied().flatten() } else { p.department_id };
            let f = |k: &str| SqlArg::OptText(row.fields.get(k).cloned());
            customers.push(vec![
                SqlArg::Int(*new_id),
                p.org_id.into(),
                code.as_str().into(),
                row.name.as_str().into(),
                row.kind.as_deref().unwrap_or("company").into(),
                f("category"),
                f("level"),
                f("status"),
                f("industry"),
                f("region"),
                f("source"),
                f("address"),
                f("website"),
                f("bank_name"),
                f("bank_account"),
                SqlArg::OptText(row.tax_id.clone()),
                SqlArg::OptInt(row.credit_limit),
                super::clean_tags(&row.tags)?.into(),
                row.notes.clone().unwrap_or_default().into(),
                owner_id.into(),
                SqlArg::OptInt(department_id),
                row.name_key.as_str().into(),
                super::search_text_for(&row.name, code).into(),
                p.user_id.into(),
                now.into(),
                now.into(),
                1.into(),
                serde_json::Value::Object(row.custom.clone()).to_string().into(),
            ]);
            for (input, ph) in dedup_phones(&row.phones) {
                phones.push(phone_args(p.org_id, *new_id, None, &input, &ph));
            }
            unique_rows.extend(unique.claim(p.org_id, *new_id, row)?);
            if approval.definition_id.is_some()
                && row.fields.get("category").is_some_and(|c| approval.categories.contains(c))
            {
                awaiting_approval.push(*new_id);
            }
            let payload = serde_json::json!({ "id": new_id, "code": code, "name": row.name, "import_id": id });
            events.push(event_args(p.org_id, "customer.created", ("customer", *new_id), p.user_id, &payload, now));
            if let Some(contact) = &row.contact {
                contacts.push((*new_id, contact));
            }
        }
        bulk_insert(&mut tx, "customers", CUSTOMER_COLUMNS, customers).await?;
        bulk_insert(&mut tx, "phones", PHONE_COLUMNS, phones).await?;
        bulk_insert(&mut tx, "custom_unique_values", &["org_id", "field_key", "value", "customer_id"], unique_rows)
            .await?;
        bulk_insert(&mut tx, "outbox", EVENT_COLUMNS, events).await?;
        written += batch.len();
        progress.set(id, written);
    }
    for customer_id in awaiting_approval {
        let customer = super::load_in(&mut tx, p.org_id, customer_id).await?;
        crate::workflow::customer_approval::start_if_required(&mut tx, p.org_id, p.user_id, &customer).await?;
    }
    // Every row's contact, for new and matched customers alike.
    for batch in contacts.chunks(IMPORT_BATCH) {
        let ids = store.reserve_ids(&mut tx, "contacts", batch.len()).await?;
        let mut rows = Vec::with_capacity(batch.len());
        let mut phones = Vec::new();
        let mut events = Vec::with_capacity(batch.len());
        for ((customer_id, contact), contact_id) in batch.iter().zip(&ids) {
            rows.push(vec![
                SqlArg::Int(*contact_id),
                p.org_id.into(),
                (*customer_id).into(),
                contact.name.as_str().into(),
                SqlArg::OptText(contact.title.clone()),
                SqlArg::OptText(contact.email.clone()),
                "".into(),
                names::search_text(&contact.name).into(),
                now.into(),
                now.into(),
            ]);
            for (input, ph) in dedup_phones(&contact.phones) {
                phones.push(phone_args(p.org_id, *customer_id, Some(*contact_id), &input, &ph));
            }
            let payload = serde_json::json!({ "id": contact_id, "customer_id": customer_id, "name": contact.name, "import_id": id });
            events.push(event_args(p.org_id, "contact.created", ("contact", *contact_id), p.user_id, &payload, now));
        }
        bulk_insert(
            &mut tx,
            "contacts",
            &[
                "id",
                "org_id",
                "customer_id",
                "name",
                "title",
                "email",
                "notes",
                "search_text",
                "created_at",
                "updated_at",
            ],
            rows,
        )
        .await?;
        bulk_insert(&mut tx, "phones", PHONE_COLUMNS, phones).await?;
        bulk_insert(&mut tx, "outbox", EVENT_COLUMNS, events).await?;
    }
    AuditEntry::new(p.org_id, Some(p.user_id), "customer.imported")
        .target("import", id)
        .detail(serde_json::json!({ "new": report.new_customers, "matched": report.matched_existing, "updated": report.updated, "dedupe": plan.dedupe }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    progress.set(id, prepared.len());
    Ok(report)
}

/// Tries at recording an import's outcome (over about a minute) before giving up.
const OUTCOME_ATTEMPTS: u32 = 16;

/// New customers from which an import refreshes the planner's statistics.
const LARGE_IMPORT: usize = 10_000;

/// New customers written per statement batch of an import.
const IMPORT_BATCH: usize = 5000;

const CUSTOMER_COLUMNS: &[&str] = &[
    "id",
    "org_id",
    "code",
    "name",
    "kind",
    "category",
    "level",
    "status",
    "industry",
    "region",
    "source",
    "address",
    "website",
    "bank_name",
    "bank_account",
    "tax_id",
    "credit_limit",
    "tags",
    "notes",
    "owner_id",
    "department_id",
    "name_key",
    "search_text",
    "created_by",
    "created_at",
    "updated_at",
    "version",
    "custom",
];

const PHONE_COLUMNS: &[&str] =
    &["org_id", "customer_id", "contact_id", "label", "raw", "canonical", "suffix", "extension", "digits_rev"];

const EVENT_COLUMNS: &[&str] =
    &["org_id", "topic", "aggregate_type", "aggregate_id", "actor_user_id", "payload", "created_at"];

fn phone_args(
    org_id: Id,
    customer_id: Id,
    contact_id: Option<Id>,
    input: &PhoneInput,
    p: &phone::Phone,
) -> Vec<SqlArg> {
    vec![
        org_id.into(),
        customer_id.into(),
        SqlArg::OptInt(contact_id),
        input.label.as_str().into(),
        input.number.as_str().into(),
        p.canonical.as_str().into(),
        phone::suffix_key(p).into(),
        SqlArg::OptText(p.extension.clone()),
        super::reversed_digits(&p.canonical).into(),
    ]
}

fn event_args(
    org_id: Id,
    topic: &str,
    (kind, aggregate_id): (&str, Id),
    actor: Id,
    payload: &serde_json::Value,
    now: i64,
) -> Vec<SqlArg> {
    vec![
        org_id.into(),
        topic.into(),
        kind.into(),
        aggregate_id.into(),
        actor.into(),
        payload.to_string().into(),
        now.into(),
    ]
}

/// The organisation's unique custom fields and the values already taken, so that an import
/// names the row that would repeat one instead of failing on the constraint.
struct UniqueValues {
    fields: Vec<(String, String)>,
    taken: std::collections::HashSet<(String, String)>,
}

impl UniqueValues {
    async fn load(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id) -> Result<UniqueValues> {
        let fields: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, label_en FROM custom_fields WHERE org_id = $1 AND active = 1 AND is_unique = 1",
        )
        .bind(org_id)
        .fetch_all(&mut **tx)
        .await?;
        let taken = if fields.is_empty() {
            Default::default()
        } else {
            sqlx::query_as::<_, (String, String)>("SELECT field_key, value FROM custom_unique_values WHERE org_id = $1")
                .bind(org_id)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect()
        };
        Ok(UniqueValues { fields, taken })
    }

    /// The unique-value rows of a new customer, refusing a value already taken.
    fn claim(&mut self, org_id: Id, customer_id: Id, row: &Prepared) -> Result<Vec<Vec<SqlArg>>> {
        let mut out = Vec::new();
        for (key, label) in &self.fields {
            if let Some(v) = row.custom.get(key).and_then(super::fields::unique_text) {
                if !self.taken.insert((key.clone(), v.clone())) {
                    return Err(Error::Conflict(format!(
                        "row {}: another customer already has {label} = {v:?}",
                        row.row
                    )));
                }
                out.push(vec![org_id.into(), key.as_str().into(), v.into(), customer_id.into()]);
            }
        }
        Ok(out)
    }
}

fn dedup_phones(phones: &[(PhoneInput, phone::Phone)]) -> Vec<(PhoneInput, phone::Phone)> {
    let mut out: Vec<(PhoneInput, phone::Phone)> = Vec::new();
    for (input, ph) in phones {
        if !out.iter().any(|(_, o)| o.canonical == ph.canonical) {
            out.push((input.clone(), ph.clone()));
        }
    }
    out
}

/// Updates or merges a matching customer with a row's values.
async fn apply_to_existing(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    access: &Access,
    customer_id: Id,
    row: &Prepared,
    dedupe: Dedupe,
    now: i64,
) -> Result<()> {
    let p = *access.principal();
    let current = super::load_in(tx, p.org_id, customer_id).await?;
    if !access.allows("customers", Action::Edit, &current.scope(p.org_id)) {
        return Err(Error::Forbidden(format!(
            "row {} matches customer {} ({}), which you may not edit; choose skip for duplicates",
            row.row, current.code, current.name
        )));
    }
    let overwrite = dedupe == Dedupe::Update;
    let pick = |new: Option<String>, old: &Option<String>| -> Option<String> {
        match (new, old) {
            (Some(n), _) if overwrite => Some(n),
            (Some(n), None) => Some(n),
            (_, old) => old.clone(),
        }
    };
    let f = |k: &str| row.fields.get(k).cloned();
    let mut tags = current.tags.clone();
    for t in &row.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut custom = current.custom.clone();
    for (k, v) in &row.custom {
        if overwrite || !custom.contains_key(k) {
            custom.insert(k.clone(), v.clone());
        }
    }
    sqlx::query(
        "UPDATE customers SET category = $3, level = $4, status = $5, industry = $6, region = $7, source = $8, address = $9, \
            website = $10, bank_name = $11, bank_account = $12, tax_id = $13, credit_limit = $14, tags = $15, updated_at = $16, \
            version = version + 1, custom = $17 WHERE id = $1 AND org_id = $2",
    )
    .bind(customer_id)
    .bind(p.org_id)
    .bind(pick(f("category"), &current.category))
    .bind(pick(f("level"), &current.level))
    .bind(pick(f("status"), &current.status))
    .bind(pick(f("industry"), &current.industry))
    .bind(pick(f("region"), &current.region))
    .bind(pick(f("source"), &current.source))
    .bind(pick(f("address"), &current.address))
    .bind(pick(f("website"), &current.website))
    .bind(pick(f("bank_name"), &current.bank_name))
    .bind(pick(f("bank_account"), &current.bank_account))
    .bind(pick(row.tax_id.clone(), &current.tax_id))
    .bind(if overwrite { row.credit_limit.or(current.credit_limit) } else { current.credit_limit.or(row.credit_limit) })
    .bind(super::clean_tags(&tags)?)
    .bind(now)
    .bind(serde_json::Value::Object(custom.clone()).to_string())
    .execute(&mut **tx)
    .await?;
    super::fields::index_unique(tx, p.org_id, customer_id, &custom).await?;
    for (input, ph) in &row.phones {
        if !current.phones.iter().any(|c| c.canonical == ph.canonical) {
            super::insert_phone(tx, p.org_id, customer_id, None, input, ph).await?;
        }
    }
    let after = super::load_in(tx, p.org_id, customer_id).await?;
    Event {
        org_id: p.org_id,
        topic: "customer.updated",
        aggregate: ("customer", customer_id),
        actor_user_id: Some(p.user_id),
        payload: &after,
    }
    .record(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_map_in_chinese_and_english() {
        let headers: Vec<String> =
            ["客户名称", "Phone", "级别", "联系人", "联系人手机", "whatever"].iter().map(|s| (*s).to_owned()).collect();
        let custom = [crate::customers::fields::CustomField {
            id: 1,
            key: "contract_no".into(),
            label_zh: "合同编号".into(),
            label_en: "Contract no.".into(),
            kind: crate::customers::fields::FieldKind::Text,
            required: false,
            unique: false,
            options: vec![],
            position: 0,
            active: true,
        }];
        let mut headers = headers;
        headers.push("合同编号".into());
        let m = suggest_mapping(&headers, &custom);
        assert_eq!(m["客户名称"], Mapped::Field(Target::Name));
        assert_eq!(m["Phone"], Mapped::Field(Target::Phone));
        assert_eq!(m["级别"], Mapped::Field(Target::Level));
        assert_eq!(m["联系人"], Mapped::Field(Target::ContactName));
        assert_eq!(m["联系人手机"], Mapped::Field(Target::ContactPhone));
        assert_eq!(m["whatever"], Mapped::Field(Target::Ignore));
        assert_eq!(m["合同编号"], Mapped::Custom { custom: "contract_no".into() });
    }

    #[test]
    fn yuan_amounts_become_fen() {
        assert_eq!(parse_yuan("12,500.50"), Some(1_250_050));
        assert_eq!(parse_yuan("￥３００"), Some(30_000));
        assert_eq!(parse_yuan("0.5"), Some(50));
        assert_eq!(parse_yuan("-1"), None);
        assert_eq!(parse_yuan("1.234"), None);
        assert_eq!(parse_yuan("abc"), None);
    }
}
