import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { components } from '@fleet/contracts';

export type StackRolloutPolicy = components['schemas']['StackRolloutPolicy'];
export type StackOnDrift = components['schemas']['StackOnDrift'];
export type StackRevisionSummary = components['schemas']['StackRevision'];

/** What the stack is now: its last revision's settings, the revisions newest first, and whether it was removed. */
export interface StackRecord {
  name: string;
  target: string;
  on_drift: StackOnDrift;
  rollout: StackRolloutPolicy;
  revision: number;
  revisions: StackRevisionSummary[];
  removed?: { at: string; by: string; job_id?: string };
}

/** One revision as it was sent: the compose text kept byte for byte, the spec re-derived from it when it is applied. */
export interface StackRevisionRecord {
  name: string;
  revision: number;
  compose: string;
  digest: string;
  target: string;
  on_drift: StackOnDrift;
  rollout: StackRolloutPolicy;
  images: string[];
  created_at: string;
  created_by: string;
  job_id: string;
  rolled_back_from?: number;
  /** The revision reaches the host (bind mounts): its author held `docker:host`, so the keep-true controller's jobs carry a grant. */
  host_access: boolean;
}

/** A new revision, before it has a number. */
export type NewRevision = Omit<StackRevisionRecord, 'revision' | 'digest' | 'created_at'>;

/**
 * Which apply (or removal, revision 0) of a stack one host was last sent by the keep-true controller, and until when it is
 * in flight: a replica sends another only after compare-and-setting this key, so two replicas never send the same one twice.
 */
export interface HostClaim {
  revision: number;
  job_id: string;
  /** Epoch ms: the job's deadline; before it no other apply of the stack goes to the host. */
  until: number;
  /** Epoch ms: no new attempt of the same revision before this (backs off after failures). */
  retry_after: number;
  attempts: number;
}

/** The bucket of stacks, their revisions and the keep-true controller's claims; only the gateway uses it. */
export const STACKS_BUCKET = 'fleet_stacks';

/** GET /stack/{name} lists this many revisions, newest first; older ones stay readable by number. */
export const LISTED_REVISIONS = 100;

/** The part of a KV bucket the store uses: atomic create, compare-and-set update, reads and key listing. */
export type StackBucket = Pick<KV, 'create' | 'update' | 'get' | 'keys'>;

const HEAD = 'head';
const REVISION = 'rev';
const CLAIM = 'claim';

/**
 * Stacks at rest in the KV bucket `fleet_stacks` (README "Stacks"): per stack a head (`<name>.head`) updated by
 * compare-and-set, each revision under its own key (`<name>.rev.<n>`, created atomically, never rewritten), and the
 * keep-true controller's per-host claims (`<name>.claim.<hostname>`). Nothing is ever deleted: a removed stack's head says so.
 */
export class StackStore {
  constructor(private readonly bucket: StackBucket) {}

  async get(name: string): Promise<StackRecord | undefined> {
    return (await this.read<StackRecord>(`${name}.${HEAD}`))?.value;
  }

  /** Every stack ever stored, removed ones included, by name. */
  async list(): Promise<StackRecord[]> {
    const names: string[] = [];
    for await (const key of await this.bucket.keys(`*.${HEAD}`)) if (key.endsWith(`.${HEAD}`)) names.push(key.slice(0, -HEAD.length - 1));
    const records = await Promise.all(names.sort().map((name) => this.get(name)));
    return records.filter((record): record is StackRecord => record !== undefined);
  }

  async revision(name: string, revision: number): Promise<StackRevisionRecord | undefined> {
    return (await this.read<StackRevisionRecord>(`${name}.${REVISION}.${revision}`))?.value;
  }

  /** Stores `next` as the stack's next revision (numbers are never reused, also across a removal) and makes it the current one. */
  async addRevision(next: NewRevision, now = new Date()): Promise<StackRevisionRecord> {
    for (;;) {
      const head = await this.read<StackRecord>(`${next.name}.${HEAD}`);
      const number = (head?.value.revision ?? 0) + 1;
      const record: StackRevisionRecord = { ...next, revision: number, digest: composeDigest(next.compose), created_at: now.toISOString() };
      if (!(await this.createOnce(`${next.name}.${REVISION}.${number}`, record))) continue; // another call took this number
      await this.updateHead(next.name, (current) => withRevision(current, record));
      return record;
    }
  }

  /** Marks the stack removed; undefined when there is no such stack (or it was already removed). */
  async markRemoved(name: string, by: string, jobId: string | undefined, now = new Date()): Promise<StackRecord | undefined> {
    let removed: StackRecord | undefined;
    await this.updateHead(name, (current) => {
      if (!current || current.removed) return undefined;
      removed = { ...current, removed: { at: now.toISOString(), by, ...(jobId ? { job_id: jobId } : {}) } };
      return removed;
    });
    return removed;
  }

  async claimOf(name: string, hostname: string): Promise<{ claim: HostClaim; version: number } | undefined> {
    const entry = await this.read<HostClaim>(`${name}.${CLAIM}.${hostname}`);
    return entry && { claim: entry.value, version: entry.version };
  }

  /** Takes the host's claim over the version read (0: none was there): its new version, or undefined when another replica wrote it first. */
  async takeClaim(name: string, hostname: string, claim: HostClaim, version: number): Promise<number | undefined> {
    const key = `${name}.${CLAIM}.${hostname}`;
    try {
      return version === 0
        ? await this.bucket.create(key, JSON.stringify(claim))
        : await this.bucket.update(key, JSON.stringify(claim), version);
    } catch {
      return undefined;
    }
  }

  /** Writes the head as `change` makes it from the current one (undefined: leave it), again on a concurrent write. */
  private async updateHead(name: string, change: (current: StackRecord | undefined) => StackRecord | undefined): Promise<void> {
    for (;;) {
      const head = await this.read<StackRecord>(`${name}.${HEAD}`);
      const next = change(head?.value);
      if (!next) return;
      if (!head) {
        if (await this.createOnce(`${name}.${HEAD}`, next)) return;
        continue;
      }
      try {
        await this.bucket.update(`${name}.${HEAD}`, JSON.stringify(next), head.version);
        return;
      } catch {
        // Another replica wrote the head since it was read: read it again.
      }
    }
  }

  private async createOnce(key: string, value: unknown): Promise<boolean> {
    try {
      await this.bucket.create(key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  }

  private async read<T>(key: string): Promise<{ value: T; version: number } | undefined> {
    const entry = await this.bucket.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return { value: entry.json<T>(), version: entry.revision };
  }
}

/** The head after `record` joined it: a newer revision sets the stack's settings; an older one (a racing write) is only listed. */
export function withRevision(current: StackRecord | undefined, record: StackRevisionRecord): StackRecord {
  const summary: StackRevisionSummary = {
    revision: record.revision,
    created_at: record.created_at,
    created_by: record.created_by,
    digest: record.digest,
    images: record.images,
    job_id: record.job_id,
    ...(record.rolled_back_from ? { rolled_back_from: record.rolled_back_from } : {}),
  };
  const revisions = [summary, ...(current?.revisions ?? []).filter((listed) => listed.revision !== record.revision)]
    .sort((a, b) => b.revision - a.revision)
    .slice(0, LISTED_REVISIONS);
  if (current && current.revision > record.revision) return { ...current, revisions };
  return {
    name: record.name,
    target: record.target,
    on_drift: record.on_drift,
    rollout: record.rollout,
    revision: record.revision,
    revisions,
  };
}

/** `sha256:<hex>` of the compose text as given. */
export function composeDigest(compose: string): string {
  return `sha256:${createHash('sha256').update(compose, 'utf8').digest('hex')}`;
}
