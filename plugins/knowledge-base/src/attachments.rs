//! Attachments of articles: the upload form of the article page (a `file` field, which the host
//! stores among the plugin's files before `act`), the API upload route with the raw body, the
//! download route, and deleting (which deletes the file). The `max_attachment_mb` setting
//! narrows the manifest's `max-file-bytes` (10 MiB, enforced by the host).

use serde_json::{Value, json};
use tessera_sdk::files::{self, Upload};
use tessera_sdk::http::{Request, Response};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::ui::Outcome;
use tessera_sdk::{Caller, Error, Id, Result, settings};

use crate::access::Access;
use crate::articles;
use crate::store::{ATTACHMENT, Attachment};
use crate::text::Text;

/// The host's ceiling on every file of the plugin (the manifest's `max-file-bytes`).
pub const CEILING_MB: f64 = 10.0;

/// The largest attachment in MB: the setting, within the ceiling.
pub fn max_mb() -> f64 {
    let set = settings::get_typed::<f64>("max_attachment_mb").ok().flatten().filter(|v| v.is_finite() && *v > 0.0);
    set.unwrap_or(5.0).min(CEILING_MB)
}

fn max_bytes() -> u64 {
    (max_mb() * 1024.0 * 1024.0) as u64
}

fn too_big(t: Text, name: &str, size: u64) -> Error {
    Error::limited(t.file_too_big(name, &files::human_size(size), max_mb()))
}

/// Links a stored file to an article the user may edit.
fn attach(caller: &Caller, access: &Access, article_id: Id, file: &files::FileInfo) -> Result<Typed<Attachment>> {
    let t = Text::of(caller);
    let article = articles::readable(access, t, article_id)?;
    access.require_edit(t, article.fields.category_id)?;
    if file.size > max_bytes() {
        return Err(too_big(t, &file.name, file.size));
    }
    let a = Attachment {
        article_id,
        file_id: file.id,
        name: file.name.clone(),
        content_type: file.content_type.clone(),
        size: file.size as i64,
        uploaded_by: caller.user_id,
    };
    let record = records::insert_typed(ATTACHMENT, &a, None)?;
    Ok(Typed {
        id: record.id,
        customer_id: None,
        owner_id: record.owner_id,
        created_at: record.created_at,
        updated_at: record.updated_at,
        version: record.version,
        fields: a,
    })
}

/// The upload form of the article page: the host stored the file already; a refused one is
/// deleted again.
pub fn upload_from_form(caller: &Caller, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let article_id = articles::parse_id(argument)?;
    let Some(upload) = Upload::from_input(input, "file") else {
        return Ok(Outcome::error(t.file_required()));
    };
    let access = Access::load()?;
    let info = files::FileInfo {
        id: upload.id,
        name: upload.name.clone(),
        content_type: upload.content_type.clone(),
        size: upload.size,
        sha256: String::new(),
        created_by: caller.user_id,
        created_at: 0,
    };
    match attach(caller, &access, article_id, &info) {
        Ok(_) => Ok(Outcome::success(t.uploaded(&upload.name))),
        Err(e) => {
            files::delete(upload.id)?;
            articles::as_notice(Err(e))
        }
    }
}

/// `POST /articles/{id}/attachments?name=…` with the file as the body and its type as the
/// `content-type` header.
pub fn upload_from_api(caller: &Caller, request: &Request, article_id: Id) -> Result<Response> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let article = articles::readable(&access, t, article_id)?;
    access.require_edit(t, article.fields.category_id)?;
    let name = request.query_param("name").map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Err(Error::invalid(
            t.pick("请用 name 参数给出文件名。", "Give the file's name as the `name` parameter."),
        ));
    };
    let size = request.body.len() as u64;
    if size > max_bytes() {
        return Ok(too_large(&too_big(t, &name, size)));
    }
    if size == 0 {
        return Err(Error::invalid(t.pick("文件是空的。", "The file is empty.")));
    }
    let content_type = request.header("content-type").unwrap_or("application/octet-stream");
    let file = files::put(&name, content_type, &request.body)?;
    match attach(caller, &access, article_id, &file) {
        Ok(a) => Ok(Response::json(201, &to_json(&a))),
        Err(e) => {
            files::delete(file.id)?;
            Err(e)
        }
    }
}

/// A refusal for size: 413 with the message people read.
pub fn too_large(e: &Error) -> Response {
    let mut r = Response::error(e);
    r.status = 413;
    r
}

pub fn to_json(a: &Typed<Attachment>) -> Value {
    json!({
        "id": a.id,
        "article_id": a.fields.article_id,
        "file_id": a.fields.file_id,
        "name": a.fields.name,
        "content_type": a.fields.content_type,
        "size": a.fields.size,
        "url": format!("/api/plugins/knowledge-base/files/{}", a.fields.file_id),
    })
}

/// The attachment of a file, if the user may read its article.
fn readable_by_file(caller: &Caller, access: &Access, file_id: Id) -> Result<Typed<Attachment>> {
    let t = Text::of(caller);
    let (found, _) = records::find_typed::<Attachment>(&Query::new(ATTACHMENT).eq("file_id", file_id).limit(1))?;
    let a = found.into_iter().next().ok_or_else(|| Error::not_found(t.not_found()))?;
    articles::readable(access, t, a.fields.article_id)?;
    Ok(a)
}

/// `GET /files/{id}`: the file as a download, never shown inline (an HTML or SVG file from
/// a user must not run in the CRM's origin).
pub fn download(caller: &Caller, file_id: Id) -> Result<Response> {
    let access = Access::load()?;
    let a = readable_by_file(caller, &access, file_id)?;
    let bytes = files::read(file_id)?;
    let content_type =
        if a.fields.content_type.is_empty() { "application/octet-stream" } else { &a.fields.content_type };
    Ok(Response { status: 200, headers: Vec::new(), body: bytes }
        .with_header("content-type", content_type)
        .with_header("content-disposition", content_disposition(&a.fields.name))
        .with_header("x-content-type-options", "nosniff")
        .with_header("content-security-policy", "sandbox")
        .with_header("cache-control", "private, no-store"))
}

/// `attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub fn content_disposition(name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => encoded.push(b as char),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Deletes an attachment and its file.
pub fn delete(caller: &Caller, attachment_id: Id) -> Result<()> {
    let t = Text::of(caller);
    let access = Access::load()?;
    let a = records::get_typed::<Attachment>(ATTACHMENT, attachment_id).map_err(|_| Error::not_found(t.not_found()))?;
    let article = articles::readable(&access, t, a.fields.article_id)?;
    access.require_edit(t, article.fields.category_id)?;
    files::delete(a.fields.file_id)?;
    records::delete(ATTACHMENT, attachment_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_go_out_encoded_with_an_ascii_fallback() {
        assert_eq!(
            content_disposition("售后手册 v2.pdf"),
            "attachment; filename=\"____ v2.pdf\"; filename*=UTF-8''%E5%94%AE%E5%90%8E%E6%89%8B%E5%86%8C%20v2.pdf"
        );
        assert_eq!(
            content_disposition("a\"b\r\n.txt"),
            "attachment; filename=\"a_b__.txt\"; filename*=UTF-8''a%22b%0D%0A.txt"
        );
    }
}
