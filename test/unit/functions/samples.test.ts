import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  check,
  delayedStepSchema,
  parseJson,
  rekeyEventBridgeSchema,
  scheduleInputSchema,
  stepMessageSchema,
} from '../../../events/schemas.js';

const sample = (name: string) => JSON.parse(readFileSync(new URL(`../../../events/samples/${name}`, import.meta.url), 'utf8'));

describe("sample trigger payloads (events/samples) pass the functions' validation", () => {
  it('schedule', () => {
    expect(check(scheduleInputSchema, sample('schedule.json')).ok).toBe(true);
  });

  it('step (SQS FIFO record body)', () => {
    const body = sample('step-sqs.json').Records[0].body;
    expect(parseJson(stepMessageSchema, body)).toMatchObject({ ok: true, value: { item: 'management-server', step: 'issue', attempt: 0 } });
  });

  it('delay (SQS record body)', () => {
    expect(parseJson(delayedStepSchema, sample('delay-sqs.json').Records[0].body).ok).toBe(true);
  });

  it.each(['restart-secret-synced.json', 'restart-requested.json'])('restart (%s)', (name) => {
    expect(check(rekeyEventBridgeSchema, sample(name))).toMatchObject({ ok: true });
  });

  it('reasons name the field: a RestartRequested without inventory', () => {
    const event = sample('restart-requested.json');
    delete event.detail.inventory;
    expect(check(rekeyEventBridgeSchema, event)).toEqual({ ok: false, reason: expect.stringMatching(/^detail\.inventory: /) });
  });
});
