//! Small dense linear algebra for the p×p systems of Newton–Raphson fits.
//!
//! Matrices are row-major `Vec<f64>` of length `p * p`. Only symmetric
//! positive-definite systems occur (information matrices), so a Cholesky
//! factorisation with an explicit rank check is all that is needed; a failed
//! pivot names the offending column so the caller can report which covariate
//! is constant or collinear.

/// A Cholesky factor `L` with `A = L Lᵀ`.
#[derive(Debug, Clone)]
pub struct Cholesky {
    p: usize,
    l: Vec<f64>,
}

/// Factorises a symmetric positive-definite matrix; `Err(column)` if a pivot is not positive
/// (relative to the matrix scale), i.e. the matrix is singular or indefinite.
pub fn cholesky(a: &[f64], p: usize) -> Result<Cholesky, usize> {
    debug_assert_eq!(a.len(), p * p);
    let mut l = vec![0.0; p * p];
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= l[j * p + k] * l[j * p + k];
        }
        let scale = a[j * p + j].abs().max(f64::MIN_POSITIVE);
        if d.is_nan() || d <= 1e-11 * scale || !d.is_finite() {
            return Err(j);
        }
        let djj = d.sqrt();
        l[j * p + j] = djj;
        for i in (j + 1)..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            l[i * p + j] = s / djj;
        }
    }
    Ok(Cholesky { p, l })
}

impl Cholesky {
    /// Solves `A x = b`.
    #[allow(clippy::needless_range_loop)]
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let p = self.p;
        let mut y = b.to_vec();
        for i in 0..p {
            let mut s = y[i];
            for k in 0..i {
                s -= self.l[i * p + k] * y[k];
            }
            y[i] = s / self.l[i * p + i];
        }
        for i in (0..p).rev() {
            let mut s = y[i];
            for k in (i + 1)..p {
                s -= self.l[k * p + i] * y[k];
            }
            y[i] = s / self.l[i * p + i];
        }
        y
    }

    /// The inverse `A⁻¹` (row-major).
    pub fn inverse(&self) -> Vec<f64> {
        let p = self.p;
        let mut inv = vec![0.0; p * p];
        let mut e = vec![0.0; p];
        for j in 0..p {
            e.iter_mut().for_each(|v| *v = 0.0);
            e[j] = 1.0;
            let col = self.solve(&e);
            for i in 0..p {
                inv[i * p + j] = col[i];
            }
        }
        // Symmetrise against rounding.
        for i in 0..p {
            for j in 0..i {
                let m = 0.5 * (inv[i * p + j] + inv[j * p + i]);
                inv[i * p + j] = m;
                inv[j * p + i] = m;
            }
        }
        inv
    }
}

/// `xᵀ A y` for a row-major p×p matrix.
pub fn quad_form(a: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let p = x.len();
    let mut s = 0.0;
    for i in 0..p {
        let mut r = 0.0;
        for j in 0..p {
            r += a[i * p + j] * y[j];
        }
        s += x[i] * r;
    }
    s
}

/// `A x` for a row-major p×p matrix.
pub fn mat_vec(a: &[f64], x: &[f64]) -> Vec<f64> {
    let p = x.len();
    (0..p)
        .map(|i| (0..p).map(|j| a[i * p + j] * x[j]).sum())
        .collect()
}

/// `A B` for row-major p×p matrices.
pub fn mat_mul(a: &[f64], b: &[f64], p: usize) -> Vec<f64> {
    let mut c = vec![0.0; p * p];
    for i in 0..p {
        for k in 0..p {
            let aik = a[i * p + k];
            for j in 0..p {
                c[i * p + j] += aik * b[k * p + j];
            }
        }
    }
    c
}

/// Sum with four independent accumulators (vectorisable, fixed order).
#[inline]
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let chunks = a.chunks_exact(4);
    let rest = chunks.remainder();
    for x in chunks {
        acc[0] += x[0];
        acc[1] += x[1];
        acc[2] += x[2];
        acc[3] += x[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for x in rest {
        s += x;
    }
    s
}

/// Dot product with four independent accumulators (vectorisable, fixed order).
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Four dot products of `a` with `bs`, in one sweep over `a`; each is summed in
/// exactly the order of [`dot`], so `dot4(a, bs)[k] == dot(a, bs[k])` bit for bit.
#[inline]
pub fn dot4(a: &[f64], bs: [&[f64]; 4]) -> [f64; 4] {
    let n = bs.iter().fold(a.len(), |m, b| m.min(b.len()));
    let (a, bs) = (&a[..n], bs.map(|b| &b[..n]));
    let mut acc = [[0.0f64; 4]; 4];
    let full = n - n % 4;
    for i in (0..full).step_by(4) {
        let x = &a[i..i + 4];
        for (acc, b) in acc.iter_mut().zip(&bs) {
            let y = &b[i..i + 4];
            acc[0] += x[0] * y[0];
            acc[1] += x[1] * y[1];
            acc[2] += x[2] * y[2];
            acc[3] += x[3] * y[3];
        }
    }
    let mut out = [0.0; 4];
    for ((o, acc), b) in out.iter_mut().zip(&acc).zip(&bs) {
        let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (x, y) in a[full..].iter().zip(&b[full..]) {
            s += x * y;
        }
        *o = s;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts_spd() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let c = cholesky(&a, 3).unwrap();
        let x = c.solve(&[1.0, 2.0, 3.0]);
        let back = mat_vec(&a, &x);
        for (u, v) in back.iter().zip([1.0, 2.0, 3.0]) {
            assert!((u - v).abs() < 1e-12);
        }
        let inv = c.inverse();
        let id = mat_mul(&a, &inv, 3);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[i * 3 + j] - want).abs() < 1e-12);
            }
        }
        assert!((quad_form(&a, &[1.0, 0.0, 0.0], &[1.0, 0.0, 0.0]) - 4.0).abs() < 1e-15);
    }

    #[test]
    fn dot4_and_sum_sum_exactly_as_dot() {
        for n in [0, 1, 3, 4, 5, 17, 1000] {
            let v = |k: u64| (0..n).map(|i| ((i as u64 * 2654435761 + k) % 1000) as f64 / 7.0 - 60.0).collect::<Vec<_>>();
            let (a, bs) = (v(0), [v(1), v(2), v(3), v(4)]);
            let got = dot4(&a, [&bs[0], &bs[1], &bs[2], &bs[3]]);
            for (g, b) in got.iter().zip(&bs) {
                assert_eq!(g.to_bits(), dot(&a, b).to_bits());
            }
            assert_eq!(sum(&a).to_bits(), dot(&a, &vec![1.0; n]).to_bits());
        }
    }

    #[test]
    fn reports_the_dependent_column() {
        // Third column = first + second.
        let a = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        assert_eq!(cholesky(&a, 3).unwrap_err(), 2);
    }
}
