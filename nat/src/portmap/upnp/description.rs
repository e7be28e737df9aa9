//! The device description (`rootDesc.xml`): which WAN connection service
//! the gateway has and where its control URL is.

use super::super::WireError;
use super::url::HttpUrl;
use super::xml;

/// WAN connection services, most preferred first.
pub const SERVICE_TYPES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// The service to send actions to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WanService {
    /// Its service type (one of [`SERVICE_TYPES`]).
    pub service_type: String,
    /// Where to POST its actions.
    pub control_url: HttpUrl,
}

impl WanService {
    /// Whether it is IGD version 2 (which has AddAnyPortMapping).
    pub fn is_v2(&self) -> bool {
        self.service_type.ends_with(":2")
    }
}

/// Finds the preferred WAN connection service in a description fetched
/// from `location`.
///
/// # Errors
/// Returns an error if there is none, or its control URL is unusable.
pub fn find_wan_service(doc: &str, location: &HttpUrl) -> Result<WanService, WireError> {
    let base = match xml::text(doc, "URLBase").filter(|b| !b.is_empty()) {
        Some(b) => HttpUrl::parse(&b).unwrap_or_else(|_| location.clone()),
        None => location.clone(),
    };
    let services: Vec<(String, String)> = xml::elements(doc, "service")
        .into_iter()
        .filter_map(|s| Some((xml::text(s, "serviceType")?, xml::text(s, "controlURL")?)))
        .collect();
    for wanted in SERVICE_TYPES {
        if let Some((t, url)) = services.iter().find(|(t, _)| t == wanted) {
            return Ok(WanService {
                service_type: t.clone(),
                control_url: base.join(url)?,
            });
        }
    }
    Err(WireError::Missing(
        "WANIPConnection or WANPPPConnection service",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Abridged from miniupnpd 2.3.1's rootDesc.xml (IGDv2).
    const MINIUPNPD: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
<controlURL>/ctl/CmnIfCfg</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl/IPConn</controlURL>
<eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>"#;

    #[test]
    fn finds_miniupnpd_service() {
        let loc = HttpUrl::parse("http://198.18.1.1:37345/rootDesc.xml").unwrap();
        let s = find_wan_service(MINIUPNPD, &loc).unwrap();
        assert_eq!(
            s.service_type,
            "urn:schemas-upnp-org:service:WANIPConnection:2"
        );
        assert!(s.is_v2());
        assert_eq!(
            s.control_url,
            HttpUrl::parse("http://198.18.1.1:37345/ctl/IPConn").unwrap()
        );
    }

    #[test]
    fn url_base_and_ppp() {
        let doc = "<root><URLBase>http://192.0.2.1:49000/</URLBase><service>\
                   <serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>\
                   <controlURL>upnp/control/WANPPPConn1</controlURL></service></root>";
        let loc = HttpUrl::parse("http://198.18.1.1/desc.xml").unwrap();
        let s = find_wan_service(doc, &loc).unwrap();
        assert!(!s.is_v2());
        assert_eq!(s.control_url.host, "192.0.2.1");
        assert_eq!(s.control_url.path, "/upnp/control/WANPPPConn1");
    }

    #[test]
    fn no_service() {
        let loc = HttpUrl::parse("http://198.18.1.1/").unwrap();
        assert!(find_wan_service(
            "<root><service><serviceType>x</serviceType></service></root>",
            &loc
        )
        .is_err());
        assert!(find_wan_service("", &loc).is_err());
    }
}
