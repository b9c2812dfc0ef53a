/** Two projects: fast unit tests of pure logic, and end-to-end suites against real NATS + real dockerd engines. */
const transform = { '^.+\\.ts$': 'ts-jest' };

module.exports = {
  // Global in jest (not per project): e2e suites start real engines in their hooks.
  testTimeout: 120000,
  projects: [
    { displayName: 'unit', testEnvironment: 'node', transform, testMatch: ['<rootDir>/apps/*/src/**/*.test.ts', '<rootDir>/packages/*/src/**/*.test.ts'] },
    { displayName: 'e2e', testEnvironment: 'node', transform, testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
