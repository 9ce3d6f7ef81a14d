//! # mqtt-sink
//!
//! Room states and events to an MQTT broker, with Home Assistant's MQTT discovery: each room
//! appears as a device with an occupancy and a motion `binary_sensor`, a people-count and a
//! breathing-rate `sensor`, and an `event` entity (`entered`, `left`, `fall`). Links no
//! libtorch.
//!
//! ## Inputs
//! - `room_state`: room-state's JSON states (docs/CONTRACT.md), published to
//!   `TOPIC_PREFIX/<room>/state` (retained unless `RETAIN_STATE=false`), with
//!   `breathing_bpm: null` added when absent (the breathing sensor then reads unknown: room-state
//!   reports a rate only for a still room whose breathing peak is clear).
//! - `events`: room-state's JSON events, published to `TOPIC_PREFIX/<room>/event` with
//!   `event_type` set to the event (what the `event` entity reads).
//!
//! A message that is not one UTF-8 JSON object with the fields above (types checked) is
//! reported, counted under `input/field` and dropped; the node keeps running.
//!
//! ## Topics
//! - `TOPIC_PREFIX/availability`: `online` (retained) on every connection, `offline`
//!   (retained) at a clean stop and as the last will the broker sends when the node dies.
//! - `DISCOVERY_PREFIX/<component>/wdp_<room>/<object>/config`, retained, for every room seen
//!   (`<room>` lower-cased, characters other than letters, digits, `-` and `_` as `_`),
//!   published again after every reconnection (a broker restarted without persistence has
//!   lost them).
//!
//! ## Never blocking the dataflow
//! The client runs on a thread of its own. Messages wait in a bounded queue (`QUEUE`) while
//! the broker is slow or away; when it is full the oldest state is dropped (events are kept
//! while there are states to drop) and counted. Connection failures are retried with
//! exponential backoff (`RECONNECT_MIN_MS` doubling up to `RECONNECT_MAX_S`). The stop
//! summary gives connections, errors, messages published and dropped.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `MQTT_HOST` | broker host | `localhost` |
//! | `MQTT_PORT` | broker port | `1883`, `8883` with TLS |
//! | `MQTT_CLIENT_ID` | MQTT client id (unique per broker) | `wdp-room-state` |
//! | `MQTT_USERNAME`, `MQTT_PASSWORD` | credentials (the password may come from `MQTT_PASSWORD_FILE`) | none |
//! | `MQTT_TLS` | `true` for TLS (rustls) | `false`; `true` when `MQTT_CA_FILE` is set |
//! | `MQTT_CA_FILE` | CA certificates (PEM) of the broker | the system's roots |
//! | `MQTT_CLIENT_CERT`, `MQTT_CLIENT_KEY` | client certificate and key (PEM) | none |
//! | `TOPIC_PREFIX` | prefix of state, event and availability topics | `wdp` |
//! | `DISCOVERY_PREFIX` | Home Assistant's discovery prefix | `homeassistant` |
//! | `QUEUE` | most messages waiting for the broker | `256` |
//! | `KEEP_ALIVE_S` | MQTT keep-alive | `30` |
//! | `RECONNECT_MIN_MS`, `RECONNECT_MAX_S` | reconnection backoff, first and longest wait | `250`, `30` |
//! | `RETAIN_STATE` | publish states retained | `true` |

mod client;
mod ha;
mod outbox;
#[cfg(test)]
mod tests;

use client::{MqttConfig, Publisher, Tls};
use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use ha::Topics;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wdp_node::env;
use wdp_node::{Context, Handler, HandlerError, Input};

/// The configuration from the node's environment.
fn config_from_env() -> Result<MqttConfig> {
    let d = MqttConfig::default();
    let ca_file = env::var("MQTT_CA_FILE").map(|v| env::dataflow_path(&v));
    let tls_on = env::parse_or("MQTT_TLS", false)? || ca_file.is_some();
    let client_auth = match (env::var("MQTT_CLIENT_CERT"), env::var("MQTT_CLIENT_KEY")) {
        (Some(c), Some(k)) => Some((env::dataflow_path(&c), env::dataflow_path(&k))),
        (None, None) => None,
        _ => return Err(eyre!("MQTT_CLIENT_CERT and MQTT_CLIENT_KEY go together")),
    };
    if client_auth.is_some() && !tls_on {
        return Err(eyre!(
            "MQTT_CLIENT_CERT needs TLS (MQTT_TLS=true or MQTT_CA_FILE)"
        ));
    }
    let tls = tls_on.then_some(Tls {
        ca_file,
        client_auth,
    });
    let password = match (env::var("MQTT_PASSWORD"), env::var("MQTT_PASSWORD_FILE")) {
        (Some(p), _) => Some(p),
        (None, Some(file)) => {
            let path = env::dataflow_path(&file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| eyre!("MQTT_PASSWORD_FILE={file}: {e}"))?;
            Some(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => None,
    };
    let credentials = match (env::var("MQTT_USERNAME"), password) {
        (Some(u), p) => Some((u, p.unwrap_or_default())),
        (None, Some(_)) => return Err(eyre!("MQTT_PASSWORD needs MQTT_USERNAME")),
        (None, None) => None,
    };
    let port_default = if tls.is_some() { 8883 } else { d.port };
    let config = MqttConfig {
        host: env::var("MQTT_HOST").unwrap_or(d.host),
        port: env::parse_or("MQTT_PORT", port_default)?,
        client_id: env::var("MQTT_CLIENT_ID").unwrap_or(d.client_id),
        credentials,
        tls,
        topics: Topics {
            prefix: env::var("TOPIC_PREFIX").unwrap_or(d.topics.prefix),
            discovery: env::var("DISCOVERY_PREFIX").unwrap_or(d.topics.discovery),
        },
        queue: env::parse_or("QUEUE", d.queue)?,
        keep_alive: Duration::from_secs(env::parse_or("KEEP_ALIVE_S", 30u64)?),
        reconnect_min: Duration::from_millis(env::parse_or("RECONNECT_MIN_MS", 250u64)?),
        reconnect_max: Duration::from_secs(env::parse_or("RECONNECT_MAX_S", 30u64)?),
        retain_state: env::parse_or("RETAIN_STATE", true)?,
    };
    if config.queue == 0 {
        return Err(eyre!("QUEUE=0: the queue must hold at least one message"));
    }
    if config.keep_alive < Duration::from_secs(1) {
        return Err(eyre!("KEEP_ALIVE_S must be >= 1"));
    }
    if config.reconnect_min.is_zero() || config.reconnect_max < config.reconnect_min {
        return Err(eyre!(
            "need 0 < RECONNECT_MIN_MS <= RECONNECT_MAX_S (as the same duration)"
        ));
    }
    Ok(config)
}

fn main() -> Result<()> {
    let config = config_from_env()?;
    wdp_node::announce(&format!(
        "mqtt-sink: broker {}:{}{}, client {}, topics {}/..., discovery {}/...",
        config.host,
        config.port,
        if config.tls.is_some() { " (TLS)" } else { "" },
        config.client_id,
        config.topics.prefix,
        config.topics.discovery
    ));
    let publisher = Publisher::start(config)?;
    let (node, events) = DoraNode::init_from_env()?;
    let mut handler = MqttSink { publisher };
    wdp_node::run("mqtt-sink", node, events, &mut handler)?;
    Ok(())
}

/// The node's handler: checks each message and queues it for the broker.
struct MqttSink {
    publisher: Publisher,
}

impl Handler for MqttSink {
    fn accepts(&self, id: &str) -> bool {
        matches!(id, "room_state" | "events")
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let text = input.text()?;
        let bad = |e: ha::BadMessage| HandlerError::bad(e.field, e.reason);
        if input.id == "room_state" {
            let (room, payload) = ha::state_payload(text).map_err(bad)?;
            self.publisher.state(&room, payload);
        } else {
            let (room, payload) = ha::event_payload(text).map_err(bad)?;
            self.publisher.event(&room, payload);
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        self.publisher.shutdown(Duration::from_secs(5));
        let (drops, stats, left) = self.publisher.summary();
        ctx.announce(&format!(
            "{} connections, {} connection errors, {} messages published, dropped when the \
             queue was full: {} states, {} events; {left} still queued at stop",
            stats.connects.load(Ordering::SeqCst),
            stats.errors.load(Ordering::SeqCst),
            stats.published.load(Ordering::SeqCst),
            drops.states,
            drops.events
        ));
        Ok(())
    }
}
