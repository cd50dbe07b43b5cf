//! Protobuf messages the profiler writes: pprof's `profile.proto` and Pyroscope's push API.
//!
//! Written by hand from the published schemas (google/pprof `proto/profile.proto`,
//! grafana/pyroscope `api/push/v1/push.proto` and `api/types/v1/types.proto`) so that no
//! `protoc` is needed at build time. Public so that readers of the profiles (the attribution
//! step, tests) decode them with the same definitions:
//!
//! ```
//! use featgen::profiler::proto::Profile;
//! use prost::Message;
//! let bytes = Profile { period: 10_000_000, ..Profile::default() }.encode_to_vec();
//! assert_eq!(Profile::decode(bytes.as_slice()).unwrap().period, 10_000_000);
//! ```

/// A pprof profile: samples, their call stacks and labels, with strings in `string_table`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    /// What each entry of a sample's `value` measures.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// The binaries the locations belong to.
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    /// Program locations referenced by samples.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// Functions referenced by locations.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string of the profile; index 0 is always `""`.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// Regex (string index) of frames to drop.
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    /// Regex (string index) of frames to keep.
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    /// Start of the profiled window, ns since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// Length of the profiled window in ns.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// What `period` measures.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// The sampling period.
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free-form comments (string indices).
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// Index of the default sample type (string index).
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// A type and unit, as string-table indices (e.g. `cpu`/`nanoseconds`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    /// String index of the type.
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// String index of the unit.
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// One sample: a call stack, its values and labels.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Location ids, leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per `sample_type`.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// Labels (`feature`, `endpoint`, ...).
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// A sample label: a string or a number.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// String index of the key.
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// String index of the value, for string labels.
    #[prost(int64, tag = "2")]
    pub str: i64,
    /// The value, for numeric labels.
    #[prost(int64, tag = "3")]
    pub num: i64,
    /// String index of the unit of `num`.
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// A mapped binary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mapping {
    /// Unique nonzero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Runtime start address.
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    /// Runtime end address (exclusive).
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    /// Offset of `memory_start` in the file.
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    /// String index of the file's path.
    #[prost(int64, tag = "5")]
    pub filename: i64,
    /// String index of the build id.
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    /// Whether locations in it carry function names.
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    /// Whether locations in it carry file names.
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    /// Whether locations in it carry line numbers.
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    /// Whether locations in it carry inlined frames.
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// A program location: an address and the function(s) at it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    /// Unique nonzero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Id of its mapping, 0 when none.
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    /// The instruction address.
    #[prost(uint64, tag = "3")]
    pub address: u64,
    /// Functions at this address, innermost inlined first.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    /// Whether several inlined functions were folded.
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// A function at a location, with an optional line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    /// Id of the function.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// Line number, 0 when unknown.
    #[prost(int64, tag = "2")]
    pub line: i64,
    /// Column number, 0 when unknown.
    #[prost(int64, tag = "3")]
    pub column: i64,
}

/// A function.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    /// Unique nonzero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// String index of the (demangled) name.
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// String index of the name as in the symbol table.
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    /// String index of the source file.
    #[prost(int64, tag = "4")]
    pub filename: i64,
    /// First line of the function.
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

/// Pyroscope `push.v1.PushRequest`: profiles with their series labels.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    /// One entry per series.
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

/// Pyroscope `push.v1.RawProfileSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawProfileSeries {
    /// Series labels (`__name__`, `service_name`, static labels).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    /// The profiles of this series.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

/// Pyroscope `types.v1.LabelPair`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Pyroscope `push.v1.RawSample`: one pprof profile, possibly gzipped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawSample {
    /// The pprof bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    /// A unique id (a UUID) of the upload.
    #[prost(string, tag = "2")]
    pub id: String,
}

impl Profile {
    /// The string at index `index` of the string table, `""` when out of range.
    pub fn string(&self, index: i64) -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.string_table.get(index))
            .map_or("", String::as_str)
    }

    /// The string labels of `sample` as `(key, value)` pairs.
    pub fn labels<'a>(
        &'a self,
        sample: &'a Sample,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        sample
            .label
            .iter()
            .map(|label| (self.string(label.key), self.string(label.str)))
    }

    /// The function names of `sample`'s stack, leaf first.
    pub fn stack<'a>(&'a self, sample: &'a Sample) -> impl Iterator<Item = &'a str> + 'a {
        sample.location_id.iter().flat_map(move |id| {
            let location = self.location.iter().find(|location| location.id == *id);
            location.into_iter().flat_map(move |location| {
                location.line.iter().map(move |line| {
                    let function = self
                        .function
                        .iter()
                        .find(|function| function.id == line.function_id);
                    function.map_or("", |function| self.string(function.name))
                })
            })
        })
    }
}
