/** Bounds how many jobs touch the engine at once; the rest wait their turn in order. */
export class Semaphore {
  private readonly waiting: Array<() => void> = [];
  private available: number;

  constructor(size: number) {
    this.available = size;
  }

  /** True when a task run now would start at once. */
  get hasFreeSlot(): boolean {
    return this.available > 0;
  }

  /**
   * Runs `task` once a slot is free; rejects, without running it, if no slot is free by `giveUpAt`
   * (epoch ms). A task that finds a slot free starts at once and costs no timer.
   */
  async run<T>(task: () => Promise<T>, giveUpAt?: number): Promise<T> {
    if (this.available > 0) this.available--;
    else await this.waitForSlot(giveUpAt);
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    }
  }

  private waitForSlot(giveUpAt: number | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer);
        resolve();
      };
      const giveUp = () => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        reject(new Error('gave up waiting for a slot'));
      };
      const timer = giveUpAt === undefined ? undefined : setTimeout(giveUp, Math.max(0, giveUpAt - Date.now()));
      timer?.unref();
      this.waiting.push(granted);
    });
  }
}
