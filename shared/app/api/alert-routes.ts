import type { Route } from './route.js';

/** Alert receivers and approvals (filled in by the alerts part). */
export const alertRoutes: readonly Route[] = [];
