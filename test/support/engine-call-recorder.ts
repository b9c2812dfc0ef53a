import { request, createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { TestFleet } from './fleet';

/** One Engine API call as it reached the engine: its method and path (query included). */
export interface EngineCall {
  method: string;
  path: string;
}

/** Methods that change something on an engine; every Engine API read is a GET or a HEAD. */
const MUTATING_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * A unix-socket HTTP proxy between an agent and its real dockerd, recording every call it passes on
 * (plain requests, streams, and hijacked ones such as exec and attach). A test helper, so the suites
 * can count the Engine API calls an agent made: it passes bytes through unchanged.
 */
export class EngineCallRecorder {
  readonly calls: EngineCall[] = [];
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** The socket the agent is pointed at. */
    readonly socket: string,
  ) {}

  static async start(socket: string, engineSocket: string): Promise<EngineCallRecorder> {
    rmSync(socket, { force: true });
    const server = createServer();
    const recorder = new EngineCallRecorder(server, socket);
    server.on('request', (req, res) => {
      recorder.record(req);
      const upstream = request({ socketPath: engineSocket, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
      recorder.record(req);
      const engine = connect(engineSocket, () => {
        engine.write(requestHead(req));
        if (head.length > 0) engine.write(head);
        engine.pipe(client);
        client.pipe(engine);
      });
      recorder.track(client, engine);
    });
    server.on('connection', (client: Socket) => recorder.track(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, resolve);
    });
    return recorder;
  }

  /** The calls recorded since `mark` (an index into `calls`, e.g. `calls.length` taken earlier). */
  since(mark: number): EngineCall[] {
    return this.calls.slice(mark);
  }

  /** The calls since `mark` that change something on the engine (POST, PUT, DELETE, PATCH). */
  mutatingSince(mark: number): EngineCall[] {
    return this.since(mark).filter((call) => MUTATING_METHODS.has(call.method));
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socket, { force: true });
  }

  private record(req: IncomingMessage): void {
    this.calls.push({ method: req.method ?? '', path: req.url ?? '' });
  }

  private track(...sockets: Socket[]): void {
    for (const socket of sockets) {
      this.open.add(socket);
      socket.on('error', () => sockets.forEach((each) => each.destroy()));
      socket.on('close', () => {
        this.open.delete(socket);
        sockets.forEach((each) => each.destroy());
      });
    }
  }
}

/** The request line and headers of a hijacked call, as the client sent them (raw, so their case and order are kept). */
function requestHead(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let index = 0; index < req.rawHeaders.length; index += 2) lines.push(`${req.rawHeaders[index]}: ${req.rawHeaders[index + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Restarts `hostname`'s agent with its Engine API calls going through a recorder (the agent's DOCKER_HOST
 * is the recorder's socket); the fleet's own checks (`fleet.docker(host)`) still go straight to the engine.
 * Stopping the recorder leaves that agent without an engine: restart it with `fleet.startAgent` after
 * `fleet.stopAgent` if the suite goes on.
 */
export async function recordAgentEngineCalls(fleet: TestFleet, hostname: string): Promise<EngineCallRecorder> {
  const agent = fleet.agents.find((candidate) => candidate.hostname === hostname);
  if (!agent) throw new Error(`no agent ${hostname} in this fleet`);
  const engineSocket = agent.socket;
  const recorder = await EngineCallRecorder.start(`${fleet.dir}/rec-${hostname}.sock`, engineSocket);
  await fleet.stopAgent(hostname);
  // spawnAgent reads the socket once, for the new process's DOCKER_HOST; the fleet keeps the engine's own.
  const mutable = agent as { socket: string };
  mutable.socket = recorder.socket;
  try {
    await fleet.startAgent(hostname);
  } finally {
    mutable.socket = engineSocket;
  }
  return recorder;
}
