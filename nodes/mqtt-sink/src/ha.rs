//! Topics, Home Assistant discovery configs and the payloads published: all pure.

use serde_json::{json, Map, Value};

/// Where things are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Prefix of the node's own topics (`TOPIC_PREFIX`).
    pub prefix: String,
    /// Home Assistant's discovery prefix (`DISCOVERY_PREFIX`).
    pub discovery: String,
}

/// The event types of the `event` entity: room presence changes, and falls when something
/// detects them (nothing does yet).
pub const EVENT_TYPES: [&str; 3] = ["entered", "left", "fall"];

/// A room name as a topic level and id: letters, digits, `_` and `-` kept, the rest `_`.
pub fn slug(room: &str) -> String {
    let s: String = room
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "default".to_owned()
    } else {
        s
    }
}

impl Topics {
    /// `online` / `offline`, retained; the last will says `offline`.
    pub fn availability(&self) -> String {
        format!("{}/availability", self.prefix)
    }

    /// The room's state (JSON).
    pub fn state(&self, room: &str) -> String {
        format!("{}/{}/state", self.prefix, slug(room))
    }

    /// The room's events (JSON with `event_type`).
    pub fn event(&self, room: &str) -> String {
        format!("{}/{}/event", self.prefix, slug(room))
    }

    /// The discovery configs of a room: `(topic, payload)`, to publish retained.
    pub fn discovery(&self, room: &str) -> Vec<(String, String)> {
        let id = slug(room);
        let device = json!({
            "identifiers": [format!("wdp_{id}")],
            "name": format!("WiFi sensing {room}"),
            "manufacturer": "wifi-densepose",
            "model": "room-state",
        });
        let state = self.state(room);
        let entity = |component: &str, object: &str, name: &str, extra: Value| {
            let mut config = json!({
                "name": name,
                "unique_id": format!("wdp_{id}_{object}"),
                "object_id": format!("wdp_{id}_{object}"),
                "availability_topic": self.availability(),
                "device": device.clone(),
            });
            if let (Some(c), Value::Object(e)) = (config.as_object_mut(), extra) {
                c.extend(e);
            }
            (
                format!("{}/{component}/wdp_{id}/{object}/config", self.discovery),
                config.to_string(),
            )
        };
        vec![
            entity(
                "binary_sensor",
                "occupancy",
                "Occupancy",
                json!({
                    "device_class": "occupancy",
                    "state_topic": state,
                    "value_template": "{{ 'ON' if value_json.presence else 'OFF' }}",
                    "json_attributes_topic": state,
                    "json_attributes_template":
                        "{{ {'confidence': value_json.presence_confidence, 'source': value_json.source} | tojson }}",
                }),
            ),
            entity(
                "binary_sensor",
                "motion",
                "Motion",
                json!({
                    "device_class": "motion",
                    "state_topic": state,
                    "value_template": "{{ 'ON' if value_json.motion else 'OFF' }}",
                }),
            ),
            entity(
                "sensor",
                "people",
                "People",
                json!({
                    "state_topic": state,
                    // null (no pose stream) renders as None: the sensor shows unknown.
                    "value_template": "{{ value_json.people }}",
                    "state_class": "measurement",
                    "icon": "mdi:account-group",
                }),
            ),
            entity(
                "sensor",
                "breathing",
                "Breathing rate",
                json!({
                    "state_topic": state,
                    "value_template": "{{ value_json.breathing_bpm }}",
                    "unit_of_measurement": "bpm",
                    "state_class": "measurement",
                    "icon": "mdi:lungs",
                }),
            ),
            entity(
                "event",
                "activity",
                "Activity",
                json!({
                    "state_topic": self.event(room),
                    "event_types": EVENT_TYPES,
                }),
            ),
        ]
    }
}

/// Why a message was not published.
#[derive(Debug)]
pub struct BadMessage {
    /// The field at fault.
    pub field: &'static str,
    /// How.
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> BadMessage {
    BadMessage {
        field,
        reason: reason.into(),
    }
}

fn object(text: &str) -> Result<Map<String, Value>, BadMessage> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(bad("json", format!("not an object: {other}"))),
        Err(e) => Err(bad("json", e.to_string())),
    }
}

fn room_of(m: &Map<String, Value>) -> Result<String, BadMessage> {
    match m.get("room") {
        Some(Value::String(r)) => Ok(r.clone()),
        _ => Err(bad("room", "missing or not a string")),
    }
}

/// A `room_state` message checked (the fields Home Assistant's templates read have their
/// types) and completed (`breathing_bpm: null` when absent, so the breathing sensor reads
/// unknown): `(room, payload)`.
pub fn state_payload(text: &str) -> Result<(String, String), BadMessage> {
    let mut m = object(text)?;
    let room = room_of(&m)?;
    for key in ["presence", "motion"] {
        if !m.get(key).is_some_and(Value::is_boolean) {
            return Err(bad(
                if key == "presence" {
                    "presence"
                } else {
                    "motion"
                },
                "missing or not a boolean",
            ));
        }
    }
    if !m.get("t_ns").is_some_and(Value::is_i64) {
        return Err(bad("t_ns", "missing or not an integer"));
    }
    match m.get("people") {
        Some(Value::Null) => {}
        Some(v) if v.is_u64() => {}
        _ => return Err(bad("people", "missing, or not a count or null")),
    }
    match m.get("breathing_bpm") {
        None => {
            m.insert("breathing_bpm".into(), Value::Null);
        }
        Some(Value::Null) => {}
        Some(v) if v.is_number() => {}
        Some(_) => return Err(bad("breathing_bpm", "not a number or null")),
    }
    Ok((room, Value::Object(m).to_string()))
}

/// An `events` message as the `event` entity wants it (`event_type` beside the rest):
/// `(room, payload)`.
pub fn event_payload(text: &str) -> Result<(String, String), BadMessage> {
    let mut m = object(text)?;
    let room = room_of(&m)?;
    let event = match m.get("event") {
        Some(Value::String(e)) if EVENT_TYPES.contains(&e.as_str()) => e.clone(),
        _ => {
            return Err(bad(
                "event",
                format!("missing or not one of {}", EVENT_TYPES.join(", ")),
            ))
        }
    };
    m.insert("event_type".into(), Value::String(event));
    Ok((room, Value::Object(m).to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn topics() -> Topics {
        Topics {
            prefix: "wdp".into(),
            discovery: "homeassistant".into(),
        }
    }

    #[test]
    fn discovery_has_every_entity_of_a_room() {
        let configs = topics().discovery("Living Room");
        let names: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "homeassistant/binary_sensor/wdp_living_room/occupancy/config",
                "homeassistant/binary_sensor/wdp_living_room/motion/config",
                "homeassistant/sensor/wdp_living_room/people/config",
                "homeassistant/sensor/wdp_living_room/breathing/config",
                "homeassistant/event/wdp_living_room/activity/config",
            ]
        );
        for (_, payload) in &configs {
            let v: Value = serde_json::from_str(payload).unwrap();
            assert_eq!(v["availability_topic"], "wdp/availability");
            assert_eq!(v["device"]["identifiers"][0], "wdp_living_room");
            assert!(v["unique_id"]
                .as_str()
                .unwrap()
                .starts_with("wdp_living_room_"));
        }
        let occupancy: Value = serde_json::from_str(&configs[0].1).unwrap();
        assert_eq!(occupancy["state_topic"], "wdp/living_room/state");
        assert_eq!(occupancy["device_class"], "occupancy");
        let event: Value = serde_json::from_str(&configs[4].1).unwrap();
        assert_eq!(event["state_topic"], "wdp/living_room/event");
        assert_eq!(event["event_types"], json!(["entered", "left", "fall"]));
    }

    #[test]
    fn payloads_are_checked_and_completed() {
        let ok = r#"{"room":"lab","t_ns":5,"presence":true,"presence_confidence":0.9,
            "motion":false,"people":null,"tracks":[],"source":"signal"}"#;
        let (room, payload) = state_payload(ok).unwrap();
        assert_eq!(room, "lab");
        let v: Value = serde_json::from_str(&payload).unwrap();
        assert!(v["breathing_bpm"].is_null());
        assert!(v.as_object().unwrap().contains_key("breathing_bpm"));
        assert_eq!(v["source"], "signal");
        assert_eq!(state_payload("[1]").unwrap_err().field, "json");
        assert_eq!(state_payload("{").unwrap_err().field, "json");
        let e = state_payload(r#"{"room":"a","t_ns":1,"presence":1,"motion":false,"people":0}"#);
        assert_eq!(e.unwrap_err().field, "presence");
        let e =
            state_payload(r#"{"room":"a","t_ns":1,"presence":true,"motion":false,"people":-1}"#);
        assert_eq!(e.unwrap_err().field, "people");
        let (_, e) = event_payload(r#"{"room":"lab","t_ns":5,"event":"left"}"#).unwrap();
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["event_type"], "left");
        assert_eq!(
            event_payload(r#"{"room":"lab","t_ns":5,"event":"jumped"}"#)
                .unwrap_err()
                .field,
            "event"
        );
    }
}
