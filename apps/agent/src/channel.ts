import type { NatsConnection } from '@nats-io/transport-node';
import { cancelSubject, secretSubject, streamSubject, type JobMessage, type StreamChunk, type StreamChunkEvent } from '@fleet/contracts/protocol';

const SECRET_TIMEOUT_MS = 2000;

export class CredentialUnavailableError extends Error {
  override readonly name = 'CredentialUnavailableError';

  constructor() {
    super('the credential sent with this job is no longer available (the gateway that took the request is gone); send the request again');
  }
}

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

  /** Calls `onCancel` if the gateway cancels this job; returns the unsubscribe. */
  onCancel(onCancel: () => void): () => void {
    const sub = this.nc.subscribe(cancelSubject(this.job.job_id), { max: 1, callback: () => onCancel() });
    return () => sub.unsubscribe();
  }
}
