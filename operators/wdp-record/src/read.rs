//! Reading recordings back (for tests, the `wdp` tool and training data loaders).

use crate::write::parts;
use crate::RecordError;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::reader::{FileReader, StreamReader};
use std::fs::File;
use std::path::Path;
use wdp_tensor::TensorMeta;

/// One recorded message.
#[derive(Debug, Clone)]
pub struct Record {
    /// Metadata: shape, dims, time, origin (extras are in `meta_json`).
    pub meta: TensorMeta,
    /// Every other parameter as the JSON object it was stored as.
    pub meta_json: serde_json::Value,
    /// The values (a primitive array of the input's element type).
    pub values: ArrayRef,
}

/// Reads every completed file of one input folder (`<recording>/<input>`), in order.
pub fn read_dir(dir: impl AsRef<Path>) -> Result<Vec<Record>, RecordError> {
    let mut records = Vec::new();
    for file in parts(dir.as_ref())? {
        records.extend(read_file(&file)?);
    }
    Ok(records)
}

/// Reads one recording file.
pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<Record>, RecordError> {
    let path = path.as_ref().to_path_buf();
    let file = File::open(&path).map_err(|source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = FileReader::try_new(file, None).map_err(|source| RecordError::Arrow {
        path: path.to_path_buf(),
        source,
    })?;
    let mut records = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|source| RecordError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        records.extend(rows(&batch, &path)?);
    }
    Ok(records)
}

/// Reads what a recorder stopped mid-file (killed, or its machine lost power after the OS wrote
/// the file) left in a `.partial` file: every batch it flushed. Such a file has no footer, so it
/// is read as the IPC stream it begins with, up to the first batch cut short. What is lost is at
/// most the batch the recorder held in memory (`BATCH_ROWS` messages).
pub fn read_partial(path: impl AsRef<Path>) -> Result<Vec<Record>, RecordError> {
    let path = path.as_ref().to_path_buf();
    let io = |source| RecordError::Io {
        path: path.clone(),
        source,
    };
    let bytes = std::fs::read(&path).map_err(io)?;
    if !bytes.starts_with(b"ARROW1") {
        return Err(RecordError::Layout {
            path,
            problem: "not an Arrow IPC file (no ARROW1 magic)".into(),
        });
    }
    // The magic is padded with zeros to the writer's alignment; the stream starts after it.
    let start = bytes[6..]
        .iter()
        .position(|&b| b != 0)
        .map_or(bytes.len(), |i| i + 6);
    let file = std::io::Cursor::new(&bytes[start..]);
    let reader = StreamReader::try_new(file, None).map_err(|source| RecordError::Arrow {
        path: path.clone(),
        source,
    })?;
    let mut records = Vec::new();
    for batch in reader {
        // The torn tail: a batch the recorder was writing when it stopped.
        let Ok(batch) = batch else { break };
        records.extend(rows(&batch, &path)?);
    }
    Ok(records)
}

fn rows(batch: &RecordBatch, path: &Path) -> Result<Vec<Record>, RecordError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| RecordError::Layout {
                path: path.to_path_buf(),
                problem: format!("no column `{name}`"),
            })
    };
    let t_ns = column("t_ns")?.as_primitive_opt::<Int64Type>();
    let seq = column("seq")?.as_primitive_opt::<UInt64Type>();
    let room = column("room")?.as_string_opt::<i32>();
    let link = column("link")?.as_string_opt::<i32>();
    let shape = column("shape")?.as_list_opt::<i32>();
    let dims = column("dims")?.as_string_opt::<i32>();
    let meta = column("meta")?.as_string_opt::<i32>();
    let data = column("data")?.as_list_opt::<i32>();
    let (
        Some(t_ns),
        Some(seq),
        Some(room),
        Some(link),
        Some(shape),
        Some(dims),
        Some(meta),
        Some(data),
    ) = (t_ns, seq, room, link, shape, dims, meta, data)
    else {
        return Err(RecordError::Layout {
            path: path.to_path_buf(),
            problem: "a column has an unexpected type".into(),
        });
    };
    (0..batch.num_rows())
        .map(|i| {
            let shape_values = shape.value(i);
            let shape_values = shape_values
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| RecordError::Layout {
                    path: path.to_path_buf(),
                    problem: "shape is not a list of Int64".into(),
                })?;
            let meta_json: serde_json::Value =
                serde_json::from_str(meta.value(i)).unwrap_or(serde_json::Value::Null);
            let dims_text = dims.value(i);
            Ok(Record {
                meta: TensorMeta {
                    shape: shape_values.values().iter().map(|&d| d as usize).collect(),
                    dims: if dims_text.is_empty() {
                        Vec::new()
                    } else {
                        dims_text.split(',').map(str::to_owned).collect()
                    },
                    t_ns: t_ns.value(i),
                    seq: seq.value(i),
                    room: room.value(i).to_owned(),
                    link: link.value(i).to_owned(),
                    extra: Default::default(),
                },
                meta_json,
                values: data.value(i),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{read_dir, read_partial, Recorder, RecorderOptions};
    use arrow_array::{Float32Array, UInt8Array};
    use wdp_tensor::{view, MetaValue, TensorMeta};

    #[test]
    fn records_rotate_and_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = RecorderOptions {
            batch_rows: 3,
            rotate_rows: 5,
        };
        let mut rec = Recorder::create(dir.path(), options).expect("create");
        for i in 0..12u64 {
            let values = Float32Array::from(vec![i as f32; 6]);
            let meta = TensorMeta::new(&[2, 3], ["a", "b"])
                .with_time_ns(1000 + i as i64)
                .with_seq(i)
                .with_room("lab")
                .with("subcarriers", MetaValue::Ints(vec![1, 2, 3]));
            rec.write("csi", &values, &meta).expect("write");
        }
        rec.write(
            "frame",
            &UInt8Array::from(vec![7u8; 4]),
            &TensorMeta::new(&[4], ["x"]),
        )
        .expect("write u8");
        let counts = rec.finish().expect("finish");
        assert_eq!(counts["csi"], 12);
        let files = crate::write::parts(&dir.path().join("csi")).expect("parts");
        assert_eq!(files.len(), 3, "{files:?}");
        let records = read_dir(dir.path().join("csi")).expect("read");
        assert_eq!(records.len(), 12);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.meta.seq, i as u64);
            assert_eq!(r.meta.t_ns, 1000 + i as i64);
            assert_eq!(r.meta.room, "lab");
            assert_eq!(r.meta_json["subcarriers"], serde_json::json!([1, 2, 3]));
            let v = view::<f32>(r.values.as_ref(), &r.meta).expect("view");
            assert_eq!(v.shape(), &[2, 3]);
            assert!(v.iter().all(|&x| x == i as f32));
        }
        assert_eq!(read_dir(dir.path().join("frame")).expect("read").len(), 1);
    }

    #[test]
    fn flushed_batches_survive_in_partial_and_completed_files_stay_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = RecorderOptions {
            batch_rows: 2,
            rotate_rows: 4,
        };
        let mut rec = Recorder::create(dir.path(), options).expect("create");
        for i in 0..7u64 {
            let meta = TensorMeta::new(&[1], ["x"]).with_seq(i);
            rec.write("csi", &Float32Array::from(vec![i as f32]), &meta)
                .expect("write");
        }
        // Simulate a killed recorder: drop without finish.
        drop(rec);
        let records = read_dir(dir.path().join("csi")).expect("completed files read");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("csi"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(records.len(), 4, "{names:?}");
        // The file being written keeps every flushed batch (seq 4, 5); only the batch held in
        // memory (seq 6) is lost.
        let partial = dir.path().join("csi/part-00001.arrow.partial");
        let tail: Vec<u64> = read_partial(&partial)
            .expect("partial read")
            .iter()
            .map(|r| r.meta.seq)
            .collect();
        assert_eq!(tail, [4, 5], "{names:?}");
        // A batch cut short (the OS wrote part of it) ends the reading; what precedes it stays.
        let len = std::fs::metadata(&partial).expect("size").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&partial)
            .expect("open");
        file.set_len(len - 10).expect("truncate");
        assert_eq!(read_partial(&partial).expect("torn read").len(), 0);
        let not_arrow = dir.path().join("x.arrow.partial");
        std::fs::write(&not_arrow, b"hello world").expect("write");
        let e = read_partial(&not_arrow).expect_err("not arrow").to_string();
        assert!(e.contains("x.arrow.partial") && e.contains("ARROW1"), "{e}");
    }

    #[test]
    fn type_change_is_an_error_naming_the_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rec = Recorder::create(dir.path(), RecorderOptions::default()).expect("create");
        let meta = TensorMeta::new(&[1], ["x"]);
        rec.write("csi", &Float32Array::from(vec![1.0]), &meta)
            .expect("write");
        let err = rec
            .write("csi", &UInt8Array::from(vec![1]), &meta)
            .expect_err("type change");
        assert!(err.to_string().contains("`csi`"), "{err}");
    }
}
