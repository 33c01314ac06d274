//! Phone number normalisation for customer records.
//!
//! People type phone numbers in every shape: full-width digits from a Chinese IME, `+86 (0)`
//! prefixes copied from business cards, landlines without an area code, extensions after `转`
//! or `ext`. This module reduces them to one canonical key so the same customer is matched no
//! matter how the number was written, and provides the digit keys used by phone search.

/// What kind of number it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneKind {
    /// Chinese mobile: 11 digits starting `1[3-9]`.
    Mobile,
    /// Chinese landline with an area code.
    Landline,
    /// Chinese `400`/`800` hotline or `95xxx`/`96xxx` short service number.
    Service,
    /// Chinese landline written without an area code, with no default area code to apply.
    Local,
    /// Any number outside mainland China (including Hong Kong, Macau and Taiwan).
    International,
}

/// A phone number in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// Canonical key used for equality matching: E.164 (`+8613812345678`, `+861012345678`,
    /// `+14155550100`) for numbers that have one; for a Chinese landline written without an
    /// area code and no default area code given: `local:<digits>`.
    pub canonical: String,
    /// What kind of number it is.
    pub kind: PhoneKind,
    /// Extension, if one was written (转 / ext / x / # / 分机), digits only.
    pub extension: Option<String>,
}

/// Why a phone number could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but whitespace was entered.
    #[error("phone number is empty")]
    Empty,
    /// The input has separators but no digits.
    #[error("phone number contains no digits")]
    NoDigits,
    /// Too few digits to be any kind of phone number.
    #[error("phone number is too short")]
    TooShort,
    /// More than the 15 digits E.164 allows.
    #[error("phone number is too long (more than 15 digits)")]
    TooLong,
    /// Letters or symbols that are neither separators nor an extension marker.
    #[error("phone number contains invalid characters: {0:?}")]
    InvalidCharacters(String),
    /// Digits that do not form a valid mainland Chinese number.
    #[error("not a valid Chinese phone number: {0:?}")]
    InvalidChineseNumber(String),
    /// An international prefix followed by something that cannot be a country code.
    #[error("not a valid country code at the start of {0:?}")]
    InvalidCountryCode(String),
    /// The default area code passed by the caller is not a Chinese area code.
    #[error("not a valid Chinese area code: {0:?}")]
    InvalidAreaCode(String),
    /// An extension marker with no digits after it, or implausibly many.
    #[error("extension must be 1 to 8 digits, got {0:?}")]
    InvalidExtension(String),
}

/// Longest extension we accept; anything longer is more likely a second number.
const MAX_EXTENSION_DIGITS: usize = 8;
/// Cap on how much of the offending text an error carries, so a pasted essay stays readable.
const MAX_ERROR_CHARS: usize = 16;

/// A run of digits between separators, with the context needed to interpret it.
struct Group {
    digits: String,
    /// The run started inside parentheses, as the trunk `0` in `+86 (0)21 …` does.
    in_parens: bool,
    /// A dash preceded the run, which may make it a `010-12345678-123` extension.
    after_dash: bool,
}

/// Normalises a phone number as people type it. `default_area_code` (e.g. "010" or "10" or "0755")
/// is used for Chinese landlines written without one.
pub fn normalize(input: &str, default_area_code: Option<&str>) -> Result<Phone, PhoneError> {
    let folded: String = input.chars().map(fold).collect();
    let text = folded.trim();
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }
    let (main, ext) = match find_extension_marker(text) {
        Some((start, end)) => (text.get(..start).unwrap_or(""), text.get(end..)),
        None => (text, None),
    };
    let (has_plus, groups) = scan(main)?;
    if groups.is_empty() {
        return Err(PhoneError::NoDigits);
    }
    let extension = ext.map(parse_extension).transpose()?;
    let area = default_area_code;
    let err = match classify(&groups, has_plus, area) {
        Ok(phone) => return Ok(Phone { extension, ..phone }),
        Err(err) => err,
    };
    // `010-12345678-123` only reads as an extension when the whole digit string is not a
    // number by itself, so unusual groupings of valid numbers are not mangled.
    if extension.is_none()
        && let Some((last, rest)) = groups.split_last()
        && last.after_dash
        && (1..=5).contains(&last.digits.len())
        && let Ok(phone) = classify(rest, has_plus, area)
        && phone.kind == PhoneKind::Landline
    {
        let extension = Some(last.digits.clone());
        return Ok(Phone { extension, ..phone });
    }
    Err(err)
}

/// The digits used for suffix search: the last 8 digits of the national significant number
/// (or all of them if fewer), so "5555 6666" finds "+86 21 5555 6666".
pub fn suffix_key(phone: &Phone) -> String {
    let c = phone.canonical.as_str();
    let national = match (c.strip_prefix("+86"), c.strip_prefix('+')) {
        (Some(n), _) => n,
        (None, Some(n)) if phone.kind == PhoneKind::International => n.get(country_code_len(n)..).unwrap_or(n),
        (None, Some(n)) => n,
        (None, None) => c.strip_prefix("local:").unwrap_or(c),
    };
    let start = national.len().saturating_sub(8);
    national.get(start..).unwrap_or(national).to_string()
}

/// Digits-only form of whatever the user typed in a search box (full-width digits converted),
/// for "phone contains/ends with" searches; None when the query has fewer than 4 digits.
pub fn search_digits(query: &str) -> Option<String> {
    let digits = query.chars().map(fold).filter(char::is_ascii_digit);
    let digits: String = digits.collect();
    (digits.len() >= 4).then_some(digits)
}

/// Maps the look-alike characters Chinese input methods produce onto their ASCII forms.
fn fold(c: char) -> char {
    match c {
        // The full-width block mirrors printable ASCII at a fixed offset (０-９, ＋, （）, ＃, ｘ).
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' => '-',
        c if c.is_whitespace() => ' ',
        c => c,
    }
}

/// Byte range of the first extension marker in `text`, if any.
fn find_extension_marker(text: &str) -> Option<(usize, usize)> {
    text.char_indices().find_map(|(i, c)| {
        let rest = text.get(i..)?;
        let len = if rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ext")) {
            3
        } else if rest.starts_with("分机") || rest.starts_with("分機") {
            "分机".len()
        } else if matches!(c, '转' | '轉' | 'x' | 'X' | '#') {
            c.len_utf8()
        } else {
            return None;
        };
        Some((i, i + len))
    })
}

/// Splits the number part into digit groups, rejecting anything that is not a separator.
fn scan(main: &str) -> Result<(bool, Vec<Group>), PhoneError> {
    let (mut groups, mut current) = (Vec::new(), None::<Group>);
    let (mut has_plus, mut depth, mut dash) = (false, 0usize, false);
    let mut bad = String::new();
    for c in main.chars() {
        if c.is_ascii_digit() {
            let (in_parens, after_dash) = (depth > 0, dash);
            let new = || Group { digits: String::new(), in_parens, after_dash };
            current.get_or_insert_with(new).digits.push(c);
            continue;
        }
        if let Some(group) = current.take() {
            groups.push(group);
            dash = false;
        }
        match c {
            // `+` is only meaningful before the first digit: `+86 …` or `(+86) …`.
            '+' if !has_plus && groups.is_empty() => has_plus = true,
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '-' => dash = true,
            ' ' | '.' | '/' => {}
            _ if bad.chars().count() < MAX_ERROR_CHARS => bad.push(c),
            _ => {}
        }
    }
    groups.extend(current);
    if bad.is_empty() { Ok((has_plus, groups)) } else { Err(PhoneError::InvalidCharacters(bad)) }
}

fn parse_extension(ext: &str) -> Result<String, PhoneError> {
    let mut digits = String::new();
    for c in ext.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | ':' => {}
            _ => return Err(PhoneError::InvalidCharacters(truncated(ext.trim()))),
        }
    }
    if digits.is_empty() || digits.len() > MAX_EXTENSION_DIGITS {
        return Err(PhoneError::InvalidExtension(truncated(ext.trim())));
    }
    Ok(digits)
}

fn truncated(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}

fn phone(canonical: String, kind: PhoneKind) -> Result<Phone, PhoneError> {
    Ok(Phone { canonical, kind, extension: None })
}

/// Drops a trunk `0`, which people keep writing after `+86` (`+86 010 …`) though it is not dialled.
fn untrunk(digits: &str) -> &str {
    digits.strip_prefix('0').unwrap_or(digits)
}

fn classify(groups: &[Group], has_plus: bool, area: Option<&str>) -> Result<Phone, PhoneError> {
    let intl = has_plus || groups.first().is_some_and(|g| g.digits.starts_with("00"));
    // A parenthesised `(0)` after a country code is the domestic trunk prefix, which is never
    // dialled from abroad, so it must not end up in the E.164 form.
    let is_trunk = |(i, g): &(usize, &Group)| intl && *i > 0 && g.in_parens && g.digits == "0";
    let kept = groups.iter().enumerate().filter(|ig| !is_trunk(ig));
    let digits: String = kept.map(|(_, g)| g.digits.as_str()).collect();
    // Without `+`, a leading `00` is the international call prefix, not part of the number.
    let sig = digits.strip_prefix("00").filter(|_| !has_plus).unwrap_or(&digits);
    match sig.len() {
        ..5 => return Err(PhoneError::TooShort),
        16.. => return Err(PhoneError::TooLong),
        _ => {}
    }
    if intl {
        return match sig.strip_prefix("86") {
            Some(national) => chinese(untrunk(national), true, area),
            None if sig.starts_with('0') => Err(PhoneError::InvalidCountryCode(truncated(sig))),
            None if sig.len() < 8 => Err(PhoneError::TooShort),
            None => phone(format!("+{sig}"), PhoneKind::International),
        };
    }
    if let Some(national) = sig.strip_prefix('0') {
        return chinese(national, true, area);
    }
    // A bare `86` prefix is only plausible on numbers too long to be anything domestic.
    if (11..=13).contains(&sig.len())
        && let Some(national) = sig.strip_prefix("86")
        && let Ok(phone) = chinese(untrunk(national), true, area)
    {
        return Ok(phone);
    }
    chinese(sig, false, area)
}

/// Classifies a mainland national number (no country code, no trunk 0). `has_area` says the
/// writer signalled an area code (trunk 0 or +86), so a bare local number is not acceptable.
fn chinese(n: &str, has_area: bool, area: Option<&str>) -> Result<Phone, PhoneError> {
    let invalid = || Err(PhoneError::InvalidChineseNumber(truncated(n)));
    if n.len() == 11 && n.starts_with('1') {
        return match n.as_bytes().get(1) {
            Some(b'3'..=b'9') => phone(format!("+86{n}"), PhoneKind::Mobile),
            _ => invalid(),
        };
    }
    let hotline = n.len() == 10 && (n.starts_with("400") || n.starts_with("800"));
    let short = n.len() == 5 && (n.starts_with("95") || n.starts_with("96"));
    if hotline || short {
        return phone(format!("+86{n}"), PhoneKind::Service);
    }
    let full = match (has_area, area) {
        (true, _) => n.to_string(),
        _ if !(7..=8).contains(&n.len()) || n.starts_with(['0', '1']) => return invalid(),
        (false, None) => return phone(format!("local:{n}"), PhoneKind::Local),
        (false, Some(raw)) => {
            let code = untrunk(raw.trim());
            let valid = code.bytes().all(|b| b.is_ascii_digit())
                && match code.len() {
                    2 => code == "10" || code.starts_with('2'),
                    3 => !code.starts_with(['0', '1', '2']),
                    _ => false,
                };
            if !valid {
                return Err(PhoneError::InvalidAreaCode(truncated(raw)));
            }
            format!("{code}{n}")
        }
    };
    if is_landline(&full) { phone(format!("+86{full}"), PhoneKind::Landline) } else { invalid() }
}

/// Area code plus local number. Codes starting 1 or 2 (010, 020–029) are two digits and serve
/// 8-digit numbers; all others are three digits followed by 7 or 8 digits.
fn is_landline(n: &str) -> bool {
    let (area_len, local_lens) = match n.as_bytes().first() {
        Some(b'1') if n.starts_with("10") => (2, 8..=8),
        Some(b'2') => (2, 8..=8),
        Some(b'3'..=b'9') => (3, 7..=8),
        _ => return false,
    };
    let local = n.get(area_len..).unwrap_or("");
    local_lens.contains(&local.len()) && !local.starts_with('0')
}

/// Length of the ITU country code at the start of `digits`: 1 and 7 are one digit, the listed
/// zones are two digits, everything else is three.
fn country_code_len(digits: &str) -> usize {
    const TWO_DIGIT: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    match digits {
        _ if digits.starts_with(['1', '7']) => 1,
        _ if TWO_DIGIT.iter().any(|cc| digits.starts_with(cc)) => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::PhoneKind::*;
    use super::*;

    /// Checks a table of `input => canonical [ext N]` lines that should all be of `kind`.
    fn check(kind: PhoneKind, area: Option<&str>, table: &str) {
        for line in table.lines().filter(|l| !l.trim().is_empty()) {
            let (input, want) = line.split_once("=>").unwrap_or((line, ""));
            let (canonical, ext) = match want.trim().split_once(" ext ") {
                Some((c, e)) => (c, Some(e.to_string())),
                None => (want.trim(), None),
            };
            let got = normalize(input.trim(), area).map(|p| (p.canonical, p.kind, p.extension));
            assert_eq!(got, Ok((canonical.to_string(), kind, ext)), "{input:?}");
        }
    }

    /// The error variant's name, so tests need not spell out payloads.
    fn err(input: &str) -> String {
        let debug = format!("{:?}", normalize(input, None));
        let name = debug.split(['(', ')']).nth(1);
        name.unwrap_or_default().to_string()
    }

    #[test]
    fn full_width_and_separators_are_folded() {
        let cases = "
            １３８－１２３４－５６７８      => +8613812345678
            ＋８６ 138.1234/5678            => +8613812345678
            138—1234–5678                   => +8613812345678
            138‐1234\u{3000}5678            => +8613812345678";
        check(Mobile, None, cases);
        let cases = "（０１０）１２３４\u{3000}５６７８ => +861012345678";
        check(Landline, None, cases);
    }

    #[test]
    fn letters_are_invalid_characters() {
        assert_eq!(err("138abc12345678"), "InvalidCharacters");
        assert_eq!(err("tel 13812345678"), "InvalidCharacters");
    }

    #[test]
    fn chinese_mobiles() {
        let cases = "
            13812345678             => +8613812345678
            +86 138 1234 5678       => +8613812345678
            0086 13812345678        => +8613812345678
            8613812345678           => +8613812345678
            +86 (0) 138 1234 5678   => +8613812345678
            199 1234 5678           => +8619912345678";
        check(Mobile, None, cases);
    }

    #[test]
    fn chinese_landlines() {
        let cases = "
            010-12345678            => +861012345678
            (0755) 8765 4321        => +8675587654321
            0571-8888 7777          => +8657188887777
            +86 21 5555 6666        => +862155556666
            +86 (0)21 5555 6666     => +862155556666
            0086 10 12345678        => +861012345678
            86-755-87654321         => +8675587654321
            0512 6543210            => +865126543210";
        check(Landline, None, cases);
    }

    #[test]
    fn area_code_length_depends_on_first_digit() {
        let cases = "
            02912345678             => +862912345678
            03111234567             => +863111234567
            031112345678            => +8631112345678";
        check(Landline, None, cases);
        // Two-digit codes only serve 8-digit numbers.
        assert_eq!(err("010 1234567"), "InvalidChineseNumber");
    }

    #[test]
    fn landline_without_area_code_uses_default() {
        for area in ["010", "10"] {
            check(Landline, Some(area), "5555 6666 => +861055556666");
        }
        for area in ["0755", "755"] {
            check(Landline, Some(area), "876-5432 => +867558765432");
        }
        let bad_area = PhoneError::InvalidAreaCode("abc".into());
        assert_eq!(normalize("5555 6666", Some("abc")), Err(bad_area));
    }

    #[test]
    fn landline_without_area_code_is_local() {
        let cases = "5555 6666 => local:55556666\n876 5432 => local:8765432";
        check(Local, None, cases);
    }

    #[test]
    fn service_numbers() {
        let cases = "
            400-820-8820            => +864008208820
            800 810 8888            => +868008108888
            95588                   => +8695588";
        check(Service, None, cases);
    }

    #[test]
    fn international_numbers() {
        let cases = "
            +1 (415) 555-0100       => +14155550100
            0044 20 7946 0958       => +442079460958
            +44 (0)20 7946 0958     => +442079460958
            +852 2345 6789          => +85223456789";
        check(International, None, cases);
    }

    #[test]
    fn extensions() {
        let cases = "
            010-12345678 转 123      => +861012345678 ext 123
            010-12345678-123         => +861012345678 ext 123
            +86 21 5555 6666 ext. 12 => +862155556666 ext 12
            +86 21 5555 6666 x12     => +862155556666 ext 12
            +86 21 5555 6666#12      => +862155556666 ext 12
            0755-87654321分机１２    => +8675587654321 ext 12";
        check(Landline, None, cases);
        assert_eq!(err("010-12345678 转"), "InvalidExtension");
    }

    #[test]
    fn errors() {
        assert_eq!([err(""), err(" \u{3000} ")], ["Empty", "Empty"]);
        assert_eq!([err("--()"), err("+")], ["NoDigits", "NoDigits"]);
        assert_eq!(err("1234"), "TooShort");
        assert_eq!(err("1234567890123456"), "TooLong");
        assert_eq!(err("12345678901"), "InvalidChineseNumber");
        assert_eq!(err("call me"), "InvalidCharacters");
    }

    #[test]
    fn suffix_keys() {
        let key = |input| normalize(input, None).map(|p| suffix_key(&p));
        assert_eq!(key("13812345678"), Ok("12345678".into()));
        assert_eq!(key("010-12345678"), Ok("12345678".into()));
        assert_eq!(key("555 6666"), Ok("5556666".into()));
        assert_eq!(key("95588"), Ok("95588".into()));
        assert_eq!(key("+852 2345 6789"), Ok("23456789".into()));
    }

    #[test]
    fn search_digits_for_queries() {
        assert_eq!(search_digits("１３８ 1234"), Some("1381234".into()));
        assert_eq!((search_digits("12"), search_digits("abc")), (None, None));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let pieces = "0 1 8 9 00 86 ０ ８ ＋ + （ ） (0) - — 转 分机 ext x # 中 😀 . / a \u{301}";
        let mut pieces: Vec<&str> = pieces.split(' ').collect();
        pieces.extend([" ", "\u{3000}"]);
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        // xorshift64: deterministic, so a failure reproduces.
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % 1_000_000).unwrap_or(0)
        };
        let mut inputs = ["+", "00", "＋８６", "x", "转", "((("].map(String::from).to_vec();
        inputs.extend(["9", "中", "-", "x", "０"].map(|s| s.repeat(10_000)));
        for _ in 0..400 {
            let len = next() % 40;
            let piece = |_| pieces.get(next() % pieces.len()).copied();
            inputs.push((0..len).filter_map(piece).collect());
        }
        for input in &inputs {
            for area in [None, Some("010"), Some("0755"), Some("??")] {
                let _ = normalize(input, area).map(|p| suffix_key(&p));
            }
            let _ = search_digits(input);
        }
    }
}
