//! Escaped, bounded previews of bytes, as Python's `repr(bytes)` prints them.

/// How many bytes a `--trace` preview shows before it is cut.
pub const PREVIEW_LIMIT: usize = 64;

/// Renders `data` like Python's `repr(b'...')`, showing at most `limit` bytes
/// and saying how many more there were.
pub fn escape_bytes(data: &[u8], limit: usize) -> String {
    let shown = &data[..data.len().min(limit)];
    // Python switches to double quotes when that avoids escaping a quote.
    let quote = if shown.contains(&b'\'') && !shown.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(shown.len() + 3);
    out.push('b');
    out.push(quote as char);
    for &b in shown {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    if data.len() > shown.len() {
        out.push_str(&format!("... (+{} bytes)", data.len() - shown.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_repr() {
        assert_eq!(escape_bytes(b"Hello, world", 64), "b'Hello, world'");
        assert_eq!(escape_bytes(b"it's", 64), "b\"it's\"");
        assert_eq!(escape_bytes(b"'\"", 64), "b'\\'\"'");
        assert_eq!(escape_bytes(b"\x00\xff\n\\", 64), "b'\\x00\\xff\\n\\\\'");
    }

    #[test]
    fn cuts_at_the_limit() {
        assert_eq!(escape_bytes(b"abcdef", 4), "b'abcd'... (+2 bytes)");
    }
}
