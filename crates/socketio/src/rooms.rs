//! Rooms: named groups of sockets within a namespace, and the index of who is in which.

use std::collections::HashMap;
use std::sync::Arc;

use crate::id::{IdMap, IdSet, SocketId};

/// Which sockets an operation concerns: those in any of `rooms` (all if empty) and in none
/// of `except`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// Rooms to reach; empty means every socket of the namespace.
    pub rooms: Vec<String>,
    /// Rooms whose sockets are left out.
    pub except: Vec<String>,
}

impl Target {
    /// Whether a socket in `rooms` (its own room included) is one of the targets.
    pub fn includes(&self, rooms: &[String]) -> bool {
        let included = self.rooms.is_empty() || rooms.iter().any(|room| self.rooms.contains(room));
        included && !rooms.iter().any(|room| self.except.contains(room))
    }
}

/// One or several room names: `"room"`, `String`, `["a", "b"]`, `vec![…]`, `&[…]`.
pub trait IntoRooms {
    /// The room names.
    fn into_rooms(self) -> Vec<String>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<String> {
        vec![self]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<String> {
        vec![self.clone()]
    }
}

impl IntoRooms for SocketId {
    fn into_rooms(self) -> Vec<String> {
        vec![self.as_str().to_owned()]
    }
}

impl<T: AsRef<str>> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<String> {
        self.iter().map(|r| r.as_ref().to_owned()).collect()
    }
}

impl<T: AsRef<str>> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<String> {
        self.iter().map(|r| r.as_ref().to_owned()).collect()
    }
}

impl<T: AsRef<str>, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<String> {
        self.iter().map(|r| r.as_ref().to_owned()).collect()
    }
}

/// A change in the rooms of a namespace (Node's adapter events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomEvent {
    /// A room got its first socket.
    Create(String),
    /// A room lost its last socket.
    Delete(String),
    /// A socket joined a room.
    Join {
        /// The room.
        room: String,
        /// The socket.
        socket: SocketId,
    },
    /// A socket left a room.
    Leave {
        /// The room.
        room: String,
        /// The socket.
        socket: SocketId,
    },
}

/// The sockets of one namespace on this server (handles of type `S`), and their rooms.
pub(crate) struct RoomIndex<S> {
    pub(crate) sockets: IdMap<S>,
    rooms: HashMap<Arc<str>, Members>,
    socket_rooms: IdMap<Vec<Arc<str>>>,
}

impl<S> Default for RoomIndex<S> {
    fn default() -> Self {
        RoomIndex {
            sockets: IdMap::default(),
            rooms: HashMap::new(),
            socket_rooms: IdMap::default(),
        }
    }
}

impl<S> RoomIndex<S> {
    pub(crate) fn join(&mut self, id: SocketId, rooms: &[String], events: &mut Vec<RoomEvent>) {
        if !self.sockets.contains_key(&id) {
            return;
        }
        let joined = self.socket_rooms.entry(id).or_default();
        for room in rooms {
            if joined.iter().any(|r| **r == **room) {
                continue;
            }
            let name: Arc<str> = match self.rooms.get_key_value(room.as_str()) {
                Some((name, _)) => name.clone(),
                None => {
                    let name: Arc<str> = Arc::from(room.as_str());
                    self.rooms.insert(name.clone(), Members::default());
                    events.push(RoomEvent::Create(room.clone()));
                    name
                }
            };
            if self
                .rooms
                .get_mut(&name)
                .is_some_and(|members| members.insert(id))
            {
                if joined.capacity() == 0 {
                    // Most sockets are only in their own room: no room for three more.
                    joined.reserve_exact(1);
                }
                joined.push(name);
                events.push(RoomEvent::Join {
                    room: room.clone(),
                    socket: id,
                });
            }
        }
    }

    pub(crate) fn leave(&mut self, id: SocketId, room: &str, events: &mut Vec<RoomEvent>) {
        if let Some(joined) = self.socket_rooms.get_mut(&id) {
            joined.retain(|r| **r != *room);
        }
        self.leave_room(id, room, events);
    }

    fn leave_room(&mut self, id: SocketId, room: &str, events: &mut Vec<RoomEvent>) {
        let Some(members) = self.rooms.get_mut(room) else {
            return;
        };
        if members.remove(&id) {
            events.push(RoomEvent::Leave {
                room: room.to_owned(),
                socket: id,
            });
        }
        if members.is_empty() {
            self.rooms.remove(room);
            events.push(RoomEvent::Delete(room.to_owned()));
        }
    }

    /// Removes a socket and takes it out of all its rooms.
    pub(crate) fn remove(&mut self, id: SocketId, events: &mut Vec<RoomEvent>) {
        self.sockets.remove(&id);
        for room in self.socket_rooms.remove(&id).unwrap_or_default() {
            self.leave_room(id, &room, events);
        }
    }

    pub(crate) fn rooms_of(&self, id: SocketId) -> Vec<String> {
        self.socket_rooms
            .get(&id)
            .map(|rooms| rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn room_names(&self) -> Vec<String> {
        self.rooms.keys().map(|r| r.to_string()).collect()
    }

    pub(crate) fn members(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, Members::len)
    }

    /// Calls `f` with each socket in any of `rooms` (every socket if empty) and in none of
    /// `except`, once each.
    pub(crate) fn for_each(&self, rooms: &[String], except: &[String], mut f: impl FnMut(&S)) {
        let excluded: IdSet = except
            .iter()
            .filter_map(|room| self.rooms.get(room.as_str()))
            .flat_map(|members| members.iter().copied())
            .collect();
        let mut visit = |id: &SocketId| {
            if excluded.contains(id) {
                return;
            }
            if let Some(socket) = self.sockets.get(id) {
                f(socket);
            }
        };
        match rooms {
            [] if excluded.is_empty() => self.sockets.values().for_each(f),
            [] => self.sockets.keys().for_each(&mut visit),
            [room] => {
                if let Some(members) = self.rooms.get(room.as_str()) {
                    members.iter().for_each(&mut visit);
                }
            }
            _ => {
                let mut seen = IdSet::default();
                for room in rooms {
                    for id in self
                        .rooms
                        .get(room.as_str())
                        .into_iter()
                        .flat_map(Members::iter)
                    {
                        if seen.insert(*id) {
                            visit(id);
                        }
                    }
                }
            }
        }
    }
}

/// The members of one room. Every socket has a room of its own with itself alone in it,
/// so a single member is kept inline: a set for it took 100 bytes per connection
/// (valgrind's dhat, `bench/run.sh connect`).
#[derive(Debug)]
enum Members {
    One(SocketId),
    Many(IdSet),
}

impl Default for Members {
    fn default() -> Self {
        Members::Many(IdSet::default())
    }
}

impl Members {
    fn insert(&mut self, id: SocketId) -> bool {
        match self {
            Members::One(only) if *only == id => false,
            Members::One(only) => {
                let mut set = IdSet::default();
                set.insert(*only);
                set.insert(id);
                *self = Members::Many(set);
                true
            }
            Members::Many(set) if set.is_empty() => {
                *self = Members::One(id);
                true
            }
            Members::Many(set) => set.insert(id),
        }
    }

    fn remove(&mut self, id: &SocketId) -> bool {
        match self {
            Members::One(only) if only == id => {
                *self = Members::default();
                true
            }
            Members::One(_) => false,
            Members::Many(set) => set.remove(id),
        }
    }

    fn len(&self) -> usize {
        match self {
            Members::One(_) => 1,
            Members::Many(set) => set.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn iter(&self) -> impl Iterator<Item = &SocketId> {
        let (one, many) = match self {
            Members::One(id) => (Some(id), None),
            Members::Many(set) => (None, Some(set)),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_grow_from_one_and_shrink_to_none() {
        let (a, b) = (SocketId::random(), SocketId::random());
        let mut members = Members::default();
        assert!(members.is_empty());
        assert!(members.insert(a));
        assert!(matches!(members, Members::One(_)));
        assert!(!members.insert(a));
        assert!(members.insert(b));
        assert_eq!(members.len(), 2);
        let mut all: Vec<_> = members.iter().copied().collect();
        all.sort_by_key(|id| id.as_str().to_owned());
        let mut expected = vec![a, b];
        expected.sort_by_key(|id| id.as_str().to_owned());
        assert_eq!(all, expected);
        assert!(members.remove(&a));
        assert!(!members.remove(&a));
        assert!(members.remove(&b));
        assert!(members.is_empty());
        assert!(members.insert(b));
        assert!(!members.remove(&a));
        assert!(members.remove(&b));
        assert_eq!(members.iter().count(), 0);
    }
}
