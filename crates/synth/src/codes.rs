//! Code catalogues: laboratory tests (JLAC10 17-digit), vital signs (LOINC, as JP
//! Core's vital-sign profile uses), drugs (YJ codes with doses and the 9-digit
//! claims codes), procedures and claims fee items, and the canonical URLs of the
//! systems they belong to.
//!
//! The JLAC10 analyte codes follow the JP-CLINS core laboratory list; the
//! specimen/method suffixes and the brand digits of YJ codes and the 9-digit
//! レセ電 codes are illustrative (this is synthetic data) and are documented as
//! such in the crate README.

/// Code-system and identifier URLs (see `japan-health-standards.md`).
pub mod system {
    /// JLAC10 17-digit.
    pub const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
    /// YJ code.
    pub const YJ: &str = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code";
    /// ICD-10 (2013), full.
    pub const ICD10: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";
    /// Claims disease master (レセプト電算用傷病名マスター).
    pub const RECEIPT_DISEASE: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/masterB-disease";
    /// LOINC.
    pub const LOINC: &str = "http://loinc.org";
    /// SNOMED CT.
    pub const SNOMED: &str = "http://snomed.info/sct";
    /// UCUM.
    pub const UCUM: &str = "http://unitsofmeasure.org";
    /// 10-digit medical institution code.
    pub const MEDICAL_INSTITUTION: &str = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
    /// 保険者番号.
    pub const INSURER_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.61";
    /// 被保険者証記号.
    pub const INSURED_SYMBOL: &str = "urn:oid:1.2.392.100495.20.3.62";
    /// 被保険者証番号.
    pub const INSURED_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.63";
    /// JP-CLINS member id ("保険者番号:記号:番号:枝番").
    pub const MEMBER_ID: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
    /// 診療科 (SS-MIX2).
    pub const DEPARTMENT: &str = "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment";
    /// 医籍登録番号.
    pub const MEDICAL_REGISTRATION: &str = "urn:oid:1.2.392.100495.20.3.31";
    /// Prefix of the facility-local patient id system (append "1" + 10-digit code).
    pub const PATIENT_ID_PREFIX: &str = "urn:oid:1.2.392.100495.20.3.51.1";
    /// The generator's own person id (stable across facilities).
    pub const MEDTWIN_PERSON: &str = "http://medtwin.jp/fhir/NamingSystem/synthetic-person-id";
    /// 全国地方公共団体コード extension on Address (valueCode, 6 digits).
    pub const EXT_MUNICIPALITY: &str = "http://medtwin.jp/fhir/StructureDefinition/municipality-code";
    /// 構想区域 code extension on Address and Organization (valueCode, 4 digits).
    pub const EXT_AREA: &str = "http://medtwin.jp/fhir/StructureDefinition/medical-area-code";
    /// NYHA class extension on heart-failure Encounters (valueCoding, SNOMED CT).
    pub const EXT_NYHA: &str = "http://medtwin.jp/fhir/StructureDefinition/nyha-class";
    /// Local code system for claims fee items (9-digit レセ電 診療行為コード).
    pub const RECEIPT_PROCEDURE: &str = "http://medtwin.jp/fhir/CodeSystem/receipt-procedure-code";
    /// Local code system for statin intensity.
    pub const STATIN_INTENSITY: &str = "http://medtwin.jp/fhir/CodeSystem/statin-intensity";
    /// Local code system for dental findings.
    pub const ICD10_DENTAL: &str = ICD10;
}

/// A laboratory test.
#[derive(Debug, Clone, Copy)]
pub struct Lab {
    /// Key used in tables.
    pub key: &'static str,
    /// JLAC10 17-digit code.
    pub jlac10: &'static str,
    /// Display name.
    pub name: &'static str,
    /// UCUM unit.
    pub ucum: &'static str,
    /// Unit as displayed in Japan.
    pub unit: &'static str,
    /// Reference range (low, high).
    pub normal: (f64, f64),
    /// Decimal places.
    pub decimals: usize,
}

macro_rules! lab {
    ($k:expr, $c:expr, $n:expr, $u:expr, $du:expr, $lo:expr, $hi:expr, $d:expr) => {
        Lab { key: $k, jlac10: $c, name: $n, ucum: $u, unit: $du, normal: ($lo, $hi), decimals: $d }
    };
}

/// Laboratory tests used by the generator.
pub const LABS: &[Lab] = &[
    lab!("wbc", "2A990000001930952", "白血球数", "10*3/uL", "10^3/μL", 3.3, 8.6, 1),
    lab!("hb", "2A030000001930101", "ヘモグロビン", "g/dL", "g/dL", 11.6, 16.8, 1),
    lab!("plt", "2A050000001930952", "血小板数", "10*4/uL", "10^4/μL", 15.8, 34.8, 1),
    lab!("crp", "5C070000002306101", "CRP", "mg/dL", "mg/dL", 0.0, 0.14, 2),
    lab!("ast", "3B035000002327201", "AST", "U/L", "U/L", 13.0, 30.0, 0),
    lab!("alt", "3B045000002327201", "ALT", "U/L", "U/L", 7.0, 30.0, 0),
    lab!("ggt", "3B090000002327101", "γ-GT", "U/L", "U/L", 9.0, 50.0, 0),
    lab!("alp", "3B070000002327101", "ALP", "U/L", "U/L", 38.0, 113.0, 0),
    lab!("tbil", "3J010000002327101", "総ビリルビン", "mg/dL", "mg/dL", 0.4, 1.5, 1),
    lab!("amy", "3B160000002327101", "アミラーゼ", "U/L", "U/L", 44.0, 132.0, 0),
    lab!("ck", "3B010000002327101", "CK", "U/L", "U/L", 41.0, 153.0, 0),
    lab!("alb", "3A015000002327101", "アルブミン", "g/dL", "g/dL", 4.1, 5.1, 1),
    lab!("bun", "3C025000002327101", "尿素窒素", "mg/dL", "mg/dL", 8.0, 20.0, 1),
    lab!("cre", "3C015000002327101", "クレアチニン", "mg/dL", "mg/dL", 0.46, 1.07, 2),
    lab!("egfr", "8A065000002391901", "eGFR", "mL/min/{1.73_m2}", "mL/min/1.73m2", 60.0, 120.0, 1),
    lab!("na", "3H010000002327101", "ナトリウム", "mmol/L", "mmol/L", 138.0, 145.0, 0),
    lab!("k", "3H015000002327101", "カリウム", "mmol/L", "mmol/L", 3.6, 4.8, 1),
    lab!("glu", "3D010000001926101", "血糖", "mg/dL", "mg/dL", 73.0, 109.0, 0),
    lab!("hba1c", "3D046000001906202", "HbA1c(NGSP)", "%", "%", 4.9, 6.0, 1),
    lab!("ldl", "3F077000002327101", "LDLコレステロール", "mg/dL", "mg/dL", 65.0, 139.0, 0),
    lab!("hdl", "3F070000002327101", "HDLコレステロール", "mg/dL", "mg/dL", 40.0, 90.0, 0),
    lab!("tg", "3F015000002327101", "中性脂肪", "mg/dL", "mg/dL", 40.0, 149.0, 0),
    lab!("bnp", "4Q020000002227101", "BNP", "pg/mL", "pg/mL", 0.0, 18.4, 1),
    lab!("tnt", "5C094000002306101", "トロポニンT", "ng/mL", "ng/mL", 0.0, 0.014, 3),
    lab!("ddimer", "2B140000002306101", "Dダイマー", "ug/mL", "μg/mL", 0.0, 1.0, 1),
];

/// Finds a lab by key.
pub fn lab(key: &str) -> &'static Lab {
    LABS.iter().find(|l| l.key == key).unwrap_or(&LABS[0])
}

/// A vital sign (LOINC coded).
#[derive(Debug, Clone, Copy)]
pub struct Vital {
    /// Key.
    pub key: &'static str,
    /// LOINC code.
    pub loinc: &'static str,
    /// Display.
    pub name: &'static str,
    /// UCUM unit.
    pub ucum: &'static str,
}

/// Vital signs.
pub const VITALS: &[Vital] = &[
    Vital { key: "sbp", loinc: "8480-6", name: "収縮期血圧", ucum: "mm[Hg]" },
    Vital { key: "dbp", loinc: "8462-4", name: "拡張期血圧", ucum: "mm[Hg]" },
    Vital { key: "hr", loinc: "8867-4", name: "脈拍数", ucum: "/min" },
    Vital { key: "temp", loinc: "8310-5", name: "体温", ucum: "Cel" },
    Vital { key: "spo2", loinc: "59408-5", name: "SpO2", ucum: "%" },
    Vital { key: "height", loinc: "8302-2", name: "身長", ucum: "cm" },
    Vital { key: "weight", loinc: "29463-7", name: "体重", ucum: "kg" },
    Vital { key: "bmi", loinc: "39156-5", name: "BMI", ucum: "kg/m2" },
];

/// Finds a vital by key.
pub fn vital(key: &str) -> &'static Vital {
    VITALS.iter().find(|v| v.key == key).unwrap_or(&VITALS[0])
}

/// A drug product.
#[derive(Debug, Clone, Copy)]
pub struct Drug {
    /// Key.
    pub key: &'static str,
    /// YJ code (12 characters).
    pub yj: &'static str,
    /// 9-digit claims code (illustrative).
    pub receipt: &'static str,
    /// Product name.
    pub name: &'static str,
    /// Tablets per day.
    pub per_day: f64,
    /// Dosage instruction text.
    pub usage: &'static str,
    /// Times per day.
    pub times: u32,
    /// Drug price per tablet in yen (for points).
    pub yen: f64,
}

macro_rules! drug {
    ($k:expr, $yj:expr, $r:expr, $n:expr, $pd:expr, $u:expr, $t:expr, $y:expr) => {
        Drug { key: $k, yj: $yj, receipt: $r, name: $n, per_day: $pd, usage: $u, times: $t, yen: $y }
    };
}

/// Drugs used by the generator.
pub const DRUGS: &[Drug] = &[
    drug!("amlodipine5", "2171022F2020", "612170710", "アムロジピン錠5mg", 1.0, "1日1回朝食後", 1, 10.1),
    drug!("candesartan8", "2149040F3020", "610463133", "カンデサルタン錠8mg", 1.0, "1日1回朝食後", 1, 21.3),
    drug!("metformin250", "3962002F1020", "620008902", "メトホルミン塩酸塩錠250mg", 4.0, "1日2回朝夕食後", 2, 10.1),
    drug!("sitagliptin50", "3969010F2020", "622060401", "シタグリプチン錠50mg", 1.0, "1日1回朝食後", 1, 98.4),
    drug!("atorvastatin10", "2189015F2020", "610463012", "アトルバスタチン錠10mg", 1.0, "1日1回夕食後", 1, 21.2),
    drug!("atorvastatin10x2", "2189015F2020", "610463012", "アトルバスタチン錠10mg", 2.0, "1日1回夕食後", 1, 21.2),
    drug!("rosuvastatin2.5", "2189017F1020", "620004712", "ロスバスタチン錠2.5mg", 1.0, "1日1回夕食後", 1, 11.6),
    drug!("rosuvastatin5x2", "2189017F2026", "620004713", "ロスバスタチン錠5mg", 2.0, "1日1回夕食後", 1, 21.7),
    drug!("pitavastatin2", "2189016F2020", "610443047", "ピタバスタチンカルシウム錠2mg", 1.0, "1日1回夕食後", 1, 28.2),
    drug!("pitavastatin4", "2189016F3026", "620004722", "ピタバスタチンカルシウム錠4mg", 1.0, "1日1回夕食後", 1, 51.8),
    drug!("aspirin100", "3399007H1021", "620000427", "バイアスピリン錠100mg", 1.0, "1日1回朝食後", 1, 5.7),
    drug!("prasugrel3.75", "3399009F1020", "622217901", "プラスグレル錠3.75mg", 1.0, "1日1回朝食後", 1, 200.3),
    drug!("lansoprazole15", "2329023F2020", "610432025", "ランソプラゾールOD錠15mg", 1.0, "1日1回朝食後", 1, 20.3),
    drug!("furosemide20", "2139005F1020", "612130001", "フロセミド錠20mg", 1.0, "1日1回朝食後", 1, 9.8),
    drug!("carvedilol2.5", "2149032F3020", "620002501", "カルベジロール錠2.5mg", 2.0, "1日2回朝夕食後", 2, 10.1),
    drug!("enalapril5", "2144002F2020", "612140021", "エナラプリルマレイン酸塩錠5mg", 1.0, "1日1回朝食後", 1, 10.1),
    drug!("levofloxacin500", "6241013F4020", "620007016", "レボフロキサシン錠500mg", 1.0, "1日1回朝食後", 1, 137.4),
    drug!("acetaminophen200", "1141007F1020", "620002023", "アセトアミノフェン錠200mg", 3.0, "1日3回毎食後", 3, 5.9),
    drug!("carbocisteine500", "2233002F2020", "620004401", "カルボシステイン錠500mg", 3.0, "1日3回毎食後", 3, 6.3),
    drug!("clopidogrel75", "3399008F1025", "620005902", "クロピドグレル錠75mg", 1.0, "1日1回朝食後", 1, 46.2),
    drug!("amoxicillin250", "6131001M1020", "620001211", "アモキシシリンカプセル250mg", 3.0, "1日3回毎食後", 3, 11.4),
];

/// Finds a drug by key.
pub fn drug(key: &str) -> &'static Drug {
    DRUGS.iter().find(|d| d.key == key).unwrap_or(&DRUGS[0])
}

/// A procedure or claims fee item.
#[derive(Debug, Clone, Copy)]
pub struct Fee {
    /// Key.
    pub key: &'static str,
    /// 9-digit claims (レセ電) code.
    pub receipt: &'static str,
    /// 診療報酬 区分番号 (e.g. K549).
    pub kubun: &'static str,
    /// Name.
    pub name: &'static str,
    /// SNOMED CT concept for the Procedure resource, if it is one.
    pub snomed: Option<&'static str>,
    /// Points.
    pub points: u32,
    /// UKE 診療識別 (care category).
    pub category: &'static str,
}

/// Fee items.
pub const FEES: &[Fee] = &[
    Fee { key: "first_visit", receipt: "111000110", kubun: "A000", name: "初診料", snomed: None, points: 288, category: "11" },
    Fee { key: "revisit", receipt: "112007410", kubun: "A001", name: "再診料", snomed: None, points: 73, category: "12" },
    Fee { key: "outpatient_mgmt", receipt: "112011010", kubun: "A001", name: "外来管理加算", snomed: None, points: 52, category: "12" },
    Fee { key: "lifestyle_mgmt", receipt: "113001810", kubun: "B001-3", name: "生活習慣病管理料", snomed: None, points: 333, category: "13" },
    Fee { key: "rx_fee", receipt: "120001210", kubun: "F100", name: "処方料", snomed: None, points: 42, category: "25" },
    Fee { key: "lab_judgement", receipt: "160061710", kubun: "D026", name: "生化学的検査（１）判断料", snomed: None, points: 144, category: "60" },
    Fee { key: "blood_draw", receipt: "160095710", kubun: "D400", name: "Ｂ－Ｖ", snomed: None, points: 37, category: "60" },
    Fee { key: "admission_basic", receipt: "190117710", kubun: "A100", name: "急性期一般入院料１", snomed: None, points: 1650, category: "90" },
    Fee { key: "pci", receipt: "150374910", kubun: "K549", name: "経皮的冠動脈ステント留置術", snomed: Some("415070008"), points: 24380, category: "50" },
    Fee { key: "cabg", receipt: "150287310", kubun: "K552", name: "冠動脈、大動脈バイパス移植術", snomed: Some("232717009"), points: 81530, category: "50" },
    Fee { key: "gastrectomy", receipt: "150312310", kubun: "K655", name: "胃切除術", snomed: Some("53442002"), points: 55870, category: "50" },
    Fee { key: "ct_head", receipt: "170011710", kubun: "E200", name: "ＣＴ撮影（頭部）", snomed: Some("303653007"), points: 1020, category: "70" },
    Fee { key: "ecg", receipt: "160068410", kubun: "D208", name: "心電図検査（四肢単極誘導及び胸部誘導を含む最低１２誘導）", snomed: Some("268400002"), points: 130, category: "60" },
    Fee { key: "dental_first", receipt: "301000110", kubun: "A000", name: "歯科初診料", snomed: None, points: 264, category: "11" },
    Fee { key: "dental_revisit", receipt: "301001610", kubun: "A002", name: "歯科再診料", snomed: None, points: 56, category: "12" },
    Fee { key: "scaling", receipt: "309002110", kubun: "I011", name: "スケーリング", snomed: Some("234696006"), points: 72, category: "40" },
    Fee { key: "filling", receipt: "309003810", kubun: "M009", name: "充填", snomed: Some("234785007"), points: 106, category: "40" },
];

/// Finds a fee by key.
pub fn fee(key: &str) -> &'static Fee {
    FEES.iter().find(|f| f.key == key).unwrap_or(&FEES[0])
}

/// Formats a value with a fixed number of decimals.
pub fn fmt_value(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}
