//! Who is in the room and what they are called: ids, addresses and unique
//! nicknames. A member without a nickname goes by its address, `IP PORT`,
//! as the texts' ChatServer shows every sender.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// Longest nickname, in characters.
pub const MAX_NICK: usize = 32;

/// A member's handle on the room, returned by [`super::Hub::join`].
pub type MemberId = u64;

/// Why a nickname was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NickError {
    /// Someone else has it.
    #[error("nickname {0} is taken")]
    Taken(String),
    /// Empty, too long, or with spaces or control characters.
    #[error(
        "invalid nickname {0:?}: 1 to {MAX_NICK} characters, no spaces, not starting with * or /"
    )]
    Invalid(String),
}

/// One member.
pub(super) struct Member {
    pub(super) id: MemberId,
    pub(super) addr: SocketAddr,
    nick: Option<String>,
}

impl Member {
    /// What the room calls it.
    pub(super) fn name(&self) -> String {
        match &self.nick {
            Some(nick) => nick.clone(),
            None => self.address_name(),
        }
    }

    /// What it is called without a nickname.
    fn address_name(&self) -> String {
        format!("{} {}", self.addr.ip(), self.addr.port())
    }
}

/// The members of one room, with their nicknames kept unique.
#[derive(Default)]
pub(super) struct Members {
    by_id: HashMap<MemberId, Member>,
    nicks: HashSet<String>,
    next_id: MemberId,
}

impl Members {
    /// Adds a member connected from `addr`.
    pub(super) fn add(&mut self, addr: SocketAddr) -> (MemberId, &Member) {
        let id = self.next_id;
        self.next_id += 1;
        let member = self.by_id.entry(id).or_insert(Member {
            id,
            addr,
            nick: None,
        });
        (id, member)
    }

    /// Removes a member and frees its nickname.
    pub(super) fn remove(&mut self, id: MemberId) -> Option<Member> {
        let member = self.by_id.remove(&id)?;
        if let Some(nick) = &member.nick {
            self.nicks.remove(nick);
        }
        Some(member)
    }

    /// A member still in the room.
    pub(super) fn get(&self, id: MemberId) -> Option<&Member> {
        self.by_id.get(&id)
    }

    /// Whether `id` may take the nickname `nick`: returns the name it has,
    /// or `None` when it is no longer in the room.
    pub(super) fn check(&self, id: MemberId, nick: &str) -> Result<Option<String>, NickError> {
        if !valid_nick(nick) {
            return Err(NickError::Invalid(nick.to_string()));
        }
        if self.nicks.contains(nick) {
            return Err(NickError::Taken(nick.to_string()));
        }
        Ok(self.by_id.get(&id).map(Member::name))
    }

    /// Gives `id` the nickname `nick`; returns the name it had, or `None`
    /// when it is no longer in the room.
    pub(super) fn rename(&mut self, id: MemberId, nick: &str) -> Result<Option<String>, NickError> {
        self.check(id, nick)?;
        let Some(member) = self.by_id.get_mut(&id) else {
            return Ok(None);
        };
        let old = member.name();
        if let Some(previous) = member.nick.replace(nick.to_string()) {
            self.nicks.remove(&previous);
        }
        self.nicks.insert(nick.to_string());
        Ok(Some(old))
    }

    /// Takes `id`'s nickname away: it goes by its address again.
    pub(super) fn forget_nick(&mut self, id: MemberId) {
        if let Some(nick) = self
            .by_id
            .get_mut(&id)
            .and_then(|member| member.nick.take())
        {
            self.nicks.remove(&nick);
        }
    }

    /// Every member's id, name, and the name it has without a nickname.
    pub(super) fn roster(&self) -> Vec<(MemberId, String, String)> {
        self.by_id
            .iter()
            .map(|(id, member)| (*id, member.name(), member.address_name()))
            .collect()
    }

    /// Everyone's name, sorted.
    pub(super) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_id.values().map(Member::name).collect();
        names.sort();
        names
    }

    /// How many there are.
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// 1 to [`MAX_NICK`] characters, no spaces or control characters, and not
/// starting like a notice (`*`) or a command (`/`).
fn valid_nick(nick: &str) -> bool {
    !nick.is_empty()
        && nick.chars().count() <= MAX_NICK
        && !nick.starts_with(['*', '/'])
        && !nick.chars().any(|c| c.is_whitespace() || c.is_control())
}
