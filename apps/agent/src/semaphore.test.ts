import { Semaphore } from './semaphore';

describe('Semaphore', () => {
  it('runs at most `size` tasks at once, the rest in order', async () => {
    const slots = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(n);
      running--;
    };
    await Promise.all([1, 2, 3, 4, 5].map((n) => slots.run(task(n))));
    expect(peak).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('lets a waiter give up without running its task or losing the slot', async () => {
    const slots = new Semaphore(1);
    let release!: () => void;
    const busy = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    const abort = new AbortController();
    let ran = false;
    const waiter = slots.run(async () => {
      ran = true;
    }, abort.signal);
    abort.abort();
    await expect(waiter).rejects.toThrow('gave up');
    release();
    await busy;
    await expect(slots.run(async () => 'next')).resolves.toBe('next');
    expect(ran).toBe(false);
  });
});
