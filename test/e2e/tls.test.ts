/**
 * A fleet as `fleet up` runs it (README "TLS"): the gateway serves HTTPS and NATS speaks TLS, both with
 * certificates of the fleet's own CA. Clients with that CA (the SDK, the fleet CLI, the real docker CLI)
 * work, and what they do is checked on the engine; clients without it are refused. Both servers take
 * rotated certificates without a restart while calls keep coming, with zero failed calls.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { createFleetClient, httpTransport, nodeHttp } from '@fleet/sdk';
import { BUSYBOX_IMAGE, createPki, defaultAgents, freePort, rotatePki } from '@fleet/deploy';
import { connectToFleetNats } from '../support/nats';
import { type ProcessResult, runProcess } from '../support/proc';
import { useScratchDir, useTestFleet } from '../support/suite';
import { httpsCertificateSerial, natsCertificateSerial, serialOf } from '../support/tls';

jest.setTimeout(300_000);
const REPO = resolve(__dirname, '../..');
const fleet = useTestFleet({ tls: true, agents: defaultAgents(1) });
const scratch = useScratchDir('/tmp/flt-tls-');

const tlsOf = () => {
  if (!fleet.state.tls?.nats) throw new Error('this fleet runs without TLS');
  return { ...fleet.state.tls, nats: fleet.state.tls.nats };
};
const ca = () => readFileSync(tlsOf().caFile, 'utf8');
const port = () => Number(new URL(fleet.url).port);
const sdk = () => createFleetClient({ url: fleet.url, apiKey: fleet.adminKey, ...nodeHttp({ ca: ca() }) });

async function containerNamesOnEngine(): Promise<string[]> {
  const containers = await fleet.docker('web-01').listContainers({ all: true });
  return containers.flatMap((container) => container.Names.map((name) => name.replace(/^\//, '')));
}

describe('the gateway over HTTPS', () => {
  it('serves https:// with a certificate of the fleet CA; a client with that CA runs jobs on the engine', async () => {
    expect(fleet.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const name = `tls-created-${Date.now()}`;
    const created = await sdk()
      .node('web-01')
      .containers.create({ image: BUSYBOX_IMAGE, name, cmd: ['true'] });
    expect(created.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok' });
    expect(await containerNamesOnEngine()).toContain(name);
    await fleet.docker('web-01').getContainer(name).remove({ force: true });
  });

  it('is refused by a client that trusts only the system CAs, or another CA', async () => {
    const foreign = await createPki(join(scratch(), 'foreign'), { gatewayHosts: ['127.0.0.1'] });
    const system = await httpTransport({
      method: 'GET',
      url: `${fleet.url}/agent`,
      headers: { authorization: `Bearer ${fleet.adminKey}` },
    }).catch((err: Error) => err);
    const other = await nodeHttp({ ca: readFileSync(foreign.ca) })
      .transport({ method: 'GET', url: `${fleet.url}/agent`, headers: { authorization: `Bearer ${fleet.adminKey}` } })
      .catch((err: Error) => err);
    for (const refusal of [system, other]) {
      expect(refusal).toBeInstanceOf(TypeError);
      expect(((refusal as Error).cause as NodeJS.ErrnoException).code).toMatch(
        /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
      );
    }
  });

  it('serves no plain HTTP on its port: the connection fails without an answer', async () => {
    await expect(httpTransport({ method: 'GET', url: `http://127.0.0.1:${port()}/health`, headers: {} })).rejects.toThrow(TypeError);
  });

  it('reports when its certificates expire on /metrics', async () => {
    const metrics = await fetchMetrics();
    const validTo = (file: string) => Math.floor(Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000);
    expect(metrics).toContain(`fleet_tls_certificate_expiry_timestamp_seconds{use="https"} ${validTo(tlsOf().gateway.cert)}`);
    expect(metrics).toContain(`fleet_tls_certificate_expiry_timestamp_seconds{use="nats-ca"} ${validTo(tlsOf().caFile)}`);
  });
});

function fetchMetrics(): Promise<string> {
  return nodeHttp({ ca: ca() })
    .transport({ method: 'GET', url: `${fleet.url}/metrics`, headers: { authorization: `Bearer ${fleet.metricsToken}` } })
    .then((answer) => answer.text);
}

describe('NATS over TLS', () => {
  it('lets in a client that verifies the server with the fleet CA', async () => {
    const nc = await connectToFleetNats(fleet.state);
    expect((await (await jetstreamManager(nc)).getAccountInfo()).limits).toBeDefined();
    await nc.close();
  });
});

describe('the fleet CLI and the docker CLI over TLS', () => {
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_')));
    return spawnSync(process.execPath, ['apps/cli/bin/fleet.js', ...args], {
      cwd: REPO,
      env: {
        ...inherited,
        HOME: scratch(),
        XDG_CONFIG_HOME: join(scratch(), '.config'),
        FLEET_URL: fleet.url,
        FLEET_API_KEY: fleet.adminKey,
        ...env,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
  };

  it('fleet takes the CA from --ca-file or FLEET_CA_FILE, and without it refuses the gateway (exit 5)', () => {
    const withFlag = cli(['--json', '--ca-file', tlsOf().caFile, 'agent', 'ls']);
    expect(withFlag.status).toBe(0);
    expect(JSON.parse(withFlag.stdout).agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(['web-01']);
    expect(cli(['--json', 'agent', 'ls'], { FLEET_CA_FILE: tlsOf().caFile }).status).toBe(0);
    const without = cli(['agent', 'ls']);
    expect(without.status).toBe(5);
    expect(without.stderr).toMatch(/certificate/i);
  });

  /** DOCKER_CERT_PATH holds ca.pem only: the gateway asks for no client certificate, the API key is the login. */
  function docker(args: string[], certPath: string): Promise<ProcessResult> {
    const config = join(scratch(), 'docker-config');
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${fleet.adminKey}` } }));
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: scratch(),
      DOCKER_HOST: `tcp://127.0.0.1:${port()}/node/web-01/docker`,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: certPath,
      DOCKER_CONFIG: config,
    };
    return runProcess('docker', args, { env, timeoutMs: 90_000, onTimeout: 'kill' });
  }

  it('docker run (create, attach through the hijacked connection, start, wait, remove) works with DOCKER_TLS_VERIFY and the fleet CA', async () => {
    const certPath = join(scratch(), 'docker-certs');
    mkdirSync(certPath, { recursive: true });
    copyFileSync(tlsOf().caFile, join(certPath, 'ca.pem'));
    const name = `tls-docker-run-${Date.now()}`;
    const run = await docker(['run', '--rm', '--name', name, BUSYBOX_IMAGE, 'echo', 'hello over tls'], certPath);
    expect(run).toMatchObject({ code: 0, stdout: 'hello over tls\n' });
    expect(await containerNamesOnEngine()).not.toContain(name);
    const created = await docker(['create', '--name', name, BUSYBOX_IMAGE, 'true'], certPath);
    expect(created.code).toBe(0);
    expect(await containerNamesOnEngine()).toContain(name);
    await fleet.docker('web-01').getContainer(name).remove({ force: true });
  });

  it('docker refuses the gateway when DOCKER_CERT_PATH holds another CA, and nothing reaches the engine', async () => {
    await createPki(join(scratch(), 'foreign-docker'), {});
    const name = `tls-docker-foreign-${Date.now()}`;
    const refused = await docker(['create', '--name', name, BUSYBOX_IMAGE, 'true'], join(scratch(), 'foreign-docker'));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/certificate/i);
    expect(await containerNamesOnEngine()).not.toContain(name);
  });
});

describe('certificate rotation under load', () => {
  it('new gateway and NATS certificates take effect without a restart, with zero failed calls', async () => {
    const tls = tlsOf();
    const before = { gateway: await httpsCertificateSerial(port(), ca()), nats: await natsCertificateSerial(fleet.state.nats!.port, ca()) };
    const gatewayPid = fleet.gatewayPid;
    const natsPid = fleet.state.nats!.pid;
    const client = sdk();
    let calls = 0;
    const failures: string[] = [];
    let running = true;
    // A steady loop of jobs (gateway → NATS → agent → engine) on the client's kept-alive HTTPS connection.
    const loop = (async () => {
      while (running) {
        await client
          .node('web-01')
          .containers.list({ all: true })
          .then((answer) => {
            if (answer.results[0]?.status !== 'ok') failures.push(JSON.stringify(answer.results[0]));
          })
          .catch((err: Error) => failures.push(`${err.name}: ${err.message} ${String((err.cause as Error | undefined)?.message ?? '')}`));
        calls++;
      }
    })();
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 1_000));

    const rotated = await rotatePki(join(fleet.dir, 'pki'), {
      gatewayHosts: ['127.0.0.1', 'localhost'],
      natsHosts: ['127.0.0.1', 'localhost'],
    });
    const after = {
      gateway: serialOf(readFileSync(rotated.gateway!.cert, 'utf8')),
      nats: serialOf(readFileSync(rotated.nats!.cert, 'utf8')),
    };
    expect(rotated.gateway!.cert).toBe(tls.gateway.cert);
    // The gateway watches its files; nats-server reloads on SIGHUP.
    await until(async () => (await httpsCertificateSerial(port(), ca())) === after.gateway, 'the gateway to serve the new certificate');
    process.kill(natsPid, 'SIGHUP');
    await until(
      async () => (await natsCertificateSerial(fleet.state.nats!.port, ca())) === after.nats,
      'NATS to serve the new certificate',
    );
    const callsAtRotation = calls;
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 1_000));
    running = false;
    await loop;

    expect(before.gateway).not.toBe(after.gateway);
    expect(before.nats).not.toBe(after.nats);
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(callsAtRotation);
    expect(callsAtRotation).toBeGreaterThan(5);
    // No restart: the same processes serve, and the metric shows the new certificate's expiry.
    expect(fleet.gatewayPid).toBe(gatewayPid);
    expect(fleet.state.nats!.pid).toBe(natsPid);
    expect(fleet.log('gateway')).toContain('TLS certificate reloaded');
    // A new NATS connection (as a restarted agent makes) verifies the new certificate.
    const nc = await connectToFleetNats(fleet.state);
    await nc.flush();
    await nc.close();
  });
});

describe('a broken certificate pair', () => {
  it("a key that is not the certificate's is not loaded: the gateway keeps serving the one it has, and says so", async () => {
    const tls = tlsOf();
    const serving = await httpsCertificateSerial(port(), ca());
    const goodKey = readFileSync(tls.gateway.key, 'utf8');
    const foreign = await createPki(join(scratch(), 'foreign-key'), { gatewayHosts: ['127.0.0.1'] });
    const replace = (content: string) => {
      writeFileSync(`${tls.gateway.key}.new`, content, { mode: 0o600 });
      renameSync(`${tls.gateway.key}.new`, tls.gateway.key);
    };
    const refusals = () => fleet.log('gateway').split('TLS certificate not reloaded: the previous one stays in use').length - 1;
    const refusalsBefore = refusals();
    replace(readFileSync(foreign.gateway!.key, 'utf8'));
    try {
      await until(async () => refusals() > refusalsBefore, 'the gateway to refuse the pair');
      expect(await httpsCertificateSerial(port(), ca())).toBe(serving);
      const listed = await sdk().node('web-01').containers.list({ all: true });
      expect(listed.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok' });
    } finally {
      replace(goodKey);
    }
  });
});

describe('fleet up', () => {
  let local: string;
  const run = (args: string[]) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_')));
    return spawnSync(process.execPath, ['apps/cli/bin/fleet.js', ...args], {
      cwd: REPO,
      env: { ...inherited, HOME: scratch(), XDG_CONFIG_HOME: join(scratch(), '.config'), FLEET_LOCAL_DIR: local },
      encoding: 'utf8',
      timeout: 180_000,
    });
  };
  beforeAll(() => {
    local = mkdtempSync('/tmp/flt-up-');
  });
  afterAll(() => {
    if (!local) return;
    if (existsSync(join(local, 'state.json'))) run(['down']);
    rmSync(local, { recursive: true, force: true });
  });

  it('runs with TLS by default: prints the https URL and the CA, and status and every command use that CA', async () => {
    const apiPort = await freePort();
    const up = run(['up', '--agents', '1', '--port', String(apiPort)]);
    expect(up.status).toBe(0);
    const caFile = join(local, 'pki', 'ca.pem');
    expect(up.stdout).toContain(`URL:        https://127.0.0.1:${apiPort}`);
    expect(up.stdout).toContain(`CA:         ${caFile}`);
    expect(up.stdout).toContain(`curl -s --cacert ${caFile}`);
    // The gateway's certificate is the local CA's, for 127.0.0.1.
    expect(await httpsCertificateSerial(apiPort, readFileSync(caFile, 'utf8'))).toBe(
      serialOf(readFileSync(join(local, 'pki', 'gateway.pem'), 'utf8')),
    );

    const status = run(['status']);
    expect(status.status).toBe(0);
    expect(status.stdout).toContain(`Gateway https://127.0.0.1:${apiPort} (CA ${caFile})`);
    expect(status.stdout).toMatch(/web-01\s+live/);
    // No URL, key or CA given: the local fleet's, over HTTPS.
    const agents = run(['--json', 'agent', 'ls']);
    expect(agents.status).toBe(0);
    expect(JSON.parse(agents.stdout).agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(['web-01']);

    expect(run(['down']).status).toBe(0);
    expect(existsSync(join(local, 'state.json'))).toBe(false);
    await expect(httpsCertificateSerial(apiPort, readFileSync(caFile, 'utf8'))).rejects.toThrow(/ECONNREFUSED/);
  });
});

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await check().catch(() => false)) return;
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
