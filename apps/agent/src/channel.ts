import { Readable } from 'node:stream';
import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  cancelSubject,
  type DownloadPart,
  downloadSubject,
  secretSubject,
  streamSubject,
  TRANSFER_CHUNK_BYTES,
  TRANSFER_HEADERS,
  uploadSubject,
  type JobMessage,
  type StreamChunk,
  type StreamChunkEvent,
} from '@fleet/contracts/protocol';

const SECRET_TIMEOUT_MS = 2000;

export class CredentialUnavailableError extends Error {
  override readonly name = 'CredentialUnavailableError';

  constructor() {
    super('the credential sent with this job is no longer available (the gateway that took the request is gone); send the request again');
  }
}

/** The gateway that holds the job's upload did not hand it over (gone, or it refused). */
export class UploadUnavailableError extends Error {
  override readonly name = 'UploadUnavailableError';
}

/** The gateway stopped taking the job's file (its client went away, or it refused a part). */
export class DownloadRefusedError extends Error {
  override readonly name = 'DownloadRefusedError';
}

/** How long one upload chunk may take to arrive from the gateway. */
const UPLOAD_CHUNK_TIMEOUT_MS = 10_000;

/**
 * A job's core-NATS side channel: chunks out to the gateway, the credential
 * in from it, a cancel signal from it. Nothing here is stored by JetStream.
 */
export class JobChannel {
  private readonly subject: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly job: JobMessage,
    private readonly hostname: string,
  ) {
    this.subject = streamSubject(job.job_id, hostname);
  }

  emit(event: StreamChunkEvent, data: unknown): void {
    const chunk: StreamChunk = { event, data };
    this.nc.publish(this.subject, JSON.stringify(chunk));
  }

  /**
   * The credential the gateway holds for this job; undefined when the caller
   * sent none. When the caller did send one but it can no longer be had (the
   * gateway that took the request is gone), this throws: running without it
   * would fail obscurely or, worse, succeed anonymously.
   */
  async secret(): Promise<string | undefined> {
    if (!this.job.secret) return undefined;
    const reply = await this.nc
      .request(secretSubject(this.job.job_id, this.hostname), '', { timeout: SECRET_TIMEOUT_MS })
      .catch(() => undefined);
    const secret = reply?.string();
    if (!secret) throw new CredentialUnavailableError();
    return secret;
  }

  /**
   * The job's upload (README "File transfers"), read from the gateway one chunk at a time as the
   * reader takes it: `{after}` names the last chunk received, so nothing is held here but what the
   * engine has not read yet. It ends after exactly the bytes the job message announced.
   */
  upload(): Readable {
    const total = this.job.upload?.bytes;
    if (total === undefined) throw new UploadUnavailableError('this job has no upload');
    const subject = uploadSubject(this.job.job_id, this.hostname);
    let after = 0;
    let received = 0;
    const ask = async (): Promise<Buffer | null> => {
      if (received >= total) return null;
      const reply = await this.nc.request(subject, JSON.stringify({ after }), { timeout: UPLOAD_CHUNK_TIMEOUT_MS }).catch((err: Error) => {
        throw new UploadUnavailableError(
          `the upload is no longer available from the gateway that took it (${err.message}); send the request again`,
        );
      });
      const refusal = reply.headers?.get(TRANSFER_HEADERS.error);
      const seq = Number(reply.headers?.get(TRANSFER_HEADERS.seq));
      if (refusal || !(seq > after))
        throw new UploadUnavailableError(`the upload ended after ${received} of ${total} bytes${refusal ? `: ${refusal}` : ''}`);
      after = seq;
      received += reply.data.length;
      return Buffer.from(reply.data);
    };
    return new Readable({
      highWaterMark: 2 * TRANSFER_CHUNK_BYTES,
      read() {
        ask().then(
          (chunk) => this.push(chunk),
          (err: Error) => this.destroy(err),
        );
      },
    });
  }

  /**
   * Sends a file the job answers with to the gateway: a `start` part with the file's headers, the
   * bytes in parts of at most TRANSFER_CHUNK_BYTES, then `end`. Each part waits for the gateway's
   * reply, which comes once the client took the bytes before it: the engine is read no faster than
   * the client reads. Answers the bytes sent.
   */
  async sendFile(
    source: AsyncIterable<Buffer>,
    fileHeaders: Record<string, string>,
    deadline: number,
    signal: AbortSignal,
  ): Promise<number> {
    const subject = downloadSubject(this.job.job_id, this.hostname);
    let seq = 0;
    const send = async (part: DownloadPart, data: Uint8Array | string): Promise<void> => {
      if (signal.aborted) throw new DownloadRefusedError('stopped before the file was sent: deadline reached');
      const partHeaders = headers();
      partHeaders.set(TRANSFER_HEADERS.seq, String(seq++));
      partHeaders.set(TRANSFER_HEADERS.part, part);
      const reply: Msg = await this.nc.request(subject, data, { headers: partHeaders, timeout: Math.max(1, deadline - Date.now()) });
      const refusal = reply.headers?.get(TRANSFER_HEADERS.error);
      if (refusal) throw new DownloadRefusedError(`the gateway stopped taking the file: ${refusal}`);
    };
    await send('start', JSON.stringify(fileHeaders));
    let bytes = 0;
    for await (const chunk of source) {
      for (let offset = 0; offset < chunk.length; offset += TRANSFER_CHUNK_BYTES) {
        const part = chunk.subarray(offset, offset + TRANSFER_CHUNK_BYTES);
        await send('data', part);
        bytes += part.length;
      }
    }
    await send('end', '');
    return bytes;
  }

  /** Calls `onCancel` if the gateway cancels this job; returns the unsubscribe. */
  onCancel(onCancel: () => void): () => void {
    const sub = this.nc.subscribe(cancelSubject(this.job.job_id), { max: 1, callback: () => onCancel() });
    return () => sub.unsubscribe();
  }
}
