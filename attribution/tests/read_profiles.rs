//! The pprof reader and the directory walk against profiles written with the profiler's prost
//! messages, and against damaged input: every outcome is a result, never a panic.

mod support;

use featgen::profiler::proto::Label;
use featgen_attribution::period::{Period, Step};
use featgen_attribution::pprof::{
    Contents, Damage, Inflater, LabelNames, MAX_PROFILE_BYTES, Reader, SeriesCpu, inflate_with_zlib,
};
use featgen_attribution::profiles::{ReadError, ReadOptions, read_dir};
use featgen_attribution::time::UtcTime;
use prost::Message;
use std::path::Path;
use support::{Builder, gzip};

const HOUR_NS: i64 = 3_600_000_000_000;
/// 2025-06-12 15:00:00 UTC.
const T0: i64 = 1_749_740_400;

fn labels<'a>(feature: &'a str, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("feature", feature),
        ("endpoint", endpoint),
        ("feature_group", "chat"),
        ("service_name", "api"),
        ("deployment", "api-prod"),
    ]
}

/// A profile with stacks, three label sets (one unattributed) and repeated label sets.
fn sample_profile(time_nanos: i64) -> Builder {
    let mut profile = Builder::cpu(time_nanos, 10_000_000_000);
    let main = profile.location("main");
    let send = profile.location("send_message");
    for i in 0..50 {
        let leaf = profile.location(&format!("leaf_{i}"));
        profile.sample(
            vec![leaf, send, main],
            vec![10_000_000 * (i + 1)],
            &labels("messaging", "send"),
            Some(1),
        );
        profile.sample(
            vec![leaf, main],
            vec![10_000_000],
            &labels("search", "query"),
            None,
        );
        profile.sample(
            vec![leaf],
            vec![20_000_000],
            &[("service_name", "api"), ("deployment", "api-prod")],
            None,
        );
    }
    profile
}

fn cpu(read: Result<Contents<'_>, Damage>) -> Vec<SeriesCpu<'_>> {
    match read {
        Ok(Contents::Cpu(profile)) => profile.series,
        other => panic!("expected a CPU profile, got {other:?}"),
    }
}

#[test]
fn reads_labels_values_and_window_as_prost_wrote_them() {
    let profile = sample_profile(T0 * 1_000_000_000);
    let mut reader = Reader::new(LabelNames::default());
    for bytes in [profile.encode(), profile.gzip()] {
        let Ok(Contents::Cpu(read)) = reader.read_bytes(&bytes) else {
            panic!("not read")
        };
        assert_eq!(
            (read.time_nanos, read.duration_nanos),
            (T0 * 1_000_000_000, 10_000_000_000)
        );
        // The prost messages' own view of the same profile.
        let mut by_feature = std::collections::BTreeMap::<String, i64>::new();
        for sample in &profile.profile.sample {
            let feature = profile
                .profile
                .labels(sample)
                .find(|(k, _)| *k == "feature")
                .map_or("", |(_, v)| v);
            *by_feature.entry(feature.to_owned()).or_default() += sample.value[0];
        }
        let mut series = read.series.clone();
        series.sort_by(|a, b| a.feature.cmp(&b.feature));
        assert_eq!(
            series,
            [
                SeriesCpu {
                    deployment: Some("api-prod".into()),
                    feature: None,
                    feature_id: None,
                    endpoint: None,
                    cpu_ns: by_feature[""] as u64,
                    samples: 100,
                    requests: None,
                },
                SeriesCpu {
                    deployment: Some("api-prod".into()),
                    feature: Some("messaging".into()),
                    feature_id: Some(1),
                    endpoint: Some("send".into()),
                    cpu_ns: by_feature["messaging"] as u64,
                    samples: (1..=50).sum(),
                    requests: None,
                },
                SeriesCpu {
                    deployment: Some("api-prod".into()),
                    feature: Some("search".into()),
                    feature_id: None,
                    endpoint: Some("query".into()),
                    cpu_ns: by_feature["search"] as u64,
                    samples: 50,
                    requests: None,
                },
            ]
        );
    }
}

#[test]
fn reads_go_style_profiles_and_other_labels() {
    // Go's CPU profiles: samples/count first, cpu/nanoseconds second; a string feature_id;
    // the deployment from another label, else service_name.
    let mut profile = Builder::new(
        &[
            ("samples", "count"),
            ("cpu", "nanoseconds"),
            ("requests", "count"),
        ],
        1,
        0,
    );
    profile.sample(
        vec![],
        vec![3, 30_000_000, 7],
        &[("feature", "a"), ("feature_id", "12"), ("cluster", "eu")],
        None,
    );
    profile.sample(
        vec![],
        vec![1, 10_000_000, 0],
        &[("service_name", "svc")],
        None,
    );
    let mut reader = Reader::new(LabelNames {
        deployment: "cluster".into(),
    });
    let gz = profile.gzip();
    let series = cpu(reader.read_bytes(&gz));
    assert_eq!(series.len(), 2);
    assert_eq!(
        (
            series[0].deployment.as_deref(),
            series[0].feature_id,
            series[0].samples,
            series[0].requests
        ),
        (Some("eu"), Some(12), 3, Some(7))
    );
    assert_eq!(
        (
            series[1].deployment.as_deref(),
            series[1].feature.as_deref()
        ),
        (Some("svc"), None)
    );
}

#[test]
fn labels_are_read_wherever_they_sit_in_a_sample() {
    // As prost writes them (labels after the values), twice with the same label bytes, and
    // once by hand with a value between two labels: one series, all three samples summed.
    let mut profile = Builder::cpu(T0 * 1_000_000_000, 10_000_000_000);
    let main = profile.location("main");
    profile.sample(vec![main], vec![10], &labels("messaging", "send"), None);
    profile.sample(vec![], vec![20], &labels("messaging", "send"), None);
    let label = |profile: &mut Builder, key: &str, value: &str| Label {
        key: profile.string(key),
        str: profile.string(value),
        ..Label::default()
    };
    let first = label(&mut profile, "feature", "messaging");
    let rest: Vec<Label> = [
        ("endpoint", "send"),
        ("feature_group", "chat"),
        ("service_name", "api"),
        ("deployment", "api-prod"),
    ]
    .iter()
    .map(|(key, value)| label(&mut profile, key, value))
    .collect();
    let mut sample = Vec::new();
    let field = |sample: &mut Vec<u8>, tag: u8, bytes: &[u8]| {
        sample.push(tag);
        prost::encoding::encode_varint(bytes.len() as u64, sample);
        sample.extend_from_slice(bytes);
    };
    field(&mut sample, 0x1a, &first.encode_to_vec());
    sample.extend([0x10, 40]); // value 40, unpacked, between the labels
    for label in &rest {
        field(&mut sample, 0x1a, &label.encode_to_vec());
    }
    let mut bytes = profile.encode();
    field(&mut bytes, 0x12, &sample);
    let mut reader = Reader::default();
    let series = cpu(reader.read_bytes(&bytes));
    let summary: Vec<_> = series
        .iter()
        .map(|s| {
            (
                s.feature.as_deref(),
                s.endpoint.as_deref(),
                s.deployment.as_deref(),
                s.cpu_ns,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(Some("messaging"), Some("send"), Some("api-prod"), 70)]
    );
}

#[test]
fn a_profile_of_something_else_is_named_by_its_types() {
    let heap = Builder::new(&[("alloc_space", "bytes"), ("inuse_space", "bytes")], 1, 0);
    assert_eq!(
        Reader::default().read_bytes(&heap.gzip()),
        Ok(Contents::NotCpu(vec![
            "alloc_space/bytes".into(),
            "inuse_space/bytes".into()
        ]))
    );
}

#[test]
fn damaged_input_is_an_error_never_a_panic() {
    let good = sample_profile(T0 * 1_000_000_000);
    let (plain, gz) = (good.encode(), good.gzip());
    let mut reader = Reader::default();
    // Truncated gzip, corrupt gzip body, bad CRC.
    assert!(matches!(
        reader.read_bytes(&gz[..gz.len() / 2]),
        Err(Damage::Gzip(_))
    ));
    let mut corrupt = gz.clone();
    for byte in &mut corrupt[20..40] {
        *byte ^= 0x5a;
    }
    assert!(reader.read_bytes(&corrupt).is_err());
    let mut bad_crc = gz.clone();
    let at = bad_crc.len() - 6;
    bad_crc[at] ^= 1;
    assert!(matches!(reader.read_bytes(&bad_crc), Err(Damage::Gzip(_))));
    // Truncated protobuf at every length: an error or a (smaller) profile, never a panic.
    for len in 0..plain.len().min(4_000) {
        let _ = reader.read_bytes(&plain[..len]);
    }
    assert!(matches!(
        reader.read_bytes(&plain[..plain.len() - 3]),
        Err(Damage::Malformed(_))
    ));
    // Not a protobuf at all.
    assert!(reader.read_bytes(b"just some text\n").is_err());
    // Negative CPU.
    let mut negative = Builder::cpu(1, 1);
    negative.sample(vec![], vec![-5], &[], None);
    assert_eq!(reader.read_bytes(&negative.encode()), Err(Damage::BadValue));
    // Still reads good input afterwards (buffers are reset).
    assert_eq!(cpu(reader.read_bytes(&gz)).len(), 3);
}

#[test]
fn every_gzip_member_is_read_and_bytes_after_the_last_are_an_error() {
    let plain = sample_profile(T0 * 1_000_000_000).encode();
    let mut reader = Reader::default();
    let whole = cpu(reader.read_bytes(&plain)).into_iter().map(|s| s.cpu_ns);
    let whole: Vec<u64> = whole.collect();
    // A profile split over two members (as `cat a.gz b.gz` makes) reads as the whole.
    for split in [1, plain.len() / 3, plain.len() - 1] {
        let members = [gzip(&plain[..split]), gzip(&plain[split..])].concat();
        let mut reader = Reader::default();
        let read = cpu(reader.read_bytes(&members));
        assert_eq!(read.iter().map(|s| s.cpu_ns).collect::<Vec<_>>(), whole);
    }
    // Identical members (same length and CRC in every trailer) are two members, not one.
    let text = b"profiles are read whole, ".repeat(1_000);
    let twice = [gzip(&text), gzip(&text)].concat();
    let mut out = Vec::new();
    Inflater::default().inflate(&twice, &mut out).unwrap();
    assert_eq!(out, [text.clone(), text.clone()].concat());
    // The fast path and the general path agree, buffer reuse included.
    let mut inflater = Inflater::default();
    for input in [gzip(&text), twice.clone(), gzip(&plain), gzip(b"")] {
        let mut general = Vec::new();
        inflate_with_zlib(&input, &mut general).unwrap();
        inflater.inflate(&input, &mut out).unwrap();
        assert_eq!(out, general);
    }
    // Bytes after the last member, and a wrong length in the trailer, are damage.
    let gz = gzip(&plain);
    for trailing in [&b"\0"[..], b"garbage after the member", &gz[..12]] {
        let input = [gz.as_slice(), trailing].concat();
        assert!(
            matches!(reader.read_bytes(&input), Err(Damage::Gzip(_))),
            "{trailing:?}"
        );
    }
    let mut bad_length = gz.clone();
    *bad_length.last_mut().unwrap() ^= 1;
    assert!(matches!(
        reader.read_bytes(&bad_length),
        Err(Damage::Gzip(_))
    ));
}

#[test]
fn a_decompression_bomb_is_refused_with_bounded_memory() {
    // Concatenated gzip members of 1 MiB of zeros each: 1 KiB per MiB on disk.
    let member = gzip(&vec![0; 1 << 20]);
    let members = (MAX_PROFILE_BYTES >> 20) as usize + 1;
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * members)
        .collect();
    assert!(bomb.len() < 200_000);
    assert_eq!(Reader::default().read_bytes(&bomb), Err(Damage::TooLarge));
}

fn options(from: i64, hours: i64) -> ReadOptions {
    ReadOptions {
        labels: LabelNames::default(),
        period: Period::new(UtcTime(from), UtcTime(from + hours * 3_600), Step::Hour).unwrap(),
        skip_damaged: false,
        threads: 2,
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn walks_recursively_in_order_and_counts_what_it_skips() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let t0 = T0 * 1_000_000_000;
    write(&root.join("pod-a/1.pb.gz"), &sample_profile(t0).gzip());
    write(
        &root.join("pod-b/deeper/2.pb"),
        &sample_profile(t0 + 10_000_000_000).encode(),
    );
    // In flight (the sink's temporary name) and hidden: ignored.
    write(&root.join("pod-a/.3.pb.gz.partial"), b"half a file");
    write(
        &root.join("heap.pb.gz"),
        &Builder::new(&[("inuse_space", "bytes")], t0, 0).gzip(),
    );
    // An hour later: outside a one-hour period.
    write(
        &root.join("pod-a/later.pb.gz"),
        &sample_profile(t0 + HOUR_NS).gzip(),
    );

    let read = read_dir(root, &options(T0, 1)).unwrap();
    assert_eq!(read.summary.files, 4);
    assert_eq!(read.summary.profiles, 3);
    assert_eq!(read.summary.outside_period, 1);
    let skipped: Vec<_> = read
        .summary
        .skipped
        .iter()
        .map(|(reason, s)| (*reason, s.files))
        .collect();
    assert_eq!(
        skipped,
        [("not a CPU profile (no cpu/nanoseconds sample type)", 1)]
    );
    let mut reader = Reader::default();
    let gz = sample_profile(t0).gzip();
    let one = cpu(reader.read_bytes(&gz));
    let total: u64 = one.iter().map(|s| s.cpu_ns).sum();
    assert_eq!(read.cpu.iter().map(|c| c.cpu_ns).sum::<u64>(), 2 * total);
    assert!(
        read.cpu
            .iter()
            .all(|c| c.step_start == UtcTime(T0) && c.deployment == "api-prod")
    );
    assert_eq!(read.cpu.len(), 3);
    // Same result with one thread: the order does not depend on scheduling.
    let single = read_dir(
        root,
        &ReadOptions {
            threads: 1,
            ..options(T0, 1)
        },
    )
    .unwrap();
    assert_eq!(single, read);
}

#[test]
fn damaged_files_fail_the_run_naming_the_first_or_are_counted_when_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let gz = sample_profile(T0 * 1_000_000_000).gzip();
    write(&root.join("a.pb.gz"), &gz);
    write(&root.join("b.pb.gz"), &gz[..gz.len() - 10]);
    write(&root.join("c.pb.gz"), b"\x1f\x8bnot gzip");
    let err = read_dir(root, &options(T0, 1)).unwrap_err();
    assert!(
        matches!(&err, ReadError::Damaged { path, .. } if path.ends_with("b.pb.gz")),
        "{err}"
    );
    assert!(err.to_string().contains("--skip-damaged"), "{err}");

    let read = read_dir(
        root,
        &ReadOptions {
            skip_damaged: true,
            ..options(T0, 1)
        },
    )
    .unwrap();
    assert_eq!(read.summary.profiles, 1);
    let skipped = &read.summary.skipped["corrupt or truncated gzip"];
    assert_eq!(skipped.files, 2);
    assert!(skipped.first.as_ref().unwrap().0.ends_with("b.pb.gz"));
}

#[test]
fn empty_directories_and_empty_windows_give_no_cpu_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let read = read_dir(dir.path(), &options(T0, 1)).unwrap();
    assert_eq!((read.summary.files, read.cpu.len()), (0, 0));
    write(
        &dir.path().join("x.pb.gz"),
        &sample_profile(T0 * 1_000_000_000).gzip(),
    );
    let read = read_dir(dir.path(), &options(T0 + 7_200, 1)).unwrap();
    assert_eq!(
        (
            read.summary.profiles,
            read.summary.outside_period,
            read.cpu.len()
        ),
        (1, 1, 0)
    );
    assert!(matches!(
        read_dir(&dir.path().join("missing"), &options(T0, 1)),
        Err(ReadError::Io { .. })
    ));
}

#[test]
fn a_window_across_the_hour_is_split_exactly_and_unlabeled_cpu_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    // 4 s before 16:00, 6 s after.
    let mut profile = Builder::cpu((T0 + 3_600) * 1_000_000_000 - 4_000_000_000, 10_000_000_000);
    profile.sample(
        vec![],
        vec![1_000_000_001],
        &labels("messaging", "send"),
        None,
    );
    profile.sample(vec![], vec![500], &[], None);
    write(&dir.path().join("x.pb"), &profile.encode());
    let read = read_dir(dir.path(), &options(T0, 2)).unwrap();
    let parts: Vec<_> = read
        .cpu
        .iter()
        .map(|c| (c.step_start.0 - T0, c.cpu_ns, c.samples))
        .collect();
    // 1,000,000,001 ns x 0.4 = 400,000,000.4 -> 400,000,000; 600,000,000.6 -> 600,000,001
    // (the larger remainder); 100 samples -> 40 + 60.
    assert_eq!(parts, [(0, 400_000_000, 40), (3_600, 600_000_001, 60)]);
    assert_eq!(read.summary.no_deployment.cpu_ns, 500);
    assert_eq!(read.summary.no_deployment.files, 1);
}
