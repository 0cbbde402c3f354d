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
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A type's identity in the model: the address and length of its canonical name.
type TypeAddr = (usize, usize);

/// One element of a type, as seen from FHIRPath.
#[derive(Debug, Clone)]
pub(crate) enum Child {
    /// A plain element with one type; `primitive` says whether a `_name`
    /// sibling may carry its id/extensions.
    Plain { ty: &'static str, primitive: bool },
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
    /// (address of the canonical type name, element name) → element, with
    /// inherited elements flattened in: one hash lookup per navigation step.
    nav: FxMap<TypeAddr, FxMap<&'static str, Child>>,
    /// (address of the canonical type name, concrete JSON key) → (type, primitive).
    keys: FxMap<TypeAddr, FxMap<&'static str, (&'static str, bool)>>,
    /// Names of types that other types specialise (`Resource`, `Quantity`, ...).
    bases: FxMap<&'static str, ()>,
    /// Every element name and concrete JSON key in the model, numbered from 1
    /// (compiled member expressions carry the number).
    name_ids: FxMap<&'static str, usize>,
    /// (type address | name id << 48, type name length) → element: the fast
    /// path of navigation, a lookup on two integers.
    fast: FxMap<(usize, usize), Child>,
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
                children.insert(el.name.as_str(), Child::Plain { ty, primitive: false });
                by_key.insert(el.name.as_str(), (el.name.as_str(), ty));
            }
        }
        types.insert(td.name.as_str(), TypeInfo { name: td.name.as_str(), base, kind: td.kind, children, by_key });
    }
    // Canonicalise every type name to the `TypeInfo` name string so that a
    // type's address identifies it.
    let canon = |t: &'static str, types: &FxMap<&'static str, TypeInfo>| types.get(t).map(|i| i.name).unwrap_or(t);
    let names: Vec<&'static str> = types.keys().copied().collect();
    let mut nav = FxMap::default();
    let mut keys = FxMap::default();
    let mut bases = FxMap::default();
    for name in names {
        let mut chain = Vec::new();
        let mut cur = types.get(name);
        while let Some(t) = cur {
            chain.push(t);
            if let Some(b) = t.base {
                bases.insert(canon(b, &types), ());
            }
            cur = t.base.and_then(|b| types.get(b));
            if chain.len() > 12 {
                break;
            }
        }
        let canonical = types[name].name;
        let addr = (canonical.as_ptr() as usize, canonical.len());
        // Walk from the root so that a type's own definitions win over inherited ones.
        for t in chain.iter().rev() {
            for (el, child) in &t.children {
                let child = match child {
                    Child::Plain { ty, .. } => {
                        let ty = canon(ty, &types);
                        let primitive = types.get(ty).is_some_and(|i| i.kind == TypeKind::Primitive);
                        Child::Plain { ty, primitive }
                    }
                    Child::Choice { options } => Child::Choice {
                        options: options.iter().map(|(k, u, ty)| (*k, *u, canon(ty, &types))).collect(),
                    },
                };
                nav.entry(addr).or_insert_with(FxMap::default).insert(*el, child);
            }
            for (k, (_, ty)) in &t.by_key {
                let ty = canon(ty, &types);
                let primitive = types.get(ty).is_some_and(|i| i.kind == TypeKind::Primitive);
                keys.entry(addr).or_insert_with(FxMap::default).insert(*k, (ty, primitive));
            }
        }
    }
    let mut name_ids: FxMap<&'static str, usize> = FxMap::default();
    let mut fast = FxMap::default();
    for (addr, elements) in &nav {
        for (el, child) in elements {
            let next = name_ids.len() + 1;
            let id = *name_ids.entry(*el).or_insert(next);
            fast.insert((addr.0 | (id << 48), addr.1), child.clone());
        }
    }
    for (addr, ks) in &keys {
        for (k, (ty, primitive)) in ks {
            let next = name_ids.len() + 1;
            let id = *name_ids.entry(*k).or_insert(next);
            fast.entry((addr.0 | (id << 48), addr.1)).or_insert(Child::Plain { ty, primitive: *primitive });
        }
    }
    assert!(name_ids.len() < 1 << 15, "invariant: element name ids fit in the fast-path key");
    Model { types, defs, nav, keys, bases, name_ids, fast }
}

impl Model {
    /// The canonical (interned) form of a type name, for address-keyed lookups.
    fn addr(ty: &str) -> (usize, usize) {
        (ty.as_ptr() as usize, ty.len())
    }

    /// Finds element `name` of type `ty` (inherited elements included).
    pub(crate) fn child(&self, ty: &str, name: &str) -> Option<&Child> {
        if let Some(c) = self.nav.get(&Model::addr(ty)).and_then(|m| m.get(name)) {
            return Some(c);
        }
        // `ty` may be an equal string at another address (built by a caller).
        let canonical = self.intern(ty)?;
        if canonical.as_ptr() == ty.as_ptr() {
            return None;
        }
        self.nav.get(&Model::addr(canonical)).and_then(|m| m.get(name))
    }

    /// Resolves a concrete JSON key (`valueQuantity`) of type `ty` to its
    /// element type and whether that type is primitive.
    pub(crate) fn by_key(&self, ty: &str, key: &str) -> Option<(&'static str, bool)> {
        if let Some(c) = self.keys.get(&Model::addr(ty)).and_then(|m| m.get(key)) {
            return Some(*c);
        }
        let canonical = self.intern(ty)?;
        if canonical.as_ptr() == ty.as_ptr() {
            return None;
        }
        self.keys.get(&Model::addr(canonical)).and_then(|m| m.get(key)).copied()
    }

    /// The number of an element name or JSON key (0 when the model has none).
    pub(crate) fn name_id(&self, name: &str) -> usize {
        self.name_ids.get(name).copied().unwrap_or(0)
    }

    /// Fast path of [`Model::child`]/[`Model::by_key`] for a compiled name.
    #[inline]
    pub(crate) fn child_fast(&self, ty: &str, name_id: usize) -> Option<&Child> {
        if name_id == 0 {
            return None;
        }
        self.fast.get(&((ty.as_ptr() as usize) | (name_id << 48), ty.len()))
    }

    /// Whether some type specialises `ty` (so `is`/type filters must walk the chain).
    pub(crate) fn has_subtypes(&self, ty: &str) -> bool {
        self.bases.contains_key(ty)
    }

    /// The interned name of a type, if it exists.
    pub(crate) fn intern(&self, ty: &str) -> Option<&'static str> {
        // Resources usually arrive in runs of one type: remember the last answer.
        thread_local! {
            static LAST: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
        }
        let last = LAST.with(std::cell::Cell::get);
        if !last.is_empty() && last == ty {
            return Some(last);
        }
        let found = self.types.get(ty).map(|t| t.name);
        if let Some(f) = found {
            LAST.with(|l| l.set(f));
        }
        found
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
