//! UPnP Internet Gateway Device, sans-IO: the messages of discovery
//! ([`ssdp`]), of the HTTP exchanges ([`http`], [`url`]), the device
//! description ([`description`]) and the WANIPConnection actions
//! ([`soap`]: GetExternalIPAddress, AddPortMapping, AddAnyPortMapping,
//! DeletePortMapping). XML is read by a small tolerant scanner ([`xml`]):
//! only element names, text and entities matter here.

pub mod description;
pub mod http;
pub mod soap;
pub mod ssdp;
pub mod url;
pub mod xml;

/// Lease asked for, in seconds (renewed at half).
pub const DEFAULT_LEASE: u32 = 7200;
