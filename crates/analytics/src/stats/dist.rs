//! Normal and chi-square distribution functions, implemented to near machine precision.
//!
//! Everything reduces to the regularized upper incomplete gamma function
//! `Q(a, x)`, evaluated by its power series below `x < a + 1` and by Lentz's
//! continued fraction above (Numerical Recipes §6.2), so tail probabilities keep
//! full relative accuracy instead of being computed as `1 - P`.

const EPS: f64 = 1e-16;
const TINY: f64 = 1e-300;
const LN_SQRT_PI: f64 = 0.572_364_942_924_700_087_071_713_675_677;

/// Natural log of the gamma function for `x > 0` (Lanczos, g = 7, n = 9; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection formula.
        let s = (std::f64::consts::PI * x).sin();
        return (std::f64::consts::PI / s.abs()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Returns `(P(a,x), Q(a,x))` given the log of the prefactor `x^a e^-x / Γ(a)`.
fn gamma_pq(a: f64, x: f64, ln_pref: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x < a + 1.0 {
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..100_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        let p = sum * ln_pref.exp();
        (p, 1.0 - p)
    } else {
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..100_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        let q = ln_pref.exp() * h;
        (1.0 - q, q)
    }
}

/// Regularized upper incomplete gamma function `Q(a, x) = Γ(a, x) / Γ(a)`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_pq(a, x, a * x.ln() - x - ln_gamma(a)).1
}

/// Complementary error function.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x == 0.0 {
        return 1.0;
    }
    if x > 27.3 {
        return 0.0;
    }
    let x2 = x * x;
    // Prefactor x * exp(-x^2) / sqrt(pi), computed without going through ln Γ(1/2).
    gamma_pq(0.5, x2, x.ln() - x2 - LN_SQRT_PI).1
}

/// Standard normal upper tail `P(Z > z)`.
pub fn norm_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Standard normal CDF `P(Z <= z)`.
pub fn norm_cdf(z: f64) -> f64 {
    norm_sf(-z)
}

/// Two-sided normal p-value for a z statistic.
pub fn norm_two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Standard normal quantile (Acklam's rational approximation refined by one Halley step).
pub fn norm_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let plow = 0.02425;
    let x = if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // Halley refinement against the accurate CDF.
    let mut x = x;
    for _ in 0..2 {
        let e = norm_cdf(x) - p;
        let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
        x -= u / (1.0 + x * u / 2.0);
    }
    x
}

/// Chi-square upper tail `P(X > x)` with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if df == 1.0 {
        return erfc((x / 2.0).sqrt());
    }
    gamma_q(df / 2.0, x / 2.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) {
        assert!(((a - b) / b).abs() < rel, "{a} vs {b}");
    }

    #[test]
    fn matches_scipy_reference_values() {
        // Values from scipy.stats (norm.sf, chi2.sf, norm.ppf), 17 significant digits.
        close(norm_sf(1.0), 0.15865525393145707, 1e-13);
        close(norm_sf(5.0), 2.866515718791933e-07, 1e-12);
        close(norm_sf(-2.5), 0.9937903346742238, 1e-14);
        close(norm_sf(10.0), 7.61985302416047e-24, 1e-11);
        close(chi2_sf(3.84, 1.0), 0.05004352124870519, 1e-12);
        close(chi2_sf(0.3, 1.0), 0.583882420770365, 1e-13);
        close(chi2_sf(7.0, 2.0), 0.0301973834223185, 1e-13);
        close(chi2_sf(1.5, 3.0), 0.6822703303362125, 1e-13);
        close(chi2_sf(40.0, 5.0), 1.493367900050393e-07, 1e-11);
        close(chi2_sf(100.0, 10.0), 5.4497019829205215e-17, 1e-10);
        close(norm_ppf(0.975), 1.959963984540054, 1e-14);
        close(norm_ppf(0.05), -1.6448536269514729, 1e-14);
        close(norm_ppf(1e-10), -6.361340902404056, 1e-13);
        close(ln_gamma(10.0), 12.801827480081469, 1e-14);
        close(ln_gamma(0.5), LN_SQRT_PI, 1e-14);
    }
}
