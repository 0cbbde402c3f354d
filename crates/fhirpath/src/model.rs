//! The FHIR R4 type model as FHIRPath navigates it, built once from
//! `fhir::definitions::r4()`: for each type, its elements keyed by name with
//! their types (choice elements expanded to their JSON keys), the base chain,
//! and which types are primitives. All strings are `'static` so path
//! navigation never allocates.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use fhir::definitions::{Definitions, TypeKind};

/// A small fast hasher for short string keys (FxHash).
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One element of a type, as seen from FHIRPath.
#[derive(Debug)]
pub(crate) enum Child {
    /// A plain element with one type.
    Plain { ty: &'static str, list: bool },
    /// A choice element `value[x]`: (JSON key, `_`-key, type) per option.
    Choice { options: Vec<(&'static str, &'static str, &'static str)> },
}

#[derive(Debug)]
pub(crate) struct TypeInfo {
    pub(crate) name: &'static str,
    pub(crate) base: Option<&'static str>,
    pub(crate) kind: TypeKind,
    pub(crate) children: FxMap<&'static str, Child>,
    /// Lookup of a concrete JSON key (`valueQuantity`) to its element name and type.
    pub(crate) by_key: FxMap<&'static str, (&'static str, &'static str)>,
}

/// The navigable model.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) types: FxMap<&'static str, TypeInfo>,
    pub(crate) defs: &'static Definitions,
}

fn leak(s: String) -> &'static str {
    // The model lives for the whole process (a `OnceLock` static); its strings
    // are built once and never freed.
    Box::leak(s.into_boxed_str())
}

pub(crate) fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(build)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn build() -> Model {
    let defs = fhir::definitions::r4();
    let mut queue: Vec<&'static str> = defs.resource_types().iter().map(String::as_str).collect();
    queue.extend(["Resource", "DomainResource", "Element", "BackboneElement", "Extension"]);
    let mut types: FxMap<&'static str, TypeInfo> = FxMap::default();
    while let Some(name) = queue.pop() {
        if types.contains_key(name) {
            continue;
        }
        let Some(td) = defs.type_def(name) else { continue };
        let base = if td.base.is_empty() { None } else { Some(td.base.as_str()) };
        if let Some(b) = base {
            queue.push(b);
        }
        let mut children = FxMap::default();
        let mut by_key = FxMap::default();
        for el in defs.children(name) {
            for t in &el.types {
                queue.push(t.as_str());
            }
            if let Some(stem) = el.name.strip_suffix("[x]") {
                let stem: &'static str = stem;
                let options: Vec<_> = el
                    .types
                    .iter()
                    .map(|t| {
                        let key = leak(format!("{stem}{}", upper_first(t)));
                        let ukey = leak(format!("_{key}"));
                        by_key.insert(key, (stem, t.as_str()));
                        (key, ukey, t.as_str())
                    })
                    .collect();
                children.insert(stem, Child::Choice { options });
            } else {
                let ty = el.types.first().map(String::as_str).unwrap_or("");
                children.insert(el.name.as_str(), Child::Plain { ty, list: el.is_list });
                by_key.insert(el.name.as_str(), (el.name.as_str(), ty));
            }
        }
        types.insert(td.name.as_str(), TypeInfo { name: td.name.as_str(), base, kind: td.kind, children, by_key });
    }
    Model { types, defs }
}

impl Model {
    /// Finds element `name` of type `ty`, walking up the base chain.
    pub(crate) fn child(&self, ty: &str, name: &str) -> Option<&Child> {
        let mut cur = self.types.get(ty)?;
        for _ in 0..10 {
            if let Some(c) = cur.children.get(name) {
                return Some(c);
            }
            cur = self.types.get(cur.base?)?;
        }
        None
    }

    /// Resolves a concrete JSON key (`valueQuantity`) of type `ty`.
    pub(crate) fn by_key(&self, ty: &str, key: &str) -> Option<(&'static str, &'static str)> {
        let mut cur = self.types.get(ty)?;
        for _ in 0..10 {
            if let Some(c) = cur.by_key.get(key) {
                return Some(*c);
            }
            cur = self.types.get(cur.base?)?;
        }
        None
    }

    /// The interned name of a type, if it exists.
    pub(crate) fn intern(&self, ty: &str) -> Option<&'static str> {
        self.types.get(ty).map(|t| t.name)
    }

    pub(crate) fn is_primitive(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|t| t.kind == TypeKind::Primitive)
    }

    pub(crate) fn is_known(&self, ty: &str) -> bool {
        self.types.contains_key(ty)
    }

    /// Whether `ty` is `ancestor` or derives from it.
    pub(crate) fn is_subtype(&self, ty: &str, ancestor: &str) -> bool {
        let mut cur = ty;
        for _ in 0..12 {
            if cur == ancestor {
                return true;
            }
            match self.types.get(cur).and_then(|t| t.base) {
                Some(b) => cur = b,
                None => return false,
            }
        }
        false
    }
}
