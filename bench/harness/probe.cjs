/**
 * BENCH ONLY. A preload (NODE_OPTIONS=--require …/probe.cjs) for a service the
 * bench spawns exactly as usual, so it can be measured from inside without
 * touching its code. Enabled by FLEET_BENCH_PROBE_DIR. On SIGUSR2 it reads the
 * command in <dir>/command and writes its answer into <dir>:
 *   memory  → <pid>.memory.json: process.memoryUsage() right after a full GC
 *   profile → <pid>.cpuprofile: V8's CPU profile (the format `node --cpu-prof`
 *             writes; Node 20 refuses --cpu-prof in NODE_OPTIONS), recorded
 *             since start when FLEET_BENCH_CPU_PROFILE=1
 */
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.FLEET_BENCH_PROBE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  const write = (name, data) => {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    fs.writeFileSync(`${file}.part`, data);
    fs.renameSync(`${file}.part`, file);
  };
  if (process.env.FLEET_BENCH_CPU_PROFILE === '1') {
    session.post('Profiler.enable', () => {
      session.post('Profiler.setSamplingInterval', { interval: 1000 }, () => session.post('Profiler.start'));
    });
  }
  process.on('SIGUSR2', () => {
    let command = '';
    try {
      command = fs.readFileSync(path.join(dir, 'command'), 'utf8').trim();
    } catch {
      return;
    }
    if (command === 'memory') {
      session.post('HeapProfiler.collectGarbage', () => write(`${process.pid}.memory.json`, JSON.stringify(process.memoryUsage())));
    } else if (command === 'profile') {
      session.post('Profiler.stop', (err, result) => {
        if (!err) write(`${process.pid}.cpuprofile`, JSON.stringify(result.profile));
      });
    }
  });
}
