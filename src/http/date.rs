//! The `Date` header value, formatted at most once per second per thread.
//!
//! Every response carries a Date; formatting it per request would cost more
//! than the rest of the response. Each worker thread keeps the last rendering
//! and re-renders only when the Unix second changes (hyper does the same).

use std::cell::RefCell;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;

/// Length of an IMF-fixdate such as `Sun, 27 May 2018 01:01:01 GMT`.
pub const DATE_LEN: usize = 29;

struct Cached {
    second: u64,
    text: [u8; DATE_LEN],
}

thread_local! {
    static CACHED: RefCell<Cached> = const {
        RefCell::new(Cached { second: u64::MAX, text: [b' '; DATE_LEN] })
    };
}

/// Appends the current date as an HTTP date (`Sun, 27 May 2018 01:01:01 GMT`).
pub fn append(out: &mut BytesMut) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with_borrow_mut(|cached| {
        if cached.second != second {
            let text = httpdate::fmt_http_date(now);
            // httpdate always renders the fixed-length IMF-fixdate form.
            if text.len() == DATE_LEN {
                cached.text.copy_from_slice(text.as_bytes());
                cached.second = second;
            }
        }
        out.extend_from_slice(&cached.text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_parseable_current_date() {
        let mut out = BytesMut::new();
        append(&mut out);
        assert_eq!(out.len(), DATE_LEN);
        let text = std::str::from_utf8(&out).expect("ascii");
        let parsed = httpdate::parse_http_date(text).expect("valid HTTP date");
        let age = SystemTime::now()
            .duration_since(parsed)
            .expect("not in the future");
        assert!(age.as_secs() <= 2, "{text} is stale");
        // A second call within the same second reuses the cached bytes.
        let mut again = BytesMut::new();
        append(&mut again);
        assert_eq!(again.len(), DATE_LEN);
    }
}
