//! Property tests: whatever the guest prints, the parsers that read it (console faults, the
//! symbolizer, the normaliser, the line reader) and the snapshot reader never panic, and
//! what they keep stays within the caps of `klab::vm::limits`.

use klab::judge::diff::{LineKind, Plain, RecordDiff};
use klab::judge::normalize::{Filter, Normalizer};
use klab::judge::record::Record;
use klab::judge::snapshot::Snapshot;
use klab::judge::symbolize::{annotate, module_frames, PLACE_MARK};
use klab::vm::console::{FaultWatch, EXCERPT_LINES};
use klab::vm::limits::{EXCERPT_LINE_BYTES, FRAMES_PER_LINE};
use klab::vm::line_reader::LineReader;
use proptest::prelude::*;

/// Few cases: the suite stays fast, and every run explores new ones.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    }
}

/// Bytes as the guest may send them (invalid UTF-8 included), decoded as the reader does.
fn lossy() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into())
}

/// A report title, frame or timestamp the parsers key on, with hostile numbers.
fn crafted() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[    1.5] BUG: kernel NULL pointer dereference".to_owned()),
        Just("Kernel panic - not syncing: Fatal exception".to_owned()),
        Just("WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2".to_owned()),
        Just("BUG: KASAN: ".to_owned()),
        Just("refcount_t: ".to_owned()),
        Just("[ BUG: Invalid wait context ]".to_owned()),
        Just("[99999999999999999999999.99999999] ".to_owned()),
        (any::<u64>(), any::<u64>(), "[a-z_]{1,8}", "[a-z_]{1,8}")
            .prop_map(|(o, s, f, m)| format!("{f}+0x{o:x}/0x{s:x} [{m}]")),
        ("[0-9a-f]{0,40}", "[0-9a-f]{0,40}").prop_map(|(o, s)| format!(" f+0x{o}/0x{s} [m]")),
        Just("RIP: 0010:f+0xffffffffffffffff/0x1 [mod]".to_owned()),
    ]
}

/// A long run of one char (up to 100 KB, past every line cap), cheap to make.
fn long() -> impl Strategy<Value = String> {
    (any::<char>(), 0usize..100_000).prop_map(|(c, n)| c.to_string().repeat(n / c.len_utf8()))
}

/// One console line: any mix of the above.
fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![4 => lossy(), 4 => crafted(), 1 => long()], 0..8)
        .prop_map(|parts| parts.concat().replace('\n', " "))
}

fn lines() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(line(), 0..60)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_fault_watch_keeps_a_bounded_excerpt(lines in lines()) {
        let mut watch = FaultWatch::default();
        for line in &lines {
            watch.feed(line);
        }
        if let Some(fault) = watch.take() {
            prop_assert!(!fault.excerpt.is_empty());
            prop_assert!(fault.excerpt.len() <= EXCERPT_LINES);
            for l in &fault.excerpt {
                prop_assert!(l.len() <= EXCERPT_LINE_BYTES + 40, "{}", l.len());
            }
            prop_assert!(fault.class().len() <= EXCERPT_LINE_BYTES + 40);
        }
    }

    #[test]
    fn frames_are_few_sane_and_their_addresses_never_overflow(
        line in line(),
        value in any::<u64>(),
    ) {
        let frames = module_frames(&line);
        prop_assert!(frames.len() <= FRAMES_PER_LINE);
        for frame in &frames {
            let offset = if frame.exact { frame.offset } else { frame.offset.saturating_sub(1) };
            let wide = value as u128 + offset as u128;
            prop_assert_eq!(frame.address(value), u64::try_from(wide).ok());
        }
        let mut excerpt = vec![line.clone()];
        let placed = annotate(&mut excerpt, |f| Some(format!("{}.c:{}", f.module, f.offset)));
        prop_assert_eq!(placed, !frames.is_empty());
        // What annotate adds is bounded by the frames it may place.
        let added = excerpt[0].len() - line.len();
        prop_assert!(added <= PLACE_MARK.len() + FRAMES_PER_LINE * (2 + 8 + 3 + 20));
    }

    #[test]
    fn normalising_never_grows_a_log_beyond_its_filters(lines in lines()) {
        let log = lines.join("\n");
        let plain = Normalizer::default();
        let dmesg = plain.dmesg(&log);
        prop_assert!(dmesg.len() <= log.lines().count());
        prop_assert!(dmesg.iter().map(String::len).sum::<usize>() <= log.len());
        let output = plain.output(&log);
        prop_assert_eq!(output.len(), log.lines().count());
        // A filter grows each match to at most its replacement.
        let digits = Normalizer::new(&[Filter { regex: r"\d".into(), replacement: "[N]".into() }])
            .unwrap();
        let total: usize = digits.output(&log).iter().map(String::len).sum();
        prop_assert!(total <= 3 * log.len());
    }

    #[test]
    fn the_snapshot_reader_takes_any_text(text in lines().prop_map(|l| l.join("\n"))) {
        let snap = Snapshot::parse(&text);
        prop_assert!(snap.body.ends_with('\n'));
        prop_assert!(snap.body.len() <= text.len() + 1);
        // What it writes, it reads back.
        let again = Snapshot::parse(&snap.to_file_text("labs/x/lab.toml", "x/1-a"));
        prop_assert_eq!(&again, &snap);
        let other = Snapshot::new(&text.replace('a', "b"));
        let (ours, theirs) = (Record::of_snapshot(&snap), Record::of_snapshot(&other));
        let diff = RecordDiff::between(&ours, &theirs);
        prop_assert_eq!(diff.is_empty(), ours == theirs);
        // Each line of either side appears at most once, with a short prefix (control
        // characters written out take up to 8 bytes each), plus a title and hunk headers.
        let d = diff.render("  ", &Plain);
        let lines = text.lines().count() + 2;
        prop_assert!(d.len() <= 8 * (snap.body.len() + other.body.len()) + 64 * lines + 200);
        // No replaced line is replaced by itself.
        for hunk in diff.sections.iter().flat_map(|s| &s.hunks) {
            for pair in hunk.lines.windows(2) {
                if pair[0].kind == LineKind::Expected && pair[1].kind == LineKind::Actual {
                    prop_assert_ne!(&pair[0].text, &pair[1].text);
                }
            }
        }
    }

    #[test]
    fn the_line_reader_bounds_every_line_and_keeps_short_ones_whole(
        bytes in prop::collection::vec(prop_oneof![8 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'\r')], 0..3000),
        head in 1usize..300,
        tail in 1usize..40,
    ) {
        let mut reader = LineReader::new(&bytes[..], head, tail);
        let mut got = Vec::new();
        let mut logged = Vec::new();
        while let Some(line) = reader.next_line(&mut |b| logged.extend_from_slice(b)).unwrap() {
            // Lossy decoding may triple a byte; the marker is short.
            prop_assert!(line.len() <= 3 * (head + tail) + 40, "{}", line.len());
            got.push(line);
        }
        prop_assert_eq!(&logged, &bytes, "the log sees every byte");
        let expect: Vec<String> = String::from_utf8_lossy(&bytes)
            .split_terminator('\n')
            .map(|l| l.replace('\r', ""))
            .collect();
        // As many lines as newlines (and a last one without); those that fit come whole.
        prop_assert_eq!(got.len(), expect.len());
        for (raw, (got, expect)) in bytes.split(|&b| b == b'\n').zip(got.iter().zip(&expect)) {
            if raw.len() <= head + tail {
                prop_assert_eq!(got, expect);
            } else {
                prop_assert!(got.contains(" bytes cut] "), "{}", got);
            }
        }
    }
}
