//! Organisation administration pages: the department tree, custom customer fields, option
//! lists, the customer code pattern, sign-in restrictions and the audit log.
//!
//! Only organisation administrators reach them. They call the same domain functions as the
//! REST API, which record the audit entries, so a change made here reads in the audit log
//! exactly like one made through the API. A refused form comes back filled in with the
//! reason (status 422); an unknown id is a 404 page.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::admin::{AdminPosted, require_admin, status_of};
use super::i18n::Strings;
use super::{Choice, Chrome, FormFields, Lang, UiError, Viewer, path_id, render_with, see_other};
use crate::audit::{self, AuditQuery};
use crate::auth::restrictions::{self, NewSignInRule};
use crate::customers::codes::{self, CodePattern};
use crate::customers::fields::{self, FieldKind, FieldOption, FieldPatch, NewField};
use crate::customers::options::{self, OptionInput};
use crate::error::Error;
use crate::org::departments::{self, DepartmentPatch, NewDepartment};
use crate::org::{roles, users};
use crate::store::Id;
use crate::web::{AppState, ClientIp};

/// The strings of these pages: key, English, Chinese.
pub(super) const STRINGS: Strings = &[
    // Shared by the pages.
    ("org_admin.save", "Save", "保存"),
    ("org_admin.add", "Add", "添加"),
    ("org_admin.edit", "Edit", "编辑"),
    ("org_admin.delete", "Delete", "删除"),
    ("org_admin.yes", "Yes", "是"),
    ("org_admin.no", "No", "否"),
    ("org_admin.active", "Active", "启用"),
    ("org_admin.inactive", "Disabled", "已停用"),
    ("org_admin.position", "Order", "排序"),
    ("org_admin.label_zh", "Chinese label", "中文名称"),
    ("org_admin.label_en", "English label", "英文名称"),
    ("org_admin.value", "Stored value", "存储值"),
    ("org_admin.none", "None", "无"),
    ("org_admin.refused", "Not saved", "未保存"),
    // Departments.
    ("org_admin.dept_tree", "Department tree", "部门结构"),
    ("org_admin.dept_empty", "There are no departments yet.", "还没有部门。"),
    ("org_admin.dept_new", "New department", "新建部门"),
    ("org_admin.dept_name", "Department name", "部门名称"),
    ("org_admin.dept_parent", "Parent department", "上级部门"),
    ("org_admin.dept_top", "None (top level)", "无（顶级部门）"),
    ("org_admin.dept_head", "Head", "负责人"),
    ("org_admin.dept_no_head", "No head", "无负责人"),
    ("org_admin.dept_members", "Members", "成员"),
    ("org_admin.dept_children", "Sub-departments", "下级部门"),
    ("org_admin.dept_edit", "Rename or move", "重命名或移动"),
    ("org_admin.dept_all", "All departments", "全部部门"),
    (
        "org_admin.dept_delete_help",
        "Only a department without members or sub-departments can be deleted.",
        "只有没有成员和下级部门的部门才能删除。",
    ),
    (
        "org_admin.dept_not_empty",
        "This department still has members or sub-departments. Move them to another department first, then delete it.",
        "该部门仍有成员或下级部门，请先将其移到其他部门，再删除。",
    ),
    ("done.org_department_added", "Department added.", "部门已添加。"),
    ("done.org_department_saved", "Department saved.", "部门已保存。"),
    ("done.org_department_deleted", "Department deleted.", "部门已删除。"),
    // Custom fields.
    ("org_admin.fields_none", "There are no custom fields yet.", "还没有自定义字段。"),
    ("org_admin.field_new", "New custom field", "新建自定义字段"),
    ("org_admin.field_key", "Key", "字段键"),
    (
        "org_admin.field_key_help",
        "a–z, 0–9 and _, starting with a letter, e.g. contract_no. It cannot change later.",
        "由 a–z、0–9 和 _ 组成，以字母开头，如 contract_no；创建后不可修改。",
    ),
    ("org_admin.field_label", "Label", "名称"),
    ("org_admin.field_kind", "Type", "类型"),
    ("org_admin.field_required", "Required", "必填"),
    ("org_admin.field_unique", "Unique", "唯一"),
    ("org_admin.field_options", "Options", "选项"),
    (
        "org_admin.field_options_help",
        "Option fields only: one option a line, written value | 中文 | English (labels default to the value).",
        "仅用于选项字段：每行一个选项，格式为 值 | 中文 | English（名称默认与值相同）。",
    ),
    ("org_admin.field_in_use", "In use", "使用中"),
    ("org_admin.kind.text", "Text", "文本"),
    ("org_admin.kind.number", "Number", "数字"),
    ("org_admin.kind.date", "Date", "日期"),
    ("org_admin.kind.option", "One option", "单选"),
    ("org_admin.kind.multi_option", "Several options", "多选"),
    ("org_admin.kind.user", "Colleague", "同事"),
    ("done.org_field_added", "Custom field added.", "自定义字段已添加。"),
    ("done.org_field_saved", "Custom field saved.", "自定义字段已保存。"),
    // Option lists.
    (
        "org_admin.options_intro",
        "Customers choose these values. A value cannot change once added, since customers store it; disable an item to stop it being chosen.",
        "客户从这些值中选择。值添加后不可修改（客户记录中保存的是值）；停用某项后即不能再选择。",
    ),
    ("org_admin.option_new", "Add an item", "添加选项"),
    ("org_admin.option_state", "May be chosen", "可选"),
    ("done.org_option_added", "Item added.", "选项已添加。"),
    ("done.org_option_saved", "Item saved.", "选项已保存。"),
    // Customer codes.
    ("org_admin.code_current", "Current pattern", "当前规则"),
    ("org_admin.code_next", "Next code", "下一个编号"),
    ("org_admin.code_pattern", "Pattern", "编号规则"),
    ("org_admin.code_change", "Change the pattern", "修改编号规则"),
    ("org_admin.code_syntax", "How a pattern is written", "规则写法"),
    (
        "org_admin.code_syntax_intro",
        "Letters, digits and punctuation are copied as they are (no spaces). Fields in braces are filled in:",
        "字母、数字和标点原样保留（不能有空格）。花括号中的字段会被替换：",
    ),
    ("org_admin.code_yyyy", "the year, four digits (2026)", "四位年份（2026）"),
    ("org_admin.code_yy", "the year, two digits (26)", "两位年份（26）"),
    ("org_admin.code_mm", "the month, two digits (03)", "两位月份（03）"),
    ("org_admin.code_dd", "the day, two digits (07)", "两位日期（07）"),
    (
        "org_admin.code_seq",
        "the running number, padded to N digits (1–12); exactly one is required. It starts again at 1 whenever the rest of the code changes, e.g. each year with {yyyy}.",
        "流水号，补零到 N 位（1–12），必须且只能有一个；其余部分变化时（如含 {yyyy} 时每年）从 1 重新开始。",
    ),
    (
        "org_admin.code_existing",
        "Existing customers keep their codes; only new customers are numbered with a new pattern.",
        "已有客户的编号不变，新规则只用于之后新建的客户。",
    ),
    ("done.org_code_pattern_saved", "Customer code pattern saved.", "客户编号规则已保存。"),
    // Sign-in restrictions.
    (
        "org_admin.rules_intro",
        "Someone to whom no rule applies signs in from anywhere at any time. Once rules apply to a user (directly or through a role), they may sign in only when one of those rules allows the address and the time (organisation time zone).",
        "没有适用规则的用户可随时随地登录。一旦有规则适用于某用户（直接指定或通过角色），只有当其中一条规则同时允许其地址和时间（组织时区）时才能登录。",
    ),
    ("org_admin.rules_none", "There are no sign-in restrictions.", "没有登录限制。"),
    ("org_admin.rule_new", "New restriction", "新建登录限制"),
    ("org_admin.rule_applies", "Applies to", "适用于"),
    ("org_admin.rule_users", "Users", "用户"),
    ("org_admin.rule_roles", "Roles", "角色"),
    ("org_admin.rule_user", "User", "用户"),
    ("org_admin.rule_role", "Role", "角色"),
    ("org_admin.rule_ranges", "Allowed addresses", "允许的地址"),
    (
        "org_admin.rule_ranges_help",
        "Addresses or ranges such as 10.0.0.0/8, separated by spaces or commas; empty allows every address.",
        "地址或网段，如 10.0.0.0/8，用空格或逗号分隔；留空表示不限地址。",
    ),
    ("org_admin.rule_any_address", "Any address", "任意地址"),
    ("org_admin.rule_days", "Days", "日期"),
    ("org_admin.rule_hours", "Hours", "时段"),
    ("org_admin.rule_all_day", "All day", "全天"),
    ("org_admin.rule_start", "From", "开始时间"),
    ("org_admin.rule_end", "Until", "结束时间"),
    (
        "org_admin.rule_hours_help",
        "Leave both empty for all day; a window may run past midnight (22:00–06:00).",
        "两项都留空表示全天；时段可跨午夜（22:00–06:00）。",
    ),
    ("org_admin.rule_note", "Note", "备注"),
    ("org_admin.rule_created", "Added", "添加时间"),
    ("org_admin.rule_pick", "Choose a user or a role", "请选择用户或角色"),
    ("org_admin.day.1", "Mon", "周一"),
    ("org_admin.day.2", "Tue", "周二"),
    ("org_admin.day.3", "Wed", "周三"),
    ("org_admin.day.4", "Thu", "周四"),
    ("org_admin.day.5", "Fri", "周五"),
    ("org_admin.day.6", "Sat", "周六"),
    ("org_admin.day.7", "Sun", "周日"),
    ("done.org_rule_added", "Sign-in restriction added.", "登录限制已添加。"),
    ("done.org_rule_deleted", "Sign-in restriction deleted.", "登录限制已删除。"),
    // Audit log.
    ("org_admin.audit_filters", "Filter the log", "筛选日志"),
    ("org_admin.audit_when", "Time", "时间"),
    ("org_admin.audit_actor", "Who", "操作人"),
    ("org_admin.audit_anyone", "Anyone", "所有人"),
    ("org_admin.audit_system", "System", "系统"),
    ("org_admin.audit_action", "Action", "操作"),
    ("org_admin.audit_action_help", "Exact name, e.g. department.created", "完整名称，如 department.created"),
    ("org_admin.audit_target", "Target", "对象"),
    ("org_admin.audit_target_type", "Target type", "对象类型"),
    ("org_admin.audit_target_id", "Target id", "对象编号"),
    ("org_admin.audit_from", "From (day)", "开始日期"),
    ("org_admin.audit_to", "Until (day, inclusive)", "结束日期（含）"),
    ("org_admin.audit_address", "Address", "地址"),
    ("org_admin.audit_detail", "Detail", "详情"),
    ("org_admin.audit_apply", "Show", "查询"),
    ("org_admin.audit_reset", "Clear filters", "清除筛选"),
    ("org_admin.audit_none", "No entries match.", "没有符合条件的记录。"),
    ("org_admin.audit_older", "Older entries", "更早的记录"),
    ("org_admin.audit_newest", "Newest entries", "最新记录"),
    ("org_admin.audit_bad_date", "A day is written YYYY-MM-DD.", "日期格式为 YYYY-MM-DD。"),
    ("org_admin.audit_bad_id", "An id is a whole number.", "编号须为整数。"),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/departments", get(departments_index).post(create_department))
        .route("/admin/departments/{id}", get(department_edit).post(update_department))
        .route("/admin/departments/{id}/delete", post(delete_department))
        .route("/admin/custom-fields", get(fields_index).post(create_field))
        .route("/admin/custom-fields/{id}", post(update_field))
        .route("/admin/option-lists", get(options_index))
        .route("/admin/option-lists/items/{id}", post(update_option))
        .route("/admin/option-lists/{list}", post(create_option))
        .route("/admin/customer-codes", get(codes_index).post(set_code_pattern))
        .route("/admin/sign-in-rules", get(rules_index).post(create_rule))
        .route("/admin/sign-in-rules/{id}/delete", post(delete_rule))
        .route("/admin/audit", get(audit_index))
}

/// A form the domain refused: what was sent, why, and which row's form it was (none for the
/// page's form that adds something).
struct Refusal {
    row: Option<Id>,
    form: FormFields,
    message: String,
}

impl Refusal {
    /// The refused form when it was the one of `row`.
    fn form_of(refused: Option<&Refusal>, row: Option<Id>) -> Option<&FormFields> {
        refused.filter(|r| r.row == row).map(|r| &r.form)
    }
}

/// The reason to show again with the form when the domain refused it; any other error is an
/// error page.
fn refused(err: Error) -> Result<String, UiError> {
    match err {
        Error::Invalid { message, .. } | Error::Conflict(message) => Ok(message),
        other => Err(other.into()),
    }
}

/// The answer to a posted form: once done, a redirect to `done` (which names the notice);
/// refused by the domain, the page again from `page`, with the form of `row` filled in and the
/// reason; any other error is an error page.
async fn answer<T, Page>(
    result: Result<T, Error>,
    done: &str,
    row: Option<Id>,
    form: FormFields,
    page: impl FnOnce(Refusal) -> Page,
) -> Result<Response, UiError>
where
    Page: Future<Output = Result<Response, UiError>>,
{
    match result {
        Ok(_) => Ok(see_other(done)),
        Err(e) => page(Refusal { row, form, message: refused(e)? }).await,
    }
}

/// An optional id from a form field: blank is none.
fn form_id(form: &FormFields, name: &'static str) -> Result<Option<Id>, Error> {
    form.opt(name).map(|v| v.parse().map_err(|_| Error::invalid(name, format!("{v:?} is not an id")))).transpose()
}

/// A whole number from a form field, `default` when blank.
fn form_number(form: &FormFields, name: &'static str, default: i64) -> Result<i64, Error> {
    match form.opt(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| Error::invalid(name, format!("{v:?} is not a whole number"))),
    }
}

/// A ticked checkbox.
fn ticked(form: &FormFields, name: &str) -> bool {
    !form.get(name).is_empty()
}

fn fields_of(pairs: &[(&str, String)]) -> FormFields {
    FormFields(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}

fn flag(on: bool) -> String {
    if on { "1".into() } else { String::new() }
}

// ---------------------------------------------------------------------------------------------
// Departments

/// A department in the tree, in drawing order. Its form is on its own page, so the tree stays
/// light for an organisation of hundreds of departments.
pub struct DeptNode {
    pub id: Id,
    pub name: String,
    pub head: String,
    pub members: i64,
    pub children: usize,
    pub depth: usize,
    /// The next node is this one's first sub-department: its list opens inside this item.
    pub opens: bool,
    /// How many nested lists end after this item.
    pub closes: usize,
}

impl DeptNode {
    /// The levels that end after this item, for the template's loop.
    pub fn closing(&self) -> std::ops::Range<usize> {
        0..self.closes
    }
}

#[derive(Template)]
#[template(path = "admin_departments.html")]
struct DepartmentsPage {
    chrome: Chrome,
    tree: Vec<DeptNode>,
    parents: Vec<Choice>,
    heads: Vec<Choice>,
    form: FormFields,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_department.html")]
struct DepartmentPage {
    chrome: Chrome,
    id: Id,
    name: String,
    members: i64,
    children: usize,
    edit: FormFields,
    parents: Vec<Choice>,
    heads: Vec<Choice>,
    error: Option<String>,
}

fn parent_choices(order: &[(&departments::Department, usize)], exclude: &HashSet<Id>, chosen: &str) -> Vec<Choice> {
    order
        .iter()
        .filter(|(d, _)| !exclude.contains(&d.id))
        .map(|(d, depth)| Choice {
            value: d.id.to_string(),
            label: format!("{}{}", "— ".repeat(*depth), d.name),
            selected: chosen == d.id.to_string(),
        })
        .collect()
}

fn head_choices(people: &[users::Colleague], chosen: &str) -> Vec<Choice> {
    people
        .iter()
        .filter(|p| p.active || chosen == p.id.to_string())
        .map(|p| Choice {
            value: p.id.to_string(),
            label: p.display_name.clone(),
            selected: chosen == p.id.to_string(),
        })
        .collect()
}

async fn departments_page(state: &AppState, viewer: Viewer, refusal: Option<Refusal>) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let org_id = viewer.org_id();
    let list = departments::list(&state.store, org_id).await?;
    let people = users::colleagues(&state.store, org_id).await?;
    let names: HashMap<Id, &str> = people.iter().map(|p| (p.id, p.display_name.as_str())).collect();
    let mut children: HashMap<Id, usize> = HashMap::new();
    for d in &list {
        if let Some(p) = d.parent_id {
            *children.entry(p).or_default() += 1;
        }
    }
    let order = departments::tree_order(&list);
    let mut tree: Vec<DeptNode> = Vec::with_capacity(order.len());
    for (i, (d, depth)) in order.iter().enumerate() {
        let next_depth = order.get(i + 1).map_or(0, |(_, k)| *k);
        let opens = next_depth > *depth;
        tree.push(DeptNode {
            id: d.id,
            name: d.name.clone(),
            head: d.head_user_id.and_then(|h| names.get(&h).map(|n| (*n).to_owned())).unwrap_or_default(),
            members: d.member_count,
            children: children.get(&d.id).copied().unwrap_or(0),
            depth: *depth,
            opens,
            closes: if opens { 0 } else { depth - next_depth },
        });
    }
    let form = Refusal::form_of(refusal.as_ref(), None).cloned().unwrap_or_default();
    let title = viewer.lang().t("admin.departments");
    let chrome = viewer.chrome(title, "/admin/users");
    let page = DepartmentsPage {
        tree,
        parents: parent_choices(&order, &HashSet::new(), form.get("parent_id")),
        heads: head_choices(&people, form.get("head_user_id")),
        form,
        error: refusal.map(|r| r.message),
        chrome,
    };
    Ok(render_with(status_of(&page.error), &page))
}

async fn departments_index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    departments_page(&state, viewer, None).await
}

/// One department's page: its rename/move form (filled in as refused, when it was) and delete.
async fn department_page(
    state: &AppState,
    viewer: Viewer,
    id: Id,
    refusal: Option<Refusal>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let org_id = viewer.org_id();
    let list = departments::list(&state.store, org_id).await?;
    let order = departments::tree_order(&list);
    let at = order.iter().position(|(d, _)| d.id == id).ok_or(Error::NotFound("department"))?;
    let (d, depth) = order[at];
    // Its sub-departments follow it, deeper; it cannot move under itself or them.
    let mut subtree: HashSet<Id> = HashSet::from([d.id]);
    subtree.extend(order[at + 1..].iter().take_while(|(_, k)| *k > depth).map(|(k, _)| k.id));
    let edit = Refusal::form_of(refusal.as_ref(), Some(id)).cloned().unwrap_or_else(|| department_form(d));
    let people = users::colleagues(&state.store, org_id).await?;
    let chrome = viewer.chrome(&d.name, "/admin/users");
    let page = DepartmentPage {
        id,
        name: d.name.clone(),
        members: d.member_count,
        children: list.iter().filter(|c| c.parent_id == Some(id)).count(),
        parents: parent_choices(&order, &subtree, edit.get("parent_id")),
        heads: head_choices(&people, edit.get("head_user_id")),
        edit,
        error: refusal.map(|r| r.message),
        chrome,
    };
    Ok(render_with(status_of(&page.error), &page))
}

async fn department_edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, UiError> {
    let id = path_id(&raw)?;
    department_page(&state, viewer, id, None).await
}

/// The rename/move form of a department as it is.
fn department_form(d: &departments::Department) -> FormFields {
    fields_of(&[
        ("name", d.name.clone()),
        ("parent_id", d.parent_id.map(|p| p.to_string()).unwrap_or_default()),
        ("head_user_id", d.head_user_id.map(|h| h.to_string()).unwrap_or_default()),
    ])
}

/// The department a form describes.
fn department_of(form: &FormFields) -> Result<NewDepartment, Error> {
    Ok(NewDepartment {
        name: form.get("name").to_owned(),
        parent_id: form_id(form, "parent_id")?,
        head_user_id: form_id(form, "head_user_id")?,
    })
}

async fn create_department(
    State(state): State<AppState>,
    ip: ClientIp,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let made = async {
        let new = department_of(&form)?;
        departments::create(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, &new).await
    }
    .await;
    answer(made, "/admin/departments?notice=done.org_department_added", None, form, |r| {
        departments_page(&state, viewer, Some(r))
    })
    .await
}

async fn update_department(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(raw): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&raw)?;
    let saved = async {
        let d = department_of(&form)?;
        let patch =
            DepartmentPatch { name: Some(d.name), parent_id: Some(d.parent_id), head_user_id: Some(d.head_user_id) };
        departments::update(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, id, &patch).await
    }
    .await;
    answer(saved, "/admin/departments?notice=done.org_department_saved", Some(id), form, |r| {
        department_page(&state, viewer, id, Some(r))
    })
    .await
}

async fn delete_department(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(raw): Path<String>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&raw)?;
    match departments::delete(&state.store, viewer.org_id(), viewer.user_id(), ip.0, id).await {
        Ok(()) => Ok(see_other("/admin/departments?notice=done.org_department_deleted")),
        Err(Error::Conflict(_)) => {
            // The domain says why in English; the page names the department and says it in the
            // reader's language, above the tree.
            let department = departments::get(&state.store, viewer.org_id(), id).await?;
            let message = format!("{}: {}", department.name, viewer.lang().t("org_admin.dept_not_empty"));
            // The tree page has no form of the department's to fill in; `row` keeps the add form blank.
            let refusal = Refusal { row: Some(id), form: FormFields::default(), message };
            departments_page(&state, viewer, Some(refusal)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Custom fields

/// The kinds of custom field: value in forms and the string naming it.
const KINDS: &[(FieldKind, &str, &str)] = &[
    (FieldKind::Text, "text", "org_admin.kind.text"),
    (FieldKind::Number, "number", "org_admin.kind.number"),
    (FieldKind::Date, "date", "org_admin.kind.date"),
    (FieldKind::Option, "option", "org_admin.kind.option"),
    (FieldKind::MultiOption, "multi_option", "org_admin.kind.multi_option"),
    (FieldKind::User, "user", "org_admin.kind.user"),
];

fn kind_key(kind: FieldKind) -> &'static str {
    KINDS.iter().find(|(k, _, _)| *k == kind).map_or("org_admin.kind.text", |(_, _, key)| key)
}

/// Options written one a line: `value | 中文 | English`, the labels defaulting to the value.
fn parse_options(text: &str) -> Result<Vec<FieldOption>, Error> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            if parts.len() > 3 {
                return Err(Error::invalid("options", format!("{line:?}: write value | 中文 | English")));
            }
            let value = parts[0];
            let zh = parts.get(1).copied().filter(|s| !s.is_empty()).unwrap_or(value);
            let en = parts.get(2).copied().filter(|s| !s.is_empty()).unwrap_or(zh);
            Ok(FieldOption { value: value.to_owned(), label_zh: zh.to_owned(), label_en: en.to_owned() })
        })
        .collect()
}

fn options_text(options: &[FieldOption]) -> String {
    options.iter().map(|o| format!("{} | {} | {}", o.value, o.label_zh, o.label_en)).collect::<Vec<_>>().join("\n")
}

pub struct FieldRow {
    pub id: Id,
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub kind: &'static str,
    pub takes_options: bool,
    pub required: bool,
    pub unique: bool,
    pub options: String,
    pub position: i64,
    pub active: bool,
    pub edit: FormFields,
    pub open: bool,
}

#[derive(Template)]
#[template(path = "admin_custom_fields.html")]
struct FieldsPage {
    chrome: Chrome,
    fields: Vec<FieldRow>,
    kinds: Vec<Choice>,
    form: FormFields,
    error: Option<String>,
}

async fn fields_page(state: &AppState, viewer: Viewer, refusal: Option<Refusal>) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let list = fields::list(&state.store, viewer.org_id()).await?;
    let rows = list
        .iter()
        .map(|f| {
            let edit = Refusal::form_of(refusal.as_ref(), Some(f.id)).cloned().unwrap_or_else(|| {
                fields_of(&[
                    ("label_zh", f.label_zh.clone()),
                    ("label_en", f.label_en.clone()),
                    ("required", flag(f.required)),
                    ("unique", flag(f.unique)),
                    ("active", flag(f.active)),
                    ("position", f.position.to_string()),
                    ("options", options_text(&f.options)),
                ])
            });
            FieldRow {
                id: f.id,
                key: f.key.clone(),
                label_zh: f.label_zh.clone(),
                label_en: f.label_en.clone(),
                kind: lang.t(kind_key(f.kind)),
                takes_options: matches!(f.kind, FieldKind::Option | FieldKind::MultiOption),
                required: f.required,
                unique: f.unique,
                options: f.options.iter().map(|o| lang.pick(&o.label_en, &o.label_zh)).collect::<Vec<_>>().join(", "),
                position: f.position,
                active: f.active,
                open: Refusal::form_of(refusal.as_ref(), Some(f.id)).is_some(),
                edit,
            }
        })
        .collect();
    let form = Refusal::form_of(refusal.as_ref(), None).cloned().unwrap_or_default();
    let kinds = KINDS
        .iter()
        .map(|(_, value, key)| Choice {
            value: (*value).to_owned(),
            label: lang.t(key).to_owned(),
            selected: form.get("kind") == *value,
        })
        .collect();
    let chrome = viewer.chrome(lang.t("admin.custom_fields"), "/admin/users");
    let page = FieldsPage { fields: rows, kinds, form, error: refusal.map(|r| r.message), chrome };
    Ok(render_with(status_of(&page.error), &page))
}

async fn fields_index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    fields_page(&state, viewer, None).await
}

/// The new field a form describes.
fn field_of(form: &FormFields) -> Result<NewField, Error> {
    let kind = KINDS
        .iter()
        .find(|(_, value, _)| *value == form.get("kind"))
        .map(|(k, _, _)| *k)
        .ok_or_else(|| Error::invalid("kind", "choose the type of the field"))?;
    Ok(NewField {
        key: form.get("key").to_owned(),
        label_zh: form.get("label_zh").to_owned(),
        label_en: form.get("label_en").to_owned(),
        kind,
        required: ticked(form, "required"),
        unique: ticked(form, "unique"),
        options: parse_options(form.get("options"))?,
        position: form_number(form, "position", 0)?,
    })
}

/// The change to a field a row's form describes.
fn field_patch_of(form: &FormFields) -> Result<FieldPatch, Error> {
    Ok(FieldPatch {
        label_zh: Some(form.get("label_zh").to_owned()),
        label_en: Some(form.get("label_en").to_owned()),
        required: Some(ticked(form, "required")),
        unique: Some(ticked(form, "unique")),
        options: Some(parse_options(form.get("options"))?),
        position: Some(form_number(form, "position", 0)?),
        active: Some(ticked(form, "active")),
    })
}

async fn create_field(
    State(state): State<AppState>,
    ip: ClientIp,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let made = async {
        let new = field_of(&form)?;
        fields::create(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, &new).await
    }
    .await;
    answer(made, "/admin/custom-fields?notice=done.org_field_added", None, form, |r| {
        fields_page(&state, viewer, Some(r))
    })
    .await
}

async fn update_field(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(raw): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&raw)?;
    let saved = async {
        let patch = field_patch_of(&form)?;
        fields::update(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, id, &patch).await
    }
    .await;
    answer(saved, "/admin/custom-fields?notice=done.org_field_saved", Some(id), form, |r| {
        fields_page(&state, viewer, Some(r))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Option lists

/// The string naming each option list.
fn list_key(list: &str) -> &'static str {
    match list {
        "category" => "field.category",
        "level" => "field.level",
        "status" => "field.status",
        "industry" => "field.industry",
        "region" => "field.region",
        _ => "field.source",
    }
}

pub struct OptionRow {
    pub id: Id,
    pub value: String,
    pub active: bool,
    pub edit: FormFields,
}

pub struct OptionList {
    pub name: &'static str,
    pub label: &'static str,
    pub items: Vec<OptionRow>,
    /// The add form, filled in.
    pub add: FormFields,
    /// Why a form of this list was refused.
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_option_lists.html")]
struct OptionsPage {
    chrome: Chrome,
    lists: Vec<OptionList>,
    error: Option<String>,
}

/// Which list a refused form belongs to: the add form of a list names it, an item's form its id.
struct OptionRefusal {
    list: String,
    refusal: Refusal,
}

async fn options_page(state: &AppState, viewer: Viewer, refusal: Option<OptionRefusal>) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let items = options::list(&state.store, viewer.org_id(), None).await?;
    let lists = options::LISTS
        .iter()
        .map(|name| {
            let mine = refusal.as_ref().filter(|r| r.list == *name).map(|r| &r.refusal);
            let rows = items
                .iter()
                .filter(|o| o.list == *name)
                .map(|o| OptionRow {
                    id: o.id,
                    value: o.value.clone(),
                    active: o.active,
                    edit: Refusal::form_of(mine, Some(o.id)).cloned().unwrap_or_else(|| {
                        fields_of(&[
                            ("label_zh", o.label_zh.clone()),
                            ("label_en", o.label_en.clone()),
                            ("position", o.position.to_string()),
                            ("active", flag(o.active)),
                        ])
                    }),
                })
                .collect();
            OptionList {
                name,
                label: lang.t(list_key(name)),
                items: rows,
                add: Refusal::form_of(mine, None).cloned().unwrap_or_default(),
                error: mine.map(|r| r.message.clone()),
            }
        })
        .collect();
    let chrome = viewer.chrome(lang.t("admin.option_lists"), "/admin/users");
    let page = OptionsPage { lists, error: refusal.map(|r| r.refusal.message), chrome };
    Ok(render_with(status_of(&page.error), &page))
}

async fn options_index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    options_page(&state, viewer, None).await
}

/// The item a form describes: its labels and order (`position` when none is given); the value
/// and whether it may be chosen are the caller's.
fn option_of(form: &FormFields, value: String, position: i64, active: bool) -> Result<OptionInput, Error> {
    Ok(OptionInput {
        value,
        label_zh: form.get("label_zh").to_owned(),
        label_en: form.get("label_en").to_owned(),
        position: form_number(form, "position", position)?,
        active,
    })
}

async fn create_option(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(list): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let Some(list) = options::LISTS.iter().find(|l| **l == list) else {
        return Err(UiError::status(StatusCode::NOT_FOUND, "error.not_found"));
    };
    let (org_id, user_id) = (viewer.org_id(), viewer.user_id());
    let made = async {
        // A new item goes to the end of its list unless an order is given.
        let last = options::list(&state.store, org_id, Some(list)).await?.iter().map(|o| o.position).max();
        let input = option_of(&form, form.get("value").to_owned(), last.map_or(0, |p| p + 1), true)?;
        options::create(&state.store, org_id, Some(user_id), ip.0, list, &input).await
    }
    .await;
    answer(made, &format!("/admin/option-lists?notice=done.org_option_added#list-{list}"), None, form, |refusal| {
        options_page(&state, viewer, Some(OptionRefusal { list: (*list).to_owned(), refusal }))
    })
    .await
}

async fn update_option(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(raw): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&raw)?;
    let (org_id, user_id) = (viewer.org_id(), viewer.user_id());
    let current = options::list(&state.store, org_id, None)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(Error::NotFound("option"))?;
    let saved = async {
        let input = option_of(&form, current.value.clone(), current.position, ticked(&form, "active"))?;
        options::update(&state.store, org_id, Some(user_id), ip.0, id, &input).await
    }
    .await;
    let done = format!("/admin/option-lists?notice=done.org_option_saved#list-{}", current.list);
    answer(saved, &done, Some(id), form, |refusal| {
        options_page(&state, viewer, Some(OptionRefusal { list: current.list, refusal }))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Customer codes

#[derive(Template)]
#[template(path = "admin_codes.html")]
struct CodesPage {
    chrome: Chrome,
    current: String,
    next: String,
    pattern: String,
    error: Option<String>,
}

/// The organisation's pattern as stored, and the code the next new customer would get.
async fn current_pattern(state: &AppState, org_id: Id) -> Result<(String, Option<String>), Error> {
    let (pattern, time_zone): (String, String) =
        sqlx::query_as("SELECT customer_code_pattern, time_zone FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_one(state.store.pool())
            .await?;
    let Ok(parsed) = CodePattern::parse(&pattern) else { return Ok((pattern, None)) };
    let tz = jiff::tz::TimeZone::get(&time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::now().to_zoned(tz);
    // Only looks at the counter: the number is taken when a customer is created.
    let last: Option<i64> = sqlx::query_scalar("SELECT last_value FROM code_counters WHERE org_id = $1 AND scope = $2")
        .bind(org_id)
        .bind(parsed.scope(&today))
        .fetch_optional(state.store.pool())
        .await?;
    Ok((pattern, Some(parsed.code(&today, last.unwrap_or(0) + 1))))
}

async fn codes_page(state: &AppState, viewer: Viewer, refusal: Option<Refusal>) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let (current, next) = current_pattern(state, viewer.org_id()).await?;
    let lang = viewer.lang();
    let pattern = refusal.as_ref().map_or_else(|| current.clone(), |r| r.form.get("pattern").to_owned());
    let chrome = viewer.chrome(lang.t("admin.code_pattern"), "/admin/users");
    let page = CodesPage {
        current,
        next: next.unwrap_or_else(|| lang.t("field.none").to_owned()),
        pattern,
        error: refusal.map(|r| r.message),
        chrome,
    };
    Ok(render_with(status_of(&page.error), &page))
}

async fn codes_index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    codes_page(&state, viewer, None).await
}

async fn set_code_pattern(
    State(state): State<AppState>,
    ip: ClientIp,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let saved =
        codes::set_pattern(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, form.get("pattern")).await;
    answer(saved, "/admin/customer-codes?notice=done.org_code_pattern_saved", None, form, |r| {
        codes_page(&state, viewer, Some(r))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Sign-in restrictions

pub struct RuleRow {
    pub id: Id,
    pub kind: &'static str,
    pub subject: String,
    pub ranges: Vec<String>,
    pub days: String,
    pub hours: String,
    pub note: String,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "admin_sign_in_rules.html")]
struct RulesPage {
    chrome: Chrome,
    rules: Vec<RuleRow>,
    users: Vec<Choice>,
    roles: Vec<Choice>,
    weekdays: Vec<Choice>,
    form: FormFields,
    error: Option<String>,
}

const DAY_KEYS: [&str; 7] = [
    "org_admin.day.1",
    "org_admin.day.2",
    "org_admin.day.3",
    "org_admin.day.4",
    "org_admin.day.5",
    "org_admin.day.6",
    "org_admin.day.7",
];

fn day_name(lang: Lang, day: u8) -> &'static str {
    DAY_KEYS.get(usize::from(day).wrapping_sub(1)).map_or("?", |k| lang.t(k))
}

async fn rules_page(state: &AppState, viewer: Viewer, refusal: Option<Refusal>) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let list = restrictions::list(&state.store, org_id).await?;
    let people = users::colleagues(&state.store, org_id).await?;
    let all_roles = roles::list(&state.store, org_id).await?;
    let person: HashMap<Id, &str> = people.iter().map(|p| (p.id, p.display_name.as_str())).collect();
    let role_name: HashMap<Id, &str> = all_roles.iter().map(|r| (r.id, r.name.as_str())).collect();
    let rules = list
        .iter()
        .map(|r| {
            let (kind, subject) = match (r.user_id, r.role_id) {
                (Some(u), _) => {
                    ("org_admin.rule_user", person.get(&u).map_or_else(|| format!("#{u}"), |n| (*n).to_owned()))
                }
                (None, Some(g)) => {
                    ("org_admin.rule_role", role_name.get(&g).map_or_else(|| format!("#{g}"), |n| (*n).to_owned()))
                }
                (None, None) => ("org_admin.rule_user", lang.t("field.none").to_owned()),
            };
            let days = if r.weekdays.len() == 7 {
                format!("{}–{}", day_name(lang, 1), day_name(lang, 7))
            } else {
                r.weekdays.iter().map(|d| day_name(lang, *d)).collect::<Vec<_>>().join(", ")
            };
            let hours = match (&r.start, &r.end) {
                (Some(s), Some(e)) => format!("{s}–{e}"),
                _ => lang.t("org_admin.rule_all_day").to_owned(),
            };
            RuleRow {
                id: r.id,
                kind: lang.t(kind),
                subject,
                ranges: r.ip_allow.clone(),
                days,
                hours,
                note: r.note.clone(),
                created_at: r.created_at.clone(),
            }
        })
        .collect();
    let form = refusal.as_ref().map(|r| r.form.clone()).unwrap_or_default();
    let subject = form.get("subject").to_owned();
    let chosen_days: Vec<&str> = form.all("weekdays").collect();
    let weekdays = (1..=7u8)
        .map(|d| Choice {
            value: d.to_string(),
            label: day_name(lang, d).to_owned(),
            selected: refusal.is_none() || chosen_days.contains(&d.to_string().as_str()),
        })
        .collect();
    let users = people
        .iter()
        .filter(|p| p.active)
        .map(|p| Choice {
            value: format!("user:{}", p.id),
            label: p.display_name.clone(),
            selected: subject == format!("user:{}", p.id),
        })
        .collect();
    let roles = all_roles
        .iter()
        .map(|r| Choice {
            value: format!("role:{}", r.id),
            label: r.name.clone(),
            selected: subject == format!("role:{}", r.id),
        })
        .collect();
    let chrome = viewer.chrome(lang.t("admin.sign_in_rules"), "/admin/users");
    let page = RulesPage { rules, users, roles, weekdays, form, error: refusal.map(|r| r.message), chrome };
    Ok(render_with(status_of(&page.error), &page))
}

async fn rules_index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    rules_page(&state, viewer, None).await
}

/// The rule a form describes.
fn rule_of(form: &FormFields) -> Result<NewSignInRule, Error> {
    let subject = form.get("subject");
    let id = |raw: &str| raw.parse::<Id>().map_err(|_| Error::invalid("user_id", "choose a user or a role"));
    let (user_id, role_id) = match subject.split_once(':') {
        Some(("user", raw)) => (Some(id(raw)?), None),
        Some(("role", raw)) => (None, Some(id(raw)?)),
        _ => return Err(Error::invalid("user_id", "choose a user or a role")),
    };
    let weekdays = form
        .all("weekdays")
        .map(|d| d.parse::<u8>().map_err(|_| Error::invalid("weekdays", "weekdays are 1 (Monday) to 7 (Sunday)")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NewSignInRule {
        user_id,
        role_id,
        ip_allow: form
            .get("ip_allow")
            .split([' ', ',', '\n', '\r', '\t'])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        weekdays: Some(weekdays),
        start: form.opt("start"),
        end: form.opt("end"),
        note: form.get("note").to_owned(),
    })
}

async fn create_rule(
    State(state): State<AppState>,
    ip: ClientIp,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let made = async {
        let rule = rule_of(&form)?;
        restrictions::create(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, &rule).await
    }
    .await;
    answer(made, "/admin/sign-in-rules?notice=done.org_rule_added", None, form, |r| rules_page(&state, viewer, Some(r)))
        .await
}

async fn delete_rule(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(raw): Path<String>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&raw)?;
    restrictions::delete(&state.store, viewer.org_id(), Some(viewer.user_id()), ip.0, id).await?;
    Ok(see_other("/admin/sign-in-rules?notice=done.org_rule_deleted"))
}

// ---------------------------------------------------------------------------------------------
// Audit log

/// Entries a page of the audit log shows.
const AUDIT_PAGE: i64 = 50;

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<AuditRow>,
    actors: Vec<Choice>,
    filters: FormFields,
    older: Option<String>,
    paged: bool,
    error: Option<String>,
}

/// The start of a day (`YYYY-MM-DD`) in the organisation's time zone, `days` later.
fn day_start(day: &str, days: i64, tz: &jiff::tz::TimeZone) -> Option<String> {
    let date: jiff::civil::Date = day.parse().ok()?;
    let date = date.checked_add(jiff::Span::new().days(days)).ok()?;
    date.to_zoned(tz.clone()).ok().map(|z| z.timestamp().to_string())
}

/// What the filter form asks for, or the key of the message saying what is wrong with it.
fn audit_query(filters: &FormFields, tz: &jiff::tz::TimeZone) -> Result<AuditQuery, &'static str> {
    let id = |name: &str| filters.opt(name).map(|v| v.parse::<Id>()).transpose().map_err(|_| "org_admin.audit_bad_id");
    let day = |name: &str, days: i64| match filters.opt(name) {
        None => Ok(None),
        Some(d) => day_start(&d, days, tz).map(Some).ok_or("org_admin.audit_bad_date"),
    };
    Ok(AuditQuery {
        action: filters.opt("action"),
        actor_user_id: id("actor")?,
        target_type: filters.opt("target_type"),
        target_id: id("target_id")?,
        since: day("from", 0)?,
        until: day("to", 1)?,
        before_id: id("before")?,
        limit: Some(AUDIT_PAGE + 1),
    })
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

async fn audit_index(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let filters = FormFields::from_query(raw.as_deref());
    let people = users::colleagues(&state.store, org_id).await?;
    let names: HashMap<Id, &str> = people.iter().map(|p| (p.id, p.display_name.as_str())).collect();
    let (mut entries, mut error) = (Vec::new(), None);
    match audit_query(&filters, &viewer.chrome.tz) {
        Ok(q) => match audit::list(&state.store, org_id, &q).await {
            Ok(found) => entries = found,
            Err(e) => error = Some(refused(e)?),
        },
        Err(key) => error = Some(lang.t(key).to_owned()),
    }
    let more = entries.len() as i64 > AUDIT_PAGE;
    entries.truncate(AUDIT_PAGE as usize);
    let older = match entries.last() {
        Some(last) if more => {
            let mut kept: Vec<(&str, String)> = ["actor", "action", "target_type", "target_id", "from", "to"]
                .iter()
                .filter_map(|k| filters.opt(k).map(|v| (*k, v)))
                .collect();
            kept.push(("before", last.id.to_string()));
            Some(format!("/admin/audit?{}", serde_urlencoded::to_string(&kept).unwrap_or_default()))
        }
        _ => None,
    };
    let rows = entries
        .iter()
        .map(|e| AuditRow {
            at: e.at.clone(),
            actor: match e.actor_user_id {
                Some(id) => names.get(&id).map_or_else(|| format!("#{id}"), |n| (*n).to_owned()),
                None => lang.t("org_admin.audit_system").to_owned(),
            },
            action: e.action.clone(),
            target: match (&e.target_type, e.target_id) {
                (Some(t), Some(id)) => format!("{t} #{id}"),
                (Some(t), None) => t.clone(),
                _ => String::new(),
            },
            ip: e.ip.clone().unwrap_or_default(),
            detail: match &e.detail {
                serde_json::Value::Object(m) if m.is_empty() => String::new(),
                other => short(&other.to_string(), 300),
            },
        })
        .collect();
    let chosen = filters.get("actor").to_owned();
    let actors = people
        .iter()
        .map(|p| Choice {
            value: p.id.to_string(),
            label: p.display_name.clone(),
            selected: chosen == p.id.to_string(),
        })
        .collect();
    let paged = filters.opt("before").is_some();
    let chrome = viewer.chrome(lang.t("admin.audit"), "/admin/users");
    let page = AuditPage { rows, actors, filters, older, paged, error, chrome };
    Ok(render_with(status_of(&page.error), &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_written_one_a_line() {
        let parsed = parse_options("gold | 金牌 | Gold\n\n silver\nbronze|铜牌").expect("options");
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            (parsed[0].value.as_str(), parsed[0].label_zh.as_str(), parsed[0].label_en.as_str()),
            ("gold", "金牌", "Gold")
        );
        assert_eq!((parsed[1].label_zh.as_str(), parsed[1].label_en.as_str()), ("silver", "silver"));
        assert_eq!((parsed[2].label_zh.as_str(), parsed[2].label_en.as_str()), ("铜牌", "铜牌"));
        assert!(parse_options("a|b|c|d").is_err());
        assert_eq!(parse_options(&options_text(&parsed)).expect("round trip"), parsed);
    }

    #[test]
    fn audit_days_are_read_in_the_organisation_time_zone() {
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        let filters = FormFields::from_query(Some("from=2026-11-01&to=2026-11-30&actor=7"));
        let q = audit_query(&filters, &shanghai).expect("query");
        assert_eq!(q.since.as_deref(), Some("2026-10-31T16:00:00Z"));
        assert_eq!(q.until.as_deref(), Some("2026-11-30T16:00:00Z"));
        assert_eq!(q.actor_user_id, Some(7));
        assert!(audit_query(&FormFields::from_query(Some("from=yesterday")), &shanghai).is_err());
        assert!(audit_query(&FormFields::from_query(Some("actor=bob")), &shanghai).is_err());
    }
}
