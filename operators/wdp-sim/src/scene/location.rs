//! Where a field is in the YAML text, for error messages: the line of a dotted field path and
//! the line of an unknown key inside a block. Best effort on block-style YAML, following
//! indentation and list markers rather than parsing again.

/// 1-based line of `key:` anywhere inside the block of `path` (or the whole text for an empty
/// or unknown path).
pub(super) fn locate_key_within(text: &str, path: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = if path.is_empty() || path.contains(' ') {
        0
    } else {
        locate_field(text, path).map(|l| l - 1).unwrap_or(0)
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = lines.get(start).map(|l| indent(l)).unwrap_or(0);
    let pattern = format!("{key}:");
    for (i, l) in lines.iter().enumerate().skip(start) {
        if i > start
            && !l.trim().is_empty()
            && indent(l) <= base
            && !l.trim_start().starts_with('#')
        {
            // a sibling item (`- `) at the same indentation ends the block
            if indent(l) < base || l.trim_start().starts_with("- ") {
                break;
            }
        }
        let t = l.trim_start().trim_start_matches("- ");
        if t.starts_with(&pattern)
            || l.contains(&format!("{{ {pattern}"))
            || l.contains(&format!(", {pattern}"))
        {
            return Some(i + 1);
        }
    }
    None
}

/// Best-effort 1-based line of a dotted field path (`people[1].motion.speed_mps`) in block-style
/// YAML: follows keys by indentation and list items by their `- ` markers.
pub(super) fn locate_field(text: &str, field: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    // (first line, last line exclusive, minimum indentation) of the current block
    let (mut start, mut end, mut min_indent) = (0usize, lines.len(), 0usize);
    let mut found = None;
    for seg in field.split('.') {
        let (key, index) = match seg.find('[') {
            Some(b) => (
                &seg[..b],
                seg[b + 1..].trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (seg, None),
        };
        // find `key:` at the shallowest indentation of the block
        let mut hit = None;
        for (i, l) in lines.iter().enumerate().take(end).skip(start) {
            let t = l.trim_start().trim_start_matches("- ");
            if indent(l) >= min_indent && (t.starts_with(&format!("{key}:"))) {
                hit = Some(i);
                break;
            }
        }
        let i = hit?;
        found = Some(i + 1);
        // an inline value (`key: { ... }`, `key: [..]`) holds the rest of the path on this line
        let rest = lines[i]
            .split_once(':')
            .map(|(_, r)| r.trim())
            .unwrap_or("");
        if !rest.is_empty() && !rest.starts_with('#') {
            return found;
        }
        let key_indent = indent(lines[i]);
        let block_end = (i + 1..end)
            .find(|&j| {
                let l = lines[j];
                !l.trim().is_empty() && !l.trim_start().starts_with('#') && indent(l) <= key_indent
            })
            .unwrap_or(end);
        start = i + 1;
        end = block_end;
        min_indent = key_indent + 1;
        if let Some(n) = index {
            // the n-th `- ` item inside the block; flow lists stay on the key line
            let items: Vec<usize> = (start..end)
                .filter(|&j| lines[j].trim_start().starts_with("- ") || lines[j].trim() == "-")
                .collect();
            let item_indent = items.first().map(|&j| indent(lines[j]));
            let items: Vec<usize> = items
                .into_iter()
                .filter(|&j| Some(indent(lines[j])) == item_indent)
                .collect();
            if let Some(&j) = items.get(n) {
                found = Some(j + 1);
                let next = items.get(n + 1).copied().unwrap_or(end);
                start = j;
                end = next;
                min_indent = indent(lines[j]);
            }
        }
    }
    found
}
