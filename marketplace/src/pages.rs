//! The web catalog: server-rendered pages, in Chinese and English (`?lang=zh|en`, else the
//! browser's `Accept-Language`), that need no JavaScript — the catalog with its search box and
//! categories, and a plugin's page with its versions, API ranges, the capabilities it requests
//! in words, its price and changelog. Every plugin text is a publisher's and untrusted: the
//! templates escape everything they print.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tessera_host::ui::i18n::Lang;
use tessera_package::LicenseKind;

use crate::catalog::{self, CATEGORIES, CatalogQuery, PluginSummary, Price};
use crate::web::{AppState, Path, Query};

/// Every string the pages show: `(key, English, Chinese)`.
const STRINGS: &[(&str, &str, &str)] = &[
    ("title", "Tessera Marketplace", "Tessera 插件市场"),
    ("search", "Search", "搜索"),
    ("search_label", "Search plugins", "搜索插件"),
    ("all", "All", "全部"),
    ("categories", "Categories", "分类"),
    ("none_found", "No plugin matches.", "没有找到匹配的插件。"),
    ("by", "by", "发布者"),
    ("version", "Version", "版本"),
    ("versions", "Versions", "版本历史"),
    ("api", "Plugin API", "插件 API"),
    ("published", "Published", "发布时间"),
    ("capabilities", "What it asks to do", "申请的权限"),
    ("no_capabilities", "Nothing beyond its own records and pages.", "只使用自己的数据和页面，无需额外权限。"),
    ("price", "Price", "价格"),
    ("changelog", "Changes", "更新说明"),
    ("revoked", "Revoked", "已撤销"),
    ("license_required", "Needs a license to run.", "运行需要许可证。"),
    ("free", "Free", "免费"),
    ("one_off", "one-off", "一次性购买"),
    ("per_days", "per {} days", "每 {} 天"),
    ("grace", "{} days' grace", "宽限 {} 天"),
    ("not_found", "There is no such page.", "没有这个页面。"),
    ("back", "Back to the catalog", "返回插件市场"),
    ("cat.crm", "CRM", "客户管理"),
    ("cat.sales", "Sales", "销售"),
    ("cat.service", "Service", "客户服务"),
    ("cat.collaboration", "Collaboration", "协同办公"),
    ("cat.hr", "HR", "人事"),
    ("cat.integration", "Integration", "系统集成"),
    ("cat.other", "Other", "其他"),
];

/// What each capability lets a plugin do, in words: `(capability, English, Chinese)`.
const CAPABILITIES: &[(&str, &str, &str)] = &[
    ("customers:read", "Read the customers and contacts a user may see", "读取用户可见的客户和联系人"),
    ("customers:write", "Create and change customers and contacts", "新建和修改客户及联系人"),
    ("customers:transfer", "Change customers' owners (claim, release, transfer)", "变更客户负责人（领取、释放、转移）"),
    (
        "customers:assign",
        "Assign customers across the whole organisation by its own rules",
        "按自己的规则在全公司范围内分配客户",
    ),
    ("directory:read", "Read colleagues' names, departments and roles", "读取同事的姓名、部门和角色"),
    ("activities:write", "Log follow-ups on customers' timelines", "在客户跟进记录中写入跟进"),
    ("notify", "Send notifications to users", "向用户发送通知"),
    ("workflow", "Start approvals and follow their outcome", "发起审批并跟踪结果"),
    ("http:outbound", "Call servers on the internet that it names", "访问其声明的外部服务器"),
    ("http:inbound", "Receive webhooks from outside systems", "接收外部系统的回调"),
    ("schedule", "Run scheduled jobs", "运行定时任务"),
    ("events:subscribe", "Be told of events in the CRM", "接收 CRM 中的事件"),
    ("events:publish", "Publish events of its own", "发布自己的事件"),
    ("files", "Store files", "存储文件"),
];

/// A page's language and its strings.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    lang: Lang,
}

impl Texts {
    pub fn t(&self, key: &str) -> &'static str {
        STRINGS.iter().find(|(k, ..)| *k == key).map_or("?", |(_, en, zh)| if self.lang == Lang::En { en } else { zh })
    }

    /// `zh` or `en`, as `?lang=` takes it.
    pub fn code(&self) -> &'static str {
        if self.lang == Lang::En { "en" } else { "zh" }
    }

    /// The other language's code and its name in itself, for the switch.
    pub fn other(&self) -> (&'static str, &'static str) {
        if self.lang == Lang::En { ("zh", "中文") } else { ("en", "English") }
    }

    pub fn html_lang(&self) -> &'static str {
        self.lang.tag()
    }

    fn pick(&self, en: &str, zh: &str) -> String {
        self.lang.pick(en, zh).to_owned()
    }

    fn capability(&self, name: &str) -> String {
        CAPABILITIES.iter().find(|(c, ..)| *c == name).map_or_else(|| name.to_owned(), |(_, en, zh)| self.pick(en, zh))
    }

    fn category(&self, code: &str) -> &'static str {
        match code {
            "crm" => self.t("cat.crm"),
            "sales" => self.t("cat.sales"),
            "service" => self.t("cat.service"),
            "collaboration" => self.t("cat.collaboration"),
            "hr" => self.t("cat.hr"),
            "integration" => self.t("cat.integration"),
            _ => self.t("cat.other"),
        }
    }

    /// `¥99.00, one-off`, `$30.00 per 30 days, 7 days' grace`, `Free`.
    fn price(&self, price: &Price) -> String {
        if price.kind == LicenseKind::Free {
            return self.t("free").to_owned();
        }
        let currency = price.currency.as_deref().unwrap_or_default();
        let symbol = match currency {
            "CNY" => "¥".to_owned(),
            "USD" => "$".to_owned(),
            "EUR" => "€".to_owned(),
            other => format!("{other} "),
        };
        let amount =
            format!("{symbol}{}.{:02}", self.lang.number(price.price_cents / 100), price.price_cents.rem_euclid(100));
        match price.kind {
            LicenseKind::Subscription => {
                let mut text = format!(
                    "{amount} {}",
                    self.t("per_days").replace("{}", &price.period_days.unwrap_or(0).to_string())
                );
                if price.grace_days > 0 {
                    text.push_str(&format!(", {}", self.t("grace").replace("{}", &price.grace_days.to_string())));
                }
                text
            }
            _ => format!("{amount}, {}", self.t("one_off")),
        }
    }
}

/// The page language: `?lang=` if it names one, else the browser's preference, else Chinese.
pub fn texts(headers: &HeaderMap, lang: Option<&str>) -> Texts {
    let lang = lang
        .and_then(Lang::from_tag)
        .or_else(|| {
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::ZhCn);
    Texts { lang }
}

/// A plugin as a card of the catalog.
pub struct Card {
    pub id: String,
    pub name: String,
    pub description: String,
    pub publisher: String,
    pub version: String,
    pub price: String,
    pub category: &'static str,
}

pub struct CategoryLink {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    t: Texts,
    q: String,
    category: String,
    categories: Vec<CategoryLink>,
    cards: Vec<Card>,
}

pub struct CapabilityLine {
    pub name: String,
    pub words: String,
}

pub struct VersionLine {
    pub version: String,
    pub api: String,
    pub published: String,
    pub revoked: Option<String>,
    pub changelog: Option<String>,
}

#[derive(Template)]
#[template(path = "plugin.html")]
struct PluginPage {
    t: Texts,
    id: String,
    name: String,
    description: String,
    publisher: String,
    category: &'static str,
    price: String,
    latest: Option<String>,
    api: Option<String>,
    license_required: bool,
    capabilities: Vec<CapabilityLine>,
    versions: Vec<VersionLine>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    t: Texts,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
    pub q: Option<String>,
    pub category: Option<String>,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(catalog_page)).route("/plugins/{id}", get(plugin_page))
}

fn render(page: &impl Template, status: StatusCode) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
        }
    }
}

fn card(t: &Texts, plugin: &PluginSummary) -> Card {
    Card {
        id: plugin.id.clone(),
        name: t.pick(&plugin.name.en, &plugin.name.zh),
        description: t.pick(&plugin.description.en, &plugin.description.zh),
        publisher: plugin.publisher.name.clone(),
        version: plugin.latest_version.clone().unwrap_or_default(),
        price: t.price(&plugin.price),
        category: t.category(&plugin.category),
    }
}

async fn catalog_page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let t = texts(&headers, query.lang.as_deref());
    let asked = CatalogQuery { q: query.q.clone(), category: query.category.clone(), api: None };
    // A search the catalog cannot run (a category that is not one) shows every plugin.
    let search = asked.check().unwrap_or_default();
    let plugins = match catalog::search(&state, &search).await {
        Ok(plugins) => plugins,
        Err(e) => return crate::web::ApiError::from(e).into_response(),
    };
    let selected = search.category.map(|c| c.as_str()).unwrap_or_default();
    let page = CatalogPage {
        t,
        q: search.q.clone().unwrap_or_default(),
        category: selected.to_owned(),
        categories: CATEGORIES
            .iter()
            .map(|code| CategoryLink { code, label: t.category(code), selected: *code == selected })
            .collect(),
        cards: plugins.iter().map(|p| card(&t, p)).collect(),
    };
    render(&page, StatusCode::OK)
}

async fn plugin_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let t = texts(&headers, query.lang.as_deref());
    let found = match catalog::detail(&state, &id).await {
        Ok(found) => found,
        Err(e) => return crate::web::ApiError::from(e).into_response(),
    };
    let Some(plugin) = found else { return render(&NotFoundPage { t }, StatusCode::NOT_FOUND) };
    let summary = &plugin.summary;
    let page = PluginPage {
        t,
        id: summary.id.clone(),
        name: t.pick(&summary.name.en, &summary.name.zh),
        description: t.pick(&summary.description.en, &summary.description.zh),
        publisher: summary.publisher.name.clone(),
        category: t.category(&summary.category),
        price: t.price(&summary.price),
        latest: summary.latest_version.clone(),
        api: summary.api.clone(),
        license_required: summary.license_required,
        capabilities: summary
            .capabilities
            .iter()
            .map(|c| CapabilityLine { name: c.clone(), words: t.capability(c) })
            .collect(),
        versions: plugin
            .versions
            .iter()
            .map(|v| VersionLine {
                version: v.version.clone(),
                api: v.api.clone(),
                published: v.published_at.get(..10).unwrap_or_default().to_owned(),
                revoked: v.revoked_reason.clone(),
                changelog: v.changelog.clone(),
            })
            .collect(),
    };
    render(&page, StatusCode::OK)
}

/// The page for a path that is not one.
pub fn not_found_page(headers: &HeaderMap, query: Option<&str>) -> Response {
    let lang = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("lang=")));
    render(&NotFoundPage { t: texts(headers, lang) }, StatusCode::NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_the_host_knows_is_put_in_words() {
        for capability in tessera_host::runtime::manifest::CAPABILITIES {
            assert!(CAPABILITIES.iter().any(|(c, ..)| c == capability), "{capability} has no words");
        }
    }

    #[test]
    fn every_category_has_a_name_in_both_languages() {
        for lang in [Lang::En, Lang::ZhCn] {
            let t = Texts { lang };
            for code in CATEGORIES {
                assert_ne!(t.category(code), "?", "{code}");
            }
        }
    }

    #[test]
    fn prices_read_as_their_kind() {
        let en = Texts { lang: Lang::En };
        let zh = Texts { lang: Lang::ZhCn };
        let sub = Price {
            kind: LicenseKind::Subscription,
            price_cents: 123_456,
            currency: Some("CNY".into()),
            period_days: Some(30),
            grace_days: 7,
        };
        assert_eq!(en.price(&sub), "¥1,234.56 per 30 days, 7 days' grace");
        assert_eq!(zh.price(&sub), "¥1,234.56 每 30 天, 宽限 7 天");
        let one_off =
            Price { kind: LicenseKind::OneOff, period_days: None, grace_days: 0, currency: Some("SEK".into()), ..sub };
        assert_eq!(en.price(&one_off), "SEK 1,234.56, one-off");
        let free = Price { kind: LicenseKind::Free, price_cents: 0, currency: None, ..one_off };
        assert_eq!(zh.price(&free), "免费");
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_browser() {
        let mut headers = HeaderMap::new();
        assert_eq!(texts(&headers, None).code(), "zh");
        headers.insert(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9".parse().expect("header"));
        assert_eq!(texts(&headers, None).code(), "en");
        assert_eq!(texts(&headers, Some("zh")).code(), "zh");
    }
}
