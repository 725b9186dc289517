//! Rendering: aligned tables for people, JSON or YAML for programs.

use crate::error::CtlError;
use clap::ValueEnum;
use serde::Serialize;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// A table: headers and rows of cells.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(String::len).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  "));
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = line(&self.headers);
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
}

/// Prints `data` as JSON or YAML, or `table` for the table format.
pub fn print<T: Serialize>(
    output: Output,
    data: &T,
    table: impl FnOnce() -> Table,
) -> Result<(), CtlError> {
    match output {
        Output::Table => print!("{}", table().render()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(data).map_err(|e| CtlError::Render(e.to_string()))?
        ),
        Output::Yaml => print!(
            "{}",
            serde_yaml_ng::to_string(data).map_err(|e| CtlError::Render(e.to_string()))?
        ),
    }
    Ok(())
}

/// Prints `data` as JSON or YAML (for output whose table form the caller prints line by line).
pub fn emit<T: Serialize>(output: Output, data: &T) -> Result<(), CtlError> {
    print(output, data, Table::default)
}
