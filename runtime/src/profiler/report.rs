//! Aggregation of raw samples over one interval, and the profiles built from it.
//!
//! Samples are keyed by (route, stack of addresses) while the interval runs; symbolization
//! happens once per interval for the distinct addresses. Each profile has two sample types:
//! `cpu/nanoseconds` (the default) and `requests/count`, the calls each route completed in the
//! interval ([`crate::calls`]), written as one sample per route on a single placeholder frame;
//! CPU samples carry 0 requests and request samples 0 CPU, so each type sums on its own. A profile holds at most
//! [`MAX_PROFILE_SAMPLES`] distinct samples (Pyroscope's default limit): beyond that, further
//! stacks of a route are merged into one placeholder stack, so the CPU time still counts for
//! its feature.

use super::proto;
use super::ring::RawSample;
use super::symbols::Symbolizer;
use crate::Route;
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ptr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Pyroscope's default limit of samples per profile.
pub(crate) const MAX_PROFILE_SAMPLES: usize = 16_000;

/// Distinct stacks kept per interval: the profile limit less room for one overflow sample and one
/// request sample per route (for up to 500 routes over the limit and with calls in the same
/// interval).
const STACK_LIMIT: usize = MAX_PROFILE_SAMPLES - 1_000;

/// Name of the frame added at the root of stacks cut at the maximum depth.
pub(crate) const TRUNCATED_FRAME: &str = "[truncated]";
/// Name of the single frame of the stack that stands for stacks over the per-profile limit.
pub(crate) const OVERFLOW_FRAME: &str = "[featgen: too many distinct stacks]";
/// Name of the single frame of the samples that carry a route's completed calls.
pub(crate) const CALLS_FRAME: &str = "[featgen: completed calls]";

/// A stack as captured: addresses leaf first (return addresses already moved into the call
/// instruction) and whether it was cut.
#[derive(Clone, PartialEq, Eq, Hash)]
struct StackKey {
    route: usize,
    frames: Box<[usize]>,
    truncated: bool,
}

/// Samples of the interval in progress.
pub(crate) struct Aggregate {
    start: SystemTime,
    stacks: HashMap<StackKey, u64>,
    /// Weights of stacks over the limit, per route.
    overflow: HashMap<usize, u64>,
    /// Sampling periods in this aggregate.
    samples: u64,
    /// Of those, periods with no route.
    unattributed: u64,
    /// Calls completed in the interval, per route address.
    calls: HashMap<usize, u64>,
}

impl Aggregate {
    /// An empty aggregate for the interval starting at `start`.
    pub(crate) fn new(start: SystemTime) -> Aggregate {
        Aggregate {
            start,
            stacks: HashMap::new(),
            overflow: HashMap::new(),
            samples: 0,
            unattributed: 0,
            calls: HashMap::new(),
        }
    }

    /// Whether the interval has anything to report: a sampling period or a completed call.
    pub(crate) fn is_empty(&self) -> bool {
        self.samples == 0 && self.calls.is_empty()
    }

    /// Adds `count` completed calls of `route`.
    pub(crate) fn add_calls(&mut self, route: &'static Route, count: u64) {
        *self.calls.entry(ptr::from_ref(route) as usize).or_default() += count;
    }

    /// Sampling periods with no route collected so far.
    pub(crate) fn unattributed(&self) -> u64 {
        self.unattributed
    }

    /// Adds one raw sample.
    pub(crate) fn add(&mut self, sample: &RawSample) {
        let weight = u64::from(sample.weight);
        self.samples += weight;
        if sample.route == 0 {
            self.unattributed += weight;
        }
        let frames = sample
            .frames()
            .iter()
            .enumerate()
            // A return address points after the call; step back into it so the caller's line
            // (and, at function ends, the caller itself) is resolved, not what follows.
            .map(|(index, &address)| {
                if index == 0 {
                    address
                } else {
                    address.saturating_sub(1)
                }
            })
            .collect();
        let key = StackKey {
            route: sample.route,
            frames,
            truncated: sample.truncated,
        };
        if let Some(count) = self.stacks.get_mut(&key) {
            *count += weight;
        } else if self.stacks.len() < STACK_LIMIT {
            self.stacks.insert(key, weight);
        } else {
            *self.overflow.entry(sample.route).or_default() += weight;
        }
    }

    /// Ends the interval at `end` and builds its profile.
    pub(crate) fn finish(
        self,
        end: SystemTime,
        settings: &ReportSettings,
        symbolizer: &mut Symbolizer,
    ) -> Report {
        let mut builder = ProfileBuilder::new(settings.period_ns);
        let sampler = builder.string(&format!("sampler={}", settings.sampler));
        builder.profile.comment.push(sampler);
        let mut folded: HashMap<usize, HashMap<String, u64>> = HashMap::new();
        for (key, count) in &self.stacks {
            let mut names = Vec::with_capacity(key.frames.len() + 1);
            let mut locations = Vec::with_capacity(key.frames.len() + 1);
            for &address in key.frames.iter() {
                let resolved = symbolizer.resolve(address);
                locations.push(builder.location(
                    address,
                    &resolved.function,
                    resolved.segment,
                    symbolizer,
                ));
                names.push(resolved.function);
            }
            if key.truncated {
                locations.push(builder.synthetic(TRUNCATED_FRAME));
                names.push(TRUNCATED_FRAME.into());
            }
            builder.sample(locations, key.route, *count);
            if settings.folded {
                let line = names
                    .iter()
                    .rev()
                    .map(|name| sanitize_frame(name))
                    .collect::<Vec<_>>()
                    .join(";");
                *folded
                    .entry(key.route)
                    .or_default()
                    .entry(line)
                    .or_default() += count;
            }
        }
        for (&route, &count) in &self.overflow {
            let location = builder.synthetic(OVERFLOW_FRAME);
            builder.sample(vec![location], route, count);
            if settings.folded {
                *folded
                    .entry(route)
                    .or_default()
                    .entry(OVERFLOW_FRAME.to_owned())
                    .or_default() += count;
            }
        }
        // One sample per label set, in label order: copies of one record (see `Route`) have
        // distinct addresses and the same labels.
        let mut calls: BTreeMap<_, (usize, u64)> = BTreeMap::new();
        for (&route, &count) in &self.calls {
            let entry = calls.entry(route_labels(route)).or_insert((route, 0));
            entry.1 += count;
        }
        for (route, count) in calls.into_values() {
            let location = builder.synthetic(CALLS_FRAME);
            builder.calls_sample(location, route, count);
        }
        let profile = builder.finish(self.start, end);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&profile.encode_to_vec())
            .expect("writing to a Vec cannot fail");
        let pprof_gz = gz.finish().expect("writing to a Vec cannot fail");
        let mut folded: Vec<FoldedSeries> = folded
            .into_iter()
            .map(|(route, lines)| {
                let mut lines: Vec<_> = lines.into_iter().collect();
                lines.sort_unstable();
                FoldedSeries {
                    labels: route_labels(route),
                    body: lines
                        .iter()
                        .map(|(stack, count)| format!("{stack} {count}\n"))
                        .collect(),
                }
            })
            .collect();
        folded.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        Report {
            start: self.start,
            end,
            samples: self.samples,
            pprof_gz,
            folded,
        }
    }
}

/// What a report needs to know about the profiler's configuration.
pub(crate) struct ReportSettings {
    /// The sampling period in ns of CPU time.
    pub period_ns: u64,
    /// Whether to build folded stacks (for `/ingest` sinks).
    pub folded: bool,
    /// The sampling engine's name, recorded in each profile as the comment `sampler=NAME`.
    pub sampler: &'static str,
}

/// One interval's profile, ready for every sink.
#[derive(Debug)]
pub(crate) struct Report {
    pub start: SystemTime,
    pub end: SystemTime,
    /// Sampling periods it contains.
    pub samples: u64,
    /// The gzip-compressed pprof profile.
    pub pprof_gz: Vec<u8>,
    /// Folded stacks per label set, when built.
    #[cfg_attr(
        not(feature = "pyroscope"),
        expect(dead_code, reason = "read by the Pyroscope `/ingest` sink only")
    )]
    pub folded: Vec<FoldedSeries>,
}

/// The folded stacks of one label set (one route, or unattributed).
#[derive(Debug)]
pub(crate) struct FoldedSeries {
    /// The per-sample labels, empty when unattributed.
    pub labels: Vec<(&'static str, Cow<'static, str>)>,
    /// `root;...;leaf count` lines.
    #[cfg_attr(
        not(feature = "pyroscope"),
        expect(dead_code, reason = "read by the Pyroscope `/ingest` sink only")
    )]
    pub body: String,
}

/// The profile labels of a route address (none for 0, the unattributed bucket). Empty values
/// are left out: the unmatched routes of the framework adapters have an endpoint but no feature
/// (and so no `feature_id` either).
///
/// `feature_id` is the feature's stable id from `featgen.lock`, as a string label (Pyroscope
/// keeps only string labels): it survives renames, so history keeps joining.
pub(crate) fn route_labels(route: usize) -> Vec<(&'static str, Cow<'static, str>)> {
    // SAFETY: non-zero values come from `current_ptr()`, which only holds `&'static Route`s.
    let Some(route) = (unsafe { (route as *const Route).as_ref() }) else {
        return Vec::new();
    };
    let mut labels: Vec<(&'static str, Cow<'static, str>)> = vec![
        ("feature", route.feature.name.into()),
        ("endpoint", route.endpoint.into()),
        ("feature_group", route.feature.group.into()),
        ("team", route.feature.team.into()),
        ("tier", route.feature.tier.into()),
    ];
    if !route.feature.name.is_empty() {
        labels.push(("feature_id", route.feature.id.to_string().into()));
    }
    labels.retain(|(_, value)| !value.is_empty());
    labels
}

/// A frame name safe in folded format, where `;` separates frames and lines end at newlines.
fn sanitize_frame(name: &str) -> String {
    name.replace([';', '\n'], ":")
}

/// Builds a pprof profile, interning strings, functions and locations.
struct ProfileBuilder {
    profile: proto::Profile,
    strings: HashMap<Arc<str>, i64>,
    functions: HashMap<Arc<str>, u64>,
    locations: HashMap<usize, u64>,
    synthetic: HashMap<&'static str, u64>,
    mappings: HashMap<usize, u64>,
    labels: HashMap<usize, Vec<proto::Label>>,
    period_ns: u64,
}

impl ProfileBuilder {
    fn new(period_ns: u64) -> ProfileBuilder {
        let mut builder = ProfileBuilder {
            profile: proto::Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            synthetic: HashMap::new(),
            mappings: HashMap::new(),
            labels: HashMap::new(),
            period_ns,
        };
        builder.string("");
        let cpu = proto::ValueType {
            r#type: builder.string("cpu"),
            unit: builder.string("nanoseconds"),
        };
        let requests = proto::ValueType {
            r#type: builder.string("requests"),
            unit: builder.string("count"),
        };
        // `go tool pprof` shows the last sample type unless told otherwise.
        builder.profile.default_sample_type = cpu.r#type;
        builder.profile.sample_type = vec![cpu.clone(), requests];
        builder.profile.period_type = Some(cpu);
        builder.profile.period = period_ns as i64;
        builder
    }

    fn string(&mut self, text: &str) -> i64 {
        if let Some(&index) = self.strings.get(text) {
            return index;
        }
        let index = self.profile.string_table.len() as i64;
        self.profile.string_table.push(text.to_owned());
        self.strings.insert(text.into(), index);
        index
    }

    fn function(&mut self, name: &str) -> u64 {
        if let Some(&id) = self.functions.get(name) {
            return id;
        }
        let id = self.profile.function.len() as u64 + 1;
        let name_index = self.string(name);
        self.profile.function.push(proto::Function {
            id,
            name: name_index,
            system_name: name_index,
            ..proto::Function::default()
        });
        self.functions.insert(name.into(), id);
        id
    }

    fn mapping(&mut self, segment: usize, symbolizer: &Symbolizer) -> u64 {
        if let Some(&id) = self.mappings.get(&segment) {
            return id;
        }
        let id = self.profile.mapping.len() as u64 + 1;
        let info = &symbolizer.segments()[segment];
        let filename = self.string(&symbolizer.object(info).path.to_string_lossy());
        self.profile.mapping.push(proto::Mapping {
            id,
            memory_start: info.start as u64,
            memory_limit: info.end as u64,
            file_offset: info.file_offset,
            filename,
            has_functions: true,
            ..proto::Mapping::default()
        });
        self.mappings.insert(segment, id);
        id
    }

    fn location(
        &mut self,
        address: usize,
        function: &str,
        segment: Option<usize>,
        symbolizer: &Symbolizer,
    ) -> u64 {
        if let Some(&id) = self.locations.get(&address) {
            return id;
        }
        let mapping_id = segment.map_or(0, |segment| self.mapping(segment, symbolizer));
        let id = self.push_location(address as u64, mapping_id, function);
        self.locations.insert(address, id);
        id
    }

    /// A location with no address, for the placeholder frames.
    fn synthetic(&mut self, name: &'static str) -> u64 {
        if let Some(&id) = self.synthetic.get(name) {
            return id;
        }
        let id = self.push_location(0, 0, name);
        self.synthetic.insert(name, id);
        id
    }

    fn push_location(&mut self, address: u64, mapping_id: u64, function: &str) -> u64 {
        let id = self.profile.location.len() as u64 + 1;
        let function_id = self.function(function);
        self.profile.location.push(proto::Location {
            id,
            mapping_id,
            address,
            line: vec![proto::Line {
                function_id,
                ..proto::Line::default()
            }],
            is_folded: false,
        });
        id
    }

    /// A CPU sample: `count` sampling periods of `route` on the stack `location_id`.
    fn sample(&mut self, location_id: Vec<u64>, route: usize, count: u64) {
        let cpu = (count * self.period_ns) as i64;
        self.push_sample(location_id, route, [cpu, 0]);
    }

    /// A request sample: `count` completed calls of `route`, on the frame `location`.
    fn calls_sample(&mut self, location: u64, route: usize, count: u64) {
        self.push_sample(vec![location], route, [0, count as i64]);
    }

    /// A sample with `route`'s labels and the values of both sample types.
    fn push_sample(&mut self, location_id: Vec<u64>, route: usize, values: [i64; 2]) {
        if !self.labels.contains_key(&route) {
            let labels = route_labels(route)
                .into_iter()
                .map(|(key, value)| proto::Label {
                    key: self.string(key),
                    str: self.string(&value),
                    ..proto::Label::default()
                })
                .collect();
            self.labels.insert(route, labels);
        }
        self.profile.sample.push(proto::Sample {
            location_id,
            value: values.to_vec(),
            label: self.labels[&route].clone(),
        });
    }

    fn finish(mut self, start: SystemTime, end: SystemTime) -> proto::Profile {
        self.profile.time_nanos = unix_nanos(start);
        self.profile.duration_nanos = end
            .duration_since(start)
            .unwrap_or(Duration::ZERO)
            .as_nanos() as i64;
        self.profile
    }
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn unix_nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as i64
}
