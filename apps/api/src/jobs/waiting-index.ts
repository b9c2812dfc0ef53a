import { labelsMatch, type Target } from '@fleet/contracts/grammar';

/** One job waiting for hosts, as every replica keeps it in memory (README "Jobs that wait for a host"). */
export interface WaitingJob {
  jobId: string;
  target: Target;
  /** The API key's scope, if it has one: judged again for each host at delivery. */
  scope?: string;
  /** Epoch ms: no host gets the job from then on. */
  until: number;
}

/**
 * The waiting jobs, indexed by what a host must have to match them, so that hearing from a host (every heartbeat of a
 * 10,000-host fleet) looks only at the jobs that could be for it: a hostname target under its hostname, label selectors
 * under the key of their first selector (a host lacking that key matches none of them), `_all` jobs under every host.
 * Hosts a job was delivered to are remembered, so hearing from them again costs a set lookup.
 */
export class WaitingIndex {
  private readonly jobs = new Map<string, WaitingJob>();
  private readonly delivered = new Map<string, Set<string>>();
  private readonly byHostname = new Map<string, Set<string>>();
  private readonly byLabelKey = new Map<string, Set<string>>();
  private readonly toAll = new Set<string>();

  get size(): number {
    return this.jobs.size;
  }

  get(jobId: string): WaitingJob | undefined {
    return this.jobs.get(jobId);
  }

  add(job: WaitingJob): void {
    if (this.jobs.has(job.jobId)) return;
    this.jobs.set(job.jobId, job);
    const { target } = job;
    if (target.kind === 'host') addTo(this.byHostname, target.hostname, job.jobId);
    else if (target.kind === 'labels') addTo(this.byLabelKey, target.selectors[0].key, job.jobId);
    else this.toAll.add(job.jobId);
  }

  remove(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job) return;
    this.jobs.delete(jobId);
    this.delivered.delete(jobId);
    const { target } = job;
    if (target.kind === 'host') removeFrom(this.byHostname, target.hostname, jobId);
    else if (target.kind === 'labels') removeFrom(this.byLabelKey, target.selectors[0].key, jobId);
    else this.toAll.delete(jobId);
  }

  /** Remembers that `hostname` got the job (here or on another replica); heard before the job itself, it is kept for it. */
  markDelivered(jobId: string, hostname: string): void {
    let hosts = this.delivered.get(jobId);
    if (!hosts) this.delivered.set(jobId, (hosts = new Set()));
    hosts.add(hostname);
  }

  /** Forgets a delivery that did not happen after all (the broker could not be asked), so the host is tried again. */
  unmarkDelivered(jobId: string, hostname: string): void {
    this.delivered.get(jobId)?.delete(hostname);
  }

  wasDelivered(jobId: string, hostname: string): boolean {
    return this.delivered.get(jobId)?.has(hostname) ?? false;
  }

  /**
   * The jobs still waiting at `now` whose target matches a host of this name and labels (the labels an admin gave it)
   * and that it did not get yet. Its scope, liveness and drain are the caller's to judge.
   */
  candidates(hostname: string, labels: Record<string, string>, now: number): WaitingJob[] {
    const ids = new Set<string>(this.toAll);
    for (const id of this.byHostname.get(hostname) ?? []) ids.add(id);
    for (const key of Object.keys(labels)) for (const id of this.byLabelKey.get(key) ?? []) ids.add(id);
    const found: WaitingJob[] = [];
    for (const id of ids) {
      const job = this.jobs.get(id) as WaitingJob;
      if (job.until > now && !this.wasDelivered(id, hostname) && targetMatches(job.target, hostname, labels)) found.push(job);
    }
    return found;
  }

  /** The jobs whose wait is over at `now`. */
  ended(now: number): WaitingJob[] {
    return [...this.jobs.values()].filter((job) => job.until <= now);
  }
}

/** Whether a host of this name and (admin) labels is one of the target's; `_any` is no set of hosts to match. */
export function targetMatches(target: Target, hostname: string, labels: Record<string, string>): boolean {
  if (target.kind === 'host') return target.hostname === hostname;
  if (target.kind === 'labels') return labelsMatch(labels, target.selectors);
  return target.kind === 'all';
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}
