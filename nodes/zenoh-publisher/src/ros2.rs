//! ROS 2 messages in CDR, the bytes a ROS 2 topic carries, so zenoh-bridge-ros2dds can hand
//! them to ROS 2 nodes unchanged (docs/ROS2.md): `std_msgs/msg/String` and
//! `geometry_msgs/msg/PoseArray`.
//!
//! The encoding is plain CDR, little-endian (encapsulation `00 01 00 00`): each primitive
//! aligned to its size from the start of the data after the 4-byte header, strings as a u32
//! length counting a NUL terminator, sequences as a u32 count.

/// A CDR little-endian buffer.
struct Cdr {
    out: Vec<u8>,
}

impl Cdr {
    fn new() -> Self {
        Self {
            out: vec![0x00, 0x01, 0x00, 0x00],
        }
    }

    /// Pads so that the next value of `size` bytes is aligned (relative to after the header).
    fn align(&mut self, size: usize) {
        while !(self.out.len() - 4).is_multiple_of(size) {
            self.out.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.align(4);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.align(4);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn f64(&mut self, v: f64) {
        self.align(8);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        // ROS strings carry no NUL inside; one would end the string early for the reader.
        let s = s.replace('\0', "");
        self.u32(s.len() as u32 + 1);
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(0);
    }

    /// `std_msgs/msg/Header`: the stamp from a capture time in ns (negative: 0), the frame.
    fn header(&mut self, t_ns: i64, frame_id: &str) {
        let t = t_ns.max(0);
        self.i32(i32::try_from(t / 1_000_000_000).unwrap_or(i32::MAX));
        self.u32((t % 1_000_000_000) as u32);
        self.string(frame_id);
    }

    fn point(&mut self, x: f64, y: f64, z: f64) {
        self.f64(x);
        self.f64(y);
        self.f64(z);
    }
}

/// `std_msgs/msg/String` carrying `text` (our JSON messages).
pub fn string(text: &str) -> Vec<u8> {
    let mut c = Cdr::new();
    c.string(text);
    c.out
}

/// `geometry_msgs/msg/PoseArray`: one pose per person at `(x, y, 0)` metres in `frame_id`,
/// identity orientation (the floor position says nothing of the heading).
pub fn pose_array(t_ns: i64, frame_id: &str, xy: &[[f64; 2]]) -> Vec<u8> {
    let mut c = Cdr::new();
    c.header(t_ns, frame_id);
    c.u32(xy.len() as u32);
    for &[x, y] in xy {
        c.point(x, y, 0.0);
        // Quaternion x, y, z, w.
        c.point(0.0, 0.0, 0.0);
        c.f64(1.0);
    }
    c.out
}

/// A name as one ROS 2 topic token: letters, digits and `_`, not starting with a digit,
/// no `__` (ROS 2's name rules).
pub fn token(name: &str) -> String {
    let mut t = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && t.ends_with('_') {
            continue;
        }
        t.push(c);
    }
    let t = t.trim_end_matches('_').to_owned();
    match t.chars().next() {
        None => "default".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("r{t}"),
        Some('_') => format!("r{t}"),
        Some(_) => t,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn strings_are_length_prefixed_and_terminated() {
        assert_eq!(string("hi"), [0, 1, 0, 0, 3, 0, 0, 0, b'h', b'i', 0]);
    }

    #[test]
    fn a_pose_array_is_laid_out_as_cdr_aligns_it() {
        let b = pose_array(1_500_000_000, "lab", &[[1.0, 2.0]]);
        // Header: sec 1, nanosec 5e8, frame "lab\0" (4 + 4 + 4 + 4 bytes).
        assert_eq!(&b[4..8], &1i32.to_le_bytes());
        assert_eq!(&b[8..12], &500_000_000u32.to_le_bytes());
        assert_eq!(&b[12..16], &4u32.to_le_bytes());
        assert_eq!(&b[16..20], b"lab\0");
        // One pose; its first f64 aligned to 8 from the data's start (offset 24 - 4 = 20 ->
        // padded to 24).
        assert_eq!(&b[20..24], &1u32.to_le_bytes());
        assert_eq!(&b[28..36], &1.0f64.to_le_bytes());
        assert_eq!(&b[36..44], &2.0f64.to_le_bytes());
        assert_eq!(&b[b.len() - 8..], &1.0f64.to_le_bytes());
        assert_eq!(b.len(), 28 + 7 * 8);
    }

    #[test]
    fn names_become_ros_tokens() {
        assert_eq!(token("living-room"), "living_room");
        assert_eq!(token("2nd floor"), "r2nd_floor");
        assert_eq!(token("a--b_"), "a_b");
        assert_eq!(token(""), "default");
        assert_eq!(token("__x"), "r_x");
    }
}
