import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { isOwnReplySubject } from '@fleet/contracts/nats-permissions';
import { parseSecretSubject, secretSubject } from '@fleet/contracts/protocol';

interface Held {
  secret: string;
  hosts: Set<string>;
  timer: NodeJS.Timeout;
}

/**
 * Credentials a job needs (e.g. X-Registry-Auth) never enter a job record, a
 * dispatch message or a log: the gateway that took the request holds them in
 * memory until the job's deadline and hands each to an expected host that asks
 * on `fleet.secret.<job_id>.<hostname>` (a subject an agent's permissions bind
 * to its own hostname). Other replicas hold nothing and stay silent.
 */
export class SecretVault {
  private readonly held = new Map<string, Held>();
  private sub?: Subscription;

  start(nc: NatsConnection): void {
    this.sub = nc.subscribe(secretSubject('*', '*'), {
      callback: (err, msg) => {
        const asker = err ? undefined : parseSecretSubject(msg.subject);
        if (!asker) return;
        const entry = this.held.get(asker.jobId);
        if (entry?.hosts.has(asker.hostname) && isOwnReplySubject(msg.reply, asker.hostname)) msg.respond(entry.secret);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.held.forEach((entry) => clearTimeout(entry.timer));
    this.held.clear();
  }

  hold(jobId: string, hosts: string[], secret: string, deadline: number): void {
    const timer = setTimeout(() => this.held.delete(jobId), Math.max(0, deadline - Date.now()));
    timer.unref();
    this.held.set(jobId, { secret, hosts: new Set(hosts), timer });
  }

  /** Forgets a job's credential before its deadline (the job never went out). */
  release(jobId: string): void {
    clearTimeout(this.held.get(jobId)?.timer);
    this.held.delete(jobId);
  }
}
