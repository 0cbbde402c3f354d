//! Browser tests of the web dashboard: a real headless Chromium, driven over
//! WebDriver by chromedriver, against a real server over a synthetic population.
//!
//! Run: `cargo test -p medtwin-server --test browser` (needs the Debian
//! packages in `scripts/apt-test.txt`; the tests fail, never skip, without
//! them). Screenshots land in `$MEDTWIN_SCREENSHOTS` or `<target>/screenshots/`.
//!
//! # Adding tests for a page
//!
//! Add `tests/browser/<page>.rs` and a `mod <page>;` line below. A test is:
//!
//! ```ignore
//! #[test]
//! fn studies_run_one() {
//!     let b = Browser::start();             // chromedriver + fresh Chromium, stopped on drop
//!     b.goto("/studies");                   // fails on console errors of the previous page
//!     assert!(b.title().contains("研究"));
//!     b.click(&b.find("button[type=submit]"));
//!     b.wait_text("main", "Kaplan");        // polls up to 10 s
//!     b.screenshot("studies-run");          // fails on console errors, writes the PNG
//! }
//! ```
//!
//! [`harness::server`] is one server per test binary over [`harness::PATIENTS`]
//! synthetic people; [`harness::first_id`] finds a resource to open.

mod harness;
mod pages;
mod studies;
mod regional;
