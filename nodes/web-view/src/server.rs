//! The HTTP and WebSocket server: the page and its assets (in the binary), `/state.json`,
//! `/ws`, which sends each browser the newest [`ViewState`] whenever it changes, and
//! `/frame/<room>`, the room's newest camera frame as PNG.
//!
//! The state lives in a `tokio::sync::watch` channel: it holds only the latest value, so a
//! browser that reads slower than the frames come skips to the newest one instead of building
//! a queue, and the node never waits for a browser.

use crate::ViewState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use eyre::{eyre, Result, WrapErr};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The page's script.
pub const APP_JS: &str = include_str!("../assets/app.js");
/// The page's style.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

/// One published state, serialized once, the first time a browser asks for it.
#[derive(Debug, Default)]
struct Snapshot {
    view: ViewState,
    json: OnceLock<String>,
}

impl Snapshot {
    fn json(&self) -> &str {
        self.json.get_or_init(|| {
            serde_json::to_string(&self.view).unwrap_or_else(|e| {
                tracing::warn!("web-view: state not serializable: {e}");
                "{}".to_owned()
            })
        })
    }
}

/// The server's counters, also in `/state.json` under `server`.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicU64,
    open: AtomicU64,
    sent: AtomicU64,
    skipped: AtomicU64,
}

/// A copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsView {
    /// WebSocket connections accepted so far.
    pub connections: u64,
    /// WebSocket connections open now.
    pub open: u64,
    /// States sent over WebSockets.
    pub sent: u64,
    /// Frames a browser did not get because a newer one was there when it was ready (a slow
    /// browser skips frames instead of queueing them).
    pub skipped: u64,
}

impl Stats {
    /// The counters now.
    pub fn view(&self) -> StatsView {
        StatsView {
            connections: self.connections.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }
}

/// Each room's newest camera frame, PNG bytes: only the newest is kept, never a queue.
type Frames = Arc<Mutex<BTreeMap<String, Arc<Vec<u8>>>>>;

#[derive(Clone)]
struct App {
    state: watch::Receiver<Arc<Snapshot>>,
    stats: Arc<Stats>,
    frames: Frames,
}

/// A running server (its own thread and Tokio runtime; the dora event loop stays outside
/// Tokio).
pub struct Server {
    addr: SocketAddr,
    state: Option<watch::Sender<Arc<Snapshot>>>,
    stats: Arc<Stats>,
    frames: Frames,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (port 0: any free port) and serves from a thread of its own.
    pub fn start(addr: SocketAddr) -> Result<Self> {
        let listener =
            std::net::TcpListener::bind(addr).wrap_err_with(|| format!("binding {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        let stats = Arc::new(Stats::default());
        let frames = Frames::default();
        let app = App {
            state: rx,
            stats: stats.clone(),
            frames: frames.clone(),
        };
        let (shutdown, stop) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("web-view")
            .enable_io()
            .enable_time()
            .build()
            .wrap_err("starting the web server's runtime")?;
        let thread = std::thread::Builder::new()
            .name("web-view".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            wdp_node::announce(&format!("web-view: listening on {addr}: {e}"));
                            return;
                        }
                    };
                    let served = axum::serve(listener, router(app))
                        .with_graceful_shutdown(async {
                            let _ = stop.await;
                        })
                        .await;
                    if let Err(e) = served {
                        wdp_node::announce(&format!("web-view: server: {e}"));
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Self {
            addr,
            state: Some(tx),
            stats,
            frames,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Makes `view` the state every browser gets next (replacing one not yet sent).
    pub fn publish(&self, view: ViewState) {
        if let Some(tx) = &self.state {
            tx.send_replace(Arc::new(Snapshot {
                view,
                json: OnceLock::new(),
            }));
        }
    }

    /// Makes `png` the camera frame `/frame/<room>` serves next (replacing the previous one).
    pub fn publish_frame(&self, room: &str, png: Vec<u8>) {
        if let Ok(mut frames) = self.frames.lock() {
            frames.insert(room.to_owned(), Arc::new(png));
        }
    }

    /// The counters now.
    pub fn stats(&self) -> StatsView {
        self.stats.view()
    }

    /// Closes every WebSocket, stops serving and waits for the server's thread.
    pub fn stop(&mut self) -> Result<()> {
        // Dropping the sender ends every client's loop (its `changed()` fails).
        self.state = None;
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| eyre!("the web server's thread panicked"))?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/state.json", get(state_json))
        .route("/frame/{room}", get(frame))
        .route("/ws", get(ws))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(app)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn state_json(State(app): State<App>) -> Response {
    let snapshot = app.state.borrow().clone();
    let body = format!(
        "{{\"server\":{},\"state\":{}}}",
        serde_json::to_string(&app.stats.view()).unwrap_or_else(|_| "{}".into()),
        snapshot.json()
    );
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn frame(Path(room): Path<String>, State(app): State<App>) -> Response {
    let png = app.frames.lock().ok().and_then(|f| f.get(&room).cloned());
    match png {
        Some(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            png.as_ref().clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no camera frame for this room\n").into_response(),
    }
}

async fn ws(upgrade: WebSocketUpgrade, State(app): State<App>) -> Response {
    upgrade.on_upgrade(move |socket| client(socket, app))
}

/// One browser: the newest state whenever it changes, until either side closes.
async fn client(mut socket: WebSocket, app: App) {
    app.stats.connections.fetch_add(1, Ordering::Relaxed);
    app.stats.open.fetch_add(1, Ordering::Relaxed);
    let mut state = app.state.clone();
    // The current state at once, not only the next one.
    state.mark_changed();
    let mut last_frames: Option<u64> = None;
    loop {
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    // The node is stopping.
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                let snapshot = state.borrow_and_update().clone();
                let frames = snapshot.view.frames;
                if let Some(last) = last_frames {
                    let skipped = frames.saturating_sub(last).saturating_sub(1);
                    app.stats.skipped.fetch_add(skipped, Ordering::Relaxed);
                }
                last_frames = Some(frames);
                let text = snapshot.json().to_owned();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
                app.stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    app.stats.open.fetch_sub(1, Ordering::Relaxed);
}
