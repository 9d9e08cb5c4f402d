import { run } from './sources.bench.js';
await run();
