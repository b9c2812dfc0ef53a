/**
 * Finding 2: labels were self-declared: db-01's login rewrote its registry record to role=web and a
 * key scoped to role:web reached db-01. Now an agent's labels are only what it asks for; an admin
 * accepts an agent (enrolment) and sets the labels targets and scopes match, in a bucket no
 * agent's login can write. `new-01` starts pending, asking for role=web.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { ENROLLMENTS_BUCKET } from '@fleet/contracts/protocol';
import { NatsLogin } from '../support/agent-login';
import { attack } from '../support/attacks';
import { countContainers } from '../support/docker';
import { api } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({
  agents: [
    { hostname: 'web-01', labels: { role: 'web', zone: 'eu.west' } },
    { hostname: 'db-01', labels: { role: 'db', zone: 'eu.west' } },
    { hostname: 'new-01', labels: { role: 'web', zone: 'eu.west' } },
  ],
  pendingAgents: ['new-01'],
  agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500' },
});
let db01: NatsLogin;

beforeAll(async () => {
  db01 = await NatsLogin.asAgent(fleet, 'db-01');
});

afterAll(async () => {
  await db01?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates one container on `target` with `key`, marked so the engines can be asked where it ran. */
async function createMarked(target: string, key: string = fleet.adminKey): Promise<{ status: number; mark: string; hosts: string[] }> {
  const mark = randomUUID();
  const res = await api(fleet, 'POST', `/node/${target}/container/docker`, {
    key,
    body: { image: 'local/busybox:latest', name: `g1-${mark.slice(0, 8)}`, cmd: ['true'], labels: { 'g1.mark': mark } },
  });
  const hosts = Array.isArray(res.body?.results) ? res.body.results.map((row: { hostname: string }) => row.hostname) : [];
  return { status: res.status, mark, hosts };
}

async function ranOn(mark: string): Promise<string[]> {
  const hosts = [];
  for (const agent of fleet.agents)
    if ((await countContainers(fleet.docker(agent.hostname), `g1.mark=${mark}`)) > 0) hosts.push(agent.hostname);
  return hosts;
}

/** Runs `fleet <args>` (asynchronously: a blocked event loop would let the gateway close our idle keep-alive sockets under us). */
function fleetCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/src/main.ts', ...args],
      { env: { ...process.env, FLEET_URL: fleet.url, FLEET_API_KEY: fleet.adminKey }, timeout: 110_000 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          stdout,
          stderr: stderr || (err?.signal ? `killed by ${err.signal}` : ''),
        }),
    );
  });
}

attack("db-01's login rewrites its registry record to role=web: a role:web key still does not reach db-01", async () => {
  // The attacker keeps its forged record current, as a modified agent would.
  const forged = () =>
    db01.nc.publish(
      '$KV.fleet_agents.db-01',
      JSON.stringify({
        hostname: 'db-01',
        labels: { role: 'web', zone: 'eu.west' },
        agent_version: '0.1.0',
        engine: { healthy: true },
        started_at: new Date().toISOString(),
      }),
    );
  forged();
  const timer = setInterval(forged, 100);
  try {
    await sleep(500);
    const listed = await api(fleet, 'GET', '/agent/db-01');
    expect(listed.body).toMatchObject({ enrollment: 'accepted', labels: { role: 'db', zone: 'eu.west' } });

    const scopedKey = fleet.mintKey('operator', { scope: 'role:web' });
    const byLabel = await createMarked('role:web', scopedKey);
    expect(byLabel.status).toBe(202);
    expect(byLabel.hosts).toEqual(['web-01']);
    const byName = await createMarked('db-01', scopedKey);
    // Outside the scope: the scope's one 404, as for a host that does not exist.
    expect(byName.status).toBe(404);
    // The engines: nothing ran on db-01.
    expect(await ranOn(byLabel.mark)).toEqual(['web-01']);
    expect(await ranOn(byName.mark)).toEqual([]);
  } finally {
    clearInterval(timer);
  }
});

attack("db-01's login writes itself an enrollment with role=web: refused by the broker, labels unchanged", async () => {
  const subject = `$KV.${ENROLLMENTS_BUCKET}.db-01`;
  db01.nc.publish(subject, JSON.stringify({ labels: { role: 'web' }, by: 'db-01', at: new Date().toISOString() }));
  await db01.violationFor(subject);
  const listed = await api(fleet, 'GET', '/agent/db-01');
  expect(listed.body.labels).toEqual({ role: 'db', zone: 'eu.west' });
  const { mark } = await createMarked('role:web');
  expect(await ranOn(mark)).toEqual(['web-01']);
});

attack('a new agent asking for role=web is pending: listed with what it asks for, never targeted, its engine untouched', async () => {
  const listed = await api(fleet, 'GET', '/agent');
  expect(listed.body.agents.find((agent: { hostname: string }) => agent.hostname === 'new-01')).toMatchObject({
    enrollment: 'pending',
    labels: {},
    requested_labels: { role: 'web', zone: 'eu.west' },
    live: true,
  });
  const byLabel = await createMarked('role:web');
  expect(byLabel.hosts).toEqual(['web-01']);
  const all = await createMarked('_all');
  expect(all.hosts).toEqual(['db-01', 'web-01']);
  const byName = await createMarked('new-01');
  expect(byName.status).toBe(404);
  for (let i = 0; i < 4; i++) expect((await createMarked('_any')).hosts).not.toContain('new-01');
  expect(await countContainers(fleet.docker('new-01'), 'g1.mark')).toBe(0);
});

attack(
  'keys that may not change enrolment: a viewer, an operator, and a role:web-scoped admin cannot accept new-01 or move db-01 into role:web',
  async () => {
    for (const key of [fleet.mintKey('viewer'), fleet.mintKey('operator'), fleet.mintKey('admin', { scope: 'role:web' })]) {
      expect((await api(fleet, 'PUT', '/agent/db-01/labels', { key, body: { labels: { role: 'web' } } })).status).toBe(403);
      expect((await api(fleet, 'POST', '/agent/new-01/accept', { key, body: { labels: { role: 'web' } } })).status).toBe(403);
    }
    const agents = (await api(fleet, 'GET', '/agent')).body.agents as Array<{ hostname: string; labels: object; enrollment: string }>;
    expect(agents.find((agent) => agent.hostname === 'db-01')).toMatchObject({
      labels: { role: 'db', zone: 'eu.west' },
      enrollment: 'accepted',
    });
    expect(agents.find((agent) => agent.hostname === 'new-01')).toMatchObject({ labels: {}, enrollment: 'pending' });
  },
);

it('bad labels are a 400 naming the field, and labels of a host not accepted are a 404', async () => {
  const bad = await api(fleet, 'PUT', '/agent/db-01/labels', { body: { labels: { 'role\nx': 'web' } } });
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ code: 400 });
  const proto = await api(fleet, 'PUT', '/agent/db-01/labels', { body: { labels: { __proto__x: 'web' } } });
  expect(proto.status).toBe(400);
  const pending = await api(fleet, 'PUT', '/agent/new-01/labels', { body: { labels: { role: 'db' } } });
  expect(pending.status).toBe(404);
  expect(pending.body.details).toContain('accept it first');
});

it('an admin accepts new-01 with its own labels (`fleet agent accept`), then relabels it (`fleet agent label`): targets follow the admin', async () => {
  const accepted = await fleetCli(['agent', 'accept', 'new-01', 'role=db', 'zone=us.east']);
  expect(accepted).toMatchObject({ code: 0, stderr: '' });
  expect(accepted.stdout).toContain('new-01: accepted, labels role=db,zone=us.east');
  // It was waiting for its consumer: it binds within a poll.
  let db = await createMarked('role:db');
  for (let i = 0; i < 20 && !(await ranOn(db.mark)).includes('new-01'); i++) await sleep(250);
  expect(db.hosts).toEqual(['db-01', 'new-01']);
  expect(await ranOn(db.mark)).toEqual(['db-01', 'new-01']);
  const web = await createMarked('role:web');
  expect(await ranOn(web.mark)).toEqual(['web-01']);

  const relabelled = await fleetCli(['agent', 'label', 'new-01', 'role=cache', '--json']);
  expect(relabelled.code).toBe(0);
  expect(JSON.parse(relabelled.stdout)).toMatchObject({ hostname: 'new-01', enrollment: 'accepted', labels: { role: 'cache' } });
  const cache = await createMarked('role:cache');
  expect(await ranOn(cache.mark)).toEqual(['new-01']);
  db = await createMarked('role:db');
  expect(await ranOn(db.mark)).toEqual(['db-01']);
  const listed = await fleetCli(['agent', 'ls']);
  expect(listed.stdout).toMatch(/new-01\s.*role=cache\s+accepted/);
});
