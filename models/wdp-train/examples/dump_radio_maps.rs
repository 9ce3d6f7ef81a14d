//! The radio's floor images of every kept frame with the people's floor positions, for
//! experiments outside Rust (`scripts/radio_map_refiner.py`): per frame, the room (index in
//! lab, office, living-room, kitchen, corridor, bedroom; 255 for another), the number of people
//! `n`, their `n` `(x, y)` positions in metres, then two maps of the locator's default grid (32 x 24 cells of 0.25 m, row-major, y then x):
//! both images (moving and still, what the model weighs in) and the moving image alone (zeros
//! when a window had nothing to image). Little-endian u8, u8, f32.
//!
//! ```text
//! cargo run --release -p wdp-train --example dump_radio_maps -- OUT.bin EVERY <sequence folders>...
//! ```
use eyre::{eyre, Result};
use std::io::Write;
use wdp_train::{load_datasets, LoadOptions};

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err(eyre!("usage: dump_radio_maps OUT.bin EVERY SEQUENCE..."));
    }
    let out = args.remove(0);
    let every: usize = args.remove(0).parse()?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let rooms = [
        "lab",
        "office",
        "living-room",
        "kitchen",
        "corridor",
        "bedroom",
    ];
    let grid = wdp_locate::LocatorSettings::default().grid;
    let cells = grid.cells[0] * grid.cells[1];
    for dir in &args {
        let mut loads = Vec::new();
        for empty in [10.0, 0.0] {
            let options = LoadOptions {
                labels_only: true,
                every,
                locator: Some(wdp_locate::LocatorSettings {
                    empty_room_s: empty,
                    ..Default::default()
                }),
                ..LoadOptions::default()
            };
            loads.push(load_datasets(&[dir.into()], &options)?);
        }
        for (a, b) in loads[0].iter().zip(&loads[1]) {
            if a.t_ns != b.t_ns {
                return Err(eyre!("{dir}: the two loads kept different frames"));
            }
            let room = rooms.iter().position(|r| *r == a.room).unwrap_or(255) as u8;
            let pos: Vec<[f32; 3]> = a.people.iter().filter_map(|p| p.position_m).collect();
            f.write_all(&[room, pos.len() as u8])?;
            for p in &pos {
                f.write_all(&p[0].to_le_bytes())?;
                f.write_all(&p[1].to_le_bytes())?;
            }
            for m in [&a.radio_map, &b.radio_map] {
                let z = vec![0f32; cells];
                for v in m.as_ref().unwrap_or(&z) {
                    f.write_all(&v.to_le_bytes())?;
                }
            }
        }
    }
    Ok(())
}
