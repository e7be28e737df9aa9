#![no_main]
//! UPnP: SSDP answers, HTTP responses, URLs, device descriptions and SOAP
//! answers parse (or fail) without panicking.
use libfuzzer_sys::fuzz_target;
use tessel_nat::portmap::upnp::{description, http, soap, ssdp, url::HttpUrl, xml};

fuzz_target!(|data: &[u8]| {
    let _ = ssdp::parse_answer(data);
    let _ = http::parse_response(data, false);
    if let Ok(Some(r)) = http::parse_response(data, true) {
        assert!(r.body.len() <= data.len());
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(u) = HttpUrl::parse(&text) {
        let _ = u.join(&text);
        let _ = u.host_header();
    }
    let base = HttpUrl::parse("http://198.18.1.1:5000/rootDesc.xml").unwrap();
    // A gateway's controlURL is joined to the description's URL.
    let _ = base.join(&text);
    let _ = description::find_wan_service(&text, &base);
    let _ = soap::parse_answer(&text, "AddPortMapping");
    let _ = xml::unescape(&text);
    let _ = xml::elements(&text, "service");
});
