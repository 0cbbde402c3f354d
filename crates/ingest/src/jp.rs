//! JP Core canonical URLs, identifier systems and code systems used by the
//! converters (see the JP Core `guide-urlmap` page), and the mapping from
//! SS-MIX2 coding-system tags (`JC10`, `HOT9`, `I10`, ...) to FHIR systems.

/// JP Core profile canonical for a profile name (`JP_Patient`).
pub fn profile(name: &str) -> String {
    format!("http://jpfhir.jp/fhir/core/StructureDefinition/{name}")
}

/// Patient-ID system: `urn:oid:1.2.392.100495.20.3.51.1` + 10-digit 医療機関コード.
pub fn patient_id_system(facility_code10: &str) -> String {
    format!("urn:oid:1.2.392.100495.20.3.51.1{facility_code10}")
}

/// 医療機関コード (10 digits) identifier system.
pub const MEDICAL_INSTITUTION_NO: &str = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
/// 保険者番号.
pub const INSURER_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.61";
/// 被保険者証記号.
pub const INSURED_SYMBOL: &str = "urn:oid:1.2.392.100495.20.3.62";
/// 被保険者証番号.
pub const INSURED_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.63";
/// 公費負担者番号.
pub const PUBLIC_PAYER_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.71";
/// 公費受給者番号.
pub const PUBLIC_RECIPIENT_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.72";
/// JP-CLINS member id ("保険者番号:記号:番号:枝番").
pub const INSURANCE_MEMBER_ID: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
/// Extension: 被保険者証記号.
pub const EXT_INSURED_SYMBOL: &str = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol";
/// Extension: 被保険者証番号.
pub const EXT_INSURED_NUMBER: &str = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber";
/// Name representation extension (ABC = alphabetic, IDE = kanji, SYL = kana).
pub const EXT_NAME_REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// JLAC10 (17 digits).
pub const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
/// HOT9.
pub const HOT9: &str = "http://medis.or.jp/CodeSystem/master-HOT9";
/// HOT13.
pub const HOT13: &str = "http://medis.or.jp/CodeSystem/master-HOT13";
/// YJ code.
pub const YJ: &str = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code";
/// ICD-10 (2013, full).
pub const ICD10: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";
/// MEDIS 病名管理番号.
pub const MEDIS_DISEASE_KEY: &str = "http://medis.or.jp/CodeSystem/master-disease-keyNumber";
/// MEDIS 病名交換用コード.
pub const MEDIS_DISEASE_EXCODE: &str = "http://medis.or.jp/CodeSystem/master-disease-exCode";
/// MEDIS 修飾語交換用コード.
pub const MEDIS_MODIFIER_EXCODE: &str = "http://medis.or.jp/CodeSystem/master-disease-modExCode";
/// レセプト電算用傷病名マスター.
pub const RECEIPT_DISEASE: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/masterB-disease";
/// レセプト電算 診療行為マスター.
pub const RECEIPT_PROCEDURE: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/master-S";
/// レセプト電算 医薬品マスター.
pub const RECEIPT_DRUG: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/master-Y";
/// レセプト電算 特定器材マスター.
pub const RECEIPT_MATERIAL: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/master-T";
/// レセプト電算 コメントマスター.
pub const RECEIPT_COMMENT: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/master-C";
/// MERIT-9 units.
pub const MERIT9_UNIT: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUnitMERIT9Code";
/// JAMI 用法 16-digit.
pub const JAMI_USAGE: &str = "http://jami.jp/CodeSystem/MedicationUsage";
/// SS-MIX2 診療科.
pub const DEPARTMENT: &str = "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment";

/// The FHIR system for an HL7 coding-system tag. Known standard tags map to
/// their canonical URL; HL7 tables to `http://terminology.hl7.org/CodeSystem/v2-xxxx`;
/// anything else (local `99xxx` tags, JAHIS tables) to a stable URN that
/// keeps the tag, so no code is ever dropped.
pub fn system_for_tag(tag: &str) -> String {
    match tag {
        "JC10" => JLAC10.into(),
        "HOT" | "HOT9" => HOT9.into(),
        "HOT13" => HOT13.into(),
        // YJ has no HL7 table name; it travels as `YJ` or as the local tag
        // `99YJ` (how medtwin synth writes it). Both are the YJ code system.
        "YJ" | "99YJ" => YJ.into(),
        "I10" | "ICD10" => ICD10.into(),
        "MDCDX2" => MEDIS_DISEASE_KEY.into(),
        "MR9P" => MERIT9_UNIT.into(),
        "JAMISDP01" => JAMI_USAGE.into(),
        "ISO+" | "UCUM" => "http://unitsofmeasure.org".into(),
        t if t.len() == 7 && t.starts_with("HL7") && t[3..].bytes().all(|b| b.is_ascii_digit()) => {
            format!("http://terminology.hl7.org/CodeSystem/v2-{}", &t[3..])
        }
        t => format!("urn:medtwin:hl7v2-coding-system:{}", sanitize_urn(t)),
    }
}

fn sanitize_urn(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-.+_".contains(c) { c } else { '_' })
        .collect();
    if t.is_empty() { "unknown".into() } else { t }
}

/// JP Core system of HL7 table 0001 (administrative sex) → FHIR gender.
pub fn gender(code: &str) -> Option<&'static str> {
    match code {
        "M" => Some("male"),
        "F" => Some("female"),
        "O" | "A" | "N" => Some("other"),
        "U" => Some("unknown"),
        _ => None,
    }
}
