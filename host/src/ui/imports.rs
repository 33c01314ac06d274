//! The customer import wizard: upload a CSV or XLSX file, map its columns to customer fields
//! (a mapping is suggested from the header names, custom fields included), check the file in a
//! dry run that lists every refused row with its number and reason, then run the import and
//! follow its progress until the summary. The same domain functions and access checks as the
//! API's `/api/v1/customer-imports` drive each step.
//!
//! A run is all or nothing. When the check refuses some rows, the user fixes the file and
//! uploads it again, or imports the other rows: a copy of the file without the refused rows is
//! uploaded (as a new CSV), checked and run.

use std::collections::{BTreeMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::admin::status_of;
use super::i18n::Strings;
use super::{Choice, Chrome, FormFields, Lang, Posted, UiError, Viewer, path_id, render_with, see_other};
use crate::access::Action;
use crate::auth;
use crate::customers::fields::{self, CustomField};
use crate::customers::import::{self, Dedupe, ImportInfo, ImportPlan, ImportReport, Mapped, Target};
use crate::customers::import_file::{self, Limits};
use crate::error::Error;
use crate::store::Id;
use crate::web::AppState;

/// The strings of these pages: key, English, Chinese.
pub(super) const STRINGS: Strings = &[
    ("import.title", "Import customers", "导入客户"),
    ("import.steps", "Steps of the import", "导入步骤"),
    ("import.step_upload", "Upload", "上传文件"),
    ("import.step_map", "Map columns", "对应字段"),
    ("import.step_check", "Check", "检查"),
    ("import.step_run", "Import", "导入"),
    ("import.file", "CSV or Excel (.xlsx) file", "CSV 或 Excel (.xlsx) 文件"),
    (
        "import.file_help",
        "The first row names the columns. A CSV file may be in UTF-8 or GBK; at most 100 MB.",
        "第一行为列名。CSV 文件可为 UTF-8 或 GBK 编码；最大 100 MB。",
    ),
    ("import.upload", "Upload", "上传"),
    ("import.no_file", "Choose a file to upload.", "请选择要上传的文件。"),
    ("import.error_empty", "The file is empty.", "文件是空的。"),
    (
        "import.error_format",
        "Only .csv and .xlsx files can be imported. Save the spreadsheet as CSV UTF-8 or as .xlsx and upload it again.",
        "只能导入 .csv 或 .xlsx 文件。请将表格另存为 CSV UTF-8 或 .xlsx 后重新上传。",
    ),
    ("import.bad_file", "This file cannot be imported.", "无法导入此文件。"),
    (
        "import.too_large",
        "The file is larger than 100 MB; split it into smaller files.",
        "文件超过 100 MB，请拆分成较小的文件。",
    ),
    ("import.bad_upload", "The upload could not be read; send the file again.", "无法读取上传的内容，请重新上传。"),
    ("import.file_name", "File", "文件"),
    ("import.rows", "Rows", "行数"),
    ("import.encoding", "Read as", "编码"),
    (
        "import.map_intro",
        "Choose the field each column of the file fills. Columns set to “Do not import” are left out.",
        "为文件的每一列选择要填入的字段。设为“不导入”的列将被忽略。",
    ),
    ("import.column", "Column", "列"),
    ("import.target", "Field", "字段"),
    ("import.samples", "Sample values", "示例值"),
    ("import.custom_fields", "Custom fields", "自定义字段"),
    ("import.standard_fields", "Customer fields", "客户字段"),
    ("import.dedupe", "Rows matching an existing customer", "与已有客户重复的行"),
    ("import.dedupe_skip", "Skip them; leave the customer as it is", "跳过，不修改已有客户"),
    ("import.dedupe_update", "Update the customer with the file's values", "用文件中的值更新已有客户"),
    ("import.dedupe_merge", "Fill only the customer's empty fields", "只填写已有客户的空白字段"),
    ("import.check", "Check the file", "检查文件"),
    (
        "import.previously",
        "This very file was imported before. Rows matching existing customers are not imported twice.",
        "此文件之前已导入过。与已有客户重复的行不会重复导入。",
    ),
    ("import.report", "Result of the check", "检查结果"),
    ("import.total_rows", "Rows in the file", "文件行数"),
    ("import.new_customers", "New customers", "新客户"),
    ("import.matched", "Matching existing customers", "与已有客户重复"),
    ("import.updated", "Existing customers updated", "更新的已有客户"),
    ("import.repeated", "Rows repeating an earlier row", "与前面的行重复"),
    ("import.contacts_added", "Contacts added", "新增联系人"),
    ("import.refused", "Refused rows", "不能导入的行"),
    ("import.row", "Row", "行号"),
    ("import.reason", "Reason", "原因"),
    ("import.more_problems", "More problems not listed", "未列出的其他问题"),
    ("import.ready", "Every row can be imported.", "所有行均可导入。"),
    (
        "import.all_or_nothing",
        "An import is all or nothing: while any row is refused, nothing is imported. Fix the rows in the file and upload it again, or import the other rows.",
        "导入要么全部成功，要么全部不导入：只要有行不能导入，就不会导入任何数据。请修改文件后重新上传，或只导入其余的行。",
    ),
    ("import.run", "Import now", "开始导入"),
    ("import.run_others", "Import the other rows", "只导入其余的行"),
    ("import.change_mapping", "Change the mapping", "修改字段对应"),
    ("import.upload_again", "Upload another file", "重新上传文件"),
    (
        "import.cannot_leave_out",
        "Some problems concern the whole file, not single rows; fix the file and upload it again.",
        "部分问题涉及整个文件而非个别行，请修改文件后重新上传。",
    ),
    (
        "import.nothing_left",
        "Every row is refused; there is nothing left to import.",
        "所有行都不能导入，没有可导入的数据。",
    ),
    ("import.progress", "Progress", "进度"),
    (
        "import.running",
        "Importing… You may leave this page; the import goes on.",
        "正在导入… 您可以离开此页面，导入会继续进行。",
    ),
    ("import.rows_done", "rows done", "行已处理"),
    ("import.refresh", "Refresh", "刷新"),
    ("import.done", "Import finished.", "导入完成。"),
    ("import.failed", "The import failed; nothing was imported.", "导入失败，未导入任何数据。"),
    ("import.to_customers", "Go to the customer list", "前往客户列表"),
    ("import.target.ignore", "Do not import", "不导入"),
    ("import.target.name", "Customer name", "客户名称"),
    ("import.target.kind", "Kind (company or person)", "客户类型（企业或个人）"),
    ("import.target.category", "Category", "客户类别"),
    ("import.target.level", "Level", "客户等级"),
    ("import.target.status", "Status", "客户状态"),
    ("import.target.industry", "Industry", "行业"),
    ("import.target.region", "Region", "地区"),
    ("import.target.source", "Source", "来源"),
    ("import.target.address", "Address", "地址"),
    ("import.target.website", "Website", "网站"),
    ("import.target.bank_name", "Bank", "开户银行"),
    ("import.target.bank_account", "Bank account", "银行账号"),
    ("import.target.tax_id", "Tax id", "税号"),
    ("import.target.credit_limit", "Credit limit (yuan)", "信用额度（元）"),
    ("import.target.tags", "Tags", "标签"),
    ("import.target.notes", "Notes", "备注"),
    ("import.target.phone", "Phone", "电话"),
    ("import.target.owner", "Owner (user name)", "负责人（用户名）"),
    ("import.target.contact_name", "Contact name", "联系人姓名"),
    ("import.target.contact_title", "Contact title", "联系人职务"),
    ("import.target.contact_phone", "Contact phone", "联系人电话"),
    ("import.target.contact_email", "Contact email", "联系人邮箱"),
    ("done.import_started", "The import has started.", "导入已开始。"),
];

/// The fields a column can fill: the field, its value in the form, and its label.
const TARGETS: &[(Target, &str, &str)] = &[
    (Target::Name, "name", "import.target.name"),
    (Target::Kind, "kind", "import.target.kind"),
    (Target::Category, "category", "import.target.category"),
    (Target::Level, "level", "import.target.level"),
    (Target::Status, "status", "import.target.status"),
    (Target::Industry, "industry", "import.target.industry"),
    (Target::Region, "region", "import.target.region"),
    (Target::Source, "source", "import.target.source"),
    (Target::Address, "address", "import.target.address"),
    (Target::Website, "website", "import.target.website"),
    (Target::BankName, "bank_name", "import.target.bank_name"),
    (Target::BankAccount, "bank_account", "import.target.bank_account"),
    (Target::TaxId, "tax_id", "import.target.tax_id"),
    (Target::CreditLimit, "credit_limit", "import.target.credit_limit"),
    (Target::Tags, "tags", "import.target.tags"),
    (Target::Notes, "notes", "import.target.notes"),
    (Target::Phone, "phone", "import.target.phone"),
    (Target::Owner, "owner", "import.target.owner"),
    (Target::ContactName, "contact_name", "import.target.contact_name"),
    (Target::ContactTitle, "contact_title", "import.target.contact_title"),
    (Target::ContactPhone, "contact_phone", "import.target.contact_phone"),
    (Target::ContactEmail, "contact_email", "import.target.contact_email"),
];

/// The form value of a column left out.
const SKIP: &str = "ignore";

/// The form value of a custom field starts with this.
const CUSTOM: &str = "custom:";

/// Room for the form's other parts beside the file.
const FORM_SLACK: usize = 64 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/customers/import",
            get(upload_form).post(upload).layer(DefaultBodyLimit::max(import::MAX_UPLOAD_BYTES + FORM_SLACK)),
        )
        .route("/customers/import/{id}", get(mapping))
        .route("/customers/import/{id}/check", post(check))
        .route("/customers/import/{id}/run", post(run))
        .route("/customers/import/{id}/progress", get(progress))
}

/// The user may import: importing creates customers.
fn require_import(viewer: &Viewer) -> Result<(), UiError> {
    if viewer.access.scope("customers", Action::Create).is_none() {
        return Err(Error::Forbidden("importing needs the create permission on customers".into()).into());
    }
    Ok(())
}

// Step 1: upload.

#[derive(Template)]
#[template(path = "import.html")]
struct UploadPage {
    chrome: Chrome,
    error: Option<String>,
    detail: Option<String>,
}

fn upload_page(viewer: Viewer, error: Option<&'static str>, detail: Option<String>) -> Response {
    let lang = viewer.lang();
    let error = error.map(|k| lang.t(k).to_owned());
    let status = status_of(&error);
    let page = UploadPage { chrome: viewer.chrome(lang.t("import.title"), "/customers"), error, detail };
    render_with(status, &page)
}

async fn upload_form(viewer: Viewer) -> Result<Response, UiError> {
    require_import(&viewer)?;
    Ok(upload_page(viewer, None, None))
}

/// Why a multipart body could not be read.
fn unreadable(e: &MultipartError) -> UiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UiError::status(StatusCode::PAYLOAD_TOO_LARGE, "import.too_large")
    } else {
        UiError::status(StatusCode::BAD_REQUEST, "import.bad_upload")
    }
}

/// The endings of the files an import reads.
fn importable(file_name: &str) -> bool {
    let lower = file_name.to_lowercase();
    [".csv", ".txt", ".tsv", ".xlsx", ".xlsm"].iter().any(|e| lower.ends_with(e))
}

/// Receives the uploaded file (a multipart form whose `_csrf` part is checked as every form's
/// token is) and goes on to the mapping.
async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, UiError> {
    let mut multipart =
        multipart.map_err(|_| UiError::status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "import.bad_upload"))?;
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
        match field.name() {
            Some("_csrf") => csrf = field.text().await.map_err(|e| unreadable(&e))?,
            Some("file") if file.is_none() => {
                // Browsers of old sent the whole path; the name is what follows the last slash.
                let name = field.file_name().unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
                let name = name.trim().to_owned();
                let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    if !auth::constant_time_eq(&csrf, &viewer.chrome.csrf) {
        return Err(UiError::status(StatusCode::FORBIDDEN, "error.csrf"));
    }
    require_import(&viewer)?;
    let Some((name, bytes)) = file.filter(|(name, bytes)| !name.is_empty() || !bytes.is_empty()) else {
        return Ok(upload_page(viewer, Some("import.no_file"), None));
    };
    if !importable(&name) {
        return Ok(upload_page(viewer, Some("import.error_format"), None));
    }
    if bytes.is_empty() {
        return Ok(upload_page(viewer, Some("import.error_empty"), None));
    }
    match import::upload(&state.store, &viewer.access, &name, &bytes, &state.imports).await {
        Ok(info) => Ok(see_other(&format!("/customers/import/{}", info.id))),
        Err(Error::Invalid { message, .. }) => Ok(upload_page(viewer, Some("import.bad_file"), Some(message))),
        Err(e) => Err(e.into()),
    }
}

// Step 2: mapping.

pub struct ColumnRow {
    pub index: usize,
    pub header: String,
    pub samples: String,
    pub standard: Vec<Choice>,
    pub custom: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "import_map.html")]
struct MapPage {
    chrome: Chrome,
    id: Id,
    file_name: String,
    total_rows: i64,
    encoding: String,
    columns: Vec<ColumnRow>,
    dedupe: &'static str,
    previously: bool,
    error: Option<String>,
}

/// The form value of a mapped field.
fn value_of(mapped: &Mapped) -> String {
    match mapped {
        Mapped::Custom { custom } => format!("{CUSTOM}{custom}"),
        Mapped::Field(t) => TARGETS.iter().find(|(x, _, _)| x == t).map_or(SKIP, |(_, v, _)| v).to_owned(),
    }
}

/// The field a form value names.
fn mapped_of(value: &str) -> Result<Mapped, Error> {
    if value.is_empty() || value == SKIP {
        return Ok(Mapped::Field(Target::Ignore));
    }
    if let Some(key) = value.strip_prefix(CUSTOM) {
        return Ok(Mapped::Custom { custom: key.to_owned() });
    }
    TARGETS
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|(t, _, _)| Mapped::Field(*t))
        .ok_or_else(|| Error::invalid("mapping", format!("{value:?} is not a field a column can fill")))
}

fn dedupe_value(d: Dedupe) -> &'static str {
    match d {
        Dedupe::Skip => "skip",
        Dedupe::Update => "update",
        Dedupe::Merge => "merge",
    }
}

fn dedupe_of(value: &str) -> Dedupe {
    match value {
        "update" => Dedupe::Update,
        "merge" => Dedupe::Merge,
        _ => Dedupe::Skip,
    }
}

/// The plan a mapping form asks for: `col{i}` names the field of the file's column `i`.
fn plan_of(info: &ImportInfo, form: &FormFields) -> Result<ImportPlan, Error> {
    let mut mapping = BTreeMap::new();
    for (i, header) in info.headers.iter().enumerate() {
        mapping.insert(header.clone(), mapped_of(form.get(&format!("col{i}")))?);
    }
    Ok(ImportPlan { mapping, dedupe: dedupe_of(form.get("dedupe")) })
}

/// The form fields that carry a plan from one step to the next.
fn plan_fields(info: &ImportInfo, plan: &ImportPlan) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = info
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("col{i}"), plan.mapping.get(h).map_or_else(|| SKIP.to_owned(), value_of)))
        .collect();
    out.push(("dedupe".into(), dedupe_value(plan.dedupe).to_owned()));
    out
}

fn column_choices(lang: Lang, custom: &[CustomField], selected: &str) -> (Vec<Choice>, Vec<Choice>) {
    let mut standard = vec![Choice {
        value: SKIP.into(),
        label: lang.t("import.target.ignore").into(),
        selected: selected == SKIP || selected.is_empty(),
    }];
    standard.extend(TARGETS.iter().map(|(_, v, key)| Choice {
        value: (*v).into(),
        label: lang.t(key).into(),
        selected: selected == *v,
    }));
    let custom = custom
        .iter()
        .filter(|f| f.active)
        .map(|f| {
            let value = format!("{CUSTOM}{}", f.key);
            Choice { selected: selected == value, label: lang.pick(&f.label_en, &f.label_zh).to_owned(), value }
        })
        .collect();
    (standard, custom)
}

/// The mapping page: the user's choices when `chosen` holds them, else the suggestion.
async fn map_page(
    state: &AppState,
    viewer: Viewer,
    info: ImportInfo,
    chosen: Option<&FormFields>,
    error: Option<String>,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let custom = fields::list(&state.store, viewer.org_id()).await?;
    let columns = info
        .headers
        .iter()
        .enumerate()
        .map(|(index, header)| {
            let selected = match chosen.and_then(|f| f.opt(&format!("col{index}"))) {
                Some(v) => v,
                None => info.suggested_mapping.get(header).map_or_else(|| SKIP.to_owned(), value_of),
            };
            let (standard, custom) = column_choices(lang, &custom, &selected);
            let samples = info
                .sample
                .iter()
                .filter_map(|row| row.get(index).map(|v| v.trim()).filter(|v| !v.is_empty()))
                .take(3)
                .collect::<Vec<_>>()
                .join(" · ");
            ColumnRow { index, header: header.clone(), samples, standard, custom }
        })
        .collect();
    let dedupe = dedupe_value(dedupe_of(chosen.map_or("", |f| f.get("dedupe"))));
    let status = status_of(&error);
    let page = MapPage {
        chrome: viewer.chrome(lang.t("import.title"), "/customers"),
        id: info.id,
        file_name: info.file_name,
        total_rows: info.total_rows,
        encoding: info.encoding,
        columns,
        dedupe,
        previously: info.previously_imported_as.is_some(),
        error,
    };
    Ok(render_with(status, &page))
}

async fn mapping(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let info = import::get(&state.store, &viewer.access, id, &state.imports).await?;
    if info.status != "uploaded" {
        return Ok(see_other(&format!("/customers/import/{id}/progress")));
    }
    let chosen = FormFields::from_query(raw.as_deref());
    let chosen = chosen.opt("col0").is_some().then_some(&chosen);
    map_page(&state, viewer, info, chosen, None).await
}

// Step 3: the check.

pub struct ProblemRow {
    pub row: String,
    pub column: String,
    pub message: String,
}

/// A report's problems as the table shows them; row 0 is the file as a whole.
fn problem_rows(lang: Lang, report: &ImportReport) -> Vec<ProblemRow> {
    report
        .problems
        .iter()
        .map(|(row, column, message)| ProblemRow {
            row: if *row == 0 { lang.t("field.none").to_owned() } else { row.to_string() },
            column: column.clone().unwrap_or_default(),
            message: message.clone(),
        })
        .collect()
}

/// A report's counts, labelled.
fn counts(lang: Lang, r: &ImportReport) -> Vec<(&'static str, String)> {
    let n = |v: usize| lang.number(v as i64);
    let mut out = vec![
        ("import.total_rows", n(r.total_rows)),
        ("import.new_customers", n(r.new_customers)),
        ("import.matched", n(r.matched_existing)),
    ];
    if r.updated > 0 {
        out.push(("import.updated", n(r.updated)));
    }
    out.push(("import.repeated", n(r.repeated_in_file)));
    out.push(("import.contacts_added", n(r.contacts_added)));
    out.push(("import.refused", n(r.problem_count)));
    out
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ReportPage {
    chrome: Chrome,
    id: Id,
    file_name: String,
    ok: bool,
    counts: Vec<(&'static str, String)>,
    problems: Vec<ProblemRow>,
    more_problems: usize,
    plan: Vec<(String, String)>,
    /// Whether the other rows can be imported without the refused ones.
    may_leave_out: bool,
    error: Option<String>,
}

/// Whether every problem of a report is about one data row, so the other rows can go alone.
fn only_rows(report: &ImportReport) -> bool {
    report.problem_count == report.problems.len() && report.problems.iter().all(|(row, _, _)| *row > 1)
}

fn report_page(
    viewer: Viewer,
    info: &ImportInfo,
    plan: &ImportPlan,
    report: &ImportReport,
    error: Option<&'static str>,
) -> Response {
    let lang = viewer.lang();
    let error = error.map(|k| lang.t(k).to_owned());
    let status = status_of(&error);
    let page = ReportPage {
        chrome: viewer.chrome(lang.t("import.title"), "/customers"),
        id: info.id,
        file_name: info.file_name.clone(),
        ok: report.ok,
        counts: counts(lang, report),
        problems: problem_rows(lang, report),
        more_problems: report.problem_count.saturating_sub(report.problems.len()),
        plan: plan_fields(info, plan),
        may_leave_out: !report.ok && only_rows(report) && report.problem_count < report.total_rows,
        error,
    };
    render_with(status, &page)
}

async fn check(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let Posted { viewer, form } = posted;
    let info = import::get(&state.store, &viewer.access, id, &state.imports).await?;
    if info.status != "uploaded" {
        return Ok(see_other(&format!("/customers/import/{id}/progress")));
    }
    let checked = match plan_of(&info, &form) {
        Ok(plan) => import::dry_run(&state.store, &viewer.access, id, &plan).await.map(|r| (plan, r)),
        Err(e) => Err(e),
    };
    match checked {
        Ok((plan, report)) => Ok(report_page(viewer, &info, &plan, &report, None)),
        Err(Error::Invalid { message, .. }) => map_page(&state, viewer, info, Some(&form), Some(message)).await,
        Err(e) => Err(e.into()),
    }
}

// Step 4: the run.

/// The file of an upload without the given rows, as a UTF-8 CSV with the same header; none
/// when no row is left.
fn without_rows(file_name: &str, bytes: &[u8], refused: &HashSet<usize>) -> Result<Option<Vec<u8>>, Error> {
    let limits = Limits { max_bytes: import::MAX_UPLOAD_BYTES, ..Limits::default() };
    let table =
        import_file::read_table(file_name, bytes, &limits).map_err(|e| Error::invalid("file", e.to_string()))?;
    let kept: Vec<&Vec<String>> =
        table.rows.iter().filter(|(row, _)| !refused.contains(row)).map(|(_, cells)| cells).collect();
    if kept.is_empty() {
        return Ok(None);
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::Internal(format!("cannot write the remaining rows: {e}"));
    out.write_record(&table.headers).map_err(failed)?;
    for cells in kept {
        out.write_record(cells).map_err(failed)?;
    }
    out.into_inner().map(Some).map_err(|e| Error::Internal(format!("cannot write the remaining rows: {e}")))
}

/// The name of the copy of a file without its refused rows.
fn checked_name(file_name: &str) -> String {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    let stem: String = stem.chars().take(180).collect();
    format!("{stem}-checked.csv")
}

async fn run(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let Posted { viewer, form } = posted;
    let info = import::get(&state.store, &viewer.access, id, &state.imports).await?;
    if info.status != "uploaded" {
        return Ok(see_other(&format!("/customers/import/{id}/progress")));
    }
    let plan = match plan_of(&info, &form) {
        Ok(plan) => plan,
        Err(Error::Invalid { message, .. }) => return map_page(&state, viewer, info, Some(&form), Some(message)).await,
        Err(e) => return Err(e.into()),
    };
    let mut target = id;
    if form.get("leave_out") == "1" {
        let report = match import::dry_run(&state.store, &viewer.access, id, &plan).await {
            Ok(report) => report,
            Err(Error::Invalid { message, .. }) => {
                return map_page(&state, viewer, info, Some(&form), Some(message)).await;
            }
            Err(e) => return Err(e.into()),
        };
        if !report.ok {
            if !only_rows(&report) {
                return Ok(report_page(viewer, &info, &plan, &report, Some("import.cannot_leave_out")));
            }
            let refused: HashSet<usize> = report.problems.iter().map(|(row, _, _)| *row).collect();
            let (name, bytes, _) = import::original_file(&state.store, &viewer.access, id).await?;
            let Some(rest) = without_rows(&name, &bytes, &refused)? else {
                return Ok(report_page(viewer, &info, &plan, &report, Some("import.nothing_left")));
            };
            let copy =
                import::upload(&state.store, &viewer.access, &checked_name(&name), &rest, &state.imports).await?;
            let second = import::dry_run(&state.store, &viewer.access, copy.id, &plan).await?;
            if !second.ok {
                // Leaving rows out can change what the others do (a repeat becomes the first).
                return Ok(report_page(viewer, &copy, &plan, &second, None));
            }
            target = copy.id;
        }
    }
    match import::start(&state.store, &viewer.access, target, plan, state.imports.clone()).await {
        Ok(()) => Ok(see_other(&format!("/customers/import/{target}/progress?notice=done.import_started"))),
        Err(Error::Invalid { message, .. }) if target == id => {
            map_page(&state, viewer, info, Some(&form), Some(message)).await
        }
        // Started meanwhile (a second click): its progress is what to show.
        Err(Error::Conflict(_)) => Ok(see_other(&format!("/customers/import/{target}/progress"))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "import_progress.html")]
struct ProgressPage {
    chrome: Chrome,
    id: Id,
    file_name: String,
    /// `running`, `done` or `failed`.
    status: String,
    processed: i64,
    total: i64,
    counts: Vec<(&'static str, String)>,
    problems: Vec<ProblemRow>,
    more_problems: usize,
}

impl ProgressPage {
    /// The bar's end: at least one, so an empty file's bar is well formed.
    fn bar_max(&self) -> i64 {
        self.total.max(1)
    }
}

async fn progress(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let info = import::get(&state.store, &viewer.access, id, &state.imports).await?;
    if info.status == "uploaded" {
        return Ok(see_other(&format!("/customers/import/{id}")));
    }
    let lang = viewer.lang();
    let report = info.report.clone().unwrap_or_default();
    let total = info.total_rows.max(0);
    let processed = match info.status.as_str() {
        "running" => info.processed.map_or(0, |n| n as i64).min(total),
        "done" => total,
        _ => 0,
    };
    let page = ProgressPage {
        chrome: viewer.chrome(lang.t("import.title"), "/customers"),
        id,
        file_name: info.file_name.clone(),
        status: info.status.clone(),
        processed,
        total,
        counts: counts(lang, &report),
        problems: problem_rows(lang, &report),
        more_problems: report.problem_count.saturating_sub(report.problems.len()),
    };
    Ok(render_with(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_a_column_can_fill_is_offered_and_read_back() {
        for (target, value, _) in TARGETS {
            assert_eq!(mapped_of(value).expect("known"), Mapped::Field(*target));
            assert_eq!(value_of(&Mapped::Field(*target)), *value);
            // The form's values are the API's names of the fields.
            assert_eq!(serde_json::to_value(target).expect("json"), serde_json::json!(value));
        }
        assert_eq!(mapped_of(SKIP).expect("skip"), Mapped::Field(Target::Ignore));
        assert_eq!(mapped_of("custom:contract_no").expect("custom"), Mapped::Custom { custom: "contract_no".into() });
        assert!(mapped_of("password").is_err());
    }

    #[test]
    fn refused_rows_are_left_out_of_the_copy() {
        let file = "名称,电话\n北京科技,13800138000\n,123\n上海贸易,\"021 6666 8888\"\n".as_bytes();
        let refused: HashSet<usize> = [3].into_iter().collect();
        let copy = without_rows("客户.csv", file, &refused).expect("read").expect("rows left");
        assert_eq!(
            String::from_utf8(copy).expect("utf-8"),
            "名称,电话\n北京科技,13800138000\n上海贸易,021 6666 8888\n"
        );
        let all: HashSet<usize> = [2, 3, 4].into_iter().collect();
        assert!(without_rows("客户.csv", file, &all).expect("read").is_none());
        assert_eq!(checked_name("客户 2026.xlsx"), "客户 2026-checked.csv");
    }
}
