import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { round } from '../lib/stats';

/** A V8 .cpuprofile (what `node --cpu-prof` writes). */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  category: string;
  selfMs: number;
  selfPercent: number;
}

export interface ProfileSummary {
  process: string;
  file: string;
  /** Milliseconds of samples inside the measured window. */
  windowMs: number;
  busyMs: number;
  categories: Array<{ category: string; selfMs: number; percentOfBusy: number }>;
  top: HotFunction[];
}

/**
 * Buckets of where CPU goes, by the script a sampled frame belongs to.
 * Built-ins without a script (JSON.parse/stringify, …) are named by function.
 */
const PACKAGE_CATEGORIES: Array<[string, RegExp]> = [
  [
    'request validation (express-openapi-validator, ajv)',
    /express-openapi-validator|\/ajv|json-schema|path-to-regexp|media-typer|content-type|lodash\.(clonedeep|merge|get|uniq)/,
  ],
  [
    'HTTP + express',
    /\/express\/|\/router\/|body-parser|raw-body|finalhandler|on-finished|statuses|http-errors|type-is|iconv-lite|\/qs\/|mime|send\/|serve-static|vary|etag|fresh|parseurl|encodeurl|escape-html|depd|merge-descriptors|accepts|negotiator|content-disposition|cookie|proxy-addr|forwarded|ipaddr|range-parser|destroy|unpipe|ee-first|setprototypeof|toidentifier|inherits|safe-buffer|bytes\//,
  ],
  [
    'API keys (jsonwebtoken)',
    /jsonwebtoken|\/jws\/|\/jwa\/|buffer-equal-constant-time|ecdsa-sig-formatter|\/ms\/|lodash\.(includes|isboolean|isinteger|isnumber|isplainobject|isstring|once)|semver/,
  ],
  ['rate limit (express-rate-limit)', /express-rate-limit/],
  [
    'logging (pino)',
    /pino|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify|real-require|process-warning/,
  ],
  ['NATS client', /@nats-io/],
  ['dockerode / docker-modem', /dockerode|docker-modem|split-ca|ssh2|readable-stream|bl\/|tar-fs|uuid/],
  ['fleet code', /\/apps\/|\/packages\//],
  ['tsx loader', /\/tsx\/|esbuild/],
];

/** Categories whose time is charged to the calling package instead (see summarizeCpuProfile). */
const ATTRIBUTED = new Set(['V8 built-ins', 'node http', 'node net/streams', 'node core (other)']);

function categorize(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8/native (program)';
  if (!url) {
    if (/^(stringify|parse|JSONSerialize|JSONParse)$/.test(functionName)) return 'JSON (native)';
    return 'V8 built-ins';
  }
  for (const [category, pattern] of PACKAGE_CATEGORIES) if (pattern.test(url)) return category;
  if (url.startsWith('node:internal/http') || url.startsWith('node:_http') || url.startsWith('node:http') || url.includes('llhttp'))
    return 'node http';
  if (
    url.startsWith('node:internal/streams') ||
    url.startsWith('node:stream') ||
    url.startsWith('node:net') ||
    url.startsWith('node:internal/stream_base')
  )
    return 'node net/streams';
  if (url.startsWith('node:')) return 'node core (other)';
  if (url.includes('node_modules')) return 'other packages';
  return 'other';
}

function shortWhere(url: string, line: number): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  const path = nm >= 0 ? url.slice(nm + 'node_modules/'.length) : url.replace(/^file:\/\/.*?\/(apps|packages|bench)\//, '$1/');
  return `${path}:${line + 1}`;
}

/**
 * The gateway and agents run compiled (`dist/gateway.js`, `dist/agent.js`: one bundle each), so a frame's
 * script says nothing of the package it came from. The build's source maps give each frame back its source
 * file and line (`node_modules/express/…`, `apps/api/src/…`), which the buckets above are made of.
 */
function sourceFrames(): (frame: ProfileNode['callFrame']) => void {
  const maps = new Map<string, { map: SourceMap; dir: string } | null>();
  const mapOf = (url: string) => {
    if (!maps.has(url)) {
      try {
        const file = fileURLToPath(url);
        maps.set(url, { map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))), dir: dirname(file) });
      } catch {
        maps.set(url, null);
      }
    }
    return maps.get(url);
  };
  return (frame) => {
    if (!/\/dist\/\w+\.js$/.test(frame.url)) return;
    const compiled = mapOf(frame.url);
    const entry = compiled?.map.findEntry(frame.lineNumber, frame.columnNumber);
    if (!compiled || !entry || !('originalSource' in entry)) return;
    frame.url = pathToFileURL(resolve(compiled.dir, entry.originalSource)).href;
    frame.lineNumber = entry.originalLine;
  };
}

/**
 * Sums self time per function and per category over the samples whose
 * timestamps fall inside [fromUs, toUs] (process.hrtime clock, µs), i.e. the
 * load run only, not start-up.
 */
export function summarizeCpuProfile(processName: string, file: string, fromUs?: number, toUs?: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const toSource = sourceFrames();
  for (const node of profile.nodes) toSource(node.callFrame);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Node-core and native frames are charged to the nearest package (or fleet code) that called them:
  // a socket write under the NATS client is NATS's cost, crypto under jsonwebtoken is the API keys' cost.
  const owner = (id: number): string => {
    const leaf = byId.get(id);
    if (!leaf) return 'other';
    const own = categorize(leaf.callFrame.functionName, leaf.callFrame.url);
    if (!ATTRIBUTED.has(own)) return own;
    for (let up = parentOf.get(id); up !== undefined; up = parentOf.get(up)) {
      const frame = byId.get(up);
      if (!frame) break;
      const category = categorize(frame.callFrame.functionName, frame.callFrame.url);
      if (!ATTRIBUTED.has(category) && category !== 'V8/native (program)') return category;
    }
    return own;
  };
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let windowUs = 0;
  const inWindow = (at: number) => (fromUs === undefined || at >= fromUs) && (toUs === undefined || at <= toUs);
  // If the window misses the profile entirely (clock mismatch), fall back to the whole profile.
  const usable = fromUs === undefined || (fromUs < profile.endTime && (toUs ?? Infinity) > profile.startTime);
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (usable && !inWindow(t)) continue;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta);
    windowUs += delta;
  }
  const byFunction = new Map<string, HotFunction>();
  const byCategory = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const category = owner(id);
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    const name = functionName || '(anonymous)';
    const key = `${name}|${url}|${lineNumber}`;
    const entry = byFunction.get(key) ?? { name, where: shortWhere(url, lineNumber), category, selfMs: 0, selfPercent: 0 };
    entry.selfMs += us / 1000;
    byFunction.set(key, entry);
  }
  const idleUs = byCategory.get('idle') ?? 0;
  const busyUs = windowUs - idleUs;
  const categories = [...byCategory.entries()]
    .filter(([category]) => category !== 'idle')
    .map(([category, us]) => ({ category, selfMs: round(us / 1000, 1), percentOfBusy: round((us / Math.max(1, busyUs)) * 100, 1) }))
    .sort((a, b) => b.selfMs - a.selfMs);
  const top = [...byFunction.values()]
    .filter((fn) => fn.category !== 'idle')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, 15)
    .map((fn) => ({ ...fn, selfMs: round(fn.selfMs, 1), selfPercent: round(((fn.selfMs * 1000) / Math.max(1, busyUs)) * 100, 1) }));
  return { process: processName, file, windowMs: round(windowUs / 1000, 0), busyMs: round(busyUs / 1000, 0), categories, top };
}
