//! Name normalisation and search keys for customer (company) records.
//!
//! Chinese company names arrive in many shapes: full-width letters pasted from Word, a legal-form
//! suffix that one salesperson types and another omits, and users who search by pinyin or by
//! pinyin initials (`bjkj` for 北京科技) rather than switching input method. This module turns a
//! name into a duplicate-detection key ([`company_key`]) and into one denormalised string that a
//! plain SQL `LIKE '%query%'` can match ([`search_text`] together with [`search_query`]), so no
//! database-side full-text or pinyin support is needed.

use pinyin::ToPinyinMulti;

/// Upper bound on the spellings produced per form (full pinyin, initials) by [`search_keys`].
pub const MAX_SPELLINGS: usize = 16;

/// Upper bound, in bytes, of the string returned by [`search_text`].
pub const MAX_SEARCH_TEXT: usize = 2000;

/// Words whose usual reading is not the pinyin crate's first reading for every character. The crate
/// ranks readings per character, not per word, so without this 重庆 would come out as `zhongqing`
/// first and 银行 as `yinxing`. Only the order changes; the other readings are kept.
const PHRASES: &str = "重庆 chong qing|长沙 chang sha|长春 chang chun|长安 chang an|\
    长城 chang cheng|长江 chang jiang|长治 chang zhi|银行 yin hang|行业 hang ye|商行 shang hang|\
    厦门 xia men|蚌埠 beng bu|六安 lu an|音乐 yin yue|会计 kuai ji|佛山 fo shan|成都 cheng du|\
    西藏 xi zang|番禺 pan yu|单县 shan xian";

/// [`PHRASES`] parsed once: each word's characters and its readings.
fn phrases() -> &'static [(Vec<char>, Vec<&'static str>)] {
    static PARSED: std::sync::LazyLock<Vec<(Vec<char>, Vec<&'static str>)>> = std::sync::LazyLock::new(|| {
        PHRASES
            .split('|')
            .map(|entry| {
                let mut parts = entry.split(' ');
                let word = parts.next().unwrap_or_default().chars().collect();
                (word, parts.collect())
            })
            .collect()
    });
    &PARSED
}

/// Chinese legal forms, `|`-separated, longest first so the longest match goes in one step.
const CJK_SUFFIXES: &str = "有限责任公司|股份有限公司|集团有限公司|有限公司|股份公司|工作室|集团|公司|厂";

/// Latin legal forms after punctuation became spaces; multi-word forms first so that "pte ltd"
/// is not left as a dangling "pte".
const LATIN_SUFFIXES: &str = "pte ltd|pty ltd|co ltd|corporation|company|limited|corp|gmbh|inc|llc|ltd|plc|s a|co";

/// Lower-cases, converts full-width ASCII (Ａ-Ｚ, ａ-ｚ, ０-９, full-width punctuation, ideographic
/// space) to half-width, and folds runs of whitespace to one space; trims.
pub fn fold_width(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        let c = match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The key under which two company names count as the same for duplicate detection: width folded,
/// lower-cased, legal-form suffixes (有限公司, 集团, 厂, （中国）, Co., Ltd., Inc., GmbH, …) removed
/// from the end repeatedly, then every character that is not a letter, digit or CJK ideograph
/// removed.
///
/// "北京科技有限公司", "北京科技" and "北京科技（有限公司）" share a key, as do "Acme Co., Ltd.",
/// "ACME Company Limited" and "ａｃｍｅ". A name made only of a suffix keeps it ("有限公司" stays
/// "有限公司"), so the key is empty only when the name has no letter, digit or ideograph at all.
///
/// 分公司 (branch) is deliberately *not* removed, and 公司 is not stripped out of it: a branch
/// signs its own contracts and is usually its own account, and stripping would turn "上海分公司"
/// into "上海分". So "北京科技上海分公司" and "北京科技" have different keys.
pub fn company_key(name: &str) -> String {
    // Parentheses and single spaces survive until the end: parentheses tell a trailing "(中国)"
    // from a name that merely ends in 中国, and spaces give Latin suffixes word boundaries so that
    // "Costco" keeps its "co".
    let mut s = String::new();
    for c in fold_width(name).chars() {
        let c = match c {
            '(' | '[' | '【' | '〔' => '(',
            ')' | ']' | '】' | '〕' => ')',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        if c != ' ' || !(s.is_empty() || s.ends_with(' ')) {
            s.push(c);
        }
    }
    loop {
        s.truncate(s.trim_end().len());
        let cut = if let Some(rest) = s.strip_suffix("(中国)") {
            Some(rest.len())
        } else if s.ends_with(['(', ')']) {
            Some(s.len() - 1)
        } else {
            legal_suffix_start(&s)
        };
        match cut {
            Some(at) if s[..at].chars().any(char::is_alphanumeric) => s.truncate(at),
            _ => break,
        }
    }
    s.retain(char::is_alphanumeric);
    s
}

fn legal_suffix_start(s: &str) -> Option<usize> {
    if s.ends_with("分公司") {
        return None;
    }
    if let Some(rest) = CJK_SUFFIXES.split('|').find_map(|suf| s.strip_suffix(suf)) {
        return Some(rest.len());
    }
    LATIN_SUFFIXES
        .split('|')
        .filter_map(|suf| s.strip_suffix(suf))
        .find(|rest| !rest.ends_with(|c: char| c.is_ascii_alphanumeric()))
        .map(str::len)
}

/// Characters commonly read more than one way in names of people, places and companies; only
/// these give more than one spelling.
const POLYPHONES: &str = "行重长乐都和参调传藏厦曾单解区查盛朝会便差大角强仇朴尉覃翟缪种石贾宿万率省奇降\
    薄校秘蔚莎阿称期卡系地的将弹还似度塞折泊扁盖给觉着得好相少应数分为中华沈任纪燕广宁乘颈\
    谷句叶员圈埔夏干看教禅空落露模哦片漂铺栖翘亲曲雀散色扇召殷宛遗佣与曝粘";

/// Search keys of a name: pinyin spellings without tones or separators (`full`) and first-letter
/// spellings (`initials`), both lower case. Characters with several readings yield several
/// spellings (重庆 → `chongqing`, `zhongqing`; initials `cq`, `zq`), at most [`MAX_SPELLINGS`] per
/// form, most likely first: the pinyin crate's first reading per character, corrected for a few
/// common words (重庆, 长沙, 银行, 厦门, …), with spellings that deviate least from it next. Only
/// the characters in [`POLYPHONES`] give a second reading.
/// ASCII letters and digits are kept in both forms; other characters are dropped. ü is written
/// `v`, as Chinese input methods type it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchKeys {
    /// Full pinyin spellings, e.g. `beijingkeji`.
    pub full: Vec<String>,
    /// Initials spellings, e.g. `bjkj`.
    pub initials: Vec<String>,
}

/// Computes the [`SearchKeys`] of a name (see there for the rules).
pub fn search_keys(name: &str) -> SearchKeys {
    let chars: Vec<char> = fold_width(name).chars().collect();
    let mut readings: Vec<Option<Vec<String>>> = chars.iter().map(|&c| han_readings(c)).collect();
    for i in 0..chars.len() {
        for (word, parts) in phrases() {
            let n = word.len();
            if n == 0 || chars[i] != word[0] || !word.iter().eq(chars[i..].iter().take(n)) {
                continue;
            }
            for (slot, r) in readings[i..].iter_mut().zip(parts) {
                if let Some(opts) = slot {
                    opts.retain(|o| o != r);
                    opts.insert(0, r.to_string());
                }
            }
        }
    }
    let (mut full, mut initials) = (Vec::new(), Vec::new());
    let mut run = String::new();
    for (c, slot) in chars.iter().zip(readings) {
        if c.is_ascii_alphanumeric() {
            run.push(*c);
            continue;
        }
        let Some(mut opts) = slot else { continue };
        if !POLYPHONES.contains(*c) {
            // The dictionary lists rare readings for many characters (有 "wei", 司 "ci"); kept,
            // they would make "wei" find every 有限公司. Only the characters people do read
            // two ways keep their second readings.
            opts.truncate(1);
        }
        if !run.is_empty() {
            full.push(vec![run.clone()]);
            initials.push(vec![std::mem::take(&mut run)]);
        }
        let mut firsts: Vec<String> = Vec::new();
        for o in &opts {
            let f: String = o.chars().take(1).collect();
            if !firsts.contains(&f) {
                firsts.push(f);
            }
        }
        full.push(opts);
        initials.push(firsts);
    }
    if !run.is_empty() {
        full.push(vec![run.clone()]);
        initials.push(vec![run]);
    }
    SearchKeys { full: spellings(&full), initials: spellings(&initials) }
}

/// Distinct toneless readings of a character in the crate's order, or `None` if it has none.
fn han_readings(c: char) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for p in c.to_pinyin_multi()? {
        let r: String = p.plain().replace('ü', "v").replace('ê', "e");
        if !r.is_empty() && !out.contains(&r) {
            out.push(r);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The [`MAX_SPELLINGS`] cheapest combinations, where a combination costs the sum of the ranks of
/// the readings it picks. Candidates are kept as sparse (segment, rank) lists rather than strings
/// so that a pathological 10,000-character name costs linear rather than quadratic copying.
fn spellings(segments: &[Vec<String>]) -> Vec<String> {
    let mut cands: Vec<(usize, Vec<(usize, usize)>)> = vec![(0, Vec::new())];
    for (pos, opts) in segments.iter().enumerate().filter(|(_, o)| o.len() > 1) {
        let mut next = Vec::with_capacity(cands.len() * opts.len());
        for (cost, picks) in &cands {
            next.push((*cost, picks.clone()));
            for rank in 1..opts.len().min(MAX_SPELLINGS) {
                let mut p = picks.clone();
                p.push((pos, rank));
                next.push((cost + rank, p));
            }
        }
        next.sort_by_key(|c| c.0); // stable, so ties keep the earlier-deviation-first order
        next.truncate(MAX_SPELLINGS);
        cands = next;
    }
    let mut out: Vec<String> = Vec::new();
    for (_, picks) in cands {
        let mut s = String::new();
        let mut picks = picks.into_iter().peekable();
        for (pos, opts) in segments.iter().enumerate() {
            let rank = picks.next_if(|&(p, _)| p == pos).map_or(0, |(_, r)| r);
            s.push_str(opts.get(rank).map_or("", String::as_str));
        }
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// One string to store beside a record and match with SQL `LIKE '%query%'`: the folded name, the
/// folded name without whitespace (so a whitespace-free [`search_query`] still matches "北京 科技"),
/// then every full and initials spelling, separated by single spaces and de-duplicated.
///
/// At most [`MAX_SEARCH_TEXT`] bytes: keys that do not fit are skipped whole (a later, shorter
/// key such as the initials may still fit); only an over-long name itself is cut, at a character
/// boundary.
pub fn search_text(name: &str) -> String {
    let folded = fold_width(name);
    let compact: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
    let keys = search_keys(name);
    let mut cut = folded.len().min(MAX_SEARCH_TEXT);
    while !folded.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut unique: Vec<&str> = Vec::new();
    let all = [&folded[..cut], compact.as_str()].into_iter();
    for key in all.chain(keys.full.iter().chain(&keys.initials).map(String::as_str)) {
        if !key.is_empty() && !unique.contains(&key) {
            unique.push(key);
        }
    }
    let mut out = String::new();
    for key in unique {
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + key.len() <= MAX_SEARCH_TEXT {
            if sep == 1 {
                out.push(' ');
            }
            out.push_str(key);
        }
    }
    out
}

/// Normalises what a user typed in a quick-search box for matching against [`search_text`]: width
/// folded, lower-cased, and *all* whitespace removed ("bei jing" → "beijing"); CJK is kept as is,
/// and "北京 科技" becomes "北京科技", which [`search_text`]'s whitespace-free copy of the name
/// matches. Returns `None` for an empty or all-whitespace query. `%`, `_` and the escape
/// character are not escaped here; that belongs to the code that builds the `LIKE` pattern.
pub fn search_query(q: &str) -> Option<String> {
    let s: String = fold_width(q).chars().filter(|c| !c.is_whitespace()).collect();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinyin_and_initials_are_searchable() {
        let k = search_keys("北京科技");
        assert!(k.full.contains(&"beijingkeji".to_string()), "{k:?}");
        assert!(k.initials.contains(&"bjkj".to_string()), "{k:?}");
        let text = search_text("北京科技有限公司");
        assert!(text.contains("bjkj") && text.contains("beijingkeji"), "{text}");
        assert!(text.starts_with("北京科技有限公司 "), "{text}");
    }

    #[test]
    fn polyphonic_characters_give_every_reading_most_common_first() {
        let k = search_keys("重庆");
        assert_eq!(k.full.first().map(String::as_str), Some("chongqing"));
        assert!(k.full.contains(&"zhongqing".to_string()), "{k:?}");
        assert_eq!(k.initials.first().map(String::as_str), Some("cq"));
        assert!(k.initials.contains(&"zq".to_string()), "{k:?}");
        let k = search_keys("长沙银行");
        assert_eq!(k.full.first().map(String::as_str), Some("changshayinhang"));
        assert!(k.full.contains(&"zhangshayinxing".to_string()), "{k:?}");
    }

    #[test]
    fn rare_readings_do_not_make_common_words_match() {
        let text = search_text("北京海纳汽车配件有限公司");
        assert!(text.contains("beijinghainaqichepeijianyouxiangongsi"), "{text}");
        assert!(!text.contains("gongci") && !text.contains("qiju"), "{text}");
        assert!(text.len() < 200, "{} bytes: {text}", text.len());
    }

    #[test]
    fn long_polyphonic_names_stay_bounded() {
        let name = "重长行乐都和参调传藏".repeat(4);
        assert_eq!(name.chars().count(), 40);
        let k = search_keys(&name);
        assert!(!k.full.is_empty() && k.full.len() <= MAX_SPELLINGS);
        assert!(!k.initials.is_empty() && k.initials.len() <= MAX_SPELLINGS);
        let text = search_text(&name);
        assert!(text.len() <= MAX_SEARCH_TEXT && text.contains(&k.initials[0]));
    }

    #[test]
    fn ascii_letters_and_digits_are_kept() {
        let k = search_keys("ABC贸易2号店");
        assert!(k.full.contains(&"abcmaoyi2haodian".to_string()), "{k:?}");
        assert!(k.initials.contains(&"abcmy2hd".to_string()), "{k:?}");
        assert_eq!(search_keys("🎉").full, Vec::<String>::new());
        assert_eq!(search_keys("绿").full.first().map(String::as_str), Some("lv"));
    }

    #[test]
    fn company_key_ignores_legal_form_width_and_punctuation() {
        let k = company_key("北京科技");
        assert_eq!(k, "北京科技");
        assert_eq!(company_key("北京科技有限公司"), k);
        assert_eq!(company_key("北京科技（有限公司）"), k);
        assert_eq!(company_key("北京科技集团有限公司"), k);
        assert_ne!(company_key("北京科技发展"), k);
        assert_eq!(company_key("阿里巴巴（中国）有限公司"), "阿里巴巴");
        assert_eq!(company_key("阿里巴巴中国"), "阿里巴巴中国");
        let acme = company_key("Acme Co., Ltd.");
        assert_eq!(acme, "acme");
        assert_eq!(company_key("ACME Company Limited"), acme);
        assert_eq!(company_key("ａｃｍｅ"), acme);
        assert_eq!(company_key("Acme Pte. Ltd."), acme);
        assert_eq!(company_key("Costco"), "costco");
        assert_eq!(company_key("Unlimited"), "unlimited");
    }

    #[test]
    fn company_key_keeps_branches_and_bare_suffixes() {
        assert_eq!(company_key("北京科技上海分公司"), "北京科技上海分公司");
        assert_ne!(company_key("北京科技上海分公司"), company_key("北京科技"));
        assert_eq!(company_key("有限公司"), "有限公司");
        assert_eq!(company_key("（有限公司）"), "有限公司");
        assert_eq!(company_key("Co., Ltd."), "coltd");
        assert_eq!(company_key(""), "");
    }

    #[test]
    fn fold_width_folds_case_width_and_spaces() {
        assert_eq!(fold_width("ＡＢＣ　１２３"), "abc 123");
        assert_eq!(fold_width("  a \t\n（Ｂ）  "), "a (b)");
    }

    #[test]
    fn search_query_normalises_input() {
        assert_eq!(search_query("  Bei Jing ").as_deref(), Some("beijing"));
        assert_eq!(search_query("北京 科技").as_deref(), Some("北京科技"));
        assert_eq!(search_query("ＢＪＫＪ").as_deref(), Some("bjkj"));
        assert_eq!(search_query("   "), None);
        assert_eq!(search_query("　"), None);
        assert!(search_text("北京 科技").contains("北京科技"));
    }

    #[test]
    fn odd_input_never_panics() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let ranges: [(u32, u32); 8] = [
            (0x20, 0x7E),
            (0x4E00, 0x9FFF),
            (0x1F300, 0x1F64F),
            (0x0300, 0x036F),
            (0xFF01, 0xFF5E),
            (0x3000, 0x3000),
            (0x20000, 0x2A6DF),
            (0x0, 0x1F),
        ];
        for i in 0..300 {
            let len = if i % 50 == 0 { 10_000 } else { next() % 40 };
            let s: String = (0..len)
                .filter_map(|_| {
                    let (lo, hi) = ranges[(next() % 8) as usize];
                    char::from_u32(lo + (next() % u64::from(hi - lo + 1)) as u32)
                })
                .collect();
            let k = search_keys(&s);
            assert!(k.full.len() <= MAX_SPELLINGS && k.initials.len() <= MAX_SPELLINGS);
            assert!(search_text(&s).len() <= MAX_SEARCH_TEXT);
            let key = company_key(&s);
            assert!(key.is_empty() != s.chars().any(char::is_alphanumeric), "{s:?}");
            let _ = search_query(&s);
        }
    }
}
