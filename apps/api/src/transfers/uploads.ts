import type { Readable } from 'node:stream';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { isOwnReplySubject } from '@fleet/contracts/nats-permissions';
import {
  objectChunkSubject,
  objectStreamName,
  parseUploadSubject,
  TRANSFER_CHUNK_BYTES,
  TRANSFER_HEADERS,
  UPLOADS_BUCKET,
  uploadSubject,
} from '@fleet/contracts/protocol';

/** The body went past the configured limit while it was streamed in; what was stored of it is gone. */
export class UploadTooLargeError extends Error {
  override readonly name = 'UploadTooLargeError';

  constructor(readonly limitBytes: number) {
    super(`the request body is larger than FLEET_UPLOAD_MAX_BYTES (${limitBytes} bytes)`);
  }
}

/** The broker would not store the body (the upload store is full, or unreachable). */
export class UploadStoreError extends Error {
  override readonly name = 'UploadStoreError';
}

/** An upload at rest: the object named by the job id, and the subject its chunks are stored on. */
export interface StoredUpload {
  jobId: string;
  bytes: number;
  /** The object store's SHA-256 of the bytes (an idempotent retry compares it). */
  digest: string;
  chunkSubject: string;
}

interface Offered {
  hosts: ReadonlySet<string>;
  chunkSubject: string;
}

/**
 * Request bodies that are files (README "File transfers"): streamed into the object store bucket
 * UPLOADS_BUCKET under the job id, never into a job message, then read by each targeted agent
 * through this gateway, chunk by chunk, on `fleet.upload.<job_id>.<hostname>`. Only the job's own
 * hosts are answered, and only by the gateway that took the upload (others hold nothing and stay
 * silent): an agent's NATS login has no subject of the bucket, so it cannot read another job's
 * upload, nor write one. Each upload is deleted when its job ends; the bucket's TTL and size cap
 * bound what a gateway that died mid-job leaves behind.
 */
export class UploadStore {
  private readonly offered = new Map<string, Offered>();
  private sub?: Subscription;

  constructor(
    private readonly bucket: ObjectStore,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    readonly maxBytes: number,
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

  /**
   * Streams `body` into the bucket as object `jobId`, counting as it goes: past `maxBytes` it stops
   * reading and fails with UploadTooLargeError, and the object store removes what it had stored.
   */
  async receive(jobId: string, body: Readable, declaredBytes?: number): Promise<StoredUpload> {
    if (declaredBytes !== undefined && declaredBytes > this.maxBytes) throw new UploadTooLargeError(this.maxBytes);
    try {
      const info = await this.bucket.put(
        { name: jobId, options: { max_chunk_size: TRANSFER_CHUNK_BYTES } },
        countedStream(body, this.maxBytes),
      );
      return { jobId, bytes: info.size, digest: info.digest, chunkSubject: objectChunkSubject(UPLOADS_BUCKET, info.nuid) };
    } catch (err) {
      if (err instanceof UploadTooLargeError) throw err;
      throw new UploadStoreError(`the upload could not be stored: ${(err as Error).message}`);
    }
  }

  /** From now on the job's hosts may read the upload. */
  offer(upload: StoredUpload, hosts: readonly string[]): void {
    this.offered.set(upload.jobId, { hosts: new Set(hosts), chunkSubject: upload.chunkSubject });
  }

  /** The job ended (or never started): nobody may read the upload any more, and it is deleted. */
  async remove(jobId: string): Promise<void> {
    this.offered.delete(jobId);
    await this.bucket
      .delete(jobId)
      .catch((err: Error) => this.log.warn({ job_id: jobId, err: err.message }, 'upload not deleted; the bucket TTL will drop it'));
  }

  /** Answers `{after: <seq>}` with the next chunk stored after that stream sequence, or an end mark. */
  private async answer(msg: Msg): Promise<void> {
    const asker = parseUploadSubject(msg.subject);
    const offered = asker && this.offered.get(asker.jobId);
    // Not an upload this gateway holds for that host: say nothing, as for a job that does not exist.
    if (!asker || !offered?.hosts.has(asker.hostname) || !isOwnReplySubject(msg.reply, asker.hostname)) return;
    const after = readAfter(msg);
    const reply = headers();
    if (after === undefined) {
      reply.set(TRANSFER_HEADERS.error, 'a chunk request is {"after": <sequence>}');
      msg.respond(new Uint8Array(0), { headers: reply });
      return;
    }
    try {
      const chunk = await this.jsm.direct.getMessage(objectStreamName(UPLOADS_BUCKET), {
        next_by_subj: offered.chunkSubject,
        seq: after + 1,
      });
      if (chunk) reply.set(TRANSFER_HEADERS.seq, String(chunk.seq));
      msg.respond(chunk ? chunk.data : new Uint8Array(0), { headers: reply });
    } catch (err) {
      reply.set(TRANSFER_HEADERS.error, `the upload store did not answer: ${(err as Error).message}`);
      msg.respond(new Uint8Array(0), { headers: reply });
    }
  }
}

function readAfter(msg: Msg): number | undefined {
  try {
    const { after } = msg.json<{ after?: unknown }>();
    return Number.isSafeInteger(after) && (after as number) >= 0 ? (after as number) : undefined;
  } catch {
    return undefined;
  }
}

/** The body as a web stream (what the object store reads), pulled as the store takes it, failing past `limit` bytes. */
function countedStream(body: Readable, limit: number): ReadableStream<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = (await chunks.next()) as IteratorResult<Buffer>;
      if (done) {
        controller.close();
        return;
      }
      total += value.length;
      // Reading stops here; what the client still sends is left unread and the connection closed after the 413.
      if (total > limit) controller.error(new UploadTooLargeError(limit));
      else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    },
  });
}
