//! The building description: its rooms and which of them share doors.
//!
//! ```yaml
//! name: demo
//! rooms:
//!   - name: living-room
//!     scene: living-room     # the simulator's scene (generator only)
//!     host: room-host-1      # the machine capturing it (generator only)
//!   - name: kitchen
//! doors:
//!   - rooms: [living-room, kitchen]
//!     # Optional: where the door is in each room's floor frame (metres), so that only a
//!     # person who left near the door and appeared near it is handed over.
//!     at: { living-room: [4.8, 2.0], kitchen: [0.2, 2.0] }
//! ```
//!
//! Unknown keys are refused, so a typo is an error rather than a silently ignored door.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One room.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPlan {
    /// The room's name: the prefix of its input ids (`<name>_keypoints`) and its name in the
    /// building state.
    pub name: String,
    /// The simulator's scene for the room (read by the dataflow generator, ignored here).
    #[serde(default)]
    pub scene: Option<String>,
    /// The machine that captures the room (read by the dataflow generator, ignored here).
    #[serde(default)]
    pub host: Option<String>,
}

/// A door between two rooms.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorPlan {
    /// The two rooms it joins.
    pub rooms: [String; 2],
    /// The door's position in each room's floor frame (metres); optional.
    #[serde(default)]
    pub at: BTreeMap<String, [f32; 2]>,
}

/// The building.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildingPlan {
    /// The building's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its rooms (at least one, names unique).
    pub rooms: Vec<RoomPlan>,
    /// Its doors (between rooms of the list).
    #[serde(default)]
    pub doors: Vec<DoorPlan>,
}

impl BuildingPlan {
    /// Parses and checks a description (YAML or JSON).
    pub fn from_yaml_str(text: &str) -> Result<Self, String> {
        let plan: BuildingPlan = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        plan.validate()?;
        Ok(plan)
    }

    /// Room names unique and non-empty, made of letters, digits, `-` and `_`; doors between
    /// two different known rooms, their positions for those rooms only and finite.
    pub fn validate(&self) -> Result<(), String> {
        if self.rooms.is_empty() {
            return Err("a building needs at least one room".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.rooms {
            if r.name.is_empty()
                || !r
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "room name {:?}: use letters, digits, '-' and '_'",
                    r.name
                ));
            }
            if !seen.insert(r.name.as_str()) {
                return Err(format!("room {:?} is listed twice", r.name));
            }
        }
        for d in &self.doors {
            let [a, b] = &d.rooms;
            for r in [a, b] {
                if !seen.contains(r.as_str()) {
                    return Err(format!("door {a}-{b}: no room {r:?}"));
                }
            }
            if a == b {
                return Err(format!("door {a}-{b}: a door joins two different rooms"));
            }
            for (room, xy) in &d.at {
                if room != a && room != b {
                    return Err(format!("door {a}-{b}: position given for {room:?}"));
                }
                if !xy.iter().all(|v| v.is_finite()) {
                    return Err(format!("door {a}-{b}: position in {room} is not finite"));
                }
            }
        }
        Ok(())
    }

    /// The room names, in the description's order.
    pub fn room_names(&self) -> Vec<String> {
        self.rooms.iter().map(|r| r.name.clone()).collect()
    }

    /// The doors between `a` and `b` (either order).
    pub fn doors_between<'a>(
        &'a self,
        a: &'a str,
        b: &'a str,
    ) -> impl Iterator<Item = &'a DoorPlan> {
        self.doors.iter().filter(move |d| {
            (d.rooms[0] == a && d.rooms[1] == b) || (d.rooms[0] == b && d.rooms[1] == a)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_refuses_what_is_wrong() {
        let ok = "rooms: [{name: a}, {name: b, scene: lab, host: h1}]\n\
                  doors: [{rooms: [a, b], at: {a: [1.0, 2.0]}}]";
        let plan = BuildingPlan::from_yaml_str(ok).unwrap();
        assert_eq!(plan.room_names(), ["a", "b"]);
        assert_eq!(plan.doors_between("b", "a").count(), 1);
        for bad in [
            "rooms: []",
            "rooms: [{name: a}, {name: a}]",
            "rooms: [{name: 'a b'}]",
            "rooms: [{name: a}]\ndoors: [{rooms: [a, c]}]",
            "rooms: [{name: a}]\ndoors: [{rooms: [a, a]}]",
            "rooms: [{name: a}, {name: b}]\ndoors: [{rooms: [a, b], at: {c: [0, 0]}}]",
            "rooms: [{name: a, colour: red}]",
        ] {
            assert!(BuildingPlan::from_yaml_str(bad).is_err(), "{bad}");
        }
    }
}
