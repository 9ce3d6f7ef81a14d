//! The streams of the contract (docs/CONTRACT.md) and the dora type each is declared with in a
//! dataflow's `output_types:` and `input_types:`. A tensor or JSON stream is dora's standard
//! element type with the stream's id as a parameter, `std/core/v1/Float32[stream=window]`:
//! `dora validate --strict-types` then refuses a `window` wired into an input that wants `csi`
//! (same element type, other stream), and a node run with `DORA_RUNTIME_TYPE_CHECK=error` fails
//! a send whose Arrow type is not its output's. `labels`, a struct, is the project's own type
//! (`dataflows/types/wdp/v1.yml`).

/// Every stream id of the contract with the dora type its ports carry: a standard element type
/// (the stream id is added as a parameter), or the project's own type for a struct.
pub const STREAMS: &[(&str, &str)] = &[
    ("csi", "std/core/v1/Float32"),
    ("window", "std/core/v1/Float32"),
    ("spectrogram", "std/core/v1/Float32"),
    ("stats", "std/core/v1/Float32"),
    ("features", "std/core/v1/Float32"),
    ("radio_map", "std/core/v1/Float32"),
    ("spatial", "std/core/v1/Float32"),
    ("locator", "std/core/v1/Float32"),
    ("count", "std/core/v1/Float32"),
    ("floor", "std/core/v1/Float32"),
    ("keypoints", "std/core/v1/Float32"),
    ("boxes", "std/core/v1/Float32"),
    ("parts", "std/core/v1/UInt8"),
    ("uv", "std/core/v1/Float32"),
    ("frame", "std/core/v1/UInt8"),
    ("loss", "std/core/v1/Float32"),
    ("labels", "wdp/v1/Labels"),
    ("room_state", "std/core/v1/String"),
    ("building_state", "std/core/v1/String"),
    ("events", "std/core/v1/String"),
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
    let (_, urn) = STREAMS.iter().find(|(id, _)| *id == stream)?;
    Some(if urn.starts_with("std/") {
        format!("{urn}[stream={stream}]")
    } else {
        (*urn).to_owned()
    })
}
