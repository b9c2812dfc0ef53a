#!/usr/bin/env node
// The `fleet` command: runs the compiled CLI, dist/fleet.js (`npm run build`; README "Build"), so nothing is
// transpiled at start. Through a symlink on the PATH too: Node resolves this file to its place in the repository.
const { existsSync } = require('node:fs');
const path = require('node:path');

const repoRoot = path.join(__dirname, '..', '..', '..');
const compiled = path.join(repoRoot, 'dist', 'fleet.js');
if (!existsSync(compiled)) {
  process.stderr.write(`fleet: ${compiled} is missing: run \`npm run build\` in ${repoRoot}\n`);
  process.exit(5);
}
require(compiled);
