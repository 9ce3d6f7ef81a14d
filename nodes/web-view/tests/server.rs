//! The server on its own, with real HTTP and WebSocket clients: the page and its assets (all
//! from the binary, none pointing elsewhere), `/state.json`, and a browser too slow for the
//! frames getting the newest state while the frames in between are skipped, never queued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use wdp_pose::{Person, PoseFrame};
use wdp_tensor::TensorMeta;
use web_view::{Board, Server};

/// GET `path`: the response head and body, raw.
fn get_raw(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    (head, bytes[split + 4..].to_vec())
}

/// GET `path`: the response head and body as text.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let (head, body) = get_raw(addr, path);
    (head, String::from_utf8(body).unwrap())
}

fn server() -> Server {
    Server::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

#[test]
fn serves_the_page_and_its_assets_from_the_binary() {
    let server = server();
    let addr = server.addr();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let (head, page) = get(addr, "/");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("content-type: text/html"),
        "{head}"
    );
    assert!(page.contains(r#"<script src="/app.js">"#), "{page}");
    assert!(page.contains(r#"href="/style.css""#), "{page}");
    let (head, js) = get(addr, "/app.js");
    assert!(
        head.to_lowercase()
            .contains("content-type: text/javascript"),
        "{head}"
    );
    assert!(js.contains("new WebSocket"));
    let (head, css) = get(addr, "/style.css");
    assert!(
        head.to_lowercase().contains("content-type: text/css"),
        "{head}"
    );
    // Nothing refers to another host: no CDN, no font service.
    for (name, text) in [("page", &page), ("app.js", &js), ("style.css", &css)] {
        for needle in ["http://", "https://", "//cdn", "@import"] {
            assert!(!text.contains(needle), "{name} has {needle}");
        }
    }
    let (head, _) = get(addr, "/favicon.ico");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

fn crowd(seq: u64, people: usize) -> PoseFrame {
    let base = TensorMeta::new::<&str>(&[], [])
        .with_seq(seq)
        .with_room("lab");
    let mut p = Person::from_box([1.0, 2.0, 30.0, 90.0, 0.7]);
    p.floor_m = Some([1.0, 2.0]);
    let mut f = PoseFrame::new(&base, vec![p; people]);
    f.image_wh = Some([128, 96]);
    f
}

fn text(m: tungstenite::Message) -> Option<Value> {
    match m {
        tungstenite::Message::Text(t) => Some(serde_json::from_str(t.as_str()).unwrap()),
        _ => None,
    }
}

#[test]
fn a_slow_browser_skips_to_the_newest_state_instead_of_queueing() {
    let mut server = server();
    let addr = server.addr();
    let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/ws")).unwrap();
    // The state at connection time comes at once.
    let first = text(ws.read().unwrap()).unwrap();
    assert_eq!(first["frames"], 0);

    // 300 frames of ~0.4 MB each, far more than socket buffers hold, while the browser reads
    // nothing: publishing never waits for it.
    let frames = 300u64;
    let mut board = Board::new();
    for seq in 1..=frames {
        board.frame(&crowd(seq, 1000), seq as i64 * 50_000_000);
        server.publish(board.view());
    }
    // Now it reads: states in order, the newest last, most of the ones between never sent.
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(60);
    while got.last() != Some(&frames) {
        assert!(Instant::now() < end, "newest state never came: {got:?}");
        if let Some(v) = text(ws.read().unwrap()) {
            got.push(v["frames"].as_u64().unwrap());
        }
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    assert!(
        (got.len() as u64) < frames / 2,
        "{} of {frames} states sent to a browser that did not read",
        got.len()
    );
    let (_, body) = get(addr, "/state.json");
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["state"]["frames"], frames);
    assert_eq!(
        state["state"]["rooms"]["lab"]["people"]
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    let s = &state["server"];
    assert_eq!(s["connections"], 1);
    assert_eq!(s["open"], 1);
    assert_eq!(
        s["skipped"].as_u64().unwrap() + s["sent"].as_u64().unwrap(),
        frames + 1,
        "{s}"
    );

    // Stopping the server closes the browser's socket.
    server.stop().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            Ok(_) => assert!(Instant::now() < end, "no close"),
        }
    }
}

/// A published camera frame is served as the room's PNG, the newest replacing the one before;
/// a room without one gets 404.
#[test]
fn serves_each_rooms_newest_camera_frame() {
    let server = server();
    let addr = server.addr();
    let raw = |path: &str| {
        let (head, body) = get_raw(addr, path);
        (head.to_lowercase(), body)
    };
    assert!(raw("/frame/lab").0.starts_with("http/1.1 404"));
    server.publish_frame("lab", b"\x89PNG first".to_vec());
    server.publish_frame("lab", b"\x89PNG second".to_vec());
    let (head, body) = raw("/frame/lab");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert_eq!(body, b"\x89PNG second");
    assert!(raw("/frame/kitchen").0.starts_with("http/1.1 404"));
}
