#!/usr/bin/env node
// The `fleet` command: runs the TypeScript entry point through tsx's require hook (no build step).
require('tsx/cjs');
require('../src/main.ts');
