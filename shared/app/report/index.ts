export { gatherReport, urgencyOf } from './gather.js';
export { renderReport, GROUP_ROWS } from './render.js';
export { Urgency, URGENCY_ORDER, type ReportData, type ReportUnit, type ReportRotation } from './model.js';
export { PlacementState, type Placement } from './placements.js';
export type { FoundConsumer } from './consumers.js';
