import { isClusterForming, whenClusterFormed } from './cluster-forming';

const log = { warn: jest.fn() };

describe('whenClusterFormed', () => {
  it('tries again while the cluster answers as a forming one, then returns what the attempt made', async () => {
    let calls = 0;
    const attempt = async () => {
      calls++;
      if (calls < 3) throw new Error('error creating store for stream');
      return 'topology';
    };
    await expect(whenClusterFormed(attempt, log, 5_000, () => 1)).resolves.toBe('topology');
    expect(calls).toBe(3);
  });

  it('throws at once an error a forming cluster does not give', async () => {
    let calls = 0;
    const attempt = async () => {
      calls++;
      throw new Error('permissions violation for publish');
    };
    await expect(whenClusterFormed(attempt, log, 5_000, () => 1)).rejects.toThrow('permissions violation');
    expect(calls).toBe(1);
  });

  it('gives up with the last error once the wait is over', async () => {
    const attempt = async () => {
      throw new Error('no suitable peers for placement');
    };
    await expect(whenClusterFormed(attempt, log, 20, () => 5)).rejects.toThrow('no suitable peers');
  });
});

describe('isClusterForming', () => {
  it.each([
    ['error creating store for stream', true],
    ['insufficient resources', true],
    ['JetStream system temporarily unavailable', true],
    ['TIMEOUT', true],
    ['stream name already in use with a different configuration', false],
    ['Permissions Violation for Publish to "$JS.API.STREAM.CREATE.X"', false],
  ])('%s → %s', (message, forming) => {
    expect(isClusterForming(new Error(message))).toBe(forming);
  });
});
