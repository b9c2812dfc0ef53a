#!/usr/bin/env node
/**
 * `npm run build`: compiles the gateway, the agent and the CLI with esbuild into dist/ (README "Build").
 *
 *   dist/gateway.js  the gateway, one file (it still finds Redoc's page bundle in node_modules for /docs)
 *   dist/agent.js    the agent, one file plus Node: nothing else to install on a Docker host
 *   dist/fleet.js    the CLI; packages only some commands need stay in node_modules and load when used;
 *                    beside it V8's code cache of it, which apps/cli/bin/fleet.js writes and reads
 *   dist/ui/         the dashboard the gateway serves at /ui (apps/ui: one script, one stylesheet, one page)
 *
 * `--if-stale` builds only when an output is missing or older than a source file (what `fleet up` and the
 * end-to-end suites run first): a walk over the sources' modification times, a few milliseconds.
 */
const { spawnSync } = require('node:child_process');
const { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..');
const DIST = path.join(REPO_ROOT, 'dist');

/** Native add-ons cannot be bundled; dockerode's ssh2 loads both optionally and works without them. */
const NATIVE = ['cpu-features'];

/** `require('./x.node')` of a compiled add-on stays a require (see NATIVE); `./isomorphic.node` naming a .js file is bundled. */
const nativeAddons = {
  name: 'native-addons',
  setup(build) {
    build.onResolve({ filter: /\.node$/ }, (args) => {
      const file = path.resolve(args.resolveDir, args.path);
      return existsSync(file) && statSync(file).isFile() ? { path: args.path, external: true } : undefined;
    });
  },
};

/**
 * Packages the CLI loads from node_modules instead of carrying them: only the commands that need them
 * (`up`, `down`, `status`, `nats-config`, `token create`, `container cp`) load them, so `fleet --version` or
 * `fleet container ls` does not read them at all.
 */
const CLI_ON_DEMAND = [
  'dockerode',
  '@nats-io/*',
  'jsonwebtoken',
  'pino',
  'yaml',
  'ajv',
  'cli-table3',
  'tar-stream',
  '@peculiar/*',
  'reflect-metadata',
];

/**
 * JSON modules (the contract, 180 kB) become `JSON.parse('…')` rather than an object literal: V8 reads JSON
 * text faster than the same data as JavaScript source.
 */
const jsonAsParse = {
  name: 'json-as-parse',
  setup(build) {
    build.onLoad({ filter: /\.json$/ }, (args) => {
      const text = JSON.stringify(JSON.parse(readFileSync(args.path, 'utf8')));
      return { contents: `module.exports = JSON.parse(${JSON.stringify(text)});`, loader: 'js' };
    });
  },
};

const PROGRAMS = [
  { name: 'gateway', entry: 'apps/api/src/main.ts', external: [...NATIVE, 'redoc'] },
  { name: 'agent', entry: 'apps/agent/src/main.ts', external: NATIVE },
  { name: 'fleet', entry: 'apps/cli/src/main.ts', external: [...NATIVE, ...CLI_ON_DEMAND] },
];

/** The dashboard: bundled for the browser, with its page and stylesheet copied beside the script. */
const UI = { entry: 'apps/ui/src/main.tsx', assets: ['apps/ui/src/index.html', 'apps/ui/src/style.css'], dir: 'ui' };

const OUTPUTS = [...PROGRAMS.map((program) => path.join(DIST, `${program.name}.js`)), path.join(DIST, UI.dir, 'app.js')];

/** What the programs are built from: every source and manifest under these, and the lock file. */
const SOURCE_DIRS = ['apps', 'packages', 'deploy'];
const SOURCE_FILE = /\.(tsx?|json|cjs|css|html)$/;

function newestSourceMtimeMs() {
  let newest = Math.max(statSync(path.join(REPO_ROOT, 'package-lock.json')).mtimeMs, statSync(path.join(__dirname, 'build.cjs')).mtimeMs);
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (SOURCE_FILE.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) walk(path.join(REPO_ROOT, dir));
  return newest;
}

function isStale() {
  if (!OUTPUTS.every((output) => existsSync(output))) return true;
  const oldestOutput = Math.min(...OUTPUTS.map((output) => statSync(output).mtimeMs));
  return newestSourceMtimeMs() > oldestOutput;
}

/**
 * Builds into a directory of its own, then renames each file into dist/: a program started meanwhile (or a
 * second build running at the same time) sees a whole old file or a whole new one, never half of one.
 * The outputs are dated when the build started, so a source saved during the build makes them stale.
 */
async function build() {
  const { build: esbuild } = require('esbuild');
  const startedAt = new Date();
  const define = { FLEET_BUILD_ID: JSON.stringify(buildId()) };
  // Beside dist/, not in it: the source maps name the sources relative to where they were written.
  const staging = path.join(REPO_ROOT, `.dist-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  mkdirSync(DIST, { recursive: true });
  try {
    await Promise.all(
      PROGRAMS.map((program) =>
        esbuild({
          absWorkingDir: REPO_ROOT,
          entryPoints: [program.entry],
          outfile: path.join(staging, `${program.name}.js`),
          bundle: true,
          platform: 'node',
          target: 'node20',
          format: 'cjs',
          external: program.external,
          // Stack traces and the bench's CPU profiles map back to the TypeScript sources through these.
          sourcemap: true,
          sourcesContent: false,
          plugins: [nativeAddons, jsonAsParse],
          define,
          logLevel: 'warning',
        }),
      ),
    );
    await buildUi(esbuild, path.join(staging, UI.dir));
    for (const dir of ['', UI.dir]) {
      mkdirSync(path.join(DIST, dir), { recursive: true });
      for (const entry of readdirSync(path.join(staging, dir), { withFileTypes: true })) {
        if (entry.isDirectory()) continue;
        utimesSync(path.join(staging, dir, entry.name), startedAt, startedAt);
        renameSync(path.join(staging, dir, entry.name), path.join(DIST, dir, entry.name));
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  seedCliCodeCache();
}

/** What an agent reports as its `build`: FLEET_BUILD_ID when the builder names one, else the commit built (`-dirty` with local edits). */
function buildId() {
  if (process.env.FLEET_BUILD_ID) return process.env.FLEET_BUILD_ID;
  const described = spawnSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return described.status === 0 ? described.stdout.trim() : 'unknown';
}

/**
 * One `fleet --version` through the bin leaves V8's code cache of the new CLI bundle beside it
 * (apps/cli/bin/fleet.js), so the first command a pipeline runs starts as fast as the later ones,
 * also where dist/ is read-only to whoever runs them.
 */
function seedCliCodeCache() {
  const seeded = spawnSync(process.execPath, [path.join(REPO_ROOT, 'apps', 'cli', 'bin', 'fleet.js'), '--version'], {
    stdio: 'ignore',
    timeout: 30_000,
  });
  if (seeded.status !== 0) process.stderr.write('build: the CLI did not start after the build (`node apps/cli/bin/fleet.js --version`)\n');
}

/** What the dashboard reads of the contract: each operation's name and permission (apps/ui/src/contract.ts). */
const UI_OPERATION_FIELDS = ['operationId', 'x-permission'];

/**
 * The contract as the dashboard's bundle holds it: each operation with only UI_OPERATION_FIELDS; the whole
 * document would triple the script the browser loads.
 */
function uiContractOf(document) {
  const paths = Object.entries(document.paths).map(([route, item]) => {
    const operations = Object.entries(item).filter(([, operation]) => operation?.operationId);
    const facts = (operation) => Object.fromEntries(UI_OPERATION_FIELDS.map((field) => [field, operation[field]]));
    return [route, Object.fromEntries(operations.map(([method, operation]) => [method, facts(operation)]))];
  });
  return { paths: Object.fromEntries(paths) };
}

const uiContract = {
  name: 'ui-contract',
  setup(build) {
    build.onLoad({ filter: /contracts[\\/]src[\\/]contract\.json$/ }, (args) => ({
      contents: JSON.stringify(uiContractOf(JSON.parse(readFileSync(args.path, 'utf8')))),
      loader: 'json',
    }));
  },
};

/** The dashboard for browsers the gateway's operators use: minified, no source map (it is served as is). */
async function buildUi(esbuild, outdir) {
  mkdirSync(outdir, { recursive: true });
  await esbuild({
    absWorkingDir: REPO_ROOT,
    entryPoints: [UI.entry],
    outfile: path.join(outdir, 'app.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    plugins: [uiContract],
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const asset of UI.assets) copyFileSync(path.join(REPO_ROOT, asset), path.join(outdir, path.basename(asset)));
}

/**
 * The agent alone, into `outfile`, reporting `version` instead of its package's (README "Upgrading agents"):
 * what `fleet agent build sign` signs for a release built under another version string.
 */
async function buildAgentBundle({ outfile, version }) {
  const { build: esbuild } = require('esbuild');
  const agent = PROGRAMS.find((program) => program.name === 'agent');
  await esbuild({
    absWorkingDir: REPO_ROOT,
    entryPoints: [agent.entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: agent.external,
    define: { FLEET_AGENT_BUILD_VERSION: JSON.stringify(version), FLEET_BUILD_ID: JSON.stringify(buildId()) },
    plugins: [nativeAddons, jsonAsParse],
    logLevel: 'warning',
  });
}

/** Builds when an output is missing or older than the sources; says so on stderr. */
async function buildIfStale() {
  if (!isStale()) return false;
  process.stderr.write('build: dist/ is missing or older than the sources; building (npm run build)\n');
  await build();
  return true;
}

module.exports = { build, buildAgentBundle, buildIfStale, PROGRAMS, uiContractOf };

if (require.main === module) {
  const run = process.argv.includes('--if-stale') ? buildIfStale : build;
  run().catch((err) => {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
