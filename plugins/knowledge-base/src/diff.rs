//! A line diff between two texts: the longest common subsequence of their lines, after the
//! common head and tail are set aside, shown with a few lines of context around each change.
//! The result is plain text in table cells, never Markdown, so a diff can never inject markup.

/// What happened to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Same,
    Added,
    Removed,
}

/// One line of a diff with its numbers in the old and the new text (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub op: Op,
    pub old: Option<usize>,
    pub new: Option<usize>,
    pub text: String,
}

/// Above this many cells of the comparison table, the changed middle is shown as removed and
/// added wholesale instead (a rewrite of a very long article).
const MAX_CELLS: usize = 4_000_000;

pub fn lines(old: &str, new: &str) -> Vec<Line> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out: Vec<Line> = Vec::with_capacity(a.len().max(b.len()));
    let same = |out: &mut Vec<Line>, i: usize, j: usize, text: &str| {
        out.push(Line { op: Op::Same, old: Some(i + 1), new: Some(j + 1), text: text.to_owned() })
    };
    for (i, text) in a[..head].iter().enumerate() {
        same(&mut out, i, i, text);
    }
    let (n, m) = (am.len(), bm.len());
    if n * m > MAX_CELLS {
        for (i, text) in am.iter().enumerate() {
            out.push(Line { op: Op::Removed, old: Some(head + i + 1), new: None, text: (*text).to_owned() });
        }
        for (j, text) in bm.iter().enumerate() {
            out.push(Line { op: Op::Added, old: None, new: Some(head + j + 1), text: (*text).to_owned() });
        }
    } else {
        // lcs[i][j]: the longest common subsequence of am[i..] and bm[j..].
        let w = m + 1;
        let mut lcs = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * w + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                same(&mut out, head + i, head + j, am[i]);
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                // Removed lines before the added ones that replace them, as diffs read.
                out.push(Line { op: Op::Removed, old: Some(head + i + 1), new: None, text: am[i].to_owned() });
                i += 1;
            } else {
                out.push(Line { op: Op::Added, old: None, new: Some(head + j + 1), text: bm[j].to_owned() });
                j += 1;
            }
        }
    }
    for k in 0..tail {
        let (i, j) = (a.len() - tail + k, b.len() - tail + k);
        same(&mut out, i, j, a[i]);
    }
    out
}

/// A piece of a diff as shown: lines near a change, or a run of unchanged lines folded away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown<'a> {
    Line(&'a Line),
    Folded(usize),
}

/// The diff with unchanged lines more than `context` lines from a change folded.
pub fn with_context(lines: &[Line], context: usize) -> Vec<Shown<'_>> {
    let changed: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.op != Op::Same).map(|(i, _)| i).collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= context);
    let mut out = Vec::new();
    let mut folded = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.op == Op::Same && !near(i) {
            folded += 1;
            continue;
        }
        if folded > 0 {
            out.push(Shown::Folded(folded));
            folded = 0;
        }
        out.push(Shown::Line(line));
    }
    if folded > 0 {
        out.push(Shown::Folded(folded));
    }
    out
}

pub fn counts(lines: &[Line]) -> (usize, usize) {
    let added = lines.iter().filter(|l| l.op == Op::Added).count();
    let removed = lines.iter().filter(|l| l.op == Op::Removed).count();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(d: &[Line]) -> String {
        d.iter()
            .map(|l| match l.op {
                Op::Same => format!(" {}", l.text),
                Op::Added => format!("+{}", l.text),
                Op::Removed => format!("-{}", l.text),
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn changed_lines_are_marked_between_unchanged_ones() {
        let d = lines("a\nb\nc\nd", "a\nB\nc\nd\ne");
        assert_eq!(ops(&d), " a|-b|+B| c| d|+e");
        assert_eq!(counts(&d), (2, 1));
        let b = d.iter().find(|l| l.text == "b").expect("b");
        assert_eq!((b.old, b.new), (Some(2), None));
        let e = d.iter().find(|l| l.text == "e").expect("e");
        assert_eq!((e.old, e.new), (None, Some(5)));
    }

    #[test]
    fn the_same_text_has_no_changes_and_empty_texts_work() {
        assert_eq!(counts(&lines("x\ny", "x\ny")), (0, 0));
        assert_eq!(ops(&lines("", "售后服务")), "+售后服务");
        assert_eq!(ops(&lines("售后服务", "")), "-售后服务");
    }

    #[test]
    fn far_unchanged_lines_are_folded() {
        let old: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let mut new = old.clone();
        new[10] = "ten".into();
        let d = lines(&old.join("\n"), &new.join("\n"));
        let shown = with_context(&d, 2);
        assert_eq!(shown.first(), Some(&Shown::Folded(8)));
        assert_eq!(shown.last(), Some(&Shown::Folded(7)));
        assert_eq!(shown.len(), 1 + 2 + 2 + 2 + 1, "a fold, context, two changes, context, a fold");
    }
}
