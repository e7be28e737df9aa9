//! WANIPConnection actions over SOAP: the request envelopes and the
//! answers (an `…Response` element, or a fault with a UPnP error code).

use std::net::{IpAddr, Ipv4Addr};

use super::super::WireError;
use super::xml;

/// `ConflictInMappingEntry`: the external port is mapped to another client.
pub const ERR_CONFLICT: u16 = 718;
/// `OnlyPermanentLeasesSupported`: the lease must be 0.
pub const ERR_ONLY_PERMANENT: u16 = 725;
/// `NoSuchEntryInArray`: nothing to delete.
pub const ERR_NO_SUCH_ENTRY: u16 = 714;

/// An action to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Its name.
    pub name: &'static str,
    /// Its arguments, in order.
    pub args: Vec<(&'static str, String)>,
}

impl Action {
    /// `GetExternalIPAddress`.
    pub fn get_external_ip() -> Self {
        Self {
            name: "GetExternalIPAddress",
            args: Vec::new(),
        }
    }

    /// `AddPortMapping` (or, with `any`, IGDv2's `AddAnyPortMapping`) of
    /// UDP `external_port` to `client:internal_port` for `lease` seconds.
    pub fn add_port_mapping(
        any: bool,
        external_port: u16,
        client: Ipv4Addr,
        internal_port: u16,
        lease: u32,
        description: &str,
    ) -> Self {
        Self {
            name: if any {
                "AddAnyPortMapping"
            } else {
                "AddPortMapping"
            },
            args: vec![
                ("NewRemoteHost", String::new()),
                ("NewExternalPort", external_port.to_string()),
                ("NewProtocol", "UDP".into()),
                ("NewInternalPort", internal_port.to_string()),
                ("NewInternalClient", client.to_string()),
                ("NewEnabled", "1".into()),
                ("NewPortMappingDescription", description.to_owned()),
                ("NewLeaseDuration", lease.to_string()),
            ],
        }
    }

    /// `DeletePortMapping` of UDP `external_port`.
    pub fn delete_port_mapping(external_port: u16) -> Self {
        Self {
            name: "DeletePortMapping",
            args: vec![
                ("NewRemoteHost", String::new()),
                ("NewExternalPort", external_port.to_string()),
                ("NewProtocol", "UDP".into()),
            ],
        }
    }

    /// The SOAP envelope for `service_type`.
    pub fn envelope(&self, service_type: &str) -> String {
        let mut args = String::new();
        for (k, v) in &self.args {
            args.push_str(&format!("<{k}>{}</{k}>", xml::escape(v)));
        }
        format!(
            "<?xml version=\"1.0\"?>\r\n\
             <s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\
             <s:Body><u:{name} xmlns:u=\"{service_type}\">{args}</u:{name}></s:Body></s:Envelope>\r\n",
            name = self.name
        )
    }
}

/// What the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Success: the output arguments by name.
    Ok(Vec<(String, String)>),
    /// A SOAP fault with its UPnP error code and description.
    Fault {
        /// The UPnP error code (0 if absent).
        code: u16,
        /// Its description.
        description: String,
    },
}

impl Answer {
    /// An output argument.
    pub fn get(&self, name: &str) -> Option<&str> {
        match self {
            Self::Ok(args) => args
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            Self::Fault { .. } => None,
        }
    }

    /// `NewExternalIPAddress`, parsed.
    pub fn external_ip(&self) -> Option<IpAddr> {
        self.get("NewExternalIPAddress")?.parse().ok()
    }

    /// `NewReservedPort` of AddAnyPortMapping, parsed.
    pub fn reserved_port(&self) -> Option<u16> {
        self.get("NewReservedPort")?.parse().ok()
    }
}

/// Parses the body of the answer to `action`.
///
/// # Errors
/// Returns an error if the body holds neither the action's response nor a
/// fault.
pub fn parse_answer(body: &str, action: &str) -> Result<Answer, WireError> {
    if let Some(fault) = xml::elements(body, "Fault").first() {
        let code = xml::text(fault, "errorCode")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let description = xml::text(fault, "errorDescription")
            .or_else(|| xml::text(fault, "faultstring"))
            .unwrap_or_default();
        return Ok(Answer::Fault { code, description });
    }
    let wanted = format!("{action}Response");
    let inner = xml::elements(body, &wanted)
        .first()
        .copied()
        .ok_or(WireError::Missing("action response"))?;
    Ok(Answer::Ok(children(inner)))
}

/// The direct child elements of `inner` as (name, decoded text).
fn children(inner: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = inner;
    while let Some(lt) = rest.find('<') {
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        if tag.starts_with(['/', '?', '!']) {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if tag.ends_with('/') {
            out.push((local.trim_end_matches('/').to_owned(), String::new()));
            continue;
        }
        let close = format!("</{name}>");
        let Some(end) = rest.find(&close) else { break };
        out.push((local.to_owned(), xml::unescape(rest[..end].trim())));
        rest = &rest[end + close.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ST: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";

    #[test]
    fn envelope() {
        let a = Action::add_port_mapping(
            false,
            9740,
            Ipv4Addr::new(198, 18, 1, 2),
            9740,
            7200,
            "tessel <x>",
        );
        let e = a.envelope(ST);
        assert!(e.contains(&format!("<u:AddPortMapping xmlns:u=\"{ST}\">")));
        assert!(
            e.contains("<NewRemoteHost></NewRemoteHost><NewExternalPort>9740</NewExternalPort>")
        );
        assert!(e.contains("<NewInternalClient>198.18.1.2</NewInternalClient>"));
        assert!(
            e.contains("<NewPortMappingDescription>tessel &lt;x&gt;</NewPortMappingDescription>")
        );
        assert!(e.contains("<NewLeaseDuration>7200</NewLeaseDuration></u:AddPortMapping>"));
    }

    #[test]
    fn answers_as_miniupnpd_sends_them() {
        let ok = "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
                  s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
                  <u:GetExternalIPAddressResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">\
                  <NewExternalIPAddress>203.0.113.1</NewExternalIPAddress></u:GetExternalIPAddressResponse>\
                  </s:Body></s:Envelope>\r\n";
        let a = parse_answer(ok, "GetExternalIPAddress").unwrap();
        assert_eq!(a.external_ip(), Some(Ipv4Addr::new(203, 0, 113, 1).into()));
        let any = "<s:Envelope><s:Body><u:AddAnyPortMappingResponse xmlns:u=\"x\">\
                   <NewReservedPort>40000</NewReservedPort></u:AddAnyPortMappingResponse></s:Body></s:Envelope>";
        assert_eq!(
            parse_answer(any, "AddAnyPortMapping")
                .unwrap()
                .reserved_port(),
            Some(40000)
        );
        let empty = "<s:Body><u:AddPortMappingResponse xmlns:u=\"x\"/></s:Body>";
        assert_eq!(
            parse_answer(empty, "AddPortMapping").unwrap(),
            Answer::Ok(vec![])
        );
        let fault = "<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>\
                     <detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>718</errorCode>\
                     <errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault>\
                     </s:Body></s:Envelope>";
        assert_eq!(
            parse_answer(fault, "AddPortMapping").unwrap(),
            Answer::Fault {
                code: ERR_CONFLICT,
                description: "ConflictInMappingEntry".into()
            }
        );
    }

    #[test]
    fn neither_response_nor_fault() {
        assert!(parse_answer("<s:Body><u:Other/></s:Body>", "AddPortMapping").is_err());
        assert!(parse_answer("", "X").is_err());
    }
}
