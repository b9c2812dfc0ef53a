#!/usr/bin/env node
// The `fleet` command: runs the compiled CLI, dist/fleet.js (`npm run build`; README "Build"), so nothing is
// transpiled at start. Through a symlink on the PATH too: Node resolves this file to its place in the repository.
const { existsSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const repoRoot = path.join(__dirname, '..', '..', '..');
const compiled = path.join(repoRoot, 'dist', 'fleet.js');
if (!existsSync(compiled)) {
  process.stderr.write(`fleet: ${compiled} is missing: run \`npm run build\` in ${repoRoot}\n`);
  process.exit(5);
}
runWithCodeCache(compiled);

/**
 * Runs the bundle as a CommonJS module, from V8's code cache when there is one for this build of it:
 * compiling the bundle's half megabyte is about a sixth of what the CLI adds to Node's own start, and
 * a pipeline pays it on every step. (Node 22's `module.enableCompileCache()` does the same; Node 20
 * has no such switch.) The cache is named after the bundle's size and modification time, because V8
 * itself checks only the source's length; a cache that is missing or that V8 refuses is written once
 * the command is done, by whoever may write dist/ (`npm run build` leaves one), and the older ones go.
 */
function runWithCodeCache(file) {
  const { size, mtimeMs } = statSync(file);
  const cacheFile = `${file}.${size}-${Math.trunc(mtimeMs)}.codecache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => saveCodeCache(file, cacheFile, script));
  // Registered as `require(file)` would, so the bundle is the one module of that name in this process.
  const bundle = new Module(file, module);
  bundle.filename = file;
  bundle.paths = Module._nodeModulePaths(path.dirname(file));
  Module._cache[file] = bundle;
  script.runInThisContext().call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, path.dirname(file));
  bundle.loaded = true;
}

/** After the run, so the functions it compiled are in the cache too. Best effort: a read-only dist/ just goes without. */
function saveCodeCache(file, cacheFile, script) {
  try {
    const staging = `${cacheFile}.${process.pid}`;
    writeFileSync(staging, script.createCachedData());
    renameSync(staging, cacheFile);
    const dir = path.dirname(file);
    const mine = path.basename(cacheFile);
    for (const name of readdirSync(dir)) {
      if (name !== mine && name.startsWith(`${path.basename(file)}.`) && name.endsWith('.codecache')) unlinkSync(path.join(dir, name));
    }
  } catch {
    // Not cached: the next start compiles the bundle as this one did.
  }
}
