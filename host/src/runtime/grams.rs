//! The n-grams that make short Chinese, Japanese and Korean searches fast. Text in these
//! scripts has no spaces between words, so a search for 售后 must find 提供售后服务: the host
//! indexes every character (unigram) and every pair of neighbouring characters (bigram) of each
//! run of CJK characters in a record's search text. A query of one character looks up its
//! unigram; a longer one needs all of its bigrams, and the candidates are then checked for the
//! query as a whole, so what is found is exactly what contains it.

use std::collections::BTreeSet;

/// Whether a character is written without spaces between words: Han ideographs (with their
/// extensions and compatibility forms), kana and Hangul syllables.
pub fn is_cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3400..=0x4DBF     // Han extension A
        | 0x4E00..=0x9FFF     // Han
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // Han compatibility
        | 0x20000..=0x3134F // Han extensions B to G
    )
}

/// The runs of CJK characters in a text.
fn runs(text: &str) -> impl Iterator<Item = Vec<char>> + '_ {
    text.split(|c: char| !is_cjk(c)).filter(|r| !r.is_empty()).map(|r| r.chars().collect())
}

/// The distinct unigrams and bigrams of every CJK run of a (folded) search text, in a stable
/// order.
pub fn grams(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for run in runs(text) {
        for (i, c) in run.iter().enumerate() {
            seen.insert(c.to_string());
            if let Some(next) = run.get(i + 1) {
                seen.insert(format!("{c}{next}"));
            }
        }
    }
    seen.into_iter().collect()
}

/// The grams every text containing the (folded) query has: for each CJK run of the query its
/// bigrams, or its unigram when it is one character. Empty when the query has no CJK.
pub fn required(query: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for run in runs(query) {
        if run.len() == 1 {
            out.insert(run[0].to_string());
        }
        for pair in run.windows(2) {
            out.insert(format!("{}{}", pair[0], pair[1]));
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_cover_every_character_and_pair_of_each_run() {
        assert_eq!(grams("售后服务 hotline 400"), vec!["务", "后", "后服", "售", "售后", "服", "服务"]);
        assert!(grams("plain english only").is_empty());
        assert_eq!(grams("好"), vec!["好"]);
        assert_eq!(grams("カタカナ"), vec!["カ", "カタ", "カナ", "タ", "タカ", "ナ"]);
    }

    #[test]
    fn a_query_needs_what_every_match_has() {
        assert_eq!(required("售"), vec!["售"]);
        assert_eq!(required("售后"), vec!["售后"]);
        assert_eq!(required("售后服务"), vec!["后服", "售后", "服务"]);
        assert_eq!(required("北京 科技"), vec!["北京", "科技"]);
        assert_eq!(required("iphone 售后"), vec!["售后"]);
        assert!(required("refund").is_empty());
        // Whatever contains the query has every gram the query requires.
        for (text, query) in
            [("我们提供售后服务热线", "售后服务"), ("售后", "售"), ("客户A北京科技有限公司", "北京科技")]
        {
            let have: BTreeSet<String> = grams(text).into_iter().collect();
            assert!(required(query).iter().all(|g| have.contains(g)), "{text} / {query}");
        }
    }
}
