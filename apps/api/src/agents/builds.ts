import type { KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { BUILD_MAX_BYTES, compareBuildVersions, verifySignedBuild, type BuildManifest } from '@fleet/contracts/agent-build';
import type { components } from '@fleet/contracts';
import { isOwnReplySubject } from '@fleet/contracts/nats-permissions';
import {
  AGENT_BUILDS_BUCKET,
  objectChunkSubject,
  objectStreamName,
  parseUploadSubject,
  TRANSFER_CHUNK_BYTES,
  TRANSFER_HEADERS,
  uploadSubject,
} from '@fleet/contracts/protocol';
import { ApiError, notFound } from '../api-error';

export type AgentBuild = components['schemas']['AgentBuild'];

/** What the object's description holds beside the bytes: the signed manifest and who uploaded it when. */
interface StoredBuildFacts {
  manifest: BuildManifest;
  uploaded_at: string;
  uploaded_by: string;
}

/** The header line and the largest bundle: what an upload may send at most. */
const SIGNED_BUILD_MAX_BYTES = BUILD_MAX_BYTES + 4096;

interface Offered {
  hosts: ReadonlySet<string>;
  chunkSubject: string;
}

/**
 * Signed agent builds (README "Upgrading agents"): checked with the fleet's release public key and
 * stored in the object store bucket AGENT_BUILDS_BUCKET, one object per version; then read by the
 * hosts of an upgrade job, chunk by chunk through this gateway on the job's upload subject
 * (`fleet.upload.<job_id>.<hostname>`), as a file body is. Only the job's own hosts are answered, only
 * while the job may run; an agent's NATS login has no subject of the bucket.
 */
export class AgentBuilds {
  private readonly offered = new Map<string, Offered>();
  private sub?: Subscription;

  constructor(
    private readonly bucket: ObjectStore,
    private readonly jsm: JetStreamManager,
    /** FLEET_RELEASE_PUBLIC_KEY: without it no build is taken. */
    private readonly releaseKey: KeyObject | undefined,
    private readonly log: Logger,
  ) {}

  start(nc: NatsConnection): void {
    this.sub = nc.subscribe(uploadSubject('*', '*'), {
      callback: (err, msg) => {
        if (!err) void this.answer(msg);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.offered.clear();
  }

  /** Takes the signed build `version` from `body`: stored only when its signature, manifest and version hold. */
  async upload(version: string, body: Readable, by: string): Promise<AgentBuild> {
    if (!this.releaseKey) {
      throw new ApiError('conflict', 'this gateway has no release public key (FLEET_RELEASE_PUBLIC_KEY_FILE), so it takes no agent build');
    }
    const file = await readAtMost(body, SIGNED_BUILD_MAX_BYTES);
    const verified = verifySignedBuild(file, this.releaseKey, version);
    if ('refused' in verified) throw new ApiError('build_refused', verified.refused);
    const newest = (await this.list())[0];
    if (newest && compareBuildVersions(version, newest.version) <= 0) {
      throw new ApiError('build_refused', `version ${version} is not newer than the newest build held (${newest.version}): no downgrade`);
    }
    const facts: StoredBuildFacts = { manifest: verified.manifest, uploaded_at: new Date().toISOString(), uploaded_by: by };
    await this.bucket.put(
      { name: version, description: JSON.stringify(facts), options: { max_chunk_size: TRANSFER_CHUNK_BYTES } },
      streamOf(file),
    );
    this.log.info({ version, sha256: verified.manifest.sha256, by }, 'agent build stored');
    return viewOf(facts);
  }

  /** The stored builds, newest first. */
  async list(): Promise<AgentBuild[]> {
    const infos = await this.bucket.list();
    const builds = infos.filter((info) => !info.deleted).flatMap((info) => factsOf(info) ?? []);
    return builds.map(viewOf).sort((a, b) => compareBuildVersions(b.version, a.version));
  }

  /**
   * The build an upgrade job on `version` carries: its bytes (the job message announces them), and
   * `offer`, which lets the job's hosts read it until the job's deadline.
   */
  async forJob(version: string): Promise<{ bytes: number; offer(jobId: string, hosts: readonly string[], deadline: number): void }> {
    const info = await this.bucket.info(version);
    if (!info || info.deleted || !factsOf(info))
      throw notFound('no such agent build', `no agent build ${version}; upload it first (fleet agent build upload)`);
    const chunkSubject = objectChunkSubject(AGENT_BUILDS_BUCKET, info.nuid);
    return {
      bytes: info.size,
      offer: (jobId, hosts, deadline) => {
        this.offered.set(jobId, { hosts: new Set(hosts), chunkSubject });
        setTimeout(() => this.offered.delete(jobId), Math.max(0, deadline - Date.now())).unref();
      },
    };
  }

  /** Answers `{after: <seq>}` with the next chunk after that stream sequence, or an end mark; silent for any job it does not offer. */
  private async answer(msg: Msg): Promise<void> {
    const asker = parseUploadSubject(msg.subject);
    const offered = asker && this.offered.get(asker.jobId);
    if (!asker || !offered?.hosts.has(asker.hostname) || !isOwnReplySubject(msg.reply, asker.hostname)) return;
    const after = readAfter(msg);
    const reply = headers();
    if (after === undefined) {
      reply.set(TRANSFER_HEADERS.error, 'a chunk request is {"after": <sequence>}');
      msg.respond(new Uint8Array(0), { headers: reply });
      return;
    }
    try {
      const chunk = await this.jsm.direct.getMessage(objectStreamName(AGENT_BUILDS_BUCKET), {
        next_by_subj: offered.chunkSubject,
        seq: after + 1,
      });
      if (chunk) reply.set(TRANSFER_HEADERS.seq, String(chunk.seq));
      msg.respond(chunk ? chunk.data : new Uint8Array(0), { headers: reply });
    } catch (err) {
      reply.set(TRANSFER_HEADERS.error, `the build store did not answer: ${(err as Error).message}`);
      msg.respond(new Uint8Array(0), { headers: reply });
    }
  }
}

function factsOf(info: ObjectInfo): StoredBuildFacts | undefined {
  try {
    const facts = JSON.parse(info.description ?? '') as StoredBuildFacts;
    return facts.manifest?.version === info.name ? facts : undefined;
  } catch {
    return undefined;
  }
}

function viewOf({ manifest, uploaded_at, uploaded_by }: StoredBuildFacts): AgentBuild {
  return { ...manifest, uploaded_at, uploaded_by };
}

/** The body, refused (413) past `limit` bytes; nothing of it is stored before it is whole and checked. */
async function readAtMost(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new ApiError('payload_too_large', `an agent build is at most ${limit} bytes with its header`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function streamOf(bytes: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < bytes.length; offset += TRANSFER_CHUNK_BYTES)
        controller.enqueue(bytes.subarray(offset, offset + TRANSFER_CHUNK_BYTES));
      controller.close();
    },
  });
}

function readAfter(msg: Msg): number | undefined {
  try {
    const { after } = msg.json<{ after?: unknown }>();
    return Number.isSafeInteger(after) && (after as number) >= 0 ? (after as number) : undefined;
  } catch {
    return undefined;
  }
}
