//! Changing one customer from its page: editing its card (guarded by its version, so a
//! concurrent edit is reported, not overwritten), sharing it with a colleague, and merging a
//! duplicate into it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::custom_inputs::{self, CustomInput};
use super::customers::{choices, tag_list};
use super::{Choice, Chrome, FormFields, Posted, UiError, Viewer, render_with, see_other};
use crate::access::{Action, ShareLevel};
use crate::customers::fields::CustomField;
use crate::customers::operations::{self, NewShare};
use crate::customers::{self, CustomerPatch, PhoneInput, options};
use crate::error::Error;
use crate::org::users;
use crate::store::Id;
use crate::web::AppState;

#[derive(Template)]
#[template(path = "customer_edit.html")]
struct EditPage {
    chrome: Chrome,
    id: Id,
    version: i64,
    form: FormFields,
    levels: Vec<Choice>,
    statuses: Vec<Choice>,
    sources: Vec<Choice>,
    industries: Vec<Choice>,
    regions: Vec<Choice>,
    custom: Vec<CustomInput>,
    /// The one phone the form edits; the field is shown only when the customer has at most
    /// one, so an edit never drops the others.
    phone_editable: bool,
    phones: String,
    error: Option<String>,
    /// The field a refusal was about, marked in the form.
    error_field: String,
}

/// The form's values: as typed when it comes back refused, or the customer's own.
fn values_of(c: &customers::Customer, custom_fields: &[CustomField]) -> FormFields {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut values = FormFields(
        [
            ("name", c.name.clone()),
            ("kind", c.kind.clone()),
            ("level", opt(&c.level)),
            ("status", opt(&c.status)),
            ("source", opt(&c.source)),
            ("industry", opt(&c.industry)),
            ("region", opt(&c.region)),
            ("address", opt(&c.address)),
            ("website", opt(&c.website)),
            ("tags", c.tags.join(", ")),
            ("notes", c.notes.clone()),
            ("phone", c.phones.first().map(|p| p.number.clone()).unwrap_or_default()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    );
    values.0.extend(custom_inputs::form_values(custom_fields, &c.custom));
    values
}

async fn edit_page(
    state: &AppState,
    viewer: Viewer,
    id: Id,
    typed: Option<FormFields>,
    error: Option<(String, Option<&'static str>)>,
) -> Result<Response, UiError> {
    let lang = viewer.lang();
    let c = customers::get(&state.store, &viewer.access, id, Action::Edit).await?;
    let options = options::list(&state.store, viewer.org_id(), None).await?;
    let custom_fields = customers::fields::list(&state.store, viewer.org_id()).await?;
    let people = users::colleagues(&state.store, viewer.org_id()).await?;
    let form = typed.unwrap_or_else(|| values_of(&c, &custom_fields));
    let page = EditPage {
        id,
        version: c.version,
        levels: choices(&options, "level", lang, form.get("level")),
        statuses: choices(&options, "status", lang, form.get("status")),
        sources: choices(&options, "source", lang, form.get("source")),
        industries: choices(&options, "industry", lang, form.get("industry")),
        regions: choices(&options, "region", lang, form.get("region")),
        custom: custom_inputs::inputs(&custom_fields, &form, lang, &people),
        phone_editable: c.phones.len() <= 1,
        phones: c.phones.iter().map(|p| p.number.as_str()).collect::<Vec<_>>().join(", "),
        form,
        chrome: viewer.chrome(&c.name, "/customers"),
        error_field: error.as_ref().and_then(|e| e.1).unwrap_or("").to_owned(),
        error: error.map(|e| e.0),
    };
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render_with(status, &page))
}

pub async fn edit_form(State(state): State<AppState>, viewer: Viewer, Path(id): Path<Id>) -> Result<Response, UiError> {
    edit_page(&state, viewer, id, None, None).await
}

pub async fn save(State(state): State<AppState>, Path(id): Path<Id>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let saved = async {
        let version =
            form.get("version").parse::<i64>().map_err(|_| Error::invalid("version", "the form lost its version"))?;
        let current = customers::get(&state.store, &viewer.access, id, Action::Edit).await?;
        let custom_fields = customers::fields::list(&state.store, viewer.org_id()).await?;
        let custom = custom_inputs::read(&custom_fields, &form, viewer.lang(), true)?;
        let patch = CustomerPatch {
            custom: (!custom.is_empty()).then_some(custom),
            name: Some(form.get("name").to_owned()),
            kind: form.opt("kind"),
            level: Some(form.opt("level")),
            status: Some(form.opt("status")),
            source: Some(form.opt("source")),
            industry: Some(form.opt("industry")),
            region: Some(form.opt("region")),
            address: Some(form.opt("address")),
            website: Some(form.opt("website")),
            tags: Some(tag_list(form.get("tags"))),
            notes: Some(form.get("notes").to_owned()),
            phones: (current.phones.len() <= 1).then(|| {
                form.opt("phone").map(|number| vec![PhoneInput { label: "office".into(), number }]).unwrap_or_default()
            }),
            version: Some(version),
            ..Default::default()
        };
        customers::update(&state.store, &viewer.access, id, &patch).await
    }
    .await;
    match saved {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?notice=customers.saved"))),
        Err(Error::Invalid { message, field }) => {
            edit_page(&state, viewer, id, Some(form), Some((message, field))).await
        }
        Err(Error::Conflict(_)) => {
            let message = viewer.lang().t("customer.edited_meanwhile").to_owned();
            edit_page(&state, viewer, id, Some(form), Some((message, None))).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn share(State(state): State<AppState>, Path(id): Path<Id>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let user_id = form.get("user_id").parse::<Id>().map_err(|_| Error::invalid("user_id", "choose a colleague"))?;
    let level = if form.get("level") == "edit" { ShareLevel::Edit } else { ShareLevel::Read };
    operations::share(
        &state.store,
        &viewer.access,
        id,
        &NewShare { user_id: Some(user_id), department_id: None, level },
    )
    .await?;
    Ok(see_other(&format!("/customers/{id}?notice=customer.shared")))
}

pub async fn unshare(
    State(state): State<AppState>,
    Path((id, share_id)): Path<(Id, Id)>,
    posted: Posted,
) -> Result<Response, UiError> {
    operations::unshare(&state.store, &posted.viewer.access, id, share_id).await?;
    Ok(see_other(&format!("/customers/{id}?notice=customer.unshared")))
}

/// Merges the duplicate `from` into this customer: its contacts, timeline and phones come over
/// and it is gone.
pub async fn merge(State(state): State<AppState>, Path(id): Path<Id>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let from = form.get("from").parse::<Id>().map_err(|_| Error::invalid("from", "choose the duplicate to merge"))?;
    operations::merge(&state.store, &viewer.access, id, &[from]).await?;
    Ok(see_other(&format!("/customers/{id}?notice=customer.merged")))
}
