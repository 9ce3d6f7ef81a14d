//! The broker side: a thread of its own with the MQTT client (rumqttc), connecting and
//! reconnecting with backoff, publishing availability, discovery configs and the queued
//! messages. The dataflow side only ever locks the queue for a push.

use crate::ha::Topics;
use crate::outbox::{Drops, Kind, Message, Outbox};
use eyre::{eyre, Result, WrapErr};
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, LastWill, MqttOptions, Packet, QoS, TlsConfiguration,
    Transport,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// CA certificates (PEM) the broker's certificate must chain to; the system's roots when
    /// `None`.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain and private key (PEM), for brokers that want them.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// The broker connection's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// TLS, when on.
    pub tls: Option<Tls>,
    /// Topic prefixes.
    pub topics: Topics,
    /// Most messages queued while the broker is slow or away.
    pub queue: usize,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// First wait before reconnecting; doubled after each failure up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
    /// Publish states retained (Home Assistant shows the last state after its own restart).
    pub retain_state: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 1883,
            client_id: "wdp-room-state".into(),
            credentials: None,
            tls: None,
            topics: Topics {
                prefix: "wdp".into(),
                discovery: "homeassistant".into(),
            },
            queue: 256,
            keep_alive: Duration::from_secs(30),
            reconnect_min: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(30),
            retain_state: true,
        }
    }
}

/// What the publisher did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Successful connections (the first and every reconnection).
    pub connects: AtomicU64,
    /// Failed connection attempts and lost connections.
    pub errors: AtomicU64,
    /// Messages handed to the client: states and events.
    pub published: AtomicU64,
}

struct Shared {
    outbox: Mutex<Outbox>,
    wake: Notify,
    stop: AtomicBool,
    stats: Stats,
}

impl Shared {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A panic elsewhere while holding the lock leaves a queue that is still consistent.
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle the dataflow side holds.
pub struct Publisher {
    shared: Arc<Shared>,
    config: MqttConfig,
    thread: Option<std::thread::JoinHandle<()>>,
    done: std::sync::mpsc::Receiver<()>,
}

fn tls_config(tls: &Tls) -> Result<rustls::ClientConfig> {
    let read = |path: &PathBuf| {
        std::fs::read(path).wrap_err_with(|| format!("reading {}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            let pem = read(path)?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.wrap_err_with(|| format!("{}: bad PEM", path.display()))?;
                roots
                    .add(cert)
                    .wrap_err_with(|| format!("{}: bad certificate", path.display()))?;
            }
            if roots.is_empty() {
                return Err(eyre!("{}: no certificate in it", path.display()));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                // A system store holds a few certificates rustls rejects; the rest serve.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(eyre!("no system CA certificates found: set MQTT_CA_FILE"));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .wrap_err("TLS protocol versions")?
        .with_root_certificates(roots);
    Ok(match &tls.client_auth {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .wrap_err_with(|| format!("{}: bad PEM", cert.display()))?;
            let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
                .wrap_err_with(|| format!("{}: bad PEM", key.display()))?
                .ok_or_else(|| eyre!("{}: no private key in it", key.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .wrap_err("client certificate")?
        }
    })
}

fn options(config: &MqttConfig) -> Result<MqttOptions> {
    let mut o = MqttOptions::new(&config.client_id, &config.host, config.port);
    o.set_keep_alive(config.keep_alive);
    o.set_clean_session(true);
    // Home Assistant marks every entity unavailable when the broker delivers this.
    o.set_last_will(LastWill::new(
        config.topics.availability(),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    if let Some((user, password)) = &config.credentials {
        o.set_credentials(user, password);
    }
    if let Some(tls) = &config.tls {
        let c = tls_config(tls)?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(c),
        )));
    }
    Ok(o)
}

impl Publisher {
    /// Starts the publisher thread; it connects in the background. Errors are configuration
    /// errors only (TLS files); an absent broker is retried, never an error.
    pub fn start(config: MqttConfig) -> Result<Self> {
        let options = options(&config)?;
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(config.queue)),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            stats: Stats::default(),
        });
        let (done_tx, done) = std::sync::mpsc::channel();
        let thread = {
            let shared = shared.clone();
            let config = config.clone();
            std::thread::Builder::new()
                .name("mqtt".into())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(publish_loop(config, options, shared)),
                        Err(e) => wdp_node::announce(&format!("mqtt-sink: no runtime: {e}")),
                    }
                    let _ = done_tx.send(());
                })
                .wrap_err("starting the MQTT thread")?
        };
        Ok(Self {
            shared,
            config,
            thread: Some(thread),
            done,
        })
    }

    /// Queues a room's state (discovery configs first when the room is new). Never waits.
    pub fn state(&self, room: &str, payload: String) {
        let topics = &self.config.topics;
        let mut outbox = self.shared.outbox();
        outbox.add_room(room);
        outbox.push(Message {
            kind: Kind::State,
            topic: topics.state(room),
            payload,
            retain: self.config.retain_state,
        });
        drop(outbox);
        self.shared.wake.notify_one();
    }

    /// Queues a room's event. Never waits.
    pub fn event(&self, room: &str, payload: String) {
        let mut outbox = self.shared.outbox();
        outbox.add_room(room);
        outbox.push(Message {
            kind: Kind::Event,
            topic: self.config.topics.event(room),
            payload,
            retain: false,
        });
        drop(outbox);
        self.shared.wake.notify_one();
    }

    /// What was dropped, and the publisher's counts.
    pub fn summary(&self) -> (Drops, &Stats, usize) {
        let outbox = self.shared.outbox();
        (outbox.drops(), &self.shared.stats, outbox.len())
    }

    /// Publishes what is queued and `offline`, disconnects, and waits for that up to `wait`.
    pub fn shutdown(&mut self, wait: Duration) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if self.done.recv_timeout(wait).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// The connection's state, from the event-loop task.
#[derive(Debug, Clone, Copy, Default)]
struct Link {
    connected: bool,
    /// Counts connections, so a reconnection is noticed even between two looks.
    epoch: u64,
}

async fn publish_loop(config: MqttConfig, options: MqttOptions, shared: Arc<Shared>) {
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let (link_tx, mut link_rx) = watch::channel(Link::default());
    let where_ = format!("{}:{}", config.host, config.port);
    let poller = {
        let shared = shared.clone();
        let (min, max) = (config.reconnect_min, config.reconnect_max);
        tokio::spawn(async move {
            let mut backoff = min;
            let mut reported = false;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        if ack.code == ConnectReturnCode::Success {
                            backoff = min;
                            reported = false;
                            shared.stats.connects.fetch_add(1, Ordering::SeqCst);
                            wdp_node::announce(&format!("mqtt-sink: connected to {where_}"));
                            link_tx.send_modify(|l| {
                                l.connected = true;
                                l.epoch += 1;
                            });
                        }
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                        // Our own disconnect at shutdown: flush it and end.
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
                        link_tx.send_modify(|l| l.connected = false);
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        shared.stats.errors.fetch_add(1, Ordering::SeqCst);
                        let was = link_tx.borrow().connected;
                        link_tx.send_modify(|l| l.connected = false);
                        if shared.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        // One line per outage, not one per attempt.
                        if was || !reported {
                            wdp_node::announce(&format!(
                                "mqtt-sink: broker {where_}: {e}; retrying with backoff up \
                                 to {} s",
                                max.as_secs_f32()
                            ));
                            reported = true;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(max);
                    }
                }
            }
        })
    };
    let availability = config.topics.availability();
    let mut epoch_served = 0;
    let mut announced: Vec<String> = Vec::new();
    loop {
        let stopping = shared.stop.load(Ordering::SeqCst);
        let link = *link_rx.borrow_and_update();
        if link.connected {
            // A new session (first connection or after the broker came back): the broker may
            // have lost its retained messages, so availability and every discovery config
            // again. A publish the client's full queue refuses is tried again next round, so
            // that no room is taken as announced while its configs are missing.
            if link.epoch != epoch_served
                && client
                    .try_publish(&availability, QoS::AtLeastOnce, true, "online")
                    .is_ok()
            {
                epoch_served = link.epoch;
                announced.clear();
            }
            let rooms = shared.outbox().rooms();
            for room in rooms {
                if announced.contains(&room) {
                    continue;
                }
                let sent = config
                    .topics
                    .discovery(&room)
                    .into_iter()
                    .all(|(topic, payload)| {
                        client
                            .try_publish(topic, QoS::AtLeastOnce, true, payload)
                            .is_ok()
                    });
                if !sent {
                    break;
                }
                announced.push(room);
            }
            loop {
                let Some(m) = shared.outbox().pop() else {
                    break;
                };
                match client.try_publish(&m.topic, QoS::AtLeastOnce, m.retain, m.payload.clone()) {
                    Ok(()) => {
                        shared.stats.published.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        // The client's own queue is full: keep it, try again shortly.
                        shared.outbox().unpop(m);
                        break;
                    }
                }
            }
        }
        if stopping {
            if link.connected {
                let _ = client.try_publish(&availability, QoS::AtLeastOnce, true, "offline");
                let _ = client.try_disconnect();
                let _ = tokio::time::timeout(Duration::from_secs(3), poller).await;
            } else {
                poller.abort();
            }
            return;
        }
        let backlog = !shared.outbox().is_empty();
        tokio::select! {
            _ = shared.wake.notified() => {}
            changed = link_rx.changed() => {
                if changed.is_err() {
                    // The event loop ended (only at a stop): nothing will change any more.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)), if backlog => {}
        }
    }
}
