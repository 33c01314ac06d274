//! Declarative UI: a plugin describes pages, customer panels and dashboard widgets as a list
//! of blocks, and the host draws them with its own templates. No plugin HTML or script reaches
//! the browser.
//!
//! ```
//! use tessera_sdk::ui::{Action, Field, Form, Page, Table};
//!
//! let page = Page::new("Notes")
//!     .heading("Recent notes")
//!     .table(
//!         Table::new()
//!             .column("title", "Title")
//!             .row("7", ["Call back on Monday"])
//!             .row_action(Action::danger("delete", "Delete")),
//!     )
//!     .form(Form::new(Action::primary("add", "Add")).field(Field::text("title", "Title").required()));
//! assert_eq!(page.blocks.len(), 3);
//! ```
//!
//! Submitting a form or pressing an action calls [`Plugin::act`](crate::Plugin::act), which
//! answers with an [`Outcome`].

use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::ui::{
    Action, Block, Chart, Column, Field, Form, Outcome, Page, RenderRequest, Stat, Table,
};
use crate::{Error, Id, Result, from_json};

/// Reads the values of a submitted form (the `input` of `act`) into a type of the plugin's own.
pub fn input_as<T: DeserializeOwned>(input: &str) -> Result<T> {
    from_json("form input", input)
}

impl Page {
    /// An empty page with a title.
    pub fn new(title: impl Into<String>) -> Page {
        Page { title: title.into(), blocks: Vec::new() }
    }

    /// The page with one more block.
    pub fn block(mut self, block: Block) -> Page {
        self.blocks.push(block);
        self
    }

    /// A heading.
    pub fn heading(self, text: impl Into<String>) -> Page {
        self.block(Block::Heading(text.into()))
    }

    /// A paragraph of Markdown; the host sanitizes it.
    pub fn text(self, markdown: impl Into<String>) -> Page {
        self.block(Block::Text(markdown.into()))
    }

    /// Labelled values, e.g. the fields of one record.
    pub fn key_values<K: Into<String>, V: Into<String>>(self, pairs: impl IntoIterator<Item = (K, V)>) -> Page {
        self.block(Block::KeyValues(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()))
    }

    /// A table.
    pub fn table(self, table: Table) -> Page {
        self.block(Block::Table(table))
    }

    /// A form.
    pub fn form(self, form: Form) -> Page {
        self.block(Block::Form(form))
    }

    /// A row of stat cards.
    pub fn stats(self, stats: impl IntoIterator<Item = Stat>) -> Page {
        self.block(Block::Stats(stats.into_iter().collect()))
    }

    /// A chart.
    pub fn chart(self, chart: Chart) -> Page {
        self.block(Block::Chart(chart))
    }

    /// A row of buttons.
    pub fn actions(self, actions: impl IntoIterator<Item = Action>) -> Page {
        self.block(Block::Actions(actions.into_iter().collect()))
    }

    /// A notice: `level` is `info`, `success`, `warning` or `error`.
    pub fn notice(self, level: impl Into<String>, text: impl Into<String>) -> Page {
        self.block(Block::Notice((level.into(), text.into())))
    }
}

impl Action {
    /// An action in the default style.
    pub fn new(name: impl Into<String>, label: impl Into<String>) -> Action {
        Action { name: name.into(), label: label.into(), style: "default".into(), argument: None }
    }

    /// The page's main action.
    pub fn primary(name: impl Into<String>, label: impl Into<String>) -> Action {
        Action::new(name, label).style("primary")
    }

    /// A destructive action; the host asks for confirmation.
    pub fn danger(name: impl Into<String>, label: impl Into<String>) -> Action {
        Action::new(name, label).style("danger")
    }

    /// The action in another style: `primary`, `default` or `danger`.
    pub fn style(mut self, style: impl Into<String>) -> Action {
        self.style = style.into();
        self
    }

    /// The action with an argument passed to `act` (a table's row actions get the row id
    /// instead).
    pub fn argument(mut self, argument: impl Into<String>) -> Action {
        self.argument = Some(argument.into());
        self
    }
}

impl Table {
    /// A table without columns or rows.
    pub fn new() -> Table {
        Table::default()
    }

    /// One more column; `key` names it, `label` is its header.
    pub fn column(mut self, key: impl Into<String>, label: impl Into<String>) -> Table {
        self.columns.push(Column { key: key.into(), label: label.into() });
        self
    }

    /// One more row: the id its row actions receive, and one cell per column.
    pub fn row<S: Into<String>>(mut self, id: impl Into<String>, cells: impl IntoIterator<Item = S>) -> Table {
        self.row_ids.push(id.into());
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// One more action offered on every row.
    pub fn row_action(mut self, action: Action) -> Table {
        self.row_actions.push(action);
        self
    }

    /// The cursor of the next page, passed back to `render` as the `cursor` parameter.
    pub fn next(mut self, cursor: Option<String>) -> Table {
        self.next = cursor;
        self
    }
}

impl Form {
    /// A form without fields; submitting it calls `act` with `submit`'s name.
    pub fn new(submit: Action) -> Form {
        Form { submit, fields: Vec::new() }
    }

    /// One more field.
    pub fn field(mut self, field: Field) -> Form {
        self.fields.push(field);
        self
    }
}

impl Field {
    /// A field of any kind: `text`, `textarea`, `number`, `date`, `datetime`, `select`,
    /// `checkbox`, `user` or `customer`.
    pub fn new(name: impl Into<String>, label: impl Into<String>, kind: impl Into<String>) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind: kind.into(),
            required: false,
            options: Vec::new(),
            value: None,
            help: None,
        }
    }

    /// A one-line text input.
    pub fn text(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "text")
    }

    /// A multi-line text input.
    pub fn textarea(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "textarea")
    }

    /// A number input.
    pub fn number(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "number")
    }

    /// A date input (`YYYY-MM-DD`).
    pub fn date(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "date")
    }

    /// A date-and-time input.
    pub fn datetime(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "datetime")
    }

    /// A checkbox.
    pub fn checkbox(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "checkbox")
    }

    /// A picker of the organisation's users.
    pub fn user(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "user")
    }

    /// A picker of customers.
    pub fn customer(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "customer")
    }

    /// The device's position, asked of the browser when the form is shown: the value arrives
    /// as `{"lat": .., "lon": .., "accuracy-m": ..}`, or is absent when the user or the device
    /// declined (read it with [`crate::context::Location`]). Since API 0.1.3.
    pub fn location(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "location")
    }

    /// A file to upload: the host stores it among the plugin's files (capability `files`)
    /// before `act` is called, and the value reads with [`crate::files::Upload::from_input`].
    /// Since API 0.1.4.
    pub fn file(name: impl Into<String>, label: impl Into<String>) -> Field {
        Field::new(name, label, "file")
    }

    /// A choice among `(value, label)` options.
    pub fn select<V: Into<String>, L: Into<String>>(
        name: impl Into<String>,
        label: impl Into<String>,
        options: impl IntoIterator<Item = (V, L)>,
    ) -> Field {
        let mut field = Field::new(name, label, "select");
        field.options = options.into_iter().map(|(v, l)| (v.into(), l.into())).collect();
        field
    }

    /// The field must be filled in.
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    /// The field's current value: `"text"`, `42`, `true`, …
    pub fn value(mut self, value: impl Into<serde_json::Value>) -> Field {
        self.value = Some(value.into().to_string());
        self
    }

    /// A hint shown under the field.
    pub fn help(mut self, help: impl Into<String>) -> Field {
        self.help = Some(help.into());
        self
    }
}

impl Stat {
    /// A number with a label.
    pub fn new(label: impl Into<String>, value: impl ToString) -> Stat {
        Stat { label: label.into(), value: value.to_string(), hint: None }
    }

    /// A hint under the number, e.g. "+3 this week".
    pub fn hint(mut self, hint: impl Into<String>) -> Stat {
        self.hint = Some(hint.into());
        self
    }
}

impl Chart {
    /// A chart of `kind` (`bar`, `line` or `pie`) over these labels, without series.
    pub fn new<S: Into<String>>(kind: impl Into<String>, labels: impl IntoIterator<Item = S>) -> Chart {
        Chart { kind: kind.into(), labels: labels.into_iter().map(Into::into).collect(), series: Vec::new() }
    }

    /// A bar chart.
    pub fn bar<S: Into<String>>(labels: impl IntoIterator<Item = S>) -> Chart {
        Chart::new("bar", labels)
    }

    /// A line chart.
    pub fn line<S: Into<String>>(labels: impl IntoIterator<Item = S>) -> Chart {
        Chart::new("line", labels)
    }

    /// A pie chart.
    pub fn pie<S: Into<String>>(labels: impl IntoIterator<Item = S>) -> Chart {
        Chart::new("pie", labels)
    }

    /// One more series: a name and one value per label.
    pub fn series(mut self, name: impl Into<String>, values: impl IntoIterator<Item = f64>) -> Chart {
        self.series.push((name.into(), values.into_iter().collect()));
        self
    }
}

impl Outcome {
    /// Shows the page again with a notice: `level` is `success`, `info`, `warning` or `error`.
    pub fn notice(level: impl Into<String>, text: impl Into<String>) -> Outcome {
        Outcome::Notice((level.into(), text.into()))
    }

    /// Shows the page again with a success notice.
    pub fn success(text: impl Into<String>) -> Outcome {
        Outcome::notice("success", text)
    }

    /// Shows the page again with an informative notice.
    pub fn info(text: impl Into<String>) -> Outcome {
        Outcome::notice("info", text)
    }

    /// Shows the page again with a warning.
    pub fn warning(text: impl Into<String>) -> Outcome {
        Outcome::notice("warning", text)
    }

    /// Shows the page again with an error notice.
    pub fn error(text: impl Into<String>) -> Outcome {
        Outcome::notice("error", text)
    }

    /// Goes to a link inside the CRM, e.g. `/customers/42`.
    pub fn redirect(link: impl Into<String>) -> Outcome {
        Outcome::Redirect(link.into())
    }

    /// Shows the form again with messages by field name.
    pub fn invalid<F: Into<String>, M: Into<String>>(errors: impl IntoIterator<Item = (F, M)>) -> Outcome {
        Outcome::Invalid(errors.into_iter().map(|(f, m)| (f.into(), m.into())).collect())
    }
}

impl RenderRequest {
    /// A request to render `target`; for tests.
    pub fn new(target: impl Into<String>) -> RenderRequest {
        RenderRequest { target: target.into(), customer_id: None, params: Vec::new() }
    }

    /// A page parameter (a filter, `cursor`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }

    /// The table cursor the page was asked to continue from.
    pub fn cursor(&self) -> Option<&str> {
        self.param("cursor")
    }

    /// The customer of a customer panel; not-found when the request has none.
    pub fn require_customer(&self) -> Result<Id> {
        self.customer_id
            .ok_or_else(|| Error::not_found(format!("{} is shown on a customer, and none was given", self.target)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_its_blocks_in_order() {
        let page = Page::new("Items")
            .heading("Open items")
            .text("*Today*")
            .key_values([("Owner", "王芳")])
            .stats([Stat::new("Items", 3).hint("+1")])
            .chart(Chart::bar(["Mon", "Tue"]).series("calls", [1.0, 2.0]))
            .actions([Action::primary("sync", "Sync now")])
            .notice("info", "Synced");
        assert_eq!(page.title, "Items");
        assert_eq!(
            page.blocks,
            [
                Block::Heading("Open items".into()),
                Block::Text("*Today*".into()),
                Block::KeyValues(vec![("Owner".into(), "王芳".into())]),
                Block::Stats(vec![Stat { label: "Items".into(), value: "3".into(), hint: Some("+1".into()) }]),
                Block::Chart(Chart {
                    kind: "bar".into(),
                    labels: vec!["Mon".into(), "Tue".into()],
                    series: vec![("calls".into(), vec![1.0, 2.0])]
                }),
                Block::Actions(vec![Action {
                    name: "sync".into(),
                    label: "Sync now".into(),
                    style: "primary".into(),
                    argument: None
                }]),
                Block::Notice(("info".into(), "Synced".into())),
            ]
        );
    }

    #[test]
    fn a_table_pairs_each_row_with_its_id() {
        let table = Table::new()
            .column("title", "Title")
            .column("status", "Status")
            .row("1", ["a", "open"])
            .row("2", vec![String::from("b"), String::from("done")])
            .row_action(Action::new("done", "Done"))
            .next(Some("c2".into()));
        assert_eq!(table.columns.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["title", "status"]);
        assert_eq!(table.row_ids, ["1", "2"]);
        assert_eq!(table.rows[1], ["b", "done"]);
        assert_eq!((table.row_actions[0].style.as_str(), table.next.as_deref()), ("default", Some("c2")));
    }

    #[test]
    fn form_fields_carry_their_kind_rules_and_values() {
        let form = Form::new(Action::primary("add", "Add"))
            .field(Field::text("title", "Title").required().help("Short"))
            .field(Field::number("amount", "Amount").value(12))
            .field(Field::select("status", "Status", [("open", "Open"), ("done", "Done")]).value("open"));
        assert_eq!(form.submit.name, "add");
        let kinds: Vec<_> = form.fields.iter().map(|f| (f.kind.as_str(), f.required, f.value.as_deref())).collect();
        assert_eq!(kinds, [("text", true, None), ("number", false, Some("12")), ("select", false, Some("\"open\""))]);
        assert_eq!(form.fields[0].help.as_deref(), Some("Short"));
        assert_eq!(form.fields[2].options[1], ("done".to_string(), "Done".to_string()));
    }

    #[test]
    fn outcomes_say_what_happens_next() {
        assert_eq!(Outcome::success("Saved"), Outcome::Notice(("success".into(), "Saved".into())));
        assert_eq!(Outcome::redirect("/customers/4"), Outcome::Redirect("/customers/4".into()));
        assert_eq!(
            Outcome::invalid([("title", "required")]),
            Outcome::Invalid(vec![("title".into(), "required".into())])
        );
        assert_eq!(Action::danger("drop", "Drop").argument("7").argument, Some("7".into()));
    }

    #[test]
    fn a_render_request_gives_its_parameters() {
        let mut request = RenderRequest::new("customer-items");
        request.params.push(("cursor".into(), "c9".into()));
        assert_eq!((request.cursor(), request.param("status")), (Some("c9"), None));
        assert_eq!(request.require_customer().unwrap_err().kind(), "not-found");
        request.customer_id = Some(5);
        assert_eq!(request.require_customer(), Ok(5));
        let input: serde_json::Value = input_as(r#"{"title":"x"}"#).unwrap();
        assert_eq!(input["title"], "x");
    }
}
