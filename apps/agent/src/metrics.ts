import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { Gauge, type Registry } from 'prom-client';
import type { HostRow, JobMessage } from '@fleet/contracts/protocol';
import { createCollectors, jobSeries, trackNats, type NatsLink } from '@fleet/runtime/metrics';

const PREFIX = 'fleet_agent_';

/**
 * One agent's metrics: operations it executed by outcome and their duration,
 * its engine's health as of the last heartbeat, and its NATS reconnects. Every
 * series carries the agent's `hostname`.
 */
export class AgentMetrics {
  readonly collectors: Registry;
  private readonly series: ReturnType<typeof jobSeries>;
  private readonly engineHealthy: Gauge;
  private natsLink?: NatsLink;

  /** `processMetrics`: also CPU, memory and event-loop series (once per process: not for the bench's many in-process agents). */
  constructor(hostname: string, opts: { processMetrics: boolean }) {
    this.collectors = createCollectors({ prefix: PREFIX, processMetrics: opts.processMetrics, labels: { hostname } });
    this.series = jobSeries(this.collectors, PREFIX, {
      jobs: 'Operations this agent executed, by operation and row status (a redelivered or already claimed job is not counted again)',
      duration: 'Time an operation took on the engine, by operation',
    });
    this.engineHealthy = new Gauge({
      name: `${PREFIX}engine_healthy`,
      help: '1 when the last heartbeat reached the Docker engine, 0 when it did not',
      registers: [this.collectors],
    });
  }

  followNats(nc: NatsConnection): void {
    if (this.natsLink) this.natsLink.follow(nc);
    else this.natsLink = trackNats(nc, this.collectors, PREFIX);
  }

  /** The worker's hook: one executed job and its row. */
  jobExecuted(job: JobMessage, row: HostRow): void {
    this.series.jobs.inc({ operation: job.operation, status: row.status });
    if (typeof row.duration_ms === 'number') this.series.duration.observe({ operation: job.operation }, row.duration_ms / 1000);
  }

  /** The registration's hook: each heartbeat's view of the engine. */
  engine(healthy: boolean): void {
    this.engineHealthy.set(healthy ? 1 : 0);
  }
}

export interface MetricsServer {
  /** Where Prometheus scrapes, e.g. http://127.0.0.1:9464/metrics (published in its heartbeat record as `metrics_url`). */
  url: string;
  close(): Promise<void>;
}

/** A minimal HTTP server: GET /metrics (Prometheus text) and GET /health (liveness); everything else 404. */
export async function serveMetrics(collectors: Registry, addr: { host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return reply(res, 405, 'application/json', JSON.stringify(problem(405, 'method not allowed', `${req.method} is not served`)));
    if (path === '/health') return reply(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path !== '/metrics')
      return reply(
        res,
        404,
        'application/json',
        JSON.stringify(problem(404, 'not found', `no route ${req.method} ${path}; try /metrics or /health`)),
      );
    collectors.metrics().then(
      (text) => reply(res, 200, collectors.contentType, text),
      (err: Error) => reply(res, 500, 'application/json', JSON.stringify(problem(500, 'metrics failed', err.message))),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`FLEET_AGENT_METRICS_ADDR=${formatHostPort(addr.host, addr.port)}: cannot listen: ${err.message}`)),
    );
    server.listen(addr.port, addr.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${formatHostPort(advertisedHost(addr.host), port)}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function problem(code: number, error: string, details: string) {
  return { error, details, code };
}

/** A wildcard address is no use to a scraper: advertise this machine's name instead. */
function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? osHostname() : host;
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
