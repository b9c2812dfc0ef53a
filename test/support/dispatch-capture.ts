import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jobSubject, type JobMessage } from '@fleet/contracts/protocol';

/**
 * The dispatch messages the gateway sends one host, exactly as published (sealed for that host), heard on a core
 * subscription of its job subject. The job streams are work queues (ARCHITECTURE.md "Dispatch at scale"): a message
 * is gone from the stream once its host acks it, so a test that needs one again keeps it from here.
 */
export class DispatchCapture {
  private readonly messages: Uint8Array[] = [];
  private readonly sub: Subscription;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly hostname: string,
  ) {
    this.sub = nc.subscribe(jobSubject(hostname), { callback: (_err, msg) => void this.messages.push(Uint8Array.from(msg.data)) });
  }

  /** `nc` is a login that may subscribe to job subjects (the gateway's). */
  static async start(nc: NatsConnection, hostname: string): Promise<DispatchCapture> {
    const capture = new DispatchCapture(nc, hostname);
    await nc.flush();
    return capture;
  }

  /** The message of `jobId`, waiting a little for it to arrive. */
  async of(jobId: string): Promise<Uint8Array> {
    for (let i = 0; i < 50; i++) {
      const found = this.messages.find((data) => this.jobOf(data).job_id === jobId);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no dispatch message of job ${jobId} for ${this.hostname}`);
  }

  /** Every message heard so far, stored again on the host's job subject under new message ids: each job delivered a second time. */
  async publishAgain(): Promise<number> {
    const js = jetstream(this.nc);
    // Heard no more from here: what is published again below would be heard, and sent again, without end.
    this.stop();
    const heard = [...this.messages];
    for (const data of heard) {
      await js.publish(jobSubject(this.hostname), data, { msgID: `${this.jobOf(data).job_id}.${this.hostname}.again` });
    }
    return heard.length;
  }

  stop(): void {
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }

  private jobOf(data: Uint8Array): JobMessage {
    return JSON.parse(Buffer.from(data).toString()) as JobMessage;
  }
}
