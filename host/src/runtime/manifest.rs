//! `plugin.toml`: what a plugin is, what it needs and what it contributes. The host reads it
//! from the package before anything else and refuses a package whose manifest is incomplete or
//! inconsistent, naming the field.

use std::collections::{BTreeMap, BTreeSet};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// The plugin API versions this host serves: every 0.1.x.
pub const SUPPORTED_API: &str = ">=0.1.0, <0.2.0";

/// The API version this host implements (the WIT package `tessera:plugin`).
pub const HOST_API_VERSION: &str = "0.1.4";

/// Text in both of the CRM's languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub zh: String,
    pub en: String,
}

impl Localized {
    /// The text for a locale (`zh-CN`, `en`, …); Chinese unless English is asked for.
    pub fn get(&self, locale: &str) -> &str {
        if locale.starts_with("en") { &self.en } else { &self.zh }
    }
}

/// A parsed, checked `plugin.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    pub plugin: PluginInfo,
    /// Other plugins this one needs, by id, with a semver range each.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub dependencies: BTreeMap<String, String>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub menus: Vec<Menu>,
    #[serde(default)]
    pub pages: Vec<Page>,
    /// Panels on the customer detail page.
    #[serde(default)]
    pub panels: Vec<Page>,
    /// Dashboard widgets.
    #[serde(default)]
    pub widgets: Vec<Page>,
    /// Host and plugin events the plugin handles (`customer.created`, `customer.*`).
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Approval definitions the plugin starts approvals of, created in an organisation when it
    /// enables the plugin (unless it has one of that name already); its admin may change them.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// The settings form the organisation's admin fills in.
    #[serde(default)]
    pub settings: Vec<Setting>,
}

/// The `[plugin]` table.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginInfo {
    /// Lower-case letters, digits and dashes, 2 to 40 characters, e.g. `public-pool`.
    pub id: String,
    pub name: Localized,
    pub description: Localized,
    /// The plugin's own version (semver).
    #[schema(value_type = String)]
    pub version: Version,
    /// The plugin API versions it works with, as a semver range (`^0.1`).
    pub api: String,
    /// Capabilities requested, e.g. `customers:read`, `notify`, `http:outbound`.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Hosts outbound HTTP may reach (`erp.example.com`, `*.example.com`).
    #[serde(default)]
    pub http_allow: Vec<String>,
    /// Settings holding a URL (an ERP's address) whose host outbound HTTP may also reach, as
    /// the organisation's admin filled it in.
    #[serde(default)]
    pub http_allow_settings: Vec<String>,
    /// The largest file the plugin stores (`files`), at most and by default 10 MiB.
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
    /// Whether an organisation needs a license from the marketplace to enable it.
    #[serde(default)]
    pub license_required: bool,
    #[serde(default)]
    pub author: Option<String>,
    /// Events the plugin handles; may also be written as a top-level `events` list before
    /// the `[plugin]` table. Both lists are merged into [`Manifest::events`].
    #[serde(default, skip_serializing)]
    pub events: Vec<String>,
}

/// An entity (a table of the plugin's own records).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Entity {
    /// Lower-case letters, digits and underscores, e.g. `claim`.
    pub name: String,
    pub label: Localized,
    pub fields: Vec<EntityField>,
    /// Indexes to create, each a list of field names.
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
    /// Fields that quick search looks into.
    #[serde(default)]
    pub searchable: Vec<String>,
    /// Records linked to a customer appear on its timeline, titled with this field.
    #[serde(default)]
    pub timeline: Option<String>,
    /// Reference data (pools, rules, boards, categories): every user of the organisation reads
    /// all of them, and during a user's call only an administrator changes them.
    #[serde(default)]
    pub reference: bool,
    /// Shared records (forum threads and replies, knowledge-base articles): every user of the
    /// organisation reaches all of them through the plugin, which decides itself who may read
    /// and change what (a board's roles, its moderators, a post's author). During a user's
    /// call reads and writes act as the plugin, and a record the user creates is theirs. Since
    /// API 0.1.4.
    #[serde(default)]
    pub shared: bool,
    /// A `user` field whose user owns the record (filed under their department), whoever
    /// writes it: a call recorded by a webhook belongs to the agent it rang for, so that the
    /// agent's own scope reaches it. Without it a record belongs to the user who created it.
    #[serde(default)]
    pub owner: Option<String>,
}

/// The type of an entity field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FieldType {
    Text,
    Integer,
    Number,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// Milliseconds since the Unix epoch.
    Timestamp,
    /// A user id of the organisation.
    User,
    /// A customer id of the organisation.
    Customer,
    /// Any JSON value.
    Json,
}

/// A field of an entity.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EntityField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub label: Localized,
    #[serde(default)]
    pub required: bool,
    /// Unique within the organisation.
    #[serde(default)]
    pub unique: bool,
    /// For text: the allowed values.
    #[serde(default)]
    pub options: Vec<String>,
}

/// A menu item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Menu {
    pub id: String,
    pub label: Localized,
    /// The page it opens.
    pub page: String,
    #[serde(default)]
    pub icon: Option<String>,
    /// Order among menu items (smaller first).
    #[serde(default)]
    pub order: i32,
}

/// A page, customer panel or dashboard widget the plugin renders.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Page {
    pub id: String,
    pub title: Localized,
    /// Only the organisation's administrators see the page (and its menu items) and use its
    /// actions, e.g. a plugin's rules.
    #[serde(default)]
    pub admin: bool,
}

/// A scheduled job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Job {
    pub name: String,
    /// Five-field cron in UTC, e.g. `0 2 * * *`.
    pub schedule: String,
}

/// An approval definition a plugin ships: `workflow::start` names it, the host creates it when
/// an organisation enables the plugin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Approval {
    /// The definition's name, e.g. `attendance-leave`.
    pub name: String,
    /// How the plugin's details present it.
    pub label: Localized,
    /// The entity whose records it approves.
    pub entity: String,
    /// The steps, as the workflow API takes them; approvers are `manager` or
    /// `department_head` (users and roles differ in every organisation).
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<crate::workflow::definitions::StepSpec>,
}

/// A setting of the plugin's settings form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Setting {
    pub name: String,
    pub label: Localized,
    /// `text`, `secret`, `number`, `bool`, `select`, `user`.
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub help: Option<Localized>,
}

/// Capabilities a manifest may request. `events:publish` lets a plugin publish its own events.
pub const CAPABILITIES: &[&str] = &[
    "customers:read",
    "customers:write",
    "customers:transfer",
    "customers:assign",
    "directory:read",
    "activities:write",
    "notify",
    "workflow",
    "http:outbound",
    "http:inbound",
    "schedule",
    "events:subscribe",
    "events:publish",
    "files",
];

/// The largest file a plugin may store (`files.put`, `file` form fields), and the default of
/// `max-file-bytes`.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

fn is_slug(s: &str, max: usize, sep: char) -> bool {
    (2..=max).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == sep)
        && !s.ends_with(sep)
}

fn bad(field: &str, message: impl std::fmt::Display) -> Error {
    Error::Invalid { field: Some("manifest"), message: format!("plugin.toml: {field}: {message}") }
}

impl Manifest {
    /// Whether a page, panel or widget is shown to a user: those marked `admin` only to the
    /// organisation's administrators, every other one to everyone.
    pub fn shows(&self, target: &str, admin: bool) -> bool {
        admin || !self.pages.iter().chain(&self.panels).chain(&self.widgets).any(|p| p.id == target && p.admin)
    }

    /// Parses and checks `plugin.toml`.
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut manifest: Manifest = toml::from_str(text).map_err(|e| Error::Invalid {
            field: Some("manifest"),
            message: format!("plugin.toml: {}", e.message()),
        })?;
        let inline = std::mem::take(&mut manifest.plugin.events);
        manifest.events.extend(inline);
        manifest.check()?;
        Ok(manifest)
    }

    /// The API range, parsed.
    pub fn api_range(&self) -> Result<VersionReq> {
        VersionReq::parse(&self.plugin.api).map_err(|e| bad("plugin.api", e))
    }

    /// Whether this host can serve the API range the plugin asks for: the range must admit
    /// the host's API version.
    pub fn check_api(&self) -> Result<()> {
        let range = self.api_range()?;
        let host = Version::parse(HOST_API_VERSION).map_err(|e| Error::Internal(e.to_string()))?;
        if range.matches(&host) {
            Ok(())
        } else {
            Err(Error::Invalid {
                field: Some("api"),
                message: format!(
                    "{} {} needs plugin API {}, and this host serves {HOST_API_VERSION} (supported range {SUPPORTED_API})",
                    self.plugin.id, self.plugin.version, self.plugin.api
                ),
            })
        }
    }

    fn check(&self) -> Result<()> {
        let p = &self.plugin;
        if !is_slug(&p.id, 40, '-') {
            return Err(bad("plugin.id", "use 2 to 40 lower-case letters, digits and dashes, starting with a letter"));
        }
        if p.name.zh.trim().is_empty() || p.name.en.trim().is_empty() {
            return Err(bad("plugin.name", "give the name in Chinese (zh) and English (en)"));
        }
        self.api_range()?;
        let mut seen = BTreeSet::new();
        for cap in &p.capabilities {
            if !CAPABILITIES.contains(&cap.as_str()) {
                return Err(bad("plugin.capabilities", format!("unknown capability {cap:?}")));
            }
            if !seen.insert(cap) {
                return Err(bad("plugin.capabilities", format!("{cap:?} is listed twice")));
            }
        }
        if let Some(max) = p.max_file_bytes {
            if !(1..=MAX_FILE_BYTES).contains(&max) {
                return Err(bad("plugin.max-file-bytes", format!("give 1 to {MAX_FILE_BYTES} bytes")));
            }
            if !self.requests("files") {
                return Err(bad("plugin.max-file-bytes", "limits files but the plugin does not request files"));
            }
        }
        if !p.http_allow.is_empty() && !p.capabilities.iter().any(|c| c == "http:outbound") {
            return Err(bad("plugin.http-allow", "lists hosts but the plugin does not request http:outbound"));
        }
        for host in &p.http_allow {
            let bare = host.strip_prefix("*.").unwrap_or(host);
            if bare.is_empty() || bare.contains(['/', ':', '*', ' ']) {
                return Err(bad("plugin.http-allow", format!("{host:?} is not a host name")));
            }
        }
        for (dep, range) in &self.dependencies {
            if !is_slug(dep, 40, '-') {
                return Err(bad("dependencies", format!("{dep:?} is not a plugin id")));
            }
            VersionReq::parse(range).map_err(|e| bad(&format!("dependencies.{dep}"), e))?;
        }
        let mut entity_names = BTreeSet::new();
        for entity in &self.entities {
            if !is_slug(&entity.name, 30, '_') || !entity_names.insert(&entity.name) {
                return Err(bad("entities.name", format!("{:?} must be a unique snake_case name", entity.name)));
            }
            let mut fields = BTreeSet::new();
            for field in &entity.fields {
                if !is_slug(&field.name, 40, '_') || RESERVED_FIELDS.contains(&field.name.as_str()) {
                    return Err(bad(
                        &format!("entities.{}.fields", entity.name),
                        format!("{:?} must be a snake_case name other than {}", field.name, RESERVED_FIELDS.join(", ")),
                    ));
                }
                if !fields.insert(field.name.as_str()) {
                    return Err(bad(&format!("entities.{}.fields", entity.name), format!("{:?} twice", field.name)));
                }
            }
            let known = |f: &str| fields.contains(f) || INDEXABLE_BUILTINS.contains(&f);
            for index in &entity.indexes {
                if index.is_empty() || index.iter().any(|f| !known(f)) {
                    return Err(bad(
                        &format!("entities.{}.indexes", entity.name),
                        format!("{index:?} names unknown fields"),
                    ));
                }
            }
            for f in entity.searchable.iter().chain(entity.timeline.iter()) {
                if !fields.contains(f.as_str()) {
                    return Err(bad(&format!("entities.{}", entity.name), format!("{f:?} is not a field")));
                }
            }
            if let Some(owner) = &entity.owner
                && !entity.fields.iter().any(|f| &f.name == owner && f.kind == FieldType::User)
            {
                return Err(bad(
                    &format!("entities.{}.owner", entity.name),
                    format!("{owner:?} must name a field of type user"),
                ));
            }
            if entity.shared && entity.reference {
                return Err(bad(
                    &format!("entities.{}", entity.name),
                    "an entity is reference data or shared, not both",
                ));
            }
        }
        let pages: BTreeSet<&str> = self.pages.iter().map(|p| p.id.as_str()).collect();
        for menu in &self.menus {
            if !pages.contains(menu.page.as_str()) {
                return Err(bad("menus", format!("{:?} opens the unknown page {:?}", menu.id, menu.page)));
            }
        }
        let mut targets = BTreeSet::new();
        for page in self.pages.iter().chain(&self.panels).chain(&self.widgets) {
            if !is_slug(&page.id, 40, '-') || !targets.insert(page.id.as_str()) {
                return Err(bad("pages", format!("{:?} must be a unique lower-case id", page.id)));
            }
        }
        if !self.events.is_empty() && !p.capabilities.iter().any(|c| c == "events:subscribe") {
            return Err(bad("events", "the plugin subscribes to events but does not request events:subscribe"));
        }
        for topic in &self.events {
            if topic.is_empty() || topic.contains(char::is_whitespace) {
                return Err(bad("events", format!("{topic:?} is not an event topic")));
            }
        }
        if !self.jobs.is_empty() && !p.capabilities.iter().any(|c| c == "schedule") {
            return Err(bad("jobs", "the plugin declares jobs but does not request schedule"));
        }
        for job in &self.jobs {
            job.schedule
                .parse::<crate::scheduler::Schedule>()
                .map_err(|e| bad(&format!("jobs.{}.schedule", job.name), e))?;
        }
        let mut settings = BTreeSet::new();
        for s in &self.settings {
            if !settings.insert(s.name.as_str()) {
                return Err(bad("settings", format!("{:?} twice", s.name)));
            }
            if !["text", "secret", "number", "bool", "select", "user"].contains(&s.kind.as_str()) {
                return Err(bad(&format!("settings.{}.kind", s.name), format!("unknown kind {:?}", s.kind)));
            }
        }
        for name in &p.http_allow_settings {
            match self.settings.iter().find(|s| &s.name == name) {
                None => return Err(bad("plugin.http-allow-settings", format!("{name:?} is not one of its settings"))),
                Some(s) if s.kind != "text" => {
                    return Err(bad("plugin.http-allow-settings", format!("{name:?} must be a text setting")));
                }
                Some(_) => {}
            }
        }
        if !p.http_allow_settings.is_empty() && !self.requests("http:outbound") {
            return Err(bad(
                "plugin.http-allow-settings",
                "lists settings but the plugin does not request http:outbound",
            ));
        }
        self.check_approvals()
    }

    fn check_approvals(&self) -> Result<()> {
        use crate::workflow::definitions::ApproverSpec;
        if !self.approvals.is_empty() && !self.requests("workflow") {
            return Err(bad("approvals", "the plugin declares approvals but does not request workflow"));
        }
        let mut names = BTreeSet::new();
        for a in &self.approvals {
            let field = format!("approvals.{}", a.name);
            if a.name.trim().is_empty() || a.name.chars().count() > 100 || !names.insert(a.name.as_str()) {
                return Err(bad(
                    "approvals.name",
                    format!("{:?} must be a unique name of 1 to 100 characters", a.name),
                ));
            }
            if self.entity(&a.entity).is_none() {
                return Err(bad(&field, format!("entity {:?} is not an entity of the plugin", a.entity)));
            }
            if a.steps.is_empty() || a.steps.len() > 20 {
                return Err(bad(&field, "an approval has 1 to 20 steps"));
            }
            for step in &a.steps {
                let portable = |s: &ApproverSpec| {
                    matches!(s, ApproverSpec::Manager | ApproverSpec::DepartmentHead { department_id: None })
                };
                if step.approvers.is_empty() || !step.approvers.iter().all(portable) {
                    return Err(bad(
                        &field,
                        format!(
                            "step {:?}: approvers must be `manager` or `department_head` (users, roles and departments \
                             differ in every organisation; its admin adds them)",
                            step.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The entity of this name.
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// `id version`, as errors and logs name a plugin.
    pub fn label(&self) -> String {
        format!("{} {}", self.plugin.id, self.plugin.version)
    }

    /// Whether the manifest requests a capability.
    pub fn requests(&self, capability: &str) -> bool {
        self.plugin.capabilities.iter().any(|c| c == capability)
    }

    /// The largest file the plugin may store.
    pub fn max_file_bytes(&self) -> u64 {
        self.plugin.max_file_bytes.unwrap_or(MAX_FILE_BYTES).min(MAX_FILE_BYTES)
    }

    /// Whether the plugin handles events of a topic.
    pub fn subscribes(&self, topic: &str) -> bool {
        self.events.iter().any(|pattern| topic_matches(pattern, topic))
    }
}

/// Columns every entity table has; fields may not take these names.
pub const RESERVED_FIELDS: &[&str] =
    &["id", "org_id", "customer_id", "owner_id", "department_id", "created_at", "updated_at", "version", "search_text"];

/// Built-in columns an index may name.
pub const INDEXABLE_BUILTINS: &[&str] = &["customer_id", "owner_id", "created_at", "updated_at"];

/// `*` matches everything, `customer.*` every topic under `customer.`, else the exact topic.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    pattern == "*"
        || pattern == topic
        || pattern.strip_suffix('*').is_some_and(|prefix| prefix.ends_with('.') && topic.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[plugin]
id = "public-pool"
name = { zh = "公海", en = "Public pool" }
description = { zh = "公海客户", en = "Unclaimed customers" }
version = "1.2.0"
api = "^0.1"
capabilities = ["customers:read", "events:subscribe"]

events = ["customer.*"]

[[entities]]
name = "claim"
label = { zh = "领取", en = "Claim" }
fields = [
  { name = "reason", type = "text", label = { zh = "原因", en = "Reason" }, required = true },
  { name = "claimed_at", type = "timestamp", label = { zh = "时间", en = "When" } },
]
indexes = [["claimed_at"], ["customer_id", "claimed_at"]]
searchable = ["reason"]
timeline = "reason"
"#;

    #[test]
    fn reads_a_complete_manifest() {
        let m = Manifest::parse(MINIMAL).expect("parses");
        assert_eq!(m.plugin.id, "public-pool");
        assert_eq!(m.plugin.version, Version::new(1, 2, 0));
        assert!(m.check_api().is_ok());
        assert!(m.subscribes("customer.created"));
        assert!(!m.subscribes("activity.created"));
        assert_eq!(m.entity("claim").map(|e| e.fields.len()), Some(2));
    }

    #[test]
    fn refuses_what_is_wrong_naming_the_field() {
        let cases = [
            (MINIMAL.replace("public-pool", "Public Pool"), "plugin.id"),
            (MINIMAL.replace("\"customers:read\"", "\"customers:everything\""), "customers:everything"),
            (MINIMAL.replace("\"reason\", type", "\"version\", type"), "snake_case name other than"),
            (MINIMAL.replace("[\"claimed_at\"], ", "[\"nowhere\"], "), "unknown fields"),
            (MINIMAL.replace(", \"events:subscribe\"", ""), "events:subscribe"),
            (MINIMAL.replace("api = \"^0.1\"", "api = \"not a range\""), "plugin.api"),
            (MINIMAL.replace("type = \"text\"", "type = \"blob\""), "blob"),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse(&text).expect_err(expected).to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }

    const APPROVAL: &str = r#"
[[approvals]]
name = "pool-claim"
label = { zh = "领取审批", en = "Claim approval" }
entity = "claim"
steps = [{ name = "经理", approvers = [{ kind = "manager" }], condition = { field = "count", op = ">", value = 10 } }]
"#;

    #[test]
    fn approvals_and_url_settings_are_checked() {
        let with_workflow = MINIMAL.replace("\"events:subscribe\"]", "\"events:subscribe\", \"workflow\"]");
        let m = Manifest::parse(&format!("{with_workflow}{APPROVAL}")).expect("parses");
        assert_eq!(m.approvals[0].steps[0].approvers, [crate::workflow::definitions::ApproverSpec::Manager]);
        let cases = [
            (format!("{MINIMAL}{APPROVAL}"), "does not request workflow"),
            (
                format!("{with_workflow}{}", APPROVAL.replace("entity = \"claim\"", "entity = \"order\"")),
                "not an entity",
            ),
            (
                format!(
                    "{with_workflow}{}",
                    APPROVAL.replace("{ kind = \"manager\" }", "{ kind = \"role\", role_id = 3 }")
                ),
                "`manager` or `department_head`",
            ),
            (format!("{with_workflow}{APPROVAL}{APPROVAL}"), "unique name"),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse(&text).expect_err(expected).to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }

        let outbound = MINIMAL.replace("\"events:subscribe\"]", "\"events:subscribe\", \"http:outbound\"]");
        let setting =
            "\n[[settings]]\nname = \"erp_url\"\nlabel = { zh = \"地址\", en = \"Address\" }\nkind = \"text\"\n";
        let allow = |text: &str| text.replace("api = \"^0.1\"", "api = \"^0.1\"\nhttp-allow-settings = [\"erp_url\"]");
        assert!(Manifest::parse(&format!("{}{setting}", allow(&outbound))).is_ok());
        let err = Manifest::parse(&allow(&outbound)).expect_err("no such setting").to_string();
        assert!(err.contains("not one of its settings"), "{err}");
        let err = Manifest::parse(&format!("{}{setting}", allow(MINIMAL))).expect_err("no outbound").to_string();
        assert!(err.contains("http:outbound"), "{err}");
        let secret = setting.replace("\"text\"", "\"secret\"");
        let err = Manifest::parse(&format!("{}{secret}", allow(&outbound))).expect_err("a secret").to_string();
        assert!(err.contains("must be a text setting"), "{err}");
    }

    #[test]
    fn an_api_range_outside_the_host_is_refused_with_both_versions() {
        let m = Manifest::parse(&MINIMAL.replace("^0.1", "^0.9")).expect("parses");
        let err = m.check_api().expect_err("0.9 is not served").to_string();
        assert!(err.contains("0.9") && err.contains(HOST_API_VERSION), "{err}");
    }
}
