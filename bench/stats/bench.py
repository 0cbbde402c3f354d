"""Side-by-side benchmark: medtwin-analytics vs lifelines / scikit-learn.

Usage: python3 bench.py BENCH_BINARY [--repeats N] [--py-repeats N] [--rows N] [--ps-rows N]

Generates the data once (fixed seeds) as CSV, runs the Rust binary on it and the
Python reference stack on the same data frames, and prints medians and ratios.
Loading the CSV is not timed on either side.
"""

import argparse
import atexit
import bisect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

try:
    import numpy as np
    import pandas as pd
    import lifelines
    import sklearn
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from sklearn.linear_model import LogisticRegression
except ImportError as e:
    sys.exit("missing python package (%s): python3 -m pip install lifelines==0.30.3 scikit-learn==1.9.1" % e)

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--py-repeats", type=int, default=3)
ap.add_argument("--cox-py-repeats", type=int, default=1)
ap.add_argument("--rows", type=int, default=1_000_000)
ap.add_argument("--ps-rows", type=int, default=100_000)
args = ap.parse_args()

P = 10
covs = ["x%d" % j for j in range(1, P + 1)]
tmp = tempfile.mkdtemp(prefix="medtwin-bench-stats-")
# The CSV files (about 130 MB at 1M rows) go when the script ends, however it ends.
atexit.register(shutil.rmtree, tmp, ignore_errors=True)

# Survival data: 10 covariates, two groups, integer-day times (heavy ties).
rng = np.random.default_rng(1)
n = args.rows
X = rng.normal(size=(n, P))
X[:, 1] = rng.binomial(1, 0.4, size=n)
X[:, 2] = rng.binomial(1, 0.2, size=n)
beta = np.linspace(-0.4, 0.4, P)
grp = rng.binomial(1, 0.5, size=n)
raw = rng.exponential(365.0 / np.exp(X @ beta + 0.2 * grp))
cens = rng.uniform(30, 1500, size=n)
surv = pd.DataFrame(X, columns=covs)
surv["time"] = np.maximum(1, np.ceil(np.minimum(raw, cens)))
surv["event"] = (raw <= cens).astype(int)
surv["group"] = np.where(grp == 1, "treated", "control")
surv.to_csv(os.path.join(tmp, "survival.csv"), index=False, float_format="%.10g")

# Propensity data: 10 covariates (3 binary), 100k rows.
m = args.ps_rows
Z = rng.normal(size=(m, P))
Z[:, 0] = rng.binomial(1, 0.5, size=m)
Z[:, 1] = rng.binomial(1, 0.3, size=m)
Z[:, 2] = rng.binomial(1, 0.1, size=m)
ps = pd.DataFrame(Z, columns=covs)
ps = ps.round(8)
lin = -1.0 + Z @ np.linspace(0.3, -0.3, P)
ps["treated"] = rng.binomial(1, 1 / (1 + np.exp(-lin)))
ps.to_csv(os.path.join(tmp, "ps.csv"), index=False, float_format="%.10g")
surv = pd.read_csv(os.path.join(tmp, "survival.csv"))
ps = pd.read_csv(os.path.join(tmp, "ps.csv"))

print("data: %d survival rows (%d events, %d distinct times), %d propensity rows; in %s"
      % (n, surv.event.sum(), surv.time.nunique(), m, tmp), flush=True)

rust = json.loads(subprocess.run([args.binary, tmp, str(args.repeats)], check=True, capture_output=True, text=True).stdout)


def timed(f, repeats):
    """Median wall time and median CPU time (all threads of this process)."""
    ts, cs, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = f()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return (float(np.median(ts)), float(np.median(cs))), out


def km_logrank():
    a, b = surv[surv.group == "control"], surv[surv.group == "treated"]
    k1 = KaplanMeierFitter().fit(a.time, a.event)
    k2 = KaplanMeierFitter().fit(b.time, b.event)
    r = logrank_test(a.time, b.time, a.event, b.event)
    return (k1.median_survival_time_, k2.median_survival_time_, r.test_statistic)


def cox():
    return CoxPHFitter().fit(surv[covs + ["time", "event"]], "time", "event")


def cox_with_concordance():
    cph = cox()
    cph.concordance_index_  # lifelines computes this lazily on first access
    return cph


def greedy_caliper_match(logit, treat, caliper_sd=0.2, seed=42):
    """A plain greedy 1:1 nearest-neighbour match on the logit without replacement."""
    t_idx = np.flatnonzero(treat == 1)
    c_idx = np.flatnonzero(treat == 0)
    width = caliper_sd * np.sqrt((logit[t_idx].var(ddof=1) + logit[c_idx].var(ddof=1)) / 2)
    order = np.random.default_rng(seed).permutation(t_idx)
    cs = sorted(zip(logit[c_idx].tolist(), c_idx.tolist()))
    vals = [v for v, _ in cs]
    pairs = []
    for t in order:
        lt = logit[t]
        pos = bisect.bisect_left(vals, lt)
        best = None
        for j in (pos - 1, pos):
            if 0 <= j < len(vals):
                d = abs(vals[j] - lt)
                if best is None or d < best[0]:
                    best = (d, j)
        if best is not None and best[0] <= width:
            pairs.append((t, cs[best[1]][1]))
            del vals[best[1]]
            del cs[best[1]]
    return pairs


def smd(x, treat, w):
    x1, x0 = x[treat == 1], x[treat == 0]
    den = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    m1 = np.average(x1, weights=w[treat == 1])
    m0 = np.average(x0, weights=w[treat == 0])
    return (m1 - m0) / den


def ps_pipeline():
    Xp = ps[covs].values
    treat = ps.treated.values
    lr = LogisticRegression(C=np.inf, max_iter=1000).fit(Xp, treat)
    p = lr.predict_proba(Xp)[:, 1]
    logit = np.log(p / (1 - p))
    pairs = greedy_caliper_match(logit, treat)
    w = np.zeros(len(treat))
    for t, c in pairs:
        w[t] = 1
        w[c] = 1
    sm = {c: smd(ps[c].values, treat, w) for c in covs}
    return lr, pairs, sm


py_km, km_out = timed(km_logrank, args.py_repeats)
py_cox, cph = timed(cox, args.cox_py_repeats)
py_cox_c, cph_c = timed(cox_with_concordance, args.cox_py_repeats)
py_ps, (lr, pairs, _) = timed(ps_pipeline, args.py_repeats)

coef_diff = float(np.max(np.abs(np.array(rust["cox_coef"]) - cph.params_.values) / np.abs(cph.params_.values)))
lr_diff = abs(rust["logrank_statistic"] - km_out[2]) / km_out[2]
ps_coef = np.r_[lr.intercept_, lr.coef_[0]]
ps_diff = float(np.max(np.abs(np.array(rust["psm_coef"]) - ps_coef) / np.maximum(np.abs(ps_coef), 1e-3)))

print()
print("medtwin-analytics (release, %d threads, median of %d) vs lifelines %s / scikit-learn %s (median of %d; Cox %d)"
      % (rust["threads"], args.repeats, lifelines.__version__, sklearn.__version__, args.py_repeats, args.cox_py_repeats))
print()
print("wall = elapsed seconds; cpu = user+system seconds of all threads (what the work costs, whatever the load)")
print("%-44s %10s %10s %7s %10s %10s %7s  %s" % ("task", "medtwin", "python", "ratio", "medtwin", "python", "ratio", "target"))
print("%-44s %10s %10s %7s %10s %10s %7s" % ("", "wall (s)", "wall (s)", "wall", "cpu (s)", "cpu (s)", "cpu"))
rows = [
    ("KM (2 groups) + log-rank, %d rows" % n, "km_logrank", py_km, "< 0.2 s"),
    ("Cox Efron, 10 covariates, %d rows" % n, "cox", py_cox, ">= 20x lifelines"),
    ("  same + concordance index", "cox_with_concordance", py_cox_c, ""),
    ("PS logit + 1:1 caliper match + SMD, %d rows" % m, "psm", py_ps, ">= 10x sklearn+python"),
]
for name, key, p, target in rows:
    rw, rc = rust[key + "_s"], rust[key + "_cpu_s"]
    print("%-44s %10.4f %10.4f %6.1fx %10.3f %10.3f %6.1fx  %s" % (name, rw, p[0], p[0] / rw, rc, p[1], p[1] / max(rc, 0.01), target))
print()
print("agreement: Cox max rel coef diff %.1e (lifelines), log-rank rel diff %.1e, PS logit max rel coef diff %.1e (sklearn lbfgs)"
      % (coef_diff, lr_diff, ps_diff))
print("matched pairs: medtwin %d, python %d (same algorithm, different random treated order)" % (rust["psm_pairs"], len(pairs)))
print("concordance medtwin %.12f, lifelines %.12f" % (rust["cox_concordance"], cph_c.concordance_index_))
print("KM medians medtwin %s, lifelines %s" % (rust["km_medians"], list(km_out[:2])))
