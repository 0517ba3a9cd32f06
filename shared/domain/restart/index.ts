export * from './plan.js';
export * from './versions-hash.js';
export * from './workload.js';
export * from './pace.js';
