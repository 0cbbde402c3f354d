//! Disclosure control: primary suppression of small counts (1 to threshold−1,
//! shown as `<10` for the default threshold of 10) and secondary
//! (complementary) suppression over the linear relations a table publishes
//! (row, column and grand totals, within/inflow/outflow), so that no
//! suppressed cell can be recovered from one published relation.
//!
//! A relation is "parts sum to total". After primary suppression, any relation
//! with exactly one suppressed member (part or total) would give that member
//! away, so one more member is suppressed: the smallest positive shown part,
//! else the total, else a zero part. This repeats until every relation has
//! zero or at least two suppressed members. Zeros are shown (they are not small
//! counts of people) unless chosen as complements. The rule protects against
//! recovery from any single relation, which is the usual standard for
//! published tables; it does not solve the full linear-programming attack over
//! all relations at once.
//!
//! Derived figures (rates, averages) are shown only when the counts they are
//! computed from are shown.
//!
//! A primary-suppressed count prints as `<10`; a complementary one (which may
//! be 10 or more) prints as `秘匿`, so no output claims a large count is small.

use serde::{Serialize, Serializer};

/// The disclosure rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Counts from 1 to `threshold - 1` are suppressed (10 by default; 1 turns
    /// suppression off and is meant for internal checks only).
    pub threshold: u64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { threshold: 10 }
    }
}

/// A published count: a value, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Shown.
    Value(u64),
    /// A small count (1 to threshold−1), shown as `<threshold`.
    Suppressed(u64),
    /// Suppressed so that a small count cannot be recovered (any value), shown as `秘匿`.
    Complementary,
}

impl Count {
    /// The value when shown.
    pub fn value(self) -> Option<u64> {
        match self {
            Count::Value(v) => Some(v),
            Count::Suppressed(_) | Count::Complementary => None,
        }
    }
    /// Whether suppressed (primary or complementary).
    pub fn is_suppressed(self) -> bool {
        !matches!(self, Count::Value(_))
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Value(v) => write!(f, "{v}"),
            Count::Suppressed(t) => write!(f, "<{t}"),
            Count::Complementary => write!(f, "秘匿"),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Value(v) => s.serialize_u64(*v),
            Count::Suppressed(t) => s.serialize_str(&format!("<{t}")),
            Count::Complementary => s.serialize_str("秘匿"),
        }
    }
}

/// A relation between published cells: `parts` sum to `total` (indices into the cell list).
#[derive(Debug, Clone)]
pub struct Relation {
    /// The parts.
    pub parts: Vec<usize>,
    /// The total.
    pub total: usize,
}

/// Which cells to suppress: primary, then complementary, until no relation has
/// exactly one suppressed member.
pub fn protect(values: &[u64], relations: &[Relation], policy: Policy) -> Vec<bool> {
    let t = policy.threshold;
    let mut s: Vec<bool> = values.iter().map(|&v| v > 0 && v < t).collect();
    if !s.iter().any(|&x| x) {
        return s;
    }
    loop {
        let mut changed = false;
        for r in relations {
            let n = r.parts.iter().filter(|&&p| s[p]).count() + usize::from(s[r.total]);
            if n != 1 {
                continue;
            }
            let positive = r.parts.iter().copied().filter(|&p| !s[p] && values[p] > 0).min_by_key(|&p| (values[p], p));
            let pick = positive
                .or_else(|| (!s[r.total]).then_some(r.total))
                .or_else(|| r.parts.iter().copied().find(|&p| !s[p]));
            if let Some(p) = pick {
                s[p] = true;
                changed = true;
            }
        }
        if !changed {
            return s;
        }
    }
}

/// Whether some suppressed cell is the only suppressed member of a relation
/// (and so could be recovered by subtraction).
pub fn recoverable(suppressed: &[bool], relations: &[Relation]) -> bool {
    relations.iter().any(|r| r.parts.iter().filter(|&&p| suppressed[p]).count() + usize::from(suppressed[r.total]) == 1)
}

/// Turns values and a suppression mask into published counts.
pub fn publish(values: &[u64], suppressed: &[bool], policy: Policy) -> Vec<Count> {
    values
        .iter()
        .zip(suppressed)
        .map(|(&v, &s)| match (s, v > 0 && v < policy.threshold) {
            (false, _) => Count::Value(v),
            (true, true) => Count::Suppressed(policy.threshold),
            (true, false) => Count::Complementary,
        })
        .collect()
}

/// A rate `num / den × scale`, shown only when both counts are shown and `den > 0`.
pub fn rate(num: Count, den: Count, scale: f64) -> Option<f64> {
    match (num, den) {
        (Count::Value(n), Count::Value(d)) if d > 0 => Some(n as f64 / d as f64 * scale),
        _ => None,
    }
}

/// A matrix with row, column and grand totals, protected together.
#[derive(Debug, Clone)]
pub struct ProtectedMatrix {
    /// Cells, row-major (`rows × cols`).
    pub cells: Vec<Count>,
    /// Row totals.
    pub row_totals: Vec<Count>,
    /// Column totals.
    pub col_totals: Vec<Count>,
    /// Grand total.
    pub total: Count,
}

/// The cell layout used by [`protect_matrix`]: cells, then row totals, column totals, grand total.
pub struct MatrixLayout {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

impl MatrixLayout {
    /// Index of cell (r, c).
    pub fn cell(&self, r: usize, c: usize) -> usize {
        r * self.cols + c
    }
    /// Index of row total r.
    pub fn row_total(&self, r: usize) -> usize {
        self.rows * self.cols + r
    }
    /// Index of column total c.
    pub fn col_total(&self, c: usize) -> usize {
        self.rows * self.cols + self.rows + c
    }
    /// Index of the grand total.
    pub fn grand(&self) -> usize {
        self.rows * self.cols + self.rows + self.cols
    }
    /// Number of values.
    pub fn len(&self) -> usize {
        self.grand() + 1
    }
    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }
    /// All values (cells, totals) of a raw matrix.
    pub fn values(&self, raw: &[u64]) -> Vec<u64> {
        let mut v = raw.to_vec();
        let rt: Vec<u64> = (0..self.rows).map(|r| (0..self.cols).map(|c| raw[self.cell(r, c)]).sum()).collect();
        let ct: Vec<u64> = (0..self.cols).map(|c| (0..self.rows).map(|r| raw[self.cell(r, c)]).sum()).collect();
        let g = rt.iter().sum();
        v.extend(rt);
        v.extend(ct);
        v.push(g);
        v
    }
    /// The row, column and grand-total relations.
    pub fn relations(&self) -> Vec<Relation> {
        let mut rel = Vec::new();
        for r in 0..self.rows {
            rel.push(Relation { parts: (0..self.cols).map(|c| self.cell(r, c)).collect(), total: self.row_total(r) });
        }
        for c in 0..self.cols {
            rel.push(Relation { parts: (0..self.rows).map(|r| self.cell(r, c)).collect(), total: self.col_total(c) });
        }
        rel.push(Relation { parts: (0..self.rows).map(|r| self.row_total(r)).collect(), total: self.grand() });
        rel.push(Relation { parts: (0..self.cols).map(|c| self.col_total(c)).collect(), total: self.grand() });
        rel
    }
    /// Splits published values back into a [`ProtectedMatrix`].
    pub fn split(&self, counts: &[Count]) -> ProtectedMatrix {
        let n = self.rows * self.cols;
        ProtectedMatrix {
            cells: counts[..n].to_vec(),
            row_totals: counts[n..n + self.rows].to_vec(),
            col_totals: counts[n + self.rows..n + self.rows + self.cols].to_vec(),
            total: counts[self.grand()],
        }
    }
}

/// Protects a plain matrix (`raw` row-major) with its totals.
pub fn protect_matrix(rows: usize, cols: usize, raw: &[u64], policy: Policy) -> ProtectedMatrix {
    let l = MatrixLayout { rows, cols };
    let values = l.values(raw);
    let s = protect(&values, &l.relations(), policy);
    l.split(&publish(&values, &s, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(m: &ProtectedMatrix) -> Vec<String> {
        m.cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_count_of_exactly_ten_is_shown_and_nine_is_not() {
        let m = protect_matrix(1, 1, &[10], Policy::default());
        assert_eq!(m.cells[0], Count::Value(10));
        let m = protect_matrix(1, 1, &[9], Policy::default());
        assert_eq!(m.cells[0], Count::Suppressed(10));
        assert_eq!(m.total, Count::Suppressed(10));
        assert_eq!(m.cells[0].to_string(), "<10");
        assert_eq!(serde_json::to_string(&m.cells[0]).expect("json"), "\"<10\"");
    }

    #[test]
    fn complementary_suppression_by_hand() {
        // 2×3 matrix:
        //   50  3 20 | 73
        //   40 30 25 | 95
        //   --------
        //   90 33 45 |168
        // Primary: (0,1)=3. Row 0 then has one suppressed cell: the smallest
        // positive other is (0,2)=20. Column 1 has one: (1,1)=30 is the only
        // other part. Column 2 now has one: (1,2)=25. Row 1 then has two. Done.
        let m = protect_matrix(2, 3, &[50, 3, 20, 40, 30, 25], Policy::default());
        assert_eq!(shown(&m), ["50", "<10", "秘匿", "40", "秘匿", "秘匿"]);
        assert_eq!(m.row_totals, [Count::Value(73), Count::Value(95)]);
        assert_eq!(m.col_totals, [Count::Value(90), Count::Value(33), Count::Value(45)]);
        assert_eq!(m.total, Count::Value(168));
    }

    #[test]
    fn a_suppressed_total_takes_a_part_with_it() {
        // One row: 4 and 0 with total 4. The total is primary; the relation
        // row = 4 + 0 then has two suppressed members (4 and its total).
        let m = protect_matrix(1, 2, &[4, 0], Policy::default());
        assert_eq!(shown(&m), ["<10", "0"]);
        assert!(m.row_totals[0].is_suppressed());
        // Column 0 (4 → total 4) has two suppressed; the grand total 4 too.
        assert!(m.total.is_suppressed());
    }

    #[test]
    fn no_relation_ever_has_exactly_one_suppressed_member() {
        // A deterministic pseudo-random family of matrices.
        let mut x: u64 = 12345;
        for _ in 0..300 {
            let rows = 1 + (x % 5) as usize;
            let cols = 1 + (x / 7 % 6) as usize;
            let mut raw = Vec::new();
            for _ in 0..rows * cols {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = (x >> 33) % 40;
                raw.push(if v > 30 { 0 } else { v });
            }
            let l = MatrixLayout { rows, cols };
            let values = l.values(&raw);
            let s = protect(&values, &l.relations(), Policy::default());
            assert!(!recoverable(&s, &l.relations()), "{raw:?}");
            for (i, v) in values.iter().enumerate() {
                if *v > 0 && *v < 10 {
                    assert!(s[i], "primary cell {i} shown in {raw:?}");
                }
            }
        }
    }

    #[test]
    fn rates_need_both_counts() {
        assert_eq!(rate(Count::Value(5), Count::Value(10), 1.0), Some(0.5));
        assert_eq!(rate(Count::Suppressed(10), Count::Value(10), 1.0), None);
        assert_eq!(rate(Count::Value(0), Count::Value(0), 1.0), None);
    }
}
