import {
  answersWithStream,
  jobTraits,
  JOB_CONTROL_PARAMS,
  JOB_TIMEOUT_SECONDS,
  JOB_WAIT_MAX_SECONDS,
  loadContract,
  OPERATIONS,
  operationSpec,
  readOperations,
} from './operations';

type Parameter = { name: string; in: string; schema?: { type?: string }; $ref?: string };
type Operation = { parameters?: Parameter[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> };
const contract = loadContract() as {
  paths: Record<string, Record<string, Operation> & { parameters?: Parameter[] }>;
  components: { parameters: Record<string, Parameter & { 'x-job-control'?: boolean }> };
};

/** The operation's parameters as the contract declares them (path-level and its own, references resolved). */
function parametersOf(path: string, method: string): Parameter[] {
  const item = contract.paths[path];
  return [...(item.parameters ?? []), ...(item[method].parameters ?? [])].map((param) =>
    param.$ref ? contract.components.parameters[param.$ref.split('/').at(-1) as string] : param,
  );
}

function offersEventStream(path: string, method: string): boolean {
  return Object.entries(contract.paths[path][method].responses).some(
    ([status, response]) => /^2/.test(status) && response.content?.['text/event-stream'] !== undefined,
  );
}

/** A one-operation document for the load-time checks. */
function documentWith(
  extensions: Record<string, unknown>,
  responses: Operation['responses'],
  parameters: Parameter[] = [],
): Record<string, unknown> {
  const op = {
    operationId: 'docker.container.logs',
    'x-permission': 'docker:read',
    'x-mutating': false,
    parameters,
    responses,
    ...extensions,
  };
  return { paths: { '/node/{target}/container/docker/{id}/logs': { get: op } }, components: {} };
}

const JSON_OR_STREAM = { '200': { content: { 'application/json': {}, 'text/event-stream': {} } } };
const FOLLOW = { name: 'follow', in: 'query', schema: { type: 'boolean' } };

describe('per-operation facts read from the contract', () => {
  it('every operation that may answer with a stream, but need not, names a boolean query parameter of its own as x-stream-switch', () => {
    const switchable = OPERATIONS.filter((op) => offersEventStream(op.path, op.method) && !op.alwaysStreams);
    expect(switchable.map((op) => op.name).sort()).toEqual(['docker.container.logs', 'docker.container.stats', 'docker.image.pull']);
    for (const op of switchable) {
      const param = parametersOf(op.path, op.method).find((candidate) => candidate.in === 'query' && candidate.name === op.streamSwitch);
      expect({ name: op.name, type: param?.schema?.type }).toEqual({ name: op.name, type: 'boolean' });
    }
    expect(OPERATIONS.filter((op) => op.streamSwitch !== undefined).length).toBe(switchable.length);
    expect(OPERATIONS.filter((op) => op.alwaysStreams).map((op) => op.name)).toEqual([
      'docker.system.events',
      'feed.job',
      'feed.jobs',
      'feed.agents',
    ]);
  });

  it('decides streaming from the switch: logs with follow=true, events always, pull with progress, inspect never', () => {
    expect(answersWithStream(operationSpec('docker.container.logs'), { follow: true })).toBe(true);
    expect(answersWithStream(operationSpec('docker.container.logs'), { follow: 'true', stream: true })).toBe(true);
    expect(answersWithStream(operationSpec('docker.container.logs'), { stream: true })).toBe(false);
    expect(answersWithStream(operationSpec('docker.container.stats'), { stream: false })).toBe(false);
    expect(answersWithStream(operationSpec('docker.system.events'), {})).toBe(true);
    expect(answersWithStream(operationSpec('docker.image.pull'), { progress: true })).toBe(true);
    expect(answersWithStream(operationSpec('docker.container.inspect'), { follow: true })).toBe(false);
  });

  it('x-secret-header names X-Registry-Auth, on image operations only; pull and push carry it', () => {
    const secret = OPERATIONS.filter((op) => op.secretHeader !== undefined);
    for (const op of secret) expect([op.name, op.secretHeader]).toEqual([expect.stringMatching(/^docker\.image\./), 'X-Registry-Auth']);
    expect(secret.map((op) => op.name)).toEqual(expect.arrayContaining(['docker.image.pull', 'docker.image.push']));
  });

  it('every mutating node operation takes the Idempotency-Key header, and no read does (README "Retries and idempotency")', () => {
    const takesKey = (op: (typeof OPERATIONS)[number]) =>
      parametersOf(op.path, op.method).some((param) => param.in === 'header' && param.name === 'Idempotency-Key');
    const nodeOperations = OPERATIONS.filter((op) => op.nodeTargeted);
    expect(nodeOperations.filter((op) => op.mutating !== takesKey(op)).map((op) => op.name)).toEqual([]);
    expect(nodeOperations.filter(takesKey).length).toBeGreaterThan(20);
  });

  it('the job controls are the shared parameters marked x-job-control; the deadline and the long-poll limit come from their schemas', () => {
    const marked = Object.values(contract.components.parameters).filter((param) => param['x-job-control'] === true);
    expect(new Set(marked.map((param) => param.name))).toEqual(JOB_CONTROL_PARAMS);
    expect([...JOB_CONTROL_PARAMS].sort()).toEqual([
      'Idempotency-Key',
      'Prefer',
      'async',
      'batch',
      'canary',
      'dry_run',
      'health',
      'health_cmd',
      'health_delay',
      'max_failures',
      'order',
      'pause',
      'seed',
      'target',
      'timeout',
      'wait_for_host',
    ]);
    expect(JOB_TIMEOUT_SECONDS).toEqual({ minimum: 1, maximum: 300, default: 30 });
    expect(JOB_WAIT_MAX_SECONDS).toBe(300);
  });

  it('refuses at load a switchable stream without x-stream-switch, or a switch that is not a boolean query parameter', () => {
    expect(() => readOperations(documentWith({}, JSON_OR_STREAM, [FOLLOW]))).toThrow(/has no x-stream-switch/);
    expect(() => readOperations(documentWith({ 'x-stream-switch': 'tail' }, JSON_OR_STREAM, [FOLLOW]))).toThrow(
      /'tail' is not a boolean query parameter/,
    );
    expect(() =>
      readOperations(documentWith({ 'x-stream-switch': 'follow' }, JSON_OR_STREAM, [{ ...FOLLOW, schema: { type: 'string' } }])),
    ).toThrow(/not a boolean/);
    expect(() =>
      readOperations(documentWith({ 'x-stream-switch': 'follow' }, { '200': { content: { 'application/json': {} } } }, [FOLLOW])),
    ).toThrow(/never answers/);
    expect(readOperations(documentWith({ 'x-stream-switch': 'follow' }, JSON_OR_STREAM, [FOLLOW]))[0].streamSwitch).toBe('follow');
  });

  it('refuses at load an x-secret-header that is not a header parameter of the operation', () => {
    const json = { '200': { content: { 'application/json': {} } } };
    expect(() => readOperations(documentWith({ 'x-secret-header': 'X-Registry-Auth' }, json))).toThrow(/is not a header parameter/);
    expect(
      readOperations(documentWith({ 'x-secret-header': 'x-registry-auth' }, json, [{ name: 'X-Registry-Auth', in: 'header' }]))[0]
        .secretHeader,
    ).toBe('X-Registry-Auth');
  });
});

describe('file bodies and file answers (README "File transfers")', () => {
  it('reads which operations take a tar and which answer with one, from their media types', () => {
    expect(OPERATIONS.filter((op) => op.uploadMediaType).map((op) => [op.name, op.uploadMediaType])).toEqual([
      ['docker.container.archive-put', 'application/x-tar'],
      ['docker.image.load', 'application/x-tar'],
    ]);
    expect(
      OPERATIONS.filter((op) => op.downloadMediaType)
        .map((op) => op.name)
        .sort(),
    ).toEqual(['docker.container.archive-get', 'docker.container.export', 'docker.image.save']);
    expect(operationSpec('docker.container.commit').uploadMediaType).toBeUndefined();
  });

  it("refuses a file answer offered next to JSON (an answer holds one host's file or rows, never either)", () => {
    const both = documentWith({}, { '200': { content: { 'application/x-tar': {} } }, '202': { content: { 'application/json': {} } } });
    expect(() => readOperations(both)).toThrow(/answers with application\/x-tar, so every success answer must be only that/);
  });
});

describe('jobTraits: one rule for what kind of job a call is', () => {
  const still = { streaming: false };
  const streamed = { streaming: true };

  it('a plain read is a node operation that is not mutating, not a stream and not a download', () => {
    expect(jobTraits('docker.container.inspect', still)).toEqual({
      mutating: false,
      streaming: false,
      download: false,
      upload: false,
      longRunning: false,
      plainRead: true,
    });
    expect(jobTraits('docker.container.logs', streamed)).toMatchObject({ plainRead: false, streaming: true });
    expect(jobTraits('docker.image.save', still)).toMatchObject({ plainRead: false, download: true, mutating: false });
    expect(jobTraits('docker.container.stop', still)).toMatchObject({ plainRead: false, mutating: true });
  });

  it('only node operations can be plain reads: a gateway read is never a job', () => {
    expect(jobTraits('job.get', still)).toMatchObject({ mutating: false, plainRead: false });
  });

  it('long-running is x-long-running, or any call answered with a stream', () => {
    expect(jobTraits('docker.container.wait', still).longRunning).toBe(true);
    expect(jobTraits('docker.container.logs', still).longRunning).toBe(false);
    expect(jobTraits('docker.container.logs', streamed).longRunning).toBe(true);
    const declared = OPERATIONS.filter((op) => jobTraits(op.name, still).longRunning).map((op) => op.name);
    expect(declared).toEqual(OPERATIONS.filter((op) => op.longRunning).map((op) => op.name));
  });

  it('reads upload and download from the media types', () => {
    expect(jobTraits('docker.container.archive-put', still)).toMatchObject({ upload: true, download: false, mutating: true });
    expect(jobTraits('docker.container.export', still)).toMatchObject({ upload: false, download: true });
  });

  it('an operation the contract lacks is treated as a mutation: claimed, never run twice', () => {
    expect(jobTraits('docker.container.unheard-of', still)).toMatchObject({ mutating: true, plainRead: false, longRunning: false });
  });
});
