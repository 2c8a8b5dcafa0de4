//! The check that every chat client saw the room's lines in one order: each
//! client folds the `(sender, seq)` of every line it receives, in arrival
//! order, into a running hash (memory stays constant however long the run);
//! at the end the hashes are compared.
//!
//! ```text
//! client digest   SipHash of (sender, seq), (sender, seq), ... as received
//! verdict         same       all digests equal
//!                 differ K   K clients' digests differ from the most common one
//! ```
//! Each sender's own order and the absence of duplicates are checked line by
//! line as the lines arrive (see `chat.rs`); this adds the order across
//! senders, which one client cannot check alone.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hasher};

/// One client's running hash of the lines it received, in order.
#[derive(Debug, Clone)]
pub struct Digest {
    hasher: DefaultHasher,
}

impl Default for Digest {
    fn default() -> Self {
        // `DefaultHasher::new()` uses fixed keys: equal sequences hash alike
        // in every client of the run.
        Self {
            hasher: DefaultHasher::new(),
        }
    }
}

impl Digest {
    /// Folds in line `seq` of `sender`.
    pub fn push(&mut self, sender: usize, seq: u64) {
        self.hasher.write_u64(sender as u64);
        self.hasher.write_u64(seq);
    }

    /// The hash of the sequence so far.
    pub fn value(&self) -> u64 {
        self.hasher.finish()
    }
}

/// Whether all clients saw the lines in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every client saw the same sequence.
    Same {
        /// Clients compared.
        clients: usize,
    },
    /// Some clients saw a sequence other than the most common one.
    Differ {
        /// Clients whose sequence differs from the most common one.
        disagree: usize,
        /// Clients compared.
        clients: usize,
    },
    /// The server does not send a client its own lines (ChatServer, ncat), so
    /// no two senders' sequences can be the same.
    NotApplicable,
}

impl Order {
    /// The verdict over every client's final digest.
    pub fn of(digests: &[u64]) -> Order {
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for &d in digests {
            *counts.entry(d).or_default() += 1;
        }
        let common = counts.values().copied().max().unwrap_or(0);
        let clients = digests.len();
        if common == clients {
            Order::Same { clients }
        } else {
            Order::Differ {
                disagree: clients - common,
                clients,
            }
        }
    }

    /// Whether the verdict fails the run.
    pub fn failed(&self) -> bool {
        matches!(self, Order::Differ { .. })
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Order::Same { clients } => write!(f, "same for all {clients} clients"),
            Order::Differ { disagree, clients } => write!(
                f,
                "{disagree} of {clients} clients saw a different order from the others"
            ),
            Order::NotApplicable => write!(
                f,
                "not applicable (the server does not send clients their own lines)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(lines: &[(usize, u64)]) -> u64 {
        let mut d = Digest::default();
        for &(s, q) in lines {
            d.push(s, q);
        }
        d.value()
    }

    #[test]
    fn a_swapped_pair_is_a_different_order() {
        let order = [(0, 0), (1, 0), (0, 1), (1, 1)];
        let swapped = [(0, 0), (0, 1), (1, 0), (1, 1)];
        let same = digest(&order);
        assert_eq!(digest(&order), same);
        assert_ne!(digest(&swapped), same);
        assert_eq!(Order::of(&[same, same, same]), Order::Same { clients: 3 });
        let verdict = Order::of(&[same, digest(&swapped), same]);
        assert_eq!(
            verdict,
            Order::Differ {
                disagree: 1,
                clients: 3
            }
        );
        assert!(verdict.failed());
        assert_eq!(
            verdict.to_string(),
            "1 of 3 clients saw a different order from the others"
        );
        assert_eq!(
            Order::Same { clients: 3 }.to_string(),
            "same for all 3 clients"
        );
    }

    #[test]
    fn pairs_do_not_run_into_each_other() {
        // (1, 23) then (4, 5) must not hash like (12, 3) then (45, ...).
        assert_ne!(digest(&[(1, 23), (4, 5)]), digest(&[(12, 3), (4, 5)]));
    }
}
