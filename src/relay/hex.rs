//! The `--hex` dump of what crosses a relay, like ncat's `--hex-dump`:
//! a direction mark, the offset within that direction, 16 bytes in hex and
//! as text.
//!
//! ```text
//! > 00000000  48 65 6c 6c 6f 0a                                 |Hello.|
//! < 00000000  48 49 0a                                          |HI.|
//! ```

use std::fmt::Write;

/// Bytes shown per line.
pub const WIDTH: usize = 16;

/// The dump lines of `data`, which starts at `offset` in its direction;
/// `mark` is `>` for what we sent and `<` for what we received.
pub fn dump(mark: char, offset: u64, data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(WIDTH) * 80);
    for (i, line) in data.chunks(WIDTH).enumerate() {
        let at = offset + (i * WIDTH) as u64;
        // Writing to a String cannot fail.
        let _ = write!(out, "{mark} {at:08x} ");
        for column in 0..WIDTH {
            match line.get(column) {
                Some(byte) => {
                    let _ = write!(out, " {byte:02x}");
                }
                None => out.push_str("   "),
            }
            if column == 7 {
                out.push(' ');
            }
        }
        out.push_str("  |");
        out.extend(line.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_mark_offset_hex_and_text() {
        let text = dump('>', 16, b"Hello, world!\n\x00\xffabc");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "> 00000010  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 00 ff  |Hello, world!...|",
                "> 00000020  61 62 63                                          |abc|",
            ]
        );
        assert_eq!(dump('<', 0, b""), "");
    }
}
