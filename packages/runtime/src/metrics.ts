import type { NatsConnection } from '@nats-io/transport-node';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How often the event loop's delay is sampled (`<prefix>nodejs_eventloop_lag_*`). */
const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Prometheus metrics: each service (and each agent of the benchmark's
 * many-agents-in-one-process harness) keeps its own set of collectors, so nothing is
 * shared through prom-client's global one.
 */
export function createCollectors(opts: { prefix: string; processMetrics: boolean; labels?: Record<string, string> }): Registry {
  const collectors = new Registry();
  if (opts.labels) collectors.setDefaultLabels(opts.labels);
  // Process metrics (CPU, memory, event loop lag, GC) once per process, not once per agent. The event
  // loop's delay is sampled every 100 ms, not prom-client's default 10 ms: a timer that woke every
  // idle gateway and agent 100 times a second, for a histogram scraped every few seconds.
  if (opts.processMetrics)
    collectDefaultMetrics({ register: collectors, prefix: opts.prefix, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return collectors;
}

/** Whether the NATS connection is up right now, for metrics and readiness. */
export interface NatsLink {
  connected(): boolean;
  /** Follows `nc` from now on, in place of the connection before (an agent that rotated its login). */
  follow(nc: NatsConnection): void;
}

/**
 * Follows the connection's status: `<prefix>nats_reconnects_total` counts
 * reconnects, `<prefix>nats_connected` is 1 while the connection is up.
 */
export function trackNats(nc: NatsConnection, collectors: Registry, prefix: string): NatsLink {
  let current = nc;
  let up = !nc.isClosed();
  const reconnects = new Counter({
    name: `${prefix}nats_reconnects_total`,
    help: 'Reconnects to NATS since start',
    registers: [collectors],
  });
  new Gauge({
    name: `${prefix}nats_connected`,
    help: '1 while the NATS connection is up, 0 while it is down or reconnecting',
    registers: [collectors],
    collect() {
      this.set(up && !current.isClosed() ? 1 : 0);
    },
  });
  const watch = (conn: NatsConnection) => {
    void (async () => {
      for await (const status of conn.status()) {
        if (conn !== current) return;
        if (status.type === 'disconnect' || status.type === 'close') up = false;
        if (status.type === 'reconnect') {
          up = true;
          reconnects.inc();
        }
      }
    })();
  };
  watch(nc);
  return {
    connected: () => up && !current.isClosed(),
    follow(next) {
      current = next;
      up = !next.isClosed();
      watch(next);
    },
  };
}

/** Seconds; a job runs from milliseconds up to its 300 s deadline. */
export const JOB_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** `<prefix>jobs_total{operation,status}` and `<prefix>job_duration_seconds{operation}`, as gateway and agent both keep them. */
export function jobSeries(collectors: Registry, prefix: string, help: { jobs: string; duration: string }) {
  return {
    jobs: new Counter({
      name: `${prefix}jobs_total`,
      help: help.jobs,
      labelNames: ['operation', 'status'] as const,
      registers: [collectors],
    }),
    duration: new Histogram({
      name: `${prefix}job_duration_seconds`,
      help: help.duration,
      labelNames: ['operation'] as const,
      buckets: JOB_DURATION_BUCKETS,
      registers: [collectors],
    }),
  };
}

/** The series names a scrape of `collectors` shows: a histogram is scraped as its _bucket, _sum and _count series. */
export async function scrapedSeriesNames(collectors: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await collectors.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

/** The part of a Grafana dashboard (deploy/grafana/) these checks read: each panel's PromQL queries. */
export interface GrafanaDashboard {
  panels: { targets?: { expr: string }[] }[];
}

/**
 * The `fleet_*` series a dashboard queries that are this process's (`owns`), and those of them a scrape
 * of `collectors` would not show: a dashboard naming a series nobody exports draws an empty panel.
 */
export async function dashboardSeriesMissing(
  dashboard: GrafanaDashboard,
  collectors: Registry,
  owns: (series: string) => boolean,
): Promise<{ queried: string[]; missing: string[] }> {
  const exprs = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
  const queried = [...new Set(exprs.flatMap((expr) => expr.match(/\bfleet_[a-z0-9_]+/g) ?? []))].filter(owns);
  const exported = await scrapedSeriesNames(collectors);
  return { queried, missing: queried.filter((series) => !exported.has(series)) };
}
