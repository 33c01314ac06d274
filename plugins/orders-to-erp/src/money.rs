//! Money, in integer minor units (fen, cents) and never in floating point, and the arithmetic of
//! an order. The rules, which the README repeats:
//!
//! - Amounts are `i64` minor units; prices are **tax-exclusive**. Quantities are `i64`
//!   thousandths of the product's unit (`2500` is 2.5 boxes); discounts and tax rates are basis
//!   points (`1300` is 13 %).
//! - Per line: `gross = unit price × quantity / 1000`, `line discount = gross × discount_bp /
//!   10000`, `net = gross − line discount`.
//! - The order discount (an amount) is applied **before tax**: it is spread over the lines in
//!   proportion to their net amounts by the largest-remainder method, so the shares add up to the
//!   discount exactly (ties go to the earlier line). Each line's tax is then
//!   `(net − share) × tax_rate_bp / 10000`, and its total `net − share + tax`.
//! - Every division rounds **half away from zero**, once per line and amount; nothing is rounded
//!   at the order level, so the order's amounts are exact sums of the lines':
//!   `subtotal = Σ net`, `tax = Σ tax`, `total = subtotal − order discount + tax = Σ line total`.
//! - Intermediate products are computed in `i128`; a result that does not fit an `i64` is refused
//!   with an error naming the amount, never wrapped or saturated.

use std::fmt;

/// Basis points in one whole.
pub const BP: i64 = 10_000;
/// Thousandths in one unit of quantity.
pub const MILLI: i64 = 1_000;

/// What is wrong with an amount or an order's arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    /// A value is out of its range or not a number; the message names it.
    Invalid(String),
    /// A result does not fit in 64 bits; the message names the amount.
    Overflow(String),
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::Invalid(m) => f.write_str(m),
            MoneyError::Overflow(m) => write!(f, "{m}: the amount is too large (more than 64-bit minor units)"),
        }
    }
}

impl From<MoneyError> for tessera_sdk::Error {
    fn from(e: MoneyError) -> Self {
        tessera_sdk::Error::invalid(e.to_string())
    }
}

/// `n / d` rounded half away from zero; `d` must be positive.
pub fn div_round(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

fn fit(value: i128, what: &str) -> Result<i64, MoneyError> {
    i64::try_from(value).map_err(|_| MoneyError::Overflow(what.to_owned()))
}

fn add(a: i64, b: i64, what: &str) -> Result<i64, MoneyError> {
    a.checked_add(b).ok_or_else(|| MoneyError::Overflow(what.to_owned()))
}

/// One line as entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInput {
    pub unit_price_minor: i64,
    pub quantity_milli: i64,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
}

impl LineInput {
    /// Checks the ranges: a price of at least 0, a quantity above 0, a discount and a tax rate
    /// from 0 to 10000 basis points. `what` names the line in the message.
    pub fn check(&self, what: &str) -> Result<(), MoneyError> {
        let bad = |m: String| Err(MoneyError::Invalid(format!("{what}: {m}")));
        if self.unit_price_minor < 0 {
            return bad(format!("the unit price must not be negative, not {}", self.unit_price_minor));
        }
        if self.quantity_milli <= 0 {
            return bad("the quantity must be greater than 0".to_owned());
        }
        if !(0..=BP).contains(&self.discount_bp) {
            return bad(format!("discount_bp must be 0 to 10000 (100 %), not {}", self.discount_bp));
        }
        if !(0..=BP).contains(&self.tax_rate_bp) {
            return bad(format!("tax_rate_bp must be 0 to 10000 (100 %), not {}", self.tax_rate_bp));
        }
        Ok(())
    }
}

/// The amounts of one line, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineAmounts {
    /// Unit price × quantity.
    pub gross_minor: i64,
    /// The line's own discount.
    pub line_discount_minor: i64,
    /// Gross less the line's discount.
    pub net_minor: i64,
    /// The line's share of the order discount.
    pub order_discount_minor: i64,
    /// Tax on net less the share.
    pub tax_minor: i64,
    /// Net less the share, plus tax.
    pub total_minor: i64,
}

/// The amounts of a whole order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    /// One per line, in the order given.
    pub lines: Vec<LineAmounts>,
    /// Σ net (after the lines' own discounts).
    pub subtotal_minor: i64,
    /// The order discount.
    pub discount_minor: i64,
    /// Σ tax.
    pub tax_minor: i64,
    /// Subtotal − discount + tax.
    pub total_minor: i64,
}

/// The net amount of one line before the order discount: (gross, line discount, net).
pub fn line_net(line: &LineInput) -> Result<(i64, i64, i64), MoneyError> {
    let gross = fit(
        div_round(i128::from(line.unit_price_minor) * i128::from(line.quantity_milli), i128::from(MILLI)),
        "unit price × quantity",
    )?;
    let discount = fit(div_round(i128::from(gross) * i128::from(line.discount_bp), i128::from(BP)), "line discount")?;
    Ok((gross, discount, gross - discount))
}

/// Computes an order: every line's amounts and the totals, by the rules of this module.
pub fn compute(lines: &[LineInput], order_discount_minor: i64) -> Result<Totals, MoneyError> {
    if order_discount_minor < 0 {
        return Err(MoneyError::Invalid(format!(
            "discount_minor: the order discount must not be negative, not {order_discount_minor}"
        )));
    }
    let mut amounts = Vec::with_capacity(lines.len());
    let mut subtotal: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        line.check(&format!("lines[{i}]"))?;
        let (gross, discount, net) = line_net(line)?;
        subtotal = add(subtotal, net, "subtotal")?;
        amounts.push(LineAmounts {
            gross_minor: gross,
            line_discount_minor: discount,
            net_minor: net,
            ..Default::default()
        });
    }
    if order_discount_minor > subtotal {
        return Err(MoneyError::Invalid(format!(
            "discount_minor: the order discount {order_discount_minor} is more than the subtotal {subtotal}"
        )));
    }
    let shares = spread(order_discount_minor, &amounts.iter().map(|a| a.net_minor).collect::<Vec<_>>());
    let mut tax_total: i64 = 0;
    let mut total: i64 = 0;
    for ((amount, line), share) in amounts.iter_mut().zip(lines).zip(shares) {
        let taxable = amount.net_minor - share;
        let tax = fit(div_round(i128::from(taxable) * i128::from(line.tax_rate_bp), i128::from(BP)), "tax")?;
        amount.order_discount_minor = share;
        amount.tax_minor = tax;
        amount.total_minor = add(taxable, tax, "line total")?;
        tax_total = add(tax_total, tax, "tax")?;
        total = add(total, amount.total_minor, "total")?;
    }
    Ok(Totals {
        lines: amounts,
        subtotal_minor: subtotal,
        discount_minor: order_discount_minor,
        tax_minor: tax_total,
        total_minor: total,
    })
}

/// Spreads `amount` (0 ≤ amount ≤ Σ weights, weights ≥ 0) over the weights in proportion, by
/// the largest-remainder method: every share is the floor of its exact share, and the minor
/// units left over go one each to the largest remainders, the earlier line on a tie.
pub fn spread(amount: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if amount == 0 || sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i128, i128)> = weights
        .iter()
        .map(|w| {
            let n = i128::from(amount) * i128::from(*w);
            (n / sum, n % sum)
        })
        .collect();
    // Each floor is at most its weight, and their sum at most `amount`, so they fit.
    let mut shares: Vec<i64> = exact.iter().map(|(q, _)| i64::try_from(*q).unwrap_or(0)).collect();
    let given: i64 = shares.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order.into_iter().take(usize::try_from(amount - given).unwrap_or(0)) {
        shares[i] += 1;
    }
    shares
}

/// The symbol a currency is written with; other currencies are written with their code.
fn symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "CNY" => Some("¥"),
        "USD" => Some("$"),
        "EUR" => Some("€"),
        _ => None,
    }
}

/// `¥1,234.50`, `-$0.05`, `GBP 12.00`: two decimals, thousands grouped.
pub fn format(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let amount = format!("{}.{:02}", group(abs / 100), abs % 100);
    match symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{amount}"),
        None => format!("{sign}{currency} {amount}"),
    }
}

/// `1234.50`: two decimals, no grouping or symbol, as a form field shows an amount to edit.
pub fn format_plain(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn group(mut n: u64) -> String {
    let mut parts = Vec::new();
    while n >= 1000 {
        parts.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    parts.push(n.to_string());
    parts.reverse();
    parts.join(",")
}

/// A decimal text with at most `digits` decimals, as an integer scaled by 10^digits:
/// `parse_scaled("12.5", 2) == 1250`. Thousands separators (`,`) are allowed; exponents,
/// signs other than a leading `-`, and extra decimals are refused.
pub fn parse_scaled(text: &str, digits: u32, what: &str) -> Result<i64, MoneyError> {
    let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
    let invalid = || MoneyError::Invalid(format!("{what}: {text:?} is not a number with at most {digits} decimals"));
    let (negative, body) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > digits as usize
    {
        return Err(invalid());
    }
    let scale = 10_i128.pow(digits);
    let mut value: i128 = 0;
    for c in whole.chars() {
        value = value * 10 + i128::from(c as u8 - b'0');
        if value > i128::from(i64::MAX) {
            return Err(MoneyError::Overflow(what.to_owned()));
        }
    }
    let mut frac: i128 = 0;
    for i in 0..digits as usize {
        let d = fraction.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
        frac = frac * 10 + d;
    }
    let value = value * scale + frac;
    fit(if negative { -value } else { value }, what)
}

/// A JSON value (a number or a string) as the decimal text [`parse_scaled`] reads. A number
/// keeps the digits it was written with (serde_json prints the shortest text that reads back
/// the same), so `2.5` reads as exactly 2.5.
pub fn decimal_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// An amount of money entered as a decimal (`1234.5`, `"1,234.50"`) in minor units.
pub fn parse_amount(value: &serde_json::Value, what: &str) -> Result<i64, MoneyError> {
    let text =
        decimal_text(value).ok_or_else(|| MoneyError::Invalid(format!("{what}: enter an amount such as 12.50")))?;
    parse_scaled(&text, 2, what)
}

/// A quantity entered as a decimal with at most three decimals, in thousandths; it must be
/// greater than 0.
pub fn parse_quantity(value: &serde_json::Value, what: &str) -> Result<i64, MoneyError> {
    let text =
        decimal_text(value).ok_or_else(|| MoneyError::Invalid(format!("{what}: enter a quantity such as 2 or 2.5")))?;
    let milli = parse_scaled(&text, 3, what)?;
    if milli <= 0 {
        return Err(MoneyError::Invalid(format!("{what}: the quantity must be greater than 0, not {text}")));
    }
    Ok(milli)
}

/// A quantity in thousandths as people write it: `2`, `2.5`, `0.125`.
pub fn format_quantity(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let abs = milli.unsigned_abs();
    let (whole, fraction) = (abs / 1000, abs % 1000);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let digits = format!("{fraction:03}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Basis points as a percentage: `1300` is `13%`, `650` is `6.5%`.
pub fn format_bp(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let abs = bp.unsigned_abs();
    let (whole, fraction) = (abs / 100, abs % 100);
    if fraction == 0 {
        format!("{sign}{whole}%")
    } else {
        format!("{sign}{whole}.{}%", format!("{fraction:02}").trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(price: i64, qty_milli: i64, discount_bp: i64, tax_bp: i64) -> LineInput {
        LineInput { unit_price_minor: price, quantity_milli: qty_milli, discount_bp, tax_rate_bp: tax_bp }
    }

    /// The invariants every computed order holds.
    fn assert_consistent(t: &Totals) {
        let net: i64 = t.lines.iter().map(|l| l.net_minor).sum();
        let shares: i64 = t.lines.iter().map(|l| l.order_discount_minor).sum();
        let tax: i64 = t.lines.iter().map(|l| l.tax_minor).sum();
        let total: i64 = t.lines.iter().map(|l| l.total_minor).sum();
        assert_eq!(net, t.subtotal_minor, "{t:?}");
        assert_eq!(shares, t.discount_minor, "{t:?}");
        assert_eq!(tax, t.tax_minor, "{t:?}");
        assert_eq!(total, t.total_minor, "{t:?}");
        assert_eq!(t.subtotal_minor - t.discount_minor + t.tax_minor, t.total_minor, "{t:?}");
        for l in &t.lines {
            assert_eq!(l.gross_minor - l.line_discount_minor, l.net_minor);
            assert_eq!(l.net_minor - l.order_discount_minor + l.tax_minor, l.total_minor);
            assert!(l.order_discount_minor >= 0 && l.order_discount_minor <= l.net_minor, "{l:?}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(4, 10), 0);
        assert_eq!(div_round(15, 10), 2);
        assert_eq!(div_round(25, 10), 3);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(-4, 10), 0);
        assert_eq!(div_round(-15, 10), -2);
        assert_eq!(div_round(0, 7), 0);
        assert_eq!(div_round(1, 3), 0);
        assert_eq!(div_round(2, 3), 1);
        assert_eq!(div_round(-2, 3), -1);
        assert_eq!(div_round(10_000, 10_000), 1);
    }

    #[test]
    fn a_plain_line_with_vat() {
        // 3 × ¥100.00 at 13 % VAT: 300.00 + 39.00.
        let t = compute(&[line(10_000, 3_000, 0, 1_300)], 0).expect("computes");
        assert_eq!(
            t.lines[0],
            LineAmounts {
                gross_minor: 30_000,
                line_discount_minor: 0,
                net_minor: 30_000,
                order_discount_minor: 0,
                tax_minor: 3_900,
                total_minor: 33_900,
            }
        );
        assert_eq!((t.subtotal_minor, t.discount_minor, t.tax_minor, t.total_minor), (30_000, 0, 3_900, 33_900));
        assert_consistent(&t);
    }

    #[test]
    fn fractional_quantities_round_per_line() {
        // 2.5 × ¥0.33 = 0.825 → 0.83 (half away from zero); tax 6 % of 0.83 = 0.0498 → 0.05.
        let t = compute(&[line(33, 2_500, 0, 600)], 0).expect("computes");
        assert_eq!((t.lines[0].gross_minor, t.lines[0].tax_minor, t.total_minor), (83, 5, 88));
        // 0.001 × ¥4.99 = 0.00499 → 0.00.
        let t = compute(&[line(499, 1, 0, 1_300)], 0).expect("computes");
        assert_eq!((t.lines[0].gross_minor, t.total_minor), (0, 0));
        // 0.001 × ¥5.00 = 0.005 → 0.01 exactly at the half.
        let t = compute(&[line(500, 1, 0, 0)], 0).expect("computes");
        assert_eq!(t.lines[0].gross_minor, 1);
        assert_consistent(&t);
    }

    #[test]
    fn line_discounts_round_at_the_half() {
        // 12.5 % of ¥0.99 = 0.12375 → 0.12; net 0.87.
        let t = compute(&[line(99, 1_000, 1_250, 0)], 0).expect("computes");
        assert_eq!((t.lines[0].line_discount_minor, t.lines[0].net_minor), (12, 87));
        // 50 % of ¥0.01 = 0.005 → 0.01 (half away from zero): net 0.
        let t = compute(&[line(1, 1_000, 5_000, 1_300)], 0).expect("computes");
        assert_eq!((t.lines[0].line_discount_minor, t.lines[0].net_minor, t.total_minor), (1, 0, 0));
        // A full discount leaves nothing to tax.
        let t = compute(&[line(12_345, 7_000, 10_000, 1_300)], 0).expect("computes");
        assert_eq!((t.subtotal_minor, t.tax_minor, t.total_minor), (0, 0, 0));
        assert_consistent(&t);
    }

    #[test]
    fn tax_rounds_at_the_half() {
        // 13 % of ¥0.50 = 0.065 → 0.07; 13 % of ¥0.03 = 0.0039 → 0.00.
        assert_eq!(compute(&[line(50, 1_000, 0, 1_300)], 0).expect("computes").tax_minor, 7);
        assert_eq!(compute(&[line(3, 1_000, 0, 1_300)], 0).expect("computes").tax_minor, 0);
        // 9 % of ¥0.50 = 0.045 → 0.05; 6 % of ¥0.25 = 0.015 → 0.02.
        assert_eq!(compute(&[line(50, 1_000, 0, 900)], 0).expect("computes").tax_minor, 5);
        assert_eq!(compute(&[line(25, 1_000, 0, 600)], 0).expect("computes").tax_minor, 2);
        // Tax is rounded per line: two lines of 0.065 tax make 0.14, not round(0.13) = 0.13.
        let t = compute(&[line(50, 1_000, 0, 1_300), line(50, 1_000, 0, 1_300)], 0).expect("computes");
        assert_eq!(t.tax_minor, 14);
        assert_consistent(&t);
    }

    #[test]
    fn the_order_discount_is_spread_before_tax_in_proportion() {
        // Nets 300.00 (13 %) and 100.00 (6 %); 40.00 off splits 30.00 / 10.00.
        let t = compute(&[line(10_000, 3_000, 0, 1_300), line(10_000, 1_000, 0, 600)], 4_000).expect("computes");
        assert_eq!(t.lines[0].order_discount_minor, 3_000);
        assert_eq!(t.lines[1].order_discount_minor, 1_000);
        // Tax on what is left: 13 % of 270.00 = 35.10, 6 % of 90.00 = 5.40.
        assert_eq!((t.lines[0].tax_minor, t.lines[1].tax_minor), (3_510, 540));
        assert_eq!((t.subtotal_minor, t.discount_minor, t.tax_minor, t.total_minor), (40_000, 4_000, 4_050, 40_050));
        assert_consistent(&t);
    }

    #[test]
    fn the_shares_add_up_to_the_discount_exactly() {
        // 0.10 over three equal lines: 0.04, 0.03, 0.03 (the earliest takes the extra unit).
        let t =
            compute(&[line(100, 1_000, 0, 0), line(100, 1_000, 0, 0), line(100, 1_000, 0, 0)], 10).expect("computes");
        let shares: Vec<i64> = t.lines.iter().map(|l| l.order_discount_minor).collect();
        assert_eq!(shares, [4, 3, 3]);
        assert_eq!(spread(2, &[1, 1, 1]), [1, 1, 0]);
        // The largest remainder wins before position: 1.00 over 1/3/6 → 0.10, 0.30, 0.60.
        assert_eq!(spread(100, &[1, 3, 6]), [10, 30, 60]);
        // 7 over weights 5/5/1 (exact 3.18, 3.18, 0.64): floors 3/3/0, the unit left goes to 0.64.
        assert_eq!(spread(7, &[5, 5, 1]), [3, 3, 1]);
        // A zero-weight line takes nothing.
        assert_eq!(spread(5, &[0, 10, 0]), [0, 5, 0]);
        assert_eq!(spread(0, &[3, 4]), [0, 0]);
        assert_eq!(spread(0, &[]), Vec::<i64>::new());
        // The whole subtotal as discount: every line's share is its net, and the total is 0.
        let t = compute(&[line(333, 1_000, 0, 1_300), line(667, 2_000, 0, 900)], 333 + 1_334).expect("computes");
        assert_eq!(t.total_minor, 0);
        assert_consistent(&t);
    }

    #[test]
    fn many_odd_orders_hold_the_invariants() {
        // A deterministic spread of prices, quantities, discounts and rates.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..500 {
            let count = 1 + next(8) as usize;
            let lines: Vec<LineInput> = (0..count)
                .map(|_| {
                    line(
                        next(5_000_000) as i64,
                        1 + next(100_000) as i64,
                        next(10_001) as i64,
                        [0, 300, 600, 900, 1_300][next(5) as usize],
                    )
                })
                .collect();
            let subtotal = compute(&lines, 0).expect("computes").subtotal_minor;
            let discount = if subtotal == 0 { 0 } else { next(subtotal as u64 + 1) as i64 };
            let t = compute(&lines, discount).expect("computes");
            assert_consistent(&t);
        }
    }

    #[test]
    fn large_values_compute_without_overflow_or_are_refused() {
        // ¥90 trillion in one line: 9e15 fen × 1 fits, and 13 % of it too.
        let t = compute(&[line(9_000_000_000_000_000, 1_000, 0, 1_300)], 0).expect("computes");
        assert_eq!(t.lines[0].tax_minor, 1_170_000_000_000_000);
        assert_eq!(t.total_minor, 10_170_000_000_000_000);
        // The product of price and quantity passes i64 on the way and still comes out right.
        let t = compute(&[line(4_611_686_018_427_387, 2_000_000, 0, 0)], 0).expect("computes");
        assert_eq!(t.lines[0].gross_minor, 9_223_372_036_854_774_000);
        // One unit of quantity more and the line does not fit.
        let err = compute(&[line(i64::MAX, 2_000, 0, 0)], 0).expect_err("overflows");
        assert_eq!(err, MoneyError::Overflow("unit price × quantity".into()));
        assert!(err.to_string().contains("too large"), "{err}");
        // Two lines that fit alone overflow the subtotal.
        let big = line(i64::MAX / 2 + 1, 1_000, 0, 0);
        assert_eq!(compute(&[big, big], 0), Err(MoneyError::Overflow("subtotal".into())));
        // Tax pushes a line past i64.
        assert_eq!(compute(&[line(i64::MAX, 1_000, 0, 1_300)], 0), Err(MoneyError::Overflow("line total".into())));
        // The largest quantity at the largest price does not panic.
        assert!(compute(&[line(i64::MAX, i64::MAX, 10_000, 10_000)], 0).is_err());
    }

    #[test]
    fn bad_lines_and_discounts_are_refused_with_their_field() {
        let cases = [
            (line(-1, 1_000, 0, 0), "lines[0]: the unit price must not be negative"),
            (line(100, 0, 0, 0), "lines[0]: the quantity must be greater than 0"),
            (line(100, -5, 0, 0), "lines[0]: the quantity must be greater than 0"),
            (line(100, 1_000, 10_001, 0), "lines[0]: discount_bp must be 0 to 10000"),
            (line(100, 1_000, -1, 0), "lines[0]: discount_bp must be 0 to 10000"),
            (line(100, 1_000, 0, 10_001), "lines[0]: tax_rate_bp must be 0 to 10000"),
        ];
        for (bad, message) in cases {
            let err = compute(&[bad], 0).expect_err("refused");
            assert!(err.to_string().starts_with(message), "{err}");
        }
        let err = compute(&[line(100, 1_000, 0, 0)], 101).expect_err("refused");
        assert_eq!(err.to_string(), "discount_minor: the order discount 101 is more than the subtotal 100");
        assert!(compute(&[line(100, 1_000, 0, 0)], -1).is_err());
        // No lines: nothing to discount, and a zero order is fine.
        assert_eq!(compute(&[], 0).expect("computes"), Totals::default());
        assert!(compute(&[], 1).is_err());
    }

    #[test]
    fn amounts_are_formatted_by_currency() {
        assert_eq!(format(123_450, "CNY"), "¥1,234.50");
        assert_eq!(format(0, "CNY"), "¥0.00");
        assert_eq!(format(5, "USD"), "$0.05");
        assert_eq!(format(-5, "USD"), "-$0.05");
        assert_eq!(format(100_000_000, "EUR"), "€1,000,000.00");
        assert_eq!(format(99_999, "GBP"), "GBP 999.99");
        assert_eq!(format(i64::MIN, "CNY"), "-¥92,233,720,368,547,758.08");
        assert_eq!(format(i64::MAX, "CNY"), "¥92,233,720,368,547,758.07");
        assert_eq!(format_plain(123_450), "1234.50");
        assert_eq!(format_plain(-7), "-0.07");
        assert_eq!(parse_scaled(&format_plain(987_654_321), 2, "x"), Ok(987_654_321));
    }

    #[test]
    fn decimals_are_read_exactly() {
        assert_eq!(parse_scaled("1234.5", 2, "price"), Ok(123_450));
        assert_eq!(parse_scaled("1,234.50", 2, "price"), Ok(123_450));
        assert_eq!(parse_scaled(" 0.01 ", 2, "price"), Ok(1));
        assert_eq!(parse_scaled(".5", 2, "price"), Ok(50));
        assert_eq!(parse_scaled("7", 2, "price"), Ok(700));
        assert_eq!(parse_scaled("-3.2", 2, "price"), Ok(-320));
        assert_eq!(parse_scaled("92233720368547758.07", 2, "price"), Ok(i64::MAX));
        assert_eq!(parse_scaled("92233720368547758.08", 2, "price"), Err(MoneyError::Overflow("price".into())));
        assert_eq!(parse_scaled("99999999999999999999999", 2, "price"), Err(MoneyError::Overflow("price".into())));
        for bad in ["", ".", "1.234", "1e3", "abc", "1.2.3", "+5", "--1", "¥5", "1 000"] {
            assert!(matches!(parse_scaled(bad, 2, "price"), Err(MoneyError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn json_amounts_and_quantities_keep_their_digits() {
        assert_eq!(parse_amount(&json!(0.1), "price"), Ok(10));
        assert_eq!(parse_amount(&json!(1234.56), "price"), Ok(123_456));
        assert_eq!(parse_amount(&json!(19.99), "price"), Ok(1_999));
        assert_eq!(parse_amount(&json!("88.8"), "price"), Ok(8_880));
        assert_eq!(parse_amount(&json!(12), "price"), Ok(1_200));
        assert!(parse_amount(&json!(null), "price").is_err());
        assert!(parse_amount(&json!(0.001), "price").is_err());
        assert_eq!(parse_quantity(&json!(2), "quantity"), Ok(2_000));
        assert_eq!(parse_quantity(&json!(2.5), "quantity"), Ok(2_500));
        assert_eq!(parse_quantity(&json!(0.125), "quantity"), Ok(125));
        assert_eq!(parse_quantity(&json!("3"), "quantity"), Ok(3_000));
        for bad in [json!(0), json!(-1), json!(0.0001), json!("x"), json!(true), json!(null), json!(1e300)] {
            assert!(parse_quantity(&bad, "quantity").is_err(), "{bad}");
        }
        let err = parse_quantity(&json!(0), "lines[0].quantity").expect_err("refused");
        assert_eq!(err.to_string(), "lines[0].quantity: the quantity must be greater than 0, not 0");
    }

    #[test]
    fn quantities_and_rates_read_as_people_write_them() {
        assert_eq!(format_quantity(2_000), "2");
        assert_eq!(format_quantity(2_500), "2.5");
        assert_eq!(format_quantity(125), "0.125");
        assert_eq!(format_quantity(1_010), "1.01");
        assert_eq!(format_bp(1_300), "13%");
        assert_eq!(format_bp(650), "6.5%");
        assert_eq!(format_bp(1_275), "12.75%");
        assert_eq!(format_bp(0), "0%");
    }
}
