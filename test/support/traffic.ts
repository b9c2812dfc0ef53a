import { api, type ApiTarget } from './http';
import { markedContainer, newMark } from './faults';

/**
 * Steady traffic for the fault suites: a few clients, each creating marked containers in a loop
 * (one mark per request, so each execution can be counted on the engines) until told to stop.
 * Every loop is bounded in count and in time and stops by itself.
 */

export interface Outcome {
  client: number;
  mark: string;
  /** Which gateway took it (its URL). */
  via: string;
  startedAt: number;
  endedAt: number;
  /** HTTP status, or 0 when the connection failed. */
  status: number;
  jobId?: string;
  rows?: Array<{ hostname: string; status: string; error?: string }>;
  error?: string;
  /** The request's own deadline in seconds (?timeout=). */
  timeoutSeconds: number;
}

export interface TrafficOptions {
  /** Gateways to spread the requests over (client i uses gateways[i % n]). */
  gateways: ApiTarget[];
  clients: number;
  target: string;
  timeoutSeconds: number;
  /** Hard stop for every loop, whatever happens. */
  maxDurationMs: number;
  maxRequestsPerClient: number;
  /** Pause between a client's requests. */
  pauseMs?: number;
  /** `?async=true`: answered at once with a job id. */
  async?: boolean;
}

export interface Traffic {
  outcomes: Outcome[];
  /** Ends every loop after its current request and resolves with all outcomes. */
  stop(): Promise<Outcome[]>;
}

export function startTraffic(opts: TrafficOptions): Traffic {
  const outcomes: Outcome[] = [];
  const hardStop = Date.now() + opts.maxDurationMs;
  let stopping = false;
  const loops = Array.from({ length: opts.clients }, async (_, client) => {
    const gateway = opts.gateways[client % opts.gateways.length];
    for (let i = 0; i < opts.maxRequestsPerClient && !stopping && Date.now() < hardStop; i++) {
      outcomes.push(await createOne(gateway, client, opts));
      if (opts.pauseMs) await new Promise((resolve) => setTimeout(resolve, opts.pauseMs));
    }
  });
  return {
    outcomes,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

async function createOne(gateway: ApiTarget, client: number, opts: TrafficOptions): Promise<Outcome> {
  const mark = newMark(`c${client}`);
  const startedAt = Date.now();
  const query = `timeout=${opts.timeoutSeconds}${opts.async ? '&async=true' : ''}`;
  const base = { client, mark, via: gateway.url, startedAt, timeoutSeconds: opts.timeoutSeconds };
  try {
    const res = await api(gateway, 'POST', `/node/${opts.target}/container/docker?${query}`, {
      body: markedContainer(mark),
      timeoutMs: (opts.timeoutSeconds + 60) * 1000,
    });
    const body = typeof res.body === 'object' && res.body !== null ? res.body : {};
    return { ...base, endedAt: Date.now(), status: res.status, jobId: body.job_id, rows: body.results, error: body.error };
  } catch (err) {
    return { ...base, endedAt: Date.now(), status: 0, error: (err as Error).message };
  }
}

/** `{ '202': 40, '500': 2, '0': 1 }`: how many outcomes per HTTP status (0 = no answer). */
export function statusCounts(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  return counts;
}
