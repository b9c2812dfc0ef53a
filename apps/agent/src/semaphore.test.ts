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

  it('lets a waiter give up at its time without running its task or losing the slot', async () => {
    const slots = new Semaphore(1);
    let release!: () => void;
    const busy = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    let ran = false;
    const waiter = slots.run(async () => {
      ran = true;
    }, Date.now() + 20);
    expect(slots.hasFreeSlot).toBe(false);
    await expect(waiter).rejects.toThrow('gave up');
    release();
    await busy;
    await expect(slots.run(async () => 'next')).resolves.toBe('next');
    expect(ran).toBe(false);
  });

  it('runs a waiter whose slot comes before its time, and then no longer gives up', async () => {
    const slots = new Semaphore(1);
    let release!: () => void;
    const busy = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    const waiter = slots.run(async () => 'ran', Date.now() + 50);
    release();
    await busy;
    await expect(waiter).resolves.toBe('ran');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(slots.hasFreeSlot).toBe(true);
    await expect(slots.run(async () => 'next', Date.now())).resolves.toBe('next');
  });
});
