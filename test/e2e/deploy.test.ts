import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  bridgeInterfacesOf,
  BUSYBOX_IMAGE,
  type Engine,
  freePort,
  importBusyboxImage,
  isAlive,
  type NatsServer,
  type Registry,
  startEngine,
  startNats,
  startRegistry,
  stopEngine,
  stopNats,
  stopRegistry,
} from '@fleet/deploy';
import { docker } from '../support/docker';

/** The building blocks of every fleet: NATS, side-by-side engines with the local image, a local registry. */
describe('deploy/lib', () => {
  const dir = mkdtempSync('/tmp/flt-');
  let nats: NatsServer | undefined;
  let engines: Engine[] = [];
  let registry: Registry | undefined;

  beforeAll(async () => {
    [nats, ...engines] = await Promise.all([
      startNats({ dir: join(dir, 'nats'), logFile: join(dir, 'nats.log'), detached: false, serverName: 'deploy-test' }),
      startEngine({ dir: join(dir, 'e1'), logFile: join(dir, 'e1.log'), detached: false }),
      startEngine({ dir: join(dir, 'e2'), logFile: join(dir, 'e2.log'), detached: false }),
    ]);
  });

  // Only does anything when a test failed before the explicit teardown test ran.
  afterAll(async () => {
    await stopEverything();
    rmSync(dir, { recursive: true, force: true });
  });

  async function stopEverything(): Promise<void> {
    await Promise.all([
      nats && stopNats(nats),
      registry && stopRegistry(registry),
      ...engines.map((engine) => stopEngine(engine, { killContainers: true })),
    ]);
  }

  test('NATS listens on loopback with JetStream enabled', async () => {
    const varz = await (await fetch(`http://127.0.0.1:${nats!.monitorPort}/varz`)).json();
    expect(varz).toMatchObject({ server_name: 'deploy-test', host: '127.0.0.1', port: nats!.port });
    expect(varz.jetstream.config.store_dir).toBe(join(dir, 'nats', 'jetstream'));
  });

  test('each engine is separate and gets the imported busybox image', async () => {
    const [first, second] = engines.map((engine) => docker(engine.socket));
    const [firstInfo, secondInfo] = await Promise.all([first.info(), second.info()]);
    expect(firstInfo.DockerRootDir).toBe(join(dir, 'e1', 'data'));
    expect(secondInfo.DockerRootDir).toBe(join(dir, 'e2', 'data'));

    await Promise.all(engines.map((engine) => importBusyboxImage(engine.socket)));
    for (const client of [first, second]) {
      const tags = (await client.listImages()).flatMap((image) => image.RepoTags ?? []);
      expect(tags).toContain(BUSYBOX_IMAGE);
    }
  });

  test('the image runs busybox applets', async () => {
    const client = docker(engines[0].socket);
    const container = await client.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ['sh', '-c', 'id -un; ls /bin | wc -l'] });
    await container.start();
    expect(await container.wait()).toMatchObject({ StatusCode: 0 });
    const output = (await container.logs({ stdout: true })).toString('utf8');
    await container.remove();
    expect(output).toContain('root');
  });

  test('the registry with htpasswd wants credentials', async () => {
    const credentials = { user: 'fleet', password: 'registry-secret' };
    registry = await startRegistry({ dir: join(dir, 'registry'), port: await freePort(), htpasswd: credentials });
    const anonymous = await fetch(`${registry.url}/v2/`);
    const basic = Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64');
    const authenticated = await fetch(`${registry.url}/v2/`, { headers: { authorization: `Basic ${basic}` } });
    expect(anonymous.status).toBe(401);
    expect(authenticated.status).toBe(200);
  });

  test('stopping leaves no process, no network interface and no directory behind', async () => {
    const pids = [nats!.pid, registry!.pid, ...engines.map((engine) => engine.pid), ...containerdPids()];
    expect(pids.every(isAlive)).toBe(true);
    await docker(engines[1].socket).createNetwork({ Name: 'left-behind', Driver: 'bridge' });
    const bridges = await bridgeInterfacesOf(engines[1].socket);
    expect(bridges).toHaveLength(1);
    expect(existsSync(join('/sys/class/net', bridges[0]))).toBe(true);

    await stopEverything();
    rmSync(dir, { recursive: true, force: true });
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(join('/sys/class/net', bridges[0]))).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  /** dockerd's managed containerd records its PID under the exec root. */
  function containerdPids(): number[] {
    return engines.map((engine) => Number(readFileSync(join(engine.dir, 'exec', 'containerd', 'containerd.pid'), 'utf8')));
  }
});
