import { z } from 'zod';
import { alertmanagerWebhookSchema } from '../alerts/alertmanager.js';
import { ApiProblem, ProblemKind } from './problem.js';
import { defineRoute, HttpMethod, type Route } from './route.js';
import { problemSchema, remediationId } from './schemas.js';
import { Scope } from './scopes.js';
import { defined } from '../../domain/defined.js';

const problem = (description: string) => ({ description, schema: problemSchema, contentType: 'application/problem+json' });

const decisionSchema = z
  .object({
    decision: z.string(),
    reason: z.string(),
    alert: z.object({ source: z.string(), name: z.string(), fingerprint: z.string(), startsAt: z.string() }),
    rule: z.string().optional(),
    item: z.string().optional(),
    action: z.string().optional(),
    remediationId: z.string().optional(),
    rotationId: z.string().optional(),
  })
  .meta({ id: 'RemediationDecision' });

export const decisionsSchema = z.object({ decisions: z.array(decisionSchema) }).meta({ id: 'RemediationDecisions' });
export const remediationListSchema = z
  .object({
    remediations: z.array(
      z
        .object({ id: z.string(), rule: z.string(), item: z.string(), action: z.string(), status: z.string(), decidedAt: z.string() })
        .loose(),
    ),
  })
  .meta({ id: 'RemediationList' });

const noAlerts = () => new ApiProblem(ProblemKind.NotImplemented, 'alert remediation is not configured in this runtime');

/** Alert receivers and approvals: every decision (acted, deduped, rate-limited, ...) is in the answer and an event. */
export const alertRoutes: readonly Route[] = [
  defineRoute({
    operationId: 'receiveAlertmanager',
    method: HttpMethod.Post,
    path: '/v1/alerts/alertmanager',
    summary: 'Alertmanager webhook receiver (payload version 4)',
    scope: Scope.AlertsWrite,
    body: alertmanagerWebhookSchema,
    responses: {
      200: { description: 'the decisions', schema: decisionsSchema },
      401: problem('missing or invalid token'),
      403: problem('scope'),
      422: problem('not a version 4 payload'),
    },
    handle: async ({ backend, body }) => {
      if (!backend.alerts) throw noAlerts();
      return { status: 200, json: { decisions: await backend.alerts.receiveAlertmanager(body) } };
    },
  }),
  defineRoute({
    operationId: 'listRemediations',
    method: HttpMethod.Get,
    path: '/v1/remediations',
    summary: 'Remediations waiting for approval',
    scope: Scope.AlertsWrite,
    responses: { 200: { description: 'pending remediations', schema: remediationListSchema }, 401: problem('missing or invalid token') },
    handle: async ({ backend }) => {
      if (!backend.alerts) throw noAlerts();
      return { status: 200, json: { remediations: await backend.alerts.pending() } };
    },
  }),
  defineRoute({
    operationId: 'approveRemediation',
    method: HttpMethod.Post,
    path: '/v1/remediations/{id}/approve',
    summary: 'Approves a pending remediation and carries it out',
    scope: Scope.AlertsWrite,
    params: { id: remediationId },
    responses: {
      200: { description: 'the decision', schema: decisionSchema },
      404: problem('no such remediation'),
      409: problem('not pending'),
    },
    handle: async ({ backend, params, principal }) => {
      if (!backend.alerts) throw noAlerts();
      return { status: 200, json: await backend.alerts.approve(defined(params.id), principal?.subject ?? 'unknown') };
    },
  }),
];
