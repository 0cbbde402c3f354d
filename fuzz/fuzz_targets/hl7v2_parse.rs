//! Fuzz target: `hl7v2::Message::parse` must never panic, and a parsed
//! message must write and re-parse to the same tree when it is encodable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((msg, _issues)) = hl7v2::Message::parse(data) {
        let text = msg.to_hl7_string();
        if let Ok((again, _)) = hl7v2::Message::parse_str(&text) {
            assert_eq!(again.to_hl7_string(), text, "writing is stable after one round");
        }
        let _ = msg.encode();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = hl7v2::ssmix2::FileName::parse(s);
    }
});
