//! Approval definitions: what an organisation's administrators declare about a kind of
//! approval. A definition names its subject type and lists its steps; each step says who
//! approves (users, a role, the submitter's manager, a department head), whether one or all of
//! them must approve, when it runs (a condition on the subject's fields), and its deadline.
//! Every change of the steps makes a new version; instances keep the version they started with.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::machine::{Escalation, Mode, StepState};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::org::ensure_exists;
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;

/// Who approves a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApproverSpec {
    /// A named user.
    User { user_id: Id },
    /// Every active user holding the role (any one of them, or all, as the step's mode says).
    Role { role_id: Id },
    /// The submitter's manager.
    Manager,
    /// The head of a named department, or of the submitter's department when none is named.
    DepartmentHead {
        #[serde(default)]
        department_id: Option<Id>,
    },
}

/// How a condition compares a field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Op {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "in")]
    In,
}

/// When a step runs: `field op value` on the subject's fields, e.g. `credit_limit > 50000`.
/// A dotted field reaches into objects (`custom.amount`). A missing or null field makes the
/// condition false, so the step is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    /// A number for `>`, `>=`, `<`, `<=`; a list for `in`; a number, text or boolean otherwise.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// One step of a definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    /// Who approves; everyone they resolve to at submission is an approver of the step.
    pub approvers: Vec<ApproverSpec>,
    /// `any` (default): the first approval decides; `all`: every approver must approve.
    #[serde(default = "any_mode")]
    pub mode: Mode,
    /// The step runs only when this holds for the subject; always when absent.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Hours after the step starts when it is overdue: its approvers are reminded then (unless
    /// `remind_after_hours` says earlier) and it escalates then (if `escalate_to` is set).
    #[serde(default)]
    pub deadline_hours: Option<i64>,
    /// Hours after the step starts when its approvers are reminded.
    #[serde(default)]
    pub remind_after_hours: Option<i64>,
    /// Who is added to the step at its deadline.
    #[serde(default)]
    pub escalate_to: Option<Escalation>,
}

fn any_mode() -> Mode {
    Mode::Any
}

/// A definition as stored, at its current version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Definition {
    pub id: Id,
    pub name: String,
    /// What its instances are about, e.g. `customer`.
    pub subject_type: String,
    /// Starts at 1; every change of the steps adds one.
    pub version: i64,
    /// Archived definitions start no new instances; running ones go on.
    pub active: bool,
    pub steps: Vec<StepSpec>,
    pub created_at: String,
    pub updated_at: String,
}

/// A new definition.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDefinition {
    pub name: String,
    pub subject_type: String,
    pub steps: Vec<StepSpec>,
}

/// Changes to a definition; absent fields stay. New steps make a new version.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionPatch {
    pub name: Option<String>,
    pub steps: Option<Vec<StepSpec>>,
    pub active: Option<bool>,
}

const COLUMNS: &str = "id, name, subject_type, version, active, steps, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Definition> {
    let steps: String = r.try_get(5)?;
    Ok(Definition {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        subject_type: r.try_get(2)?,
        version: r.try_get(3)?,
        active: r.try_get::<i64, _>(4)? != 0,
        steps: serde_json::from_str(&steps)
            .map_err(|e| Error::Internal(format!("the steps of a stored definition do not decode: {e}")))?,
        created_at: rfc3339(r.try_get(6)?),
        updated_at: rfc3339(r.try_get(7)?),
    })
}

/// The organisation's definitions, archived ones last.
pub async fn list(store: &Store, org_id: Id) -> Result<Vec<Definition>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM approval_definitions WHERE org_id = $1 ORDER BY active DESC, id"
    )))
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// One definition at its current version.
pub async fn get<'e, E>(exec: E, org_id: Id, id: Id) -> Result<Definition>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM approval_definitions WHERE org_id = $1 AND id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(exec)
    .await?
    .ok_or(Error::NotFound("approval definition"))?;
    from_row(&row)
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "a definition's name is 1–100 characters"));
    }
    Ok(name.to_owned())
}

/// Checks a subject type: lower-case letters, digits and `_ . : -`, starting with a letter.
pub fn validate_subject_type(subject_type: &str) -> Result<()> {
    let ok = subject_type.len() <= 64
        && subject_type.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && subject_type.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "subject_type",
            "a subject type is up to 64 lower-case letters, digits, `_`, `.`, `:` or `-`, starting with a letter (e.g. customer)",
        ))
    }
}

/// Checks steps for shape, and that every user, role and department they name exists.
async fn validate_steps(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id, steps: &[StepSpec]) -> Result<()> {
    if steps.is_empty() || steps.len() > 20 {
        return Err(Error::invalid("steps", "a definition has 1 to 20 steps"));
    }
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        let name = step.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("steps", format!("step {n}: a step's name is 1–100 characters")));
        }
        if step.approvers.is_empty() || step.approvers.len() > 20 {
            return Err(Error::invalid("steps", format!("step {n} ({name}): a step has 1 to 20 approvers")));
        }
        for a in &step.approvers {
            match a {
                ApproverSpec::User { user_id } => ensure_exists(&mut **tx, "users", "user", org_id, *user_id).await,
                ApproverSpec::Role { role_id } => ensure_exists(&mut **tx, "roles", "role", org_id, *role_id).await,
                ApproverSpec::DepartmentHead { department_id: Some(d) } => {
                    ensure_exists(&mut **tx, "departments", "department", org_id, *d).await
                }
                ApproverSpec::Manager | ApproverSpec::DepartmentHead { department_id: None } => Ok(()),
            }
            .map_err(|e| Error::invalid("steps", format!("step {n} ({name}): {e}")))?;
        }
        if let Some(c) = &step.condition {
            validate_condition(c).map_err(|m| Error::invalid("steps", format!("step {n} ({name}): {m}")))?;
        }
        let hours = |h: Option<i64>, what: &str| -> Result<()> {
            match h {
                Some(h) if !(1..=8760).contains(&h) => {
                    Err(Error::invalid("steps", format!("step {n} ({name}): {what} is 1 to 8,760 hours")))
                }
                _ => Ok(()),
            }
        };
        hours(step.deadline_hours, "the deadline")?;
        hours(step.remind_after_hours, "the reminder")?;
        if let (Some(r), Some(d)) = (step.remind_after_hours, step.deadline_hours)
            && r >= d
        {
            return Err(Error::invalid(
                "steps",
                format!("step {n} ({name}): the reminder must come before the deadline"),
            ));
        }
        if step.escalate_to.is_some() && step.deadline_hours.is_none() {
            return Err(Error::invalid("steps", format!("step {n} ({name}): escalation needs a deadline_hours")));
        }
        if let Some(Escalation::User { user_id }) = step.escalate_to {
            ensure_exists(&mut **tx, "users", "user", org_id, user_id)
                .await
                .map_err(|e| Error::invalid("steps", format!("step {n} ({name}): escalation: {e}")))?;
        }
    }
    Ok(())
}

fn validate_condition(c: &Condition) -> std::result::Result<(), String> {
    let field = c.field.trim();
    if field.is_empty() || field.len() > 64 || field.split('.').any(str::is_empty) {
        return Err("a condition names a field of up to 64 characters (dots reach into objects)".into());
    }
    let scalar = |v: &serde_json::Value| v.is_number() || v.is_string() || v.is_boolean();
    match c.op {
        Op::Gt | Op::Ge | Op::Lt | Op::Le if !c.value.is_number() => {
            Err("a condition with >, >=, < or <= compares with a number".into())
        }
        Op::In => match c.value.as_array() {
            Some(list) if !list.is_empty() && list.len() <= 100 && list.iter().all(scalar) => Ok(()),
            _ => Err("a condition with `in` compares with a list of 1 to 100 numbers or texts".into()),
        },
        Op::Eq | Op::Ne if !scalar(&c.value) => {
            Err("a condition with = or != compares with a number, text or boolean".into())
        }
        _ => Ok(()),
    }
}

/// A value as a number, when it reads as one (numbers, and texts such as `"50000"`).
fn as_number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (a, b) {
            (serde_json::Value::String(x), serde_json::Value::String(y)) => x == y,
            (serde_json::Value::Bool(x), serde_json::Value::Bool(y)) => x == y,
            _ => false,
        },
    }
}

impl Condition {
    /// Whether the condition holds for a subject's fields.
    pub fn holds(&self, fields: &serde_json::Map<String, serde_json::Value>) -> bool {
        let mut parts = self.field.trim().split('.');
        let mut value = parts.next().and_then(|first| fields.get(first));
        for part in parts {
            value = value.and_then(|v| v.get(part));
        }
        let Some(value) = value.filter(|v| !v.is_null()) else { return false };
        let ordered = |f: fn(f64, f64) -> bool| match (as_number(value), as_number(&self.value)) {
            (Some(x), Some(y)) => f(x, y),
            _ => false,
        };
        match self.op {
            Op::Eq => same(value, &self.value),
            Op::Ne => !same(value, &self.value),
            Op::Gt => ordered(|x, y| x > y),
            Op::Ge => ordered(|x, y| x >= y),
            Op::Lt => ordered(|x, y| x < y),
            Op::Le => ordered(|x, y| x <= y),
            Op::In => self.value.as_array().is_some_and(|list| list.iter().any(|v| same(value, v))),
        }
    }
}

/// Creates a definition at version 1 (administrators).
pub async fn create(store: &Store, org_id: Id, actor: Id, new: &NewDefinition) -> Result<Definition> {
    let mut tx = store.begin_write().await?;
    let id = create_in(&mut tx, org_id, actor, new, None).await?;
    let created = get(&mut *tx, org_id, id).await?;
    tx.commit().await?;
    Ok(created)
}

/// Creates a definition at version 1 inside `tx`, recording who made it (and the plugin that
/// ships it) in the audit log.
async fn create_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    actor: Id,
    new: &NewDefinition,
    plugin: Option<&str>,
) -> Result<Id> {
    let name = validate_name(&new.name)?;
    validate_subject_type(&new.subject_type)?;
    validate_steps(tx, org_id, &new.steps).await?;
    let steps = serde_json::to_string(&new.steps).map_err(|e| Error::Internal(e.to_string()))?;
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO approval_definitions (org_id, name, subject_type, version, active, steps, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, 1, $4, $5, $6, $6) RETURNING id",
    )
    .bind(org_id)
    .bind(&name)
    .bind(&new.subject_type)
    .bind(&steps)
    .bind(actor)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    record_version(tx, org_id, id, 1, &steps, actor, now).await?;
    let mut detail = serde_json::json!({ "name": name, "subject_type": new.subject_type });
    if let Some(plugin) = plugin {
        detail["plugin"] = plugin.into();
    }
    AuditEntry::new(org_id, Some(actor), "workflow.definition_created")
        .target("approval_definition", id)
        .detail(detail)
        .record(&mut **tx)
        .await?;
    Ok(id)
}

/// Creates, inside `tx`, the approval definitions a plugin ships (subject type
/// `<plugin>:<entity>`) that the organisation has none of that name and subject type of yet; the
/// ones it has, as its admin may have changed them, stay as they are.
pub async fn ensure_for_plugin(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    actor: Id,
    plugin_id: &str,
    approvals: &[crate::runtime::manifest::Approval],
) -> Result<()> {
    for approval in approvals {
        let subject_type = format!("{plugin_id}:{}", approval.entity);
        let exists: Option<Id> = sqlx::query_scalar(
            "SELECT id FROM approval_definitions WHERE org_id = $1 AND name = $2 AND subject_type = $3 LIMIT 1",
        )
        .bind(org_id)
        .bind(&approval.name)
        .bind(&subject_type)
        .fetch_optional(&mut **tx)
        .await?;
        if exists.is_none() {
            let new = NewDefinition { name: approval.name.clone(), subject_type, steps: approval.steps.clone() };
            create_in(tx, org_id, actor, &new, Some(plugin_id)).await?;
        }
    }
    Ok(())
}

async fn record_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    id: Id,
    version: i64,
    steps: &str,
    actor: Id,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO approval_definition_versions (org_id, definition_id, version, steps, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org_id)
    .bind(id)
    .bind(version)
    .bind(steps)
    .bind(actor)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Renames, archives or restores a definition, or gives it new steps as a new version
/// (administrators). Running instances keep the steps they started with.
pub async fn update(store: &Store, org_id: Id, actor: Id, id: Id, patch: &DefinitionPatch) -> Result<Definition> {
    let name = patch.name.as_deref().map(validate_name).transpose()?;
    let mut tx = store.begin_write().await?;
    let before = get(&mut *tx, org_id, id).await?;
    let now = now_ms();
    let mut version = before.version;
    let mut steps_json = serde_json::to_string(&before.steps).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(steps) = &patch.steps
        && *steps != before.steps
    {
        validate_steps(&mut tx, org_id, steps).await?;
        version += 1;
        steps_json = serde_json::to_string(steps).map_err(|e| Error::Internal(e.to_string()))?;
        record_version(&mut tx, org_id, id, version, &steps_json, actor, now).await?;
    }
    let active = patch.active.unwrap_or(before.active);
    if !active && before.active {
        ensure_not_in_use(&mut tx, org_id, id).await?;
    }
    sqlx::query(
        "UPDATE approval_definitions SET name = $3, steps = $4, version = $5, active = $6, updated_at = $7 \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(id)
    .bind(name.as_deref().unwrap_or(&before.name))
    .bind(&steps_json)
    .bind(version)
    .bind(i64::from(active))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    AuditEntry::new(org_id, Some(actor), "workflow.definition_updated")
        .target("approval_definition", id)
        .detail(serde_json::json!({ "version": version, "active": active }))
        .record(&mut *tx)
        .await?;
    let after = get(&mut *tx, org_id, id).await?;
    tx.commit().await?;
    Ok(after)
}

/// Refuses to retire a definition that the customer approval setting starts.
async fn ensure_not_in_use(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id, id: Id) -> Result<()> {
    let used: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM approval_settings WHERE org_id = $1 AND definition_id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    if used.is_some() {
        return Err(Error::Conflict(
            "new customers are approved with this definition; choose another in the customer approval setting first"
                .into(),
        ));
    }
    Ok(())
}

/// Removes a definition no instance ever used; one that was used is archived instead, so that
/// its instances keep their history (administrators).
pub async fn delete(store: &Store, org_id: Id, actor: Id, id: Id) -> Result<()> {
    let mut tx = store.begin_write().await?;
    get(&mut *tx, org_id, id).await?;
    ensure_not_in_use(&mut tx, org_id, id).await?;
    let used: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM approval_instances WHERE org_id = $1 AND definition_id = $2 LIMIT 1")
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if used.is_some() {
        sqlx::query("UPDATE approval_definitions SET active = 0, updated_at = $3 WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM approval_definition_versions WHERE org_id = $1 AND definition_id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM approval_definitions WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    AuditEntry::new(org_id, Some(actor), "workflow.definition_deleted")
        .target("approval_definition", id)
        .detail(serde_json::json!({ "archived": used.is_some() }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Resolves the steps of a definition for one submission: evaluates each condition on the
/// subject's fields and turns each approver into users. A step that runs but resolves to
/// nobody is refused, naming the step, since no one could ever decide it.
pub(crate) async fn resolve_steps(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    submitter: Id,
    steps: &[StepSpec],
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<StepState>> {
    let row = sqlx::query("SELECT manager_id, department_id FROM users WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(submitter)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let manager: Option<Id> = row.try_get(0)?;
    let department: Option<Id> = row.try_get(1)?;
    let mut out = Vec::with_capacity(steps.len());
    for (i, spec) in steps.iter().enumerate() {
        let skipped = spec.condition.as_ref().is_some_and(|c| !c.holds(fields));
        let mut approvers: Vec<Id> = Vec::new();
        if !skipped {
            for a in &spec.approvers {
                let found: Vec<Id> = match a {
                    ApproverSpec::User { user_id } => vec![*user_id],
                    ApproverSpec::Manager => manager.into_iter().collect(),
                    ApproverSpec::Role { role_id } => {
                        sqlx::query_scalar(
                            "SELECT ur.user_id FROM user_roles ur JOIN users u ON u.id = ur.user_id \
                             WHERE ur.org_id = $1 AND ur.role_id = $2 ORDER BY ur.user_id",
                        )
                        .bind(org_id)
                        .bind(role_id)
                        .fetch_all(&mut **tx)
                        .await?
                    }
                    ApproverSpec::DepartmentHead { department_id } => match department_id.or(department) {
                        Some(d) => sqlx::query_scalar::<_, Option<Id>>(
                            "SELECT head_user_id FROM departments WHERE org_id = $1 AND id = $2",
                        )
                        .bind(org_id)
                        .bind(d)
                        .fetch_optional(&mut **tx)
                        .await?
                        .flatten()
                        .into_iter()
                        .collect(),
                        None => Vec::new(),
                    },
                };
                for id in found {
                    if !approvers.contains(&id) {
                        approvers.push(id);
                    }
                }
            }
            approvers = active_users(tx, org_id, &approvers).await?;
            if approvers.is_empty() {
                return Err(Error::invalid(
                    "definition_id",
                    format!(
                        "step {} ({}) has no approver for this submitter (no manager, department head or active user to ask); \
                         an administrator must fix the definition or the organisation chart",
                        i + 1,
                        spec.name
                    ),
                ));
            }
        }
        out.push(StepState {
            name: spec.name.trim().to_owned(),
            mode: spec.mode,
            approvers,
            approved_by: Vec::new(),
            skipped,
            remind_after_hours: spec.remind_after_hours,
            deadline_hours: spec.deadline_hours,
            escalate_to: spec.escalate_to,
        });
    }
    Ok(out)
}

/// Those of `ids` who are active users of the organisation, in the same order.
pub(crate) async fn active_users(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    ids: &[Id],
) -> Result<Vec<Id>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = crate::store::SqlBuf::new("SELECT id FROM users WHERE active = 1 AND org_id = ");
    sql.bind(org_id).push(" AND id IN ").bind_list(ids);
    let rows = sql.query().fetch_all(&mut **tx).await?;
    let mut active = Vec::with_capacity(rows.len());
    for r in rows {
        active.push(r.try_get::<Id, _>(0)?);
    }
    Ok(ids.iter().copied().filter(|id| active.contains(id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(field: &str, op: Op, value: serde_json::Value) -> Condition {
        Condition { field: field.into(), op, value }
    }

    #[test]
    fn conditions_compare_numbers_texts_and_lists() {
        let fields = json!({ "amount": 60000, "category": "partner", "custom": { "budget": "70000" }, "none": null });
        let fields = fields.as_object().cloned().unwrap_or_default();
        assert!(cond("amount", Op::Gt, json!(50000)).holds(&fields));
        assert!(!cond("amount", Op::Lt, json!(50000)).holds(&fields));
        assert!(cond("amount", Op::Ge, json!(60000)).holds(&fields));
        assert!(cond("amount", Op::Le, json!(60000)).holds(&fields));
        assert!(cond("custom.budget", Op::Gt, json!(50000)).holds(&fields), "numeric text compares as a number");
        assert!(cond("category", Op::Eq, json!("partner")).holds(&fields));
        assert!(cond("category", Op::Ne, json!("customer")).holds(&fields));
        assert!(cond("category", Op::In, json!(["distributor", "partner"])).holds(&fields));
        assert!(!cond("category", Op::In, json!(["distributor"])).holds(&fields));
        assert!(!cond("missing", Op::Ne, json!("x")).holds(&fields), "a missing field skips the step");
        assert!(!cond("none", Op::Eq, json!(1)).holds(&fields));
        assert!(!cond("category", Op::Gt, json!(1)).holds(&fields), "text is not ordered against numbers");
    }

    #[test]
    fn conditions_are_checked_for_shape() {
        assert!(validate_condition(&cond("amount", Op::Gt, json!("big"))).is_err());
        assert!(validate_condition(&cond("amount", Op::In, json!([]))).is_err());
        assert!(validate_condition(&cond("amount", Op::Eq, json!({"a": 1}))).is_err());
        assert!(validate_condition(&cond("a..b", Op::Eq, json!(1))).is_err());
        assert!(validate_condition(&cond("custom.amount", Op::In, json!([1, "x"]))).is_ok());
    }

    #[test]
    fn subject_types_are_plain_names() {
        assert!(validate_subject_type("customer").is_ok());
        assert!(validate_subject_type("plugin:orders.order").is_ok());
        assert!(validate_subject_type("Customer").is_err());
        assert!(validate_subject_type("").is_err());
        assert!(validate_subject_type("1x").is_err());
    }
}
