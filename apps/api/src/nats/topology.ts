import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_MAX_KEY_TTL_SECONDS } from '@fleet/api-keys';
import {
  AGENTS_BUCKET,
  AUDIT_STREAM,
  AUDIT_SUBJECT,
  DRAINS_BUCKET,
  ENROLLMENTS_BUCKET,
  JOB_RECORD_SUBJECT_PREFIX,
  JOB_RECORDS_STREAM,
  JOB_SHARDS,
  jobShardSubjects,
  jobsStreamName,
  kvStreamName,
  RESULTS_BUCKET,
  MINTED_KEYS_BUCKET,
  IDENTITIES_BUCKET,
  IDEMPOTENCY_BUCKET,
  JOIN_TOKENS_BUCKET,
  ROLLOUT_LEASES_BUCKET,
  objectStreamName,
  REVOKED_BUCKET,
  UPLOADS_BUCKET,
} from '@fleet/contracts/protocol';
import { STACKS_BUCKET } from '../stacks/store';

export interface Topology {
  jsm: JetStreamManager;
  results: KV;
  agents: KV;
  drains: KV;
  enrollments: KV;
  revoked: KV;
  mintedKeys: KV;
  joinTokens: KV;
  identities: KV;
  /** Idempotency keys, 24 h (README "Retries and idempotency"). */
  idempotency: KV;
  /** Which replica runs each rollout (README "Rollouts"). */
  rolloutLeases: KV;
  /** Stacks, their revisions, and which apply each host was last sent (README "Stacks"). */
  stacks: KV;
  /** Request bodies that are files, one object per job (README "File transfers"). */
  uploads: ObjectStore;
}

export interface TopologyOptions {
  jobRetentionSeconds: number;
  auditRetentionSeconds: number;
  /** Size caps of the audit stream: past either, new entries are refused and the old ones kept. */
  auditMaxBytes?: number;
  auditMaxMessages?: number;
  agentTtlMs: number;
  replicas?: number;
  /** The longest a key may live (FLEET_MAX_KEY_TTL_SECONDS): a minted key's record is kept that long. */
  maxKeyTtlSeconds?: number;
  /** What the upload store may hold at once; past it, a new upload is refused. */
  uploadStoreMaxBytes?: number;
}

const NANOS_PER_SECOND = 1_000_000_000;
/** Dispatch messages only matter until their deadline (at most 300 s); keep them a little longer. */
const DISPATCH_RETENTION_SECONDS = 3600;
/**
 * An upload is deleted when its job ends (at most 300 s after it was stored); one a gateway could
 * not delete (it died mid-job) goes after this long.
 */
export const UPLOAD_RETENTION_SECONDS = 3600;

/** How long an idempotency key answers with its first job (the contract's `Idempotency-Key`). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/** The longest a rollout may run (1,000 waves of the longest timeout) is far beyond it; a lease renewed is kept anyway. */
const ROLLOUT_LEASE_TTL_MS = 24 * 3600 * 1000;

/** Creates (or adopts) the streams and buckets the gateway owns. Safe to run from every replica. */
export async function ensureTopology(nc: NatsConnection, opts: TopologyOptions): Promise<Topology> {
  const jsm = await jetstreamManager(nc);
  const replicas = opts.replicas ?? 1;
  for (let shard = 0; shard < JOB_SHARDS; shard++) {
    await ensureStream(jsm, {
      name: jobsStreamName(shard),
      subjects: [jobShardSubjects(shard)],
      max_age: DISPATCH_RETENTION_SECONDS * NANOS_PER_SECOND,
      duplicate_window: 120 * NANOS_PER_SECOND,
      replicas,
    });
  }
  await ensureStream(jsm, {
    name: JOB_RECORDS_STREAM,
    subjects: [`${JOB_RECORD_SUBJECT_PREFIX}.*`],
    max_age: opts.jobRetentionSeconds * NANOS_PER_SECOND,
    max_msgs_per_subject: 1,
    replicas,
  });
  await ensureStream(jsm, {
    name: AUDIT_STREAM,
    subjects: [AUDIT_SUBJECT],
    max_age: opts.auditRetentionSeconds * NANOS_PER_SECOND,
    max_bytes: opts.auditMaxBytes ?? -1,
    max_msgs: opts.auditMaxMessages ?? -1,
    // A full trail refuses new entries rather than dropping the oldest: a flood cannot push out what it would hide (README "Security
    // model").
    discard: DiscardPolicy.New,
    replicas,
  });
  const kvm = new Kvm(nc);
  const bucket = async (name: string, config: Partial<KvOptions>): Promise<KV> => {
    const kv = await kvm.create(name, config);
    await lockDownBucket(jsm, name);
    return kv;
  };
  return {
    jsm,
    results: await bucket(RESULTS_BUCKET, { history: 1, ttl: opts.jobRetentionSeconds * 1000, replicas }),
    agents: await bucket(AGENTS_BUCKET, { history: 1, ttl: opts.agentTtlMs, replicas }),
    drains: await bucket(DRAINS_BUCKET, { history: 1, replicas }),
    enrollments: await bucket(ENROLLMENTS_BUCKET, { history: 1, replicas }),
    // A revoked key stays refused after it would have expired anyway: no TTL.
    revoked: await bucket(REVOKED_BUCKET, { history: 1, replicas }),
    // No record outlives the longest key: the bucket forgets what has certainly expired.
    mintedKeys: await bucket(MINTED_KEYS_BUCKET, {
      history: 1,
      replicas,
      ttl: (opts.maxKeyTtlSeconds ?? DEFAULT_MAX_KEY_TTL_SECONDS) * 1000,
    }),
    // A join token lives at most a day (the contract's ttl_seconds); spent or not, it is gone after two.
    joinTokens: await bucket(JOIN_TOKENS_BUCKET, { history: 1, replicas, ttl: 2 * 86_400 * 1000 }),
    identities: await bucket(IDENTITIES_BUCKET, { history: 1, replicas }),
    idempotency: await bucket(IDEMPOTENCY_BUCKET, { history: 1, replicas, ttl: IDEMPOTENCY_TTL_MS }),
    // A lease is renewed every few seconds while its rollout runs: the TTL only clears the keys of rollouts no replica finished.
    rolloutLeases: await bucket(ROLLOUT_LEASES_BUCKET, { history: 1, replicas, ttl: ROLLOUT_LEASE_TTL_MS }),
    stacks: await bucket(STACKS_BUCKET, { history: 1, replicas }),
    uploads: await ensureUploadStore(nc, jsm, { replicas, maxBytes: opts.uploadStoreMaxBytes ?? -1 }),
  };
}

/**
 * No bucket takes a rollup header, a purge or a message delete: a KV client turns them on, but the
 * gateway never purges a bucket, and an agent allowed to write one key of the results or agents
 * bucket could otherwise wipe the whole bucket with `Nats-Rollup: all` on that one write.
 */
async function lockDownBucket(jsm: JetStreamManager, bucket: string): Promise<void> {
  const { config } = await jsm.streams.info(kvStreamName(bucket));
  if (config.allow_rollup_hdrs || !config.deny_purge || !config.deny_delete) {
    await jsm.streams.update(config.name, { ...config, allow_rollup_hdrs: false, deny_purge: true, deny_delete: true });
  }
}

/** The upload bucket, with its TTL and size cap as configured now (an existing bucket is adopted, then updated). */
async function ensureUploadStore(
  nc: NatsConnection,
  jsm: JetStreamManager,
  wanted: { replicas: number; maxBytes: number },
): Promise<ObjectStore> {
  const ttl = UPLOAD_RETENTION_SECONDS * NANOS_PER_SECOND;
  const bucket = await new Objm(nc).create(UPLOADS_BUCKET, {
    ttl,
    max_bytes: wanted.maxBytes,
    replicas: wanted.replicas,
    storage: StorageType.File,
  });
  const { config } = await jsm.streams.info(objectStreamName(UPLOADS_BUCKET));
  if (config.max_age !== ttl || config.max_bytes !== wanted.maxBytes)
    await jsm.streams.update(config.name, { ...config, max_age: ttl, max_bytes: wanted.maxBytes });
  return bucket;
}

interface StreamWanted {
  name: string;
  subjects: string[];
  max_age: number;
  replicas: number;
  max_msgs_per_subject?: number;
  max_bytes?: number;
  max_msgs?: number;
  duplicate_window?: number;
  discard?: DiscardPolicy;
}

async function ensureStream(jsm: JetStreamManager, wanted: StreamWanted): Promise<void> {
  const config = { ...wanted, storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: wanted.replicas };
  const { replicas: _ignored, ...streamConfig } = config;
  try {
    await jsm.streams.info(wanted.name);
    await jsm.streams.update(wanted.name, streamConfig);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add(streamConfig);
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}
