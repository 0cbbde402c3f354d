//! Hospitals, clinics and dental clinics per 構想区域 with beds, departments,
//! 10-digit 医療機関コード and their physicians. Counts follow Japan's national
//! ratios (about one hospital per 15,000 people, one clinic per 1,200 and one
//! dental clinic per 1,850); clinic counts are scaled down with the sample size
//! so that small runs do not consist mostly of empty clinics.

use crate::geo::Geography;
use crate::names::{era_of, FEMALE_GIVEN, MALE_GIVEN, SURNAMES};
use crate::rng::{stream, Alias, Rng};

/// A clinical department (診療科), with the code used in claims and SS-MIX2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dept {
    /// 2-digit department code (レセプト 診療科コード).
    pub code: &'static str,
    /// Japanese name.
    pub name: &'static str,
}

/// Departments used by the generator.
pub mod dept {
    use super::Dept;
    /// 内科.
    pub const INTERNAL: Dept = Dept { code: "01", name: "内科" };
    /// 呼吸器内科.
    pub const RESPIRATORY: Dept = Dept { code: "05", name: "呼吸器内科" };
    /// 消化器内科.
    pub const GASTRO: Dept = Dept { code: "06", name: "消化器内科" };
    /// 循環器内科.
    pub const CARDIO: Dept = Dept { code: "08", name: "循環器内科" };
    /// 外科.
    pub const SURGERY: Dept = Dept { code: "10", name: "外科" };
    /// 整形外科.
    pub const ORTHO: Dept = Dept { code: "11", name: "整形外科" };
    /// 脳神経外科.
    pub const NEUROSURGERY: Dept = Dept { code: "14", name: "脳神経外科" };
    /// 心臓血管外科.
    pub const CARDIAC_SURGERY: Dept = Dept { code: "16", name: "心臓血管外科" };
    /// 泌尿器科.
    pub const UROLOGY: Dept = Dept { code: "20", name: "泌尿器科" };
    /// 産婦人科.
    pub const OBGYN: Dept = Dept { code: "23", name: "産婦人科" };
    /// 小児科.
    pub const PEDIATRICS: Dept = Dept { code: "09", name: "小児科" };
    /// 歯科.
    pub const DENTAL: Dept = Dept { code: "40", name: "歯科" };
}

/// Kind of facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacilityKind {
    /// 病院 (20 beds or more).
    Hospital,
    /// 一般診療所.
    Clinic,
    /// 歯科診療所.
    Dental,
}

/// A physician or dentist.
#[derive(Debug, Clone)]
pub struct Practitioner {
    /// Resource id.
    pub id: String,
    /// Family and given name in kanji.
    pub kanji: (String, String),
    /// Family and given name in katakana.
    pub kana: (String, String),
    /// Department.
    pub dept: Dept,
    /// Index of the facility.
    pub facility: usize,
    /// Whether this is a dentist.
    pub dentist: bool,
    /// 医籍登録番号-like registration number (synthetic).
    pub registration: String,
}

/// A facility.
#[derive(Debug, Clone)]
pub struct Facility {
    /// Index in [`Facilities::list`].
    pub index: usize,
    /// Kind.
    pub kind: FacilityKind,
    /// Zone index.
    pub area: usize,
    /// Municipality index within the zone (if known).
    pub muni: Option<usize>,
    /// Name.
    pub name: String,
    /// 10-digit 医療機関コード (prefecture 2 + 点数表 1 + 7-digit code).
    pub code10: String,
    /// Beds (0 for clinics).
    pub beds: u32,
    /// Departments.
    pub depts: Vec<Dept>,
    /// Whether PCI and CABG are done here.
    pub pci_capable: bool,
    /// Indices into [`Facilities::practitioners`].
    pub practitioners: Vec<usize>,
}

impl Facility {
    /// Resource id of the Organization.
    pub fn org_id(&self) -> String {
        format!("org-{}", self.code10)
    }
    /// 7-digit code.
    pub fn code7(&self) -> &str {
        &self.code10[3..]
    }
    /// Prefecture code.
    pub fn pref(&self) -> &str {
        &self.code10[..2]
    }
    /// A practitioner of a department, falling back to any.
    pub fn practitioner_for(&self, d: Dept, all: &[Practitioner], pick: u64) -> usize {
        let of: Vec<usize> = self.practitioners.iter().copied().filter(|&p| all[p].dept == d).collect();
        let from = if of.is_empty() { &self.practitioners } else { &of };
        from[(pick % from.len() as u64) as usize]
    }
    /// The department to use, falling back to the first one.
    pub fn dept_or_first(&self, d: Dept) -> Dept {
        if self.depts.contains(&d) { d } else { self.depts[0] }
    }
}

/// Luhn-style check digit (modulus 10, weights 2 and 1 from the right), as used by
/// 医療機関コード and 保険者番号.
pub fn mod10_w21(digits: &str) -> char {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c.to_digit(10).unwrap_or(0);
        let p = if i % 2 == 0 { d * 2 } else { d };
        sum += p / 10 + p % 10;
    }
    char::from_digit((10 - sum % 10) % 10, 10).unwrap_or('0')
}

/// All facilities of a run.
#[derive(Debug, Clone)]
pub struct Facilities {
    /// Facilities in a fixed order.
    pub list: Vec<Facility>,
    /// Practitioners in a fixed order.
    pub practitioners: Vec<Practitioner>,
    /// Per zone: hospital indices and a bed-weighted sampler.
    pub hospitals_by_area: Vec<(Vec<usize>, Alias)>,
    /// Per zone: PCI-capable hospitals (falls back to all hospitals).
    pub pci_by_area: Vec<(Vec<usize>, Alias)>,
    /// Per zone: clinics.
    pub clinics_by_area: Vec<Vec<usize>>,
    /// Per zone: dental clinics.
    pub dental_by_area: Vec<Vec<usize>>,
}

fn person_name(rng: &mut Rng, male: bool, birth_year: i32) -> ((String, String), (String, String)) {
    let sw: Vec<f64> = SURNAMES.iter().map(|s| s.2 as f64).collect();
    let s = SURNAMES[rng.weighted(&sw)];
    let era = era_of(birth_year);
    let pool = if male { MALE_GIVEN } else { FEMALE_GIVEN };
    let of_era: Vec<&(&str, &str, u8)> = pool.iter().filter(|n| n.2 == era).collect();
    let g = *rng.pick(&of_era);
    ((s.0.to_string(), g.0.to_string()), (s.1.to_string(), g.1.to_string()))
}

/// Draws a Japanese name (kanji, kana) for a sex and birth year.
pub fn draw_name(rng: &mut Rng, male: bool, birth_year: i32) -> ((String, String), (String, String)) {
    person_name(rng, male, birth_year)
}

const HOSPITAL_SUFFIX: &[&str] = &["中央病院", "総合病院", "市民病院", "記念病院", "医療センター", "病院"];
const CLINIC_SUFFIX: &[&str] = &["内科クリニック", "医院", "内科医院", "クリニック", "ファミリークリニック"];

impl Facilities {
    /// Builds the facilities for a geography; `scale` (0-1] shrinks clinic counts.
    pub fn build(geo: &Geography, seed: u64, scale: f64) -> Facilities {
        let mut rng = Rng::new(seed, stream::FACILITIES, 0);
        let mut list: Vec<Facility> = Vec::new();
        let mut practitioners: Vec<Practitioner> = Vec::new();
        let n = geo.areas.len();
        let mut hospitals_by_area = Vec::with_capacity(n);
        let mut pci_by_area = Vec::with_capacity(n);
        let mut clinics_by_area = Vec::with_capacity(n);
        let mut dental_by_area = Vec::with_capacity(n);
        // Running serial per (prefecture, 点数表) for the 7-digit codes.
        let mut serial: std::collections::HashMap<(String, char), u32> = Default::default();
        for (ai, area) in geo.areas.iter().enumerate() {
            let pop = area.population as f64;
            // Zones outside the region only receive patients: their few largest
            // hospitals stand for them.
            let n_hosp = if area.resident { ((pop / 15_000.0).round() as usize).max(1) } else { ((pop / 15_000.0).round() as usize).clamp(1, 3) };
            let (n_clin, n_dent) = if area.resident {
                (((pop / 1_200.0 * scale).round() as usize).max(2), ((pop / 1_850.0 * scale).round() as usize).max(1))
            } else {
                (0, 0)
            };
            let muni_weights: Vec<f64> = area.municipalities.iter().map(|m| m.population as f64).collect();
            let mut hosp = Vec::new();
            let mut clin = Vec::new();
            let mut dent = Vec::new();
            let place = |rng: &mut Rng| -> (Option<usize>, String) {
                if muni_weights.is_empty() {
                    (None, area.name.clone())
                } else {
                    let m = rng.weighted(&muni_weights);
                    let name = area.municipalities[m].name.trim_end_matches(['市', '町', '村']).to_string();
                    (Some(m), name)
                }
            };
            for (kind, count) in [(FacilityKind::Hospital, n_hosp), (FacilityKind::Clinic, n_clin), (FacilityKind::Dental, n_dent)] {
                for k in 0..count {
                    let idx = list.len();
                    let table = if kind == FacilityKind::Dental { '3' } else { '1' };
                    let s = serial.entry((area.pref_code.clone(), table)).or_insert(0);
                    *s += 1;
                    // 郡市区番号 (2) + 医療機関番号 (4) + check digit.
                    let body = format!("{:02}{:04}", 10 + (*s / 10_000) % 90, *s % 10_000);
                    let code7 = format!("{body}{}", mod10_w21(&body));
                    let code10 = format!("{}{}{}", area.pref_code, table, code7);
                    let (muni, place_name) = place(&mut rng);
                    let (name, beds, depts, pci) = match kind {
                        FacilityKind::Hospital => {
                            // The first hospital of a zone is its core acute hospital.
                            let beds = if k == 0 {
                                (pop / 1_000.0).clamp(200.0, 900.0) as u32
                            } else {
                                (rng.gauss(4.6, 0.6).exp()).clamp(20.0, 500.0) as u32
                            };
                            let suffix = if k == 0 { "総合医療センター" } else { *rng.pick(HOSPITAL_SUFFIX) };
                            let name = if k == 0 {
                                format!("{place_name}{suffix}")
                            } else {
                                let s = rng.pick(SURNAMES).0;
                                format!("{s}{suffix}")
                            };
                            let mut depts = vec![dept::INTERNAL, dept::SURGERY, dept::ORTHO];
                            if beds >= 150 {
                                depts.extend([dept::CARDIO, dept::GASTRO, dept::RESPIRATORY, dept::NEUROSURGERY, dept::UROLOGY]);
                            }
                            if beds >= 300 {
                                depts.extend([dept::CARDIAC_SURGERY, dept::PEDIATRICS, dept::OBGYN]);
                            }
                            (name, beds, depts, beds >= 200)
                        }
                        FacilityKind::Clinic => {
                            let s = rng.pick(SURNAMES).0;
                            let suffix = rng.pick(CLINIC_SUFFIX);
                            let depts = if rng.chance(0.15) { vec![dept::PEDIATRICS, dept::INTERNAL] } else { vec![dept::INTERNAL] };
                            (format!("{s}{suffix}"), 0, depts, false)
                        }
                        FacilityKind::Dental => {
                            let s = rng.pick(SURNAMES).0;
                            (format!("{s}歯科医院"), 0, vec![dept::DENTAL], false)
                        }
                    };
                    let n_doc = match kind {
                        FacilityKind::Hospital => (beds / 100).clamp(2, 8) as usize,
                        _ => 1,
                    };
                    let mut docs = Vec::new();
                    for d in 0..n_doc {
                        let male = rng.chance(0.78);
                        let by = 1950 + rng.below(45) as i32;
                        let (kanji, kana) = person_name(&mut rng, male, by);
                        let pi = practitioners.len();
                        practitioners.push(Practitioner {
                            id: format!("prac-{code10}-{d:02}"),
                            kanji,
                            kana,
                            dept: depts[d % depts.len()],
                            facility: idx,
                            dentist: kind == FacilityKind::Dental,
                            registration: format!("{:06}", 100_000 + rng.below(900_000)),
                        });
                        docs.push(pi);
                    }
                    list.push(Facility { index: idx, kind, area: ai, muni, name, code10, beds, depts, pci_capable: pci, practitioners: docs });
                    match kind {
                        FacilityKind::Hospital => hosp.push(idx),
                        FacilityKind::Clinic => clin.push(idx),
                        FacilityKind::Dental => dent.push(idx),
                    }
                }
            }
            let weights: Vec<f64> = hosp.iter().map(|&h| list[h].beds as f64).collect();
            hospitals_by_area.push((hosp.clone(), Alias::new(&weights)));
            let pci: Vec<usize> = hosp.iter().copied().filter(|&h| list[h].pci_capable).collect();
            let pci = if pci.is_empty() { hosp.clone() } else { pci };
            let pw: Vec<f64> = pci.iter().map(|&h| list[h].beds as f64).collect();
            pci_by_area.push((pci, Alias::new(&pw)));
            clinics_by_area.push(clin);
            dental_by_area.push(dent);
        }
        Facilities { list, practitioners, hospitals_by_area, pci_by_area, clinics_by_area, dental_by_area }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Region;

    #[test]
    fn check_digit_matches_published_insurer_number() {
        // 01010016: 協会けんぽ 北海道支部, check digit 6.
        assert_eq!(mod10_w21("0101001"), '6');
    }

    #[test]
    fn mie_facilities_have_valid_codes_and_every_zone_has_a_hospital() {
        let g = Geography::load(Region::Mie).expect("geo");
        let f = Facilities::build(&g, 1, 0.05);
        let mut codes = std::collections::HashSet::new();
        for fac in &f.list {
            assert_eq!(fac.code10.len(), 10);
            assert!(codes.insert(fac.code10.clone()), "duplicate {}", fac.code10);
            assert_eq!(fac.code10.chars().last(), Some(mod10_w21(&fac.code10[3..9])));
            assert!(!fac.practitioners.is_empty());
        }
        for (i, a) in g.areas.iter().enumerate() {
            assert!(!f.hospitals_by_area[i].0.is_empty(), "{}", a.name);
        }
        let hospitals = f.list.iter().filter(|x| x.kind == FacilityKind::Hospital && x.pref() == "24").count();
        // 三重県 has about 90-100 hospitals.
        assert!((80..=140).contains(&hospitals), "{hospitals}");
    }
}
