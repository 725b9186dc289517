//! A parser of the metrics exposition text: OpenMetrics 1.0 (what rmq brokers serve) and the
//! Prometheus text format 0.0.4 it extends (what Apache's rocketmq-exporter serves). Only the
//! samples are kept: name, labels, value; comments (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`),
//! timestamps and exemplars are skipped.
//!
//! Hand-written rather than a crate: the one maintained-looking candidate, `prometheus-parse`,
//! splits label sets on `,` and `=` (a quoted value holding either breaks it), knows no
//! OpenMetrics (`_total` samples of a `counter` family, `# EOF`), cannot tell text that is not
//! exposition format at all, and pulls in regex and chrono for it.

use std::collections::BTreeMap;

/// One sample line: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric name as written on the line (counters with their `_total`).
    pub name: String,
    /// The labels, unescaped.
    pub labels: BTreeMap<String, String>,
    /// The value (`NaN`, `+Inf`, `-Inf` included).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, empty when the sample has none.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// Why a text is not exposition format: the first bad line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}: {text:?}")]
pub struct TextError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub why: &'static str,
    /// The line, cut to 80 characters.
    pub text: String,
}

/// Parses exposition text into its samples.
pub fn parse(text: &str) -> Result<Vec<Sample>, TextError> {
    let mut samples = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = sample(line).map_err(|why| TextError {
            line: i + 1,
            why,
            text: line.chars().take(80).collect(),
        })?;
        samples.push(sample);
    }
    Ok(samples)
}

/// One sample line.
fn sample(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = label_set(after, &mut labels)?;
    }
    if !rest.starts_with([' ', '\t']) {
        return Err("expected a space before the value");
    }
    let value_text = rest.split_whitespace().next().ok_or("missing value")?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value: number(value_text).ok_or("the value is not a number")?,
    })
}

/// Reads `name="value",...}` into `labels`; returns what follows the `}`.
fn label_set<'a>(
    mut s: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, &'static str> {
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let eq = s.find('=').ok_or("expected label=\"value\"")?;
        let key = s[..eq].trim();
        let valid = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err("bad label name");
        }
        let (value, after) = quoted(s[eq + 1..].trim_start())?;
        labels.insert(key.to_owned(), value);
        s = after.trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err("expected , or } after a label");
        }
    }
}

/// Reads a `"..."` string with `\\`, `\"` and `\n` escapes; returns it and what follows.
fn quoted(s: &str) -> Result<(String, &str), &'static str> {
    let body = s.strip_prefix('"').ok_or("a label value must be quoted")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, e)) => out.push(e),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated label value")
}

/// A sample value: a decimal or `NaN`, `+Inf`, `-Inf` (any case).
fn number(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "+inf" | "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_samples_with_labels_comments_and_eof() {
        let text = "# HELP rocketmq_producer_offset messages ever stored.\n\
                    # TYPE rocketmq_producer_offset gauge\n\
                    rocketmq_producer_offset{cluster=\"c\",broker=\"broker-a\",topic=\"t1\"} 150.0\n\
                    # TYPE rocketmq_messages_in counter\n\
                    rocketmq_messages_in_total{topic=\"t1\"} 7 1700000000\n\
                    rmq_metrics_series_dropped 0\n\
                    # EOF\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "rocketmq_producer_offset");
        assert_eq!(s[0].label("broker"), "broker-a");
        assert_eq!(s[0].label("missing"), "");
        assert_eq!(s[0].value, 150.0);
        assert_eq!(s[1].name, "rocketmq_messages_in_total");
        assert_eq!(s[1].value, 7.0);
        assert!(s[2].labels.is_empty());
    }

    #[test]
    fn escaped_values_commas_and_special_numbers() {
        let text = "m{a=\"x,y=z\",b=\"say \\\"hi\\\"\\n\",} NaN\nm{} +Inf\nm -Inf # {id=\"1\"} 2\n";
        let s = parse(text).unwrap();
        assert_eq!(s[0].label("a"), "x,y=z");
        assert_eq!(s[0].label("b"), "say \"hi\"\n");
        assert!(s[0].value.is_nan());
        assert_eq!(s[1].value, f64::INFINITY);
        assert_eq!(s[2].value, f64::NEG_INFINITY);
    }

    #[test]
    fn text_that_is_not_exposition_format_names_its_line() {
        let e = parse("<!DOCTYPE html>\n<html>\n").unwrap_err();
        assert_eq!((e.line, e.why), (1, "expected a metric name"));
        assert_eq!(
            parse("ok\n").unwrap_err().why,
            "expected a space before the value"
        );
        assert_eq!(
            parse("m five\n").unwrap_err().why,
            "the value is not a number"
        );
        assert_eq!(
            parse("# c\nm{a=1} 2\n").unwrap_err(),
            TextError {
                line: 2,
                why: "a label value must be quoted",
                text: "m{a=1} 2".into()
            }
        );
        assert_eq!(
            parse("m{a=\"1} 2\n").unwrap_err().why,
            "unterminated label value"
        );
        assert_eq!(
            parse("m{a=\"1\" b=\"2\"} 2\n").unwrap_err().why,
            "expected , or } after a label"
        );
        assert_eq!(
            parse("{\"json\": 1}\n").unwrap_err().why,
            "expected a metric name"
        );
        assert!(parse("").unwrap().is_empty());
    }
}
