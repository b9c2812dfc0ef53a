/** Bounds how many jobs touch the engine at once; the rest wait their turn in order. */
export class Semaphore {
  private readonly waiting: Array<() => void> = [];
  private available: number;

  constructor(size: number) {
    this.available = size;
  }

  /** Runs `task` once a slot is free; rejects, without running it, if `signal` aborts while it waits. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.available > 0) this.available--;
    else await this.waitForSlot(signal);
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    }
  }

  private waitForSlot(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const granted = () => {
        signal?.removeEventListener('abort', giveUp);
        resolve();
      };
      const giveUp = () => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        reject(new Error('gave up waiting for a slot'));
      };
      if (signal?.aborted) return reject(new Error('gave up waiting for a slot'));
      signal?.addEventListener('abort', giveUp, { once: true });
      this.waiting.push(granted);
    });
  }
}
