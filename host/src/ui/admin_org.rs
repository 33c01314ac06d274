//! Placeholder: filled in by the page module's author.

use axum::Router;

use super::i18n::Strings;
use crate::web::AppState;

/// The strings of these pages: key, English, Chinese.
pub(super) const STRINGS: Strings = &[];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
