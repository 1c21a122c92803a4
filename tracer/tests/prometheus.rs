//! Under a real Prometheus (Debian's `prometheus` package): three tracers, each told it is a
//! different host (`--host-label h0..h2`) and given one node of a fixture cluster under load,
//! scraped every second by a Prometheus this test starts on loopback with the example rules
//! of `docs/prometheus/tracer-rules.yml`. Its query API must return per-node syscall and fsync
//! rates, function latency quantiles (`histogram_quantile`) and the leader role, and every
//! value must agree with the three session folders. Also: `promtool check rules` and
//! `promtool test rules` accept the example rules.
//!
//! How the values are compared (why each check holds exactly or within what):
//! - A tracer's endpoint is updated when a window closes, so every sample Prometheus stored
//!   for a host equals, exactly, the sum of that host's first k windows (`windows/*.json`) for
//!   some k, and k grows with time. Checked for syscalls, fsyncs and function calls.
//! - `rate(x[R])` is Prometheus's extrapolation of the series' increase inside the range: per
//!   series, between `increase / R` and `increase / (last - first sample time)` (it extends
//!   the sampled interval towards the range's ends, never beyond them). The increases are
//!   computed from the very samples checked above, so the rate is bounded by session figures.
//! - `histogram_quantile` interpolates inside tracer's power-of-two buckets, so it lies in the
//!   same power of two as the quantile of the session's windows (log-linear buckets, ~6%).
//! - The leader: the one host whose node has `tracer_node_role{role="leader"} == 1` is the
//!   fixture's own leader (its status port) and the leader in that host's snapshot.

mod common;

use common::owned::{start_host_tracer, Owned};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tracer::model::{Snapshot, Stats};
use tracer_test_support::{free_ports, ClientMode, ClientOpts, Cluster, ClusterOpts};

const HOSTS: usize = 3;
/// The rate range of the queries: ten scrapes and ten windows of one second.
const RANGE_S: f64 = 10.0;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/prometheus")
}

#[test]
fn promtool_accepts_the_example_rules_and_their_alerts_fire() {
    let dir = rules_dir();
    for args in [
        vec!["check", "rules", "tracer-rules.yml"],
        vec!["test", "rules", "tracer-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .expect("promtool (Debian package prometheus, installed by cargo xtask setup)");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `tracer run` on one node as host `host`, serving metrics on a free port; returns the
/// child once it traces, and the metrics address it printed.
fn start_tracer(host: &str, pid: u32, out: &Path) -> (Owned, String) {
    let args: Vec<String> = ["--interval", "1s", "--metrics", "127.0.0.1:0", "--pid"]
        .iter()
        .map(|a| a.to_string())
        .chain([pid.to_string()])
        .collect();
    let (child, lines) = start_host_tracer(host, &args, out);
    let addr = lines
        .iter()
        .find_map(|l| l.strip_prefix("tracer: metrics on http://"))
        .map(|rest| rest.trim_end_matches("/metrics").to_string())
        .unwrap_or_else(|| panic!("{host}: tracer printed no metrics address"));
    (child, addr)
}

/// `application/x-www-form-urlencoded` escaping of a query parameter.
fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.0 request to Prometheus; the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// `/api/v1/query` at unix time `at`: the result array (vector or matrix).
fn query(prom: &str, q: &str, at: f64) -> Vec<Value> {
    let (status, body) = http(
        prom,
        "POST",
        "/api/v1/query",
        &format!("query={}&time={at:.3}", form_escape(q)),
    );
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{q}: {body}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn num(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

fn label<'a>(series: &'a Value, name: &str) -> &'a str {
    series["metric"][name].as_str().unwrap_or("")
}

/// An instant vector as label value of `by` → value.
fn by(result: &[Value], by: &str) -> BTreeMap<String, f64> {
    result
        .iter()
        .map(|s| (label(s, by).to_string(), num(&s["value"][1])))
        .collect()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn is_flush(name: &str) -> bool {
    name == "fsync" || name == "fdatasync"
}

/// Running sums over the windows (index k: the first k windows) of a figure.
fn prefix_sums(ws: &[Snapshot], figure: impl Fn(&Snapshot) -> u64) -> Vec<u64> {
    let mut out = vec![0];
    for w in ws {
        out.push(out.last().unwrap() + figure(w));
    }
    out
}

/// The samples of a range-vector result, summed over its series per timestamp: what the
/// host's counter family totalled at each scrape (a series absent at a scrape had not
/// counted anything yet).
fn totals_per_scrape(result: &[Value]) -> BTreeMap<i64, f64> {
    let mut at: BTreeMap<i64, f64> = BTreeMap::new();
    for s in result {
        for p in s["values"].as_array().unwrap() {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            *at.entry(t).or_default() += num(&p[1]);
        }
    }
    at
}

/// Bounds on `sum(rate(series[RANGE_S]))` from the samples in the range: per series, the
/// increase over RANGE_S at least, over its sampled interval at most.
fn rate_bounds(result: &[Value]) -> (f64, f64, f64) {
    let (mut lo, mut hi, mut inc_all) = (0.0, 0.0, 0.0);
    for s in result {
        let v = s["values"].as_array().unwrap();
        if v.len() < 2 {
            continue;
        }
        let (t0, v0) = (v[0][0].as_f64().unwrap(), num(&v[0][1]));
        let (t1, v1) = (v[v.len() - 1][0].as_f64().unwrap(), num(&v[v.len() - 1][1]));
        let inc = v1 - v0;
        lo += inc / RANGE_S;
        hi += inc / (t1 - t0);
        inc_all += inc;
    }
    (lo, hi, inc_all)
}

/// The power-of-two bucket (ns) of tracer's histograms holding `ns`; both neighbours when
/// `ns` is a bound. Bounds start at 2^10 ns (the first bucket is [0, 1024]).
fn bucket_around(ns: f64) -> (f64, f64) {
    let first = f64::from(1u32 << tracer::output::metrics::LE_POW2_NS.start());
    if ns <= first {
        return (0.0, if ns == first { 2.0 * first } else { first });
    }
    let upper = 2f64.powf(ns.log2().ceil());
    if upper == ns {
        (ns / 2.0, ns * 2.0)
    } else {
        (upper / 2.0, upper)
    }
}

#[test]
fn prometheus_scrapes_three_hosts_and_agrees_with_their_sessions() {
    require_root();
    let t0 = Instant::now();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts::default()).unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let pids = cluster.pids();
    assert_eq!(pids.len(), HOSTS);

    let hosts: Vec<String> = (0..HOSTS).map(|i| format!("h{i}")).collect();
    let mut tracers = Vec::new();
    let mut addrs = Vec::new();
    for (host, pid) in hosts.iter().zip(&pids) {
        let (t, a) = start_tracer(host, *pid, &out.path().join(host));
        tracers.push(t);
        addrs.push(a);
    }

    // Prometheus on a free loopback port, scraping the three endpoints every second, with
    // the example rules evaluated every second.
    let prom_port = free_ports(1).unwrap()[0];
    let prom = format!("127.0.0.1:{prom_port}");
    let config = out.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{:?}]\n\
             scrape_configs:\n  - job_name: tracer\n    static_configs:\n      \
             - targets: [{}]\n",
            rules_dir().join("tracer-rules.yml"),
            addrs
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .unwrap();
    let prometheus = Owned::new(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                out.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("prometheus (Debian package, installed by cargo xtask setup)"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::net::TcpStream::connect(&prom)
        .is_ok_and(|_| http(&prom, "GET", "/-/ready", "").0 == 200)
    {
        assert!(Instant::now() < deadline, "prometheus never became ready");
        std::thread::sleep(Duration::from_millis(200));
    }

    eprintln!("{:.1} s: prometheus ready", t0.elapsed().as_secs_f64());

    // Prometheus's first scrape waits for service discovery's first update (up to 5 s):
    // load only once every tracer has been scraped, for RANGE_S + 3 s, then query, so the
    // rate range lies inside the loaded stretch.
    while query(&prom, "up == 1", now()).len() < HOSTS {
        assert!(
            Instant::now() < deadline + Duration::from_secs(10),
            "never scraped"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{:.1} s: every tracer scraped", t0.elapsed().as_secs_f64());
    let report = cluster
        .run_client(&ClientOpts {
            threads: 2,
            ops_per_thread: None,
            duration: Some(Duration::from_secs_f64(RANGE_S + 3.0)),
            mode: ClientMode::Put,
            value_bytes: 64,
            rate_per_thread: None,
        })
        .unwrap();
    assert!(report.ops > 100, "the client made progress: {report:?}");
    let at = now();
    // One scrape a second: at least RANGE_S - 1 in the range (a scrape may straddle its start).
    let scrapes = by(
        &query(
            &prom,
            &format!("count_over_time(tracer_run_seconds[{RANGE_S}s])"),
            at,
        ),
        "host",
    );
    for h in &hosts {
        assert!(
            scrapes.get(h).copied().unwrap_or(0.0) >= RANGE_S - 1.0,
            "{h}: {scrapes:?}"
        );
    }
    let leader_now = cluster.current_leader().expect("a leader");

    // Per-node syscall and fsync rates, as a dashboard asks for them.
    let sys_rate = by(
        &query(
            &prom,
            &format!("sum by (host) (rate(tracer_syscalls_total[{RANGE_S}s]))"),
            at,
        ),
        "host",
    );
    let fsync_rate = by(
        &query(
            &prom,
            &format!(
                "sum by (host) (rate(tracer_syscalls_total{{syscall=~\"fsync|fdatasync\"}}[{RANGE_S}s]))"
            ),
            at,
        ),
        "host",
    );
    // The raw samples behind them.
    let sys_raw: Vec<Vec<Value>> = hosts
        .iter()
        .map(|h| {
            query(
                &prom,
                &format!("tracer_syscalls_total{{host=\"{h}\"}}[{RANGE_S}s]"),
                at,
            )
        })
        .collect();
    let fsync_raw: Vec<Vec<Value>> = hosts
        .iter()
        .map(|h| {
            query(
                &prom,
                &format!(
                    "tracer_syscalls_total{{host=\"{h}\",syscall=~\"fsync|fdatasync\"}}[{RANGE_S}s]"
                ),
                at,
            )
        })
        .collect();
    // Calls per function over the whole run, and each host's busiest function's median and
    // p99 from the cumulative buckets.
    let calls: Vec<Vec<Value>> = hosts
        .iter()
        .map(|h| {
            query(
                &prom,
                &format!("tracer_function_latency_seconds_count{{host=\"{h}\"}}"),
                at,
            )
        })
        .collect();
    let mut quantiles = Vec::new();
    for (h, c) in hosts.iter().zip(&calls) {
        let busiest = c
            .iter()
            .max_by(|a, b| num(&a["value"][1]).total_cmp(&num(&b["value"][1])))
            .unwrap_or_else(|| panic!("{h}: no probed function served"));
        let function = label(busiest, "function").to_string();
        let count = num(&busiest["value"][1]) as u64;
        let mut qs = Vec::new();
        for q in [0.5, 0.99] {
            let r = query(
                &prom,
                &format!(
                    "histogram_quantile({q}, sum by (le) (tracer_function_latency_seconds_bucket{{host=\"{h}\",function=\"{function}\"}}))"
                ),
                at,
            );
            qs.push((q, num(&r[0]["value"][1])));
        }
        quantiles.push((function, count, qs));
    }
    let leaders = query(&prom, "tracer_node_role{role=\"leader\"} == 1", at);
    let self_cpu = by(&query(&prom, "host:tracer_self_cpu:share1m", at), "host");
    let recorded_fsync = by(&query(&prom, "host_node:tracer_fsyncs:rate1m", at), "host");
    let leader_count = query(&prom, "cluster:tracer_leaders:count", at);

    // Stop the tracers (each writes its session), then Prometheus.
    for t in &mut tracers {
        assert!(t.terminate().success());
    }
    drop(prometheus);
    eprintln!("{:.1} s: stopped", t0.elapsed().as_secs_f64());

    for (i, h) in hosts.iter().enumerate() {
        let session = out.path().join(h);
        let snap = load_snapshot(&session);
        let ws = read_windows(&session);
        assert_eq!(snap.host, *h, "--host-label in snapshot.json");
        assert!(
            ws.iter().all(|w| w.host == *h),
            "--host-label in every window"
        );
        assert!(ws.len() as f64 >= RANGE_S, "{h}: {} windows", ws.len());
        let sys_prefix = prefix_sums(&ws, |w| w.syscalls.iter().map(|r| r.stats.count).sum());
        let fsync_prefix = prefix_sums(&ws, |w| {
            w.syscalls
                .iter()
                .filter(|r| is_flush(&r.name))
                .map(|r| r.stats.count)
                .sum()
        });

        // Every scrape is the sum of the first k windows, k never going back.
        for (what, raw, prefix) in [
            ("syscalls", &sys_raw[i], &sys_prefix),
            ("fsyncs", &fsync_raw[i], &fsync_prefix),
        ] {
            let mut last_k = 0;
            for (t, v) in totals_per_scrape(raw) {
                let k = prefix
                    .iter()
                    .position(|&p| p as f64 == v)
                    .unwrap_or_else(|| {
                        panic!("{h} {what} at {t}: {v} is no window prefix sum {prefix:?}")
                    });
                assert!(
                    k >= last_k,
                    "{h} {what}: went back from window {last_k} to {k}"
                );
                last_k = k;
            }
        }
        // rate() within the bounds its samples allow, and those samples are session figures.
        for (what, rate, raw) in [
            ("syscalls", &sys_rate, &sys_raw[i]),
            ("fsyncs", &fsync_rate, &fsync_raw[i]),
        ] {
            let r = rate[h];
            let (lo, hi, inc) = rate_bounds(raw);
            eprintln!(
                "{h} {what}/s: prometheus {r:.1}, bounds from the session's windows [{lo:.1}, {hi:.1}] (increase {inc})"
            );
            // 1e-6 relative: float rounding of Prometheus's arithmetic. It works in float
            // seconds since the epoch (~1.8e9 s, so ~2.4e-7 s resolution per timestamp); over a
            // range of a few seconds that is ~1e-7 relative (a CI run read 2.3e-9 above the
            // bound, which 1e-9 refused).
            assert!(
                r >= lo * (1.0 - 1e-6) && r <= hi * (1.0 + 1e-6) && r > 0.0,
                "{h} {what}: rate {r} outside [{lo}, {hi}]"
            );
        }
        // The fixture fsyncs every write (Fsync::Every): flushes were counted on every node.
        assert!(fsync_rate[h] > 0.0 && recorded_fsync[h] > 0.0, "{h}");

        // Function latency quantiles: in the same power of two as the session's own.
        let (function, count, qs) = &quantiles[i];
        let mut stats = Stats::default();
        let mut n = 0;
        for w in &ws {
            if n == *count {
                break;
            }
            for f in w
                .functions
                .iter()
                .filter(|f| tracer::cpp_names::qualified_name(&f.function) == *function)
            {
                stats.scale = f.latency.scale;
                stats.merge(&f.latency);
            }
            n = stats.count;
        }
        assert_eq!(
            n, *count,
            "{h} {function}: served calls are a window prefix"
        );
        for (q, prom_s) in qs {
            let prom_ns = prom_s * 1e9;
            let session_ns = stats.quantile_ns(*q);
            eprintln!(
                "{h} {function} p{}: prometheus {prom_ns:.0} ns, session {session_ns:.0} ns ({count} calls)",
                q * 100.0
            );
            // Prometheus's bucket is (2^(k-1), 2^k] ns with 2^k the first bound at or above
            // its answer (the first bucket starts at 0); the session's quantile lies in it, or,
            // when Prometheus answered a bound itself, in one of the two buckets sharing it.
            let (lower, upper) = bucket_around(prom_ns);
            // 1e-9 relative: float rounding of the interpolations.
            assert!(
                session_ns >= lower * (1.0 - 1e-9) && session_ns <= upper * (1.0 + 1e-9),
                "{h} {function} p{q}: session {session_ns} ns outside ({lower}, {upper}] of prometheus {prom_ns}"
            );
        }

        // tracer's own CPU is served and recorded by the example rules.
        assert!(self_cpu[h] > 0.0, "{h}: {self_cpu:?}");
    }

    // Exactly one leader over the three hosts: the fixture's, and its host's snapshot agrees.
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let leader_host = label(&leaders[0], "host");
    assert_eq!(
        leader_host, hosts[leader_now],
        "fixture's leader is node {leader_now}"
    );
    assert_eq!(label(&leaders[0], "pid"), pids[leader_now].to_string());
    let snap = load_snapshot(&out.path().join(leader_host));
    assert_eq!(
        snap.roles[0].final_role(),
        Some("leader"),
        "{leader_host}'s snapshot"
    );
    assert_eq!(num(&leader_count[0]["value"][1]), 1.0);
    eprintln!("prometheus test took {:.1} s", t0.elapsed().as_secs_f64());
    drop(cluster);
}
