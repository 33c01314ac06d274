//! Search (`search?q=`): threads (title and body) and replies that contain the query, across
//! the boards the user may see. The host matches any part of the searchable fields, Chinese of
//! one or two characters too; results from hidden boards are dropped here, never shown.

use std::collections::BTreeSet;

use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::ui::{Action, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Id, Result};

use crate::access::{self, Viewer};
use crate::clock;
use crate::fanout::excerpt;
use crate::home::search_form;
use crate::store::{self, Reply, Thread};
use crate::text::Text;
use crate::threads;

/// The host searches at most this many characters.
pub const MAX_QUERY: usize = 100;
const PAGE: u32 = 50;

pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let viewer = Viewer::current(caller)?;
    let query = request.param("q").map(str::trim).unwrap_or_default().to_owned();
    let mut page = Page::new(t.pick("论坛搜索", "Forum search")).form(search_form(t, &query));
    if query.is_empty() {
        return Ok(page.notice(
            "info",
            t.pick(
                "输入关键词搜索帖子和回复，中文一个字也可以。",
                "Type a word to search threads and replies; a single Chinese character works too.",
            ),
        ));
    }
    if query.chars().count() > MAX_QUERY {
        return Ok(page.notice("error", t.query_too_long(MAX_QUERY)));
    }
    let boards = access::visible_boards(&viewer)?;
    let visible = access::visible_ids(&boards);

    let (found, next) = find_threads(&query, &visible, request.cursor())?;
    let refs: Vec<_> = found.iter().collect();
    page = page
        .heading(t.results(&t.pick("帖子", "Threads"), &query))
        .table(threads::table(t, &viewer, &refs, &boards, next)?);

    let reply_cursor = request.param("rcursor");
    let (replies, reply_next) = find_replies(&query, &visible, reply_cursor)?;
    let titles = thread_titles(replies.iter().map(|r| r.fields.thread_id).collect())?;
    let people = threads::names(replies.iter().map(|r| r.fields.author_id))?;
    let zone = clock::org_zone();
    let mut table = Table::new()
        .column("thread", t.pick("帖子", "Thread"))
        .column("excerpt", t.pick("回复摘要", "Reply"))
        .column("author", t.pick("作者", "Author"))
        .column("at", t.pick("时间", "Posted"));
    for reply in &replies {
        let r = &reply.fields;
        let title =
            titles.iter().find(|(id, _)| *id == r.thread_id).map(|(_, title)| title.clone()).unwrap_or_default();
        table = table.row(
            r.thread_id.to_string(),
            [
                title,
                excerpt(&r.body, 80),
                threads::name_in(&people, r.author_id),
                clock::format(reply.created_at, &zone),
            ],
        );
    }
    page = page
        .heading(t.results(&t.pick("回复", "Replies"), &query))
        .table(table.row_action(Action::primary("open", t.pick("查看", "Open"))));
    if let Some(next) = reply_next {
        page = page.text(format!(
            "[{}](/p/forum/search?q={}&rcursor={})",
            t.pick("更多回复", "More replies"),
            crate::encode(&query),
            crate::encode(&next)
        ));
    }
    Ok(page)
}

/// A page of threads of visible boards that contain the query.
pub fn find_threads(
    query: &str,
    visible: &BTreeSet<Id>,
    cursor: Option<&str>,
) -> Result<(Vec<Typed<Thread>>, Option<String>)> {
    let mut q = Query::new("thread").text(query).limit(PAGE);
    if let Some(c) = cursor {
        q = q.cursor(c);
    }
    let (found, next) = records::find_typed::<Thread>(&q)?;
    Ok((found.into_iter().filter(|th| visible.contains(&th.fields.board_id)).collect(), next))
}

/// A page of replies of visible boards that contain the query.
pub fn find_replies(
    query: &str,
    visible: &BTreeSet<Id>,
    cursor: Option<&str>,
) -> Result<(Vec<Typed<Reply>>, Option<String>)> {
    let mut q = Query::new("reply").text(query).limit(PAGE);
    if let Some(c) = cursor {
        q = q.cursor(c);
    }
    let (found, next) = records::find_typed::<Reply>(&q)?;
    Ok((found.into_iter().filter(|r| visible.contains(&r.fields.board_id)).collect(), next))
}

fn thread_titles(mut ids: Vec<Id>) -> Result<Vec<(Id, String)>> {
    ids.sort_unstable();
    ids.dedup();
    let mut titles = Vec::new();
    for id in ids {
        if let Some(th) = store::thread(id)? {
            titles.push((id, th.fields.title));
        }
    }
    Ok(titles)
}
