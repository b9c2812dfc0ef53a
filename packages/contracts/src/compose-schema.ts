/**
 * The JSON schema of the compose subset a stack accepts (README "The compose subset"): every object closed
 * (`additionalProperties: false`), so a key outside the subset is refused by name rather than ignored.
 * It checks shapes only; compose.ts reads the values (ports, durations, sizes) and normalizes them.
 */

const NAME = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$';
const scalar = { type: ['string', 'number', 'boolean'] };
const stringList = { type: 'array', items: { type: 'string' }, maxItems: 256 };
const stringOrList = { oneOf: [{ type: 'string' }, stringList] };
/** `KEY=value` entries or a map (environment, labels). */
const keyValues = {
  oneOf: [
    { type: 'array', items: { type: 'string' }, maxItems: 1024 },
    { type: 'object', additionalProperties: { oneOf: [scalar, { type: 'null' }] }, maxProperties: 1024 },
  ],
};
const labelMap = { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 256 };
const labels = { oneOf: [labelMap, { type: 'array', items: { type: 'string' }, maxItems: 256 }] };
const sizeOrNumber = { type: ['string', 'number'] };

const port = {
  oneOf: [
    { type: ['string', 'integer'] },
    {
      type: 'object',
      required: ['target'],
      additionalProperties: false,
      properties: {
        target: { type: 'integer' },
        published: { type: ['integer', 'string'] },
        protocol: { enum: ['tcp', 'udp'] },
        host_ip: { type: 'string' },
      },
    },
  ],
};

const volumeMount = {
  oneOf: [
    { type: 'string' },
    {
      type: 'object',
      required: ['type', 'target'],
      additionalProperties: false,
      properties: {
        type: { enum: ['volume', 'bind'] },
        source: { type: 'string' },
        target: { type: 'string' },
        read_only: { type: 'boolean' },
      },
    },
  ],
};

const healthcheck = {
  type: 'object',
  additionalProperties: false,
  properties: {
    test: stringOrList,
    interval: { type: 'string' },
    timeout: { type: 'string' },
    retries: { type: 'integer', minimum: 0 },
    start_period: { type: 'string' },
    disable: { type: 'boolean' },
  },
};

const dependsOn = {
  oneOf: [
    { type: 'array', items: { type: 'string' }, maxItems: 100 },
    {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { condition: { enum: ['service_started', 'service_healthy', 'service_completed_successfully'] } },
      },
    },
  ],
};

const serviceNetworks = {
  oneOf: [
    { type: 'array', items: { type: 'string' }, maxItems: 32 },
    {
      type: 'object',
      maxProperties: 32,
      additionalProperties: {
        oneOf: [
          { type: 'null' },
          { type: 'object', additionalProperties: false, properties: { aliases: { type: 'array', items: { type: 'string' } } } },
        ],
      },
    },
  ],
};

const deploy = {
  type: 'object',
  additionalProperties: false,
  properties: {
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: {
        limits: {
          type: 'object',
          additionalProperties: false,
          properties: { cpus: sizeOrNumber, memory: sizeOrNumber, pids: { type: 'integer', minimum: 1 } },
        },
      },
    },
  },
};

const service = {
  type: 'object',
  required: ['image'],
  additionalProperties: false,
  properties: {
    image: { type: 'string', minLength: 1, maxLength: 512 },
    command: stringOrList,
    entrypoint: stringOrList,
    environment: keyValues,
    ports: { type: 'array', items: port, maxItems: 256 },
    volumes: { type: 'array', items: volumeMount, maxItems: 256 },
    networks: serviceNetworks,
    labels,
    restart: { type: 'string' },
    healthcheck,
    user: { type: 'string' },
    working_dir: { type: 'string' },
    mem_limit: sizeOrNumber,
    cpus: sizeOrNumber,
    pids_limit: { type: 'integer', minimum: 1 },
    deploy,
    depends_on: dependsOn,
  },
};

const topLevelObject = (properties: Record<string, unknown>) => ({
  type: 'object',
  propertyNames: { pattern: NAME },
  maxProperties: 100,
  additionalProperties: { oneOf: [{ type: 'null' }, { type: 'object', additionalProperties: false, properties }] },
});

/** The document: `services` (required), `volumes`, `networks`; `version` (obsolete, accepted as compose v2 does) and `x-*` fields. */
export const COMPOSE_SCHEMA = {
  type: 'object',
  required: ['services'],
  additionalProperties: false,
  patternProperties: { '^x-': {} },
  properties: {
    version: { type: ['string', 'number'] },
    services: {
      type: 'object',
      minProperties: 1,
      maxProperties: 100,
      propertyNames: { pattern: NAME },
      additionalProperties: service,
    },
    volumes: topLevelObject({ labels }),
    networks: topLevelObject({ labels, internal: { type: 'boolean' } }),
  },
};
