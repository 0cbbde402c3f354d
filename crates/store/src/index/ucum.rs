//! UCUM normalisation for quantity search: common clinical units are converted
//! to one canonical unit per dimension, so `5.4|http://unitsofmeasure.org|mmol/L`
//! finds a value stored as `5400 umol/L`, and `100|...|mg/dL` one stored as `1 g/L`.
//! Units outside this table are matched by their code as written.

/// The UCUM code system URL.
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";

/// (unit code, factor to the canonical unit, canonical unit).
const UNITS: &[(&str, f64, &str)] = &[
    // Mass.
    ("kg", 1e3, "g"),
    ("g", 1.0, "g"),
    ("mg", 1e-3, "g"),
    ("ug", 1e-6, "g"),
    ("ng", 1e-9, "g"),
    ("pg", 1e-12, "g"),
    ("[lb_av]", 453.59237, "g"),
    ("[oz_av]", 28.349523125, "g"),
    // Length.
    ("km", 1e3, "m"),
    ("m", 1.0, "m"),
    ("cm", 1e-2, "m"),
    ("mm", 1e-3, "m"),
    ("um", 1e-6, "m"),
    ("[in_i]", 0.0254, "m"),
    ("[ft_i]", 0.3048, "m"),
    // Volume.
    ("L", 1.0, "L"),
    ("l", 1.0, "L"),
    ("dL", 0.1, "L"),
    ("mL", 1e-3, "L"),
    ("uL", 1e-6, "L"),
    // Time.
    ("s", 1.0, "s"),
    ("min", 60.0, "s"),
    ("h", 3600.0, "s"),
    ("d", 86400.0, "s"),
    ("wk", 604800.0, "s"),
    ("ms", 1e-3, "s"),
    // Mass concentration.
    ("g/L", 1.0, "g/L"),
    ("g/dL", 10.0, "g/L"),
    ("mg/dL", 1e-2, "g/L"),
    ("mg/L", 1e-3, "g/L"),
    ("ug/L", 1e-6, "g/L"),
    ("ug/dL", 1e-5, "g/L"),
    ("ng/mL", 1e-6, "g/L"),
    ("pg/mL", 1e-9, "g/L"),
    // Substance concentration.
    ("mol/L", 1.0, "mol/L"),
    ("mmol/L", 1e-3, "mol/L"),
    ("umol/L", 1e-6, "mol/L"),
    ("nmol/L", 1e-9, "mol/L"),
    ("pmol/L", 1e-12, "mol/L"),
    // Pressure.
    ("mm[Hg]", 133.322387415, "Pa"),
    ("kPa", 1e3, "Pa"),
    ("Pa", 1.0, "Pa"),
    ("cm[H2O]", 98.0665, "Pa"),
    // Rates and ratios.
    ("/min", 1.0 / 60.0, "/s"),
    ("{beats}/min", 1.0 / 60.0, "/s"),
    ("/s", 1.0, "/s"),
    ("%", 1.0, "%"),
    ("kg/m2", 1.0, "kg/m2"),
    ("10*3/uL", 1e9, "/L"),
    ("10*6/uL", 1e12, "/L"),
    ("10*9/L", 1e9, "/L"),
    ("10*12/L", 1e12, "/L"),
    ("/uL", 1e6, "/L"),
    ("U/L", 1.0, "U/L"),
    ("IU/L", 1.0, "[IU]/L"),
    ("[IU]/L", 1.0, "[IU]/L"),
    ("mL/min/{1.73_m2}", 1.0, "mL/min/{1.73_m2}"),
];

/// The value in the canonical unit of its dimension, if the unit is known.
pub(crate) fn canonical(value: f64, code: &str) -> Option<(f64, &'static str)> {
    UNITS.iter().find(|(c, _, _)| *c == code).map(|(_, f, canon)| (value * f, *canon))
}

/// The factor and canonical unit of a known unit.
pub(crate) fn factor(code: &str) -> Option<(f64, &'static str)> {
    canonical(1.0, code)
}
