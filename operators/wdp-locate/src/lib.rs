//! Where on the floor the radio's change comes from, from the room's antenna geometry alone.
//!
//! A person moving in a room changes the channel of every antenna pair (link) through the paths
//! that bounce off them. Once every packet is brought to one phase (the `align` preprocessing
//! step: the card's random phase, CFO and STO removed, the differences between antennas kept),
//! the dominant change over a window, its *signature* (the first right singular vector of the
//! window with its mean removed), carries, for each link `l` and subcarrier `k`, the phase
//! `-2 pi f_k L_l(p) / c` of the path `tx_i -> p -> rx_j` through the person at `p`. The matched
//! filter of that phase at every candidate floor point (summed in power over subcarriers) peaks
//! where the person is: a delay-and-sum (back-projection) image over the floor, with nothing
//! learnt from any room.
//!
//! [`Locator`] runs the whole thing on a packet stream (its own preprocessing, then the image of
//! every window); [`BackProjector`] computes the image on a floor grid of cells (the model's floor head's grid),
//! [`FloorMap`] holds it, normalised to its peak, with its best point. It needs the antenna
//! positions ([`RadioGeometry`], the simulator scene's `tx`/`rx` form, so a scene and a real
//! deployment describe their radios the same way) and the window's subcarrier indices.

mod background;
mod backproject;
mod calibrate;
mod geometry;
mod locator;
mod signature;

pub use background::{Background, BackgroundBuilder};
pub use backproject::{BackProjector, FloorMap, LocatorConfig};
pub use calibrate::{packet_of, simulated_background};
pub use geometry::RadioGeometry;
pub use locator::{Located, Locator, LocatorSettings};
pub use signature::{signatures, Signature};

/// Why a locator could not be built or could not read a window.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// A configuration value is out of range; names the field.
    #[error("{field}: {reason}")]
    Config {
        /// The field, e.g. `locator.cell_m`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A window does not have the layout the locator was built for.
    #[error("window {field}: {reason}")]
    Window {
        /// The mismatching dimension, e.g. `links`.
        field: &'static str,
        /// Expected against found.
        reason: String,
    },
}

impl LocateError {
    pub(crate) fn config(field: &str, reason: impl Into<String>) -> Self {
        Self::Config {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
