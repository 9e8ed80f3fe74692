//! Which files of a directory belong to an artefact.
//!
//! `publish` and the checkout commands (`status`, `diff`, `commit`, `pull`) see a directory the
//! same way: every regular file, hidden ones included, honouring `.gitignore` files inside the
//! directory (not those of its parents, nor the user's global one, so that what is published
//! does not depend on where the directory happens to live), and never anything under `.git/`,
//! `.allmenning/`, or, by default, `target/` and `node_modules/`.

use ignore::WalkBuilder;
use std::path::{Path, PathBuf};

/// Directories that are never part of an artefact.
pub const ALWAYS_EXCLUDED: [&str; 2] = [".git", ".allmenning"];
/// Build output directories left out unless asked for.
pub const DEFAULT_EXCLUDED: [&str; 2] = ["target", "node_modules"];

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot walk {path}: {message}")]
    Walk { path: PathBuf, message: String },
    #[error("{path} is not valid UTF-8, so it cannot be named in an artefact")]
    NotUtf8 { path: PathBuf },
}

/// One file found by [`walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkedFile {
    /// Relative to the root, '/'-separated.
    pub path: String,
    pub abs: PathBuf,
    pub size: u64,
    pub executable: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct WalkOptions {
    /// Leave out `target/` and `node_modules/` (`.git/` and `.allmenning/` are always left out).
    pub default_excludes: bool,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            default_excludes: true,
        }
    }
}

/// Every file under `root` (a directory) that belongs to an artefact, sorted by path.
/// Symbolic links are skipped: an artefact holds plain files only.
pub fn walk(root: &Path, options: WalkOptions) -> Result<Vec<WalkedFile>, WalkError> {
    let default_excludes = options.default_excludes;
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if !is_dir {
                return true;
            }
            let name = entry.file_name().to_string_lossy();
            // In any letter case: on Windows and macOS `.GIT` is the git directory.
            !(ALWAYS_EXCLUDED
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&name))
                || (default_excludes && DEFAULT_EXCLUDED.contains(&name.as_ref())))
        });
    let mut files = Vec::new();
    for entry in builder.build() {
        let entry = entry.map_err(|e| WalkError::Walk {
            path: root.to_path_buf(),
            message: e.to_string(),
        })?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let abs = entry.path().to_path_buf();
        let rel = abs.strip_prefix(root).map_err(|_| WalkError::Walk {
            path: abs.clone(),
            message: "file outside the walked directory".into(),
        })?;
        let path =
            relative_to_slash(rel).ok_or_else(|| WalkError::NotUtf8 { path: abs.clone() })?;
        let meta = entry.metadata().map_err(|e| WalkError::Walk {
            path: abs.clone(),
            message: e.to_string(),
        })?;
        files.push(WalkedFile {
            path,
            size: meta.len(),
            executable: is_executable(&meta),
            abs,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// `a/b/c` from a relative path, or `None` when a component is not UTF-8.
pub fn relative_to_slash(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in rel.components() {
        parts.push(component.as_os_str().to_str()?);
    }
    Some(parts.join("/"))
}

#[cfg(unix)]
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
pub fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Sets or clears the executable bits (user, group, other as far as they are readable).
#[cfg(unix)]
pub fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    let mode = meta.permissions().mode();
    let new_mode = if executable {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    };
    if new_mode != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(new_mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn set_executable(_path: &Path, _executable: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walks_hidden_files_honours_gitignore_and_skips_excluded_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, content) in [
            ("README.md", "hei"),
            (".env.example", "A=1"),
            ("src/lib.rs", "fn x() {}"),
            (".gitignore", "*.log\n"),
            ("debug.log", "noise"),
            (".git/config", "[core]"),
            ("target/debug/x", "bin"),
            ("web/node_modules/a/index.js", "x"),
            (".allmenning/checkout.json", "{}"),
        ] {
            let p = root.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        let names: Vec<String> = walk(root, WalkOptions::default())
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(
            names,
            [".env.example", ".gitignore", "README.md", "src/lib.rs"]
        );

        let all: Vec<String> = walk(
            root,
            WalkOptions {
                default_excludes: false,
            },
        )
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
        assert!(all.contains(&"target/debug/x".to_string()));
        assert!(all.contains(&"web/node_modules/a/index.js".to_string()));
        assert!(!all
            .iter()
            .any(|p| p.starts_with(".git/") || p.starts_with(".allmenning/")));
    }
}
