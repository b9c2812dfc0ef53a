import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import contract from './contract.json';
import {
  dependencyOrder,
  MAX_COMPOSE_BYTES,
  parseCompose,
  serviceConfigHash,
  specBindMounts,
  stackSpecRefusal,
  type StackSpec,
} from './compose';

const parsed = (text: string): StackSpec => {
  const result = parseCompose(text);
  if (!result.ok) throw new Error(`refused: ${result.path}: ${result.message}`);
  return result.spec;
};
const refusal = (text: string) => {
  const result = parseCompose(text);
  if (result.ok) throw new Error('accepted');
  return result;
};

const TWO_SERVICES = `
services:
  web:
    image: nginx:1.27
    command: nginx -g "daemon off;"
    environment: { MODE: prod, WORKERS: 4 }
    ports: ["8080:80", "127.0.0.1:8443:443/tcp", "53/udp", { target: 9000, published: 9001 }]
    volumes: ["static:/usr/share/nginx/html:ro", { type: bind, source: /etc/ssl, target: /ssl, read_only: true }]
    networks: [front]
    labels: [team=web]
    restart: unless-stopped
    healthcheck: { test: "wget -q -O- localhost", interval: 1m30s, timeout: 500ms, retries: 3 }
    depends_on: { app: { condition: service_healthy } }
    deploy: { resources: { limits: { cpus: "0.5", memory: 256m, pids: 100 } } }
  app:
    image: registry.local/app:42
    environment: [DB=postgres://db]
    user: "1000:1000"
    working_dir: /srv
volumes:
  static:
networks:
  front: { labels: { tier: front } }
`;

describe('the compose subset', () => {
  it('normalizes every supported key into the StackSpec agents apply', () => {
    const spec = parsed(TWO_SERVICES);
    const web = spec.services.web;
    expect(web.command).toEqual(['nginx', '-g', 'daemon off;']);
    expect(web.environment).toEqual({ MODE: 'prod', WORKERS: '4' });
    expect(web.ports).toEqual([
      { target: 80, published: 8080, protocol: 'tcp' },
      { target: 443, published: 8443, protocol: 'tcp', host_ip: '127.0.0.1' },
      { target: 53, protocol: 'udp' },
      { target: 9000, published: 9001, protocol: 'tcp' },
    ]);
    expect(web.volumes).toEqual([
      { type: 'volume', source: 'static', target: '/usr/share/nginx/html', read_only: true },
      { type: 'bind', source: '/etc/ssl', target: '/ssl', read_only: true },
    ]);
    expect(web.networks).toEqual({ front: { aliases: [] } });
    expect(web.labels).toEqual({ team: 'web' });
    expect(web.restart).toBe('unless-stopped');
    expect(web.healthcheck).toEqual({ test: ['CMD-SHELL', 'wget -q -O- localhost'], interval_ns: 90e9, timeout_ns: 500e6, retries: 3 });
    expect(web.limits).toEqual({ nano_cpus: 5e8, memory_bytes: 256 * 1024 ** 2, pids: 100 });
    expect(web.depends_on).toEqual({ app: { condition: 'service_healthy' } });
    expect(spec.services.app).toMatchObject({ user: '1000:1000', working_dir: '/srv', networks: { default: { aliases: [] } } });
    expect(spec.networks).toEqual({ front: { labels: { tier: 'front' }, internal: false }, default: { labels: {}, internal: false } });
    expect(spec.volumes).toEqual({ static: { labels: {} } });
  });

  it.each([
    ['services:\n  web:\n    image: a\n    privileged: true\n', 'privileged', 'services.web.privileged'],
    ['services:\n  web:\n    image: a\n    cap_add: [SYS_ADMIN]\n', 'cap_add', 'services.web.cap_add'],
    ['services:\n  web:\n    image: a\n    network_mode: host\n', 'network_mode', 'services.web.network_mode'],
    ['services:\n  web:\n    build: .\n    image: a\n', 'build', 'services.web.build'],
    [
      'services:\n  web:\n    image: a\n    healthcheck: { test: [CMD, x], start_interval: 1s }\n',
      'start_interval',
      'services.web.healthcheck.start_interval',
    ],
    [
      'services:\n  web:\n    image: a\n    volumes: [{ type: bind, source: /x, target: /y, bind: { propagation: shared } }]\n',
      'bind',
      'services.web.volumes[0].bind',
    ],
    ['services:\n  web:\n    image: a\n    deploy: { replicas: 3 }\n', 'replicas', 'services.web.deploy.replicas'],
    ['services:\n  web:\n    image: a\nsecrets: {}\n', 'secrets', 'secrets'],
    ['services:\n  web:\n    image: a\nvolumes:\n  v: { external: true }\n', 'external', 'volumes.v.external'],
    ['services:\n  web:\n    image: a\nnetworks:\n  n: { driver: macvlan }\n', 'driver', 'networks.n.driver'],
  ])('refuses a key outside the subset, naming it and its path: %#', (text, key, path) => {
    expect(refusal(text)).toMatchObject({ ok: false, key, path });
    expect(refusal(text).message).toContain(key);
  });

  it.each([
    ['services:\n  web:\n    command: x\n', 'services.web.image'],
    ['services:\n  web:\n    image: a\n    ports: ["8000-8010:80"]\n', 'services.web.ports[0]'],
    ['services:\n  web:\n    image: a\n    ports: ["70000:80"]\n', 'services.web.ports[0]'],
    ['services:\n  web:\n    image: a\n    volumes: ["data:/data"]\n', 'services.web.volumes[0]'],
    ['services:\n  web:\n    image: a\n    volumes: ["./html:/html"]\n', 'services.web.volumes[0]'],
    ['services:\n  web:\n    image: a\n    volumes: ["/anonymous"]\n', 'services.web.volumes[0]'],
    ['services:\n  web:\n    image: a\n    networks: [back]\n', 'services.web.networks.back'],
    ['services:\n  web:\n    image: a\n    environment: [FROM_SHELL]\n', 'services.web.environment.FROM_SHELL'],
    ['services:\n  web:\n    image: a\n    restart: sometimes\n', 'services.web.restart'],
    ['services:\n  web:\n    image: a\n    mem_limit: lots\n', 'services.web.mem_limit'],
    ['services:\n  web:\n    image: a\n    healthcheck: { test: [x], interval: soon }\n', 'services.web.healthcheck.test'],
    ['services:\n  web:\n    image: a\n    depends_on: [db]\n', 'services.web.depends_on.db'],
    ['services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n', 'services.a.depends_on'],
    ['services:\n  "bad name":\n    image: a\n', 'services.bad name'],
  ])('refuses a value it cannot apply, with its path: %#', (text, path) => {
    expect(refusal(text).path).toBe(path);
  });

  it('bounds the text, YAML aliases, and refuses what is not one YAML mapping', () => {
    expect(refusal('#'.repeat(MAX_COMPOSE_BYTES + 1)).key).toBe('compose');
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 8; level++)
      bomb.push(`${'b'.repeat(level)}: &${'b'.repeat(level)} [${Array(10).fill(level === 1 ? '*a' : '*' + 'b'.repeat(level - 1))}]`);
    expect(refusal(`${bomb.join('\n')}\nservices: { web: { image: a } }\n`).key).toBe('yaml');
    expect(refusal('services: [\n').key).toBe('yaml');
    expect(refusal('services:\n  web: { image: a }\nservices:\n  db: { image: b }\n').key).toBe('yaml');
    expect(refusal('--- { services: { a: { image: a } } }\n--- {}\n').key).toBe('yaml');
    expect(refusal('just text').key).toBe('compose');
  });

  it('accepts anchors, merge keys and x- fields as compose files use them, and the obsolete version', () => {
    const spec = parsed(`
version: "3.8"
x-common: &common { restart: always, labels: { team: ops } }
services:
  a: { <<: *common, image: a }
  b: { <<: *common, image: b }
`);
    expect(spec.services.a).toMatchObject({ restart: 'always', labels: { team: 'ops' } });
    expect(spec.services.b.restart).toBe('always');
  });

  it('starts services after what they depend on', () => {
    const spec = parsed('services:\n  web: { image: a, depends_on: [app] }\n  app: { image: b, depends_on: [db] }\n  db: { image: c }\n');
    expect(dependencyOrder(spec)).toEqual(['db', 'app', 'web']);
  });

  it('lists bind mounts for the permission check', () => {
    expect(specBindMounts(parsed(TWO_SERVICES))).toEqual(['/etc/ssl']);
    expect(specBindMounts(parsed('services:\n  a: { image: a }\n'))).toEqual([]);
  });

  it('hashes a service config regardless of key order, and differently when a value changes', () => {
    const one = parsed('services:\n  a: { image: a, environment: { X: "1", Y: "2" } }\n');
    const reordered = parsed('services:\n  a: { environment: { Y: "2", X: "1" }, image: a }\n');
    const changed = parsed('services:\n  a: { image: a, environment: { X: "1", Y: "3" } }\n');
    expect(serviceConfigHash(one, 'a')).toBe(serviceConfigHash(reordered, 'a'));
    expect(serviceConfigHash(one, 'a')).not.toBe(serviceConfigHash(changed, 'a'));
  });
});

describe('the normalized spec', () => {
  const contractSchema = () => {
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ components: contract.components }, 'contract');
    return ajv.getSchema('contract#/components/schemas/StackSpec');
  };

  it("is what the contract's StackSpec describes", () => {
    const validate = contractSchema();
    expect(validate?.(parsed(TWO_SERVICES))).toBe(true);
    expect(validate?.({ ...parsed(TWO_SERVICES), extra: 1 })).toBe(false);
  });

  it('is checked again for what the schema cannot say: undeclared volumes and networks, relative binds, cycles', () => {
    const spec = parsed(TWO_SERVICES);
    expect(stackSpecRefusal(spec)).toBeUndefined();
    expect(stackSpecRefusal({ ...spec, volumes: {} })).toContain('static');
    expect(stackSpecRefusal({ ...spec, networks: { default: spec.networks.default } })).toContain('front');
    const web = spec.services.web;
    expect(
      stackSpecRefusal({
        ...spec,
        services: { ...spec.services, web: { ...web, volumes: [{ type: 'bind', source: 'etc', target: '/e', read_only: false }] } },
      }),
    ).toContain('absolute');
    const app = { ...spec.services.app, depends_on: { web: { condition: 'service_started' as const } } };
    expect(stackSpecRefusal({ ...spec, services: { ...spec.services, app } })).toContain('cycle');
  });
});
