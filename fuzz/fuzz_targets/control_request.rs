#![no_main]
//! The control API's requests (`tessel.sock` lines): any line is admitted
//! or refused without panicking; an admitted request writes back to a line
//! that is admitted as the same request; a scope request that reads writes
//! back to arguments that read as the same request.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::driver::control::api::{admit, request_line, Request};
use tessel_overlay::driver::scopes::request::ScopeRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(incoming) = admit(line, true) else {
        return;
    };
    let again = request_line(&incoming.request, incoming.id.clone());
    assert_eq!(admit(&again, true), Ok(incoming.clone()));
    if let Request::Scope { args } = &incoming.request {
        if let Ok(r) = ScopeRequest::from_args(args) {
            let args = r.to_args().expect("a parsed request writes");
            assert_eq!(ScopeRequest::from_args(&args), Ok(r));
        }
    }
});
