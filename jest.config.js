import { createDefaultEsmPreset } from 'ts-jest';

const esm = createDefaultEsmPreset({ tsconfig: '<rootDir>/tsconfig.json' });
const common = {
  testEnvironment: 'node',
  ...esm,
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

/** Unit tests run without servers; integration tests share one real test cluster and FerretDB. */
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.js',
      globalTeardown: '<rootDir>/test/harness/global-teardown.js',
      // Node's, pointed at this worker's cluster (KUO_TEST_CLUSTERS; one by default).
      testEnvironment: '<rootDir>/test/harness/worker-environment.cjs',
      slowTestThreshold: 60,
    },
  ],
  testTimeout: 180_000,
};
