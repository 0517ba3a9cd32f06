export * from './plan.js';
export * from './versions-hash.js';
export * from './workload.js';
