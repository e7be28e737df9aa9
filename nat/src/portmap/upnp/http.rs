//! Just enough HTTP/1.1 for UPnP: GET and POST requests with
//! `Connection: close`, and a response parser that handles
//! `Content-Length`, chunked bodies and bodies that end with the
//! connection. The caller feeds the bytes received so far.

use super::super::WireError;
use super::url::HttpUrl;

/// Largest response accepted (descriptions of big routers run to tens of KiB).
pub const MAX_RESPONSE: usize = 256 * 1024;

/// Writes a GET request.
pub fn emit_get(url: &HttpUrl) -> Vec<u8> {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: tessel\r\n\r\n",
        url.path,
        url.host_header()
    )
    .into_bytes()
}

/// Writes a SOAP POST request for `action` of `service_type`.
pub fn emit_soap_post(url: &HttpUrl, service_type: &str, action: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: tessel\r\n\
         Content-Type: text/xml; charset=\"utf-8\"\r\n\
         SOAPAction: \"{service_type}#{action}\"\r\nContent-Length: {}\r\n\r\n{body}",
        url.path,
        url.host_header(),
        body.len()
    )
    .into_bytes()
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Splits header lines into (name, value) pairs, stopping at the first
/// empty line; lines without a colon are skipped.
pub(crate) fn headers<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(&'a str, &'a str)> {
    lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// Parses the response in `buf` (all bytes received so far). Returns
/// `Ok(None)` if more bytes are needed; `eof` says the connection closed,
/// which ends a body without length.
///
/// # Errors
/// Returns an error if the bytes are not an HTTP/1.x response, are too
/// long, or the connection closed before the body was complete.
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, WireError> {
    if buf.len() > MAX_RESPONSE {
        return Err(WireError::TooLong {
            len: buf.len(),
            max: MAX_RESPONSE,
        });
    }
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if eof {
            Err(WireError::Truncated {
                len: buf.len(),
                need: buf.len() + 1,
            })
        } else {
            Ok(None)
        };
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| WireError::InvalidField("UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(WireError::InvalidField("status line"));
    }
    let status = parts
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or(WireError::InvalidField("status code"))?;
    let h = headers(lines);
    let get = |name: &str| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let body = &buf[head_end + 4..];
    let chunked = get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        return match dechunk(body)? {
            Some(body) => Ok(Some(Response { status, body })),
            None if eof => Err(WireError::Truncated {
                len: buf.len(),
                need: buf.len() + 1,
            }),
            None => Ok(None),
        };
    }
    if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| WireError::InvalidField("Content-Length"))?;
        if body.len() >= len {
            return Ok(Some(Response {
                status,
                body: body[..len].to_vec(),
            }));
        }
        return if eof {
            Err(WireError::Truncated {
                len: body.len(),
                need: len,
            })
        } else {
            Ok(None)
        };
    }
    Ok(eof.then(|| Response {
        status,
        body: body.to_vec(),
    }))
}

/// Decodes a chunked body; `None` if incomplete.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, WireError> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(b, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&b[..line_end])
            .map_err(|_| WireError::InvalidField("chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| WireError::InvalidField("chunk size"))?;
        if size > MAX_RESPONSE {
            return Err(WireError::InvalidField("chunk size"));
        }
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let u = HttpUrl::parse("http://198.18.1.1:5000/ctl/IPConn").unwrap();
        let g = String::from_utf8(emit_get(&u)).unwrap();
        assert!(g.starts_with("GET /ctl/IPConn HTTP/1.1\r\nHost: 198.18.1.1:5000\r\n"));
        let p = String::from_utf8(emit_soap_post(&u, "urn:x:1", "Act", "<b/>")).unwrap();
        assert!(p.contains("SOAPAction: \"urn:x:1#Act\"\r\n"));
        assert!(p.contains("Content-Length: 4\r\n\r\n<b/>"));
    }

    #[test]
    fn content_length_and_partial() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(&full[..20], false).unwrap(), None);
        assert_eq!(
            parse_response(&full[..full.len() - 1], false).unwrap(),
            None
        );
        assert!(parse_response(&full[..full.len() - 1], true).is_err());
        let r = parse_response(full, false).unwrap().unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    }

    #[test]
    fn chunked_and_until_close() {
        let c = b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n";
        let r = parse_response(c, false).unwrap().unwrap();
        assert_eq!((r.status, &r.body[..]), (500, &b"abcde"[..]));
        assert_eq!(parse_response(&c[..c.len() - 8], false).unwrap(), None);
        let u = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody";
        assert_eq!(parse_response(u, false).unwrap(), None);
        assert_eq!(parse_response(u, true).unwrap().unwrap().body, b"body");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"SSH-2.0\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 200\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse_response(
            b"HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK", true).is_err());
    }
}
