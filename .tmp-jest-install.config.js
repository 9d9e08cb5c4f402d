import { createDefaultEsmPreset } from 'ts-jest';
const esm = createDefaultEsmPreset({ tsconfig: '/work/main/tsconfig.json' });
export default {
  rootDir: '/work/main',
  testEnvironment: 'node',
  ...esm,
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
  testTimeout: 180_000,
};
