//! The R4 search-parameter definitions (`r4/search_params.tsv`, generated from
//! the official SearchParameter resources) and the patient compartment.

use std::collections::HashMap;
use std::sync::OnceLock;

const SEARCH_PARAMS_TSV: &str = include_str!("r4/search_params.tsv");
const PATIENT_COMPARTMENT_TSV: &str = include_str!("r4/patient_compartment.tsv");

/// The type of a search parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum SearchParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl SearchParamType {
    /// The FHIR code of this type.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchParamType::Number => "number",
            SearchParamType::Date => "date",
            SearchParamType::String => "string",
            SearchParamType::Token => "token",
            SearchParamType::Reference => "reference",
            SearchParamType::Composite => "composite",
            SearchParamType::Quantity => "quantity",
            SearchParamType::Uri => "uri",
            SearchParamType::Special => "special",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "number" => SearchParamType::Number,
            "date" => SearchParamType::Date,
            "string" => SearchParamType::String,
            "token" => SearchParamType::Token,
            "reference" => SearchParamType::Reference,
            "composite" => SearchParamType::Composite,
            "quantity" => SearchParamType::Quantity,
            "uri" => SearchParamType::Uri,
            "special" => SearchParamType::Special,
            _ => return None,
        })
    }
}

/// One search parameter definition.
#[derive(Debug, Clone)]
pub struct SearchParamDef {
    /// The code used in URLs (`birthdate`).
    pub code: String,
    /// The resource types it applies to.
    pub bases: Vec<String>,
    /// Its type.
    pub kind: SearchParamType,
    /// The FHIRPath expression that extracts its values (may cover several bases).
    pub expression: String,
    /// Target resource types, for reference parameters.
    pub targets: Vec<String>,
    /// For composite parameters: (component parameter code, expression relative to the composite value).
    pub components: Vec<(String, String)>,
    /// The canonical URL.
    pub url: String,
    /// The official description.
    pub description: String,
}

/// All R4 search parameters, indexed by (resource type, code).
#[derive(Debug)]
pub struct SearchParams {
    all: Vec<SearchParamDef>,
    by_type: HashMap<String, HashMap<String, usize>>,
    patient_compartment: HashMap<String, Vec<String>>,
}

/// The R4 search parameters, parsed once on first use.
pub fn r4() -> &'static SearchParams {
    static SP: OnceLock<SearchParams> = OnceLock::new();
    SP.get_or_init(SearchParams::parse)
}

fn list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl SearchParams {
    fn parse() -> SearchParams {
        let mut all = Vec::new();
        let mut by_type: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for line in SEARCH_PARAMS_TSV.lines().filter(|l| !l.starts_with('#')) {
            let c: Vec<&str> = line.split('\t').collect();
            if c.len() < 8 {
                continue;
            }
            let Some(kind) = SearchParamType::parse(c[2]) else { continue };
            let def = SearchParamDef {
                code: c[0].to_string(),
                bases: list(c[1]),
                kind,
                expression: c[3].to_string(),
                targets: list(c[4]),
                components: c[5]
                    .split(';')
                    .filter_map(|p| p.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())))
                    .collect(),
                url: c[6].to_string(),
                description: c[7].to_string(),
            };
            let idx = all.len();
            for b in &def.bases {
                by_type.entry(b.clone()).or_default().insert(def.code.clone(), idx);
            }
            all.push(def);
        }
        let patient_compartment = PATIENT_COMPARTMENT_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(t, p)| (t.to_string(), list(p)))
            .collect();
        SearchParams { all, by_type, patient_compartment }
    }

    /// Every definition.
    pub fn all(&self) -> &[SearchParamDef] {
        &self.all
    }

    /// The parameter `code` for `resource_type`, including those defined on
    /// `Resource` and `DomainResource` (`_id`, `_lastUpdated`, ...).
    pub fn get(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        [resource_type, "DomainResource", "Resource"]
            .iter()
            .find_map(|t| self.by_type.get(*t).and_then(|m| m.get(code)))
            .map(|&i| &self.all[i])
    }

    /// The parameters whose base is exactly `resource_type` (not the inherited ones), sorted by code.
    pub fn for_type(&self, resource_type: &str) -> Vec<&SearchParamDef> {
        let mut v: Vec<&SearchParamDef> =
            self.by_type.get(resource_type).into_iter().flatten().map(|(_, &i)| &self.all[i]).collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    /// The parameters of `resource_type` that link it to the patient compartment
    /// (e.g. `subject`, `performer` for Observation); empty if it is not in it.
    pub fn patient_compartment(&self, resource_type: &str) -> &[String] {
        self.patient_compartment.get(resource_type).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Resource types in the patient compartment.
    pub fn patient_compartment_types(&self) -> impl Iterator<Item = &str> {
        self.patient_compartment.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        let sp = r4();
        assert!(sp.all().len() > 1300);
        let b = sp.get("Patient", "birthdate").expect("birthdate");
        assert_eq!(b.kind, SearchParamType::Date);
        assert_eq!(b.expression, "Patient.birthDate | Person.birthDate | RelatedPerson.birthDate");
        assert_eq!(sp.get("Patient", "_id").expect("_id").kind, SearchParamType::Token);
        let cvq = sp.get("Observation", "code-value-quantity").expect("composite");
        assert_eq!(cvq.components.len(), 2);
        assert_eq!(cvq.components[0].0, "code");
        assert!(sp.patient_compartment("Observation").contains(&"subject".to_string()));
        assert!(sp.patient_compartment("Organization").is_empty());
    }
}
