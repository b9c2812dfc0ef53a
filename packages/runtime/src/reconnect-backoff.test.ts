import { AGENT_RECONNECT, ReconnectBackoff } from './reconnect-backoff';

describe('ReconnectBackoff', () => {
  const pacing = { firstMs: 100, maxMs: 1_000 };

  it('tries at once after a disconnect, then waits within a range that doubles up to the bound', () => {
    const highest = new ReconnectBackoff(pacing, () => 0.999_999);
    expect(Array.from({ length: 7 }, () => highest.nextDelayMs())).toEqual([0, 100, 200, 400, 800, 1_000, 1_000]);
  });

  it('draws each wait from the whole range, so a fleet that lost its broker together comes back spread out', () => {
    const draws = [0, 0.5, 0.25];
    const backoff = new ReconnectBackoff(pacing, () => draws.shift() ?? 0);
    backoff.nextDelayMs();
    expect([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()]).toEqual([0, 100, 100]);
  });

  it('starts over once connected', () => {
    const backoff = new ReconnectBackoff(pacing, () => 0.999_999);
    for (let i = 0; i < 5; i++) backoff.nextDelayMs();
    backoff.reset();
    expect([backoff.nextDelayMs(), backoff.nextDelayMs()]).toEqual([0, 100]);
  });

  it('spreads 10,000 agents evenly over the bound once their range has grown to it', () => {
    const waits = Array.from({ length: 10_000 }, () => {
      const backoff = new ReconnectBackoff(AGENT_RECONNECT);
      for (let i = 0; i < 8; i++) backoff.nextDelayMs();
      return backoff.nextDelayMs();
    });
    expect(Math.max(...waits)).toBeLessThanOrEqual(AGENT_RECONNECT.maxMs);
    const firstHalf = waits.filter((wait) => wait < AGENT_RECONNECT.maxMs / 2).length;
    expect(firstHalf).toBeGreaterThan(4_500);
    expect(firstHalf).toBeLessThan(5_500);
  });
});
