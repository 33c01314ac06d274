//! Exporting a filtered customer view as CSV (UTF-8 with a byte-order mark, which Excel needs
//! to read Chinese) or XLSX. Exports take the `export` permission on customers and cover only
//! the customers within its scope; shares do not lend it. CSV is streamed page by page, so an
//! export of a million customers holds one page in memory at a time. Every export is audited.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use sqlx::Row;

use super::{Customer, CustomerQuery};
use crate::access::{Access, Action};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store};

/// The most customers one export holds.
pub const MAX_EXPORT_ROWS: usize = 2_000_000;

/// Names for the ids and option values a customer carries, and the custom fields to add.
struct Labels {
    options: HashMap<(String, String), String>,
    users: HashMap<Id, String>,
    departments: HashMap<Id, String>,
    custom: Vec<super::fields::CustomField>,
    chinese: bool,
}

impl Labels {
    async fn load(store: &Store, org_id: Id, chinese: bool) -> Result<Labels> {
        let options = super::options::list(store, org_id, None)
            .await?
            .into_iter()
            .map(|o| ((o.list, o.value), if chinese { o.label_zh } else { o.label_en }))
            .collect();
        let users = sqlx::query("SELECT id, username FROM users WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(store.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        let departments = sqlx::query("SELECT id, name FROM departments WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(store.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        let custom = super::fields::list(store, org_id).await?.into_iter().filter(|f| f.active).collect();
        Ok(Labels { options, users, departments, custom, chinese })
    }

    fn headers(&self) -> Vec<String> {
        headers(self.chinese)
            .into_iter()
            .map(str::to_owned)
            .chain(self.custom.iter().map(|f| if self.chinese { f.label_zh.clone() } else { f.label_en.clone() }))
            .collect()
    }

    /// A custom value as a person reads it: option labels, user names, plain numbers.
    fn custom_value(&self, field: &super::fields::CustomField, value: Option<&serde_json::Value>) -> String {
        use super::fields::FieldKind;
        let label = |v: &str| {
            field
                .options
                .iter()
                .find(|o| o.value == v)
                .map(|o| if self.chinese { o.label_zh.clone() } else { o.label_en.clone() })
                .unwrap_or_else(|| v.to_owned())
        };
        match (field.kind, value) {
            (_, None | Some(serde_json::Value::Null)) => String::new(),
            (FieldKind::Option, Some(v)) => v.as_str().map(label).unwrap_or_default(),
            (FieldKind::MultiOption, Some(v)) => {
                v.as_array().into_iter().flatten().filter_map(|x| x.as_str()).map(label).collect::<Vec<_>>().join("、")
            }
            (FieldKind::User, Some(v)) => v.as_i64().and_then(|u| self.users.get(&u).cloned()).unwrap_or_default(),
            (_, Some(serde_json::Value::String(s))) => s.clone(),
            (_, Some(other)) => other.to_string(),
        }
    }

    fn option(&self, list: &str, value: &Option<String>) -> String {
        match value {
            Some(v) => self.options.get(&(list.to_owned(), v.clone())).cloned().unwrap_or_else(|| v.clone()),
            None => String::new(),
        }
    }
}

/// Column headers, in the user's language. The Chinese ones are what the import recognises.
pub fn headers(chinese: bool) -> Vec<&'static str> {
    if chinese {
        vec![
            "客户编码",
            "客户名称",
            "客户类型",
            "客户类别",
            "客户级别",
            "客户状态",
            "行业",
            "区域",
            "客户来源",
            "地址",
            "网址",
            "开户行",
            "银行账号",
            "税号",
            "信用额度",
            "标签",
            "备注",
            "负责人",
            "部门",
            "电话",
            "最后跟进",
            "下次跟进",
            "创建时间",
        ]
    } else {
        vec![
            "Code",
            "Name",
            "Kind",
            "Category",
            "Level",
            "Status",
            "Industry",
            "Region",
            "Source",
            "Address",
            "Website",
            "Bank name",
            "Bank account",
            "Tax id",
            "Credit limit",
            "Tags",
            "Notes",
            "Owner",
            "Department",
            "Phone",
            "Last follow-up",
            "Next follow-up",
            "Created",
        ]
    }
}

fn yuan(fen: Option<i64>) -> String {
    fen.map(|f| format!("{}.{:02}", f / 100, (f % 100).abs())).unwrap_or_default()
}

fn row(c: &Customer, l: &Labels, chinese: bool) -> Vec<String> {
    let kind = match (c.kind.as_str(), chinese) {
        ("person", true) => "个人",
        ("person", false) => "person",
        (_, true) => "公司",
        (_, false) => "company",
    };
    vec![
        c.code.clone(),
        c.name.clone(),
        kind.to_owned(),
        l.option("category", &c.category),
        l.option("level", &c.level),
        l.option("status", &c.status),
        l.option("industry", &c.industry),
        l.option("region", &c.region),
        l.option("source", &c.source),
        c.address.clone().unwrap_or_default(),
        c.website.clone().unwrap_or_default(),
        c.bank_name.clone().unwrap_or_default(),
        c.bank_account.clone().unwrap_or_default(),
        c.tax_id.clone().unwrap_or_default(),
        yuan(c.credit_limit),
        c.tags.join("、"),
        c.notes.clone(),
        c.owner_id.and_then(|o| l.users.get(&o).cloned()).unwrap_or_default(),
        c.department_id.and_then(|d| l.departments.get(&d).cloned()).unwrap_or_default(),
        c.phones.iter().map(|p| p.number.as_str()).collect::<Vec<_>>().join(" / "),
        c.last_followed_up_at.clone().unwrap_or_default(),
        c.next_follow_up_at.clone().unwrap_or_default(),
        c.created_at.clone(),
    ]
    .into_iter()
    .chain(l.custom.iter().map(|f| l.custom_value(f, c.custom.get(&f.key))))
    .collect()
}

fn ensure_allowed(access: &Access) -> Result<()> {
    if access.scope("customers", Action::Export).is_none() {
        return Err(Error::Forbidden("exporting customers needs the export permission on customers".into()));
    }
    Ok(())
}

async fn audit(store: &Store, access: &Access, q: &CustomerQuery, format: &str, rows: usize) -> Result<()> {
    let p = access.principal();
    AuditEntry::new(p.org_id, Some(p.user_id), "customer.exported")
        .detail(serde_json::json!({ "format": format, "rows": rows, "q": q.q, "owner_id": q.owner_id, "level": q.level,
                                    "status": q.status, "category": q.category, "tag": q.tag }))
        .record(store.pool())
        .await
}

/// A CSV export as a streaming body. Permission problems are answered before anything streams.
pub async fn csv(store: &Store, access: &Access, q: &CustomerQuery, chinese: bool) -> Result<Body> {
    ensure_allowed(access)?;
    let labels = Labels::load(store, access.principal().org_id, chinese).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
    let (store, access, q) = (store.clone(), access.clone(), q.clone());
    tokio::spawn(async move {
        let mut header = Vec::from("\u{feff}".as_bytes());
        let write = |buf: &mut Vec<u8>, cells: &[String]| {
            let mut w = csv::Writer::from_writer(std::mem::take(buf));
            let ok = w.write_record(cells).is_ok();
            *buf = w.into_inner().unwrap_or_default();
            ok
        };
        write(&mut header, &labels.headers());
        if tx.send(Ok(Bytes::from(header))).await.is_err() {
            return;
        }
        let result =
            super::each_page(&store, &access, &q, Action::Export, MAX_EXPORT_ROWS, |page| {
                let mut buf = Vec::with_capacity(page.len() * 200);
                for c in &page {
                    write(&mut buf, &row(c, &labels, chinese));
                }
                let tx = tx.clone();
                async move {
                    tx.send(Ok(Bytes::from(buf))).await.map_err(|_| Error::Internal("the client went away".into()))
                }
            })
            .await;
        match result {
            Ok(rows) => {
                if let Err(e) = audit(&store, &access, &q, "csv", rows).await {
                    tracing::error!(error = %e, "cannot audit an export");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "customer export stopped");
                let _ = tx.send(Err(std::io::Error::other("the export failed part way; download it again"))).await;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok(Body::from_stream(stream))
}

/// An XLSX export. The sheet is written in constant memory on the blocking pool while pages
/// are read.
pub async fn xlsx(store: &Store, access: &Access, q: &CustomerQuery, chinese: bool) -> Result<Vec<u8>> {
    ensure_allowed(access)?;
    let labels = Labels::load(store, access.principal().org_id, chinese).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Vec<String>>>(4);
    let header_row = labels.headers();
    let writer = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        let fail = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("cannot write the workbook: {e}"));
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet_with_constant_memory().map_err(fail)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (col, h) in header_row.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, h, &bold).map_err(fail)?;
        }
        let mut r: u32 = 1;
        while let Some(rows) = rx.blocking_recv() {
            for cells in rows {
                for (col, value) in cells.iter().enumerate() {
                    if !value.is_empty() {
                        sheet.write_string(r, col as u16, value).map_err(fail)?;
                    }
                }
                r += 1;
            }
        }
        book.save_to_buffer().map_err(fail)
    });
    let rows = super::each_page(store, access, q, Action::Export, MAX_EXPORT_ROWS.min(1_048_575), |page| {
        let rows: Vec<Vec<String>> = page.iter().map(|c| row(c, &labels, chinese)).collect();
        let tx = tx.clone();
        async move { tx.send(rows).await.map_err(|_| Error::Internal("the workbook writer stopped".into())) }
    })
    .await;
    drop(tx);
    let bytes = writer.await.map_err(|e| Error::Internal(e.to_string()))??;
    let rows = rows?;
    audit(store, access, q, "xlsx", rows).await?;
    Ok(bytes)
}
