#![no_main]
//! SOCKS5 messages a client sends (greeting, username/password, request,
//! UDP header): parse or fail without panicking, and every accessor of what
//! parses stays inside the input.
use libfuzzer_sys::fuzz_target;
use tessel_stack::proxy::socks5::wire::{Greeting, Request, UdpPacket, UserPass};

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Greeting::new_checked(data) {
        assert!(g.message_len() <= data.len());
        let _ = g.offers(0);
    }
    if let Ok(u) = UserPass::new_checked(data) {
        assert!(u.message_len() <= data.len());
        let _ = (u.user(), u.password());
    }
    if let Ok(r) = Request::new_checked(data) {
        assert!(r.message_len() <= data.len());
        let _ = r.command();
        let _ = r.destination().to_socket_addr();
    }
    if let Ok(p) = UdpPacket::new_checked(data) {
        assert!(p.header_len() <= data.len());
        let _ = p.destination().to_socket_addr();
    }
});
