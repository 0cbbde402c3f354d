//! SVG rendering (no I/O): choropleth maps from the vendored TopoJSON
//! (municipalities of the region, optionally coloured by their 構想区域 or
//! 二次医療圏 with the boundaries between areas drawn as if dissolved; Japan by
//! prefecture) and a Sankey flow diagram from residence to care area. Labels
//! and legends are Japanese; suppressed values are hatched and say `<10`;
//! every map carries the boundary-data credit.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::area::{AreaModel, Level, Unit};
use crate::measure::FlowTable;
use crate::suppress::Count;
use crate::{Error, Result};

/// The value shown for one map unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Shade {
    /// A number, with its display text.
    Value(f64, String),
    /// Suppressed (`<10`).
    Suppressed(String),
}

/// A decoded TopoJSON: absolute arc coordinates and the features of its first object.
struct Topo {
    arcs: Vec<Vec<(f64, f64)>>,
    /// (properties, polygons as lists of rings as lists of arc references).
    features: Vec<(Value, Vec<Vec<Vec<i64>>>)>,
}

fn topo(text: &str) -> Result<Topo> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::Invalid(format!("TopoJSON: {e}")))?;
    let t = &v["transform"];
    let num = |x: &Value| x.as_f64().unwrap_or(0.0);
    let (sx, sy, tx, ty) = (num(&t["scale"][0]), num(&t["scale"][1]), num(&t["translate"][0]), num(&t["translate"][1]));
    let quantized = t.is_object();
    let arcs = v["arcs"]
        .as_array()
        .ok_or_else(|| Error::Invalid("TopoJSON without arcs".into()))?
        .iter()
        .map(|arc| {
            let (mut x, mut y) = (0.0, 0.0);
            arc.as_array()
                .map(|pts| {
                    pts.iter()
                        .map(|p| {
                            if quantized {
                                x += num(&p[0]);
                                y += num(&p[1]);
                                (x * sx + tx, y * sy + ty)
                            } else {
                                (num(&p[0]), num(&p[1]))
                            }
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let obj = v["objects"]
        .as_object()
        .and_then(|o| o.values().next())
        .ok_or_else(|| Error::Invalid("TopoJSON without objects".into()))?;
    let refs = |x: &Value| -> Vec<i64> { x.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default() };
    let rings = |x: &Value| -> Vec<Vec<i64>> { x.as_array().map(|a| a.iter().map(refs).collect()).unwrap_or_default() };
    let mut features = Vec::new();
    for g in obj["geometries"].as_array().into_iter().flatten() {
        let polys = match g["type"].as_str() {
            Some("Polygon") => vec![rings(&g["arcs"])],
            Some("MultiPolygon") => g["arcs"].as_array().map(|a| a.iter().map(rings).collect()).unwrap_or_default(),
            _ => continue,
        };
        features.push((g["properties"].clone(), polys));
    }
    Ok(Topo { arcs, features })
}

fn arc_points(t: &Topo, r: i64) -> Vec<(f64, f64)> {
    let (i, rev) = if r < 0 { ((!r) as usize, true) } else { (r as usize, false) };
    let mut p = t.arcs.get(i).cloned().unwrap_or_default();
    if rev {
        p.reverse();
    }
    p
}

/// Projection from lon/lat into a box (equirectangular, scaled by cos(latitude)).
struct Proj {
    x0: f64,
    y1: f64,
    k: f64,
    c: f64,
    ox: f64,
    oy: f64,
}

impl Proj {
    fn fit(points: &[(f64, f64)], w: f64, h: f64) -> Proj {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            return Proj { x0: 0.0, y1: 0.0, k: 1.0, c: 1.0, ox: 0.0, oy: 0.0 };
        }
        let c = ((y0 + y1) / 2.0).to_radians().cos();
        let k = (w / ((x1 - x0) * c).max(1e-9)).min(h / (y1 - y0).max(1e-9));
        let ox = (w - (x1 - x0) * c * k) / 2.0;
        let oy = (h - (y1 - y0) * k) / 2.0;
        Proj { x0, y1, k, c, ox, oy }
    }
    fn p(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (self.ox + (x - self.x0) * self.c * self.k, self.oy + (self.y1 - y) * self.k)
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Five sequential blues, light to dark.
const PALETTE: [&str; 5] = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];

fn classes(values: &[f64]) -> Vec<f64> {
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    if values.is_empty() {
        return vec![0.0; 6];
    }
    (0..=5).map(|i| lo + (hi - lo) * i as f64 / 5.0).collect()
}

fn colour(v: f64, breaks: &[f64]) -> &'static str {
    for (i, pair) in breaks.windows(2).enumerate() {
        if v <= pair[1] {
            return PALETTE[i];
        }
    }
    PALETTE[4]
}

fn legend(out: &mut String, x: f64, y: f64, title: &str, breaks: &[f64], fmt: &dyn Fn(f64) -> String, any: bool) {
    let _ = write!(out, r#"<g class="legend" font-size="12"><text x="{x}" y="{y}" font-weight="bold">{}</text>"#, esc(title));
    let mut yy = y + 8.0;
    if any {
        for i in 0..5 {
            let _ = write!(
                out,
                r##"<rect x="{x}" y="{yy}" width="18" height="14" fill="{}" stroke="#888"/><text x="{}" y="{}">{} – {}</text>"##,
                PALETTE[i],
                x + 24.0,
                yy + 11.0,
                esc(&fmt(breaks[i])),
                esc(&fmt(breaks[i + 1]))
            );
            yy += 18.0;
        }
    }
    let _ = write!(
        out,
        r##"<rect x="{x}" y="{yy}" width="18" height="14" fill="url(#hatch)" stroke="#888"/><text x="{}" y="{}">秘匿（少数）</text>"##,
        x + 24.0,
        yy + 11.0
    );
    yy += 18.0;
    let _ = write!(
        out,
        r##"<rect x="{x}" y="{yy}" width="18" height="14" fill="#e0e0e0" stroke="#888"/><text x="{}" y="{}">データなし</text></g>"##,
        x + 24.0,
        yy + 11.0
    );
}

const HATCH: &str = r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d9d9d9"/><line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/></pattern></defs>"##;

fn ring_path(t: &Topo, ring: &[i64], proj: &Proj, d: &mut String) {
    let mut first = true;
    for &r in ring {
        let pts = arc_points(t, r);
        for (k, p) in pts.iter().enumerate() {
            if k == 0 && !first {
                continue;
            }
            let (x, y) = proj.p(*p);
            let _ = write!(d, "{}{:.1},{:.1}", if first { "M" } else { "L" }, x, y);
            first = false;
        }
    }
    d.push('Z');
}

/// A choropleth of the region's municipalities. `values` are keyed by the unit
/// code at `level` (municipality, 構想区域 or 二次医療圏 code); at the area levels
/// municipalities take their area's colour, the lines between areas are drawn
/// bold, and area names are written at their centres.
pub fn choropleth(model: &AreaModel, level: Level, values: &HashMap<String, Shade>, title: &str, legend_title: &str) -> Result<String> {
    let t = topo(areas::MUNICIPALITIES_TOPOJSON)?;
    // Features of the region, with their unit code at the level.
    let mut feats: Vec<(usize, String, String, String)> = Vec::new(); // (feature, muni code, muni name, unit code)
    for (i, (props, _)) in t.features.iter().enumerate() {
        let Some(code) = props["N03_007"].as_str() else { continue };
        let Some(m) = model.municipality_index(code) else { continue };
        let unit = match level {
            Level::Municipality => Unit::Known(m as u32),
            _ => match model.unit(
                &crate::area::Place {
                    pref: Some(model.municipalities[m].pref as u16),
                    kosoku: Some(model.municipalities[m].kosoku as u16),
                    muni: Some(m as u32),
                },
                level,
            ) {
                Some(u) => u,
                None => continue,
            },
        };
        let (ucode, _) = model.unit_label(unit, level);
        feats.push((i, code.to_string(), model.municipalities[m].name.clone(), ucode));
    }
    if feats.is_empty() {
        return Err(Error::Invalid("no municipality of the area model is in the boundary data".into()));
    }
    let mut all_pts = Vec::new();
    for (i, ..) in &feats {
        for poly in &t.features[*i].1 {
            for ring in poly.iter().take(1) {
                for &r in ring {
                    all_pts.extend(arc_points(&t, r));
                }
            }
        }
    }
    let (w, h) = (640.0, 640.0);
    let proj = Proj::fit(&all_pts, w - 20.0, h - 20.0);
    let shown: Vec<f64> = values.values().filter_map(|s| if let Shade::Value(v, _) = s { Some(*v) } else { None }).collect();
    let breaks = classes(&shown);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" font-family="sans-serif" role="img" aria-label="{}">{HATCH}<text x="10" y="22" font-size="16" font-weight="bold">{}</text><g transform="translate(10,30)">"##,
        w + 220.0,
        h + 50.0,
        w + 220.0,
        h + 50.0,
        esc(title),
        esc(title)
    );
    // Arc use: which units use each arc, to draw area boundaries bold.
    let mut arc_units: HashMap<usize, Vec<&str>> = HashMap::new();
    for (i, mcode, mname, ucode) in &feats {
        let mut d = String::new();
        for poly in &t.features[*i].1 {
            for ring in poly {
                ring_path(&t, ring, &proj, &mut d);
                for &r in ring {
                    let a = if r < 0 { (!r) as usize } else { r as usize };
                    arc_units.entry(a).or_default().push(ucode);
                }
            }
        }
        let fill = match values.get(ucode) {
            Some(Shade::Value(v, _)) => colour(*v, &breaks).to_string(),
            Some(Shade::Suppressed(_)) => "url(#hatch)".to_string(),
            None => "#e0e0e0".to_string(),
        };
        let tip = match values.get(ucode) {
            Some(Shade::Value(_, s)) | Some(Shade::Suppressed(s)) => format!("{mname}: {s}"),
            None => format!("{mname}: データなし"),
        };
        let _ = write!(
            out,
            r##"<path d="{d}" fill="{fill}" stroke="#ffffff" stroke-width="0.6" data-code="{}" data-unit="{}"><title>{}</title></path>"##,
            esc(mcode),
            esc(ucode),
            esc(&tip)
        );
    }
    // Bold lines where the units on both sides differ (or the outer edge).
    let mut bold = String::new();
    for (a, units) in &arc_units {
        let boundary = units.len() == 1 || units.windows(2).any(|p| p[0] != p[1]);
        if boundary && (level != Level::Municipality || units.len() == 1) {
            let pts = arc_points(&t, *a as i64);
            for (k, p) in pts.iter().enumerate() {
                let (x, y) = proj.p(*p);
                let _ = write!(bold, "{}{:.1},{:.1}", if k == 0 { "M" } else { "L" }, x, y);
            }
        }
    }
    let _ = write!(out, r##"<path d="{bold}" fill="none" stroke="#333" stroke-width="1.4"/>"##);
    // Labels at the mean of each unit's vertices (area levels) or municipality (municipality level, small).
    let mut centres: HashMap<&str, (f64, f64, f64)> = HashMap::new();
    for (i, _, _, ucode) in &feats {
        for poly in &t.features[*i].1 {
            if let Some(ring) = poly.first() {
                for &r in ring {
                    for p in arc_points(&t, r) {
                        let (x, y) = proj.p(p);
                        let c = centres.entry(ucode.as_str()).or_insert((0.0, 0.0, 0.0));
                        c.0 += x;
                        c.1 += y;
                        c.2 += 1.0;
                    }
                }
            }
        }
    }
    if level != Level::Municipality {
        let mut names: Vec<(&str, String)> = feats
            .iter()
            .map(|f| {
                let u = model.region_units(level).into_iter().find(|u| model.unit_label(*u, level).0 == f.3);
                (f.3.as_str(), u.map(|u| model.unit_label(u, level).1).unwrap_or_default())
            })
            .collect();
        names.sort();
        names.dedup();
        for (code, name) in names {
            if let Some((x, y, n)) = centres.get(code) {
                let v = match values.get(code) {
                    Some(Shade::Value(_, s)) | Some(Shade::Suppressed(s)) => s.clone(),
                    None => String::new(),
                };
                let _ = write!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle" stroke="#fff" stroke-width="3" paint-order="stroke">{}<tspan x="{:.1}" dy="15" font-size="12">{}</tspan></text>"##,
                    x / n,
                    y / n,
                    esc(&name),
                    x / n,
                    esc(&v)
                );
            }
        }
    }
    out.push_str("</g>");
    let fmt = |v: f64| if v.abs() < 1.0 { format!("{v:.3}") } else { format!("{v:.1}") };
    legend(&mut out, w + 20.0, 60.0, legend_title, &breaks, &fmt, !shown.is_empty());
    let _ = write!(out, r##"<text x="10" y="{}" font-size="10" fill="#555">{}</text></svg>"##, h + 44.0, esc(areas::BOUNDARY_CREDIT));
    Ok(out)
}

/// A choropleth of Japan by prefecture; `values` are keyed by 2-digit prefecture code.
pub fn japan_map(model: &AreaModel, values: &HashMap<String, Shade>, title: &str, legend_title: &str) -> Result<String> {
    let t = topo(areas::PREFECTURES_TOPOJSON)?;
    let mut pts = Vec::new();
    for (_, polys) in &t.features {
        for poly in polys {
            for ring in poly.iter().take(1) {
                for &r in ring {
                    pts.extend(arc_points(&t, r));
                }
            }
        }
    }
    let (w, h) = (640.0, 640.0);
    let proj = Proj::fit(&pts, w - 20.0, h - 20.0);
    let shown: Vec<f64> = values.values().filter_map(|s| if let Shade::Value(v, _) = s { Some(*v) } else { None }).collect();
    let breaks = classes(&shown);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" font-family="sans-serif" role="img" aria-label="{}">{HATCH}<text x="10" y="22" font-size="16" font-weight="bold">{}</text><g transform="translate(10,30)">"##,
        w + 220.0,
        h + 50.0,
        w + 220.0,
        h + 50.0,
        esc(title),
        esc(title)
    );
    for (props, polys) in &t.features {
        let name = props["N03_001"].as_str().unwrap_or("");
        let code = model.prefecture_by_name(name).map(|p| model.prefectures[p].code.clone()).unwrap_or_default();
        let mut d = String::new();
        for poly in polys {
            for ring in poly {
                ring_path(&t, ring, &proj, &mut d);
            }
        }
        let (fill, tip) = match values.get(&code) {
            Some(Shade::Value(v, s)) => (colour(*v, &breaks).to_string(), format!("{name}: {s}")),
            Some(Shade::Suppressed(s)) => ("url(#hatch)".to_string(), format!("{name}: {s}")),
            None => ("#e0e0e0".to_string(), format!("{name}: データなし")),
        };
        let _ = write!(
            out,
            r##"<path d="{d}" fill="{fill}" stroke="#fff" stroke-width="0.5" data-code="{}"><title>{}</title></path>"##,
            esc(&code),
            esc(&tip)
        );
    }
    out.push_str("</g>");
    let fmt = |v: f64| if v.abs() < 1.0 { format!("{v:.3}") } else { format!("{v:.1}") };
    legend(&mut out, w + 20.0, 60.0, legend_title, &breaks, &fmt, !shown.is_empty());
    let _ = write!(out, r##"<text x="10" y="{}" font-size="10" fill="#555">{}</text></svg>"##, h + 44.0, esc(areas::BOUNDARY_CREDIT));
    Ok(out)
}

/// A Sankey diagram from residence areas (left) to care areas (right). Only
/// shown (unsuppressed, non-zero) cells are drawn; the note says so.
pub fn sankey(rows: &[String], cols: &[String], table: &FlowTable, title: &str) -> String {
    let (nr, nc) = (rows.len(), cols.len());
    let val = |r: usize, c: usize| table.cells.get(r * nc + c).and_then(|x| x.value()).unwrap_or(0);
    let row_sum: Vec<u64> = (0..nr).map(|r| (0..nc).map(|c| val(r, c)).sum()).collect();
    let col_sum: Vec<u64> = (0..nc).map(|c| (0..nr).map(|r| val(r, c)).sum()).collect();
    let total: u64 = row_sum.iter().sum();
    let suppressed = table.cells.iter().filter(|c| c.is_suppressed()).count();
    let (w, h) = (760.0, 560.0);
    let (left, right, top, gap) = (180.0, w - 180.0, 40.0, 6.0);
    let avail = |n: usize| h - top - 40.0 - gap * (n.saturating_sub(1)) as f64;
    let k = if total == 0 { 0.0 } else { avail(nr.max(nc)).max(10.0) / total as f64 };
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="12" role="img" aria-label="{}"><text x="10" y="20" font-size="16" font-weight="bold">{}</text><text x="{left}" y="34" text-anchor="end" fill="#555">住所地</text><text x="{right}" y="34" fill="#555">医療機関所在地</text>"##,
        esc(title),
        esc(title)
    );
    let mut ry = vec![0.0; nr];
    let mut y = top;
    for r in 0..nr {
        ry[r] = y;
        y += row_sum[r] as f64 * k + if row_sum[r] > 0 { gap } else { 0.0 };
    }
    let mut cy = vec![0.0; nc];
    let mut y = top;
    for c in 0..nc {
        cy[c] = y;
        y += col_sum[c] as f64 * k + if col_sum[c] > 0 { gap } else { 0.0 };
    }
    let mut r_off = ry.clone();
    let mut c_off = cy.clone();
    for r in 0..nr {
        for c in 0..nc {
            let v = val(r, c);
            if v == 0 {
                continue;
            }
            let t = v as f64 * k;
            let (y0, y1) = (r_off[r] + t / 2.0, c_off[c] + t / 2.0);
            let colour = if rows[r] == cols[c] { "#9ecae1" } else { "#fdae6b" };
            let mid = (left + right) / 2.0;
            let _ = write!(
                out,
                r##"<path d="M{left},{y0:.1} C{mid},{y0:.1} {mid},{y1:.1} {right},{y1:.1}" fill="none" stroke="{colour}" stroke-opacity="0.75" stroke-width="{:.1}"><title>{} → {}: {}</title></path>"##,
                t.max(0.5),
                esc(&rows[r]),
                esc(&cols[c]),
                v
            );
            r_off[r] += t;
            c_off[c] += t;
        }
    }
    for r in 0..nr {
        if row_sum[r] == 0 {
            continue;
        }
        let hgt = row_sum[r] as f64 * k;
        let _ = write!(
            out,
            r##"<rect x="{}" y="{:.1}" width="8" height="{:.1}" fill="#3182bd"/><text x="{}" y="{:.1}" text-anchor="end" dominant-baseline="middle">{} ({})</text>"##,
            left - 8.0,
            ry[r],
            hgt,
            left - 12.0,
            ry[r] + hgt / 2.0,
            esc(&rows[r]),
            table.row_totals.get(r).map(Count::to_string).unwrap_or_default()
        );
    }
    for c in 0..nc {
        if col_sum[c] == 0 {
            continue;
        }
        let hgt = col_sum[c] as f64 * k;
        let _ = write!(
            out,
            r##"<rect x="{right}" y="{:.1}" width="8" height="{:.1}" fill="#e6550d"/><text x="{}" y="{:.1}" dominant-baseline="middle">{} ({})</text>"##,
            cy[c],
            hgt,
            right + 12.0,
            cy[c] + hgt / 2.0,
            esc(&cols[c]),
            table.col_totals.get(c).map(Count::to_string).unwrap_or_default()
        );
    }
    let _ = write!(
        out,
        r##"<text x="10" y="{}" fill="#555">青: 区域内で受療 / 橙: 区域外へ流出。帯の太さは患者数。秘匿したセル {suppressed} 個（10 未満など）は描いていません。括弧内は合計。</text></svg>"##,
        h - 12.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mie_map_has_29_municipalities_and_the_credit() {
        let m = AreaModel::mie().expect("model");
        let mut v = HashMap::new();
        v.insert("2408".to_string(), Shade::Value(0.9, "90.0%".into()));
        v.insert("2412".to_string(), Shade::Suppressed("<10".into()));
        let svg = choropleth(&m, Level::Kosoku, &v, "自給率", "自給率").expect("svg");
        assert_eq!(svg.matches("data-code=").count(), 29);
        assert!(svg.contains("津") && svg.contains("東紀州") && svg.contains("url(#hatch)"));
        assert!(svg.contains(areas::BOUNDARY_CREDIT));
        let svg = japan_map(&m, &HashMap::new(), "全国", "率").expect("japan");
        assert_eq!(svg.matches("<path d=").count(), 47);
    }
}
