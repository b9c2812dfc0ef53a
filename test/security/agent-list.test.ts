/**
 * Issue 21: `GET /agent` pages, filters and counts (README "Agents and heartbeats"). A scoped key
 * must page, filter and count only the hosts inside its scope, whatever cursor or filter it makes
 * up, and learn nothing about the hosts outside; an agent's own NATS login must not be able to make
 * the gateway hold or show a record it forged.
 */
import { AGENTS_BUCKET, kvSubject } from '@fleet/contracts/protocol';
import { useNatsLogins } from '../support/agent-login';
import { attack } from '../support/attacks';
import { api } from '../support/http';
import { useTestFleet } from '../support/suite';

jest.setTimeout(180_000);
const fleet = useTestFleet();
const logins = useNatsLogins(fleet, { web01: 'web-01' });
const hostnamesOf = (body: { agents: { hostname: string }[] }) => body.agents.map((agent) => agent.hostname);
let webViewer: string;

beforeAll(() => {
  webViewer = fleet.mintKey('viewer', { scope: 'role:web', subject: 'agent-list-web-viewer' });
});

/** Every page of `query` for `key`, a page of one host at a time, following next_cursor. */
async function allPages(key: string, query = ''): Promise<{ hostnames: string[]; totals: number[] }> {
  const hostnames: string[] = [];
  const totals: number[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const res = await api(fleet, 'GET', `/agent?limit=1${query}${cursor ? `&cursor=${cursor}` : ''}`, { key });
    expect(res.status).toBe(200);
    hostnames.push(...hostnamesOf(res.body));
    totals.push(res.body.total);
    cursor = res.body.next_cursor;
    if (!cursor) break;
  }
  return { hostnames, totals };
}

attack('a viewer scoped to role:web pages GET /agent one host at a time: only web-01 and web-02, total and counts of those', async () => {
  // The unscoped admin sees db-01 there: it exists, live.
  expect((await allPages(fleet.adminKey, '&state=all')).hostnames).toEqual(['db-01', 'web-01', 'web-02']);
  const scoped = await allPages(webViewer, '&state=all');
  expect(scoped).toEqual({ hostnames: ['web-01', 'web-02'], totals: [2, 2] });
  const counts = (await api(fleet, 'GET', '/agent?state=all', { key: webViewer })).body.counts;
  expect(counts).toEqual({ online: 2, drained: 0, offline: 0 });
});

attack('forged cursors (before db-01, db-01 itself, past the end) never reach a host outside the scope', async () => {
  for (const cursor of ['0', 'a', 'db-00', 'db-01', 'db-02', 'web-01', 'zzz']) {
    const res = await api(fleet, 'GET', `/agent?state=all&cursor=${cursor}`, { key: webViewer });
    expect(res.status).toBe(200);
    expect(hostnamesOf(res.body)).not.toContain('db-01');
    expect(JSON.stringify(res.body)).not.toContain('db-01');
    expect(res.body.total).toBe(2);
  }
});

attack('offsets count only the hosts inside the scope: no offset lands on or reveals a host outside it', async () => {
  const pages = [];
  for (const offset of [0, 1, 2, 3, 1000000]) {
    const res = await api(fleet, 'GET', `/agent?state=all&limit=1&offset=${offset}`, { key: webViewer });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain('db-01');
    expect(res.body.total).toBe(2);
    pages.push(...hostnamesOf(res.body));
  }
  expect(pages).toEqual(['web-01', 'web-02']);
});

attack('filters naming hosts outside the scope answer exactly what a host that does not exist answers', async () => {
  const empty = { agents: [], total: 0, pending: 0, counts: { online: 0, drained: 0, offline: 0 } };
  for (const filter of ['target=db-01', 'target=role:db', 'target=nope-01', 'target=role:nope', 'target=role:db&version=0.1.0']) {
    const outside = await api(fleet, 'GET', `/agent?state=all&${filter}`, { key: webViewer });
    expect(outside.status).toBe(200);
    expect(outside.body).toEqual(empty);
  }
  // zone:eu reaches db-01 and web-01: the scoped key sees web-01 alone, and counts it alone.
  const zone = await api(fleet, 'GET', '/agent?target=zone:eu', { key: webViewer });
  expect(hostnamesOf(zone.body)).toEqual(['web-01']);
  expect(zone.body.counts).toEqual({ online: 1, drained: 0, offline: 0 });
});

attack('an offline host outside the scope is neither listed nor counted under offline', async () => {
  await fleet.stopAgent('db-01');
  try {
    expect((await api(fleet, 'GET', '/agent?state=offline')).body.agents).toEqual([
      expect.objectContaining({ hostname: 'db-01', live: false }),
    ]);
    const scoped = await api(fleet, 'GET', '/agent?state=offline', { key: webViewer });
    expect(scoped.body).toEqual({ agents: [], total: 0, pending: 0, counts: { online: 2, drained: 0, offline: 0 } });
  } finally {
    await fleet.startAgent('db-01');
  }
});

attack("web-01's own NATS login writes an oversized record, and one naming db-01, under its key: the gateway shows neither", async () => {
  const before = (await api(fleet, 'GET', '/agent/web-01')).body;
  const subject = kvSubject(AGENTS_BUCKET, 'web-01');
  const padding = 'x'.repeat(200 * 1024);
  const oversized = { ...before, build: 'forged-big', padding };
  const impostor = { ...before, hostname: 'db-01', build: 'forged-impostor', labels: { role: 'db' } };
  for (const forged of [oversized, impostor]) {
    // The broker stores it (the key is web-01's own): only the gateway's reading of it can refuse it.
    const ack = JSON.parse(new TextDecoder().decode((await logins.web01.nc.request(subject, JSON.stringify(forged))).data));
    expect(ack.seq).toBeGreaterThan(0);
  }
  await logins.web01.nc.flush();
  const listed = await api(fleet, 'GET', '/agent?state=all');
  expect(JSON.stringify(listed.body)).not.toContain('forged-');
  expect(listed.body.agents.find((agent: { hostname: string }) => agent.hostname === 'web-01').build).toBe(before.build);
  expect(hostnamesOf(listed.body)).toEqual(['db-01', 'web-01', 'web-02']);
  // The real agent is untouched: restarted, it writes its own record again.
  await fleet.stopAgent('web-01');
  await fleet.startAgent('web-01');
  expect((await api(fleet, 'GET', '/agent/web-01')).body.build).toBe(before.build);
});
