//! Events and subscription filters.
//!
//! An event has a topic (a string such as `"orders/eu/new"`), a small map of
//! named string fields and an opaque payload. A filter is a topic prefix plus
//! a set of fields that must be present with exactly the given values. The
//! publishing node evaluates filters, so only matching events cross the
//! network.

use std::collections::BTreeMap;

/// Most named fields in an event or a filter.
pub const MAX_FIELDS: usize = 16;

/// An event published by an engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// What the event is about; filters match a prefix of it (at most 255 bytes).
    pub topic: String,
    /// Named string fields (at most [`MAX_FIELDS`]; names at most 255 bytes).
    pub fields: BTreeMap<String, String>,
    /// Opaque bytes for the subscriber.
    pub payload: Vec<u8>,
}

/// Which events a subscriber wants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Events whose topic starts with this (empty matches every topic).
    pub topic_prefix: String,
    /// Fields the event must carry with exactly these values.
    pub fields: BTreeMap<String, String>,
}

impl Filter {
    /// A filter on a topic prefix alone.
    pub fn topic(prefix: impl Into<String>) -> Self {
        Self {
            topic_prefix: prefix.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds a required field value.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Whether `event` passes this filter.
    pub fn matches(&self, event: &Event) -> bool {
        event.topic.starts_with(&self.topic_prefix)
            && self
                .fields
                .iter()
                .all(|(k, v)| event.fields.get(k) == Some(v))
    }
}

#[cfg(test)]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn fields() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[a-z]{0,8}", ".{0,12}", 0..MAX_FIELDS)
    }

    pub(crate) fn event() -> impl Strategy<Value = Event> {
        (
            ".{0,20}",
            fields(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(topic, fields, payload)| Event {
                topic,
                fields,
                payload,
            })
    }

    pub(crate) fn filter() -> impl Strategy<Value = Filter> {
        (".{0,20}", fields()).prop_map(|(topic_prefix, fields)| Filter {
            topic_prefix,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(topic: &str, fields: &[(&str, &str)]) -> Event {
        Event {
            topic: topic.into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            payload: vec![],
        }
    }

    #[test]
    fn prefix_and_fields() {
        let f = Filter::topic("orders/").with("region", "eu");
        assert!(f.matches(&ev("orders/new", &[("region", "eu"), ("x", "y")])));
        assert!(!f.matches(&ev("orders/new", &[("region", "us")])));
        assert!(!f.matches(&ev("orders/new", &[])));
        assert!(!f.matches(&ev("order", &[("region", "eu")])));
        assert!(Filter::default().matches(&ev("", &[])));
    }
}
