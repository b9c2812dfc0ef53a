import { DeadlineExceededError, JobDeadline } from './deadline';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JobDeadline', () => {
  it('settles as the work does when it ends first, and never aborts its signal after', async () => {
    const deadline = new JobDeadline(Date.now() + 30);
    await expect(deadline.bound(async () => 'done')).resolves.toBe('done');
    const signal = deadline.signal;
    await sleep(60);
    expect(signal.aborted).toBe(false);
    expect(deadline.expired).toBe(false);
  });

  it("passes the work's own failure through", async () => {
    const deadline = new JobDeadline(Date.now() + 1000);
    await expect(deadline.bound(async () => Promise.reject(new Error('engine said no')))).rejects.toThrow('engine said no');
    expect(deadline.expired).toBe(false);
  });

  it('turns a work that throws before its first await into a rejection', async () => {
    const deadline = new JobDeadline(Date.now() + 1000);
    const work = (): Promise<never> => {
      throw new Error('thrown at once');
    };
    await expect(deadline.bound(work)).rejects.toThrow('thrown at once');
  });

  it('rejects at the deadline and aborts a signal handed out before, with a timeout reason', async () => {
    const deadline = new JobDeadline(Date.now() + 20);
    let seen: AbortSignal | undefined;
    const outcome = deadline.bound(() => {
      seen = deadline.signal;
      return new Promise<never>(() => undefined);
    });
    await expect(outcome).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(deadline.expired).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect((seen?.reason as DOMException).name).toBe('TimeoutError');
  });

  it('hands out an already aborted signal when asked for it only after the deadline', async () => {
    const deadline = new JobDeadline(Date.now() + 10);
    await expect(deadline.bound(() => new Promise<never>(() => undefined))).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(deadline.signal.aborted).toBe(true);
  });
});
