//! The building description: its rooms and which of them share doors.
//!
//! ```yaml
//! name: demo
//! rooms:
//!   - name: living-room
//!     scene: living-room     # the simulator's scene (dataflow generator only)
//!     host: room-host-1      # the machine capturing it (dataflow generator only)
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
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The simulator's scene presets, in the order generated rooms get them.
pub const SCENES: [&str; 6] = [
    "living-room",
    "kitchen",
    "office",
    "bedroom",
    "lab",
    "corridor",
];

/// One room.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPlan {
    /// The room's name: the prefix of its input ids (`<name>_keypoints`) and node ids
    /// (`<name>-source`), and its name in the building state.
    pub name: String,
    /// The simulator's scene for the room: a preset name or a scene file (read by the
    /// dataflow generator, ignored by room-fusion).
    #[serde(default)]
    pub scene: Option<String>,
    /// The dora machine id of the machine that captures the room (read by the dataflow
    /// generator, ignored by room-fusion).
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

/// Letters, digits, `-` and `_`: what a room name (a prefix of dora ids) may hold.
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A machine id as dora's daemons take it (`--machine-id`): an id, dots allowed (host names).
pub(crate) fn is_machine_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Text for one line: not empty, no control characters (a scene may be a file name with
/// spaces, a building's name free text).
pub(crate) fn is_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

impl BuildingPlan {
    /// Parses and checks a description (YAML or JSON).
    pub fn from_yaml_str(text: &str) -> Result<Self, String> {
        let plan: BuildingPlan = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        plan.validate()?;
        Ok(plan)
    }

    /// Room names unique, made of letters, digits, `-` and `_`; scenes and the name one line
    /// of text; hosts machine ids; doors between two different known rooms, their positions
    /// for those rooms only and finite.
    pub fn validate(&self) -> Result<(), String> {
        if self.rooms.is_empty() {
            return Err("a building needs at least one room".into());
        }
        if let Some(name) = &self.name {
            if !is_line(name) {
                return Err(format!(
                    "building name {name:?}: one line of text, not empty"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for r in &self.rooms {
            if !is_id(&r.name) {
                return Err(format!(
                    "room name {:?}: use letters, digits, '-' and '_'",
                    r.name
                ));
            }
            if !seen.insert(r.name.as_str()) {
                return Err(format!("room {:?} is listed twice", r.name));
            }
            if let Some(scene) = r.scene.as_deref().filter(|s| !is_line(s)) {
                return Err(format!(
                    "room {}: scene {scene:?}: a preset name or a file, on one line",
                    r.name
                ));
            }
            if let Some(host) = r.host.as_deref().filter(|h| !is_machine_id(h)) {
                return Err(format!(
                    "room {}: host {host:?}: a machine id (letters, digits, '-', '_' and '.')",
                    r.name
                ));
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

    /// N rooms in a row named after the simulator's scenes in turn (`living-room`, ...,
    /// `corridor`, then `living-room-2`, ...), each sharing a door with the next, given to
    /// `room-host-1` ... `room-host-M` in turn (no hosts with M = 0).
    pub fn generated(rooms: usize, machines: usize) -> Result<Self, String> {
        if rooms == 0 {
            return Err("--rooms: a building needs at least one room".into());
        }
        let rooms: Vec<RoomPlan> = (0..rooms)
            .map(|i| {
                let scene = SCENES[i % SCENES.len()];
                let round = i / SCENES.len();
                RoomPlan {
                    name: if round == 0 {
                        scene.to_owned()
                    } else {
                        format!("{scene}-{}", round + 1)
                    },
                    scene: Some(scene.to_owned()),
                    host: (machines > 0).then(|| room_host(i, machines)),
                }
            })
            .collect();
        let doors = rooms
            .windows(2)
            .map(|w| DoorPlan {
                rooms: [w[0].name.clone(), w[1].name.clone()],
                at: BTreeMap::new(),
            })
            .collect();
        Ok(Self {
            name: Some(format!("{}-rooms", rooms.len())),
            rooms,
            doors,
        })
    }

    /// Spreads the rooms that name no host over `room-host-1` ... `room-host-M` in turn; with
    /// M = 0 takes every host away (everything on one machine).
    pub fn place(&mut self, machines: usize) {
        for (i, r) in self.rooms.iter_mut().enumerate() {
            if machines == 0 {
                r.host = None;
            } else if r.host.is_none() {
                r.host = Some(room_host(i, machines));
            }
        }
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

    /// The description as YAML, `header` (one or more lines) first as comments; it reads back
    /// as `self`.
    pub fn to_yaml(&self, header: &str) -> String {
        let mut s = String::new();
        for line in header.lines() {
            let _ = writeln!(s, "# {line}");
        }
        if let Some(name) = &self.name {
            let _ = writeln!(s, "name: {}", yaml_scalar(name));
        }
        let _ = writeln!(s, "rooms:");
        for r in &self.rooms {
            let _ = writeln!(s, "  - name: {}", yaml_scalar(&r.name));
            if let Some(scene) = &r.scene {
                let _ = writeln!(s, "    scene: {}", yaml_scalar(scene));
            }
            if let Some(host) = &r.host {
                let _ = writeln!(s, "    host: {}", yaml_scalar(host));
            }
        }
        if self.doors.is_empty() {
            let _ = writeln!(s, "doors: []");
        } else {
            let _ = writeln!(s, "doors:");
        }
        for d in &self.doors {
            let [a, b] = &d.rooms;
            let _ = writeln!(s, "  - rooms: [{}, {}]", yaml_scalar(a), yaml_scalar(b));
            if !d.at.is_empty() {
                // `{:?}` of an f32 reads back as the same f32 (and keeps a `.0`).
                let at: Vec<String> =
                    d.at.iter()
                        .map(|(k, v)| format!("{}: [{:?}, {:?}]", yaml_scalar(k), v[0], v[1]))
                        .collect();
                let _ = writeln!(s, "    at: {{{}}}", at.join(", "));
            }
        }
        s
    }
}

fn room_host(i: usize, machines: usize) -> String {
    format!("room-host-{}", i % machines + 1)
}

/// `s` as a YAML scalar that reads back as the string `s` on one line: plain when it is an
/// unambiguous word or path (`living-room`, `room-host-1`, `lab.yaml`), otherwise
/// double-quoted with every character YAML would not keep as it is escaped.
pub fn yaml_scalar(s: &str) -> String {
    // A word, or a path (`/srv/x`, `../models`): never a number, `.inf` or an indicator.
    let plain = (s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/')
        || s.starts_with("./")
        || s.starts_with("../"))
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        // Words a YAML reader may take for a boolean or null.
        && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"]
            .contains(&s.to_ascii_lowercase().as_str());
    if plain {
        return s.to_owned();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            ' '..='~' => q.push(c),
            // YAML's printable characters above ASCII, less the byte-order mark and the two
            // that a YAML 1.1 reader takes for line breaks.
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}'
                if !matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') =>
            {
                q.push(c)
            }
            '\u{10000}'.. => q.push(c),
            _ => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
        }
    }
    q.push('"');
    q
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
            "rooms: [{name: a, host: 'a b'}]",
            "rooms: [{name: a, scene: \"x\\ny\"}]",
            "name: ''\nrooms: [{name: a}]",
        ] {
            assert!(BuildingPlan::from_yaml_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_rooms_machines_and_doors_read_back() {
        let b = BuildingPlan::generated(8, 3).unwrap();
        let names = b.room_names();
        assert_eq!(names[..2], ["living-room", "kitchen"]);
        assert_eq!(names[6..], ["living-room-2", "kitchen-2"]);
        assert_eq!(b.rooms[3].host.as_deref(), Some("room-host-1"));
        assert_eq!(b.doors.len(), 7);
        let text = b.to_yaml("made by a test");
        assert!(
            text.starts_with("# made by a test\nname: \"8-rooms\"\n"),
            "{text}"
        );
        assert_eq!(BuildingPlan::from_yaml_str(&text).unwrap(), b);
        assert!(BuildingPlan::generated(0, 1).is_err());
    }

    #[test]
    fn what_yaml_would_read_otherwise_is_quoted() {
        let plan = BuildingPlan {
            name: Some("Maison: \"#1\" \u{2028}\u{feff}é".into()),
            rooms: vec![
                RoomPlan {
                    name: "true".into(),
                    scene: Some("../scenes/my room.yaml # big".into()),
                    host: Some("10.0.0.2".into()),
                },
                RoomPlan {
                    name: "1e3".into(),
                    scene: Some("null".into()),
                    host: None,
                },
            ],
            doors: vec![DoorPlan {
                rooms: ["true".into(), "1e3".into()],
                at: BTreeMap::from([("1e3".into(), [1e-30, -0.1]), ("true".into(), [3.0, 4e9])]),
            }],
        };
        plan.validate().unwrap();
        let text = plan.to_yaml("two rooms\nwith odd names");
        assert_eq!(BuildingPlan::from_yaml_str(&text).unwrap(), plan, "{text}");
        assert_eq!(yaml_scalar("kitchen-2"), "kitchen-2");
        assert_eq!(yaml_scalar("No"), "\"No\"");
        assert_eq!(yaml_scalar("../models/x.yaml"), "../models/x.yaml");
        assert_eq!(yaml_scalar(".5"), "\".5\"");
    }
}
