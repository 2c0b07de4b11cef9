//! Lexical path normalisation and matching, shared by the policy loader (which normalises
//! configured paths) and the decision engine (which normalises every path it classifies).
//!
//! Allocation-free and async-signal-safe: the SIGSYS handler calls these.

/// Longest path the engine handles (Linux `PATH_MAX`). Longer paths are refused.
pub const PATH_MAX: usize = 4096;

/// How a path is being accessed. One place for its wire forms: the one-byte code in a ring
/// record ([`code`](Self::code)) and the name in an event's `details.access`
/// ([`name`](Self::name)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Access {
    /// Opening for reading, listing a directory.
    Read = 0,
    /// Opening for writing or creating; modifying metadata; creating, removing or renaming.
    Write = 1,
    /// Opening for reading and writing.
    ReadWrite = 2,
    /// stat, access, readlink: reveals metadata only. Counts as a read under the tmp root;
    /// `read_handler` does not cover it.
    Meta = 3,
}

impl Access {
    /// The one-byte code a ring record carries.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The access a record's code stands for; unknown codes read as [`Access::Meta`].
    pub const fn from_code(code: u8) -> Access {
        match code {
            0 => Access::Read,
            1 => Access::Write,
            2 => Access::ReadWrite,
            _ => Access::Meta,
        }
    }

    /// The name in an event's `details.access`: `read`, `write`, `read_write` or `metadata`.
    pub const fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "read_write",
            Access::Meta => "metadata",
        }
    }

    /// The access an event's `details.access` names; anything else reads as
    /// [`Access::Meta`], as the interceptors decide `stat`-like calls.
    pub fn from_name(name: &str) -> Access {
        match name {
            "read" => Access::Read,
            "write" => Access::Write,
            "read_write" => Access::ReadWrite,
            _ => Access::Meta,
        }
    }

    /// Whether this access writes (a tmp write policy decides it).
    pub const fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// Whether `p` is `root` or below it (component-wise; both normalised).
#[inline]
pub fn is_under(root: &[u8], p: &[u8]) -> bool {
    p.starts_with(root) && (p.len() == root.len() || p[root.len()] == b'/' || root == b"/")
}

/// Whether `pattern` covers `path`: `pattern` is a component-wise prefix of `path`, where a
/// `*` component matches any single component. Both are normalised absolute paths.
#[inline]
pub fn pattern_covers(pattern: &[u8], path: &[u8]) -> bool {
    let (mut i, mut j) = (0usize, 0usize);
    loop {
        while i < pattern.len() && pattern[i] == b'/' {
            i += 1;
        }
        while j < path.len() && path[j] == b'/' {
            j += 1;
        }
        if i == pattern.len() {
            return true;
        }
        if j == path.len() {
            return false;
        }
        let pe = pattern[i..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(pattern.len(), |p| i + p);
        let xe = path[j..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(path.len(), |p| j + p);
        let pc = &pattern[i..pe];
        if pc != b"*" && pc != &path[j..xe] {
            return false;
        }
        i = pe;
        j = xe;
    }
}

/// Lexically normalise an absolute path into `out`: collapse repeated `/`, drop `.`, resolve
/// `..` (never above `/`), drop a trailing `/`. Returns the length, or `None` for a relative
/// path, an empty path, an embedded NUL, or a result longer than `out`.
///
/// Allocation-free and async-signal-safe.
pub fn normalize(path: &[u8], out: &mut [u8]) -> Option<usize> {
    if path.first() != Some(&b'/') || out.is_empty() {
        return None;
    }
    let mut len = 0usize;
    let mut i = 0usize;
    while i < path.len() {
        // One component: path[i..e].
        while i < path.len() && path[i] == b'/' {
            i += 1;
        }
        let mut e = i;
        while e < path.len() && path[e] != b'/' {
            if path[e] == 0 {
                return None;
            }
            e += 1;
        }
        let c = &path[i..e];
        match c {
            b"" | b"." => {}
            b".." => {
                while len > 0 && out[len - 1] != b'/' {
                    len -= 1;
                }
                len = len.saturating_sub(1);
            }
            _ => {
                if len + 1 + c.len() > out.len() {
                    return None;
                }
                out[len] = b'/';
                out[len + 1..len + 1 + c.len()].copy_from_slice(c);
                len += 1 + c.len();
            }
        }
        i = e;
    }
    if len == 0 {
        out[0] = b'/';
        len = 1;
    }
    Some(len)
}

/// Whether `path` is already what [`normalize`] would produce: absolute, no empty, `.` or `..`
/// component, no trailing `/` (except `/` itself), no NUL.
pub(crate) fn is_normal(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    if path.len() == 1 {
        return true;
    }
    if path[path.len() - 1] == b'/' {
        return false;
    }
    let mut prev_slash = false;
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if b == 0 {
            return false;
        }
        if prev_slash {
            if b == b'/' {
                return false;
            }
            if b == b'.' {
                let next = path.get(i + 1).copied();
                if next.is_none() || next == Some(b'/') {
                    return false;
                }
                if next == Some(b'.') && matches!(path.get(i + 2), None | Some(b'/')) {
                    return false;
                }
            }
        }
        prev_slash = b == b'/';
        i += 1;
    }
    true
}

/// [`normalize`], then strip `/proc/self/root`, `/proc/thread-self/root` and `/proc/<pid>/root`
/// prefixes (each names `/` inside a Lambda sandbox) until none is left.
pub fn normalize_proc(path: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = if is_normal(path) && path.len() <= out.len() {
        // Already normal (the common case): one copy instead of component-wise rebuilding.
        out[..path.len()].copy_from_slice(path);
        path.len()
    } else {
        normalize(path, out)?
    };
    for _ in 0..8 {
        let Some(rest_at) = proc_root_prefix(&out[..n]) else {
            return Some(n);
        };
        if rest_at >= n {
            out[0] = b'/';
            n = 1;
        } else {
            out.copy_within(rest_at..n, 0);
            n -= rest_at;
        }
    }
    // Absurdly nested /proc/self/root chains: fail closed.
    None
}

/// If `p` starts with `/proc/<self|thread-self|digits>/root` (+ `/` or end), the offset of
/// the remainder.
fn proc_root_prefix(p: &[u8]) -> Option<usize> {
    let rest = p.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let who = &rest[..slash];
    let ok = who == b"self"
        || who == b"thread-self"
        || (!who.is_empty() && who.iter().all(u8::is_ascii_digit));
    if !ok {
        return None;
    }
    let after = &rest[slash..];
    let tail = after.strip_prefix(b"/root")?;
    if tail.is_empty() || tail[0] == b'/' {
        Some(p.len() - tail.len())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> Option<String> {
        let mut b = [0u8; PATH_MAX];
        normalize_proc(s.as_bytes(), &mut b).map(|n| String::from_utf8(b[..n].to_vec()).unwrap())
    }

    #[test]
    fn normalisation_table() {
        let cases = [
            ("/", Some("/")),
            ("//", Some("/")),
            ("/tmp/./a//b/", Some("/tmp/a/b")),
            ("/tmp/../var/task/x", Some("/var/task/x")),
            ("/../../etc", Some("/etc")),
            ("/tmp/a/..", Some("/tmp")),
            (
                "/proc/self/root/var/task/bootstrap",
                Some("/var/task/bootstrap"),
            ),
            ("/proc/thread-self/root/proc/self/root/tmp", Some("/tmp")),
            ("/proc/123/root", Some("/")),
            ("/proc/self/rootx/a", Some("/proc/self/rootx/a")),
            ("/proc/self/environ", Some("/proc/self/environ")),
            ("relative", None),
            ("", None),
        ];
        for (i, want) in cases {
            assert_eq!(norm(i).as_deref(), want, "{i}");
        }
    }

    /// The component-wise definition `pattern_covers` implements.
    fn covers_reference(pattern: &[u8], path: &[u8]) -> bool {
        let mut pc = pattern.split(|&b| b == b'/').filter(|c| !c.is_empty());
        let mut xc = path.split(|&b| b == b'/').filter(|c| !c.is_empty());
        loop {
            match (pc.next(), xc.next()) {
                (None, _) => return true,
                (Some(_), None) => return false,
                (Some(a), Some(b)) if a != b"*" && a != b => return false,
                _ => {}
            }
        }
    }

    proptest! {
        #[test]
        fn pattern_matching_matches_its_definition(
            pat in proptest::collection::vec("(proc|\\*|self|environ|task|1|)", 0..6),
            path in proptest::collection::vec("(proc|self|environ|task|1|2|mem|)", 0..7),
        ) {
            let (p, x) = (format!("/{}", pat.join("/")), format!("/{}", path.join("/")));
            prop_assert_eq!(pattern_covers(p.as_bytes(), x.as_bytes()), covers_reference(p.as_bytes(), x.as_bytes()), "{} {}", p, x);
        }

        #[test]
        fn the_fast_path_agrees_with_normalize(parts in proptest::collection::vec("(\\.\\.|\\.|\\.a|a\\.|\\.\\.\\.|tmp|x|)", 0..8), trailing in proptest::bool::ANY) {
            let p = format!("/{}{}", parts.join("/"), if trailing { "/" } else { "" });
            let mut b = [0u8; PATH_MAX];
            let n = normalize(p.as_bytes(), &mut b).unwrap();
            prop_assert_eq!(is_normal(p.as_bytes()), &b[..n] == p.as_bytes(), "{}", p);
        }

        #[test]
        fn normalisation_is_idempotent(parts in proptest::collection::vec("(\\.\\.|\\.|tmp|var|task|proc|self|root|a|b|)", 0..12)) {
            let p = format!("/{}", parts.join("/"));
            let mut b1 = [0u8; PATH_MAX];
            let mut b2 = [0u8; PATH_MAX];
            let n1 = normalize_proc(p.as_bytes(), &mut b1).unwrap();
            let n2 = normalize_proc(&b1[..n1], &mut b2).unwrap();
            prop_assert_eq!(&b1[..n1], &b2[..n2]);
            // Normalised paths contain no `.`/`..` components and no `//`.
            let s = &b1[..n1];
            prop_assert!(!s.windows(2).any(|w| w == b"//"));
            prop_assert!(!s.split(|&c| c == b'/').any(|c| c == b"." || c == b".."));
        }
    }
}
