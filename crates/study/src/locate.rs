//! From places in the study file (byte spans, or paths of keys such as
//! `analysis[2].covariates[1]`) to `file:line:column` prefixes of error messages.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::StudyError;

/// One step of a path into the study file: a key of a table or an index into an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl From<&str> for Seg {
    fn from(k: &str) -> Self {
        Seg::Key(k.to_string())
    }
}

impl From<&String> for Seg {
    fn from(k: &String) -> Self {
        Seg::Key(k.clone())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A path into the study file, e.g. `keys!["data", name, "columns"]`.
macro_rules! keys {
    ($($s:expr),* $(,)?) => { [$($crate::locate::Seg::from($s)),*] };
}
pub(crate) use keys;

/// The text of a study file and its name, for locating errors.
#[derive(Clone, Debug)]
pub struct Source {
    /// The file name as the user gave it.
    pub name: String,
    /// The whole file.
    pub text: String,
}

impl Source {
    /// `name:line:column` of byte offset `at`.
    pub fn position(&self, at: usize) -> String {
        let at = at.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[start..].chars().count() + 1;
        format!("{}:{line}:{col}", self.name)
    }

    /// An [`StudyError::Invalid`] located at `span` (the start of the file if unknown).
    pub fn error_at(&self, span: Option<Range<usize>>, msg: impl std::fmt::Display) -> StudyError {
        let at = span.map_or(0, |s| s.start);
        StudyError::Invalid(format!("{}: {msg}", self.position(at)))
    }

    /// An error located at the deepest element of `path` that exists in the file.
    pub fn error_path(&self, path: &[Seg], msg: impl std::fmt::Display) -> StudyError {
        self.error_at(self.span(path), msg)
    }

    /// A TOML error (syntax or deserialisation), located by its own span; `context` says
    /// which part of the file was being read (e.g. `[parties.gp]`).
    pub fn toml_error(&self, context: &str, e: &toml::de::Error) -> StudyError {
        let msg = e.message().trim_end();
        if context.is_empty() {
            self.error_at(e.span(), msg)
        } else {
            self.error_at(e.span(), format!("{context}: {msg}"))
        }
    }

    /// The span of the deepest element of `path` present in the file (the value of a key,
    /// or the element of an array).
    pub fn span(&self, path: &[Seg]) -> Option<Range<usize>> {
        let root = DeTable::parse(&self.text).ok()?;
        let mut best = None;
        let mut cur: Option<&Spanned<DeValue<'_>>> = None;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        for seg in path {
            let next = match (seg, table, cur.map(|c| c.get_ref())) {
                (Seg::Key(k), Some(t), _) => t.get(k.as_str()),
                (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(v) = next else { break };
            best = Some(v.span());
            cur = Some(v);
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_paths() {
        let s = Source {
            name: "s.toml".into(),
            text: "[a]\nx = 1\ny = [\"p\", \"qq\"]\n\n[[b]]\nz = true\n".into(),
        };
        assert_eq!(s.position(0), "s.toml:1:1");
        assert_eq!(s.position(4), "s.toml:2:1");
        let at = |p: &[Seg]| s.position(s.span(p).unwrap().start);
        assert_eq!(at(&keys!["a", "x"]), "s.toml:2:5");
        assert_eq!(at(&keys!["a", "y", 1usize]), "s.toml:3:11");
        assert_eq!(at(&keys!["b", 0usize, "z"]), "s.toml:6:5");
        // A missing key: the deepest element that exists.
        assert_eq!(at(&keys!["a", "nope"]), at(&keys!["a"]));
        assert!(s.span(&keys!["nothing"]).is_none());
    }
}
