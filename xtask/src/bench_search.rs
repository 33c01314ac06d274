//! Search over a large knowledge base and a busy forum: `ARTICLES` knowledge-base articles and
//! `POSTS` forum posts (threads and replies) of generated Chinese text with English words among
//! it, written through `tessera records import` (the same checks and search texts as the
//! plugins' own writes), then searched through the plugins' search APIs as a signed-in user
//! would: Chinese queries of one, two and three or more characters and English words, common
//! and rare ones and one that matches nothing. Each query is asked `ROUNDS` times, one request
//! at a time; the figures are per query class.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::bench::{ADMIN_PASSWORD, Server, http, install_plugin, make_token, query_db, start_server_with};
use crate::bench_events::percentile;

/// How often each query is asked.
const ROUNDS: usize = 60;

/// A query and its class.
const QUERIES: &[(&str, &str)] = &[
    ("zh-1", "售"),
    ("zh-1", "鑫"),
    ("zh-1", "龘"),
    ("zh-2", "合同"),
    ("zh-2", "鑫源"),
    ("zh-2", "报价"),
    ("zh-3+", "售后服务"),
    ("zh-3+", "退款流程"),
    ("zh-3+", "华东区域经理"),
    ("en", "refund"),
    ("en", "warranty"),
    ("en", "invoice"),
];

/// Words the text is made of. One in a thousand texts gets the rare words.
const WORDS: &[&str] = &[
    "客户",
    "售后服务",
    "合同",
    "报价",
    "产品",
    "价格",
    "发票",
    "订单",
    "交付",
    "安装",
    "培训",
    "维修",
    "保修",
    "退款",
    "流程",
    "审批",
    "经理",
    "销售",
    "区域",
    "华东",
    "华北",
    "华南",
    "渠道",
    "代理",
    "竞品",
    "优势",
    "劣势",
    "方案",
    "需求",
    "预算",
    "采购",
    "招标",
    "投标",
    "回款",
    "账期",
    "续约",
    "升级",
    "版本",
    "功能",
    "接口",
    "数据",
    "报表",
    "系统",
    "部署",
    "云端",
    "本地",
    "服务器",
    "网络",
    "安全",
    "权限",
    "客服",
    "热线",
    "投诉",
    "建议",
    "满意度",
    "回访",
    "拜访",
    "会议",
    "演示",
    "试用",
    "折扣",
    "促销",
    "活动",
    "市场",
    "品牌",
    "推广",
    "线索",
    "商机",
    "跟进",
    "的",
    "了",
    "和",
    "在",
    "是",
    "请",
    "已经",
    "需要",
    "可以",
    "我们",
    "您好",
    "谢谢",
    "问题",
    "解决",
    "处理",
    "refund",
    "invoice",
    "order",
    "price",
    "quote",
    "contract",
    "support",
    "upgrade",
    "api",
    "report",
    "crm",
];
const RARE: &[&str] = &["鑫源科技", "warranty"];

/// A deterministic generator (xorshift), so that every run writes the same texts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A text of `words` words, with the rare words now and then.
    fn text(&mut self, words: usize) -> String {
        let mut out = String::new();
        for i in 0..words {
            let word = WORDS[self.below(WORDS.len())];
            if word.is_ascii() && !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            if word.is_ascii() {
                out.push(' ');
            }
            if i % 9 == 8 {
                out.push('，');
            }
        }
        if self.below(1000) == 0 {
            out.push_str(RARE[self.below(RARE.len())]);
        }
        out.push('。');
        out
    }
}

/// One body of text to search, as a plugin stores it.
pub struct Corpus {
    pub plugin: &'static str,
    pub entity: &'static str,
    pub what: &'static str,
    pub count: usize,
    /// The search API, `{q}` standing for the query.
    pub search: &'static str,
    /// The fields of record `i` around a generated title and body.
    pub fields: fn(i: usize, title: &str, body: &str, context: &[i64]) -> serde_json::Value,
    /// Words in a body.
    pub body_words: usize,
    /// The matches an answer of the search API shows.
    pub found: fn(&str) -> usize,
}

/// The figures of one corpus on one backend.
pub struct Figures {
    pub what: &'static str,
    pub count: usize,
    pub load_secs: f64,
    /// Per query class: (class, p50 ms, p99 ms, matches of the first page, summed).
    pub classes: Vec<(String, f64, f64, usize)>,
}

/// Writes the corpus as JSON Lines (once; kept in `target/bench-data`).
fn data_file(corpus: &Corpus, context: &[i64]) -> Result<PathBuf> {
    let dir = crate::root().join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let refs = context.iter().map(i64::to_string).collect::<Vec<_>>().join("-");
    let path = dir.join(format!("{}-{}-{}-{refs}.jsonl", corpus.plugin, corpus.entity, corpus.count));
    if path.is_file() {
        return Ok(path);
    }
    let partial = path.with_extension("partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    let mut rng = Rng(0x5eed_0000 + corpus.count as u64);
    for i in 0..corpus.count {
        let title = rng.text(4);
        let words = corpus.body_words / 2 + rng.below(corpus.body_words);
        let body = rng.text(words);
        let fields = (corpus.fields)(i, &title, &body, context);
        writeln!(out, "{}", serde_json::json!({ "fields": fields }))?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

/// Imports a JSON Lines file of records with `tessera records import`; answers the seconds it
/// took.
fn import(binary: &Path, server: &Server, plugin: &str, entity: &str, file: &Path) -> Result<f64> {
    let started = Instant::now();
    let out = std::process::Command::new(binary)
        .args(["records", "import", "--org", "demo", "--plugin", plugin, "--entity", entity])
        .args(&server.db_args)
        .arg(file)
        .output()?;
    ensure!(out.status.success(), "importing {plugin} {entity}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(started.elapsed().as_secs_f64())
}

/// Asks every query `ROUNDS` times through the corpus's search API.
fn measure(server: &Server, bearer: &str, corpus: &Corpus) -> Result<Vec<(String, f64, f64, usize)>> {
    let mut classes: Vec<(String, Vec<f64>, usize)> = Vec::new();
    for (class, q) in QUERIES {
        let path = corpus.search.replace("{q}", &encode(q));
        let (status, body) = http(server.addr, "GET", &path, &[("Authorization", bearer)], None)?;
        ensure!(status == 200, "{path}: {status} {body}");
        let found = (corpus.found)(&body);
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let (status, _) = http(server.addr, "GET", &path, &[("Authorization", bearer)], None)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            ensure!(status == 200, "{path}: {status}");
        }
        match classes.iter_mut().find(|(c, _, _)| c == class) {
            Some((_, all, n)) => {
                all.extend(times);
                *n += found;
            }
            None => classes.push((class.to_string(), times, found)),
        }
        println!("    {class} {q}: {found} on the first page");
    }
    Ok(classes
        .into_iter()
        .map(|(class, mut times, found)| {
            times.sort_by(f64::total_cmp);
            (class, percentile(&times, 50.0), percentile(&times, 99.0), found)
        })
        .collect())
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Loads and searches the corpora on one backend.
pub fn run(binary: &Path, backend: &str, corpora: &[Corpus]) -> Result<Vec<Figures>> {
    let packages = crate::plugins::build_plugins()?;
    let server = start_server_with(binary, backend, true)?;
    let token = make_token(server.addr, "admin", ADMIN_PASSWORD)?;
    let bearer = format!("Bearer {token}");
    let mut installed: Vec<&str> = Vec::new();
    for corpus in corpora {
        if installed.contains(&corpus.plugin) {
            continue;
        }
        let manifest = std::fs::read_to_string(crate::root().join("plugins").join(corpus.plugin).join("plugin.toml"))
            .or_else(|_| std::fs::read_to_string(crate::root().join("plugins/template/plugin.toml")))?;
        let manifest: toml::Value = toml::from_str(&manifest)?;
        let version = manifest["plugin"]["version"].as_str().context("version")?;
        let caps = manifest["plugin"].get("capabilities").cloned().unwrap_or(toml::Value::Array(Vec::new()));
        let caps = serde_json::to_string(&caps)?;
        let package = packages.join(format!("{}-{version}.wasm", corpus.plugin));
        install_plugin(&server, &package, &bearer, corpus.plugin, &caps)?;
        installed.push(corpus.plugin);
    }
    let context = prepare(binary, &server, corpora)?;
    let mut figures = Vec::new();
    for corpus in corpora {
        let file = data_file(corpus, &context)?;
        println!("  importing {} {}", corpus.count, corpus.what);
        let load_secs = import(binary, &server, corpus.plugin, corpus.entity, &file)?;
        println!("    in {load_secs:.0} s");
        query_db(&server, "ANALYZE")?;
        figures.push(Figures { what: corpus.what, count: corpus.count, load_secs, classes: Vec::new() });
    }
    // Every corpus is searched once all are written: the forum's search looks into threads and
    // replies at once.
    for (corpus, figures) in corpora.iter().zip(figures.iter_mut()) {
        if corpora.iter().any(|c| c.search == corpus.search && c.entity != corpus.entity && c.count > corpus.count) {
            continue;
        }
        println!("  searching {}", corpus.search);
        figures.classes = measure(&server, &bearer, corpus)?;
    }
    Ok(figures)
}

pub fn report(md: &mut String, sections: &[(&str, Vec<Figures>)]) {
    let _ = writeln!(md, "\n## Search in the knowledge base and the forum\n");
    let what: Vec<String> = sections
        .first()
        .map(|(_, f)| f.iter().map(|c| format!("{} {}", c.count, c.what)).collect())
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "{} of generated Chinese text with English words among it, written with `tessera records import` (the \
         checks, search texts and search grams of the plugins' own writes), searched through the plugins' search \
         APIs as the organisation's admin, one request at a time over loopback: each query {ROUNDS} times. Queries: \
         {}. Goal: p99 ≤ 50 ms.",
        what.join(" and "),
        QUERIES.iter().map(|(c, q)| format!("{q} ({c})")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(md, "\n| backend | corpus | import | query class | p50 | p99 | found on the first pages | goal |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (backend, figures) in sections {
        for f in figures {
            for (class, p50, p99, found) in &f.classes {
                let verdict = if *p99 <= 50.0 { "met" } else { "missed" };
                let _ = writeln!(
                    md,
                    "| {backend} | {} {} | {:.0} s | {class} | {p50:.1} ms | {p99:.1} ms | {found} | ≤ 50 ms: {verdict} |",
                    f.count, f.what, f.load_secs
                );
            }
        }
    }
    let _ = writeln!(
        md,
        "\nOn SQLite, a query of three characters or more is looked up in the FTS5 trigram table over the search \
         text, and one or two Chinese characters in the grams table (each character and each pair of a record's \
         Chinese text); the matches are read newest first, a batch at a time, and checked against the text itself. \
         On PostgreSQL the GIN index of the `search_grams` array (`@>` every gram of the query) and the `pg_trgm` \
         GIN index of the search text serve the same queries. The forum's figure is its whole search page: a search \
         of threads, a search of replies, and the titles of the threads of the replies it shows."
    );
    let full: Vec<usize> = corpora(false).iter().map(|c| c.count).collect();
    let measured: Vec<usize> = sections.first().map(|(_, f)| f.iter().map(|c| c.count).collect()).unwrap_or_default();
    if measured != full {
        let _ = writeln!(
            md,
            "\nThese figures are from `--quick`, a twentieth of the size the goal names; `cargo xtask bench --only \
             search` measures the full size."
        );
    }
}

/// The corpora: the knowledge base's articles and the forum's posts, a tenth of them threads
/// and the rest replies to them. `context` is [the board, the category, the admin].
pub fn corpora(quick: bool) -> Vec<Corpus> {
    let scale = if quick { 20 } else { 1 };
    let posts = 1_000_000 / scale;
    vec![
        Corpus {
            plugin: "knowledge-base",
            entity: "article",
            what: "knowledge-base articles",
            count: 100_000 / scale,
            search: "/api/plugins/knowledge-base/search?q={q}&limit=20",
            fields: |_, title, body, c| serde_json::json!({"category_id": c[1], "title": title, "body": body, "current_version": 1, "updated_by": c[2]}),
            body_words: 160,
            found: |body| json_len(body, &["articles"]),
        },
        Corpus {
            plugin: "forum",
            entity: "thread",
            what: "forum threads",
            count: posts / 10,
            search: "/api/v1/plugins/forum/pages/search?q={q}",
            fields: |_, title, body, c| serde_json::json!({"board_id": c[0], "title": title, "body": body, "author_id": c[2], "reply_count": 9}),
            body_words: 40,
            found: table_rows,
        },
        Corpus {
            plugin: "forum",
            entity: "reply",
            what: "forum replies",
            count: posts - posts / 10,
            search: "/api/v1/plugins/forum/pages/search?q={q}",
            fields: |i, _, body, c| {
                // The threads were written first, so they hold the ids from 1.
                let thread = (i % (c[3] as usize)) as i64 + 1;
                serde_json::json!({"thread_id": thread, "board_id": c[0], "author_id": c[2], "body": body})
            },
            body_words: 24,
            found: table_rows,
        },
    ]
}

/// The length of a JSON answer's array at `path`.
fn json_len(body: &str, path: &[&str]) -> usize {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    path.iter().fold(&value, |v, key| &v[key]).as_array().map_or(0, Vec::len)
}

/// Rows of the tables of a rendered page.
fn table_rows(body: &str) -> usize {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    value["blocks"]
        .as_array()
        .map(|blocks| blocks.iter().filter_map(|b| b["rows"].as_array()).map(Vec::len).sum())
        .unwrap_or_default()
}

/// Makes the forum board and the knowledge-base category the corpora are written into (as the
/// plugins' first records) and answers [board, category, admin, threads].
fn prepare(binary: &Path, server: &Server, corpora: &[Corpus]) -> Result<Vec<i64>> {
    let dir = crate::root().join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let mut ids = Vec::new();
    for (plugin, entity, fields) in [
        ("forum", "board", serde_json::json!({"name": "综合讨论 General", "position": 1})),
        ("knowledge-base", "category", serde_json::json!({"name": "售后知识 After-sales", "kind": "article"})),
    ] {
        let file = dir.join(format!("{plugin}-{entity}.jsonl"));
        std::fs::write(&file, format!("{}\n", serde_json::json!({ "fields": fields })))?;
        import(binary, server, plugin, entity, &file)?;
        let table = format!("plg_{}__{entity}", plugin.replace('-', "_"));
        ids.push(query_db(server, &format!("SELECT MAX(id) FROM {table}"))?.parse().context("the new record's id")?);
    }
    ids.push(query_db(server, "SELECT id FROM users WHERE username = 'admin'")?.parse().context("the admin's id")?);
    let threads = corpora.iter().find(|c| c.entity == "thread").map_or(1, |c| c.count) as i64;
    ids.push(threads);
    Ok(ids)
}
