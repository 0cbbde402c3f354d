//! Fuzz target: `uke::UkeFile::parse` must never panic and must write back
//! exactly the bytes it read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (file, _issues) = uke::UkeFile::parse(data);
    for claim in file.claims() {
        let _ = claim.lines();
    }
    let out = file.to_bytes().expect("parsed files always write");
    assert_eq!(out, data);
});
