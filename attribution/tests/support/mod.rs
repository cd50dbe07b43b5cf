//! Building pprof files for the tests and the benchmark, with the runtime's prost messages
//! (`featgen::profiler::proto`), so that the lean reader is checked against the definitions
//! the profiler writes with.

#![allow(dead_code, reason = "each test file uses a different subset")]

use featgen::profiler::proto::{Function, Label, Line, Location, Profile, Sample, ValueType};
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;
use std::collections::HashMap;
use std::io::Write;

/// Builds one profile, interning strings.
pub struct Builder {
    pub profile: Profile,
    strings: HashMap<String, i64>,
}

impl Builder {
    /// A profile whose sample types are `types` (`(type, unit)`), with a 10 ms period.
    pub fn new(types: &[(&str, &str)], time_nanos: i64, duration_nanos: i64) -> Builder {
        let mut builder = Builder {
            profile: Profile::default(),
            strings: HashMap::new(),
        };
        builder.string("");
        for (kind, unit) in types {
            let value_type = ValueType {
                r#type: builder.string(kind),
                unit: builder.string(unit),
            };
            builder.profile.sample_type.push(value_type);
        }
        let period_type = ValueType {
            r#type: builder.string("cpu"),
            unit: builder.string("nanoseconds"),
        };
        builder.profile.period_type = Some(period_type);
        builder.profile.period = 10_000_000;
        builder.profile.time_nanos = time_nanos;
        builder.profile.duration_nanos = duration_nanos;
        builder
    }

    /// A CPU profile as the profiler writes it.
    pub fn cpu(time_nanos: i64, duration_nanos: i64) -> Builder {
        Builder::new(&[("cpu", "nanoseconds")], time_nanos, duration_nanos)
    }

    pub fn string(&mut self, text: &str) -> i64 {
        if let Some(&index) = self.strings.get(text) {
            return index;
        }
        let index = self.profile.string_table.len() as i64;
        self.profile.string_table.push(text.to_owned());
        self.strings.insert(text.to_owned(), index);
        index
    }

    /// A location with one function named `name`.
    pub fn location(&mut self, name: &str) -> u64 {
        let id = self.profile.location.len() as u64 + 1;
        let name = self.string(name);
        self.profile.function.push(Function {
            id,
            name,
            system_name: name,
            ..Function::default()
        });
        self.profile.location.push(Location {
            id,
            address: 0x1000 + id * 16,
            line: vec![Line {
                function_id: id,
                ..Line::default()
            }],
            ..Location::default()
        });
        id
    }

    /// Adds a sample with string labels and a numeric `feature_id` when given.
    pub fn sample(
        &mut self,
        stack: Vec<u64>,
        values: Vec<i64>,
        labels: &[(&str, &str)],
        feature_id: Option<i64>,
    ) {
        let mut label: Vec<Label> = labels
            .iter()
            .map(|(key, value)| Label {
                key: self.string(key),
                str: self.string(value),
                ..Label::default()
            })
            .collect();
        if let Some(id) = feature_id {
            label.push(Label {
                key: self.string("feature_id"),
                num: id,
                ..Label::default()
            });
        }
        self.profile.sample.push(Sample {
            location_id: stack,
            value: values,
            label,
        });
    }

    pub fn encode(&self) -> Vec<u8> {
        self.profile.encode_to_vec()
    }

    pub fn gzip(&self) -> Vec<u8> {
        gzip(&self.encode())
    }
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}
