//! Compiles a search plan to SQL over the index tables and runs it.
//!
//! The query is driven by one index table (the most selective positive
//! condition, scanned in `rid` order through its covering index, so a page is
//! a seek to the cursor and a short scan, never an OFFSET); every other
//! condition is a correlated `EXISTS` probe on the `(rid, pid, ...)` clustered
//! key of its table. Counts run the same query without the page limit and never
//! touch resource bodies.

use super::{TypeIds, row_to_stored};
use crate::index::FLAG;
use crate::search::{Condition, Prefix, RefValue, SearchQuery, SearchResult, SortKey, StrMode, Test, TokenValue, UriMode};
use crate::{Error, Result, Stored};
use fhir::search_params::SearchParamType as T;
use rusqlite::Connection;
use rusqlite::types::Value as V;

/// SQL text and its arguments.
#[derive(Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<V>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }
    fn arg(&mut self, v: V) {
        self.text.push('?');
        self.args.push(v);
    }
    fn int(&mut self, i: i64) {
        self.arg(V::Integer(i));
    }
    fn text_arg(&mut self, s: &str) {
        self.arg(V::Text(s.to_string()));
    }
    fn real(&mut self, f: f64) {
        self.arg(V::Real(f));
    }
}

/// The index table and the parameter-id constraint of a leaf test.
fn leaf(test: &Test) -> Option<(&'static str, Vec<i64>)> {
    Some(match test {
        Test::String { pid, .. } | Test::Text { pid, .. } => ("sp_string", vec![*pid]),
        Test::Token { pid, not: false, .. } => ("sp_token", vec![*pid]),
        Test::Date { pid, .. } => ("sp_date", vec![*pid]),
        Test::Number { pid, .. } => ("sp_number", vec![*pid]),
        Test::Quantity { pid, values } if values.iter().any(|v| v.canonical.is_some()) => {
            ("sp_quantity", vec![*pid, *pid + crate::index::CANON])
        }
        Test::Quantity { pid, .. } => ("sp_quantity", vec![*pid]),
        Test::Reference { pids, .. } => ("sp_reference", pids.clone()),
        Test::Uri { pid, .. } => ("sp_uri", vec![*pid]),
        _ => return None,
    })
}

/// How selective a leaf is likely to be (lower is better), to pick the driver.
fn selectivity(test: &Test) -> Option<u32> {
    leaf(test)?;
    let coarse = |pid: &i64| crate::index::catalog().by_pid(*pid).is_some_and(|p| p.coarse);
    Some(match test {
        Test::Reference { values, .. } if values.iter().all(|v| v.id.is_some() || v.url.is_some()) => 1,
        // `gender=male` matches half of all patients: anything else drives.
        Test::Token { pid, .. } if coarse(pid) => 8,
        Test::Token { values, .. } if values.iter().all(|v| v.code.is_some() && v.system.is_some()) => 2,
        Test::Token { values, .. } if values.iter().all(|v| v.code.is_some()) => 3,
        Test::String { mode: StrMode::Exact, .. } | Test::Uri { mode: UriMode::Eq, .. } => 4,
        Test::String { mode: StrMode::Prefix, .. } => 5,
        Test::Quantity { .. } | Test::Number { .. } => 6,
        Test::Date { .. } => 7,
        _ => 9,
    })
}

fn pid_sql(sql: &mut Sql, alias: &str, pids: &[i64]) {
    if let [p] = pids {
        sql.push(&format!("{alias}.pid = "));
        sql.int(*p);
    } else {
        sql.push(&format!("{alias}.pid IN ("));
        for (i, p) in pids.iter().enumerate() {
            if i > 0 {
                sql.push(",");
            }
            sql.int(*p);
        }
        sql.push(")");
    }
}

fn prefix_upper(v: &str) -> String {
    format!("{v}\u{10FFFF}")
}

fn like_escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Date predicate on a stored range [lo, hi) against a search range [qlo, qhi).
fn date_pred(sql: &mut Sql, lo: &str, hi: &str, p: Prefix, qlo: i64, qhi: i64) {
    let contained = |sql: &mut Sql| {
        sql.push(&format!("({lo} >= "));
        sql.int(qlo);
        sql.push(&format!(" AND {hi} <= "));
        sql.int(qhi);
        sql.push(")");
    };
    match p {
        Prefix::Eq => contained(sql),
        Prefix::Ne => {
            sql.push("NOT ");
            contained(sql);
        }
        Prefix::Gt => {
            sql.push(&format!("{hi} > "));
            sql.int(qhi);
        }
        Prefix::Lt => {
            sql.push(&format!("{lo} < "));
            sql.int(qlo);
        }
        Prefix::Ge => {
            sql.push(&format!("({hi} > "));
            sql.int(qhi);
            sql.push(" OR ");
            contained(sql);
            sql.push(")");
        }
        Prefix::Le => {
            sql.push(&format!("({lo} < "));
            sql.int(qlo);
            sql.push(" OR ");
            contained(sql);
            sql.push(")");
        }
        Prefix::Sa => {
            sql.push(&format!("{lo} >= "));
            sql.int(qhi);
        }
        Prefix::Eb => {
            sql.push(&format!("{hi} <= "));
            sql.int(qlo);
        }
        Prefix::Ap => {
            // 10% of the distance from now, at least the value's own precision.
            let now = crate::Instant::now().0;
            let gap = ((now - qlo).abs() / 10).max(qhi - qlo);
            sql.push(&format!("({hi} > "));
            sql.int(qlo.saturating_sub(gap));
            sql.push(&format!(" AND {lo} < "));
            sql.int(qhi.saturating_add(gap));
            sql.push(")");
        }
    }
}

/// Number predicate on a stored point value against (prefix, value, precision range).
fn number_pred(sql: &mut Sql, col: &str, p: Prefix, x: f64, lo: f64, hi: f64) {
    let mut cmp = |op: &str, v: f64| {
        sql.push(&format!("{col} {op} "));
        sql.real(v);
    };
    match p {
        Prefix::Eq => {
            cmp(">=", lo);
            sql.push(" AND ");
            sql.push(&format!("{col} < "));
            sql.real(hi);
        }
        Prefix::Ne => {
            sql.push(&format!("NOT ({col} >= "));
            sql.real(lo);
            sql.push(&format!(" AND {col} < "));
            sql.real(hi);
            sql.push(")");
        }
        Prefix::Gt | Prefix::Sa => cmp(">", x),
        Prefix::Lt | Prefix::Eb => cmp("<", x),
        Prefix::Ge => cmp(">=", x),
        Prefix::Le => cmp("<=", x),
        Prefix::Ap => {
            let d = (x.abs() * 0.1).max(hi - x);
            cmp(">=", x - d);
            sql.push(&format!(" AND {col} <= "));
            sql.real(x + d);
        }
    }
}

/// The id of a token or quantity system (NULL, so nothing matches, when the
/// store has never seen it); SQLite evaluates the subquery once.
fn system_id(sql: &mut Sql, url: &str) {
    sql.push("(SELECT sid FROM systems WHERE url = ");
    sql.text_arg(url);
    sql.push(")");
}

fn token_alt(sql: &mut Sql, a: &str, t: &TokenValue) {
    match (&t.system, &t.code) {
        (Some(s), Some(c)) => {
            sql.push(&format!("({a}.code = "));
            sql.text_arg(c);
            sql.push(&format!(" AND {a}.sys = "));
            system_id(sql, s);
            sql.push(")");
        }
        (None, Some(c)) => {
            sql.push(&format!("{a}.code = "));
            sql.text_arg(c);
        }
        (Some(s), None) => {
            sql.push(&format!("{a}.sys = "));
            system_id(sql, s);
        }
        (None, None) => sql.push("1"),
    }
}

fn ref_alt(sql: &mut Sql, a: &str, r: &RefValue) {
    if let Some(u) = &r.url {
        // The repeated `!= ''` lets the planner use the partial index on
        // url without looking at the bound value (plans do not, see schema).
        sql.push(&format!("({a}.url = "));
        sql.text_arg(u);
        sql.push(&format!(" AND {a}.url != '')"));
        return;
    }
    sql.push("(");
    sql.push(&format!("{a}.tid = "));
    sql.text_arg(r.id.as_deref().unwrap_or(""));
    if let Some(t) = &r.target_type {
        sql.push(&format!(" AND {a}.ttype = "));
        sql.text_arg(t);
    } else {
        sql.push(&format!(" AND {a}.ttype != ''"));
    }
    if let Some(v) = &r.version {
        sql.push(&format!(" AND {a}.ver = "));
        sql.text_arg(v);
    }
    sql.push(")");
}

/// The value predicate of a leaf test on table alias `a` (without the pid).
fn value_pred(sql: &mut Sql, a: &str, test: &Test, in_composite: bool) {
    let alts = |sql: &mut Sql, n: usize, f: &mut dyn FnMut(&mut Sql, usize)| {
        sql.push("(");
        for i in 0..n {
            if i > 0 {
                sql.push(" OR ");
            }
            f(sql, i);
        }
        sql.push(")");
    };
    match test {
        Test::String { mode, values, .. } => alts(sql, values.len(), &mut |sql, i| {
            let v = &values[i];
            match mode {
                StrMode::Prefix => {
                    sql.push(&format!("({a}.norm >= "));
                    sql.text_arg(v);
                    sql.push(&format!(" AND {a}.norm < "));
                    sql.text_arg(&prefix_upper(v));
                    sql.push(")");
                }
                StrMode::Exact => {
                    sql.push(&format!("{a}.raw = "));
                    sql.text_arg(v);
                }
                StrMode::Contains => {
                    sql.push(&format!("{a}.norm LIKE "));
                    sql.text_arg(&format!("%{}%", like_escape(v)));
                    sql.push(" ESCAPE '\\'");
                }
            }
        }),
        Test::Text { values, .. } => alts(sql, values.len(), &mut |sql, i| {
            sql.push(&format!("{a}.norm LIKE "));
            sql.text_arg(&format!("%{}%", like_escape(&values[i])));
            sql.push(" ESCAPE '\\'");
        }),
        Test::Token { values, .. } => {
            // `code IN (...)` lets SQLite use the (pid, code) index for OR lists.
            if values.len() > 1 && values.iter().all(|v| v.system.is_none() && v.code.is_some()) {
                sql.push(&format!("{a}.code IN ("));
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push(",");
                    }
                    sql.text_arg(v.code.as_deref().unwrap_or(""));
                }
                sql.push(")");
            } else {
                alts(sql, values.len(), &mut |sql, i| token_alt(sql, a, &values[i]));
            }
        }
        Test::Date { values, .. } => alts(sql, values.len(), &mut |sql, i| {
            let (p, lo, hi) = values[i];
            date_pred(sql, &format!("{a}.lo"), &format!("{a}.hi"), p, lo, hi);
        }),
        Test::Number { values, .. } => alts(sql, values.len(), &mut |sql, i| {
            let (p, x, lo, hi) = values[i];
            number_pred(sql, &format!("{a}.v"), p, x, lo, hi);
        }),
        Test::Quantity { pid, values } => alts(sql, values.len(), &mut |sql, i| {
            let q = &values[i];
            if let Some((v, lo, hi, unit)) = q.canonical.as_ref().filter(|_| !in_composite) {
                sql.push(&format!("({a}.pid = "));
                sql.int(pid + crate::index::CANON);
                sql.push(" AND ");
                number_pred(sql, &format!("{a}.v"), q.prefix, *v, *lo, *hi);
                sql.push(&format!(" AND {a}.code = "));
                sql.text_arg(unit);
                sql.push(")");
                return;
            }
            sql.push("(");
            if !in_composite {
                sql.push(&format!("{a}.pid = "));
                sql.int(*pid);
                sql.push(" AND ");
            }
            number_pred(sql, &format!("{a}.v"), q.prefix, q.value, q.lo, q.hi);
            if let Some(c) = &q.code {
                sql.push(&format!(" AND {a}.code = "));
                sql.text_arg(c);
            }
            if let Some(s) = &q.system {
                sql.push(&format!(" AND {a}.sys = "));
                system_id(sql, s);
            }
            sql.push(")");
        }),
        Test::Reference { values, .. } => alts(sql, values.len(), &mut |sql, i| ref_alt(sql, a, &values[i])),
        Test::Uri { mode, values, .. } => alts(sql, values.len(), &mut |sql, i| {
            let v = &values[i];
            match mode {
                UriMode::Eq => {
                    sql.push(&format!("{a}.uri = "));
                    sql.text_arg(v);
                }
                UriMode::Below => {
                    sql.push(&format!("({a}.uri >= "));
                    sql.text_arg(v);
                    sql.push(&format!(" AND {a}.uri < "));
                    sql.text_arg(&prefix_upper(v));
                    sql.push(")");
                }
                UriMode::Above => {
                    // Every prefix of the value that ends at a path segment.
                    sql.push(&format!("{a}.uri IN ("));
                    let mut first = true;
                    for (idx, _) in v.match_indices('/').chain(std::iter::once((v.len(), ""))) {
                        if !first {
                            sql.push(",");
                        }
                        first = false;
                        sql.text_arg(&v[..idx]);
                    }
                    sql.push(")");
                }
            }
        }),
        _ => sql.push("1"),
    }
}

/// Names unique table aliases.
struct Aliases(usize);
impl Aliases {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("x{}", self.0)
    }
}

/// Appends ` AND <condition>` for a condition on the resource whose rid is
/// `rid` and whose `resources` row is aliased `res`.
fn cond_sql(sql: &mut Sql, al: &mut Aliases, c: &Condition, rid: &str, res: &str, types: &TypeIds) -> Result<()> {
    sql.push(" AND ");
    test_sql(sql, al, &c.resource_type, &c.test, rid, res, types)
}

fn test_sql(sql: &mut Sql, al: &mut Aliases, rt: &str, test: &Test, rid: &str, res: &str, types: &TypeIds) -> Result<()> {
    match test {
        Test::Id(ids) => {
            sql.push(&format!("{res}.id IN ("));
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(",");
                }
                sql.text_arg(id);
            }
            sql.push(")");
        }
        Test::LastUpdated(alts) => {
            sql.push("(");
            for (i, (p, lo, hi)) in alts.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                date_pred(sql, &format!("{res}.ts"), &format!("({res}.ts + 1)"), *p, lo.0, hi.0);
            }
            sql.push(")");
        }
        Test::Missing { pid, table, missing } => {
            let a = al.next();
            sql.push(if *missing { "NOT EXISTS" } else { "EXISTS" });
            sql.push(&format!(" (SELECT 1 FROM {table} {a} WHERE {a}.rid = {rid} AND {a}.pid = "));
            sql.int(*pid);
            sql.push(")");
        }
        Test::Token { pid, values, not: true } => {
            let a = al.next();
            sql.push(&format!("NOT EXISTS (SELECT 1 FROM sp_token {a} WHERE {a}.rid = {rid} AND {a}.pid = "));
            sql.int(*pid);
            sql.push(" AND ");
            value_pred(sql, &a, &Test::Token { pid: *pid, values: values.clone(), not: false }, false);
            sql.push(")");
        }
        Test::Chain { pid, targets } => {
            sql.push("(");
            for (i, (tt, inner)) in targets.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                let (c, t) = (al.next(), al.next());
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM sp_reference {c} JOIN resources {t} ON {t}.tid = "
                ));
                sql.int(types.id(tt)?);
                sql.push(&format!(" AND {t}.id = {c}.tid AND {t}.deleted = 0 WHERE {c}.rid = {rid} AND {c}.pid = "));
                sql.int(*pid);
                sql.push(&format!(" AND {c}.ttype = "));
                sql.text_arg(tt);
                cond_sql(sql, al, inner, &format!("{t}.rid"), &t, types)?;
                sql.push(")");
            }
            sql.push(")");
        }
        Test::Has { ref_pid, inner, .. } => {
            let (h, s) = (al.next(), al.next());
            sql.push(&format!("EXISTS (SELECT 1 FROM sp_reference {h} JOIN resources {s} ON {s}.rid = {h}.rid WHERE {h}.pid = "));
            sql.int(*ref_pid);
            sql.push(&format!(" AND {h}.tid = {res}.id AND {h}.ttype = "));
            sql.text_arg(rt);
            cond_sql(sql, al, inner, &format!("{s}.rid"), &s, types)?;
            sql.push(")");
        }
        Test::Composite { pid, values } => {
            sql.push("(");
            for (i, comps) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                let names: Vec<String> = comps.iter().map(|_| al.next()).collect();
                let tables: Vec<&str> = comps.iter().map(|t| leaf(t).map(|l| l.0).unwrap_or("sp_token")).collect();
                sql.push(&format!("EXISTS (SELECT 1 FROM {} {}", tables[0], names[0]));
                for k in 1..comps.len() {
                    let (n, n0) = (&names[k], &names[0]);
                    sql.push(&format!(" JOIN {} {n} ON {n}.rid = {n0}.rid AND {n}.pid = {n0}.pid + ", tables[k]));
                    sql.int(FLAG * k as i64);
                }
                let n0 = &names[0];
                sql.push(&format!(" WHERE {n0}.rid = {rid} AND {n0}.pid >= "));
                sql.int(crate::index::composite_pid(*pid, 0, 0));
                sql.push(&format!(" AND {n0}.pid < "));
                sql.int(crate::index::composite_pid(*pid, crate::index::COMPOSITE_GROUPS, 0));
                sql.push(&format!(" AND (({n0}.pid - "));
                sql.int(*pid);
                sql.push(&format!(") / {FLAG} - 8) % 16 = 0"));
                for (k, t) in comps.iter().enumerate() {
                    sql.push(" AND ");
                    value_pred(sql, &names[k], t, true);
                }
                sql.push(")");
            }
            sql.push(")");
        }
        leafy => {
            let (table, pids) = leaf(leafy).ok_or_else(|| Error::Internal(format!("no SQL for {leafy:?}")))?;
            let a = al.next();
            sql.push(&format!("EXISTS (SELECT 1 FROM {table} {a} WHERE {a}.rid = {rid} AND "));
            pid_sql(sql, &a, &pids);
            sql.push(" AND ");
            value_pred(sql, &a, leafy, false);
            sql.push(")");
        }
    }
    Ok(())
}

/// A sort key expression on the resource with rid `d.rid` / row `r`, with
/// missing values mapped past the end so they sort last.
fn sort_expr(rt: &str, k: &SortKey) -> Result<(String, bool)> {
    let (agg, miss_text, miss_num) = if k.descending { ("max", "''", "-1e308") } else { ("min", "char(1114111)", "1e308") };
    Ok(match k.code.as_str() {
        "_id" => ("r.id".into(), true),
        "_lastUpdated" => ("r.ts".into(), false),
        code => {
            let p = crate::index::catalog()
                .get(rt, code)
                .ok_or_else(|| Error::InvalidParameter { name: "_sort".into(), value: code.into(), reason: "unknown parameter".into() })?;
            let pid = p.pid;
            let (table, col, text) = match p.kind {
                T::String => ("sp_string", "norm", true),
                T::Token => ("sp_token", "code", true),
                T::Date => ("sp_date", if k.descending { "hi" } else { "lo" }, false),
                T::Number => ("sp_number", "v", false),
                T::Quantity => ("sp_quantity", "v", false),
                T::Reference => ("sp_reference", "tid", true),
                T::Uri => ("sp_uri", "uri", true),
                _ => {
                    return Err(Error::InvalidParameter {
                        name: "_sort".into(),
                        value: code.into(),
                        reason: "cannot sort on this parameter type".into(),
                    });
                }
            };
            let miss = if text { miss_text } else { miss_num };
            (format!("coalesce((SELECT {agg}(s.{col}) FROM {table} s WHERE s.rid = r.rid AND s.pid = {pid}), {miss})"), text)
        }
    })
}

/// The base query: rids of current resources of `rt` matching `conds`, in
/// rid order unless sorted. Returns the SQL and whether it joined `r`.
fn base_query(rt: &str, tid: i64, conds: &[Condition], types: &TypeIds, extra_cols: &str, need_r: bool) -> Result<Sql> {
    let mut sql = Sql::default();
    let mut al = Aliases(0);
    let driver = conds
        .iter()
        .enumerate()
        .filter_map(|(i, c)| selectivity(&c.test).or_else(|| chain_selectivity(&c.test)).map(|s| (s, i)))
        .min()
        .map(|(_, i)| i);
    match driver {
        Some(di) => {
            let d = &conds[di];
            let others: Vec<&Condition> = conds.iter().enumerate().filter(|(i, _)| *i != di).map(|(_, c)| c).collect();
            // Only `_id`, `_lastUpdated` and `_has` read the resources row;
            // other conditions are index lookups by rid (a deleted resource
            // has no index rows, so the driver never yields one).
            let join_r = need_r || others.iter().any(|c| matches!(c.test, Test::Id(_) | Test::LastUpdated(_) | Test::Has { .. }));
            let table = match &d.test {
                Test::Chain { .. } => "sp_reference",
                t => leaf(t).ok_or_else(|| Error::Internal("driver is not a leaf".into()))?.0,
            };
            sql.push(&format!("SELECT d.rid AS rid{extra_cols} FROM {table} d"));
            if join_r {
                sql.push(" JOIN resources r ON r.rid = d.rid");
            }
            sql.push(" WHERE ");
            if let Test::Chain { pid, targets } = &d.test {
                // The (selective) condition on the target drives: its matches'
                // ids are looked up in the reference index.
                pid_sql(&mut sql, "d", &[*pid]);
                let (tt, inner) = &targets[0];
                let ttid = types.id(tt)?;
                let sub = base_query(tt, ttid, std::slice::from_ref(inner), types, "", false)?;
                sql.push(" AND d.ttype = ");
                sql.text_arg(tt);
                sql.push(" AND d.tid IN (SELECT t.id FROM resources t WHERE t.rid IN (");
                sql.push(&sub.text);
                sql.args.extend(sub.args);
                sql.push("))");
            } else {
                let (_, pids) = leaf(&d.test).ok_or_else(|| Error::Internal("driver is not a leaf".into()))?;
                pid_sql(&mut sql, "d", &pids);
                sql.push(" AND ");
                value_pred(&mut sql, "d", &d.test, false);
            }
            for c in others {
                cond_sql(&mut sql, &mut al, c, "d.rid", "r", types)?;
            }
        }
        None => {
            sql.push(&format!("SELECT r.rid AS rid{extra_cols} FROM resources r WHERE r.tid = "));
            sql.int(tid);
            sql.push(" AND r.deleted = 0");
            for c in conds {
                cond_sql(&mut sql, &mut al, c, "r.rid", "r", types)?;
            }
        }
    }
    let _ = rt;
    Ok(sql)
}

/// A chain whose single target condition is selective can drive the query.
fn chain_selectivity(test: &Test) -> Option<u32> {
    match test {
        Test::Chain { targets, .. } if targets.len() == 1 => {
            let inner = &targets[0].1.test;
            match selectivity(inner).or_else(|| chain_selectivity(inner)) {
                Some(s) if s <= 3 => Some(s + 1),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A keyset cursor: the sort-key values and rid of the last row of a page.
fn encode_cursor(keys: &[V], rid: i64) -> String {
    let mut parts: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| match k {
            V::Integer(i) => serde_json::json!(i),
            V::Real(f) => serde_json::json!(f),
            V::Text(t) => serde_json::json!(t),
            _ => serde_json::Value::Null,
        })
        .collect();
    parts.push(serde_json::json!(rid));
    serde_json::Value::Array(parts).to_string()
}

fn decode_cursor(c: &str, nkeys: usize) -> Result<(Vec<V>, i64)> {
    let bad = || Error::InvalidParameter { name: "_cursor".into(), value: c.into(), reason: "not a cursor from this server".into() };
    let v: serde_json::Value = serde_json::from_str(c).map_err(|_| bad())?;
    let arr = v.as_array().ok_or_else(bad)?;
    if arr.len() != nkeys + 1 {
        return Err(bad());
    }
    let rid = arr[nkeys].as_i64().ok_or_else(bad)?;
    let keys = arr[..nkeys]
        .iter()
        .map(|k| match k {
            serde_json::Value::String(s) => Ok(V::Text(s.clone())),
            serde_json::Value::Number(n) if n.is_i64() => Ok(V::Integer(n.as_i64().unwrap_or(0))),
            serde_json::Value::Number(n) => Ok(V::Real(n.as_f64().unwrap_or(0.0))),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((keys, rid))
}

/// One page of matching rids of one type, with the cursor of the next page.
pub(crate) fn page(
    conn: &Connection,
    types: &TypeIds,
    rt: &str,
    conds: &[Condition],
    sort: &[SortKey],
    count: usize,
    cursor: Option<&str>,
) -> Result<Page> {
    let tid = types.id(rt)?;
    let exprs: Vec<(String, bool)> = sort
        .iter().map(|k| sort_expr(rt, k)).collect::<Result<_>>()?;
    let extra: String = exprs.iter().enumerate().map(|(i, (e, _))| format!(", {e} AS k{i}")).collect();
    let inner = base_query(rt, tid, conds, types, &extra, !sort.is_empty())?;
    let driven = inner.text.starts_with("SELECT d.");
    let ridcol = if driven { "d.rid" } else { "r.rid" };
    let group = if driven { " GROUP BY d.rid" } else { "" };
    let before = cursor.and_then(|c| c.strip_prefix("b")).map(|b| b.parse::<i64>());
    if let Some(b) = before {
        // A `previous` link: the page that ends just before rid `b`.
        let b = b.map_err(|_| Error::InvalidParameter {
            name: "_cursor".into(),
            value: cursor.unwrap_or("").into(),
            reason: "not a cursor from this server".into(),
        })?;
        if !sort.is_empty() {
            return Err(Error::InvalidParameter {
                name: "_cursor".into(),
                value: cursor.unwrap_or("").into(),
                reason: "backward cursors are only issued for unsorted searches".into(),
            });
        }
        let mut sql = inner;
        sql.push(&format!(" AND {ridcol} < "));
        sql.int(b);
        sql.push(group);
        sql.push(&format!(" ORDER BY {ridcol} DESC LIMIT "));
        sql.int(count as i64 + 1);
        let (mut rids, more) = finish_page(conn, sql, 0, count)?;
        rids.reverse();
        let prev = if more.is_some() { rids.first().map(|r| format!("b{r}")) } else { None };
        let next = rids.last().map(|r| encode_cursor(&[], *r));
        return Ok(Page { rids, next, prev });
    }
    let (ckeys, crid) = match cursor {
        Some(c) => {
            let (k, r) = decode_cursor(c, sort.len())?;
            (k, Some(r))
        }
        None => (Vec::new(), None),
    };
    let mut sql = Sql::default();
    if sort.is_empty() {
        // Storage order: the cursor is a seek on the driving index.
        sql = inner;
        if let Some(crid) = crid {
            sql.push(&format!(" AND {ridcol} > "));
            sql.int(crid);
        }
        sql.push(group);
        sql.push(&format!(" ORDER BY {ridcol} LIMIT "));
        sql.int(count as i64 + 1);
        let (rids, next) = finish_page(conn, sql, 0, count)?;
        let prev = if crid.is_some() { rids.first().map(|r| format!("b{r}")) } else { None };
        return Ok(Page { rids, next, prev });
    }
    sql.push("SELECT * FROM (");
    sql.push(&inner.text);
    sql.args.extend(inner.args);
    sql.push(group);
    sql.push(") WHERE 1");
    if let Some(crid) = crid {
        // (k0, k1, ..., rid) after the cursor, each key in its own direction.
        sql.push(" AND (");
        for i in 0..=sort.len() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for (j, ck) in ckeys.iter().enumerate().take(i) {
                sql.push(&format!("k{j} = "));
                sql.arg(ck.clone());
                sql.push(" AND ");
            }
            if i == sort.len() {
                sql.push("rid > ");
                sql.int(crid);
            } else {
                sql.push(&format!("k{i} {} ", if sort[i].descending { "<" } else { ">" }));
                sql.arg(ckeys[i].clone());
            }
            sql.push(")");
        }
        sql.push(")");
    }
    sql.push(" ORDER BY ");
    for (i, k) in sort.iter().enumerate() {
        sql.push(&format!("k{i}{}, ", if k.descending { " DESC" } else { "" }));
    }
    sql.push("rid LIMIT ");
    sql.int(count as i64 + 1);
    let (rids, next) = finish_page(conn, sql, sort.len(), count)?;
    Ok(Page { rids, next, prev: None })
}

/// One page of rids with its neighbours' cursors.
pub(crate) struct Page {
    pub(crate) rids: Vec<i64>,
    pub(crate) next: Option<String>,
    pub(crate) prev: Option<String>,
}

fn finish_page(conn: &Connection, sql: Sql, nkeys: usize, count: usize) -> Result<(Vec<i64>, Option<String>)> {
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sql.args.iter()))?;
    let mut out: Vec<(i64, Vec<V>)> = Vec::new();
    while let Some(row) = rows.next()? {
        let rid: i64 = row.get(0)?;
        let mut keys = Vec::with_capacity(nkeys);
        for i in 0..nkeys {
            keys.push(row.get::<_, V>(i + 1)?);
        }
        out.push((rid, keys));
    }
    let next = if out.len() > count {
        out.truncate(count);
        out.last().map(|(rid, keys)| encode_cursor(keys, *rid))
    } else {
        None
    };
    Ok((out.into_iter().map(|(r, _)| r).collect(), next))
}

/// The number of matches of one type.
pub(crate) fn count(conn: &Connection, types: &TypeIds, rt: &str, conds: &[Condition]) -> Result<u64> {
    let tid = types.id(rt)?;
    let inner = base_query(rt, tid, conds, types, "", false)?;
    let text = if inner.text.starts_with("SELECT d.") {
        format!("SELECT count(*) FROM ({} GROUP BY d.rid)", inner.text)
    } else {
        format!("SELECT count(*) FROM ({})", inner.text)
    };
    let n: i64 = conn.prepare_cached(&text)?.query_row(rusqlite::params_from_iter(inner.args.iter()), |r| r.get(0))?;
    Ok(n as u64)
}

/// The query plan SQLite uses for a search (for benchmarks and docs).
pub(crate) fn explain(conn: &Connection, types: &TypeIds, rt: &str, conds: &[Condition]) -> Result<String> {
    let tid = types.id(rt)?;
    let inner = base_query(rt, tid, conds, types, "", false)?;
    let text = format!("EXPLAIN QUERY PLAN {}", inner.text);
    let mut stmt = conn.prepare(&text)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(inner.args.iter()), |r| r.get::<_, String>(3))?;
    let mut out = format!("{}\n", inner.text);
    for r in rows {
        out.push_str(&r?);
        out.push('\n');
    }
    Ok(out)
}

/// Loads current versions by rid, in the order given, a few hundred per query.
pub(crate) fn load_many(conn: &Connection, types: &TypeIds, rids: &[i64]) -> Result<Vec<Stored>> {
    let mut by_rid: std::collections::HashMap<i64, Stored> = std::collections::HashMap::with_capacity(rids.len());
    for chunk in rids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT r.tid, r.id, r.version, r.seq, r.ts, v.method, v.body, r.rid \
             FROM resources r JOIN versions v ON v.seq = r.seq WHERE r.rid IN ({marks})"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(chunk.iter()))?;
        while let Some(row) = rows.next()? {
            let rid: i64 = row.get(7)?;
            by_rid.insert(rid, row_to_stored(types, row)??);
        }
    }
    rids.iter()
        .map(|r| by_rid.remove(r).ok_or_else(|| Error::Corrupt(format!("resource row {r} vanished during a search"))))
        .collect()
}

/// Runs a whole search: one page (merged by rid across types), its includes and the total.
pub(crate) fn run(conn: &Connection, types: &TypeIds, q: &SearchQuery) -> Result<SearchResult> {
    if q.resource_types.len() != q.conditions.len() {
        return Err(Error::Internal("one condition list per searched type".into()));
    }
    let mut rids: Vec<i64> = Vec::new();
    let mut next = None;
    let mut prev = None;
    if q.resource_types.len() == 1 {
        if q.count > 0 {
            let p = page(conn, types, &q.resource_types[0], &q.conditions[0], &q.sort, q.count, q.cursor.as_deref())?;
            rids = p.rids;
            next = p.next;
            prev = p.prev;
        }
    } else if q.count > 0 {
        if !q.sort.is_empty() {
            return Err(Error::InvalidParameter {
                name: "_sort".into(),
                value: q.sort.iter().map(|k| k.code.clone()).collect::<Vec<_>>().join(","),
                reason: "sorting a search over several types is not supported".into(),
            });
        }
        let mut all = Vec::new();
        for (t, c) in q.resource_types.iter().zip(&q.conditions) {
            if q.cursor.as_deref().is_some_and(|c| c.starts_with('b')) {
                return Err(Error::InvalidParameter {
                    name: "_cursor".into(),
                    value: q.cursor.clone().unwrap_or_default(),
                    reason: "backward cursors are not issued for searches over several types".into(),
                });
            }
            all.extend(page(conn, types, t, c, &[], q.count, q.cursor.as_deref())?.rids);
        }
        all.sort_unstable();
        if all.len() > q.count {
            all.truncate(q.count);
            next = all.last().map(|r| encode_cursor(&[], *r));
        }
        rids = all;
    }
    let entries = load_many(conn, types, &rids)?;
    let total = match q.total {
        crate::search::TotalMode::None => None,
        _ => {
            let mut n = 0;
            for (t, c) in q.resource_types.iter().zip(&q.conditions) {
                n += count(conn, types, t, c)?;
            }
            Some(n)
        }
    };
    let included = includes(conn, types, q, &rids)?;
    Ok(SearchResult { entries, included, next_cursor: next, prev_cursor: prev, total })
}

/// The most resources `_include`/`_revinclude` add to one page.
const MAX_INCLUDED: usize = 1000;

fn includes(conn: &Connection, types: &TypeIds, q: &SearchQuery, page: &[i64]) -> Result<Vec<Stored>> {
    if q.include.is_empty() && q.revinclude.is_empty() {
        return Ok(Vec::new());
    }
    let cat = crate::index::catalog();
    let mut seen: std::collections::HashSet<i64> = page.iter().copied().collect();
    let mut out_rids: Vec<i64> = Vec::new();
    let mut frontier: Vec<i64> = page.to_vec();
    let mut first = true;
    while !frontier.is_empty() && out_rids.len() < MAX_INCLUDED {
        let mut found: Vec<i64> = Vec::new();
        // (type, id) of each resource in the frontier.
        let mut keyed = Vec::new();
        for rid in &frontier {
            let (tid, id): (i64, String) =
                conn.prepare_cached("SELECT tid, id FROM resources WHERE rid = ?1")?.query_row([rid], |r| Ok((r.get(0)?, r.get(1)?)))?;
            keyed.push((*rid, types.name(tid)?.to_string(), id));
        }
        for inc in &q.include {
            if !first && !inc.iterate {
                continue;
            }
            for (rid, rt, _) in &keyed {
                if inc.source_type != "*" && &inc.source_type != rt {
                    continue;
                }
                let pids: Vec<i64> = if inc.param == "*" {
                    cat.for_type(rt).iter().filter(|p| p.kind == T::Reference).map(|p| p.pid).collect()
                } else {
                    cat.get(rt, &inc.param).map(|p| vec![p.pid]).unwrap_or_default()
                };
                for pid in pids {
                    let mut stmt = conn.prepare_cached(
                        "SELECT t.rid, x.ttype FROM sp_reference x JOIN types ty ON ty.name = x.ttype \
                         JOIN resources t ON t.tid = ty.tid AND t.id = x.tid AND t.deleted = 0 \
                         WHERE x.rid = ?1 AND x.pid = ?2 AND x.ttype != ''",
                    )?;
                    let rows = stmt.query_map(rusqlite::params![rid, pid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
                    for row in rows {
                        let (t, ty) = row?;
                        if inc.target_type.as_ref().is_none_or(|x| *x == ty) && seen.insert(t) {
                            found.push(t);
                        }
                    }
                }
            }
        }
        for inc in &q.revinclude {
            if !first && !inc.iterate {
                continue;
            }
            for (_, rt, id) in &keyed {
                let srcs: Vec<&crate::index::ParamInfo> = if inc.param == "*" {
                    let ts: Vec<String> = if inc.source_type == "*" {
                        fhir::definitions::r4().resource_types().to_vec()
                    } else {
                        vec![inc.source_type.clone()]
                    };
                    ts.iter().flat_map(|t| cat.for_type(t)).filter(|p| p.kind == T::Reference).collect()
                } else {
                    cat.get(&inc.source_type, &inc.param).into_iter().collect()
                };
                for p in srcs {
                    if inc.target_type.as_ref().is_some_and(|x| x != rt) {
                        continue;
                    }
                    let mut stmt =
                        conn.prepare_cached("SELECT rid FROM sp_reference WHERE pid = ?1 AND tid = ?2 AND ttype = ?3")?;
                    let rows = stmt.query_map(rusqlite::params![p.pid, id, rt], |r| r.get::<_, i64>(0))?;
                    for row in rows {
                        let t = row?;
                        if seen.insert(t) {
                            found.push(t);
                        }
                    }
                }
            }
        }
        first = false;
        found.truncate(MAX_INCLUDED.saturating_sub(out_rids.len()));
        out_rids.extend(&found);
        frontier = found;
        if !q.include.iter().chain(&q.revinclude).any(|i| i.iterate) {
            break;
        }
    }
    load_many(conn, types, &out_rids)
}

/// Ids of current resources matching `conds` (for conditional interactions).
pub(crate) fn find_ids(conn: &Connection, types: &TypeIds, rt: &str, conds: &[Condition], limit: usize) -> Result<Vec<String>> {
    let rids = page(conn, types, rt, conds, &[], limit, None)?.rids;
    let mut out = Vec::with_capacity(rids.len());
    for rid in rids {
        let id: String = conn.prepare_cached("SELECT id FROM resources WHERE rid = ?1")?.query_row([rid], |r| r.get(0))?;
        out.push(id);
    }
    Ok(out)
}
