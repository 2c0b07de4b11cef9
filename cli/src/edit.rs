//! `fnshield suggest --config existing.toml`: add the missing allowances to the user's file,
//! keeping its comments and layout, and print the change as a unified diff.

use crate::suggest::{comment, Allowance, Suggestion};
use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// Why the existing file could not be edited.
#[derive(Debug)]
pub struct EditError(pub String);

fn table<'a>(doc: &'a mut DocumentMut, key: &str) -> Result<&'a mut Table, EditError> {
    let item = doc.entry(key).or_insert_with(|| Item::Table(Table::new()));
    item.as_table_mut().ok_or_else(|| {
        EditError(format!(
            "`{key}` is not a table; write it as a [{key}] section to use --config"
        ))
    })
}

fn add(t: &mut Table, section: &str, key: &str, items: &[Allowance]) -> Result<(), EditError> {
    if items.is_empty() {
        return Ok(());
    }
    let item = t
        .entry(key)
        .or_insert_with(|| Item::Value(Value::Array(Array::new())));
    let arr = item
        .as_array_mut()
        .ok_or_else(|| EditError(format!("`{section}.{key}` is not a list of strings")))?;
    // One item per line, so that each can carry its comment: an inline list is laid out again
    // (its values unchanged).
    for v in arr.iter_mut() {
        let inline = v
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .is_none_or(|p| !p.contains('\n'));
        if inline {
            v.decor_mut().set_prefix("\n    ");
        }
    }
    for a in items {
        let mut v = Value::from(a.value.as_str());
        v.decor_mut()
            .set_prefix(format!("\n    # {}\n    ", comment(&a.comment)));
        arr.push_formatted(v);
    }
    arr.set_trailing("\n");
    arr.set_trailing_comma(true);
    Ok(())
}

/// The existing file with the suggestion's allowances added.
///
/// # Errors
/// The file is not TOML, or a section or list has another shape.
pub fn apply(existing: &str, s: &Suggestion) -> Result<String, EditError> {
    let mut doc: DocumentMut = existing
        .parse()
        .map_err(|e| EditError(format!("not TOML: {e}")))?;
    if !s.outbound.is_empty() {
        let t = table(&mut doc, "outbound_connectivity")?;
        add(t, "outbound_connectivity", "allow", &s.outbound)?;
    }
    if !s.tmp_read.is_empty() || !s.tmp_write.is_empty() {
        let t = table(&mut doc, "read_write_tmp")?;
        if t.contains_key("allow")
            && !t.contains_key("allow_read")
            && !t.contains_key("allow_write")
        {
            // `allow` sets both lists; adding `allow_read` beside it would replace one of them.
            let mut both: Vec<Allowance> = s.tmp_read.clone();
            for w in &s.tmp_write {
                if !both.iter().any(|b| b.value == w.value) {
                    both.push(w.clone());
                }
            }
            add(t, "read_write_tmp", "allow", &both)?;
        } else {
            add(t, "read_write_tmp", "allow_read", &s.tmp_read)?;
            add(t, "read_write_tmp", "allow_write", &s.tmp_write)?;
        }
    }
    if !s.exec.is_empty() {
        let t = table(&mut doc, "create_child_process")?;
        add(t, "create_child_process", "allow", &s.exec)?;
    }
    let mut out = doc.to_string();
    if !s.warnings.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        for w in &s.warnings {
            out.push_str(&format!("# fnshield suggest WARNING: {}\n", comment(w)));
        }
    }
    Ok(out)
}

/// A unified diff from `old` to `new`, both named `name`.
pub fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string()
}
