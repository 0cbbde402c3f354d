//! Geography: the 構想区域 (regional planning zones) with their 2020 populations,
//! 三重県's municipalities, the MHLW acute-care outflow rates between zones, and
//! the 全国地方公共団体コード check digit. Data are the vendored CSVs of the `areas` crate.

use crate::{Error, Region, Result};

const AREA_BASIC: &str = areas::AREA_BASIC;
const MIE_MUNIS: &str = areas::MIE_AREA_MUNICIPALITIES;
const FLOW: &str = areas::PATIENT_FLOW_ACUTE_OUTFLOW;

/// 2020 census populations of 三重県's 29 municipalities (令和2年国勢調査), used only
/// as weights to place residents inside their 構想区域; the zone totals come from
/// `area_basic.csv` (the sums agree with it within 3%, checked by a test).
const MIE_MUNI_POPULATION: &[(&str, u32)] = areas::MIE_MUNICIPALITY_POPULATION;

/// A municipality (市区町村).
#[derive(Debug, Clone)]
pub struct Municipality {
    /// 6-digit 全国地方公共団体コード (5 digits + check digit).
    pub code6: String,
    /// 5-digit code.
    pub code5: String,
    /// Name, e.g. 津市.
    pub name: String,
    /// Population used as a sampling weight.
    pub population: u32,
}

/// A 構想区域.
#[derive(Debug, Clone)]
pub struct Area {
    /// 4-digit zone code.
    pub code: String,
    /// Zone name.
    pub name: String,
    /// 2-digit prefecture code.
    pub pref_code: String,
    /// Prefecture name.
    pub pref_name: String,
    /// 2020 population.
    pub population: u64,
    /// 二次医療圏 code and name when known (三重県 only).
    pub iryoken2: Option<(String, String)>,
    /// Municipalities (known for 三重県 only).
    pub municipalities: Vec<Municipality>,
    /// Whether residents are simulated here (false: a zone outside the region that
    /// only receives patients, so it has hospitals but no residents).
    pub resident: bool,
}

/// The geography of one run.
#[derive(Debug, Clone)]
pub struct Geography {
    /// Zones: the resident zones first, then receiving-only zones.
    pub areas: Vec<Area>,
    /// Per zone: acute-care destinations `(zone index, probability)`, normalised to 1.
    pub acute_flow: Vec<Vec<(usize, f64)>>,
    /// Per zone: the published outflow rates before normalisation (same order).
    pub acute_flow_published: Vec<Vec<(usize, f64)>>,
}

/// 全国地方公共団体コード check digit for a 5-digit code (weights 6,5,4,3,2, modulus 11).
pub fn municipality_check_digit(code5: &str) -> Option<char> {
    let digits: Vec<u32> = code5.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if digits.len() != 5 {
        return None;
    }
    let s: u32 = digits.iter().zip([6, 5, 4, 3, 2]).map(|(d, w)| d * w).sum();
    let r = s % 11;
    let c = (11 - r) % 10;
    char::from_digit(c, 10)
}

fn columns(header: &str) -> Vec<&str> {
    header.split(',').collect()
}

fn col(cols: &[&str], name: &str) -> Result<usize> {
    cols.iter()
        .position(|c| *c == name)
        .ok_or_else(|| Error::Data(format!("vendored CSV lacks column {name}")))
}

impl Geography {
    /// Loads the geography for a region.
    pub fn load(region: Region) -> Result<Geography> {
        let mut lines = AREA_BASIC.lines();
        let head = columns(lines.next().unwrap_or_default());
        let (c_pc, c_pn, c_ac, c_an, c_pop) = (
            col(&head, "pref_code")?,
            col(&head, "pref_name")?,
            col(&head, "area_code")?,
            col(&head, "area_name")?,
            col(&head, "population_2020")?,
        );
        let mut all: Vec<Area> = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            let population = f
                .get(c_pop)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Data(format!("bad population in {line}")))?;
            all.push(Area {
                code: f[c_ac].to_string(),
                name: f[c_an].to_string(),
                pref_code: f[c_pc].to_string(),
                pref_name: f[c_pn].to_string(),
                population,
                iryoken2: None,
                municipalities: Vec::new(),
                resident: false,
            });
        }
        // 三重県 municipalities.
        let mut lines = MIE_MUNIS.lines();
        let head = columns(lines.next().unwrap_or_default());
        let (m_ac, m_mc, m_mn, m_ic, m_in) = (
            col(&head, "area_code")?,
            col(&head, "muni_code")?,
            col(&head, "muni_name")?,
            col(&head, "parent_iryoken2_code")?,
            col(&head, "parent_iryoken2_name")?,
        );
        for line in lines.filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            let area = all
                .iter_mut()
                .find(|a| a.code == f[m_ac])
                .ok_or_else(|| Error::Data(format!("unknown zone {}", f[m_ac])))?;
            let code5 = f[m_mc].to_string();
            let check = municipality_check_digit(&code5)
                .ok_or_else(|| Error::Data(format!("bad municipality code {code5}")))?;
            let population = MIE_MUNI_POPULATION
                .iter()
                .find(|(c, _)| *c == code5)
                .map(|(_, p)| *p)
                .ok_or_else(|| Error::Data(format!("no population for municipality {code5}")))?;
            area.iryoken2 = Some((f[m_ic].to_string(), f[m_in].to_string()));
            area.municipalities.push(Municipality {
                code6: format!("{code5}{check}"),
                code5,
                name: f[m_mn].to_string(),
                population,
            });
        }
        for a in &mut all {
            a.resident = match region {
                Region::Mie => a.pref_code == "24",
                Region::Japan => true,
            };
        }
        // Published outflow rates for acute care.
        let mut raw: Vec<(String, String, f64)> = Vec::new();
        let mut lines = FLOW.lines();
        let head = columns(lines.next().unwrap_or_default());
        let (f_ac, f_pc, f_rate, f_status) =
            (col(&head, "area_code")?, col(&head, "partner_area_code")?, col(&head, "rate")?, col(&head, "value_status")?);
        for line in lines.filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            if f.get(f_status) != Some(&"observed") {
                continue;
            }
            let rate: f64 = f[f_rate].parse().map_err(|_| Error::Data(format!("bad rate in {line}")))?;
            raw.push((f[f_ac].to_string(), f[f_pc].to_string(), rate));
        }
        // Keep the resident zones and any zone they send patients to.
        let mut keep: Vec<usize> = (0..all.len()).filter(|&i| all[i].resident).collect();
        for (from, to, _) in &raw {
            if keep.iter().any(|&i| &all[i].code == from) {
                if let Some(j) = all.iter().position(|a| &a.code == to) {
                    if !keep.contains(&j) {
                        keep.push(j);
                    }
                }
            }
        }
        let areas: Vec<Area> = keep.iter().map(|&i| all[i].clone()).collect();
        let index = |code: &str| areas.iter().position(|a| a.code == code);
        let mut published = vec![Vec::new(); areas.len()];
        for (from, to, rate) in &raw {
            if let (Some(i), Some(j)) = (index(from), index(to)) {
                if areas[i].resident && *rate > 0.0 {
                    published[i].push((j, *rate));
                }
            }
        }
        let mut acute_flow = Vec::with_capacity(areas.len());
        for (i, p) in published.iter_mut().enumerate() {
            if p.is_empty() {
                // No published flow: everyone is treated in their own zone.
                p.push((i, 1.0));
            }
            let total: f64 = p.iter().map(|x| x.1).sum();
            acute_flow.push(p.iter().map(|&(j, r)| (j, r / total)).collect());
        }
        Ok(Geography { areas, acute_flow, acute_flow_published: published })
    }

    /// Indices of the zones with residents.
    pub fn resident_areas(&self) -> Vec<usize> {
        (0..self.areas.len()).filter(|&i| self.areas[i].resident).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_known_codes() {
        assert_eq!(municipality_check_digit("13101"), Some('6')); // 千代田区 131016
        assert_eq!(municipality_check_digit("01100"), Some('2')); // 札幌市 011002
        assert_eq!(municipality_check_digit("24201"), Some('2')); // 津市 242012
    }

    #[test]
    fn mie_has_29_municipalities_in_8_zones_and_4_iryoken() {
        let g = Geography::load(Region::Mie).expect("geo");
        let res = g.resident_areas();
        assert_eq!(res.len(), 8);
        let munis: usize = res.iter().map(|&i| g.areas[i].municipalities.len()).sum();
        assert_eq!(munis, 29);
        let mut ik: Vec<_> = res.iter().filter_map(|&i| g.areas[i].iryoken2.clone()).collect();
        ik.sort();
        ik.dedup();
        assert_eq!(ik.len(), 4);
        for &i in &res {
            let a = &g.areas[i];
            let s: u64 = a.municipalities.iter().map(|m| m.population as u64).sum();
            let rel = (s as f64 - a.population as f64).abs() / a.population as f64;
            assert!(rel < 0.03, "{} {} vs {}", a.name, s, a.population);
            let total: f64 = g.acute_flow[i].iter().map(|x| x.1).sum();
            assert!((total - 1.0).abs() < 1e-9);
        }
        // 東紀州 sends acute patients to 新宮 (和歌山県), which must be present as a receiving zone.
        assert!(g.areas.iter().any(|a| a.code == "3007" && !a.resident));
    }

    #[test]
    fn japan_has_339_zones() {
        let g = Geography::load(Region::Japan).expect("geo");
        assert_eq!(g.resident_areas().len(), 339);
        let pop: u64 = g.areas.iter().map(|a| a.population).sum();
        assert!(pop > 120_000_000 && pop < 130_000_000, "{pop}");
    }
}
