export { currentExpectation, ExpectationKind, Mismatch, probeServed, verifyServed } from './served.js';
export type { ProbedItem, ProbeOutcome, ServedExpectation, ServedReport } from './served.js';
