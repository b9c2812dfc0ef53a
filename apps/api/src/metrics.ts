import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HostRow, JobRecord } from '@fleet/contracts/protocol';
import { createCollectors, JOB_DURATION_BUCKETS, jobSeries } from '@fleet/runtime/metrics';
import type { AgentRoster } from './agents/roster';
import { jobStatus } from './jobs/rows';

const PREFIX = 'fleet_';

/** Hosts one job fans out to. */
const FAN_OUT_BUCKETS = [1, 2, 3, 5, 10, 25, 50, 100, 250, 500, 1000];

/**
 * The gateway's metrics, served at GET /metrics: jobs by operation and
 * outcome, their duration and fan-out, the agents the roster sees, each
 * agent's engine health, NATS reconnects and HTTP requests by route.
 */
export class GatewayMetrics {
  readonly collectors: Registry;
  private readonly series: ReturnType<typeof jobSeries>;
  private readonly hostResults: Counter<'operation' | 'status'>;
  private readonly fanOut: Histogram;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly requestDuration: Histogram<'method' | 'route'>;

  constructor(opts: { processMetrics: boolean } = { processMetrics: true }) {
    this.collectors = createCollectors({ prefix: PREFIX, processMetrics: opts.processMetrics });
    const registers = [this.collectors];
    this.series = jobSeries(this.collectors, PREFIX, {
      jobs: 'Jobs settled, by operation and job status (ok: every host ok; failed: no host ok; partial: some hosts failed or were skipped)',
      duration: 'Time from job creation until every host answered or the deadline passed',
    });
    this.hostResults = new Counter({
      name: `${PREFIX}job_host_results_total`,
      help: 'Per-host result rows of settled jobs, by operation and row status (timeouts count as failed)',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.fanOut = new Histogram({ name: `${PREFIX}job_hosts`, help: 'Hosts a job was fanned out to', buckets: FAN_OUT_BUCKETS, registers });
    this.requests = new Counter({
      name: `${PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration, by method and route template',
      labelNames: ['method', 'route'],
      buckets: JOB_DURATION_BUCKETS,
      registers,
    });
  }

  /** The job client's onSettled hook: one call per job, with its final rows. */
  jobSettled(record: JobRecord, rows: HostRow[]): void {
    this.series.jobs.inc({ operation: record.operation, status: jobStatus(rows) });
    // One increment per row status, not per row: a fan-out over 1,000 hosts is a handful of label lookups, not 1,000.
    const perStatus = new Map<string, number>();
    for (const row of rows) perStatus.set(row.status, (perStatus.get(row.status) ?? 0) + 1);
    for (const [status, count] of perStatus) this.hostResults.inc({ operation: record.operation, status }, count);
    this.series.duration.observe({ operation: record.operation }, (Date.now() - Date.parse(record.created_at)) / 1000);
    this.fanOut.observe(record.hosts.length);
  }

  /** `fleet_agents{state}` and `fleet_engine_healthy{hostname}`, read from the roster at scrape time. */
  followAgents(agents: Pick<AgentRoster, 'list'>): void {
    new Gauge({
      name: `${PREFIX}agents`,
      help: 'Agents heard from within the registry TTL: live (taking group targets) and drained (cordoned)',
      labelNames: ['state'],
      registers: [this.collectors],
      collect() {
        const listed = agents.list();
        this.set({ state: 'live' }, listed.filter((agent) => !agent.drained).length);
        this.set({ state: 'drained' }, listed.filter((agent) => agent.drained).length);
      },
    });
    new Gauge({
      name: `${PREFIX}engine_healthy`,
      help: "1 when the agent's last heartbeat reported its Docker engine healthy, 0 when not; live agents only",
      labelNames: ['hostname'],
      registers: [this.collectors],
      collect() {
        this.reset();
        for (const agent of agents.list()) this.set({ hostname: agent.hostname }, agent.engine?.healthy ? 1 : 0);
      },
    });
  }

  /** Counts every answered request under its route template (`/node/:target/...`), never its concrete path. */
  countRequests(): RequestHandler {
    return (req, res, next) => {
      const end = this.requestDuration.startTimer();
      // 'close' rather than 'finish': a stream its client left never finishes.
      res.once('close', () => {
        const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        this.requests.inc({ method: req.method, route, status: String(res.statusCode) });
        end({ method: req.method, route });
      });
      next();
    };
  }
}
