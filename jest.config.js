/**
 * Seven projects: fast unit tests of pure logic (`unit`); end-to-end suites against real NATS and real
 * dockerd engines (`e2e`); the reliability suites `faults`, `fuzz` and `load` (README, "Tests"); and the
 * `security` suite, which replays attacks on a real fleet (README, "Security model"); the `multihost` suite on a lab of
 * network-namespace hosts (README, "Multi-host lab").
 */
const transform = { '^.+\\.ts$': 'ts-jest' };
/** Suites that start gateways and agents run the compiled build (dist/): rebuilt first when the sources are newer. */
const globalSetup = '<rootDir>/test/support/build.ts';
/** The suites that run two files at a time: each jest worker's servers listen on ports from a range of its own. */
const setupFiles = ['<rootDir>/test/support/worker-ports.ts'];

module.exports = {
  // Global in jest (not per project): e2e suites start real engines in their hooks.
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/apps/*/src/**/*.test.ts', '<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'],
    },
    { displayName: 'e2e', testEnvironment: 'node', transform, globalSetup, setupFiles, testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // Reliability suites (real processes killed by PID, a contract-driven fuzzer, 60 s of load): see README "Tests".
    {
      displayName: 'faults',
      testEnvironment: 'node',
      transform,
      globalSetup,
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
    },
    { displayName: 'fuzz', testEnvironment: 'node', transform, globalSetup, testMatch: ['<rootDir>/test/fuzz/**/*.test.ts'] },
    { displayName: 'load', testEnvironment: 'node', transform, globalSetup, testMatch: ['<rootDir>/test/load/**/*.test.ts'] },
    // Attacks replayed on a real fleet; the teardown prints `[security] N attacks, N blocked` (README "Security model").
    {
      displayName: 'security',
      testEnvironment: 'node',
      transform,
      setupFiles,
      testMatch: ['<rootDir>/test/security/**/*.test.ts'],
      globalSetup: '<rootDir>/test/security/setup.ts',
      globalTeardown: '<rootDir>/test/security/teardown.ts',
    },
    // A lab of network-namespace hosts (README "Multi-host lab"): every hop crosses a bridge, under tcpdump. Its
    // attacks go to the same ledger, so it prints `[security] N attacks, N blocked` too.
    {
      displayName: 'multihost',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/multihost/**/*.test.ts'],
      globalSetup: '<rootDir>/test/security/setup.ts',
      globalTeardown: '<rootDir>/test/security/teardown.ts',
    },
  ],
};
