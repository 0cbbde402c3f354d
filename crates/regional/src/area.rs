//! The area model: municipality (市区町村) → 構想区域 → 二次医療圏 → prefecture,
//! loaded from the vendored tables of the `areas` crate (all 339 構想区域 and
//! 47 prefectures; 三重県's municipalities) plus user-supplied municipality
//! tables in the same layout for other prefectures, and the resolution of an
//! address (municipality-code extension, 構想区域-code extension, or prefecture
//! and city text) to a [`Place`].

use std::collections::HashMap;

use crate::{Error, Result};

/// The extension on `Address` that carries the 全国地方公共団体コード
/// (6 digits with check digit; 5 digits are accepted too) as `valueCode`.
pub const EXT_MUNICIPALITY: &str = "http://medtwin.jp/fhir/StructureDefinition/municipality-code";
/// The extension on `Address` that carries the 4-digit 構想区域 code as `valueCode`.
pub const EXT_AREA: &str = "http://medtwin.jp/fhir/StructureDefinition/medical-area-code";

/// The level at which places are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 市区町村.
    Municipality,
    /// 構想区域 (地域医療構想区域).
    Kosoku,
    /// 二次医療圏.
    Iryoken2,
    /// 都道府県.
    Prefecture,
}

impl Level {
    /// Parses `municipality`, `kosoku`, `iryoken2` or `prefecture`.
    pub fn parse(s: &str) -> Result<Level> {
        match s {
            "municipality" | "muni" => Ok(Level::Municipality),
            "kosoku" | "area" => Ok(Level::Kosoku),
            "iryoken2" | "iryoken" => Ok(Level::Iryoken2),
            "prefecture" | "pref" => Ok(Level::Prefecture),
            _ => Err(Error::Invalid(format!("unknown level '{s}' (municipality, kosoku, iryoken2 or prefecture)"))),
        }
    }
    /// The Japanese name of the level.
    pub fn label(self) -> &'static str {
        match self {
            Level::Municipality => "市町村",
            Level::Kosoku => "構想区域",
            Level::Iryoken2 => "二次医療圏",
            Level::Prefecture => "都道府県",
        }
    }
}

/// A prefecture.
#[derive(Debug, Clone)]
pub struct Prefecture {
    /// 2-digit code.
    pub code: String,
    /// Name, e.g. 三重県.
    pub name: String,
}

/// A 構想区域.
#[derive(Debug, Clone)]
pub struct Kosoku {
    /// 4-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Index of the prefecture.
    pub pref: usize,
    /// 2020 population.
    pub population: u64,
    /// Index of the 二次医療圏 (known where a municipality table is loaded).
    pub iryoken2: Option<usize>,
}

/// A 二次医療圏.
#[derive(Debug, Clone)]
pub struct Iryoken2 {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Index of the prefecture.
    pub pref: usize,
}

/// A municipality.
#[derive(Debug, Clone)]
pub struct Municipality {
    /// 5-digit code (without check digit).
    pub code: String,
    /// Name, e.g. 津市.
    pub name: String,
    /// Index of the 構想区域.
    pub kosoku: usize,
    /// Index of the prefecture.
    pub pref: usize,
    /// Population (2020 census) when known.
    pub population: Option<u64>,
}

/// Where a patient lives or a facility is: as much of the hierarchy as is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Place {
    /// Prefecture index.
    pub pref: Option<u16>,
    /// 構想区域 index.
    pub kosoku: Option<u16>,
    /// Municipality index.
    pub muni: Option<u32>,
}

/// How a place was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// From the municipality-code extension.
    MunicipalityCode,
    /// From the 構想区域-code extension.
    AreaCode,
    /// From the prefecture and city text.
    Text,
    /// Only the prefecture is known.
    PrefectureOnly,
    /// Nothing usable.
    Unknown,
}

/// The address fields used to place a patient or facility.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressParts<'a> {
    /// Value of the municipality-code extension.
    pub municipality_code: Option<&'a str>,
    /// Value of the 構想区域-code extension.
    pub area_code: Option<&'a str>,
    /// `Address.state` (prefecture name).
    pub state: Option<&'a str>,
    /// `Address.city`.
    pub city: Option<&'a str>,
    /// A 10-digit 医療機関コード whose first two digits give the prefecture.
    pub institution_code: Option<&'a str>,
}

/// One grouping unit of a table row or column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// A municipality, 構想区域, 二次医療圏 or prefecture (index at the level).
    Known(u32),
    /// Outside the modelled prefectures, only the prefecture known (prefecture index).
    OtherPrefecture(u16),
}

/// The area model.
#[derive(Debug, Clone)]
pub struct AreaModel {
    /// Prefectures.
    pub prefectures: Vec<Prefecture>,
    /// All 構想区域 of Japan.
    pub kosoku: Vec<Kosoku>,
    /// 二次医療圏 of the prefectures with municipality tables.
    pub iryoken2: Vec<Iryoken2>,
    /// Municipalities of the prefectures with municipality tables.
    pub municipalities: Vec<Municipality>,
    /// Prefectures with a municipality table (the region analysed).
    pub region: Vec<usize>,
    muni_by_code: HashMap<String, usize>,
    kosoku_by_code: HashMap<String, usize>,
    pref_by_code: HashMap<String, usize>,
    pref_by_name: HashMap<String, usize>,
}

fn header_index(head: &[&str], name: &str, what: &str) -> Result<usize> {
    head.iter()
        .position(|c| c.trim_start_matches('\u{feff}').trim() == name)
        .ok_or_else(|| Error::Invalid(format!("{what}: no column '{name}'")))
}

fn csv_rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.split(',').map(str::trim).collect()))
}

impl AreaModel {
    /// All of Japan's 構想区域 and prefectures, with no municipality table.
    pub fn japan() -> Result<AreaModel> {
        let mut m = AreaModel {
            prefectures: Vec::new(),
            kosoku: Vec::new(),
            iryoken2: Vec::new(),
            municipalities: Vec::new(),
            region: Vec::new(),
            muni_by_code: HashMap::new(),
            kosoku_by_code: HashMap::new(),
            pref_by_code: HashMap::new(),
            pref_by_name: HashMap::new(),
        };
        let text = areas::AREA_BASIC;
        let head: Vec<&str> = text.lines().next().unwrap_or_default().split(',').collect();
        let what = "area_basic.csv";
        let (pc, pn, ac, an, pop) = (
            header_index(&head, "pref_code", what)?,
            header_index(&head, "pref_name", what)?,
            header_index(&head, "area_code", what)?,
            header_index(&head, "area_name", what)?,
            header_index(&head, "population_2020", what)?,
        );
        for (line, f) in csv_rows(text) {
            let get = |i: usize| f.get(i).copied().ok_or_else(|| Error::Invalid(format!("{what} line {line}: too few fields")));
            let pref = m.pref_index_or_add(get(pc)?, get(pn)?);
            let population = get(pop)?.parse().map_err(|_| Error::Invalid(format!("{what} line {line}: bad population")))?;
            m.kosoku_by_code.insert(get(ac)?.to_string(), m.kosoku.len());
            m.kosoku.push(Kosoku { code: get(ac)?.to_string(), name: get(an)?.to_string(), pref, population, iryoken2: None });
        }
        Ok(m)
    }

    /// Japan plus 三重県's municipalities (the vendored table and 2020 census populations).
    pub fn mie() -> Result<AreaModel> {
        let mut m = AreaModel::japan()?;
        let pops: HashMap<&str, u64> = areas::MIE_MUNICIPALITY_POPULATION.iter().map(|(c, p)| (*c, *p as u64)).collect();
        m.add_municipality_table(areas::MIE_AREA_MUNICIPALITIES, "mie_area_municipalities.csv", Some(&pops))?;
        Ok(m)
    }

    fn pref_index_or_add(&mut self, code: &str, name: &str) -> usize {
        if let Some(&i) = self.pref_by_code.get(code) {
            return i;
        }
        let i = self.prefectures.len();
        self.prefectures.push(Prefecture { code: code.to_string(), name: name.to_string() });
        self.pref_by_code.insert(code.to_string(), i);
        self.pref_by_name.insert(name.to_string(), i);
        i
    }

    /// Adds a municipality table for a prefecture, in the layout of the vendored
    /// 三重県 table: `area_code,area_name,muni_code,muni_name,parent_iryoken2_code,parent_iryoken2_name`,
    /// optionally with a `population` column (used for claims rates).
    /// `populations` overrides the column by 5-digit municipality code.
    pub fn add_municipality_table(&mut self, text: &str, what: &str, populations: Option<&HashMap<&str, u64>>) -> Result<()> {
        let first = text.lines().next().ok_or_else(|| Error::Invalid(format!("{what}: empty")))?;
        let head: Vec<&str> = first.split(',').collect();
        let (ac, an, mc, mn, ic, inn) = (
            header_index(&head, "area_code", what)?,
            header_index(&head, "area_name", what)?,
            header_index(&head, "muni_code", what)?,
            header_index(&head, "muni_name", what)?,
            header_index(&head, "parent_iryoken2_code", what)?,
            header_index(&head, "parent_iryoken2_name", what)?,
        );
        let pop_col = head.iter().position(|c| c.trim() == "population");
        let mut added = 0;
        for (line, f) in csv_rows(text) {
            let get = |i: usize| f.get(i).copied().ok_or_else(|| Error::Invalid(format!("{what} line {line}: too few fields")));
            let code5: String = get(mc)?.chars().take(5).collect();
            if code5.len() != 5 || !code5.chars().all(|c| c.is_ascii_digit()) {
                return Err(Error::Invalid(format!("{what} line {line}: municipality code '{}' is not 5 or 6 digits", get(mc)?)));
            }
            let pref_code = &code5[..2];
            let pref = *self
                .pref_by_code
                .get(pref_code)
                .ok_or_else(|| Error::Invalid(format!("{what} line {line}: no prefecture {pref_code}")))?;
            let kosoku = match self.kosoku_by_code.get(get(ac)?) {
                Some(&k) => k,
                None => {
                    // A 構想区域 not in the MHLW table (e.g. a prefecture's own split): add it.
                    let k = self.kosoku.len();
                    self.kosoku.push(Kosoku { code: get(ac)?.to_string(), name: get(an)?.to_string(), pref, population: 0, iryoken2: None });
                    self.kosoku_by_code.insert(get(ac)?.to_string(), k);
                    k
                }
            };
            let ik_code = get(ic)?;
            let ik = match self.iryoken2.iter().position(|x| x.code == ik_code && x.pref == pref) {
                Some(i) => i,
                None => {
                    self.iryoken2.push(Iryoken2 { code: ik_code.to_string(), name: get(inn)?.to_string(), pref });
                    self.iryoken2.len() - 1
                }
            };
            self.kosoku[kosoku].iryoken2 = Some(ik);
            let population = match populations.and_then(|p| p.get(code5.as_str())) {
                Some(&p) => Some(p),
                None => match pop_col.and_then(|i| f.get(i)) {
                    Some(s) if !s.is_empty() => {
                        Some(s.parse().map_err(|_| Error::Invalid(format!("{what} line {line}: bad population '{s}'")))?)
                    }
                    _ => None,
                },
            };
            if self.muni_by_code.contains_key(&code5) {
                return Err(Error::Invalid(format!("{what} line {line}: municipality {code5} listed twice")));
            }
            self.muni_by_code.insert(code5.clone(), self.municipalities.len());
            self.municipalities.push(Municipality { code: code5, name: get(mn)?.to_string(), kosoku, pref, population });
            if !self.region.contains(&pref) {
                self.region.push(pref);
            }
            added += 1;
        }
        if added == 0 {
            return Err(Error::Invalid(format!("{what}: no municipalities")));
        }
        // 構想区域 created from the table get the population of their municipalities.
        for k in 0..self.kosoku.len() {
            if self.kosoku[k].population == 0 {
                self.kosoku[k].population =
                    self.municipalities.iter().filter(|m| m.kosoku == k).filter_map(|m| m.population).sum();
            }
        }
        Ok(())
    }

    /// Places an address.
    pub fn resolve(&self, a: &AddressParts<'_>) -> (Place, Resolution) {
        let place_of_muni = |i: usize| {
            let m = &self.municipalities[i];
            Place { pref: Some(m.pref as u16), kosoku: Some(m.kosoku as u16), muni: Some(i as u32) }
        };
        let mut pref_hint: Option<usize> = None;
        if let Some(code) = a.municipality_code.map(str::trim).filter(|c| c.len() >= 5 && c.is_ascii()) {
            if let Some(&i) = self.muni_by_code.get(&code[..5]) {
                return (place_of_muni(i), Resolution::MunicipalityCode);
            }
            pref_hint = self.pref_by_code.get(&code[..2]).copied();
        }
        if let Some(&k) = a.area_code.and_then(|c| self.kosoku_by_code.get(c.trim())) {
            let pref = self.kosoku[k].pref;
            return (Place { pref: Some(pref as u16), kosoku: Some(k as u16), muni: None }, Resolution::AreaCode);
        }
        let state_pref = a.state.and_then(|s| self.pref_by_name.get(s.trim())).copied();
        let pref = state_pref.or(pref_hint);
        if let Some(city) = a.city.map(str::trim).filter(|c| !c.is_empty()) {
            let hits: Vec<usize> = self
                .municipalities
                .iter()
                .enumerate()
                .filter(|(_, m)| pref.is_none_or(|p| m.pref == p) && m.name == city)
                .map(|(i, _)| i)
                .collect();
            if hits.len() == 1 {
                return (place_of_muni(hits[0]), Resolution::Text);
            }
        }
        let pref = pref.or_else(|| {
            a.institution_code
                .map(str::trim)
                .filter(|c| c.len() == 10 && c.chars().all(|x| x.is_ascii_digit()))
                .and_then(|c| self.pref_by_code.get(&c[..2]).copied())
        });
        match pref {
            Some(p) => (Place { pref: Some(p as u16), kosoku: None, muni: None }, Resolution::PrefectureOnly),
            None => (Place::default(), Resolution::Unknown),
        }
    }

    /// The unit of a place at a level, or `None` when it is unknown at that level.
    /// Places outside the modelled prefectures fall back to their prefecture.
    pub fn unit(&self, p: &Place, level: Level) -> Option<Unit> {
        let outside = |p: &Place| p.pref.filter(|&x| !self.region.contains(&(x as usize))).map(Unit::OtherPrefecture);
        match level {
            Level::Municipality => p.muni.map(Unit::Known).or_else(|| outside(p)),
            Level::Kosoku => p.kosoku.map(|k| Unit::Known(k as u32)).or_else(|| outside(p)),
            Level::Iryoken2 => {
                p.kosoku.and_then(|k| self.kosoku[k as usize].iryoken2).map(|i| Unit::Known(i as u32)).or_else(|| outside(p))
            }
            Level::Prefecture => p.pref.map(|x| Unit::Known(x as u32)),
        }
    }

    /// The code and Japanese label of a unit.
    pub fn unit_label(&self, u: Unit, level: Level) -> (String, String) {
        match u {
            Unit::OtherPrefecture(p) => {
                let pr = &self.prefectures[p as usize];
                (pr.code.clone(), format!("県外: {}", pr.name))
            }
            Unit::Known(i) => {
                let i = i as usize;
                match level {
                    Level::Municipality => (self.municipalities[i].code.clone(), self.municipalities[i].name.clone()),
                    Level::Kosoku => {
                        let k = &self.kosoku[i];
                        let name = if self.region.contains(&k.pref) {
                            k.name.clone()
                        } else {
                            format!("{}（{}）", k.name, self.prefectures[k.pref].name)
                        };
                        (k.code.clone(), name)
                    }
                    Level::Iryoken2 => (self.iryoken2[i].code.clone(), self.iryoken2[i].name.clone()),
                    Level::Prefecture => (self.prefectures[i].code.clone(), self.prefectures[i].name.clone()),
                }
            }
        }
    }

    /// The population of a unit when known (municipalities of the table, 構想区域,
    /// 二次医療圏 as the sum of their municipalities, prefectures as the sum of their 構想区域).
    pub fn unit_population(&self, u: Unit, level: Level) -> Option<u64> {
        let Unit::Known(i) = u else { return None };
        let i = i as usize;
        match level {
            Level::Municipality => self.municipalities[i].population,
            Level::Kosoku => Some(self.kosoku[i].population).filter(|&p| p > 0),
            Level::Iryoken2 => {
                let ms: Vec<&Municipality> =
                    self.municipalities.iter().filter(|m| self.kosoku[m.kosoku].iryoken2 == Some(i)).collect();
                if ms.iter().any(|m| m.population.is_none()) {
                    None
                } else {
                    Some(ms.iter().filter_map(|m| m.population).sum())
                }
            }
            Level::Prefecture => Some(self.kosoku.iter().filter(|k| k.pref == i).map(|k| k.population).sum()),
        }
    }

    /// The units of the modelled region at a level, in table order.
    pub fn region_units(&self, level: Level) -> Vec<Unit> {
        let in_region = |p: usize| self.region.contains(&p);
        match level {
            Level::Municipality => (0..self.municipalities.len()).map(|i| Unit::Known(i as u32)).collect(),
            Level::Kosoku => (0..self.kosoku.len()).filter(|&k| in_region(self.kosoku[k].pref)).map(|i| Unit::Known(i as u32)).collect(),
            Level::Iryoken2 => (0..self.iryoken2.len()).map(|i| Unit::Known(i as u32)).collect(),
            Level::Prefecture => self.region.iter().map(|&p| Unit::Known(p as u32)).collect(),
        }
    }

    /// Index of a 構想区域 by code.
    pub fn kosoku_index(&self, code: &str) -> Option<usize> {
        self.kosoku_by_code.get(code).copied()
    }

    /// Index of a prefecture by name.
    pub fn prefecture_by_name(&self, name: &str) -> Option<usize> {
        self.pref_by_name.get(name).copied()
    }

    /// Index of a municipality by 5- or 6-digit code.
    pub fn municipality_index(&self, code: &str) -> Option<usize> {
        code.get(..5).and_then(|c| self.muni_by_code.get(c)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mie_model_has_the_hierarchy() {
        let m = AreaModel::mie().expect("model");
        assert_eq!(m.kosoku.len(), 339);
        assert_eq!(m.prefectures.len(), 47);
        assert_eq!(m.municipalities.len(), 29);
        assert_eq!(m.iryoken2.len(), 4);
        assert_eq!(m.region_units(Level::Kosoku).len(), 8);
        let (p, how) = m.resolve(&AddressParts { municipality_code: Some("242012"), ..Default::default() });
        assert_eq!(how, Resolution::MunicipalityCode);
        assert_eq!(m.unit_label(m.unit(&p, Level::Municipality).expect("known"), Level::Municipality).1, "津市");
        assert_eq!(m.unit_label(m.unit(&p, Level::Kosoku).expect("known"), Level::Kosoku).1, "津");
        assert_eq!(m.unit_label(m.unit(&p, Level::Iryoken2).expect("known"), Level::Iryoken2).1, "中勢伊賀");
        // Text only.
        let (p, how) = m.resolve(&AddressParts { state: Some("三重県"), city: Some("伊賀市"), ..Default::default() });
        assert_eq!(how, Resolution::Text);
        assert_eq!(m.unit_label(m.unit(&p, Level::Kosoku).expect("known"), Level::Kosoku).1, "伊賀");
        // A 構想区域 code outside the region (新宮, 和歌山県).
        let (p, how) = m.resolve(&AddressParts { area_code: Some("3007"), state: Some("和歌山県"), city: Some("新宮"), ..Default::default() });
        assert_eq!(how, Resolution::AreaCode);
        assert_eq!(m.unit_label(m.unit(&p, Level::Kosoku).expect("known"), Level::Kosoku).1, "新宮（和歌山県）");
        assert_eq!(m.unit_label(m.unit(&p, Level::Municipality).expect("pref"), Level::Municipality).1, "県外: 和歌山県");
        // Prefecture of Mie but an unknown city: unknown at every level below the prefecture.
        let (p, how) = m.resolve(&AddressParts { state: Some("三重県"), city: Some("架空市"), ..Default::default() });
        assert_eq!(how, Resolution::PrefectureOnly);
        assert_eq!(m.unit(&p, Level::Municipality), None);
        assert_eq!(m.unit(&p, Level::Kosoku), None);
        assert!(m.unit(&p, Level::Prefecture).is_some());
        let (_, how) = m.resolve(&AddressParts::default());
        assert_eq!(how, Resolution::Unknown);
        // Populations.
        let tsu = m.municipality_index("24201").expect("tsu");
        assert_eq!(m.unit_population(Unit::Known(tsu as u32), Level::Municipality), Some(274_537));
    }

    #[test]
    fn user_tables_are_checked() {
        let mut m = AreaModel::japan().expect("japan");
        let bad = "area_code,area_name,muni_code,muni_name,parent_iryoken2_code\n";
        assert!(m.add_municipality_table(bad, "x.csv", None).is_err());
        let t = "area_code,area_name,muni_code,muni_name,parent_iryoken2_code,parent_iryoken2_name,population\n\
                 3001,和歌山,302015,和歌山市,3001,和歌山,356729\n";
        m.add_municipality_table(t, "wakayama.csv", None).expect("ok");
        let i = m.municipality_index("30201").expect("added");
        assert_eq!(m.municipalities[i].population, Some(356_729));
        assert!(m.add_municipality_table(t, "again.csv", None).is_err(), "duplicates are refused");
    }
}
