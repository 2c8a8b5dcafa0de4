//! The lucky-number reply, byte for byte as the texts' TestServer.py builds it:
//!
//! ```text
//! 'Here\'s your lucky number:{}'.format(random.random())
//! b"Here's your lucky number:0.3872235270764811"     no space after the colon;
//! b"Here's your lucky number:1.52587890625e-05"      X as Python's repr writes it
//! ```

/// Everything before the number.
pub const PREFIX: &str = "Here's your lucky number:";

/// Appends the reply carrying `number` to `out`.
pub fn write_reply(out: &mut Vec<u8>, number: f64) {
    out.extend_from_slice(PREFIX.as_bytes());
    out.extend_from_slice(python_repr(number).as_bytes());
}

/// The number in a reply that TestServer.py could have sent: the prefix, then
/// a float in [0, 1) written exactly as Python writes it, or `None`.
pub fn parse_reply(reply: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(reply.strip_prefix(PREFIX.as_bytes())?).ok()?;
    let number: f64 = text.parse().ok()?;
    ((0.0..1.0).contains(&number) && python_repr(number) == text).then_some(number)
}

/// `repr(x)` as Python 3 writes a float: the shortest digits that read back
/// as `x` (Rust's too), in positional form for exponents -4 to 15 with at
/// least one digit after the point, else as `1.5e-05` (two exponent digits
/// at least, the sign always).
pub fn python_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let scientific = format!("{x:e}");
    // `{:e}` always writes an exponent, so the split cannot fail.
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes an integer exponent");
    if x != 0.0 && !(-4..16).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let mut text = x.to_string();
    if !text.contains('.') {
        text.push_str(".0");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_python_writes_them() {
        for (x, python) in [
            (0.3872235270764811, "0.3872235270764811"),
            (0.0, "0.0"),
            (0.5, "0.5"),
            (1.0, "1.0"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-05, "1e-05"),
            (1.52587890625e-05, "1.52587890625e-05"),
            (9.5367431640625e-07, "9.5367431640625e-07"),
            (5e-324, "5e-324"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (-0.25, "-0.25"),
            (-1e-7, "-1e-07"),
        ] {
            assert_eq!(python_repr(x), python, "{x:e}");
        }
    }

    #[test]
    fn replies_are_the_texts_bytes() {
        let mut out = Vec::new();
        write_reply(&mut out, 0.3872235270764811);
        assert_eq!(out, b"Here's your lucky number:0.3872235270764811");
        assert_eq!(parse_reply(&out), Some(0.3872235270764811));
        assert_eq!(
            parse_reply(b"Here's your lucky number:1.52587890625e-05"),
            Some(1.52587890625e-05)
        );
        for bad in [
            &b"Here's your lucky number: 0.25"[..],
            b"Here's your lucky number:0.250",
            b"Here's your lucky number:0.0000152587890625",
            b"Here's your lucky number:1.5",
            b"Here's your lucky number:soon",
            b"Here's your lucky number:0.25\n",
            b"hello",
        ] {
            assert_eq!(parse_reply(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
