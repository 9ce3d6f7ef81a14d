//! Configuration from the `env:` block of the dataflow YAML.

use eyre::{bail, eyre, Context, Result};
use std::path::PathBuf;
use std::str::FromStr;
use wdp_csi::{CaptureFormat, Endian, NexmonChip, ReadOptions};

/// Where frames come from.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Replay a capture file.
    File {
        /// The capture.
        capture: PathBuf,
        /// Replay speed relative to the recorded timing; `None` is as fast as possible.
        speed: Option<f64>,
        /// Start again at the end.
        looping: bool,
    },
    /// Run the simulator: packets exactly as a reader gives them, plus camera ground truth.
    Sim {
        /// The scene (a preset name or a scene file); boxed, it is large.
        scene: Box<wdp_sim::Scene>,
        /// Speed relative to real time; `None` is as fast as possible.
        speed: Option<f64>,
    },
    /// Read a live radio.
    Live {
        /// `serial:DEVICE[@BAUD]`, `udp:ADDR:PORT` or `stdin`.
        input: LiveInput,
        /// The format of what arrives.
        format: CaptureFormat,
    },
}

/// A live input.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveInput {
    /// A serial device and its baud rate.
    Serial {
        /// Device path.
        device: String,
        /// Baud rate.
        baud: u32,
    },
    /// A UDP socket to bind.
    Udp(String),
    /// Standard input.
    Stdin,
}

impl FromStr for LiveInput {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "stdin" || s == "-" {
            Ok(Self::Stdin)
        } else if let Some(rest) = s.strip_prefix("serial:") {
            let (device, baud) = match rest.rsplit_once('@') {
                Some((d, b)) => (d, b.parse().map_err(|_| format!("bad baud rate '{b}'"))?),
                None => (rest, 921_600),
            };
            Ok(Self::Serial {
                device: device.into(),
                baud,
            })
        } else if let Some(addr) = s.strip_prefix("udp:") {
            Ok(Self::Udp(addr.into()))
        } else {
            Err(format!(
                "'{s}' is not serial:DEVICE[@BAUD], udp:ADDR:PORT or stdin"
            ))
        }
    }
}

/// The node's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Source of frames.
    pub mode: Mode,
    /// Reader options (format, chip, byte order).
    pub read: ReadOptions,
    /// Room name put on every message.
    pub room: String,
    /// Link name put on every message.
    pub link: String,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
}

use wdp_node::env::{parse, var};

fn format_from(name: &str, value: &str) -> Result<CaptureFormat> {
    CaptureFormat::from_name(value).ok_or_else(|| {
        eyre!("{name}={value}: unknown format (intel5300, atheros, nexmon, esp32, picoscenes)")
    })
}

impl Config {
    /// Reads the configuration from environment variables, naming the variable in every error.
    pub fn from_env() -> Result<Self> {
        let mut read = ReadOptions {
            format: var("FORMAT")
                .map(|f| format_from("FORMAT", &f))
                .transpose()?,
            nexmon_chip: parse::<NexmonChip>("NEXMON_CHIP")?,
            nexmon_bandwidth_mhz: parse("NEXMON_BANDWIDTH_MHZ")?,
            endian: None,
        };
        read.endian = match var("ENDIAN").as_deref() {
            None => None,
            Some("little") => Some(Endian::Little),
            Some("big") => Some(Endian::Big),
            Some(other) => bail!("ENDIAN={other}: expected little or big"),
        };
        let speed = || -> Result<Option<f64>> {
            let speed = match var("PACING").as_deref().unwrap_or("recorded") {
                "recorded" => Some(parse::<f64>("SPEED")?.unwrap_or(1.0)),
                "fast" => None,
                other => bail!("PACING={other}: expected recorded or fast"),
            };
            if matches!(speed, Some(s) if !(s > 0.0 && s.is_finite())) {
                bail!("SPEED must be a positive number");
            }
            Ok(speed)
        };
        let mode = match var("MODE").as_deref().unwrap_or("file") {
            "sim" => Mode::Sim {
                scene: Box::new(scene_from_env()?),
                speed: speed()?,
            },
            "file" => {
                let capture = var("CAPTURE")
                    .ok_or_else(|| eyre!("CAPTURE is not set: the capture file to replay"))?;
                let speed = speed()?;
                Mode::File {
                    // dora starts nodes in the dataflow's folder: relative paths are from there.
                    capture: PathBuf::from(capture),
                    speed,
                    looping: parse::<bool>("LOOP")?.unwrap_or(false),
                }
            }
            "live" => {
                let input = var("INPUT")
                    .ok_or_else(|| {
                        eyre!("INPUT is not set: serial:DEVICE[@BAUD], udp:ADDR:PORT or stdin")
                    })?
                    .parse::<LiveInput>()
                    .map_err(|e| eyre!("INPUT: {e}"))?;
                let format = match read.format {
                    Some(f) => f,
                    None => format_from("FORMAT", "esp32")?,
                };
                Mode::Live { input, format }
            }
            other => bail!("MODE={other}: expected file, live or sim"),
        };
        let mode_room = match &mode {
            Mode::Sim { scene, .. } => Some(scene.name.clone()),
            _ => None,
        };
        Ok(Self {
            mode,
            read,
            room: var("ROOM").unwrap_or_else(|| match &mode_room {
                Some(name) => name.clone(),
                None => "default".into(),
            }),
            link: var("LINK").unwrap_or_else(|| "link0".into()),
            max_frames: parse("MAX_FRAMES").wrap_err("MAX_FRAMES")?,
        })
    }
}

/// The simulated scene: `SCENE` is a preset name or a scene file (default `lab`); `SEED`,
/// `DURATION_S` and `RGB` override the scene's own settings.
fn scene_from_env() -> Result<wdp_sim::Scene> {
    let name = var("SCENE").unwrap_or_else(|| "lab".into());
    let mut scene = wdp_sim::Scene::load(&name, wdp_node::env::dataflow_path)
        .map_err(|e| eyre!("SCENE={name}: {e}"))?;
    if let Some(seed) = parse("SEED")? {
        scene.seed = seed;
    }
    if let Some(duration) = parse::<f64>("DURATION_S")? {
        scene.duration_s = Some(duration);
    }
    if let Some(rgb) = parse::<bool>("RGB")? {
        match scene.camera.as_mut() {
            Some(camera) => camera.rgb = rgb,
            None => bail!("RGB is set but scene {name} has no camera"),
        }
    }
    Ok(scene)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_inputs_parse() {
        assert_eq!(
            "serial:/dev/ttyUSB0@115200".parse::<LiveInput>(),
            Ok(LiveInput::Serial {
                device: "/dev/ttyUSB0".into(),
                baud: 115_200
            })
        );
        assert_eq!(
            "udp:0.0.0.0:5500".parse(),
            Ok(LiveInput::Udp("0.0.0.0:5500".into()))
        );
        assert_eq!("stdin".parse(), Ok(LiveInput::Stdin));
        assert!("tcp:1".parse::<LiveInput>().is_err());
    }
}
