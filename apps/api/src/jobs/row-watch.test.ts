import type { HostRow } from '@fleet/contracts/protocol';
import type { RowListener } from './feed';
import { watchRows, type RowWatchDeps } from './row-watch';

/** A feed whose rows and reconnects the test makes, over a store holding `stored`. */
function fakeFleet(stored: Record<string, HostRow> = {}) {
  const listeners = new Set<RowListener>();
  const reconnectListeners = new Set<() => void>();
  const deps: RowWatchDeps = {
    feed: {
      watch: (_jobId, listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      onReconnect: (listener) => {
        reconnectListeners.add(listener);
        return () => reconnectListeners.delete(listener);
      },
    },
    store: { storedRow: async (_jobId, hostname) => stored[hostname] },
  };
  return {
    deps,
    hear: (row: HostRow) => listeners.forEach((listener) => listener(row.hostname, row)),
    reconnect: () => reconnectListeners.forEach((listener) => listener()),
    listening: () => listeners.size + reconnectListeners.size,
  };
}

const ok = (hostname: string, message = 'done'): HostRow => ({ hostname, status: 'ok', changed: false, message });
const FAR = Date.now() + 60_000;

describe('watchRows', () => {
  it('is done once every watched host has a final row, keeping the first one heard, and stops listening', async () => {
    const fleet = fakeFleet();
    const watch = watchRows(fleet.deps, 'j1', ['web-01', 'web-02'], FAR);
    fleet.hear({ hostname: 'web-01', status: 'running', changed: false });
    fleet.hear(ok('web-01', 'first'));
    fleet.hear(ok('web-01', 'again'));
    fleet.hear(ok('db-01'));
    expect([...watch.rows.keys()]).toEqual(['web-01']);
    fleet.hear(ok('web-02'));
    await watch.done;
    expect(watch.rows.get('web-01')?.message).toBe('first');
    expect([...watch.rows.keys()].sort()).toEqual(['web-01', 'web-02']);
    expect(fleet.listening()).toBe(0);
  });

  it('reads back the rows of hosts still missing after the feed reconnects', async () => {
    const fleet = fakeFleet({ 'web-02': { hostname: 'forged', status: 'failed', changed: false, error: 'x', error_code: 500 } });
    const watch = watchRows(fleet.deps, 'j1', ['web-01', 'web-02'], FAR);
    watch.accept('web-01', ok('web-01'));
    fleet.reconnect();
    await watch.done;
    expect(watch.rows.get('web-02')).toMatchObject({ hostname: 'web-02', status: 'failed' });
  });

  it('is done when the wall clock reaches its end, with the rows heard so far', async () => {
    const fleet = fakeFleet();
    const watch = watchRows(fleet.deps, 'j1', ['web-01', 'web-02'], Date.now() + 20);
    fleet.hear(ok('web-01'));
    await watch.done;
    expect([...watch.rows.keys()]).toEqual(['web-01']);
    fleet.hear(ok('web-02'));
    expect(watch.rows.has('web-02')).toBe(false);
  });

  it('takes nothing more once stopped, and is then never done', async () => {
    const fleet = fakeFleet();
    const watch = watchRows(fleet.deps, 'j1', ['web-01'], FAR);
    watch.stop();
    fleet.hear(ok('web-01'));
    watch.accept('web-01', ok('web-01'));
    const later = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 30));
    const outcome = await Promise.race([watch.done.then(() => 'done'), later]);
    expect(outcome).toBe('still waiting');
    expect(watch.rows.size).toBe(0);
    expect(fleet.listening()).toBe(0);
  });
});
