//! Scraping a node's metrics endpoint (`tessel up --metrics`) and reading
//! the Prometheus text format: a small parser of `# HELP`, `# TYPE` and
//! sample lines, enough to check families and values.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};

use crate::netns::Netns;
use crate::services::curl;

/// One family: its type, its help and its samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Family {
    /// `counter`, `gauge`, … as its `# TYPE` line says.
    pub kind: String,
    /// Its `# HELP` text.
    pub help: String,
    /// Its samples: labels and value.
    pub samples: Vec<(BTreeMap<String, String>, f64)>,
}

impl Family {
    /// The value of the sample whose labels include all of `labels`.
    pub fn value(&self, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(l, _)| {
                labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v)
    }

    /// The sum of its samples.
    pub fn sum(&self) -> f64 {
        self.samples.iter().map(|(_, v)| v).sum()
    }
}

/// A parsed scrape: families by name.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Every family.
    pub families: BTreeMap<String, Family>,
}

impl Scrape {
    /// Parses the text of a scrape; fails on a line that is none of a
    /// comment, a sample of a declared family, or blank.
    pub fn parse(text: &str) -> Result<Self> {
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let at = || format!("line {}: {line:?}", i + 1);
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                families.entry(name.to_owned()).or_default().help = help.to_owned();
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').with_context(at)?;
                families.entry(name.to_owned()).or_default().kind = kind.to_owned();
            } else if line.starts_with('#') {
                continue;
            } else {
                let (name, labels, value) = sample(line).with_context(at)?;
                let family = families
                    .get_mut(&name)
                    .with_context(|| format!("{}: no # TYPE for {name}", at()))?;
                family.samples.push((labels, value));
            }
        }
        Ok(Self { families })
    }

    /// The family `name`, which must exist.
    pub fn family(&self, name: &str) -> Result<&Family> {
        self.families
            .get(name)
            .with_context(|| format!("no family {name} in the scrape"))
    }

    /// The value of `name` with `labels`, which must exist.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64> {
        self.family(name)?
            .value(labels)
            .with_context(|| format!("no sample of {name} with {labels:?}"))
    }
}

/// Splits `name{k="v",…} value` into its parts.
fn sample(line: &str) -> Result<(String, BTreeMap<String, String>, f64)> {
    let (series, value) = line.rsplit_once(' ').context("no value")?;
    let value: f64 = value.parse().context("the value is not a number")?;
    let Some((name, rest)) = series.split_once('{') else {
        return Ok((series.to_owned(), BTreeMap::new(), value));
    };
    let body = rest.strip_suffix('}').context("no closing brace")?;
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        ensure!(chars.next() == Some('"'), "label {key} has no quoted value");
        let mut v = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => v.push('\n'),
                    Some(c) => v.push(c),
                    None => bail!("label {key} ends in a backslash"),
                },
                Some('"') => break,
                Some(c) => v.push(c),
                None => bail!("label {key} is not closed"),
            }
        }
        labels.insert(key.trim().to_owned(), v);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Ok((name.to_owned(), labels, value))
}

/// `GET http://ADDR/PATH` from inside `ns`: the HTTP status and the body.
pub fn get(ns: &Netns, addr: &str, path: &str) -> Result<(u16, String)> {
    let url = format!("http://{addr}{path}");
    let run = curl(ns, &["-w", "\n%{http_code}", &url])?;
    run.ensure_ok()?;
    let text = run.text();
    let (body, code) = text.rsplit_once('\n').context("curl printed no status")?;
    Ok((
        code.trim().parse().context("the HTTP status")?,
        body.to_owned(),
    ))
}

/// Scrapes `http://ADDR/metrics` from inside `ns` and parses it.
pub fn scrape(ns: &Netns, addr: &str) -> Result<Scrape> {
    let (code, body) = get(ns, addr, "/metrics")?;
    ensure!(code == 200, "GET /metrics answered {code}: {body}");
    Scrape::parse(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_labels_and_values() {
        let text = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"uote\"} 3\na_total{x=\"2\"} 4\n\n# TYPE b gauge\nb 0.5\n";
        let s = Scrape::parse(text).unwrap();
        let a = s.family("a_total").unwrap();
        assert_eq!((a.kind.as_str(), a.help.as_str()), ("counter", "Things."));
        assert_eq!(a.value(&[("y", "q\"uote")]), Some(3.0));
        assert_eq!(a.sum(), 7.0);
        assert_eq!(s.value("b", &[]).unwrap(), 0.5);
        assert!(Scrape::parse("c 1\n").is_err(), "a sample of no family");
        assert!(Scrape::parse("# TYPE c gauge\nc{x=\"1} 1\n").is_err());
    }
}
