//! The datapunk-log benchmark harness.
//!
//! `cargo run --release -p perf [-- --profile FILE] [--json] [--subjects a,b]`
//!
//! Runs every subject of the profile through the latency scenario (call,
//! burst, disabled) and the throughput scenario, then the span scenario
//! and the OTLP scenario with their own subjects, then the collector
//! scenario (datapunk-log with a collector absent, up, down, stalled), then
//! the sampling scenario (root spans under samplers, beside the SDK's
//! `ParentBased(TraceIdRatioBased)`, and two threads on one hot rate-limit
//! key), then, when asked for, the reload scenario (datapunk-log's log call
//! without and with a thread reloading the configuration every 10 ms),
//! each in a child process
//! (the same executable re-run with a hidden `--scenario` argument: one
//! logging engine per process, and a fresh process per configuration), then
//! prints a table (or, with `--json`, one JSON object) and writes the JSON
//! summary to `perf/results/<profile>-latest.json`.

mod collector;
mod otlp;
mod probe;
mod profile;
mod receiver;
mod reload;
mod report;
mod results;
mod sampling;
mod scenario;
mod spans;
mod subject;
mod tsc;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use profile::Profile;
use results::{
    CollectorRun, LatencyResult, Machine, ReloadRun, SamplingRun, ScenarioRun, SubjectResult,
    Summary, ThroughputResult,
};
use scenario::{ChildSpec, ScenarioKind};
use subject::SubjectKind;
use tsc::Calibration;

const USAGE: &str = "\
usage: perf [--profile FILE] [--json] [--subjects NAME,...] [--scenarios NAME,...]

  --profile FILE     benchmark profile (default: perf/profiles/default.toml)
  --json             print the summary as one JSON object on stdout
  --subjects LIST    run these subjects instead of the profile's, in this order
                     (each scenario runs those of them it can)
  --scenarios LIST   run these scenarios (latency, throughput, spans, otlp,
                     collector, sampling, reload) instead; reload runs only
                     when named here
  --results FILE     where to write the JSON summary
                     (default: perf/results/<profile>-latest.json)
  --list-subjects    print the subjects a profile may name

  --probe SUBJECT [--calls N] [--disabled] [--log-dir DIR]
                     make N calls through a non-inlined `probe_call` (or
                     `probe_disabled`), for callgrind / perf stat; no timing
";

fn default_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/default.toml")
}

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
}

struct Args {
    profile: PathBuf,
    json: bool,
    subjects: Option<Vec<SubjectKind>>,
    scenarios: Option<Vec<ScenarioKind>>,
    results: Option<PathBuf>,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = if argv.first().map(String::as_str) == Some("--scenario") {
        child_main(&argv)
    } else if argv.first().map(String::as_str) == Some("--probe") {
        probe_main(&argv)
    } else {
        match parse_args(&argv) {
            Ok(Some(a)) => parent_main(a),
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => Err(format!("{e}\n\n{USAGE}")),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perf: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A comma-separated list of names, each parsed by `parse`.
fn parse_list<T>(list: &str, what: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|name| parse(name).ok_or_else(|| format!("unknown {what} `{name}`")))
        .collect()
}

fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        profile: default_profile(),
        json: false,
        subjects: None,
        scenarios: None,
        results: None,
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--profile" => {
                a.profile = it.next().ok_or("--profile needs a file")?.into();
            }
            "--json" => a.json = true,
            "--results" => {
                a.results = Some(it.next().ok_or("--results needs a file")?.into());
            }
            "--subjects" => {
                let list = it.next().ok_or("--subjects needs a list")?;
                a.subjects = Some(parse_list(list, "subject", SubjectKind::parse)?);
            }
            "--scenarios" => {
                let list = it.next().ok_or("--scenarios needs a list")?;
                a.scenarios = Some(parse_list(list, "scenario", ScenarioKind::parse)?);
            }
            "--list-subjects" => {
                for k in subject::ALL_SUBJECTS {
                    let scens: Vec<&str> = scenario::ALL_SCENARIOS
                        .into_iter()
                        .filter(|&s| k.runs(s))
                        .map(ScenarioKind::name)
                        .collect();
                    println!(
                        "{:<18} {} [{}]",
                        k.name(),
                        k.description(),
                        scens.join(", ")
                    );
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(a))
}

/// `--scenario NAME --spec JSON`: runs one scenario and prints its result
/// as one JSON line on stdout.
fn child_main(argv: &[String]) -> Result<(), String> {
    let spec = match argv {
        [_, _name, flag, json] if flag == "--spec" => json,
        _ => return Err("usage: --scenario NAME --spec JSON".into()),
    };
    let spec: ChildSpec = serde_json::from_str(spec).map_err(|e| format!("bad --spec: {e}"))?;
    let v = scenario::run_child(&spec)?;
    println!("{v}");
    Ok(())
}

fn probe_main(argv: &[String]) -> Result<(), String> {
    let mut it = argv.iter().skip(1);
    let name = it.next().ok_or("--probe needs a subject")?;
    let kind = SubjectKind::parse(name).ok_or_else(|| format!("unknown subject `{name}`"))?;
    let mut calls = 1_000_000u64;
    let mut disabled = false;
    let mut log_dir = "logs/perf".to_string();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--calls" => {
                calls = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--calls needs a number")?;
            }
            "--disabled" => disabled = true,
            "--log-dir" => log_dir = it.next().ok_or("--log-dir needs a directory")?.clone(),
            other => return Err(format!("unknown probe argument `{other}`")),
        }
    }
    probe::run(kind, calls, disabled, &log_dir)
}

fn parent_main(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let load_avg_start = load_avg();
    let mut profile = Profile::load(&args.profile)?;
    if let Some(s) = args.subjects {
        profile.restrict_subjects(&s);
    }
    if let Some(s) = args.scenarios {
        profile.scenarios = s;
    }
    profile
        .validate()
        .map_err(|e| format!("--subjects / --scenarios: {e}"))?;
    let cal = Calibration::measure(Duration::from_millis(profile.tsc_calibration_ms));
    eprintln!(
        "[perf] profile {} — TSC {:.4} GHz over {:.0} ms",
        profile.name, cal.ticks_per_ns, cal.window_ms
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;

    let logger_scenarios: Vec<ScenarioKind> = profile
        .scenarios
        .iter()
        .copied()
        .filter(|s| matches!(s, ScenarioKind::Latency | ScenarioKind::Throughput))
        .collect();
    let mut subjects = Vec::new();
    let logger_subjects = if logger_scenarios.is_empty() {
        Vec::new()
    } else {
        profile.subjects.clone()
    };
    for &kind in &logger_subjects {
        let mut r = SubjectResult {
            subject: kind.name().into(),
            description: kind.description().into(),
            latency: None,
            throughput: None,
            foreign_cpu_latency: None,
            foreign_cpu_throughput: None,
            errors: Vec::new(),
        };
        for &scen in &logger_scenarios {
            // The floor: latency only.
            if !kind.runs(scen) {
                continue;
            }
            let t = Instant::now();
            eprint!("[perf] {:<18} {:<10} ", kind.name(), scen.name());
            let spec = ChildSpec {
                scenario: scen,
                subject: kind,
                profile: profile.clone(),
                calibration: cal,
                condition: None,
                sampling_case: None,
                reload_mode: None,
            };
            let cpu0 = CpuTimes::now();
            let outcome = run_child(&exe, &spec);
            let foreign =
                cpu0.and_then(|c0| Some(c0.foreign_cores(&CpuTimes::now()?, t.elapsed())));
            if scen == ScenarioKind::Latency {
                r.foreign_cpu_latency = foreign;
            } else {
                r.foreign_cpu_throughput = foreign;
            }
            match outcome {
                Ok(v) => {
                    let parsed = if scen == ScenarioKind::Latency {
                        serde_json::from_value::<LatencyResult>(v).map(|x| r.latency = Some(x))
                    } else {
                        serde_json::from_value::<ThroughputResult>(v)
                            .map(|x| r.throughput = Some(x))
                    };
                    match parsed {
                        Ok(()) => eprintln!("{:.1} s", t.elapsed().as_secs_f64()),
                        Err(e) => {
                            eprintln!("FAILED");
                            r.errors.push(format!("{}: bad result: {e}", scen.name()));
                        }
                    }
                }
                Err(e) => {
                    eprintln!("FAILED");
                    r.errors.push(format!("{}: {e}", scen.name()));
                }
            }
        }
        subjects.push(r);
    }

    let mut span_runs = Vec::new();
    let mut otlp_runs = Vec::new();
    let mut collector_runs = Vec::new();
    let mut sampling_runs = Vec::new();
    let mut reload_runs = Vec::new();
    for &scen in &profile.scenarios {
        match scen {
            ScenarioKind::Spans => {
                span_runs = run_scenario(&exe, &profile, cal, scen);
            }
            ScenarioKind::Otlp => {
                otlp_runs = run_scenario(&exe, &profile, cal, scen);
            }
            ScenarioKind::Collector => {
                collector_runs = run_collector(&exe, &profile, cal);
            }
            ScenarioKind::Sampling => {
                sampling_runs = run_sampling(&exe, &profile, cal);
            }
            ScenarioKind::Reload => {
                reload_runs = run_reload(&exe, &profile, cal);
            }
            ScenarioKind::Latency | ScenarioKind::Throughput => {}
        }
    }

    let ratios = report::ratios(&subjects, profile.baseline.name());
    let floor_ratios = report::floor_ratios(&subjects);
    let peer_ratios = report::peer_ratios(&subjects);
    let span_ratios = report::span_ratios(&span_runs, profile.baseline);
    let otlp_ratios = report::otlp_ratios(&otlp_runs, profile.baseline);
    let collector_ratios = report::collector_ratios(&collector_runs);
    let sampling_ratios = report::sampling_ratios(&sampling_runs);
    let reload_ratios = report::reload_ratios(&reload_runs);
    let l = &profile.latency;
    let mut notes = vec![
        format!(
            "latency scenario: datapunk-log ring {} MiB, Overflow::{:?}, every ring page touched before measuring; peers: queue {} with the same overflow policy; drops are counted (records missing from the file) and shown",
            l.ring_capacity >> 20,
            l.overflow,
            l.peer_queue
        ),
        format!(
            "rdtsc overhead {} (start: lfence;rdtsc;lfence, stop: rdtscp;lfence)",
            if l.subtract_rdtsc_overhead {
                "subtracted from every sample (p50 of the empty pair)"
            } else {
                "NOT subtracted: every call sample includes one empty-pair cost, every burst sample 1/burst_size of it"
            }
        ),
        "throughput scenario: Overflow::Block / lossless peers with their default queues, fresh process and file; verified by line count and serde_json on a sample (ticklog's text lines: split and their fields parsed)".into(),
        "one producer thread; each subject's background thread runs on the other core; nothing pinned".into(),
    ];
    if logger_subjects.contains(&SubjectKind::Floor) {
        notes.push(format!(
            "floor: one rdtsc (unfenced, the harness's read) + a 64-byte push (ts, u64, f64, route bytes) into an rtrb ring of {} slots ({} MiB, pages touched first), Overflow::Drop; a drain thread wakes every {} µs, pops and checks everything and writes nothing; disabled = a relaxed load of a level and a branch. Latency only: with no output, a records/s figure would measure the ring's size over the drain's period, not a capture; throughput is judged against the best peer",
            l.ring_capacity / 64,
            l.ring_capacity >> 20,
            subject::FLOOR_DRAIN_PERIOD.as_micros()
        ));
    }
    if logger_subjects.contains(&SubjectKind::Ticklog) {
        notes.push(
            "ticklog: its ring is fixed at 1 MiB per thread (~8k of these records), not the latency ring above; Backpressure::Drop in the latency scenario, Block in throughput; it counts no drops (computed from the file); its level ceiling is compile-time, so its disabled call compiles to nothing; its drain thread spins a core when idle".into(),
        );
    }
    if let Some(sp) = profile.spans.as_ref().filter(|_| !span_runs.is_empty()) {
        notes.push(format!(
            "spans scenario: a span started and ended at once (no fields, not entered), exported to an exporter that counts and discards on the subject's own thread; datapunk-log ring {} MiB pre-faulted, Overflow::Drop; SDK BatchSpanProcessor defaults (queue 2048); lost = spans that never reached the exporter",
            sp.ring_capacity >> 20
        ));
    }
    if let Some(o) = profile.otlp.as_ref().filter(|_| !otlp_runs.is_empty()) {
        notes.push(format!(
            "otlp scenario: {} log records from one thread over OTLP/gRPC (no compression) to a loopback receiver in the same process that counts records from the request bytes (large HTTP/2 windows); 512 records/request; {}; timed from the first record to the last one received; lost = emitted - received",
            o.records,
            if o.lossless {
                "lossless: datapunk-log export_overflow(Block), the SDK's queue holds every record"
            } else {
                "each subject's default queue"
            }
        ));
    }
    if let Some(c) = profile
        .collector
        .as_ref()
        .filter(|_| !collector_runs.is_empty())
    {
        notes.push(format!(
            "collector scenario: datapunk-precise's latency call by the call and burst methods, one process per condition ({}); ring {} MiB pre-faulted (prepare_thread), Overflow::Drop, export_overflow(Drop), null JSON sink; OTLP/gRPC, 512 records/request, request and batch timeout {} ms, shutdown timeout {} ms; counters read after the guard's drop",
            c.conditions
                .iter()
                .map(|x| x.name())
                .collect::<Vec<_>>()
                .join(", "),
            c.ring_capacity >> 20,
            c.export_timeout_ms,
            c.shutdown_timeout_ms
        ));
    }
    if let Some(sp) = profile
        .sampling
        .as_ref()
        .filter(|_| !sampling_runs.is_empty())
    {
        notes.push(format!(
            "sampling scenario: a root span started and ended at once under a sampler, one process per case ({}), timed by the spans scenario's call and burst methods (is_sampled read in the timed region to count the spans kept); datapunk-log ring {} MiB pre-faulted, Overflow::Drop, sampled spans to a discarding exporter; the SDK's BatchSpanProcessor defaults (queue 2048); ratios = otel-sdk's figure / the case's; hot-key: {} threads on one rate-limit key, {} spans each, every {}th timed; lost = sampled spans that never reached the exporter",
            sp.cases
                .iter()
                .map(|x| x.name())
                .collect::<Vec<_>>()
                .join(", "),
            sp.ring_capacity >> 20,
            sampling::HOT_THREADS,
            sp.hot_spans_per_thread,
            sp.hot_sample_every
        ));
    }
    if let Some(r) = profile.reload.as_ref().filter(|_| !reload_runs.is_empty()) {
        notes.push(format!(
            "reload scenario: datapunk-precise's latency call by the call ({} ns apart) and burst methods, one process per mode ({}); ring {} MiB pre-faulted (prepare_thread), Overflow::Drop, null JSON sink; reloading: every {} ms, {}; ratios = reloading / no-reload; no peer has an equivalent",
            r.call_pause_ns,
            r.modes
                .iter()
                .map(|x| x.name())
                .collect::<Vec<_>>()
                .join(", "),
            r.ring_capacity >> 20,
            r.interval_ms,
            reload::parts_description(&r.parts)
        ));
    }
    let summary = Summary {
        profile: profile.name.clone(),
        profile_path: args.profile.display().to_string(),
        description: profile.description.clone(),
        started_unix_s,
        wall_s: started.elapsed().as_secs_f64(),
        load_avg_start,
        load_avg_end: load_avg(),
        machine: machine(&cal),
        notes,
        subjects,
        ratios,
        floor_ratios,
        peer_ratios,
        spans: span_runs,
        span_ratios,
        otlp: otlp_runs,
        otlp_ratios,
        collector: collector_runs,
        collector_ratios,
        sampling: sampling_runs,
        sampling_ratios,
        reload: reload_runs,
        reload_ratios,
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    let out = args
        .results
        .unwrap_or_else(|| results_dir().join(format!("{}-latest.json", profile.name)));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&out, format!("{json}\n"))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report::human(&summary));
        println!("\nsummary written to {}", out.display());
    }
    let failed = summary.subjects.iter().any(|s| !s.errors.is_empty())
        || summary.spans.iter().any(|s| !s.errors.is_empty())
        || summary.otlp.iter().any(|s| !s.errors.is_empty())
        || summary.collector.iter().any(|s| !s.errors.is_empty())
        || summary.sampling.iter().any(|s| !s.errors.is_empty())
        || summary.reload.iter().any(|s| !s.errors.is_empty());
    if failed {
        Err("some scenarios failed (see the errors above)".into())
    } else {
        Ok(())
    }
}

/// Runs every subject of the span or OTLP scenario, each in a child process.
fn run_scenario<T: serde::de::DeserializeOwned>(
    exe: &Path,
    profile: &Profile,
    cal: Calibration,
    scen: ScenarioKind,
) -> Vec<ScenarioRun<T>> {
    let mut runs = Vec::new();
    for kind in profile.subjects_of(scen) {
        let t = Instant::now();
        eprint!("[perf] {:<18} {:<10} ", kind.name(), scen.name());
        let spec = ChildSpec {
            scenario: scen,
            subject: kind,
            profile: profile.clone(),
            calibration: cal,
            condition: None,
            sampling_case: None,
            reload_mode: None,
        };
        let cpu0 = CpuTimes::now();
        let outcome = run_child(exe, &spec);
        let foreign = cpu0.and_then(|c0| Some(c0.foreign_cores(&CpuTimes::now()?, t.elapsed())));
        let mut r = ScenarioRun {
            subject: kind.name().into(),
            description: kind.description_for(scen).into(),
            result: None,
            foreign_cpu: foreign,
            errors: Vec::new(),
        };
        match outcome
            .and_then(|v| serde_json::from_value::<T>(v).map_err(|e| format!("bad result: {e}")))
        {
            Ok(x) => {
                r.result = Some(x);
                eprintln!("{:.1} s", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                eprintln!("FAILED");
                r.errors.push(format!("{}: {e}", scen.name()));
            }
        }
        runs.push(r);
    }
    runs
}

/// Runs every condition of the collector scenario, each in a child process.
fn run_collector(exe: &Path, profile: &Profile, cal: Calibration) -> Vec<CollectorRun> {
    let Some(c) = &profile.collector else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    for &cond in &c.conditions {
        let t = Instant::now();
        eprint!("[perf] {:<18} {:<10} ", cond.name(), "collector");
        let spec = ChildSpec {
            scenario: ScenarioKind::Collector,
            subject: SubjectKind::DatapunkPrecise,
            profile: profile.clone(),
            calibration: cal,
            condition: Some(cond),
            sampling_case: None,
            reload_mode: None,
        };
        let cpu0 = CpuTimes::now();
        let outcome = run_child(exe, &spec);
        let foreign = cpu0.and_then(|c0| Some(c0.foreign_cores(&CpuTimes::now()?, t.elapsed())));
        let mut r = CollectorRun {
            condition: cond.name().into(),
            description: collector::condition_description(cond).into(),
            result: None,
            foreign_cpu: foreign,
            errors: Vec::new(),
        };
        match outcome
            .and_then(|v| serde_json::from_value(v).map_err(|e| format!("bad result: {e}")))
        {
            Ok(x) => {
                r.result = Some(x);
                eprintln!("{:.1} s", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                eprintln!("FAILED");
                r.errors.push(format!("collector {}: {e}", cond.name()));
            }
        }
        runs.push(r);
    }
    runs
}

/// Runs every case of the sampling scenario, each in a child process.
fn run_sampling(exe: &Path, profile: &Profile, cal: Calibration) -> Vec<SamplingRun> {
    let Some(sp) = &profile.sampling else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    for &case in &sp.cases {
        let t = Instant::now();
        eprint!("[perf] {:<18} {:<10} ", case.name(), "sampling");
        let spec = ChildSpec {
            scenario: ScenarioKind::Sampling,
            subject: case.subject(),
            profile: profile.clone(),
            calibration: cal,
            condition: None,
            sampling_case: Some(case),
            reload_mode: None,
        };
        let cpu0 = CpuTimes::now();
        let outcome = run_child(exe, &spec);
        let foreign = cpu0.and_then(|c0| Some(c0.foreign_cores(&CpuTimes::now()?, t.elapsed())));
        let mut r = SamplingRun {
            case: case.name().into(),
            subject: case.subject().name().into(),
            description: sampling::case_description(case, sp),
            result: None,
            hot_key: None,
            foreign_cpu: foreign,
            errors: Vec::new(),
        };
        let parsed = outcome.and_then(|v| {
            if case == profile::SamplingCase::HotKey {
                serde_json::from_value(v).map(|x| r.hot_key = Some(x))
            } else {
                serde_json::from_value(v).map(|x| r.result = Some(x))
            }
            .map_err(|e| format!("bad result: {e}"))
        });
        match parsed {
            Ok(()) => eprintln!("{:.1} s", t.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("FAILED");
                r.errors.push(format!("sampling {}: {e}", case.name()));
            }
        }
        runs.push(r);
    }
    runs
}

/// Runs every mode of the reload scenario, each in a child process.
fn run_reload(exe: &Path, profile: &Profile, cal: Calibration) -> Vec<ReloadRun> {
    let Some(rp) = &profile.reload else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    for &mode in &rp.modes {
        let t = Instant::now();
        eprint!("[perf] {:<18} {:<10} ", mode.name(), "reload");
        let spec = ChildSpec {
            scenario: ScenarioKind::Reload,
            subject: SubjectKind::DatapunkPrecise,
            profile: profile.clone(),
            calibration: cal,
            condition: None,
            sampling_case: None,
            reload_mode: Some(mode),
        };
        let cpu0 = CpuTimes::now();
        let outcome = run_child(exe, &spec);
        let foreign = cpu0.and_then(|c0| Some(c0.foreign_cores(&CpuTimes::now()?, t.elapsed())));
        let mut r = ReloadRun {
            mode: mode.name().into(),
            description: reload::mode_description(mode, Some(rp)),
            result: None,
            foreign_cpu: foreign,
            errors: Vec::new(),
        };
        match outcome
            .and_then(|v| serde_json::from_value(v).map_err(|e| format!("bad result: {e}")))
        {
            Ok(x) => {
                r.result = Some(x);
                eprintln!("{:.1} s", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                eprintln!("FAILED");
                r.errors.push(format!("reload {}: {e}", mode.name()));
            }
        }
        runs.push(r);
    }
    runs
}

fn run_child(exe: &Path, spec: &ChildSpec) -> Result<serde_json::Value, String> {
    let spec_json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--scenario")
        .arg(spec.scenario.name())
        .arg("--spec")
        .arg(spec_json)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the scenario process: {e}"))?;
    if !out.status.success() {
        return Err(format!("scenario process failed ({})", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The result is the last line that is a JSON object; anything a peer
    // printed before it is ignored.
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("scenario process printed no result")?;
    serde_json::from_str(line).map_err(|e| format!("unreadable scenario result: {e}"))
}

/// CPU time counters from /proc, in clock ticks (USER_HZ, 100 a second on
/// Linux): everything the machine did, and what this process and its
/// reaped children did.
struct CpuTimes {
    machine_busy: u64,
    ours: u64,
}

impl CpuTimes {
    fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is
        // already counted in user).
        let busy = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| cpu.get(i)).sum();
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // utime, stime, cutime, cstime are fields 14-17 (1-based); after
        // the parenthesized command name, the state (field 3) is index 0.
        let rest = own.rsplit_once(')')?.1;
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        Some(CpuTimes {
            machine_busy: busy,
            ours: f.iter().sum(),
        })
    }

    /// Cores' worth of CPU others used between `self` and `later`.
    fn foreign_cores(&self, later: &CpuTimes, wall: Duration) -> f64 {
        let busy = later.machine_busy.saturating_sub(self.machine_busy);
        let ours = later.ours.saturating_sub(self.ours);
        busy.saturating_sub(ours) as f64 / 100.0 / wall.as_secs_f64().max(1e-3)
    }
}

fn load_avg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn machine(cal: &Calibration) -> Machine {
    let step = tsc::step_ticks(1_000_000);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| std::env::consts::OS.to_string());
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        kernel,
        tsc_ghz: cal.ticks_per_ns,
        tsc_calibration_ms: cal.window_ms,
        tsc_step_ticks: step,
        tsc_step_ns: cal.to_ns(step as f64),
    }
}
