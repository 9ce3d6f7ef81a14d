//! The key expressions the node publishes on, and the room frame's name.
//!
//! Every key is `<prefix>/<site>/<room>/...`: a robot subscribes to one room
//! (`wdp/home/kitchen/**`), one kind across the building (`wdp/home/*/state`), or everything
//! (`wdp/**`). Room names come from the messages, so they are made safe as one key chunk.

use eyre::{eyre, Result};
use zenoh::key_expr::KeyExpr;

/// The keys of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `<prefix>/<site>`, checked as a key expression without wildcards.
    base: String,
}

impl Keys {
    /// Keys under `<prefix>/<site>`. Each may hold several chunks (`wdp/eu`), no wildcard.
    pub fn new(prefix: &str, site: &str) -> Result<Self> {
        let base = format!("{prefix}/{site}");
        let key = KeyExpr::try_from(base.as_str())
            .map_err(|e| eyre!("KEY_PREFIX/SITE `{base}` is not a key expression: {e}"))?;
        if key.is_wild() || base.contains("//") || base.starts_with('/') || base.ends_with('/') {
            return Err(eyre!(
                "KEY_PREFIX/SITE `{base}`: a plain key (no `*`, `**`, `$*` or empty chunk)"
            ));
        }
        Ok(Self { base })
    }

    /// Everything this node publishes: `<prefix>/<site>/**`.
    pub fn all(&self) -> String {
        format!("{}/**", self.base)
    }

    /// The room's state (JSON).
    pub fn state(&self, room: &str) -> String {
        format!("{}/{}/state", self.base, chunk(room))
    }

    /// The room's events (JSON).
    pub fn event(&self, room: &str) -> String {
        format!("{}/{}/event", self.base, chunk(room))
    }

    /// One tracked person of the room (JSON; deleted when the track ends).
    pub fn person(&self, room: &str, track_id: u64) -> String {
        format!("{}/{}/people/{track_id}", self.base, chunk(room))
    }

    /// The room's pose frames as JSON.
    pub fn pose(&self, room: &str) -> String {
        format!("{}/{}/pose", self.base, chunk(room))
    }

    /// The room's pose frames as Arrow IPC.
    pub fn pose_arrow(&self, room: &str) -> String {
        format!("{}/{}/pose/arrow", self.base, chunk(room))
    }

    /// The liveliness token a subscriber watches to know the publisher is up.
    pub fn alive(&self) -> String {
        format!("{}/publisher", self.base)
    }
}

/// A room name as one key chunk: letters, digits, `-`, `_` and `.` kept, anything else
/// (`/`, `*`, `$`, `?`, `#`, spaces) as `_`; `default` when empty.
pub fn chunk(room: &str) -> String {
    if room.is_empty() {
        return "default".to_owned();
    }
    room.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name of the room's frame (the `frame_id` of its positions): `prefix` and the room as a
/// ROS name token in lower case, as ROS names its frames.
pub fn frame_id(prefix: &str, room: &str) -> String {
    format!("{prefix}{}", crate::ros2::token(room).to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_are_stable_and_rooms_cannot_break_them() {
        let k = Keys::new("wdp", "home").unwrap();
        assert_eq!(k.state("living-room"), "wdp/home/living-room/state");
        assert_eq!(k.person("kitchen", 7), "wdp/home/kitchen/people/7");
        assert_eq!(k.pose_arrow("lab"), "wdp/home/lab/pose/arrow");
        assert_eq!(k.all(), "wdp/home/**");
        // A room name with key syntax in it stays one plain chunk.
        for room in ["a/b", "**", "$*x", "r?1#", "", "two words"] {
            let key = k.state(room);
            let parsed = KeyExpr::try_from(key.as_str()).unwrap();
            assert!(!parsed.is_wild(), "{key}");
            assert_eq!(key.matches('/').count(), 3, "{key}");
        }
        assert_eq!(chunk(""), "default");
        assert!(Keys::new("wdp/eu", "site-1").is_ok());
        for (prefix, site) in [("wdp", "*"), ("wdp", ""), ("", "home"), ("wdp/**", "x")] {
            assert!(Keys::new(prefix, site).is_err(), "{prefix}/{site}");
        }
    }

    #[test]
    fn frame_ids_follow_ros_names() {
        assert_eq!(frame_id("", "Living Room-2"), "living_room_2");
        assert_eq!(frame_id("wdp_", ""), "wdp_default");
    }
}
