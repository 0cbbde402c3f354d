//! UKE output (placeholder until written).
use crate::{sim::Person, Result, World};
use std::path::Path;
/// A claim block.
#[derive(Debug, Clone)]
pub struct ClaimBlock;
/// Claims of one person.
pub fn person_claims(_w: &World, _p: &Person) -> Vec<ClaimBlock> {
    Vec::new()
}
/// Spool.
pub struct Spool;
impl Spool {
    /// New.
    pub fn new(_out: &Path, _w: &World) -> Result<Spool> {
        Ok(Spool)
    }
    /// Add.
    pub fn add(&mut self, _b: &[ClaimBlock]) -> Result<()> {
        Ok(())
    }
    /// Finish.
    pub fn finish(self, _w: &World) -> Result<(u64, u64)> {
        Ok((0, 0))
    }
}
