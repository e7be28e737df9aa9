//! A small, tolerant XML scanner for UPnP descriptions and SOAP answers:
//! it finds elements by local name (namespace prefixes ignored) and
//! returns their inner text with the five predefined entities decoded.
//! It never panics; malformed input just yields fewer matches.

/// The inner text (raw, entities not decoded) of every element whose local
/// name is `name`, outermost first, in document order. Elements of the
/// same name nested in a match are part of its inner text.
pub fn elements<'a>(doc: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((start_end, self_closing)) = find_open(doc, at, name) {
        if self_closing {
            out.push("");
            at = start_end;
            continue;
        }
        match find_close(doc, start_end, name) {
            Some((inner_end, after)) => {
                out.push(&doc[start_end..inner_end]);
                at = after;
            }
            None => break,
        }
    }
    out
}

/// The decoded text of the first element named `name`, trimmed.
pub fn text(doc: &str, name: &str) -> Option<String> {
    elements(doc, name).first().map(|t| unescape(t.trim()))
}

/// Decodes `&lt; &gt; &amp; &quot; &apos;` and numeric references.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an element's content.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The local name of a tag's name (`s:Envelope` → `Envelope`).
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Finds the next start tag `<name ...>` from `at`; returns where its
/// content starts and whether it was self-closing.
fn find_open(doc: &str, mut at: usize, name: &str) -> Option<(usize, bool)> {
    while let Some(i) = doc.get(at..)?.find('<') {
        let tag_start = at + i + 1;
        let end = tag_start + doc.get(tag_start..)?.find('>')?;
        let tag = &doc[tag_start..end];
        at = end + 1;
        if tag.starts_with(['/', '?', '!']) {
            continue;
        }
        let tag_name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if local(tag_name) == name {
            return Some((end + 1, tag.ends_with('/')));
        }
    }
    None
}

/// Finds the end tag matching an open `name` whose content starts at
/// `from`, counting nested elements of the same name. Returns where the
/// content ends and where scanning resumes.
fn find_close(doc: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let mut depth = 1usize;
    let mut at = from;
    while let Some(i) = doc.get(at..)?.find('<') {
        let lt = at + i;
        let end = lt + 1 + doc.get(lt + 1..)?.find('>')?;
        let tag = &doc[lt + 1..end];
        at = end + 1;
        if let Some(closing) = tag.strip_prefix('/') {
            if local(closing.trim()) == name {
                depth -= 1;
                if depth == 0 {
                    return Some((lt, end + 1));
                }
            }
        } else if !tag.starts_with(['?', '!']) && !tag.ends_with('/') {
            let tag_name = tag.split(char::is_whitespace).next().unwrap_or("");
            if local(tag_name) == name {
                depth += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_by_local_name() {
        let doc = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body>
            <u:R xmlns:u="y"><NewExternalIPAddress>203.0.113.1</NewExternalIPAddress></u:R>
            </s:Body></s:Envelope>"#;
        assert_eq!(
            text(doc, "NewExternalIPAddress").as_deref(),
            Some("203.0.113.1")
        );
        assert_eq!(elements(doc, "Body").len(), 1);
        assert_eq!(text(doc, "Missing"), None);
    }

    #[test]
    fn nested_same_name_and_self_closing() {
        let doc =
            "<device><a/><deviceList><device><x>1</x></device></deviceList></device><device/>";
        let d = elements(doc, "device");
        assert_eq!(d.len(), 2);
        assert!(d[0].contains("<x>1</x>"));
        assert_eq!(d[1], "");
    }

    #[test]
    fn entities() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp;amp; &#65;&#x42; &bogus; &"),
            "a <b> &amp; AB &bogus; &"
        );
        assert_eq!(escape("<&>"), "&lt;&amp;&gt;");
    }

    #[test]
    fn malformed_input_is_harmless() {
        for doc in [
            "<",
            "<a",
            "<a>",
            "</a>",
            "<a><a></a>",
            "<<<>>>",
            "<a>\u{e9}</a",
        ] {
            let _ = elements(doc, "a");
            let _ = text(doc, "a");
        }
    }
}
