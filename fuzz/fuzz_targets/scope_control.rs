#![no_main]
//! The daemon's scope control requests (`scope {…}` lines): any line
//! parses or is refused without panicking, and a request that parses
//! writes back to a line that parses to the same request.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::driver::scopes::request::ScopeRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Ok(r)) = ScopeRequest::parse(line) {
        let again = r.to_command().expect("a parsed request writes");
        assert_eq!(ScopeRequest::parse(&again), Some(Ok(r)));
    }
});
