import { type ConsumerInfo, jetstreamManager } from '@nats-io/jetstream';
import { agentConsumerName, jobsStreamOf, jobSubject } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE, waitFor } from '@fleet/deploy';
import { containerEvents, countContainers, labelCounts } from './docker';
import type { TestFleet, TestFleetOptions } from './fleet';
import { api, type ApiTarget } from './http';
import { connectToFleetNats } from './nats';
import { report } from './report';
import { useTestFleet } from './suite';

/**
 * What the fault suites share: jobs whose executions can be counted on the engines (every container
 * a test creates carries a label unique to its request), a look at an agent's JetStream consumer,
 * and the tally each suite prints at its end.
 */

/** Label key every fault-suite container carries; the value is unique per request. */
export const MARK = 'fleet.fault.mark';

/** Added to a deadline the product promises, for a loaded 2-core CI machine. Never a speed target. */
export const SLACK_MS = 10_000;

export function newMark(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A create request for a container marked `mark` (not started unless `start`). */
export function markedContainer(mark: string, opts: { start?: boolean; name?: string } = {}): Record<string, unknown> {
  return {
    image: BUSYBOX_IMAGE,
    cmd: ['sleep', '3600'],
    labels: { [MARK]: mark },
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.start ? { auto_start: true } : {}),
  };
}

/** How many containers marked `mark` each host's engine holds. */
export async function executionsOf(
  fleet: TestFleet,
  mark: string,
  hostnames = fleet.agents.map((agent) => agent.hostname),
): Promise<Record<string, number>> {
  const counts = await Promise.all(
    hostnames.map(async (hostname) => [hostname, await countContainers(fleet.docker(hostname), `${MARK}=${mark}`)] as const),
  );
  return Object.fromEntries(counts);
}

/** `kill` events with `signal` the engine recorded for a container: one SIGTERM per `docker stop` that reached it. */
export async function killSignalsSeen(
  fleet: TestFleet,
  hostname: string,
  container: string,
  since: number,
  signal = '15',
): Promise<number> {
  const events = await containerEvents(fleet.docker(hostname), container, since, Math.ceil(Date.now() / 1000) + 1);
  // The engine's container filter also matches names that merely start with `container`.
  const ofContainer = (event: (typeof events)[number]) => event.Actor?.Attributes?.name === container || event.Actor?.ID === container;
  return events.filter((event) => ofContainer(event) && event.Action === 'kill' && event.Actor?.Attributes?.signal === signal).length;
}

/** Polls until `probe` holds (returns true), at most `timeoutMs`. */
export function eventually(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 200): Promise<true> {
  return waitFor(what, async () => ((await probe()) ? (true as const) : undefined), { timeoutMs, intervalMs });
}

export type ConsumerState = Pick<ConsumerInfo, 'num_pending' | 'num_ack_pending' | 'num_redelivered' | 'delivered' | 'ack_floor'> & {
  ack_wait: number;
  /** Whether the broker keeps the consumer's state in memory (lost with a broker restart). */
  mem_storage: boolean;
};

/** The agent's durable consumer on the jobs stream, as JetStream sees it. */
export async function agentConsumer(fleet: TestFleet, hostname: string): Promise<ConsumerState> {
  const nc = await connectToFleetNats(fleet.state);
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(jobsStreamOf(hostname), agentConsumerName(hostname));
    const { num_pending, num_ack_pending, num_redelivered, delivered, ack_floor } = info;
    const { ack_wait, mem_storage } = info.config;
    return {
      num_pending,
      num_ack_pending,
      num_redelivered,
      delivered,
      ack_floor,
      ack_wait: ack_wait ?? 0,
      mem_storage: mem_storage === true,
    };
  } finally {
    await nc.close();
  }
}

/** The job id of the newest job the host's work queue still holds (none acked it yet), or undefined. */
export async function newestQueuedJob(fleet: TestFleet, hostname: string): Promise<string | undefined> {
  const nc = await connectToFleetNats(fleet.state);
  try {
    const jsm = await jetstreamManager(nc);
    const msg = await jsm.streams.getMessage(jobsStreamOf(hostname), { last_by_subj: jobSubject(hostname) }).catch(() => undefined);
    return msg?.json<{ job_id: string }>().job_id;
  } finally {
    await nc.close();
  }
}

/** Waits until the host's consumer has nothing left to deliver and nothing unacknowledged. */
export async function waitForConsumerIdle(fleet: TestFleet, hostname: string, timeoutMs: number): Promise<ConsumerState> {
  let last: ConsumerState | undefined;
  await eventually(
    `agent_${hostname} to have no pending and no unacknowledged messages`,
    async () => {
      last = await agentConsumer(fleet, hostname);
      return last.num_pending === 0 && last.num_ack_pending === 0;
    },
    timeoutMs,
    250,
  );
  return last as ConsumerState;
}

/** Changes how long JetStream waits for the agent's ack before redelivering (an operator's edit of the consumer). */
export async function setAckWait(fleet: TestFleet, hostname: string, ackWaitMs: number): Promise<void> {
  const nc = await connectToFleetNats(fleet.state);
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.update(jobsStreamOf(hostname), agentConsumerName(hostname), { ack_wait: ackWaitMs * 1_000_000 });
  } finally {
    await nc.close();
  }
}

/** A job's rows read back through a gateway, once every host is final (or the wait ends). */
export async function jobWhenDone(
  target: ApiTarget,
  jobId: string,
  waitSeconds = 60,
): Promise<{ status: string; results: Array<Record<string, unknown>> }> {
  const res = await api(target, 'GET', `/job/${jobId}?wait=${waitSeconds}`, { timeoutMs: (waitSeconds + 30) * 1000 });
  if (res.status !== 200) throw new Error(`GET /job/${jobId} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A faults suite's fleet (useTestFleet) and its tally, printed once the suite's tests ran. */
export function useFaultFleet(suite: string, opts?: TestFleetOptions): { fleet: TestFleet; tally: FaultTally } {
  const tally = new FaultTally(suite);
  afterAll(() => tally.print());
  return { fleet: useTestFleet(opts), tally };
}

/** Each suite counts what it injected and what it found, and prints it once at the end. */
export class FaultTally {
  injected = 0;
  survived = 0;
  /** Executions the engines show for jobs whose results were acknowledged: must each be exactly 1. */
  executionsChecked = 0;
  lost = 0;
  duplicated = 0;
  private readonly started = Date.now();

  constructor(private readonly suite: string) {}

  fault(survived: boolean): void {
    this.injected++;
    if (survived) this.survived++;
  }

  /** Records the engine counts for jobs that must have run exactly once; returns the offenders. */
  exactlyOnce(counts: Array<{ mark: string; hostname: string; count: number }>): string[] {
    const offenders: string[] = [];
    for (const { mark, hostname, count } of counts) {
      this.executionsChecked++;
      if (count === 0) this.lost++;
      if (count > 1) this.duplicated++;
      if (count !== 1) offenders.push(`${mark}@${hostname}=${count}`);
    }
    return offenders;
  }

  /** Jobs that must not have run (again): any execution beyond `allowed` is a duplicate. */
  atMost(counts: Array<{ mark: string; hostname: string; count: number }>, allowed: number): string[] {
    const offenders: string[] = [];
    for (const { mark, hostname, count } of counts) {
      this.executionsChecked++;
      if (count > allowed) {
        this.duplicated++;
        offenders.push(`${mark}@${hostname}=${count}`);
      }
    }
    return offenders;
  }

  print(extra: Record<string, string | number> = {}): void {
    report(this.suite, 'summary', {
      faults_injected: this.injected,
      faults_survived: this.survived,
      executions_checked: this.executionsChecked,
      lost_executions: this.lost,
      duplicated_executions: this.duplicated,
      ...extra,
      seconds: ((Date.now() - this.started) / 1000).toFixed(1),
    });
  }
}

export interface OutcomeAudit {
  requests: number;
  /** Answered 2xx with a job id. */
  acknowledged: number;
  rowsOk: number;
  rowsFailed: number;
  /** Rows ok on the gateway but no container on the engine. */
  lost: string[];
  /** More than one container for one request on one engine. */
  duplicated: string[];
}

/**
 * Checks traffic against the engines: for every acknowledged job, every `ok` row must have exactly
 * one container behind it on that host; nothing, acknowledged or not, may exist twice. Rows are read
 * back through `reader` (GET /job/:id, waiting for the job to finish).
 */
export async function auditOutcomes(
  fleet: TestFleet,
  tally: FaultTally,
  outcomes: Array<{ mark: string; status: number; jobId?: string }>,
  reader: ApiTarget = fleet,
): Promise<OutcomeAudit> {
  const hostnames = fleet.agents.map((agent) => agent.hostname);
  const counts = new Map(
    await Promise.all(hostnames.map(async (hostname) => [hostname, await labelCounts(fleet.docker(hostname), MARK)] as const)),
  );
  const audit: OutcomeAudit = { requests: outcomes.length, acknowledged: 0, rowsOk: 0, rowsFailed: 0, lost: [], duplicated: [] };
  for (const outcome of outcomes) {
    const okHosts = new Set<string>();
    if (outcome.status >= 200 && outcome.status < 300 && outcome.jobId) {
      audit.acknowledged++;
      const job = await jobWhenDone(reader, outcome.jobId, 60);
      for (const row of job.results) {
        if (row.status === 'ok') {
          audit.rowsOk++;
          okHosts.add(String(row.hostname));
        } else audit.rowsFailed++;
      }
    }
    for (const hostname of hostnames) {
      const count = counts.get(hostname)?.get(outcome.mark) ?? 0;
      tally.executionsChecked++;
      if (okHosts.has(hostname) && count === 0) {
        tally.lost++;
        audit.lost.push(`${outcome.mark}@${hostname} (job ${outcome.jobId})`);
      }
      if (count > 1) {
        tally.duplicated++;
        audit.duplicated.push(`${outcome.mark}@${hostname}=${count} (job ${outcome.jobId})`);
      }
    }
  }
  return audit;
}
