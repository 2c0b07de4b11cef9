//! Sets of paths below the root as a trie of names, walked one directory at a time.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The keep-list as a trie of names. Node 0 is the root.
#[derive(Debug)]
pub(super) struct KeepTrie {
    nodes: Vec<KeepNode>,
}

#[derive(Debug)]
struct KeepNode {
    name: Box<[u8]>,
    children: Vec<u32>,
    whole: bool,
    /// In the created-trie: the new name of a rename (the whole subtree is the function's).
    deep: bool,
}

impl KeepTrie {
    pub(super) fn new(paths: &[PathBuf]) -> Self {
        let mut trie = Self {
            nodes: vec![KeepNode {
                name: Box::default(),
                children: Vec::new(),
                whole: false,
                deep: false,
            }],
        };
        for path in paths {
            let at = trie.insert(path);
            trie.nodes[at].whole = true;
        }
        trie
    }

    /// Adds `path` (relative) as a whole entry.
    pub(super) fn insert_whole(&mut self, path: &Path) {
        let at = self.insert(path);
        self.nodes[at].whole = true;
    }

    /// Adds `path` (relative) as a whole entry whose subtree is whole too (see
    /// [`Self::is_deep`]).
    pub(super) fn insert_deep(&mut self, path: &Path) {
        let at = self.insert(path);
        self.nodes[at].whole = true;
        self.nodes[at].deep = true;
    }

    /// Whether `node` was added with [`Self::insert_deep`].
    pub(super) fn is_deep(&self, node: u32) -> bool {
        self.nodes.get(node as usize).is_some_and(|n| n.deep)
    }

    /// The node of `path`, created with its ancestors as needed.
    fn insert(&mut self, path: &Path) -> usize {
        let nodes = &mut self.nodes;
        {
            let mut at = 0usize;
            for c in path.components() {
                let Component::Normal(name) = c else { continue };
                let name = name.as_bytes();
                let existing = nodes[at]
                    .children
                    .iter()
                    .copied()
                    .find(|&i| &*nodes[i as usize].name == name);
                at = match existing {
                    Some(i) => i as usize,
                    None => {
                        let i = nodes.len();
                        nodes.push(KeepNode {
                            name: name.into(),
                            children: Vec::new(),
                            whole: false,
                            deep: false,
                        });
                        nodes[at].children.push(i as u32);
                        i
                    }
                };
            }
            at
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// The child of `node` called `name`, and whether it is kept whole.
    pub(super) fn child(&self, node: u32, name: &[u8]) -> Option<(u32, bool)> {
        let n = self.nodes.get(node as usize)?;
        n.children.iter().copied().find_map(|i| {
            let c = self.nodes.get(i as usize)?;
            (&*c.name == name).then_some((i, c.whole))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_trie_marks_whole_and_ancestor_nodes() {
        let trie = KeepTrie::new(&[
            PathBuf::from("a/b"),
            PathBuf::from("a/c/d"),
            PathBuf::from("e"),
        ]);
        let (a, whole) = trie.child(0, b"a").unwrap();
        assert!(!whole);
        assert_eq!(trie.child(a, b"b").map(|(_, w)| w), Some(true));
        let (c, whole) = trie.child(a, b"c").unwrap();
        assert!(!whole);
        assert_eq!(trie.child(c, b"d").map(|(_, w)| w), Some(true));
        assert_eq!(trie.child(0, b"e").map(|(_, w)| w), Some(true));
        assert_eq!(trie.child(0, b"x"), None);
        assert!(KeepTrie::new(&[]).is_empty());
    }
}
