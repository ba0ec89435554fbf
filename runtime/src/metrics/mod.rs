//! `--metrics ADDR`: the running script's maps as a Prometheus exporter.
//!
//! The event loop publishes a [`Target`] — duplicated fds of the session's
//! maps and programs, and the [`plan`] of what each map becomes — and goes
//! on handling events. Each scrape runs on its own thread ([`http`]), reads
//! the kernel's maps there, at scrape time, and never takes a lock the event
//! loop waits on (publishing swaps an `Arc`). So a scrape cannot slow event
//! handling, and two scrapes read side by side.

pub mod expose;
pub mod families;
pub mod http;
pub mod plan;

use crate::error::RuntimeError;
use crate::session::SessionMaps;
use expose::{Family, FamilyType, Format, Number};
use http::{Request, Response};
use plan::MapPlan;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// What a scrape reads: copies another thread owns.
pub struct Target {
    pub maps: SessionMaps,
    /// Indexed by the map ids of `maps`' view (the typed program's).
    pub plans: Vec<MapPlan>,
    /// Attach point and program fd of every attached program.
    pub probes: Vec<(String, OwnedFd)>,
}

/// `--metrics-max-series`'s default: more than a map without a declared
/// size holds (`--map-keys` 4096), far less than would hurt Prometheus.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

pub struct Options {
    /// Series per map at most (the largest values are kept).
    pub max_series: usize,
    /// flowtrace's version, for `flowtrace_build_info`.
    pub version: String,
}

struct Shared {
    target: RwLock<Option<Arc<Target>>>,
    /// Probes attached: `/healthz` answers 200 only then.
    attached: AtomicBool,
    reload_failures: AtomicU64,
    reloads: AtomicU64,
    /// Scrapes answered, in the classic format and in OpenMetrics.
    scrapes: [AtomicU64; 2],
    options: Options,
}

/// A running exporter; the server thread lives as long as the process.
#[derive(Clone)]
pub struct Exporter {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Exporter {
    /// Binds `addr` (`127.0.0.1:9464`, `:9464`, `[::]:9464`) and serves.
    pub fn start(addr: &str, options: Options) -> Result<Exporter, RuntimeError> {
        let shared = Arc::new(Shared {
            target: RwLock::new(None),
            attached: AtomicBool::new(false),
            reload_failures: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            scrapes: Default::default(),
            options,
        });
        // `:9464` means every address, as Prometheus exporters take it.
        let bind = if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_string() };
        let served = Arc::clone(&shared);
        let addr = http::serve(&bind, move |req| route(&served, req))
            .map_err(|error| RuntimeError::Kernel { what: format!("listening on {addr} for --metrics"), error })?;
        Ok(Exporter { shared, addr })
    }

    /// The address bound (the port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What scrapes read from now on; `None` once probes are detached.
    /// `/healthz` answers 200 while it has attached programs.
    pub fn publish(&self, target: Option<Target>) {
        let attached = target.as_ref().is_some_and(|t| !t.probes.is_empty());
        self.shared.attached.store(attached, Ordering::SeqCst);
        let new = target.map(Arc::new);
        if let Ok(mut t) = self.shared.target.write() {
            *t = new;
        }
    }

    /// A reload that kept the old script (`flowtrace_reload_failures_total`).
    pub fn count_reload(&self, ok: bool) {
        let counter = if ok { &self.shared.reloads } else { &self.shared.reload_failures };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

fn route(shared: &Shared, req: &Request) -> Response {
    match req.path.as_str() {
        "/metrics" => {
            let format = Format::negotiate(req.accept.as_deref());
            shared.scrapes[(format == Format::OpenMetrics) as usize].fetch_add(1, Ordering::SeqCst);
            // Cloning the Arc is all a scrape holds the lock for.
            let target = shared.target.read().ok().and_then(|t| t.clone());
            let families = scrape(shared, target.as_deref());
            Response { status: 200, content_type: format.content_type(), body: expose::render(&families, format) }
        }
        "/healthz" if shared.attached.load(Ordering::SeqCst) => Response::text(200, "ok\n"),
        "/healthz" => Response::text(503, "probes not attached\n"),
        "/" => Response::text(200, "flowtrace exporter: /metrics, /healthz\n"),
        _ => Response::text(404, "not found\n"),
    }
}

/// Every family, read now: the script's maps first, then flowtrace's own.
fn scrape(shared: &Shared, target: Option<&Target>) -> Vec<Family> {
    let mut health = Health::new();
    let mut families = Vec::new();
    if let Some(t) = target {
        for id in t.maps.user_maps() {
            let Some(plan) = t.plans.get(id.0 as usize) else { continue };
            let snap = match t.maps.snapshot(id) {
                Ok(s) => s,
                Err(_) => {
                    health.scrape_errors += 1;
                    continue;
                }
            };
            let (mut family, dropped) = families::map_family(plan, &snap, shared.options.max_series);
            if health.reserved(&family.name) {
                family.name = format!("flowtrace_user_{}", family.name.trim_start_matches("flowtrace_"));
            }
            families.push(family);
            health.map(&plan.map, &snap, dropped);
        }
        health.events_lost = t.maps.lost_events();
        for (attach, fd) in &t.probes {
            if let Ok(info) = crate::sys::prog_info(fd.as_fd()) {
                health.probe(attach, info.run_cnt, info.run_time_ns);
            }
        }
    }
    families.extend(health.families(shared));
    families
}

/// flowtrace's own series, modelled on `cilium_bpf_map_pressure`.
struct Health {
    entries: Family,
    max_entries: Family,
    pressure: Family,
    update_failures: Family,
    evictions: Family,
    series_dropped: Family,
    /// Runs and nanoseconds per attach point: two probes on one tracepoint
    /// are one series (a series may appear once per scrape).
    probes: std::collections::BTreeMap<String, (u64, u64)>,
    events_lost: u64,
    scrape_errors: u64,
}

fn map_label(map: &str) -> Vec<(String, String)> {
    vec![("map".to_string(), map.to_string())]
}

impl Health {
    fn new() -> Health {
        let f = |name: &str, help: &str, kind| Family::new(name, help, kind);
        Health {
            entries: f("flowtrace_map_entries", "Keys in the map now", FamilyType::Gauge),
            max_entries: f("flowtrace_map_max_entries", "Keys the map can hold", FamilyType::Gauge),
            pressure: f("flowtrace_map_pressure", "Map fill ratio: entries / max_entries", FamilyType::Gauge),
            update_failures: f("flowtrace_map_update_failures", "Updates dropped because the map was full", FamilyType::Counter),
            evictions: f("flowtrace_map_evictions", "Keys an LRU map evicted to make room", FamilyType::Counter),
            series_dropped: f("flowtrace_series_dropped", "Map entries left out by --metrics-max-series", FamilyType::Gauge),
            probes: Default::default(),
            events_lost: 0,
            scrape_errors: 0,
        }
    }

    /// Whether a family name is one of ours (a map of that name is renamed).
    fn reserved(&self, name: &str) -> bool {
        let ours = [&self.entries, &self.max_entries, &self.pressure, &self.update_failures, &self.evictions];
        ours.iter().any(|f| f.name == name)
            || ["flowtrace_series_dropped", "flowtrace_probe_runs", "flowtrace_probe_run_seconds", "flowtrace_events_lost", "flowtrace_build_info", "flowtrace_reload_failures", "flowtrace_reloads", "flowtrace_scrape_errors", "flowtrace_scrapes"]
                .contains(&name)
    }

    fn map(&mut self, map: &str, snap: &crate::values::MapSnapshot, dropped: u64) {
        let n = snap.entries.len() as i128;
        self.entries.push(map_label(map), Number::Int(n));
        self.max_entries.push(map_label(map), Number::Int(snap.max_entries as i128));
        self.pressure.push(map_label(map), Number::Float(n as f64 / f64::from(snap.max_entries.max(1))));
        self.update_failures.push(map_label(map), Number::Int(snap.dropped_updates as i128));
        self.evictions.push(map_label(map), Number::Int(snap.evicted as i128));
        self.series_dropped.push(map_label(map), Number::Int(dropped as i128));
    }

    fn probe(&mut self, attach: &str, runs: u64, ns: u64) {
        let sum = self.probes.entry(attach.to_string()).or_default();
        *sum = (sum.0.wrapping_add(runs), sum.1.wrapping_add(ns));
    }

    fn families(self, shared: &Shared) -> Vec<Family> {
        let one = |name: &str, help: &str, kind, value: u64| {
            let mut f = Family::new(name, help, kind);
            f.push(Vec::new(), Number::Int(value as i128));
            f
        };
        let mut build = Family::new("flowtrace_build_info", "flowtrace's version", FamilyType::Gauge);
        build.push(vec![("version".to_string(), shared.options.version.clone())], Number::Int(1));
        let mut out = vec![self.entries, self.max_entries, self.pressure, self.update_failures, self.evictions, self.series_dropped];
        out.push(one("flowtrace_events_lost", "Ring-buffer records lost because it was full", FamilyType::Counter, self.events_lost));
        if !self.probes.is_empty() {
            let mut runs = Family::new("flowtrace_probe_runs", "Times the probe's programs ran (kernel BPF stats)", FamilyType::Counter);
            let mut seconds =
                Family::new("flowtrace_probe_run_seconds", "Time spent in the probe's programs (kernel BPF stats)", FamilyType::Counter);
            for (attach, (n, ns)) in &self.probes {
                let label = vec![("probe".to_string(), attach.clone())];
                runs.push(label.clone(), Number::Int(*n as i128));
                seconds.push(label, Number::Float(*ns as f64 / 1e9));
            }
            out.push(runs);
            out.push(seconds);
        }
        let failures = shared.reload_failures.load(Ordering::SeqCst);
        out.push(one("flowtrace_reload_failures", "SIGHUP reloads that kept the old script", FamilyType::Counter, failures));
        out.push(one("flowtrace_reloads", "SIGHUP reloads that took effect", FamilyType::Counter, shared.reloads.load(Ordering::SeqCst)));
        let mut scrapes = Family::new("flowtrace_scrapes", "Scrapes of /metrics answered, by format (this one included)", FamilyType::Counter);
        for (i, format) in ["prometheus", "openmetrics"].iter().enumerate() {
            scrapes.push(vec![("format".to_string(), format.to_string())], Number::Int(shared.scrapes[i].load(Ordering::SeqCst) as i128));
        }
        out.push(scrapes);
        out.push(one("flowtrace_scrape_errors", "Maps this scrape could not read", FamilyType::Gauge, self.scrape_errors));
        out.push(build);
        out
    }
}
