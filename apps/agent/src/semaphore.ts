/** Bounds how many jobs touch the engine at once; the rest wait their turn in order. */
export class Semaphore {
  private readonly waiting: Array<() => void> = [];
  private available: number;

  constructor(size: number) {
    this.available = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    }
  }
}
