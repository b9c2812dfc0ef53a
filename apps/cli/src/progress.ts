import type { StreamEvent } from '@fleet/sdk';

/** Where progress goes: a terminal gets one line per host redrawn in place; anything else gets plain lines. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

interface ProgressData {
  hostname: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
}

const REDRAW_EVERY_MS = 100;

/** One line of an engine's progress JSON: `Downloading a1b2c3 [=====>   ] 1.2MB/3MB`. */
export function describeProgress(data: ProgressData): string {
  return [data.error ? `error: ${data.error}` : data.status, data.id, data.progress].filter(Boolean).join(' ');
}

/**
 * Renders `progress` events of a streaming operation (image pull across
 * hosts). On a TTY: a block of one line per host, rewritten as events come
 * (at most every 100 ms) and once more at the end. Otherwise: a plain line
 * per change of a host's status, so logs stay readable.
 */
export class HostProgress {
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  private lastDraw = 0;
  private readonly lastPlain = new Map<string, string>();

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
  ) {}

  get live(): boolean {
    return this.out.isTTY === true;
  }

  /** Handles `job` (the host list) and `progress` events; answers false for events it does not render. */
  handle(event: StreamEvent): boolean {
    if (event.event === 'job') {
      for (const host of (event.data?.hosts as string[] | undefined) ?? []) this.lines.set(host, 'waiting');
      if (this.live) this.draw();
      return true;
    }
    if (event.event !== 'progress') return false;
    const data = event.data as ProgressData;
    const line = describeProgress(data);
    this.lines.set(data.hostname, line);
    if (this.live) {
      if (this.now() - this.lastDraw >= REDRAW_EVERY_MS) this.draw();
    } else {
      // Plain output: one line per new status of a layer, not per byte count.
      const key = `${data.hostname} ${data.id ?? ''}`;
      if (this.lastPlain.get(key) !== data.status) {
        this.lastPlain.set(key, data.status ?? '');
        this.out.write(`${data.hostname}: ${[data.status, data.id].filter(Boolean).join(' ')}\n`);
      }
    }
    return true;
  }

  /** The final state of every host's line (TTY only); the rows are printed after it. */
  finish(results: Array<{ hostname: string; status: string; error?: string; message?: string }> = []): void {
    if (!this.live) return;
    for (const row of results)
      this.lines.set(row.hostname, row.status === 'ok' ? `done: ${row.message ?? 'ok'}` : `failed: ${row.error ?? ''}`);
    this.draw();
  }

  private draw(): void {
    this.lastDraw = this.now();
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const hostWidth = Math.max(0, ...[...this.lines.keys()].map((host) => host.length));
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [host, line] of this.lines) text += `\x1b[2K${`${host.padEnd(hostWidth)}  ${line}`.slice(0, width)}\n`;
    this.out.write(text);
    this.drawn = this.lines.size;
  }
}
