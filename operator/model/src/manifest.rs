//! Reading YAML files of rmq documents (`kind: RocketMQCluster | RocketMQTopic |
//! RocketMQConsumerGroup`, `apiVersion: rmq.dev/v1alpha1`, several per file separated by `---`)
//! into typed, validated declarations. Every error names the file, the line of the document and
//! the field; all problems of all files are reported together.

use crate::plan::Desired;
use crate::types::{RocketMQCluster, RocketMQConsumerGroup, RocketMQTopic};
use crate::validate::{
    GroupDecl, TopicDecl, ValidatedCluster, ValidationError, validate, validate_group,
    validate_topic,
};
use crate::{API_GROUP, API_VERSION};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// File name as given.
    pub file: String,
    /// First line of the document (1-based).
    pub line: usize,
    /// `Kind/name`, once known.
    pub object: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(o) = &self.object {
            write!(f, " ({o})")?;
        }
        Ok(())
    }
}

/// A problem with an input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Read {
        /// The path as given.
        file: String,
        /// Why the OS refused.
        message: String,
    },
    /// Not YAML, or YAML of the wrong shape (the message names the field).
    #[error("{at}: {message}")]
    Parse {
        /// The document.
        at: Source,
        /// What (e.g. `spec.queues: invalid type: string "x", expected i32`).
        message: String,
    },
    /// A kind or apiVersion rmq does not know.
    #[error(
        "{at}: unknown kind {kind:?} with apiVersion {api_version:?} (fix: rmq reads kind RocketMQCluster, RocketMQTopic or RocketMQConsumerGroup with apiVersion rmq.dev/v1alpha1)"
    )]
    UnknownKind {
        /// The document.
        at: Source,
        /// The kind given.
        kind: String,
        /// The apiVersion given.
        api_version: String,
    },
    /// The document parsed but is not valid.
    #[error("{at}: {error}")]
    Invalid {
        /// The document.
        at: Source,
        /// The field, problem and fix.
        error: ValidationError,
    },
    /// The same topic, group or cluster is declared twice.
    #[error("{at}: {what} is already declared at {first} (fix: keep one declaration)")]
    Duplicate {
        /// The second declaration.
        at: Source,
        /// The first declaration.
        first: Source,
        /// What is duplicated.
        what: String,
    },
}

/// One parsed document.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A cluster.
    Cluster(Box<RocketMQCluster>),
    /// A topic.
    Topic(Box<RocketMQTopic>),
    /// A consumer group.
    Group(Box<RocketMQConsumerGroup>),
}

/// Everything declared by a set of files, validated.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    /// `RocketMQCluster` documents, with where each was declared.
    pub clusters: Vec<(Source, ValidatedCluster)>,
    /// `RocketMQTopic` documents, with where each was declared.
    pub topics: Vec<(Source, TopicDecl)>,
    /// `RocketMQConsumerGroup` documents, with where each was declared.
    pub groups: Vec<(Source, GroupDecl)>,
}

impl Declarations {
    /// The declared topics and groups as a plan's [`Desired`] (recorded owner `rmqctl`), with
    /// every cluster they name plus `extra_scope` in scope for pruning.
    pub fn desired(&self, extra_scope: &[String]) -> Desired {
        Desired::new(
            self.topics.iter().map(|(_, t)| t.clone()).collect(),
            self.groups.iter().map(|(_, g)| g.clone()).collect(),
            extra_scope,
        )
    }

    /// Names of every cluster the declarations mention (clusters and topic/group targets).
    pub fn cluster_names(&self) -> std::collections::BTreeSet<String> {
        let mut set: std::collections::BTreeSet<String> =
            self.clusters.iter().map(|(_, c)| c.name.clone()).collect();
        set.extend(self.topics.iter().map(|(_, t)| t.cluster.clone()));
        set.extend(self.groups.iter().map(|(_, g)| g.cluster.clone()));
        set
    }
}

/// Reads and validates every file; all problems of all files come back together, in file order
/// and by line.
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Declarations, Vec<ManifestError>> {
    let mut docs = Vec::new();
    let mut errs = Vec::new();
    let mut order = Vec::new();
    for p in paths {
        let file = p.as_ref().display().to_string();
        order.push(file.clone());
        match std::fs::read_to_string(p) {
            Ok(text) => {
                let (mut d, mut e) = parse_docs(&file, &text);
                docs.append(&mut d);
                errs.append(&mut e);
            }
            Err(e) => errs.push(ManifestError::Read {
                file,
                message: e.to_string(),
            }),
        }
    }
    let result = declarations(docs);
    if let Err(e) = &result {
        errs.extend(e.iter().cloned());
    }
    if errs.is_empty() {
        return result;
    }
    errs.sort_by_key(|e| {
        let (file, line) = position(e);
        (order.iter().position(|f| *f == file), line)
    });
    Err(errs)
}

fn position(e: &ManifestError) -> (String, usize) {
    match e {
        ManifestError::Read { file, .. } => (file.clone(), 0),
        ManifestError::Parse { at, .. }
        | ManifestError::UnknownKind { at, .. }
        | ManifestError::Invalid { at, .. }
        | ManifestError::Duplicate { at, .. } => (at.file.clone(), at.line),
    }
}

/// Parses the documents of one file's text (`file` is only used in messages).
pub fn parse_str(file: &str, text: &str) -> Result<Vec<(Source, Document)>, Vec<ManifestError>> {
    let (docs, errs) = parse_docs(file, text);
    if errs.is_empty() { Ok(docs) } else { Err(errs) }
}

/// The documents that parsed, and the problems of those that did not.
fn parse_docs(file: &str, text: &str) -> (Vec<(Source, Document)>, Vec<ManifestError>) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (start, line, chunk) in split_documents(text) {
        let mut source = Source {
            file: file.to_owned(),
            line,
            object: None,
        };
        let value: Value = match serde_yaml_ng::from_str(&chunk) {
            Ok(v) => v,
            Err(e) => {
                errs.push(parse_error(source, start, &e));
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        let field = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>");
        source.object = Some(format!("{kind}/{name}"));
        if api_version != format!("{API_GROUP}/{API_VERSION}") {
            errs.push(ManifestError::UnknownKind {
                at: source,
                kind,
                api_version,
            });
            continue;
        }
        let doc = match kind.as_str() {
            "RocketMQCluster" => {
                typed(&source, start, &chunk, &value).map(|c| Document::Cluster(Box::new(c)))
            }
            "RocketMQTopic" => {
                typed(&source, start, &chunk, &value).map(|t| Document::Topic(Box::new(t)))
            }
            "RocketMQConsumerGroup" => {
                typed(&source, start, &chunk, &value).map(|g| Document::Group(Box::new(g)))
            }
            _ => {
                errs.push(ManifestError::UnknownKind {
                    at: source,
                    kind,
                    api_version,
                });
                continue;
            }
        };
        match doc {
            Ok(d) => out.push((source, d)),
            Err(mut e) => errs.append(&mut e),
        }
    }
    (out, errs)
}

/// Validates parsed documents and checks for duplicates.
pub fn declarations(docs: Vec<(Source, Document)>) -> Result<Declarations, Vec<ManifestError>> {
    let mut d = Declarations::default();
    let mut errs = Vec::new();
    let mut seen: BTreeMap<String, Source> = BTreeMap::new();
    let invalid = |source: &Source, list: Vec<ValidationError>| {
        list.into_iter()
            .map(|error| ManifestError::Invalid {
                at: source.clone(),
                error,
            })
            .collect::<Vec<_>>()
    };
    for (source, doc) in docs {
        let key = match &doc {
            Document::Cluster(c) => validate(c)
                .map(|v| {
                    let k = format!("cluster {:?}", v.name);
                    d.clusters.push((source.clone(), v));
                    k
                })
                .map_err(|e| invalid(&source, e)),
            Document::Topic(t) => validate_topic(t)
                .map(|v| {
                    let k = format!("topic {:?} of cluster {:?}", v.name, v.cluster);
                    d.topics.push((source.clone(), v));
                    k
                })
                .map_err(|e| invalid(&source, e)),
            Document::Group(g) => validate_group(g)
                .map(|v| {
                    let k = format!("consumer group {:?} of cluster {:?}", v.name, v.cluster);
                    d.groups.push((source.clone(), v));
                    k
                })
                .map_err(|e| invalid(&source, e)),
        };
        match key {
            Ok(k) => {
                if let Some(first) = seen.get(&k) {
                    errs.push(ManifestError::Duplicate {
                        at: source,
                        first: first.clone(),
                        what: k,
                    });
                } else {
                    seen.insert(k, source);
                }
            }
            Err(mut e) => errs.append(&mut e),
        }
    }
    if errs.is_empty() { Ok(d) } else { Err(errs) }
}

fn typed<T: DeserializeOwned + Serialize>(
    source: &Source,
    start: usize,
    chunk: &str,
    original: &Value,
) -> Result<T, Vec<ManifestError>> {
    if original.get("spec").is_none_or(Value::is_null) {
        return Err(vec![ManifestError::Invalid {
            at: source.clone(),
            error: ValidationError::new(
                "spec",
                "is missing",
                "add `spec: {}` to take every default, or the fields you need",
            ),
        }]);
    }
    let t: T =
        serde_yaml_ng::from_str(chunk).map_err(|e| vec![parse_error(source.clone(), start, &e)])?;
    // Unknown fields would otherwise be dropped silently (a typo such as `queus: 4` would give
    // the default): compare with what the typed value serialises back to.
    let back = serde_yaml_ng::to_value(&t).unwrap_or(Value::Null);
    let mut unknown = Vec::new();
    if let Some(spec) = original.get("spec") {
        unknown_fields(
            spec,
            back.get("spec").unwrap_or(&Value::Null),
            "spec",
            &mut unknown,
        );
    }
    if unknown.is_empty() {
        return Ok(t);
    }
    Err(unknown
        .into_iter()
        .map(|path| ManifestError::Invalid {
            at: source.clone(),
            error: ValidationError::new(
                path,
                "unknown field",
                "check the spelling; `rmqctl crd` prints the schema",
            ),
        })
        .collect())
}

fn unknown_fields(original: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Mapping(orig) = original else {
        return;
    };
    for (k, v) in orig {
        let key = k.as_str().map_or_else(|| format!("{k:?}"), str::to_owned);
        let sub = format!("{path}.{key}");
        match typed.get(&key) {
            Some(t) => unknown_fields(v, t, &sub, out),
            None if v.is_null() => {}
            None => out.push(sub),
        }
    }
}

fn parse_error(source: Source, doc_line: usize, e: &serde_yaml_ng::Error) -> ManifestError {
    let mut message = e.to_string();
    let mut source = source;
    if let Some(loc) = e.location() {
        source.line = doc_line + loc.line().saturating_sub(1);
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
    }
    ManifestError::Parse {
        at: source,
        message,
    }
}

/// Splits YAML text into documents at `---` lines: (first line of the chunk, first line with
/// content, text), lines 1-based.
fn split_documents(text: &str) -> Vec<(usize, usize, String)> {
    let mut docs = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    let mut push = |start: usize, chunk: String| {
        let content = chunk
            .lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if let Some(offset) = content {
            docs.push((start, start + offset, chunk));
        }
    };
    for (i, line) in text.lines().enumerate() {
        let marker = line == "---" || line.starts_with("--- ") || line == "...";
        if marker {
            push(start, std::mem::take(&mut current));
            start = i + 2;
            if let Some(rest) = line.strip_prefix("--- ") {
                current.push_str(rest);
                current.push('\n');
                start = i + 1;
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    push(start, current);
    docs
}
