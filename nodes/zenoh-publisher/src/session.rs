//! The zenoh side: one session, puts that never wait for the network, the newest sample of
//! every key kept and answered to queries (a robot that starts late asks `get wdp/home/**`
//! instead of waiting for the next state), and a liveliness token while the node runs.

use crate::keys::Keys;
use eyre::{eyre, Result, WrapErr};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use zenoh::bytes::{Encoding, ZBytes};
use zenoh::key_expr::OwnedKeyExpr;
use zenoh::liveliness::LivelinessToken;
use zenoh::qos::CongestionControl;
use zenoh::query::Queryable;
use zenoh::{Session, Wait};

/// How the session joins the zenoh network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A zenoh configuration file (JSON5) to start from; the settings below override it.
    pub file: Option<PathBuf>,
    /// `peer`, `client` or `router`.
    pub mode: String,
    /// Endpoints to listen on (`tcp/127.0.0.1:7447`).
    pub listen: Vec<String>,
    /// Endpoints to connect to (a router, zenoh-bridge-ros2dds, another peer).
    pub connect: Vec<String>,
    /// Multicast scouting (finding peers on the LAN without naming them).
    pub multicast: bool,
}

/// The default listening endpoint: zenoh's port, on loopback only.
pub const DEFAULT_LISTEN: &str = "tcp/127.0.0.1:7447";

impl Default for Settings {
    fn default() -> Self {
        Self {
            file: None,
            mode: "peer".to_owned(),
            listen: vec![DEFAULT_LISTEN.to_owned()],
            connect: Vec::new(),
            multicast: false,
        }
    }
}

impl Settings {
    /// The zenoh configuration these settings describe.
    pub fn config(&self) -> Result<zenoh::Config> {
        if !matches!(self.mode.as_str(), "peer" | "client" | "router") {
            return Err(eyre!(
                "ZENOH_MODE={}: one of peer, client, router",
                self.mode
            ));
        }
        if self.mode == "client" && self.connect.is_empty() {
            return Err(eyre!(
                "ZENOH_MODE=client needs ZENOH_CONNECT (the router to join)"
            ));
        }
        let mut config = match &self.file {
            Some(path) => zenoh::Config::from_file(path)
                .map_err(|e| eyre!("ZENOH_CONFIG={}: {e}", path.display()))?,
            None => zenoh::Config::default(),
        };
        let set = |config: &mut zenoh::Config, key: &str, value: String| {
            config
                .insert_json5(key, &value)
                .map_err(|e| eyre!("zenoh setting {key} = {value}: {e}"))
        };
        set(&mut config, "mode", format!("{:?}", self.mode))?;
        set(
            &mut config,
            "listen/endpoints",
            serde_json::to_string(&self.listen)?,
        )?;
        set(
            &mut config,
            "connect/endpoints",
            serde_json::to_string(&self.connect)?,
        )?;
        set(
            &mut config,
            "scouting/multicast/enabled",
            self.multicast.to_string(),
        )?;
        Ok(config)
    }
}

/// What the session did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Samples put.
    pub puts: u64,
    /// Keys deleted (tracks that ended).
    pub deletes: u64,
    /// Payload bytes put.
    pub bytes: u64,
    /// Puts or deletes zenoh refused.
    pub errors: u64,
}

/// The newest sample of every key, by the key's text.
type Latest = Arc<Mutex<BTreeMap<String, (OwnedKeyExpr, ZBytes, Encoding)>>>;

/// An open session publishing under one site's keys.
pub struct Publisher {
    session: Session,
    latest: Latest,
    _queryable: Queryable<()>,
    _alive: LivelinessToken,
    stats: Stats,
}

impl Publisher {
    /// Opens the session, declares the queryable over `keys.all()` and the liveliness token.
    pub fn open(settings: &Settings, keys: &Keys) -> Result<Self> {
        let session = zenoh::open(settings.config()?)
            .wait()
            .map_err(|e| eyre!("opening the zenoh session ({settings:?}): {e}"))?;
        let latest: Latest = Arc::default();
        let answers = latest.clone();
        let queryable = session
            .declare_queryable(keys.all())
            .callback(move |query| {
                // The newest sample of every key the query selects (a poisoned lock means a
                // reply panicked: answer nothing rather than the half-written map).
                let Ok(latest) = answers.lock() else { return };
                for (key, payload, encoding) in latest.values() {
                    if query.key_expr().intersects(key) {
                        let _ = query
                            .reply(key.clone(), payload.clone())
                            .encoding(encoding.clone())
                            .wait();
                    }
                }
            })
            .wait()
            .map_err(|e| eyre!("declaring the queryable {}: {e}", keys.all()))?;
        let alive = session
            .liveliness()
            .declare_token(keys.alive())
            .wait()
            .map_err(|e| eyre!("declaring the liveliness token {}: {e}", keys.alive()))?;
        Ok(Self {
            session,
            latest,
            _queryable: queryable,
            _alive: alive,
            stats: Stats::default(),
        })
    }

    /// Where the session listens (what a subscriber connects to).
    pub fn locators(&self) -> Vec<String> {
        self.session
            .info()
            .locators()
            .wait()
            .into_iter()
            .map(|l| l.to_string())
            .collect()
    }

    /// Publishes `payload` on `key` and keeps it as the key's newest sample. Never waits
    /// for a slow or absent subscriber: zenoh drops what its queues cannot take.
    pub fn put(&mut self, key: &str, payload: Vec<u8>, encoding: Encoding) {
        let key = match OwnedKeyExpr::try_from(key.to_owned()) {
            Ok(k) => k,
            Err(e) => {
                self.stats.errors += 1;
                tracing::warn!("not a key expression: {key}: {e}");
                return;
            }
        };
        let bytes = payload.len() as u64;
        let payload = ZBytes::from(payload);
        let sent = self
            .session
            .put(key.clone(), payload.clone())
            .encoding(encoding.clone())
            .congestion_control(CongestionControl::Drop)
            .wait();
        match sent {
            Ok(()) => {
                self.stats.puts += 1;
                self.stats.bytes += bytes;
            }
            Err(e) => {
                self.stats.errors += 1;
                tracing::warn!("zenoh put {key}: {e}");
            }
        }
        if let Ok(mut latest) = self.latest.lock() {
            latest.insert(key.to_string(), (key, payload, encoding));
        }
    }

    /// Deletes `key` (a subscriber sees a DELETE sample) and forgets its newest sample.
    pub fn delete(&mut self, key: &str) {
        if let Ok(mut latest) = self.latest.lock() {
            latest.remove(key);
        }
        match self.session.delete(key).wait() {
            Ok(()) => self.stats.deletes += 1,
            Err(e) => {
                self.stats.errors += 1;
                tracing::warn!("zenoh delete {key}: {e}");
            }
        }
    }

    /// What the session did so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Closes the session (the liveliness token goes with it).
    pub fn close(self) -> Result<()> {
        self.session
            .close()
            .wait()
            .map_err(|e| eyre!("closing the zenoh session: {e}"))
            .wrap_err("zenoh")
    }
}

/// A publisher on a free loopback port (no scouting: nothing leaves the test) and a second
/// session connected to it, for tests.
#[cfg(test)]
pub(crate) fn loopback(keys: &Keys) -> (Publisher, Session) {
    let settings = Settings {
        listen: vec!["tcp/127.0.0.1:0".into()],
        ..Settings::default()
    };
    let publisher = Publisher::open(&settings, keys).expect("a publisher on loopback");
    let peer = Settings {
        listen: vec![],
        connect: publisher.locators(),
        ..Settings::default()
    };
    let session = zenoh::open(peer.config().expect("a peer config"))
        .wait()
        .expect("a session connected to the publisher");
    (publisher, session)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn settings_become_a_zenoh_config_and_bad_ones_are_named() {
        let config = Settings::default().config().unwrap();
        let listen = config.get_json("listen/endpoints").unwrap();
        assert!(listen.contains(DEFAULT_LISTEN), "{listen}");
        assert_eq!(
            config.get_json("scouting/multicast/enabled").unwrap(),
            "false"
        );
        let client = Settings {
            mode: "client".into(),
            ..Settings::default()
        };
        assert!(client
            .config()
            .unwrap_err()
            .to_string()
            .contains("ZENOH_CONNECT"));
        let odd = Settings {
            mode: "server".into(),
            ..Settings::default()
        };
        assert!(odd.config().unwrap_err().to_string().contains("ZENOH_MODE"));
        let missing = Settings {
            file: Some("/nonexistent/zenoh.json5".into()),
            ..Settings::default()
        };
        assert!(missing
            .config()
            .unwrap_err()
            .to_string()
            .contains("ZENOH_CONFIG"));
    }

    #[test]
    fn a_session_answers_queries_with_the_newest_samples_and_forgets_deleted_keys() {
        let keys = Keys::new("wdp-test", "unit").unwrap();
        let (mut publisher, asker) = loopback(&keys);
        assert!(!publisher.locators().is_empty());
        publisher.put(
            &keys.state("lab"),
            b"{\"n\":1}".to_vec(),
            Encoding::APPLICATION_JSON,
        );
        publisher.put(
            &keys.state("lab"),
            b"{\"n\":2}".to_vec(),
            Encoding::APPLICATION_JSON,
        );
        publisher.put(
            &keys.person("lab", 3),
            b"{}".to_vec(),
            Encoding::APPLICATION_JSON,
        );
        publisher.delete(&keys.person("lab", 3));
        // The second session asks for everything.
        let replies = asker.get(keys.all()).wait().unwrap();
        let mut got = Vec::new();
        while let Ok(reply) = replies.recv() {
            let sample = reply.result().unwrap().clone();
            got.push((
                sample.key_expr().to_string(),
                sample.payload().try_to_string().unwrap().into_owned(),
                sample.encoding().to_string(),
            ));
        }
        assert_eq!(
            got,
            vec![(
                "wdp-test/unit/lab/state".to_owned(),
                "{\"n\":2}".to_owned(),
                "application/json".to_owned()
            )]
        );
        assert_eq!(
            publisher.stats(),
            Stats {
                puts: 3,
                deletes: 1,
                bytes: 16,
                errors: 0
            }
        );
        asker.close().wait().unwrap();
        publisher.close().unwrap();
    }
}
