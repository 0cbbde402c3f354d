//! SS-MIX2 output (placeholder until written).
use crate::{sim::Person, Result, World};
use std::path::PathBuf;
/// Files of one person.
pub fn person_files(_w: &World, _p: &Person) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    Ok(Vec::new())
}
