//! Reading CPU per label set out of one pprof file, fast and with bounded memory.
//!
//! A lean protobuf reader rather than the prost messages of `featgen::profiler::proto`: shares
//! need only the sample types, each sample's values and labels, the string table and the window
//! (`time_nanos`, `duration_nanos`), while most of a profile's bytes are its locations,
//! functions and mappings. Decoding the whole message with prost would allocate every
//! `Location`, `Line`, `Function` and every string of the table for a reader that throws them
//! away; here they are skipped by length, strings are compared as bytes in place, and label
//! values are returned borrowed from the buffer. Nothing is allocated per sample: a sample's
//! labels are looked up by their bytes (the profiler writes every sample of a route with the
//! same label bytes), so each distinct run of labels is decoded once per file. Gzip is inflated
//! in one call into a buffer sized from the gzip trailer ([`Inflater`]). Taking the
//! definitions from the runtime crate
//! would also pull the profiler (libc, TLS, HTTP) into every consumer of shares. The field
//! numbers below are google/pprof `proto/profile.proto`'s; the tests encode profiles with the
//! runtime's prost messages and check that this reader agrees with them.
//!
//! Input is untrusted: every length is checked against the buffer, the decompressed size is
//! bounded ([`MAX_PROFILE_BYTES`]), and every failure is an [`Damage`], never a panic.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::fmt;
use std::io::Read;

use foldhash::HashMap;

/// Largest profile accepted, decompressed. The profiler's own profiles are far below (16,000
/// samples at most, about 2 MiB); anything that inflates past this is refused as a
/// decompression bomb rather than read into memory.
pub const MAX_PROFILE_BYTES: u64 = 64 * 1024 * 1024;

// Field numbers of google/pprof `proto/profile.proto`.
const PROFILE_SAMPLE_TYPE: u32 = 1;
const PROFILE_SAMPLE: u32 = 2;
const PROFILE_STRING_TABLE: u32 = 6;
const PROFILE_TIME_NANOS: u32 = 9;
const PROFILE_DURATION_NANOS: u32 = 10;
const PROFILE_PERIOD: u32 = 12;
const VALUE_TYPE_TYPE: u32 = 1;
const VALUE_TYPE_UNIT: u32 = 2;
const SAMPLE_VALUE: u32 = 2;
const SAMPLE_LABEL: u32 = 3;
const LABEL_KEY: u32 = 1;
const LABEL_STR: u32 = 2;
const LABEL_NUM: u32 = 3;

// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Why a file could not be read as a profile: the file is damaged or is not a pprof profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The gzip stream is corrupt or truncated.
    Gzip(String),
    /// The profile is larger than [`MAX_PROFILE_BYTES`] (compressed or decompressed).
    TooLarge,
    /// The bytes are not a well-formed pprof protobuf message.
    Malformed(&'static str),
    /// A CPU value is negative or the sums overflow.
    BadValue,
}

impl Damage {
    /// A short, stable name of the kind of damage, for counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Damage::Gzip(_) => "corrupt or truncated gzip",
            Damage::TooLarge => "larger than the 64 MiB limit (decompression bomb?)",
            Damage::Malformed(_) => "not a well-formed pprof profile",
            Damage::BadValue => "negative or overflowing CPU values",
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Gzip(detail) => write!(f, "corrupt or truncated gzip: {detail}"),
            Damage::TooLarge => write!(
                f,
                "decompresses to more than {} MiB (a decompression bomb, or not a profile)",
                MAX_PROFILE_BYTES >> 20
            ),
            Damage::Malformed(what) => write!(f, "not a well-formed pprof profile: {what}"),
            Damage::BadValue => write!(f, "a sample's CPU value is negative or the sum overflows"),
        }
    }
}

/// The label names a reader looks for, besides `feature`, `endpoint` and `feature_id`.
#[derive(Clone, Debug)]
pub struct LabelNames {
    /// The label that names the deployment (`deployment` by default).
    pub deployment: String,
}

impl Default for LabelNames {
    fn default() -> LabelNames {
        LabelNames {
            deployment: "deployment".to_owned(),
        }
    }
}

/// CPU of one label set in one profile. Label values borrow from the reader's buffer (a numeric
/// label is formatted), so reading a profile copies no string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesCpu<'a> {
    /// The deployment label, else the `service_name` label; `None` when the samples carry
    /// neither.
    pub deployment: Option<Cow<'a, str>>,
    /// The `feature` label.
    pub feature: Option<Cow<'a, str>>,
    /// The `feature_id` label (a numeric label, or a string label holding an integer).
    pub feature_id: Option<i64>,
    /// The `endpoint` label.
    pub endpoint: Option<Cow<'a, str>>,
    /// Sum of the `cpu/nanoseconds` values.
    pub cpu_ns: u64,
    /// Sampling periods: the `samples/count` values when the profile has them, else CPU over
    /// the period (the profiler writes count × period).
    pub samples: u64,
    /// Sum of the `requests/count` values, when the profile has that sample type.
    pub requests: Option<u64>,
}

/// What one profile holds, per label set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileCpu<'a> {
    /// Start of the profiled window, ns since the Unix epoch.
    pub time_nanos: i64,
    /// Length of the window in ns.
    pub duration_nanos: i64,
    /// CPU per distinct label set, in order of first appearance.
    pub series: Vec<SeriesCpu<'a>>,
}

/// The outcome of reading one file that is intact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents<'a> {
    /// A CPU profile.
    Cpu(ProfileCpu<'a>),
    /// A valid profile of something else (heap, goroutines, ...): its sample types as
    /// `type/unit`.
    NotCpu(Vec<String>),
}

/// Reads pprof files, reusing its buffers from one file to the next.
#[derive(Default)]
pub struct Reader {
    names: LabelNames,
    raw: Vec<u8>,
    inflater: Inflater,
    inflated: Vec<u8>,
    scratch: Scratch,
}

/// Buffers of one decode, kept between files so that reading allocates nothing per sample.
#[derive(Default)]
struct Scratch {
    samples: Vec<(u32, u32)>,
    strings: Vec<(u32, u32)>,
    values: Vec<u64>,
}

/// Where a label's value sits: a string-table index or a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
enum LabelRef {
    #[default]
    Absent,
    Str(u32),
    Num(i64),
}

/// The labels shares group by, in this order.
const FEATURE: usize = 0;
const ENDPOINT: usize = 1;
const FEATURE_ID: usize = 2;
const DEPLOYMENT: usize = 3;
const SERVICE_NAME: usize = 4;
type LabelSet = [LabelRef; 5];

/// Running sums of one label set.
#[derive(Clone, Copy, Default)]
struct Sums {
    cpu: u64,
    samples: u64,
    requests: u64,
}

impl Reader {
    /// A reader that takes the deployment from the label `names.deployment`.
    pub fn new(names: LabelNames) -> Reader {
        Reader {
            names,
            ..Reader::default()
        }
    }

    /// Reads the pprof file at `path`, gzip-compressed or plain.
    pub fn read_file(
        &mut self,
        path: &std::path::Path,
    ) -> Result<Result<Contents<'_>, Damage>, std::io::Error> {
        let mut file = std::fs::File::open(path)?;
        self.raw.clear();
        (&mut file)
            .take(MAX_PROFILE_BYTES + 1)
            .read_to_end(&mut self.raw)?;
        Ok(contents(
            &self.names,
            &mut self.scratch,
            &mut self.inflater,
            &mut self.inflated,
            &self.raw,
        ))
    }

    /// Reads one profile from `bytes`, gzip-compressed (by its magic number) or plain.
    pub fn read_bytes<'a>(&'a mut self, bytes: &'a [u8]) -> Result<Contents<'a>, Damage> {
        contents(
            &self.names,
            &mut self.scratch,
            &mut self.inflater,
            &mut self.inflated,
            bytes,
        )
    }
}

/// Reads one profile from `bytes`, inflating into `inflated` when they are gzip.
fn contents<'a>(
    names: &LabelNames,
    scratch: &mut Scratch,
    inflater: &mut Inflater,
    inflated: &'a mut Vec<u8>,
    bytes: &'a [u8],
) -> Result<Contents<'a>, Damage> {
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Damage::TooLarge);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        inflater.inflate(bytes, inflated)?;
        decode(names, scratch, inflated)
    } else {
        decode(names, scratch, bytes)
    }
}

/// Decodes an uncompressed profile.
fn decode<'a>(
    names: &LabelNames,
    scratch: &mut Scratch,
    bytes: &'a [u8],
) -> Result<Contents<'a>, Damage> {
    if u32::try_from(bytes.len()).is_err() {
        return Err(Damage::TooLarge);
    }
    let Scratch {
        samples: sample_ranges,
        strings,
        values,
    } = scratch;
    sample_ranges.clear();
    strings.clear();
    let mut sample_types: Vec<(i64, i64)> = Vec::new();
    let (mut time_nanos, mut duration_nanos, mut period) = (0, 0, 0);
    let mut wire = Wire::new(bytes);
    while let Some((field, wire_type)) = wire.key()? {
        match (field, wire_type) {
            (PROFILE_SAMPLE, LEN) => sample_ranges.push(wire.len_range()?),
            (PROFILE_STRING_TABLE, LEN) => strings.push(wire.len_range()?),
            (PROFILE_SAMPLE_TYPE, LEN) => sample_types.push(value_type(wire.len_bytes()?)?),
            (PROFILE_TIME_NANOS, VARINT) => time_nanos = wire.varint()? as i64,
            (PROFILE_DURATION_NANOS, VARINT) => duration_nanos = wire.varint()? as i64,
            (PROFILE_PERIOD, VARINT) => period = wire.varint()?,
            (_, wire_type) => wire.skip(wire_type)?,
        }
    }
    if strings.first().is_some_and(|&(start, end)| start != end) {
        return Err(Damage::Malformed("string_table[0] must be empty"));
    }
    let strings = &*strings;
    let string = |index: i64| -> Result<&'a [u8], Damage> {
        let &(start, end) = usize::try_from(index)
            .ok()
            .and_then(|index| strings.get(index))
            .ok_or(Damage::Malformed("a string index is out of range"))?;
        Ok(&bytes[start as usize..end as usize])
    };
    let find_type = |name: &[u8], unit: &[u8]| -> Result<Option<usize>, Damage> {
        for (index, &(type_index, unit_index)) in sample_types.iter().enumerate() {
            if string(type_index)? == name && string(unit_index)? == unit {
                return Ok(Some(index));
            }
        }
        Ok(None)
    };
    let Some(cpu_index) = find_type(b"cpu", b"nanoseconds")? else {
        let mut types = Vec::with_capacity(sample_types.len());
        for &(type_index, unit_index) in &sample_types {
            types.push(format!(
                "{}/{}",
                String::from_utf8_lossy(string(type_index)?),
                String::from_utf8_lossy(string(unit_index)?)
            ));
        }
        return Ok(Contents::NotCpu(types));
    };
    let samples_index = find_type(b"samples", b"count")?;
    let requests_index = find_type(b"requests", b"count")?;
    // A profile without `samples/count` has count × period CPU values (the profiler's own,
    // Pyroscope's).
    let period = u64::try_from(period as i64).unwrap_or(0);

    // Which string indices name the labels shares group by (the table need not be
    // deduplicated, so a name may sit at several indices).
    let wanted: [&[u8]; 5] = [
        b"feature",
        b"endpoint",
        b"feature_id",
        names.deployment.as_bytes(),
        b"service_name",
    ];
    let mut keys: Vec<(i64, usize)> = Vec::new();
    for (index, &(start, end)) in strings.iter().enumerate() {
        let text = &bytes[start as usize..end as usize];
        if let Some(slot) = wanted.iter().position(|name| *name == text) {
            keys.push((index as i64, slot));
        }
    }

    let mut sets: HashMap<LabelSet, usize> = HashMap::default();
    // Distinct label sets in order of first appearance, and their sums.
    let mut order: Vec<LabelSet> = Vec::new();
    let mut set_of = |labels: LabelSet| match sets.entry(labels) {
        Entry::Occupied(entry) => *entry.get(),
        Entry::Vacant(entry) => {
            order.push(labels);
            *entry.insert(order.len() - 1)
        }
    };
    // Every encoder writes a sample's labels last, and the profiler writes every sample of a
    // route with the same label bytes: a sample's tail from its first label is looked up whole
    // (first against the previous sample's, since samples of a route tend to be adjacent),
    // and a tail is decoded only the first time it is seen. Only tails of labels alone are
    // kept, so equal bytes always mean the same label set.
    let mut seen: HashMap<&'a [u8], usize> = HashMap::default();
    let mut last_tail: (&'a [u8], usize) = (&[], 0);
    let mut sums: Vec<Sums> = Vec::new();
    let value_count = sample_types.len();
    for &(start, end) in sample_ranges.iter() {
        let sample_bytes = &bytes[start as usize..end as usize];
        values.clear();
        let mut set = None;
        // A label followed by another field: the labels are gathered from the whole sample.
        let mut mixed = false;
        let mut sample = Wire::new(sample_bytes);
        loop {
            let field_start = sample.at;
            let Some((field, wire_type)) = sample.key()? else {
                break;
            };
            match (field, wire_type) {
                (SAMPLE_VALUE, LEN) => {
                    let mut packed = Wire::new(sample.len_bytes()?);
                    while !packed.done() {
                        values.push(packed.varint()?);
                    }
                }
                (SAMPLE_VALUE, VARINT) => values.push(sample.varint()?),
                (SAMPLE_LABEL, LEN) if !mixed => {
                    let tail = &sample_bytes[field_start..];
                    if !last_tail.0.is_empty() && tail == last_tail.0 {
                        set = Some(last_tail.1);
                        break;
                    }
                    if let Some(&known) = seen.get(tail) {
                        last_tail = (tail, known);
                        set = Some(known);
                        break;
                    }
                    match only_labels(tail, &keys)? {
                        Some(labels) => {
                            let new = set_of(labels);
                            seen.insert(tail, new);
                            last_tail = (tail, new);
                            set = Some(new);
                            break;
                        }
                        None => {
                            mixed = true;
                            sample.len_range()?;
                        }
                    }
                }
                (_, wire_type) => sample.skip(wire_type)?,
            }
        }
        if values.len() != value_count {
            return Err(Damage::Malformed(
                "a sample's value count differs from its sample types",
            ));
        }
        let at = match set {
            Some(set) => set,
            None if mixed => set_of(label_set(sample_bytes, &keys)?),
            None => set_of(LabelSet::default()),
        };
        let value = |index: usize| -> Result<u64, Damage> {
            u64::try_from(values[index] as i64).map_err(|_| Damage::BadValue)
        };
        let cpu = value(cpu_index)?;
        let samples = match samples_index {
            Some(index) => value(index)?,
            None if period > 0 => cpu / period,
            None => 0,
        };
        let requests = requests_index.map(value).transpose()?.unwrap_or(0);
        if at == sums.len() {
            sums.push(Sums::default());
        }
        let sums = &mut sums[at];
        sums.cpu = sums.cpu.checked_add(cpu).ok_or(Damage::BadValue)?;
        sums.samples = sums.samples.checked_add(samples).ok_or(Damage::BadValue)?;
        sums.requests = sums
            .requests
            .checked_add(requests)
            .ok_or(Damage::BadValue)?;
    }

    let text = |reference: LabelRef| -> Result<Option<Cow<'a, str>>, Damage> {
        match reference {
            LabelRef::Absent => Ok(None),
            LabelRef::Str(index) => std::str::from_utf8(string(i64::from(index))?)
                .map(|text| Some(Cow::Borrowed(text)))
                .map_err(|_| Damage::Malformed("a label value is not UTF-8")),
            LabelRef::Num(number) => Ok(Some(Cow::Owned(number.to_string()))),
        }
    };
    let mut series = Vec::with_capacity(order.len());
    for (labels, sums) in order.into_iter().zip(sums) {
        let feature_id = match labels[FEATURE_ID] {
            LabelRef::Num(number) => Some(number),
            other => text(other)?.and_then(|text| text.parse().ok()),
        };
        series.push(SeriesCpu {
            deployment: text(labels[DEPLOYMENT])?.or(text(labels[SERVICE_NAME])?),
            feature: text(labels[FEATURE])?,
            feature_id,
            endpoint: text(labels[ENDPOINT])?,
            cpu_ns: sums.cpu,
            samples: sums.samples,
            requests: requests_index.map(|_| sums.requests),
        });
    }
    Ok(Contents::Cpu(ProfileCpu {
        time_nanos,
        duration_nanos,
        series,
    }))
}

/// The label set of `bytes` when they hold `Label` fields and nothing else (the tail of a
/// sample), keeping the labels named in `keys` (string index, slot); `None` when another
/// field sits among them.
fn only_labels(bytes: &[u8], keys: &[(i64, usize)]) -> Result<Option<LabelSet>, Damage> {
    let mut wire = Wire::new(bytes);
    while let Some((field, wire_type)) = wire.key()? {
        if (field, wire_type) != (SAMPLE_LABEL, LEN) {
            return Ok(None);
        }
        wire.len_range()?;
    }
    label_set(bytes, keys).map(Some)
}

/// The label set of the `Label` fields in `bytes` (a sample, or the run of its labels),
/// keeping the labels named in `keys` (string index, slot).
fn label_set(bytes: &[u8], keys: &[(i64, usize)]) -> Result<LabelSet, Damage> {
    let mut labels = LabelSet::default();
    let mut wire = Wire::new(bytes);
    while let Some((field, wire_type)) = wire.key()? {
        match (field, wire_type) {
            (SAMPLE_LABEL, LEN) => {
                let (key, value) = label(wire.len_bytes()?)?;
                if let Some(&(_, slot)) = keys.iter().find(|(index, _)| *index == key) {
                    labels[slot] = value;
                }
            }
            (_, wire_type) => wire.skip(wire_type)?,
        }
    }
    Ok(labels)
}

/// Inflates gzip, reusing libdeflate's decompressor from one file to the next.
///
/// libdeflate inflates a whole buffer into a whole buffer (no window copies, no refills), which
/// is what reading a profile is: the file is in memory and its size is in the gzip trailer. On
/// the shares benchmark's profiles it is 1.1 to 1.3 times as fast as zlib-rs called the same way. It reads one gzip member and
/// ignores what follows, so it is used only when the file is certainly one member: the gzip
/// magic (`1f 8b 08`) appears nowhere a second member could start and the trailer is the
/// member's own (its length matches). Anything else (several members, trailing bytes, an
/// untrustworthy trailer, any error) goes to [`inflate_with_zlib`], the general path, which
/// also words the errors.
pub struct Inflater {
    decompressor: libdeflater::Decompressor,
}

impl Default for Inflater {
    fn default() -> Inflater {
        Inflater {
            decompressor: libdeflater::Decompressor::new(),
        }
    }
}

impl Inflater {
    /// Inflates a gzip stream (every member, as Go's reader does) into `out` (cleared first),
    /// at most [`MAX_PROFILE_BYTES`]: more is [`Damage::TooLarge`], a corrupt or truncated
    /// stream [`Damage::Gzip`].
    pub fn inflate(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Damage> {
        // ISIZE, the last member's length mod 2^32 (when the stream is intact).
        let isize = bytes
            .last_chunk::<4>()
            .map_or(usize::MAX, |isize| u32::from_le_bytes(*isize) as usize);
        if isize > MAX_PROFILE_BYTES as usize || !single_member(bytes) {
            return inflate_with_zlib(bytes, out);
        }
        // Only the part beyond the current length is zeroed: the buffer keeps the last file's
        // length, and files of one directory are of similar sizes.
        out.resize(isize, 0);
        match self.decompressor.gzip_decompress(bytes, out) {
            Ok(len) if len == isize => Ok(()),
            // A shorter member than its trailer says, a bomb whose length wrapped around 2^32,
            // corrupt or truncated data: the general path finds out which, and says so.
            _ => inflate_with_zlib(bytes, out),
        }
    }
}

/// Whether no second gzip member can start in `bytes` (a gzip stream): a member is at least
/// 20 bytes (10 of header, 2 of deflate data, 8 of trailer), so a second member's magic would
/// lie within `bytes[20..len - 17]`. Deflate data holds the three magic bytes about once in
/// 16 MiB, so the general path is rarely taken needlessly.
fn single_member(bytes: &[u8]) -> bool {
    const MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
    let Some(window) = bytes.get(20..bytes.len().saturating_sub(17)) else {
        return true;
    };
    memchr::memmem::find(window, MAGIC).is_none()
}

/// The general gzip path: inflates every member with zlib-rs (through flate2), in one call per
/// member over the whole input, into a buffer sized from the gzip trailer's length, growing it
/// up to [`MAX_PROFILE_BYTES`]: more is [`Damage::TooLarge`], a corrupt or truncated stream
/// [`Damage::Gzip`] with zlib's words. Public so that the benchmark can time it beside
/// [`Inflater`].
pub fn inflate_with_zlib(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Damage> {
    let limit = MAX_PROFILE_BYTES as usize + 1;
    out.clear();
    // ISIZE, the last member's length mod 2^32: only a hint, never trusted past the limit.
    let hint = bytes
        .last_chunk::<4>()
        .map_or(0, |isize| u32::from_le_bytes(*isize) as usize);
    out.reserve(hint.clamp(1 << 16, limit));
    let mut input = bytes;
    while !input.is_empty() {
        let mut member = flate2::Decompress::new_gzip(15);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return Err(Damage::TooLarge);
                }
                out.reserve_exact(out.len().max(1 << 16).min(limit - out.len()));
            }
            let read = member.total_in();
            let status = member
                .decompress_vec(input, out, flate2::FlushDecompress::Finish)
                .map_err(|err| Damage::Gzip(err.to_string()))?;
            input = &input[(member.total_in() - read) as usize..];
            if status == flate2::Status::StreamEnd {
                break;
            }
            // With room left in the output, zlib stops short of the end only when the input
            // ran out.
            if out.len() < out.capacity() {
                return Err(Damage::Gzip("unexpected end of the gzip stream".to_owned()));
            }
        }
    }
    if out.len() > MAX_PROFILE_BYTES as usize {
        return Err(Damage::TooLarge);
    }
    Ok(())
}

/// A `ValueType` message: (type, unit) string indices.
fn value_type(bytes: &[u8]) -> Result<(i64, i64), Damage> {
    let (mut kind, mut unit) = (0, 0);
    let mut wire = Wire::new(bytes);
    while let Some((field, wire_type)) = wire.key()? {
        match (field, wire_type) {
            (VALUE_TYPE_TYPE, VARINT) => kind = wire.varint()? as i64,
            (VALUE_TYPE_UNIT, VARINT) => unit = wire.varint()? as i64,
            (_, wire_type) => wire.skip(wire_type)?,
        }
    }
    Ok((kind, unit))
}

/// A `Label` message: its key's string index and its value.
fn label(bytes: &[u8]) -> Result<(i64, LabelRef), Damage> {
    let (mut key, mut value) = (0, LabelRef::Absent);
    let mut wire = Wire::new(bytes);
    while let Some((field, wire_type)) = wire.key()? {
        match (field, wire_type) {
            (LABEL_KEY, VARINT) => key = wire.varint()? as i64,
            (LABEL_STR, VARINT) => {
                let index = wire.varint()?;
                // Index 0 is "": an unset string value.
                if index != 0 {
                    value = LabelRef::Str(
                        u32::try_from(index)
                            .map_err(|_| Damage::Malformed("a string index is out of range"))?,
                    );
                }
            }
            (LABEL_NUM, VARINT) => {
                let number = wire.varint()? as i64;
                if value == LabelRef::Absent {
                    value = LabelRef::Num(number);
                }
            }
            (_, wire_type) => wire.skip(wire_type)?,
        }
    }
    Ok((key, value))
}

/// A wire-format error: a small value, so that the cursor's results stay in registers.
#[derive(Clone, Copy, Debug)]
struct Malformed(&'static str);

impl From<Malformed> for Damage {
    fn from(Malformed(what): Malformed) -> Damage {
        Damage::Malformed(what)
    }
}

/// A cursor over protobuf wire-format bytes.
struct Wire<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Wire<'a> {
    fn new(bytes: &'a [u8]) -> Wire<'a> {
        Wire { bytes, at: 0 }
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// A varint, with the one-byte case (field keys, lengths, string indices) inline.
    #[inline(always)]
    fn varint(&mut self) -> Result<u64, Malformed> {
        if let Some(&byte) = self.bytes.get(self.at)
            && byte < 0x80
        {
            self.at += 1;
            return Ok(u64::from(byte));
        }
        self.long_varint()
    }

    fn long_varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let &byte = self
                .bytes
                .get(self.at)
                .ok_or(Malformed("truncated varint"))?;
            self.at += 1;
            if shift == 63 && byte > 1 {
                return Err(Malformed("varint longer than 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Malformed("varint longer than 64 bits"))
    }

    /// The next field number and wire type, `None` at the end.
    #[inline(always)]
    fn key(&mut self) -> Result<Option<(u32, u8)>, Malformed> {
        if self.done() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| Malformed("field number out of range"))?;
        if field == 0 {
            return Err(Malformed("field number 0"));
        }
        Ok(Some((field, (key & 7) as u8)))
    }

    /// The byte range of a length-delimited field's contents (relative to this cursor's bytes).
    #[inline(always)]
    fn len_range(&mut self) -> Result<(u32, u32), Malformed> {
        let len = usize::try_from(self.varint()?).map_err(|_| Malformed("length out of range"))?;
        let start = self.at;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Malformed("a field runs past the end (truncated?)"))?;
        self.at = end;
        // Callers check that the whole buffer fits in u32.
        Ok((start as u32, end as u32))
    }

    #[inline]
    fn len_bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let (start, end) = self.len_range()?;
        Ok(&self.bytes[start as usize..end as usize])
    }

    #[inline(always)]
    fn skip(&mut self, wire_type: u8) -> Result<(), Malformed> {
        let width = match wire_type {
            VARINT => return self.varint().map(drop),
            LEN => return self.len_range().map(drop),
            FIXED64 => 8,
            FIXED32 => 4,
            _ => return Err(Malformed("unknown or group wire type")),
        };
        if self.bytes.len() - self.at < width {
            return Err(Malformed("a field runs past the end (truncated?)"));
        }
        self.at += width;
        Ok(())
    }
}
