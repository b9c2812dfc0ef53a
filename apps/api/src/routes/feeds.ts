import type { Response } from 'express';
import { isFinal, type HostRow, type JobRecord, type Rollout } from '@fleet/contracts/protocol';
import type { AgentRoster } from '../agents/roster';
import { callerOf } from '../auth/middleware';
import { notFound } from '../api-error';
import { FeedSession, type FeedSessionOptions } from '../http/feed-session';
import { JobReadAccess } from '../jobs/access';
import type { ResultFeed } from '../jobs/feed';
import { KeySlots } from '../jobs/key-slots';
import { rolloutEvents } from '@fleet/contracts/rollout-events';
import { byHostname, jobStatus } from '../jobs/rows';
import { hostlessStatus, waitingUntil } from '../jobs/waiting-rows';
import type { JobStore, JobView } from '../jobs/store';
import { KeyScope } from '../targets/scope';
import type { GatewayHandlers } from './operation-table';

export interface FeedDeps {
  store: JobStore;
  feed: ResultFeed;
  roster: AgentRoster;
  isRevoked: (jti: string) => boolean;
  maxBufferedBytes?: number;
}

/** Feeds one key may hold open at once on one replica: a dashboard needs two or three. */
const FEEDS_PER_KEY = 16;
/** After its deadline a job's missing rows are written by the gateway that collects it: give that a moment. */
const DEADLINE_GRACE_MS = 3_000;
/** How often the agents feed looks for agents that went quiet, and sends the changes it gathered. */
const AGENT_FLUSH_MS = 1_000;
/** Jobs the jobs feed follows to their outcome at once; past it the oldest is no longer followed. */
const JOBS_FOLLOWED = 500;
/** Job ids the jobs feed remembers having announced, so a record stored twice is announced once. */
const JOBS_REMEMBERED = 5_000;
/** How often the jobs feed settles followed jobs whose deadline passed without every row heard. */
const JOBS_SWEEP_MS = 2_000;

/**
 * The live feeds (contract: feed.job, feed.jobs, feed.agents): what GET /job/{id}, GET /job and
 * GET /agent answer, kept current as server-sent events, with the same read rules (JobReadAccess,
 * KeyScope) applied to every event.
 */
export function feedHandlers(deps: FeedDeps): Pick<GatewayHandlers, 'feed.job' | 'feed.jobs' | 'feed.agents'> {
  const options: FeedSessionOptions = {
    slots: new KeySlots(FEEDS_PER_KEY),
    isRevoked: deps.isRevoked,
    maxBufferedBytes: deps.maxBufferedBytes,
  };
  const accessOf = (res: Response) => new JobReadAccess(callerOf(res).permissions, KeyScope.of(callerOf(res).scope, deps.roster));
  return {
    'feed.job': async (req, res) => {
      const jobId = String(req.params.job_id);
      const stored = await deps.store.getRecord(jobId);
      if (!stored) throw notFound('job not found', `no job '${jobId}' (it may have expired)`);
      // Refused (403/404) before anything streams, exactly as GET /job/{job_id} refuses it.
      const access = accessOf(res);
      const record = access.check(stored);
      followJob(new FeedSession(req, res, options), record, access, deps);
    },
    'feed.jobs': (req, res) => {
      followNewJobs(new FeedSession(req, res, options), accessOf(res), deps);
    },
    'feed.agents': (req, res) => {
      followAgents(new FeedSession(req, res, options), KeyScope.of(callerOf(res).scope, deps.roster), deps.roster);
    },
  };
}

/** `job`, then `row` per change of a visible host's row, then `end` once all are final or the deadline has passed. */
function followJob(session: FeedSession, opened: JobRecord, access: JobReadAccess, deps: FeedDeps): void {
  // README "Jobs that wait for a host": a waiting job's hosts grow as it reaches them.
  let record = opened;
  const visible = new Set(record.hosts);
  const rows = new Map<string, HostRow>();
  let announced = false;
  let rollout = record.rollout;
  // A rollout's feed ends once it completed or stopped, so its last `rollout` event is never cut off; a waiting job once its wait is over.
  const finished = () =>
    record.hosts.every((host) => isFinal(rows.get(host)?.status ?? 'pending')) &&
    rollout?.state !== 'running' &&
    !waitingUntil(record, Date.now());
  const viewOf = (): JobView => {
    const results = record.hosts
      .map((host): HostRow => rows.get(host) ?? { hostname: host, status: 'pending', changed: false })
      .sort(byHostname);
    const status = hostlessStatus(record, results, Date.now()) ?? jobStatus(results);
    return access.present({ ...record, ...(rollout ? { rollout } : {}), status, results });
  };
  const settleIfDone = () => {
    if (announced && finished()) session.end('settled', { job: viewOf() });
  };
  /** A row is passed on when it is new or changed; a final row is never replaced by a running one heard late. */
  const hear = (hostname: string, row: HostRow) => {
    const previous = rows.get(hostname);
    if (!visible.has(hostname) && record.wait) void reachedHost(hostname, row);
    if (!visible.has(hostname) || (previous && isFinal(previous.status) && !isFinal(row.status))) return;
    if (previous && JSON.stringify(previous) === JSON.stringify(row)) return;
    rows.set(hostname, row);
    if (!announced) return;
    session.send('row', access.presentRow(record.operation, row));
    settleIfDone();
  };
  /** A row of a host the waiting job reached since: the record read again, and the host followed if this key may see it. */
  const reachedHost = async (hostname: string, row: HostRow) => {
    const latest = await deps.store.getRecord(record.job_id).catch(() => undefined);
    const shown = latest && access.filter(latest);
    if (!shown?.hosts.includes(hostname) || visible.has(hostname)) return;
    record = { ...record, hosts: shown.hosts };
    for (const host of shown.hosts) visible.add(host);
    hear(hostname, row);
  };
  const readBack = async () => (await deps.store.view(record)).results.forEach((row) => hear(row.hostname, row));
  // Listen before reading, so a row landing in between is not lost; it is sent within the `job` event.
  session.onClose(deps.feed.watch(record.job_id, hear));
  const onProgress = (progress: Rollout) => {
    const events = announced ? rolloutEvents(rollout, progress) : [];
    rollout = progress;
    events.forEach((event) => session.send('rollout', event));
    settleIfDone();
  };
  if (rollout) session.onClose(followRollout(record.job_id, access, deps, onProgress));
  session.onClose(deps.feed.onReconnect(() => void readBack().catch(() => undefined)));
  const deadline = setTimeout(
    () =>
      void readBack().then(
        () => session.end('deadline', { job: viewOf() }),
        () => session.end('deadline', { job: viewOf() }),
      ),
    Math.max(0, Date.parse(record.deadline) - Date.now()) + DEADLINE_GRACE_MS,
  );
  session.onClose(() => clearTimeout(deadline));
  void readBack().then(
    () => {
      announced = true;
      session.send('job', viewOf());
      settleIfDone();
    },
    () => session.end('deadline', { job: viewOf(), error: 'the job store did not answer' }),
  );
}

/** Each stored progress of the rollout, cut to what the key may see (README "Rollouts"). */
function followRollout(jobId: string, access: JobReadAccess, deps: FeedDeps, onProgress: (rollout: Rollout) => void): () => void {
  return deps.feed.watchRecords((stored) => {
    if (stored.job_id !== jobId || !stored.rollout) return;
    const visible = access.filter(stored);
    if (visible?.rollout) onProgress(visible.rollout);
  });
}

interface FollowedJob {
  record: JobRecord;
  rows: Map<string, HostRow>;
}

/** `job` when a job the key may read starts, `job` again with its rows when every host it shows is final. */
function followNewJobs(session: FeedSession, access: JobReadAccess, deps: FeedDeps): void {
  const followed = new Map<string, FollowedJob>();
  const remembered = new Set<string>();
  const settle = (job: FollowedJob, results: HostRow[]) => {
    followed.delete(job.record.job_id);
    const sorted = [...results].sort(byHostname);
    session.send('job', access.present({ ...job.record, status: jobStatus(sorted), results: sorted }));
  };
  session.onClose(
    deps.feed.watchRecords((stored) => {
      if (remembered.has(stored.job_id)) return;
      const record = access.filter(stored);
      if (!record) return;
      remember(remembered, stored.job_id);
      followed.set(record.job_id, { record, rows: new Map() });
      if (followed.size > JOBS_FOLLOWED) followed.delete(followed.keys().next().value as string);
      session.send('job', { ...record, status: 'running', results: [] });
    }),
  );
  session.onClose(
    deps.feed.watchAllRows((jobId, hostname, row) => {
      const job = followed.get(jobId);
      if (!job || !job.record.hosts.includes(hostname) || !isFinal(row.status)) return;
      job.rows.set(hostname, row);
      if (job.rows.size === job.record.hosts.length) settle(job, [...job.rows.values()]);
    }),
  );
  // A host that never answers gets its row from the deadline; read the job back once that has passed.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const job of followed.values()) {
      if (Date.parse(job.record.deadline) + DEADLINE_GRACE_MS > now) continue;
      followed.delete(job.record.job_id);
      deps.store.view(job.record).then(
        (view) => settle(job, view.results),
        () => undefined,
      );
    }
  }, JOBS_SWEEP_MS);
  session.onClose(() => clearInterval(sweep));
  session.stream.keepAlive();
}

function remember(ids: Set<string>, id: string): void {
  ids.add(id);
  if (ids.size > JOBS_REMEMBERED) ids.delete(ids.values().next().value as string);
}

/**
 * `agents`, then `agent` for each agent that changed (gathered for a second, so a thousand heartbeats
 * make a thousand events, not more) and `gone` for one that went quiet or left the key's scope.
 */
function followAgents(session: FeedSession, scope: KeyScope, roster: AgentRoster): void {
  const shown = new Set<string>();
  const changed = new Set<string>();
  const agents = roster.list().filter((agent) => scope.includesHost(agent.hostname));
  agents.forEach((agent) => shown.add(agent.hostname));
  session.send('agents', { agents });
  session.onClose(roster.onChange((hostname) => changed.add(hostname)));
  const flush = setInterval(() => {
    for (const hostname of new Set([...changed, ...shown])) {
      const agent = roster.get(hostname);
      if (agent && scope.includesHost(hostname)) {
        shown.add(hostname);
        if (changed.has(hostname)) session.send('agent', agent);
      } else if (shown.delete(hostname)) {
        session.send('gone', { hostname });
      }
    }
    changed.clear();
  }, AGENT_FLUSH_MS);
  session.onClose(() => clearInterval(flush));
}
