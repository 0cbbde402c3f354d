//! The built-in studies with ground truth: the CLIDAS-like PCI statin cohort
//! and heart-failure admissions. Each exposes the pure functions the population
//! simulation calls, plus a stand-alone simulator used to check the design.

pub mod hf;
pub mod pci;
