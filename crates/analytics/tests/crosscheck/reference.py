"""Reference answers for the analytics crate's cross-check test.

Usage: python3 reference.py OUT_DIR

Writes random data sets (fixed numpy seeds) as CSV into OUT_DIR and
`expected.json` with the answers of lifelines, statsmodels and a plain
reimplementation of the propensity-matching algorithm. The Rust integration
test `tests/crosscheck.rs` runs this script, recomputes everything with the
crate and compares to 1e-6 relative.

Requires: lifelines, statsmodels, scikit-learn, numpy, pandas, scipy.
"""

import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

try:
    import numpy as np
    import pandas as pd
    import lifelines
    import statsmodels
    import sklearn
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test
    from lifelines.utils import median_survival_times
    from scipy import stats
    from sklearn.linear_model import LogisticRegression
    from statsmodels.duration.hazard_regression import PHReg
    from statsmodels.duration.survfunc import SurvfuncRight
    import statsmodels.api as sm
except ImportError as e:  # pragma: no cover - reported by the Rust test
    sys.stderr.write(
        "MISSING_PYTHON_PACKAGE: %s\n"
        "install with: python3 -m pip install lifelines==0.30.3 statsmodels==0.15.0 scikit-learn==1.9.1\n" % e
    )
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "test_data")
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
Z = stats.norm.ppf(0.975)
# lifelines stops Newton-Raphson at a relative log-likelihood change of 1e-9, which leaves
# coefficients ~1e-6 from the optimum on some data; converge fully so 1e-6 comparisons are fair.
TIGHT = {"precision": 1e-14, "r_precision": 1e-16, "max_steps": 200}


def fl(x):
    """JSON-safe float: inf/nan become None."""
    x = float(x)
    return x if np.isfinite(x) else None


def save(df, name):
    path = os.path.join(OUT, name)
    df.to_csv(path, index=False, float_format="%.17g")
    return path


def stable_sort(df, cols):
    return df.sort_values(cols, kind="mergesort").reset_index(drop=True)


cases = []

# ---------------------------------------------------------------- data sets
rossi = pd.read_csv(os.path.join(DATA, "rossi.csv"))
waltons = pd.read_csv(os.path.join(DATA, "waltons.csv"))
rossi_path = os.path.join(DATA, "rossi.csv")
waltons_path = os.path.join(DATA, "waltons.csv")

rng = np.random.default_rng(20240611)
n = 600
ties = pd.DataFrame(
    {
        "x1": rng.normal(size=n),
        "x2": rng.binomial(1, 0.4, size=n).astype(float),
        "x3": rng.uniform(-1, 1, size=n),
        "grp": rng.choice(["a", "b", "c"], size=n),
        "stratum": rng.integers(1, 4, size=n),
    }
)
lin = 0.5 * ties.x1 - 0.7 * ties.x2 + 0.3 * ties.x3 + np.where(ties.grp == "b", 0.4, 0.0)
raw = rng.exponential(1.0 / np.exp(lin)) * 10
cens = rng.exponential(15, size=n)
# Heavy ties: integer times between 1 and 15.
ties["time"] = np.clip(np.ceil(np.minimum(raw, cens)), 1, 15)
ties["event"] = (raw <= cens).astype(int)
ties = stable_sort(ties, ["time", "event"])
ties_path = save(ties, "ties.csv")

# Continuous times (no ties) for the robust variance, whose lifelines version ignores ties.
rng2 = np.random.default_rng(7)
m = 300
cont = pd.DataFrame({"x1": rng2.normal(size=m), "x2": rng2.binomial(1, 0.5, size=m).astype(float)})
raw = rng2.exponential(1.0 / np.exp(0.6 * cont.x1 - 0.5 * cont.x2))
cens = rng2.exponential(1.5, size=m)
cont["time"] = np.minimum(raw, cens)
cont["event"] = (raw <= cens).astype(int)
cont["w"] = rng2.uniform(0.5, 3.0, size=m)
cont = stable_sort(cont, ["time", "event"])
cont_path = save(cont, "continuous.csv")

# ---------------------------------------------------------------- Kaplan-Meier (loglog = lifelines)
def km_case(name, path, df, tcol, ecol, gcol, at):
    groups = sorted(df[gcol].unique()) if gcol else [None]
    out = []
    for g in groups:
        sub = df if g is None else df[df[gcol] == g]
        kmf = KaplanMeierFitter().fit(sub[tcol], sub[ecol])
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        et = kmf.event_table
        med_ci = median_survival_times(kmf.confidence_interval_)
        out.append(
            {
                "name": "all" if g is None else str(g),
                "time": [float(t) for t in sf.index],
                "survival": [float(v) for v in sf.values],
                "ci_lower": [float(v) for v in ci.iloc[:, 0].values],
                "ci_upper": [float(v) for v in ci.iloc[:, 1].values],
                "at_risk": [float(v) for v in et["at_risk"].values],
                "events": [float(v) for v in et["observed"].values],
                "censored": [float(v) for v in et["censored"].values],
                "median": fl(kmf.median_survival_time_),
                "median_ci": [fl(med_ci.iloc[0, 0]), fl(med_ci.iloc[0, 1])],
                "at": at,
                "survival_at": [float(kmf.survival_function_at_times(t).iloc[0]) for t in at],
                "at_risk_at": [float((sub[tcol] >= t).sum()) for t in at],
            }
        )
    cases.append({"kind": "km", "name": name, "csv": path, "time": tcol, "event": ecol, "group": gcol, "groups": out})


km_case("km waltons by group", waltons_path, waltons, "T", "E", "group", [0.0, 20.0, 45.0])
km_case("km rossi", rossi_path, rossi, "week", "arrest", None, [10.0, 52.0])
km_case("km heavy ties by grp", ties_path, ties, "time", "event", "grp", [3.0, 7.5])

# ---------------------------------------------------------------- KM log / plain CIs (statsmodels Greenwood SE)
for name, path, df, tcol, ecol in [("rossi", rossi_path, rossi, "week", "arrest"), ("ties", ties_path, ties, "time", "event")]:
    sf = SurvfuncRight(df[tcol].values, df[ecol].values)
    s, se = sf.surv_prob, sf.surv_prob_se
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_log = np.where(s > 0, se / s, 0.0)
    cases.append(
        {
            "kind": "km_transform",
            "name": "km transforms " + name,
            "csv": path,
            "time": tcol,
            "event": ecol,
            "times": [float(t) for t in sf.surv_times],
            "survival": [float(v) for v in s],
            "log": [[float(v) for v in s * np.exp(-Z * sd_log)], [float(v) for v in np.minimum(1, s * np.exp(Z * sd_log))]],
            "plain": [[float(v) for v in np.maximum(0, s - Z * se)], [float(v) for v in np.minimum(1, s + Z * se)]],
        }
    )

# ---------------------------------------------------------------- log-rank family (lifelines)
def lr_case(name, path, df, tcol, ecol, gcol, weighting):
    r = multivariate_logrank_test(df[tcol], df[gcol], df[ecol], weightings=weighting)
    cases.append(
        {
            "kind": "logrank",
            "name": name,
            "csv": path,
            "time": tcol,
            "event": ecol,
            "group": gcol,
            "weighting": weighting or "logrank",
            "statistic": float(r.test_statistic),
            "df": int(r.degrees_of_freedom),
            "p": float(r.p_value),
        }
    )


lr_case("logrank waltons", waltons_path, waltons, "T", "E", "group", None)
lr_case("logrank rossi fin", rossi_path, rossi, "week", "arrest", "fin", None)
lr_case("logrank rossi prio (many groups)", rossi_path, rossi, "week", "arrest", "prio", None)
for w in [None, "wilcoxon", "tarone-ware", "peto"]:
    lr_case("logrank ties 3 groups %s" % w, ties_path, ties, "time", "event", "grp", w)


def stratified_logrank(df, tcol, ecol, gcol, scol):
    """Independent numpy reference: per-stratum O-E and hypergeometric covariance, summed."""
    groups = sorted(df[gcol].unique())
    k = len(groups)
    zs, vs = np.zeros(k), np.zeros((k, k))
    for _, sd in df.groupby(scol):
        for t in sorted(sd.loc[sd[ecol] == 1, tcol].unique()):
            risk = sd[sd[tcol] >= t]
            nt = len(risk)
            dt = ((risk[tcol] == t) & (risk[ecol] == 1)).sum()
            nj = np.array([(risk[gcol] == g).sum() for g in groups], dtype=float)
            dj = np.array([((risk[gcol] == g) & (risk[tcol] == t) & (risk[ecol] == 1)).sum() for g in groups], dtype=float)
            zs += dj - dt * nj / nt
            f = dt * (nt - dt) / (nt - 1) / nt**2 if nt > 1 else 0.0
            vs += f * (np.diag(nj) * nt - np.outer(nj, nj))
    stat = zs[:-1] @ np.linalg.solve(vs[:-1, :-1], zs[:-1])
    return float(stat), k - 1, float(stats.chi2.sf(stat, k - 1))


st, dfree, pv = stratified_logrank(ties, "time", "event", "grp", "stratum")
cases.append({"kind": "logrank", "name": "stratified logrank ties", "csv": ties_path, "time": "time", "event": "event",
              "group": "grp", "strata": "stratum", "weighting": "logrank", "statistic": st, "df": dfree, "p": pv})

# ---------------------------------------------------------------- Cox
def cox_lifelines(name, path, df, tcol, ecol, covs, strata=None, robust=False, weights=None, ph=True):
    cols = covs + [tcol, ecol] + ([strata] if strata else []) + ([weights] if weights else [])
    cph = CoxPHFitter().fit(df[cols], tcol, ecol, strata=[strata] if strata else None, robust=robust, weights_col=weights,
                             fit_options=TIGHT)
    V = cph.variance_matrix_.values
    beta = cph.params_.values
    case = {
        "kind": "cox",
        "name": name,
        "csv": path,
        "time": tcol,
        "event": ecol,
        "covariates": covs,
        "strata": strata,
        "weights": weights,
        "robust": robust,
        "ties": "efron",
        "coef": [float(v) for v in beta],
        "se": [float(v) for v in cph.standard_errors_.values],
        "p": [float(v) for v in cph.summary["p"].values],
        "hr_lower": [float(v) for v in cph.summary["exp(coef) lower 95%"].values],
        "hr_upper": [float(v) for v in cph.summary["exp(coef) upper 95%"].values],
        "loglik": float(cph.log_likelihood_),
        "concordance": float(cph.concordance_index_),
    }
    if not robust and weights is None:
        lr = cph.log_likelihood_ratio_test()
        case["lr_statistic"] = float(lr.test_statistic)
        case["lr_p"] = float(lr.p_value)
        case["wald_statistic"] = float(beta @ np.linalg.solve(V, beta))
    if ph and weights is None:
        case["ph"] = {}
        for tr in ["rank", "km", "identity", "log"]:
            r = proportional_hazard_test(cph, df[cols], time_transform=tr)
            case["ph"][tr] = {"statistic": [float(v) for v in r.test_statistic], "p": [float(v) for v in r.p_value]}
    cases.append(case)


rossi_covs = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
rossi_sorted = stable_sort(rossi, ["week", "arrest"])
cox_lifelines("cox rossi efron", rossi_path, rossi_sorted, "week", "arrest", rossi_covs)
cox_lifelines("cox rossi efron strata race", rossi_path, stable_sort(rossi, ["race", "week", "arrest"]), "week", "arrest",
              ["fin", "age", "wexp", "mar", "paro", "prio"], strata="race", ph=False)
cox_lifelines("cox ties efron", ties_path, ties, "time", "event", ["x1", "x2", "x3"])
cox_lifelines("cox ties efron strata", ties_path, ties, "time", "event", ["x1", "x2", "x3"], strata="stratum", ph=False)
cox_lifelines("cox continuous robust", cont_path, cont, "time", "event", ["x1", "x2"], robust=True, ph=False)
cox_lifelines("cox continuous weighted robust", cont_path, cont, "time", "event", ["x1", "x2"], robust=True, weights="w", ph=False)


def cox_statsmodels(name, path, df, tcol, ecol, covs, ties_method, strata=None):
    kw = {"ties": ties_method}
    if strata:
        kw["strata"] = df[strata].values
    mod = PHReg(df[tcol].values, df[covs].values, status=df[ecol].values, **kw)
    res = mod.fit(tol=1e-12, maxiter=200)
    p0 = np.zeros(len(covs))
    u0 = mod.score(p0)
    score = float(u0 @ np.linalg.solve(-mod.hessian(p0), u0))
    cases.append(
        {
            "kind": "cox",
            "name": name,
            "csv": path,
            "time": tcol,
            "event": ecol,
            "covariates": covs,
            "strata": strata,
            "weights": None,
            "robust": False,
            "ties": ties_method,
            "coef": [float(v) for v in res.params],
            "se": [float(v) for v in res.bse],
            "p": [float(v) for v in res.pvalues],
            "loglik": float(res.llf),
            "loglik_null": float(mod.loglike(p0)),
            "score_statistic": score,
        }
    )


cox_statsmodels("cox rossi breslow (statsmodels)", rossi_path, rossi, "week", "arrest", rossi_covs, "breslow")
cox_statsmodels("cox rossi efron (statsmodels)", rossi_path, rossi, "week", "arrest", rossi_covs, "efron")
cox_statsmodels("cox ties breslow (statsmodels)", ties_path, ties, "time", "event", ["x1", "x2", "x3"], "breslow")
cox_statsmodels("cox ties breslow strata (statsmodels)", ties_path, ties, "time", "event", ["x1", "x2", "x3"], "breslow", strata="stratum")
cox_statsmodels("cox ties efron (statsmodels)", ties_path, ties, "time", "event", ["x1", "x2", "x3"], "efron")

# ---------------------------------------------------------------- weighted KM (lifelines)
# The last observation is censored: lifelines computes the weighted number at risk by
# subtraction, which leaves a rounding residue (and a spurious survival) when the
# last subject dies; the crate's suffix sums give exactly 0 there.
wkm = cont.copy()
wkm.loc[wkm.index[-1], "event"] = 0
wkm_path = save(wkm, "weighted_km.csv")
kmf = KaplanMeierFitter().fit(wkm["time"], wkm["event"], weights=wkm["w"])
sf = kmf.survival_function_.iloc[:, 0]
cases.append({"kind": "km_weighted", "name": "weighted km", "csv": wkm_path, "time": "time", "event": "event", "weights": "w",
              "times": [float(t) for t in sf.index], "survival": [float(v) for v in sf.values]})

# ---------------------------------------------------------------- logistic regression and propensity matching
rng3 = np.random.default_rng(99)
k = 2000
ps_df = pd.DataFrame({"age": rng3.normal(65, 10, size=k), "male": rng3.binomial(1, 0.5, size=k).astype(float),
                      "sbp": rng3.normal(130, 15, size=k), "dm": rng3.binomial(1, 0.3, size=k).astype(float)})
lin = -0.5 + 0.04 * (ps_df.age - 65) + 0.3 * ps_df.male + 0.01 * (ps_df.sbp - 130) + 0.6 * ps_df.dm
ps_df["treated"] = rng3.binomial(1, 1 / (1 + np.exp(-lin)))
ps_path = save(ps_df, "psm.csv")
covs = ["age", "male", "sbp", "dm"]
X = sm.add_constant(ps_df[covs])
logit = sm.Logit(ps_df["treated"], X).fit(disp=0, tol=1e-12, maxiter=100)
sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(ps_df[covs], ps_df["treated"])
ps = logit.predict(X).values
lg = np.log(ps / (1 - ps))


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):
        zone = 0xFFFFFFFFFFFFFFFF - (0xFFFFFFFFFFFFFFFF % n)
        while True:
            v = self.next()
            if v < zone:
                return v % n


def greedy_match(score, treat, caliper_sd, ratio, replace, seed):
    """The same algorithm as the crate, written as plainly as possible (O(n_t * n_c))."""
    treated = [i for i in range(len(score)) if treat[i]]
    controls = [i for i in range(len(score)) if not treat[i]]
    rngm = SplitMix64(seed)
    for i in range(len(treated) - 1, 0, -1):
        j = rngm.below(i + 1)
        treated[i], treated[j] = treated[j], treated[i]
    width = np.inf
    if caliper_sd is not None:
        vt, vc = np.var(score[treated], ddof=1), np.var(score[controls], ddof=1)
        width = caliper_sd * np.sqrt((vt + vc) / 2)
    used, got, pairs = set(), {t: [] for t in treated}, []
    for rnd in range(ratio):
        for t in treated:
            if rnd > 0 and not got[t]:
                continue
            best = None
            for c in controls:
                if (not replace and c in used) or c in got[t]:
                    continue
                cand = (abs(score[c] - score[t]), c)
                if best is None or cand < best:
                    best = cand
            if best is not None and best[0] <= width:
                used.add(best[1])
                got[t].append(best[1])
                pairs.append([t, best[1]])
    w = np.zeros(len(score))
    for t, cs in got.items():
        if cs:
            w[t] = 1.0
            for c in cs:
                w[c] += 1.0 / len(cs)
    return pairs, float(width), w


def smd(x, treat, w=None):
    x1, x0 = x[treat == 1], x[treat == 0]
    binary = set(np.unique(x)) <= {0.0, 1.0}
    if binary:
        p1, p0 = x1.mean(), x0.mean()
        den = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    else:
        den = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    if w is None:
        return float((x1.mean() - x0.mean()) / den)
    m1 = np.sum(w[treat == 1] * x1) / np.sum(w[treat == 1])
    m0 = np.sum(w[treat == 0] * x0) / np.sum(w[treat == 0])
    return float((m1 - m0) / den)


treat = ps_df["treated"].values
psm_runs = []
for caliper, ratio, replace, seed in [(0.2, 1, False, 42), (0.2, 2, False, 7), (0.05, 1, True, 3), (None, 3, True, 5)]:
    pairs, width, w = greedy_match(lg, treat, caliper, ratio, replace, seed)
    psm_runs.append({"caliper": caliper, "ratio": ratio, "replace": replace, "seed": seed, "pairs": pairs,
                     "caliper_width": fl(width),
                     "smd_after": {c: smd(ps_df[c].values, treat, w) for c in covs}})
ate = np.where(treat == 1, 1 / ps, 1 / (1 - ps))
att = np.where(treat == 1, 1.0, ps / (1 - ps))
cases.append({"kind": "psm", "name": "propensity pipeline", "csv": ps_path, "treatment": "treated", "covariates": covs,
              "coef": [float(v) for v in logit.params.values], "se": [float(v) for v in logit.bse.values],
              "sklearn_coef": [float(sk.intercept_[0])] + [float(v) for v in sk.coef_[0]],
              "loglik": float(logit.llf), "ps": [float(v) for v in ps],
              "smd_before": {c: smd(ps_df[c].values, treat) for c in covs},
              "smd_ate": {c: smd(ps_df[c].values, treat, ate) for c in covs},
              "smd_att": {c: smd(ps_df[c].values, treat, att) for c in covs},
              "runs": psm_runs})

# IPW-weighted robust Cox on the propensity data with a simulated outcome (lifelines).
ps_df["time"] = np.round(rng3.exponential(10 / np.exp(0.3 * treat + 0.02 * (ps_df.age - 65))), 6) + 0.001 * np.arange(k) / k
ps_df["event"] = rng3.binomial(1, 0.7, size=k)
ps_df["ate_w"] = ate
ipw_path = save(ps_df, "ipw.csv")
cph = CoxPHFitter().fit(ps_df[["treated", "time", "event", "ate_w"]], "time", "event", weights_col="ate_w", robust=True,
                         fit_options=TIGHT)
cases.append({"kind": "cox", "name": "ipw ate robust cox", "csv": ipw_path, "time": "time", "event": "event",
              "covariates": ["treated"], "strata": None, "weights": "ate_w", "robust": True, "ties": "efron",
              "coef": [float(cph.params_.iloc[0])], "se": [float(cph.standard_errors_.iloc[0])],
              "p": [float(cph.summary["p"].iloc[0])], "loglik": float(cph.log_likelihood_),
              "concordance": float(cph.concordance_index_)})

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"versions": {"lifelines": lifelines.__version__, "statsmodels": statsmodels.__version__,
                            "sklearn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__},
               "cases": cases}, f)
print("wrote %d cases to %s" % (len(cases), OUT))
