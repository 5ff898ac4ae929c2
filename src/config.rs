//! Configuration files: lint levels from `wsa-lint.toml` and from
//! `[workspace.metadata.wsa-lint]` / `[package.metadata.wsa-lint]` in Cargo.toml,
//! found by walking up from the linted path, no higher than the repository root (the nearest
//! directory holding `.git`) or the workspace root, whichever is nearer: a file above the
//! project is not the project's configuration.
//!
//! ```toml
//! [lints]                        # wsa-lint.toml
//! closesocket_without_shutdown = "deny"
//! pedantic = "warn"
//! warnings = "deny"              # like -D warnings
//!
//! [package.metadata.wsa-lint.lints]   # Cargo.toml
//! unchecked_wsa_startup = "allow"
//! ```

use crate::diag::Level;
use std::path::{Path, PathBuf};

/// One setting read from a file, in the order it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Lint name, group name, or `warnings`.
    pub name: String,
    pub level: Level,
    /// Where it was written, for messages: `wsa-lint.toml:3`.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Read {
        path: String,
        message: String,
    },
    Syntax {
        path: String,
        line: usize,
        message: String,
    },
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Read { path, message } => write!(f, "cannot read {path}: {message}"),
            ConfigError::Syntax {
                path,
                line,
                message,
            } => {
                write!(f, "{path}:{line}: malformed TOML: {message}")
            }
            ConfigError::Invalid {
                path,
                line,
                message,
            } => write!(f, "{path}:{line}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The configuration files that apply to `start` (a file or directory), least specific first:
/// workspace metadata, package metadata, then the nearest `wsa-lint.toml`. Directories above
/// the repository or workspace root are not looked at.
pub fn discover(start: &Path) -> Result<Vec<Setting>, ConfigError> {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    let mut standalone: Option<PathBuf> = None;
    let mut package: Option<PathBuf> = None;
    let mut workspace: Option<PathBuf> = None;
    while let Some(d) = dir {
        let own = d.join("wsa-lint.toml");
        if standalone.is_none() && own.is_file() {
            standalone = Some(own);
        }
        let manifest = d.join("Cargo.toml");
        if manifest.is_file() {
            let text = read(&manifest)?;
            let table: toml::Table = parse(&manifest, &text)?;
            if package.is_none() && table.contains_key("package") {
                package = Some(manifest.clone());
            }
            if table.contains_key("workspace") {
                workspace = Some(manifest.clone());
                break;
            }
        }
        if crate::discover::is_repository_root(d) {
            break;
        }
        dir = d.parent();
    }
    let mut out = Vec::new();
    if let Some(w) = workspace {
        out.extend(from_manifest(&w, "workspace")?);
    }
    if let Some(p) = package {
        out.extend(from_manifest(&p, "package")?);
    }
    if let Some(s) = standalone {
        let text = read(&s)?;
        let table = parse(&s, &text)?;
        if let Some(lints) = table.get("lints") {
            out.extend(levels(&s, &text, lints)?);
        }
        if let Some(key) = table.keys().find(|k| *k != "lints") {
            return Err(ConfigError::Invalid {
                path: shown(&s),
                line: line_of_key(&text, key),
                message: format!("unknown key `{key}` (expected a `[lints]` table)"),
            });
        }
    }
    Ok(out)
}

fn from_manifest(path: &Path, section: &str) -> Result<Vec<Setting>, ConfigError> {
    let text = read(path)?;
    let table = parse(path, &text)?;
    let Some(cfg) = table
        .get(section)
        .and_then(|s| s.get("metadata"))
        .and_then(|m| m.get("wsa-lint"))
    else {
        return Ok(Vec::new());
    };
    match cfg.get("lints") {
        Some(lints) => levels(path, &text, lints),
        None => Ok(Vec::new()),
    }
}

fn levels(path: &Path, text: &str, lints: &toml::Value) -> Result<Vec<Setting>, ConfigError> {
    let Some(table) = lints.as_table() else {
        return Err(ConfigError::Invalid {
            path: shown(path),
            line: line_of_key(text, "lints"),
            message: "`lints` must be a table of `name = \"allow\" | \"warn\" | \"deny\"`".into(),
        });
    };
    let mut out = Vec::new();
    for (name, value) in table {
        let line = line_of_key(text, name);
        let level = match value.as_str() {
            Some("allow") => Level::Allow,
            Some("warn") => Level::Warn,
            Some("deny") | Some("forbid") => Level::Deny,
            _ => {
                return Err(ConfigError::Invalid {
                    path: shown(path),
                    line,
                    message: format!(
                        "the level of `{name}` must be \"allow\", \"warn\" or \"deny\", not {value}"
                    ),
                })
            }
        };
        out.push(Setting {
            name: name.clone(),
            level,
            origin: format!("{}:{line}", shown(path)),
        });
    }
    Ok(out)
}

/// Reads a configuration file; a FIFO or device is never opened.
fn read(path: &Path) -> Result<String, ConfigError> {
    crate::discover::read_regular(path).map_err(|e| ConfigError::Read {
        path: shown(path),
        message: crate::discover::io_message(&e),
    })
}

fn parse(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        ConfigError::Syntax {
            path: shown(path),
            line,
            message: e.message().to_string(),
        }
    })
}

/// The line where `key = ...` is written (1 when it cannot be found).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix('"').unwrap_or(t);
            t.strip_prefix(key).is_some_and(|rest| {
                let rest = rest.strip_prefix('"').unwrap_or(rest).trim_start();
                rest.starts_with('=')
            })
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

fn shown(path: &Path) -> String {
    crate::discover::display_path(path)
}
