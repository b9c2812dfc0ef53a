#!/usr/bin/env node
// Writes src/contract.json: openapi.yaml parsed once, here, so that no program parses YAML to learn the
// contract at run time (README "Build"). openapi.yaml stays the single source of truth; a unit test checks
// that the JSON matches it. Run by `npm run contracts:generate`.
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const root = path.join(__dirname, '..');
const document = YAML.parse(readFileSync(path.join(root, 'openapi.yaml'), 'utf8'));
writeFileSync(path.join(root, 'src', 'contract.json'), `${JSON.stringify(document, null, 2)}\n`);
