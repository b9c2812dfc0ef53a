import type { IncomingMessage } from 'node:http';

/** Answered while the gateway catches up: the process is up (`/health`), and whether it is ready (`/health/ready`). */
const PROBE_PATHS = new Set(['/health', '/health/ready']);

/**
 * Holds the gateway's requests from the moment it listens until it has caught up with the broker (the agents,
 * drains and enrolments read, every accepted host's consumer checked, the waiting jobs and leases read):
 * ARCHITECTURE.md "A gateway start beside 10,000 agents". Only the health probes pass meanwhile; every other
 * request (and Engine API upgrade) waits and is then served as usual, so none is answered from a half-read roster.
 */
export class StartGate {
  private caughtUp = false;
  private release!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));

  /** The gateway has caught up: held requests go on, new ones pass at once. */
  open(): void {
    this.caughtUp = true;
    this.release();
  }

  isOpen(): boolean {
    return this.caughtUp;
  }

  /** `handler`, called at once for the probes and once the gate is open for anything else. */
  hold<Rest extends unknown[]>(handler: (req: IncomingMessage, ...rest: Rest) => void): (req: IncomingMessage, ...rest: Rest) => void {
    return (req, ...rest) => {
      if (this.caughtUp || PROBE_PATHS.has(pathOf(req))) handler(req, ...rest);
      else void this.opened.then(() => handler(req, ...rest));
    };
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
