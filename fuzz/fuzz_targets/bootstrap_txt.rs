#![no_main]
//! The scope bootstrap's DNS TXT record: what parses is the canonical text
//! of the node ID it names, however the record is cut into strings.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::bootstrap;

fuzz_target!(|data: &[u8]| {
    let parsed = bootstrap::parse(data);
    if let Ok(id) = parsed {
        assert_eq!(bootstrap::write(&id).as_bytes(), data);
    }
    if let Some((&cut, rest)) = data.split_first() {
        let (a, b) = rest.split_at(usize::from(cut).min(rest.len()));
        let whole = bootstrap::parse(rest);
        assert_eq!(bootstrap::parse_strings(&[a, b]).ok(), whole.ok());
    }
});
