//! A strict reader of the Prometheus / OpenMetrics text exposition, enough to check that
//! `/metrics` parses and to read one sample: `# TYPE` and `# HELP` lines, samples
//! `name{label="value",...} number`, and the closing `# EOF`.

use std::collections::{BTreeMap, HashMap};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition: the declared type of each family and every sample.
#[derive(Debug, Default)]
pub struct Exposition {
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parse `text`, panicking with the offending line on anything malformed: an unknown
    /// comment, a sample of an undeclared family, a bad label or number, a missing `# EOF`.
    pub fn parse(text: &str) -> Self {
        let mut exposition = Self::default();
        let mut ended = false;
        for line in text.lines() {
            assert!(!ended, "text after # EOF: {line:?}");
            if line == "# EOF" {
                ended = true;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect(line);
                assert!(
                    [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown"
                    ]
                    .contains(&kind),
                    "type in {line:?}"
                );
                exposition.types.insert(name.to_owned(), kind.to_owned());
            } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            } else {
                assert!(!line.starts_with('#'), "unknown comment {line:?}");
                let sample = parse_sample(line);
                let family = exposition.family_of(&sample.name);
                assert!(family.is_some(), "sample of an undeclared family: {line:?}");
                exposition.samples.push(sample);
            }
        }
        assert!(ended, "the exposition ends with # EOF");
        exposition
    }

    /// The declared family a sample name belongs to (`x_total` and `x_bucket` belong to `x`).
    fn family_of(&self, sample: &str) -> Option<&str> {
        if let Some((name, _)) = self.types.get_key_value(sample) {
            return Some(name);
        }
        ["_total", "_bucket", "_count", "_sum", "_created", "_info"]
            .iter()
            .filter_map(|suffix| sample.strip_suffix(suffix))
            .find_map(|base| {
                self.types
                    .get_key_value(base)
                    .map(|(name, _)| name.as_str())
            })
    }

    /// The value of the sample `name` whose labels include every pair of `labels`; panics
    /// unless exactly one sample matches.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "exactly one {name} sample with {labels:?}; found {matching:?}"
        );
        matching[0].value
    }
}

fn parse_sample(line: &str) -> Sample {
    let (head, value) = line.rsplit_once(' ').expect(line);
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("number in {line:?}")),
    };
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (
            name,
            parse_labels(rest.strip_suffix('}').expect(line), line),
        ),
        None => (head, BTreeMap::new()),
    };
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
        "metric name in {line:?}"
    );
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

fn parse_labels(mut text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"").expect(line);
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("escape at the end of {line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels.insert(key.to_owned(), value);
        text = rest[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&rest[end + 1..]);
    }
    labels
}
