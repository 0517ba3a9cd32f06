export { startRotation, rotationKindOf } from './start.js';
export { executeStep, StepExecution } from './execute-step.js';
export { failRotation } from './fail.js';
export { VerificationError, RestartError } from './errors.js';
export { driveRotations, type DrainableQueue } from './drive.js';
