//! The rotating writer.

use crate::RecordError;
use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder, UInt64Builder};
use arrow_array::{make_array, Array, ArrayRef, ListArray, RecordBatch};
use arrow_buffer::OffsetBuffer;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{DataType, Field, Schema};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wdp_tensor::{MetaValue, TensorMeta};

/// When to write batches and start new files.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Messages per record batch (a batch is written when full, and on flush).
    pub batch_rows: usize,
    /// Messages per file before a new file is started.
    pub rotate_rows: usize,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            batch_rows: 64,
            rotate_rows: 10_000,
        }
    }
}

/// Records tensor messages of any number of inputs under one folder.
pub struct Recorder {
    dir: PathBuf,
    options: RecorderOptions,
    streams: BTreeMap<String, Stream>,
}

impl Recorder {
    /// Starts a recording in `dir` (created if missing).
    pub fn create(dir: impl Into<PathBuf>, options: RecorderOptions) -> Result<Self, RecordError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| RecordError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            dir,
            options,
            streams: BTreeMap::new(),
        })
    }

    /// The recording's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Messages recorded per input so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.streams
            .iter()
            .map(|(k, s)| (k.clone(), s.total_rows))
            .collect()
    }

    /// Records one message of `input`.
    pub fn write(
        &mut self,
        input: &str,
        values: &dyn Array,
        meta: &TensorMeta,
    ) -> Result<(), RecordError> {
        if !self.streams.contains_key(input) {
            let dir = self.dir.join(sanitize(input));
            fs::create_dir_all(&dir).map_err(|source| RecordError::Io {
                path: dir.clone(),
                source,
            })?;
            let stream = Stream::new(dir, values.data_type().clone());
            self.streams.insert(input.to_owned(), stream);
        }
        let options = self.options.clone();
        let stream = self
            .streams
            .get_mut(input)
            .ok_or_else(|| RecordError::Layout {
                path: self.dir.clone(),
                problem: format!("no stream for input `{input}`"),
            })?;
        if values.data_type() != &stream.data_type {
            return Err(RecordError::TypeChanged {
                input: input.to_owned(),
                expected: format!("{:?}", stream.data_type),
                found: format!("{:?}", values.data_type()),
            });
        }
        stream.push(values, meta);
        // A batch never crosses a file boundary, so files hold exactly `rotate_rows` messages.
        let room = (options.rotate_rows as u64).saturating_sub(stream.file_rows) as usize;
        if stream.pending.len() >= options.batch_rows.min(room.max(1)) {
            stream.write_batch()?;
        }
        if stream.file_rows >= options.rotate_rows as u64 {
            stream.close_file()?;
        }
        Ok(())
    }

    /// Writes every pending message to its file (the files stay open).
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.streams.values_mut().try_for_each(Stream::write_batch)
    }

    /// Writes what is pending and completes every file. Call it when the input ends.
    pub fn finish(mut self) -> Result<BTreeMap<String, u64>, RecordError> {
        for stream in self.streams.values_mut() {
            stream.write_batch()?;
            stream.close_file()?;
        }
        Ok(self.counts())
    }
}

struct Pending {
    t_ns: i64,
    seq: u64,
    room: String,
    link: String,
    shape: Vec<i64>,
    dims: String,
    meta: String,
    values: ArrayRef,
}

struct Stream {
    dir: PathBuf,
    data_type: DataType,
    schema: Arc<Schema>,
    pending: Vec<Pending>,
    writer: Option<(FileWriter<BufWriter<File>>, PathBuf)>,
    next_part: u32,
    file_rows: u64,
    total_rows: u64,
}

impl Stream {
    fn new(dir: PathBuf, data_type: DataType) -> Self {
        let list = |name: &str, item: DataType| {
            Field::new(
                name,
                DataType::List(Arc::new(Field::new("item", item, false))),
                false,
            )
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("t_ns", DataType::Int64, false),
            Field::new("seq", DataType::UInt64, false),
            Field::new("room", DataType::Utf8, false),
            Field::new("link", DataType::Utf8, false),
            list("shape", DataType::Int64),
            Field::new("dims", DataType::Utf8, false),
            Field::new("meta", DataType::Utf8, false),
            list("data", data_type.clone()),
        ]));
        Self {
            dir,
            data_type,
            schema,
            pending: Vec::new(),
            writer: None,
            next_part: 0,
            file_rows: 0,
            total_rows: 0,
        }
    }

    fn push(&mut self, values: &dyn Array, meta: &TensorMeta) {
        self.pending.push(Pending {
            t_ns: meta.t_ns,
            seq: meta.seq,
            room: meta.room.clone(),
            link: meta.link.clone(),
            shape: meta.shape.iter().map(|&d| d as i64).collect(),
            dims: meta.dims.join(","),
            meta: extras_json(&meta.extra),
            values: make_array(values.to_data()),
        });
    }

    fn write_batch(&mut self) -> Result<(), RecordError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let batch = self.batch(&rows)?;
        if self.writer.is_none() {
            let path = self
                .dir
                .join(format!("part-{:05}.arrow.partial", self.next_part));
            let file = File::create(&path).map_err(|source| RecordError::Io {
                path: path.clone(),
                source,
            })?;
            let writer =
                FileWriter::try_new(BufWriter::new(file), &self.schema).map_err(|source| {
                    RecordError::Arrow {
                        path: path.clone(),
                        source,
                    }
                })?;
            self.writer = Some((writer, path));
            self.next_part += 1;
            self.file_rows = 0;
        }
        if let Some((writer, path)) = self.writer.as_mut() {
            let arrow = |source| RecordError::Arrow {
                path: path.clone(),
                source,
            };
            writer.write(&batch).map_err(arrow)?;
            writer.flush().map_err(arrow)?;
        }
        self.file_rows += rows.len() as u64;
        self.total_rows += rows.len() as u64;
        Ok(())
    }

    fn close_file(&mut self) -> Result<(), RecordError> {
        self.write_batch()?;
        let Some((mut writer, partial)) = self.writer.take() else {
            return Ok(());
        };
        self.file_rows = 0;
        writer.finish().map_err(|source| RecordError::Arrow {
            path: partial.clone(),
            source,
        })?;
        let file = writer.into_inner().map_err(|source| RecordError::Arrow {
            path: partial.clone(),
            source,
        })?;
        let io = |source| RecordError::Io {
            path: partial.clone(),
            source,
        };
        file.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        let done = partial.with_extension("");
        fs::rename(&partial, &done).map_err(io)?;
        tracing::debug!("completed {}", done.display());
        Ok(())
    }

    fn batch(&self, rows: &[Pending]) -> Result<RecordBatch, RecordError> {
        let mut t_ns = Int64Builder::new();
        let mut seq = UInt64Builder::new();
        let mut room = StringBuilder::new();
        let mut link = StringBuilder::new();
        let mut shape = ListBuilder::new(Int64Builder::new()).with_field(Arc::new(Field::new(
            "item",
            DataType::Int64,
            false,
        )));
        let mut dims = StringBuilder::new();
        let mut meta = StringBuilder::new();
        for row in rows {
            t_ns.append_value(row.t_ns);
            seq.append_value(row.seq);
            room.append_value(&row.room);
            link.append_value(&row.link);
            shape.append_value(row.shape.iter().map(|&d| Some(d)));
            dims.append_value(&row.dims);
            meta.append_value(&row.meta);
        }
        let values: Vec<&dyn Array> = rows.iter().map(|r| r.values.as_ref()).collect();
        let arrow = |source| RecordError::Arrow {
            path: self.dir.clone(),
            source,
        };
        let flat = arrow_select_concat(&values).map_err(arrow)?;
        let offsets = OffsetBuffer::from_lengths(rows.iter().map(|r| r.values.len()));
        let data = ListArray::try_new(
            Arc::new(Field::new("item", self.data_type.clone(), false)),
            offsets,
            flat,
            None,
        )
        .map_err(arrow)?;
        RecordBatch::try_new(
            self.schema.clone(),
            vec![
                Arc::new(t_ns.finish()),
                Arc::new(seq.finish()),
                Arc::new(room.finish()),
                Arc::new(link.finish()),
                Arc::new(shape.finish()),
                Arc::new(dims.finish()),
                Arc::new(meta.finish()),
                Arc::new(data),
            ],
        )
        .map_err(arrow)
    }
}

/// Concatenates same-typed arrays into one (the values of a batch's list column).
fn arrow_select_concat(arrays: &[&dyn Array]) -> Result<ArrayRef, arrow_schema::ArrowError> {
    arrow_select::concat::concat(arrays)
}

fn sanitize(input: &str) -> String {
    input
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn extras_json(extra: &BTreeMap<String, MetaValue>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = extra
        .iter()
        .map(|(k, v)| {
            let v = match v {
                MetaValue::Bool(b) => serde_json::json!(b),
                MetaValue::Int(i) => serde_json::json!(i),
                MetaValue::Float(f) => serde_json::json!(f),
                MetaValue::Text(s) => serde_json::json!(s),
                MetaValue::Ints(v) => serde_json::json!(v),
                MetaValue::Floats(v) => serde_json::json!(v),
                MetaValue::Texts(v) => serde_json::json!(v),
            };
            (k.clone(), v)
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The completed recording files of one input folder, in order.
pub(crate) fn parts(dir: &Path) -> Result<Vec<PathBuf>, RecordError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|source| RecordError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "arrow"))
        .collect();
    files.sort();
    Ok(files)
}
