//! The organisation's custom fields on the customer pages: inputs drawn from their
//! definitions on the new and edit forms, the values read back typed, and the values shown
//! on the customer's card.

use serde_json::{Map, Value};

use super::{Choice, FormFields, Lang};
use crate::customers::fields::{CustomField, FieldKind};
use crate::error::Error;
use crate::org::users::Colleague;

/// One custom field of a customer form.
pub struct CustomInput {
    /// The form name, `custom.<key>`.
    pub name: String,
    /// The element id, `custom-<key>`.
    pub id: String,
    pub label: String,
    /// `text`, `number`, `date`, `option`, `multi_option` or `user`.
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    pub choices: Vec<Choice>,
}

fn form_name(field: &CustomField) -> String {
    format!("custom.{}", field.key)
}

/// The inputs of the organisation's active custom fields, filled from `form`.
pub fn inputs(fields: &[CustomField], form: &FormFields, lang: Lang, people: &[Colleague]) -> Vec<CustomInput> {
    fields
        .iter()
        .filter(|f| f.active)
        .map(|f| {
            let name = form_name(f);
            let chosen: Vec<&str> = form.all(&name).collect();
            let choices = match f.kind {
                FieldKind::Option | FieldKind::MultiOption => f
                    .options
                    .iter()
                    .map(|o| Choice {
                        value: o.value.clone(),
                        label: lang.pick(&o.label_en, &o.label_zh).to_owned(),
                        selected: chosen.contains(&o.value.as_str()),
                    })
                    .collect(),
                FieldKind::User => people
                    .iter()
                    .filter(|u| u.active || chosen.contains(&u.id.to_string().as_str()))
                    .map(|u| Choice {
                        value: u.id.to_string(),
                        label: u.display_name.clone(),
                        selected: chosen.contains(&u.id.to_string().as_str()),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            CustomInput {
                id: format!("custom-{}", f.key),
                value: form.get(&name).to_owned(),
                name,
                label: lang.pick(&f.label_en, &f.label_zh).to_owned(),
                kind: f.kind.as_str(),
                required: f.required,
                choices,
            }
        })
        .collect()
}

/// A customer's stored custom values as form fields (a multi-option field gives one pair per
/// chosen option).
pub fn form_values(fields: &[CustomField], custom: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for f in fields {
        match custom.get(&f.key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                pairs.extend(items.iter().filter_map(Value::as_str).map(|v| (form_name(f), v.to_owned())));
            }
            Some(Value::String(s)) => pairs.push((form_name(f), s.clone())),
            Some(other) => pairs.push((form_name(f), other.to_string())),
        }
    }
    pairs
}

/// The custom values of a posted form, typed by their fields. On a new customer an empty
/// input is left out; on an edit it clears the value (`null`).
pub fn read(
    fields: &[CustomField],
    form: &FormFields,
    lang: Lang,
    clearing: bool,
) -> Result<Map<String, Value>, Error> {
    let mut values = Map::new();
    for f in fields.iter().filter(|f| f.active) {
        let name = form_name(f);
        let label = lang.pick(&f.label_en, &f.label_zh);
        let value = if f.kind == FieldKind::MultiOption {
            let chosen: Vec<Value> =
                form.all(&name).filter(|v| !v.is_empty()).map(|v| Value::String(v.to_owned())).collect();
            if chosen.is_empty() { Value::Null } else { Value::Array(chosen) }
        } else {
            let raw = form.get(&name).trim();
            if raw.is_empty() {
                Value::Null
            } else {
                match f.kind {
                    FieldKind::Number => super::typed_number(raw)
                        .ok_or_else(|| Error::invalid("custom", format!("{label}: {}", lang.t("form.not_a_number"))))?,
                    FieldKind::User => Value::from(raw.parse::<i64>().map_err(|_| {
                        Error::invalid("custom", format!("{label}: {}", lang.t("customers.choose_colleague")))
                    })?),
                    _ => Value::String(raw.to_owned()),
                }
            }
        };
        if clearing || !value.is_null() {
            values.insert(f.key.clone(), value);
        }
    }
    Ok(values)
}

/// A customer's custom values as the card shows them: label and text, options by their
/// labels, colleagues by name.
pub fn card(
    fields: &[CustomField],
    custom: &Map<String, Value>,
    lang: Lang,
    people: &[Colleague],
) -> Vec<(String, String)> {
    let option_label = |f: &CustomField, v: &str| {
        f.options
            .iter()
            .find(|o| o.value == v)
            .map_or_else(|| v.to_owned(), |o| lang.pick(&o.label_en, &o.label_zh).to_owned())
    };
    fields
        .iter()
        .filter_map(|f| {
            let text = match (f.kind, custom.get(&f.key)?) {
                (_, Value::Null) => return None,
                (FieldKind::MultiOption, Value::Array(items)) => {
                    items.iter().filter_map(Value::as_str).map(|v| option_label(f, v)).collect::<Vec<_>>().join(", ")
                }
                (FieldKind::Option, Value::String(v)) => option_label(f, v),
                (FieldKind::User, Value::Number(n)) => {
                    let id = n.as_i64()?;
                    people.iter().find(|u| u.id == id).map_or_else(|| id.to_string(), |u| u.display_name.clone())
                }
                (FieldKind::Number, Value::Number(n)) => match n.as_i64() {
                    Some(i) => lang.number(i),
                    None => n.to_string(),
                },
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            (!text.is_empty()).then(|| (lang.pick(&f.label_en, &f.label_zh).to_owned(), text))
        })
        .collect()
}
