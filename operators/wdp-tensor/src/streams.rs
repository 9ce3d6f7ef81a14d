//! The streams of the contract (docs/CONTRACT.md) and the dora type each is declared with in a
//! dataflow's `output_types:` and `input_types:`. A tensor or JSON stream is dora's standard
//! element type with the stream's id as a parameter, `std/core/v1/Float32[stream=window]`:
//! `dora validate --strict-types` then refuses a `window` wired into an input that wants `csi`
//! (same element type, other stream), and a node run with `DORA_RUNTIME_TYPE_CHECK=error` fails
//! a send whose Arrow type is not its output's. `labels`, a struct, is the project's own type
//! (`dataflows/types/wdp/v1.yml`).

/// Every stream id of the contract with its Arrow element type (`Struct` for `labels`).
pub const STREAMS: &[(&str, &str)] = &[
    ("csi", "Float32"),
    ("window", "Float32"),
    ("spectrogram", "Float32"),
    ("stats", "Float32"),
    ("features", "Float32"),
    ("radio_map", "Float32"),
    ("spatial", "Float32"),
    ("locator", "Float32"),
    ("count", "Float32"),
    ("floor", "Float32"),
    ("keypoints", "Float32"),
    ("boxes", "Float32"),
    ("parts", "UInt8"),
    ("uv", "Float32"),
    ("frame", "UInt8"),
    ("loss", "Float32"),
    ("labels", "Struct"),
    ("room_state", "String"),
    ("building_state", "String"),
    ("events", "String"),
];

/// The dora type URN a port carrying `stream` is declared with, or `None` for a stream the
/// contract does not have.
///
/// ```
/// assert_eq!(
///     wdp_tensor::streams::dora_type("window").as_deref(),
///     Some("std/core/v1/Float32[stream=window]")
/// );
/// assert_eq!(wdp_tensor::streams::dora_type("labels").as_deref(), Some("wdp/v1/Labels"));
/// assert_eq!(wdp_tensor::streams::dora_type("pictures"), None);
/// ```
pub fn dora_type(stream: &str) -> Option<String> {
    let (_, element) = STREAMS.iter().find(|(id, _)| *id == stream)?;
    Some(match *element {
        "Struct" => "wdp/v1/Labels".to_owned(),
        element => format!("std/core/v1/{element}[stream={stream}]"),
    })
}
