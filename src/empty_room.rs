//! `wdp empty-room`: record the empty room's background for the locator's still image.

use eyre::{bail, eyre, Result, WrapErr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wdp_csi::{NexmonChip, ReadOptions};
use wdp_locate::{Background, Locator, LocatorSettings, RadioGeometry};

/// Arguments of `wdp empty-room`.
#[derive(clap::Args)]
pub struct Args {
    /// A capture of the room with nobody in it (any format `wdp inspect` reads).
    capture: PathBuf,
    /// The radio's antennas in the room (YAML of `tx`, `rx`, `carrier_hz`, `room_m`, as
    /// csi-locate's `RADIO_GEOMETRY`).
    #[arg(long, value_name = "YAML")]
    geometry: PathBuf,
    /// Where to write the background (csi-locate's `EMPTY_ROOM`).
    #[arg(long, value_name = "YAML")]
    out: PathBuf,
    /// The locator's settings (csi-locate's `WDP_LOCATOR_CONFIG`); the defaults otherwise.
    #[arg(long, value_name = "YAML")]
    locator: Option<PathBuf>,
    /// Also report how far another capture of the same radio is from the background (its
    /// windows' residual share): a room with people in it is far above the empty room's own.
    #[arg(long, value_name = "CAPTURE")]
    compare: Option<PathBuf>,
    /// Force the format instead of detecting it.
    #[arg(long)]
    format: Option<String>,
    /// Nexmon chip (4339, 43455c0, 4358, 4366c0) when the file does not identify it.
    #[arg(long)]
    nexmon_chip: Option<NexmonChip>,
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))
}

/// Runs every frame of `capture` through `each` (a locator built for its first frame's
/// subcarriers); frames of another layout than the first's are an error naming the packet.
fn replay(
    args: &Args,
    capture: &Path,
    geometry: &RadioGeometry,
    settings: &LocatorSettings,
    mut each: impl FnMut(&mut Locator, &wdp_csi::dsp::Packet<'_>) -> Result<()>,
) -> Result<(usize, wdp_csi::ReadStats)> {
    let options = ReadOptions {
        format: crate::inspect::parse_format(args.format.as_deref())?,
        nexmon_chip: args.nexmon_chip,
        ..ReadOptions::default()
    };
    let mut reader = wdp_csi::open(capture, &options)?;
    let mut locator: Option<(Vec<i32>, Locator)> = None;
    let mut packets = 0;
    while let Some(next) = reader.next_frame() {
        let frame = next.wrap_err_with(|| format!("{}", capture.display()))?;
        packets += 1;
        let packet = wdp_locate::packet_of(&frame);
        let (subcarriers, l) = match &mut locator {
            Some(l) => l,
            None => locator.insert((
                frame.subcarriers.clone(),
                Locator::new(geometry, &frame.subcarriers, settings)
                    .wrap_err_with(|| format!("{}: locator", capture.display()))?,
            )),
        };
        if *subcarriers != frame.subcarriers {
            bail!(
                "{} packet {packets}: subcarriers changed from the first packet's",
                capture.display()
            );
        }
        each(l, &packet).wrap_err_with(|| format!("{} packet {packets}", capture.display()))?;
    }
    Ok((packets, reader.stats().clone()))
}

/// The median residual share of `capture`'s windows against `background`.
fn median_share(
    args: &Args,
    capture: &Path,
    geometry: &RadioGeometry,
    settings: &LocatorSettings,
    background: &Background,
) -> Result<(f64, usize)> {
    let mut shares = Vec::new();
    replay(args, capture, geometry, settings, |l, p| {
        if l.background().is_none() {
            l.set_background(background.clone())?;
        }
        if let Some(located) = l.push(p)? {
            shares.push(located.still.map_or(0.0, |m| f64::from(m.share)));
        }
        Ok(())
    })?;
    shares.sort_by(f64::total_cmp);
    let median = shares
        .get(shares.len() / 2)
        .copied()
        .ok_or_else(|| eyre!("{}: no window", capture.display()))?;
    Ok((median, shares.len()))
}

pub fn empty_room(args: &Args) -> Result<ExitCode> {
    let geometry = RadioGeometry::from_yaml_str(&read_text(&args.geometry)?)
        .wrap_err_with(|| args.geometry.display().to_string())?;
    let settings = match &args.locator {
        Some(path) => LocatorSettings::from_yaml_str(&read_text(path)?)
            .wrap_err_with(|| path.display().to_string())?,
        None => LocatorSettings::default(),
    };
    let mut builder = None;
    let (packets, stats) = replay(args, &args.capture, &geometry, &settings, |l, p| {
        let b = builder.get_or_insert_with(|| l.background_builder());
        Ok(l.calibrate(p, b)?)
    })?;
    let background = builder
        .and_then(|b| b.finish())
        .ok_or_else(|| eyre!("{}: too short for one window", args.capture.display()))?;
    std::fs::write(&args.out, background.to_yaml())
        .wrap_err_with(|| format!("writing {}", args.out.display()))?;
    let (own, windows) = median_share(args, &args.capture, &geometry, &settings, &background)?;
    eprintln!(
        "wdp empty-room: {packets} packets read ({} corrupt skipped), {} windows averaged into {} \
         ({} links x {} subcarriers); the recording's own windows leave a median residual share \
         of {own:.2e} ({windows} windows)",
        stats.skipped_total(),
        background.windows,
        args.out.display(),
        background.links,
        background.subcarriers.len()
    );
    if let Some(other) = &args.compare {
        let (share, windows) = median_share(args, other, &geometry, &settings, &background)?;
        eprintln!(
            "wdp empty-room: {} leaves a median residual share of {share:.2e} ({windows} windows), \
             {:.1}x the empty room's own",
            other.display(),
            share / own.max(f64::MIN_POSITIVE)
        );
    }
    Ok(ExitCode::SUCCESS)
}
