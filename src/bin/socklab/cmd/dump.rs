//! The relay stage of `connect` and `listen`: writes each chunk on, and
//! with `--hex` dumps it on stderr first.

use bytes::Bytes;
use tokio::time::Instant;

use socklab::relay::{Stage, Step, hex};

/// One direction's `--hex` dump (off: a plain pass-through).
#[derive(Debug, Clone, Copy)]
pub struct Dump {
    mark: char,
    offset: u64,
    on: bool,
}

impl Dump {
    /// What we send (`>`), dumped when `on`.
    pub fn sent(on: bool) -> Dump {
        Dump {
            mark: '>',
            offset: 0,
            on,
        }
    }

    /// What we receive (`<`), dumped when `on`.
    pub fn received(on: bool) -> Dump {
        Dump {
            mark: '<',
            offset: 0,
            on,
        }
    }

    /// Dumps `data` if on, and counts it.
    pub fn show(&mut self, data: &[u8]) {
        if self.on {
            eprint!("{}", hex::dump(self.mark, self.offset, data));
        }
        self.offset += data.len() as u64;
    }
}

impl Stage for Dump {
    fn chunk(&mut self, data: Bytes, _arrived: Instant, steps: &mut Vec<Step>) {
        self.show(&data);
        steps.push(Step::Write(data));
    }
}
