//! Frame inputs: a capture file, or a live radio read on its own thread so that the node's
//! event loop never blocks on the device.

use crate::config::LiveInput;
use eyre::{Context, Result};
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;
use wdp_csi::{CaptureFormat, CsiFrame, FrameReader, LiveDecoder, ReadOptions, ReadStats};

/// What the input has for the event loop.
pub enum Next {
    /// A frame.
    Frame(CsiFrame),
    /// Nothing yet; check for events and ask again.
    Idle,
    /// The input ended (end of file, closed device, or a fatal error already logged).
    End,
}

/// A live radio: a thread decodes its bytes and hands frames over a channel.
pub struct Live {
    frames: Receiver<CsiFrame>,
    stats: Receiver<ReadStats>,
    last_stats: ReadStats,
}

impl Live {
    /// Starts reading `input` as `format`.
    pub fn start(input: LiveInput, format: CaptureFormat, options: ReadOptions) -> Result<Self> {
        let mut decoder = LiveDecoder::new(format, options).map_err(|e| eyre::eyre!(e))?;
        let (frame_tx, frames) = mpsc::sync_channel::<CsiFrame>(1024);
        let (stats_tx, stats) = mpsc::channel();
        let emit = move |batch: Vec<CsiFrame>, decoder: &LiveDecoder| {
            // Keep the newest counts available to the event loop.
            let _ = stats_tx.send(decoder.stats().clone());
            batch.into_iter().all(|f| frame_tx.send(f).is_ok())
        };
        match input {
            LiveInput::Udp(addr) => {
                let socket = std::net::UdpSocket::bind(&addr)
                    .wrap_err_with(|| format!("INPUT=udp:{addr}: cannot bind"))?;
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65_536];
                    while let Ok(n) = socket.recv(&mut buf) {
                        let batch = decoder.push_datagram(&buf[..n]);
                        if !emit(batch, &decoder) {
                            break;
                        }
                    }
                });
            }
            LiveInput::Serial { device, baud } => {
                let port = serialport::new(&device, baud)
                    .timeout(Duration::from_secs(3600))
                    .open()
                    .wrap_err_with(|| format!("INPUT=serial:{device}: cannot open"))?;
                spawn_lines(BufReader::new(port), decoder, emit);
            }
            LiveInput::Stdin => spawn_lines(BufReader::new(std::io::stdin()), decoder, emit),
        }
        Ok(Self {
            frames,
            stats,
            last_stats: ReadStats::default(),
        })
    }

    /// The next frame, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Next {
        match self.frames.recv_timeout(wait) {
            Ok(frame) => Next::Frame(frame),
            Err(RecvTimeoutError::Timeout) => Next::Idle,
            Err(RecvTimeoutError::Disconnected) => Next::End,
        }
    }

    /// Counts reported by the decoding thread.
    pub fn stats(&mut self) -> &ReadStats {
        while let Ok(s) = self.stats.try_recv() {
            self.last_stats = s;
        }
        &self.last_stats
    }
}

fn spawn_lines<R: Read + Send + 'static>(
    mut input: BufReader<R>,
    mut decoder: LiveDecoder,
    mut emit: impl FnMut(Vec<CsiFrame>, &LiveDecoder) -> bool + Send + 'static,
) {
    std::thread::spawn(move || {
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let batch = decoder.push_line(&text).into_iter().collect();
                    if !emit(batch, &decoder) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) => {
                    tracing::error!("live input failed: {e}");
                    break;
                }
            }
        }
    });
}

/// The next frame of a capture file; a fatal read error is logged and ends the input.
pub fn next_from_file(reader: &mut dyn FrameReader) -> Next {
    match reader.next_frame() {
        Some(Ok(frame)) => Next::Frame(frame),
        Some(Err(e)) => {
            tracing::error!("{e}");
            Next::End
        }
        None => Next::End,
    }
}
