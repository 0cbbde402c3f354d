//! Vendored public tables about Japan's medical planning areas, embedded as
//! text (no I/O, no parsing): the 339 構想区域 with their 2020 populations,
//! 三重県's municipalities → 構想区域 → 二次医療圏, the MHLW NDB-based
//! inflow/outflow rates between 構想区域, 2020 Census populations of 三重県's
//! municipalities, and TopoJSON boundaries of Japan's municipalities and
//! prefectures. `synth` places people with them and `regional` analyses
//! flows over them, so both read the same single copy.
//!
//! Sources, processing and the required attributions are in `data/README.md`
//! and the `.meta.json` beside each file.
//!
//! ```
//! assert!(areas::AREA_BASIC.starts_with("published_fy,pref_code"));
//! assert_eq!(areas::MIE_MUNICIPALITY_POPULATION.len(), 29);
//! ```

#![warn(missing_docs)]

/// The 339 構想区域 (令和7年度): prefecture, code, name, 2020 population, area and
/// overall inflow/outflow rates (CSV with a header row).
pub const AREA_BASIC: &str = include_str!("../data/area_basic.csv");

/// 三重県: its 29 municipalities → 8 構想区域 → 4 二次医療圏 (CSV with the header
/// `area_code,area_name,muni_code,muni_name,parent_iryoken2_code,parent_iryoken2_name`;
/// user-supplied tables for other prefectures use the same layout).
pub const MIE_AREA_MUNICIPALITIES: &str = include_str!("../data/mie_area_municipalities.csv");

/// NDB-based outflow rates (流出率) between 構想区域 for 高度急性期+急性期: for a
/// residence zone, the share of its patients treated in each partner zone.
pub const PATIENT_FLOW_ACUTE_OUTFLOW: &str = include_str!("../data/patient_flow_acute_outflow.csv");

/// NDB-based inflow rates (流入率) between 構想区域 for 高度急性期+急性期: for a
/// care zone, the share of its patients living in each partner zone.
pub const PATIENT_FLOW_ACUTE_INFLOW: &str = include_str!("../data/patient_flow_acute_inflow.csv");

/// Overall (all care phases) inflow and outflow rates per 構想区域.
pub const PATIENT_FLOW_TOTAL: &str = include_str!("../data/patient_flow_total.csv");

/// Municipal boundaries of Japan (2021, 5-digit codes in `N03_007`), TopoJSON.
/// 「国土数値情報（行政区域データ）」（国土交通省）を加工して作成.
pub const MUNICIPALITIES_TOPOJSON: &str = include_str!("../data/municipalities.topojson");

/// Prefecture boundaries of Japan (names in `N03_001`), TopoJSON.
/// 「国土数値情報（行政区域データ）」（国土交通省）を加工して作成.
pub const PREFECTURES_TOPOJSON: &str = include_str!("../data/prefectures.topojson");

/// The credit line the boundary data requires wherever a map is shown.
pub const BOUNDARY_CREDIT: &str = "「国土数値情報（行政区域データ）」（国土交通省）を加工して作成";

/// The credit line the MHLW area and flow tables require.
pub const MHLW_CREDIT: &str = "出典：厚生労働省「2040年に向けた地域医療構想」公表データを加工して作成";

/// 2020 Census populations (令和2年国勢調査) of 三重県's 29 municipalities by
/// 5-digit code; their sums agree with `AREA_BASIC` within 3% per 構想区域.
pub const MIE_MUNICIPALITY_POPULATION: &[(&str, u32)] = &[
    ("24201", 274_537), ("24202", 305_424), ("24203", 122_765), ("24204", 159_145),
    ("24205", 138_613), ("24207", 195_670), ("24208", 76_387), ("24209", 16_252),
    ("24210", 49_835), ("24211", 17_525), ("24212", 16_043), ("24214", 44_973),
    ("24215", 46_057), ("24216", 88_766), ("24303", 5_928), ("24324", 25_661),
    ("24341", 40_686), ("24343", 11_021), ("24344", 15_016), ("24441", 14_208),
    ("24442", 22_445), ("24443", 8_833), ("24461", 15_167), ("24470", 7_920),
    ("24471", 8_101), ("24472", 11_417), ("24543", 15_207), ("24561", 8_442),
    ("24562", 10_962),
];
