//! The bounded queue between the dataflow and the broker: the dataflow never waits for the
//! network; when the queue is full the oldest state goes (a newer one of the room follows),
//! and every drop is counted.

use std::collections::{BTreeSet, VecDeque};

/// What a queued message is (what may be dropped first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A room state: superseded by the next one, dropped first.
    State,
    /// An event: dropped only when the queue holds nothing but events.
    Event,
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What it is.
    pub kind: Kind,
    /// The topic.
    pub topic: String,
    /// The payload.
    pub payload: String,
    /// Published retained.
    pub retain: bool,
}

/// Counts of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    /// States dropped because the queue was full.
    pub states: u64,
    /// Events dropped because the queue was full of events.
    pub events: u64,
}

/// The queue, and the rooms whose discovery configs the publisher owes the broker.
#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    queue: VecDeque<Message>,
    rooms: BTreeSet<String>,
    drops: Drops,
}

impl Outbox {
    /// A queue of at most `capacity` messages (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            queue: VecDeque::new(),
            rooms: BTreeSet::new(),
            drops: Drops::default(),
        }
    }

    /// Queues `message`, dropping the oldest state when full (else, for an event in a queue of
    /// events, the oldest event; a state arriving at a queue of events is itself dropped).
    pub fn push(&mut self, message: Message) {
        if self.queue.len() >= self.capacity {
            if let Some(i) = self.queue.iter().position(|m| m.kind == Kind::State) {
                self.queue.remove(i);
                self.drops.states += 1;
            } else if message.kind == Kind::State {
                self.drops.states += 1;
                return;
            } else {
                self.queue.pop_front();
                self.drops.events += 1;
            }
        }
        self.queue.push_back(message);
    }

    /// The oldest message.
    pub fn pop(&mut self) -> Option<Message> {
        self.queue.pop_front()
    }

    /// Puts back a message the client could not take yet (it stays the oldest).
    pub fn unpop(&mut self, message: Message) {
        self.queue.push_front(message);
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Notes a room (its discovery configs are due); true when it is new.
    pub fn add_room(&mut self, room: &str) -> bool {
        self.rooms.insert(room.to_owned())
    }

    /// The rooms seen so far.
    pub fn rooms(&self) -> Vec<String> {
        self.rooms.iter().cloned().collect()
    }

    /// What was dropped.
    pub fn drops(&self) -> Drops {
        self.drops
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(kind: Kind, n: u32) -> Message {
        Message {
            kind,
            topic: format!("t/{n}"),
            payload: n.to_string(),
            retain: false,
        }
    }

    #[test]
    fn full_queue_drops_the_oldest_state_and_counts() {
        let mut o = Outbox::new(3);
        o.push(m(Kind::State, 1));
        o.push(m(Kind::Event, 2));
        o.push(m(Kind::State, 3));
        o.push(m(Kind::State, 4));
        assert_eq!(
            o.drops(),
            Drops {
                states: 1,
                events: 0
            }
        );
        let left: Vec<String> = std::iter::from_fn(|| o.pop()).map(|m| m.payload).collect();
        assert_eq!(left, ["2", "3", "4"]);
        // A queue of events: a state is dropped, an event pushes out the oldest event.
        let mut o = Outbox::new(2);
        o.push(m(Kind::Event, 1));
        o.push(m(Kind::Event, 2));
        o.push(m(Kind::State, 3));
        o.push(m(Kind::Event, 4));
        assert_eq!(
            o.drops(),
            Drops {
                states: 1,
                events: 1
            }
        );
        let first = o.pop().unwrap();
        assert_eq!(first.payload, "2");
        o.unpop(first);
        assert_eq!(o.len(), 2);
        assert_eq!(o.pop().unwrap().payload, "2");
        assert!(o.add_room("lab"));
        assert!(!o.add_room("lab"));
        assert_eq!(o.rooms(), ["lab"]);
    }
}
