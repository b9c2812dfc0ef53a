import type Docker from 'dockerode';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Role } from '@fleet/contracts/permissions';
import {
  acceptAgents,
  AGENT_ENTRYPOINT,
  type AgentSpec,
  type AgentState,
  BUSYBOX_IMAGE,
  createPki,
  defaultAgents,
  type Engine,
  ensureHostGrantKeys,
  ensureJwtSecret,
  ensureMetricsToken,
  createNatsOperator,
  type FleetState,
  GATEWAY_ENTRYPOINT,
  importBusyboxImage,
  issueJoinToken,
  agentCredsFile,
  logFileOf,
  mintKey,
  type NatsCluster,
  type NatsTlsFiles,
  type PkiFiles,
  type NatsOperator,
  spawnAgent,
  spawnGateway,
  startEngine,
  startNatsCluster,
  stopByPid,
  stopEngine,
  stopNatsCluster,
  waitForAgents,
  waitForGateway,
} from '@fleet/deploy';
import { docker } from './docker';
import { BridgeCapture, type LabSecret } from './lab-capture';
import { inNetns, LAB_RANGE, type LabHost, LabNetwork } from './lab-network';

/*
 * A lab of real hosts on one machine (README "Multi-host lab"): three NATS servers in a cluster (nats-1..3), two
 * gateways (ctl-1, ctl-2), and web-01, web-02, db-01 each with its own dockerd and agent, every one of them in a
 * network namespace of its own on the lab's bridge. Nothing listens on a loopback another host could share: every
 * hop crosses the bridge, where the capture sees it.
 */

/**
 * How the lab's hops are secured: the one place to switch TLS and the agents' own identities. With `tls`, a PKI
 * of the lab's own (`createPki`) certifies the NATS servers' and gateways' addresses: clients must speak TLS to
 * NATS, the routes authenticate each other with their certificates, the gateways serve HTTPS, and every client
 * (gateways, agents, the test runner, the docker CLI, curl) verifies them with the lab's CA. With `agentIdentity:
 * 'nkey'` the cluster runs in operator mode (README "Enrolling an agent"): the gateways log in with their creds,
 * and each agent joins once with a one-time join token issued through a gateway over HTTPS, then logs in with the
 * NKey identity it made itself.
 */
export interface LabSecurity {
  tls: boolean;
  agentIdentity: 'nkey';
}

export const LAB_SECURITY: LabSecurity = { tls: true, agentIdentity: 'nkey' };

const NATS_SCHEME = LAB_SECURITY.tls ? 'tls' : 'nats';
const GATEWAY_SCHEME = LAB_SECURITY.tls ? 'https' : 'http';

const NATS_HOSTS = ['nats-1', 'nats-2', 'nats-3'];
const GATEWAY_HOSTS = ['ctl-1', 'ctl-2'];
const GATEWAY_PORT = 8080;
/** The last octet of each host's address; agents from 31 on. */
const OCTETS: Record<string, number> = { 'nats-1': 11, 'nats-2': 12, 'nats-3': 13, 'ctl-1': 21, 'ctl-2': 22 };
const AGENT_OCTET = 31;

/** Short heartbeats and TTL, so a cut agent is seen gone (and back) in seconds. */
const AGENT_ENV = { FLEET_AGENT_HEARTBEAT_MS: '500', FLEET_AGENT_REFRESH_MS: '1000' };
/**
 * Replicas on all three servers, so losing one leaves a quorum. The TTL outlasts the agents bucket electing a new leader
 * when a NATS server is cut (its writes wait meanwhile), as the default outlasts two lost refreshes: a live agent is not
 * taken for gone by the partition tests.
 */
const GATEWAY_ENV = { FLEET_AGENT_TTL_MS: '10000', FLEET_JETSTREAM_REPLICAS: '3' };

const NATS_LOGIN_SCRIPT = `
const { connect, credsAuthenticator, nkeyAuthenticator } = require('@nats-io/transport-node');
const [server, login] = process.argv.slice(1);
const { nkeySeed, creds, ...options } = JSON.parse(login);
const encoded = (text) => new TextEncoder().encode(text);
const authenticator = creds ? credsAuthenticator(encoded(creds)) : nkeySeed ? nkeyAuthenticator(encoded(nkeySeed)) : undefined;
// Dialled by IP, the client names no server (no SNI), so the certificate is checked against the address dialled.
const address = new URL(server).hostname;
if (options.tls) options.tls.checkServerIdentity = (_host, cert) => require('node:tls').checkServerIdentity(address, cert);
connect({ servers: server, ...options, authenticator, reconnect: false, timeout: 5000 })
  .then((nc) => { console.log('CONNECTED'); return nc.close(); })
  .catch((err) => console.log('REFUSED ' + err.message));
`;

/**
 * What a login attempt presents: a user and password, creds (user JWT and NKey seed), a bare NKey seed, a client certificate, or nothing.
 */
export interface NatsLoginAttempt {
  user?: string;
  pass?: string;
  creds?: string;
  nkeySeed?: string;
  tls?: { caFile: string; certFile?: string; keyFile?: string };
}

export interface LabGateway {
  host: LabHost;
  url: string;
  state: FleetState;
}

type Undo = () => Promise<void> | void;

export class Lab {
  readonly network = new LabNetwork();
  readonly gateways = new Map<string, LabGateway>();
  readonly engines = new Map<string, Engine>();
  readonly agents: AgentState[] = [];
  cluster?: NatsCluster;
  /** The operator the lab's NATS servers trust; the gateways hold its signing keys and their creds. */
  natsOperator?: NatsOperator;
  /** The one-time join token each agent joined with (used, but secrets all the same). */
  readonly joinTokens = new Map<string, string>();
  /** The lab's PKI when LAB_SECURITY.tls: its CA, the NATS server, route and gateway certificates. */
  pki?: PkiFiles;
  capture?: BridgeCapture;
  private readonly undo: Undo[] = [];

  constructor(readonly dir: string) {}

  get jwtSecretFile(): string {
    return join(this.dir, 'jwt-secret');
  }

  /** ctl-1's gateway, with the admin key: what `api()` takes. */
  get url(): string {
    return this.gateway('ctl-1').url;
  }

  get adminKey(): string {
    return this.gateway('ctl-1').state.adminKey;
  }

  /** The CA (PEM) every client verifies the lab's servers with; undefined when the lab runs without TLS. */
  get ca(): string | undefined {
    return this.pki ? readFileSync(this.pki.ca, 'utf8') : undefined;
  }

  gateway(name: string): LabGateway {
    const found = this.gateways.get(name);
    if (!found) throw new Error(`the lab has no gateway ${name}`);
    return found;
  }

  host(name: string): LabHost {
    return this.network.host(name);
  }

  mintKey(role: Role, opts?: { scope?: string; subject?: string }): string {
    return mintKey(this.jwtSecretFile, role, opts);
  }

  /** dockerode on a host's engine socket (a file, so reachable from here): what the agent really did. */
  docker(hostname: string): Docker {
    const engine = this.engines.get(hostname);
    if (!engine) throw new Error(`the lab has no engine on ${hostname}`);
    return docker(engine.socket);
  }

  /** Every NATS client URL, as FLEET_NATS_URL takes them. */
  get natsUrls(): string {
    return NATS_HOSTS.map((name) => this.natsServerUrl(name)).join(',');
  }

  natsNode(name: string): NatsCluster['nodes'][number] {
    const node = this.cluster?.nodes.find((candidate) => candidate.index === NATS_HOSTS.indexOf(name) + 1);
    if (!node) throw new Error(`the lab has no NATS server on ${name}`);
    return node;
  }

  /**
   * A server's monitoring endpoint (`connz`, `varz`, ...) asked from inside its own namespace, as an operator
   * logged in on that host would.
   */
  monitor<T>(natsHost: string, path: string): T {
    const node = this.natsNode(natsHost);
    const out = inNetns(this.host(natsHost).netns, 'curl', '-sf', '--max-time', '10', `http://${node.host}:${node.monitorPort}${path}`);
    return JSON.parse(out) as T;
  }

  /**
   * A NATS login tried from inside `hostName`'s namespace by a process of its own (the nats.js client, no
   * reconnects): answers `CONNECTED` or `REFUSED <the server's reason>`.
   */
  natsLoginFrom(hostName: string, server: string, login: NatsLoginAttempt = {}): string {
    // Anyone may hold the CA's certificate (it is public): an attempt without TLS files of its own verifies with it.
    const attempt: NatsLoginAttempt = this.pki && !login.tls ? { ...login, tls: { caFile: this.pki.ca } } : login;
    return inNetns(this.host(hostName).netns, process.execPath, '-e', NATS_LOGIN_SCRIPT, server, JSON.stringify(attempt)).trim();
  }

  /** The client URL of the NATS server on `natsHost`. */
  natsServerUrl(natsHost: string): string {
    return `${NATS_SCHEME}://${this.host(natsHost).address}:${this.natsNode(natsHost).port}`;
  }

  /** What an agent logs in with (the creds it made when it joined), as a thief who copied them from its host would present them. */
  agentLogin(hostname: string): NatsLoginAttempt {
    return { creds: readFileSync(agentCredsFile(this.gateway(GATEWAY_HOSTS[0]).state, hostname), 'utf8') };
  }

  /**
   * Every secret the lab itself holds: the JWT secret, the admin key, each agent's NKey seed (its creds' seed
   * part) and the join token it joined with, the gateway's creds seed.
   */
  ownSecrets(): LabSecret[] {
    const operator = this.natsOperator;
    return [
      { what: "the gateways' JWT secret", value: readFileSync(this.jwtSecretFile, 'utf8').trim() },
      { what: 'the admin key', value: this.adminKey },
      ...(operator
        ? [{ what: "the gateway's NKey seed (its creds)", value: seedOfCreds(readFileSync(operator.gatewayCredsFile, 'utf8')) }]
        : []),
      ...this.agents.map((agent) => ({
        what: `${agent.hostname}'s NKey seed (its creds)`,
        value: seedOfCreds(this.agentLogin(agent.hostname).creds ?? ''),
      })),
      ...[...this.joinTokens].map(([hostname, token]) => ({ what: `${hostname}'s join token`, value: token })),
    ];
  }

  /** Registers teardown work, run in reverse by stop(). */
  onStop(step: Undo): void {
    this.undo.push(step);
  }

  /** Stops every process by PID, then removes the namespaces, the bridge and the temp dir, past any failure. */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (const step of this.undo.reverse()) {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    }
    this.undo.length = 0;
    try {
      this.network.close();
    } catch (err) {
      failures.push(err);
    }
    if (failures.length > 0) {
      const reasons = failures.map((err) => (err instanceof Error ? err.message : String(err))).join('; ');
      throw new AggregateError(failures, `stopping the lab in ${this.dir} failed (dir kept): ${reasons}`);
    }
    if (process.env.FLEET_KEEP_TEST_DIR === '1') process.stderr.write(`FLEET_KEEP_TEST_DIR=1: keeping ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface LabOptions {
  /** Default web-01, web-02, db-01 with the e2e suites' labels. */
  agents?: AgentSpec[];
  /** Record the bridge with tcpdump from before the first packet of any service. */
  capture?: boolean;
}

/** Builds the whole lab; on failure it tears down what it had built before rethrowing. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const lab = new Lab(mkdtempSync('/tmp/fll-'));
  try {
    await buildLab(lab, opts.agents ?? defaultAgents(3), opts.capture ?? false);
    return lab;
  } catch (err) {
    await lab.stop().catch(() => undefined);
    throw err;
  }
}

async function buildLab(lab: Lab, agents: AgentSpec[], capture: boolean): Promise<void> {
  mkdirSync(join(lab.dir, 'logs'), { recursive: true });
  lab.network.open();
  for (const name of [...NATS_HOSTS, ...GATEWAY_HOSTS]) lab.network.addHost(name, OCTETS[name]);
  agents.forEach((agent, index) => lab.network.addHost(agent.hostname, AGENT_OCTET + index));
  if (capture) {
    lab.capture = new BridgeCapture(lab.network.bridge, join(lab.dir, 'bridge.pcap'), logFileOf(lab.dir, 'tcpdump'));
    await lab.capture.start();
    lab.onStop(() => lab.capture?.stop());
  }
  ensureJwtSecret(lab.jwtSecretFile);
  ensureHostGrantKeys(lab.dir);
  ensureMetricsToken(lab.dir);
  lab.natsOperator = createNatsOperator(join(lab.dir, 'nats-operator'));
  if (LAB_SECURITY.tls) lab.pki = await labPki(lab);
  await Promise.all([startCluster(lab), ...agents.map((agent) => startHostEngine(lab, agent.hostname))]);
  for (const name of GATEWAY_HOSTS) await startLabGateway(lab, name);
  await startLabAgents(lab, agents);
}

/** Certificates for the addresses the lab's clients dial: each NATS server's (client port and routes) and each gateway's. */
function labPki(lab: Lab): Promise<PkiFiles> {
  const natsAddresses = NATS_HOSTS.map((name) => lab.host(name).address);
  return createPki(join(lab.dir, 'pki'), {
    natsHosts: natsAddresses,
    routeHosts: natsAddresses,
    gatewayHosts: GATEWAY_HOSTS.map((name) => lab.host(name).address),
  });
}

function tlsFilesOf(pki: PkiFiles, use: 'nats' | 'route'): NatsTlsFiles {
  const leaf = pki[use];
  if (!leaf) throw new Error(`the lab's PKI has no ${use} certificate`);
  return { certFile: leaf.cert, keyFile: leaf.key, caFile: pki.ca };
}

async function startCluster(lab: Lab): Promise<void> {
  const pki = lab.pki;
  const cluster = await startNatsCluster({
    tls: pki && tlsFilesOf(pki, 'nats'),
    routeTls: pki && tlsFilesOf(pki, 'route'),
    dir: join(lab.dir, 'nats'),
    size: NATS_HOSTS.length,
    detached: false,
    operator: lab.natsOperator,
    logFileOf: (index) => logFileOf(lab.dir, `nats-${index}`),
    placementOf: (index) => ({ netns: lab.host(NATS_HOSTS[index - 1]).netns, host: lab.host(NATS_HOSTS[index - 1]).address }),
  });
  lab.cluster = cluster;
  lab.onStop(() => stopNatsCluster(cluster));
}

async function startHostEngine(lab: Lab, hostname: string): Promise<void> {
  const engine = await startEngine({
    dir: join(lab.dir, 'e', hostname),
    logFile: logFileOf(lab.dir, `engine-${hostname}`),
    detached: false,
    netns: lab.host(hostname).netns,
    insecureRegistries: [LAB_RANGE],
  });
  lab.engines.set(hostname, engine);
  lab.onStop(() => stopEngine(engine, { killContainers: true }));
  await importBusyboxImage(engine.socket, BUSYBOX_IMAGE);
}

/** Each gateway keeps its logs in a dir of its own (ctl-1's is the lab's); both share the secret and the keys. */
async function startLabGateway(lab: Lab, name: string): Promise<void> {
  const host = lab.host(name);
  const dir = name === GATEWAY_HOSTS[0] ? lab.dir : join(lab.dir, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const url = `${GATEWAY_SCHEME}://${host.address}:${GATEWAY_PORT}`;
  const pki = lab.pki;
  if (pki && !(pki.gateway && pki.nats)) throw new Error("the lab's PKI has no gateway or NATS certificate");
  const state: FleetState = {
    url,
    adminKey: mintKey(lab.jwtSecretFile, 'admin', { ttlSeconds: 86_400, subject: 'lab-admin' }),
    natsUrl: lab.natsUrls,
    dir,
    jwtSecretFile: lab.jwtSecretFile,
    detached: false,
    logLevel: 'info',
    gatewayEnv: GATEWAY_ENV,
    agentEnv: AGENT_ENV,
    gateway: { pid: 0, port: GATEWAY_PORT },
    nats: null,
    natsOperator: lab.natsOperator ?? null,
    agents: lab.agents,
    ...(pki?.gateway && pki.nats ? { tls: { caFile: pki.ca, gateway: pki.gateway, nats: pki.nats } } : {}),
  };
  state.gateway.pid = spawnGateway(state, { netns: host.netns, host: host.address });
  lab.onStop(() => stopByPid(state.gateway.pid, { marker: GATEWAY_ENTRYPOINT }));
  lab.gateways.set(name, { host, url, state });
  await waitForGateway(state);
}

/**
 * Accepted first (acceptance creates each agent's consumer), then started, each in its own host's namespace with
 * a one-time join token issued through ctl-1 over HTTPS: it joins through ctl-1 from its own host, then logs in
 * with the NKey identity it made.
 */
async function startLabAgents(lab: Lab, agents: AgentSpec[]): Promise<void> {
  const { state } = lab.gateway(GATEWAY_HOSTS[0]);
  await acceptAgents(state, agents);
  for (const spec of agents) {
    const engine = lab.engines.get(spec.hostname);
    if (!engine) throw new Error(`no engine on ${spec.hostname}`);
    const agent: AgentState = { ...spec, socket: engine.socket, engineDir: engine.dir, enginePid: engine.pid, agentPid: 0 };
    const token = await issueJoinToken(state, spec.hostname);
    lab.joinTokens.set(spec.hostname, token);
    agent.agentPid = spawnAgent(state, agent, token, { netns: lab.host(spec.hostname).netns });
    lab.agents.push(agent);
    lab.onStop(() => stopByPid(agent.agentPid, { marker: AGENT_ENTRYPOINT }));
  }
  await waitForAgents(state, lab.agents);
}

/** The NKey seed inside a creds file (the block after the user JWT). */
function seedOfCreds(creds: string): string {
  const seed = /-----BEGIN USER NKEY SEED-----\s*(\S+)\s*------END USER NKEY SEED------/.exec(creds)?.[1];
  if (!seed) throw new Error('creds without an NKey seed');
  return seed;
}
