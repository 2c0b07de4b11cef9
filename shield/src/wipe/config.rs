//! The wipe configuration: the root and the keep-list, validated.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// A configuration error: the root or a keep path is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WipeError {
    /// The root is a relative path.
    #[error("wipe root `{0}` is relative; give an absolute path such as `/tmp`")]
    RootNotAbsolute(PathBuf),
    /// The root is `/`.
    #[error("refusing to wipe `/`; give the directory to wipe, such as `/tmp`")]
    RootIsFilesystemRoot,
    /// The root contains a `..` component, which cannot be resolved without following symlinks.
    #[error("wipe root `{0}` contains `..`; give the path without `..` components")]
    RootHasParentComponent(PathBuf),
    /// A keep path lies outside the root.
    #[error("keep path `{keep}` is outside the wipe root `{root}`; give a path under the root, or relative to it")]
    KeepOutsideRoot {
        /// The keep path as given.
        keep: PathBuf,
        /// The wipe root.
        root: PathBuf,
    },
    /// A keep path names the root itself.
    #[error(
        "keep path `{0}` is the wipe root itself; to keep everything, disable the wipe instead"
    )]
    KeepIsRoot(PathBuf),
}

/// Where to wipe and what to keep. Validated on construction; see [`WipeConfig::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeConfig {
    root: PathBuf,
    keep: Vec<PathBuf>,
}

impl WipeConfig {
    /// A configuration that wipes everything under `root`.
    ///
    /// `root` must be absolute, must not be `/`, and must not contain `..`; `.` components and
    /// trailing slashes are dropped.
    ///
    /// # Errors
    ///
    /// [`WipeError::RootNotAbsolute`], [`WipeError::RootIsFilesystemRoot`] or
    /// [`WipeError::RootHasParentComponent`], naming the path.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, WipeError> {
        let given: PathBuf = root.into();
        if !given.is_absolute() {
            return Err(WipeError::RootNotAbsolute(given));
        }
        let mut root = PathBuf::from("/");
        for c in given.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => return Err(WipeError::RootHasParentComponent(given)),
                Component::Normal(n) => root.push(n),
            }
        }
        if root.as_os_str() == "/" {
            return Err(WipeError::RootIsFilesystemRoot);
        }
        Ok(Self {
            root,
            keep: Vec::new(),
        })
    }

    /// Also keeps `path`: an absolute path under the root, or a path relative to the root.
    ///
    /// The path is normalised lexically (`.` dropped, `..` removes the previous component);
    /// it must stay strictly under the root. A kept directory keeps its whole subtree; the
    /// directories leading to it are kept, but not their other contents.
    ///
    /// # Errors
    ///
    /// [`WipeError::KeepOutsideRoot`] when the normalised path leaves the root, and
    /// [`WipeError::KeepIsRoot`] when it is the root itself.
    pub fn keep(mut self, path: impl AsRef<Path>) -> Result<Self, WipeError> {
        let given = path.as_ref();
        let outside = || WipeError::KeepOutsideRoot {
            keep: given.to_path_buf(),
            root: self.root.clone(),
        };
        let absolute = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        let mut parts: Vec<&OsStr> = Vec::new();
        for c in absolute.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    parts.pop();
                }
                Component::Normal(n) => parts.push(n),
            }
        }
        let normalised: PathBuf = std::iter::once(OsStr::new("/")).chain(parts).collect();
        let relative = normalised
            .strip_prefix(&self.root)
            .map_err(|_| outside())?
            .to_path_buf();
        if relative.as_os_str().is_empty() {
            return Err(WipeError::KeepIsRoot(given.to_path_buf()));
        }
        if !self.keep.contains(&relative) {
            self.keep.push(relative);
        }
        Ok(self)
    }

    /// The root whose contents are wiped (normalised).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The kept paths, relative to the root and normalised, in the order given.
    pub fn kept_paths(&self) -> &[PathBuf] {
        &self.keep
    }
}
