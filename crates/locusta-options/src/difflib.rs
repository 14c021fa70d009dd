//! "Did you mean ...?" suggestions for mistyped options.
//!
//! Locust suggests the closest known option with Python's `difflib.get_close_matches` (similarity
//! ratio 2·M/T over matching blocks, cutoff 0.6). This module computes the same ratio so that our
//! suggestions are the ones Locust users already see (`--hatch-rate` → `--spawn-rate`).

/// Length of the longest common block of `a[alo..ahi]` and `b[blo..bhi]`, as `(i, j, size)`,
/// preferring the earliest start in `a`, then in `b`.
fn longest_match(
    a: &[char],
    b: &[char],
    alo: usize,
    ahi: usize,
    blo: usize,
    bhi: usize,
) -> (usize, usize, usize) {
    let mut best = (alo, blo, 0);
    for i in alo..ahi {
        for j in blo..bhi {
            let mut k = 0;
            while i + k < ahi && j + k < bhi && a[i + k] == b[j + k] {
                k += 1;
            }
            if k > best.2 {
                best = (i, j, k);
            }
        }
    }
    best
}

/// Total size of the matching blocks found by recursive longest-match splitting.
fn matched_chars(a: &[char], b: &[char]) -> usize {
    let mut stack = vec![(0, a.len(), 0, b.len())];
    let mut total = 0;
    while let Some((alo, ahi, blo, bhi)) = stack.pop() {
        let (i, j, k) = longest_match(a, b, alo, ahi, blo, bhi);
        if k > 0 {
            total += k;
            if alo < i && blo < j {
                stack.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                stack.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    total
}

/// difflib's `SequenceMatcher(None, a, b).ratio()`.
pub(crate) fn ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    2.0 * matched_chars(&a, &b) as f64 / total as f64
}

/// The single best candidate with similarity ratio >= 0.6 (ties go to the greater string, as in
/// `difflib.get_close_matches(word, candidates, n=1)`).
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &'a str)> = None;
    for cand in candidates {
        let score = ratio(cand, word);
        if score < 0.6 {
            continue;
        }
        let better = match best {
            None => true,
            Some((s, c)) => score > s || (score == s && cand > c),
        };
        if better {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_matches_python_difflib() {
        // Values computed with Python's difflib.SequenceMatcher(None, a, b).ratio().
        assert!((ratio("abcd", "bcde") - 0.75).abs() < 1e-9);
        assert!((ratio("--spawn-rate", "--hatch-rate") - 0.6666666666666666).abs() < 1e-9);
        assert_eq!(ratio("", ""), 1.0);
        assert_eq!(ratio("abc", "xyz"), 0.0);
    }

    #[test]
    fn closest_picks_best_above_cutoff() {
        let opts = ["--users", "--spawn-rate", "--host", "--headless"];
        assert_eq!(closest("--user", opts), Some("--users"));
        assert_eq!(closest("--hatch-rate", opts), Some("--spawn-rate"));
        assert_eq!(closest("--zzzzzzzzzzzz", opts), None);
    }
}
