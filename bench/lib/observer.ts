import { readFileSync } from 'node:fs';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { kvKeyOf, kvSubject, parseResultKey, RESULTS_BUCKET } from '@fleet/contracts/protocol';
import { natsLogin } from '@fleet/runtime/nats';

/**
 * Watches every row agents write (a core subscription on the results bucket's
 * subjects, exactly what the gateway's feed sees) and remembers, per job,
 * when its first final row arrived. The bench sends one `_all` call at a time,
 * so "time to first row" is that moment minus the moment the call was sent.
 */
export class RowObserver {
  private readonly firstFinal = new Map<string, number>();
  private readonly finals = new Map<string, number>();
  private sub?: Subscription;

  private constructor(private readonly nc: NatsConnection) {}

  /** `credentials`: a NATS user allowed to read every row (the fleet's gateway user), when NATS has authorization. */
  static async connect(natsUrl: string, gatewayCredsFile?: string): Promise<RowObserver> {
    const login = natsLogin(gatewayCredsFile ? readFileSync(gatewayCredsFile, 'utf8') : undefined);
    const observer = new RowObserver(await connect({ servers: natsUrl, name: 'bench-observer', ...login }));
    observer.start();
    return observer;
  }

  private start(): void {
    this.sub = this.nc.subscribe(kvSubject(RESULTS_BUCKET, '>'), {
      callback: (err, msg) => {
        if (err) return;
        const at = performance.now();
        const parsed = parseResultKey(kvKeyOf(RESULTS_BUCKET, msg.subject) ?? '');
        if (!parsed) return;
        // A claim is `{"hostname":…,"status":"running",…}`; anything else is the host's final row.
        const text = msg.string();
        if (text.length < 256 && text.includes('"status":"running"')) return;
        if (!this.firstFinal.has(parsed.jobId)) this.firstFinal.set(parsed.jobId, at);
        this.finals.set(parsed.jobId, (this.finals.get(parsed.jobId) ?? 0) + 1);
      },
    });
  }

  /** When the job's first final row was seen (performance.now() clock), and forget the job. */
  take(jobId: string): number | undefined {
    const at = this.firstFinal.get(jobId);
    this.firstFinal.delete(jobId);
    this.finals.delete(jobId);
    return at;
  }

  finalCount(jobId: string): number {
    return this.finals.get(jobId) ?? 0;
  }

  forgetAll(): void {
    this.firstFinal.clear();
    this.finals.clear();
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    await this.nc.close();
  }
}
