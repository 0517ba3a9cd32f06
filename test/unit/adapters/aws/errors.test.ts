import { describe, expect, it } from 'vitest';
import { translateAwsError } from '../../../../shared/adapters/aws/errors.js';
import { ConflictError, NotFoundError, RekeyError, TransientError } from '../../../../shared/domain/errors.js';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });
const call = { operation: 'SQS SendMessage', target: 'steps.fifo', context: { rotationId: 'r-1' } };

describe('translateAwsError', () => {
  it.each([
    ['ResourceNotFoundException', 400, NotFoundError, false],
    ['AWS.SimpleQueueService.NonExistentQueue', 400, NotFoundError, false],
    ['ConditionalCheckFailedException', 400, ConflictError, true],
    ['ThrottlingException', 400, TransientError, true],
    ['ProvisionedThroughputExceededException', 400, TransientError, true],
    ['ServiceUnavailable', 503, TransientError, true],
    ['SomethingNew', 502, TransientError, true],
    ['AccessDeniedException', 403, RekeyError, false],
    ['ValidationException', 400, RekeyError, false],
  ])('%s (%i) -> %s, retryable %s', (name, status, type, retryable) => {
    // Act
    const e = translateAwsError(sdkError(name, status), call);

    // Assess
    expect(e).toBeInstanceOf(type);
    expect(e.retryable).toBe(retryable);
    expect(e.message).toContain('SQS SendMessage (steps.fifo)');
    // ConflictError takes no cause (its constructor is message + context); every other keeps the SDK error.
    if (!(e instanceof ConflictError)) expect(e.cause).toBeInstanceOf(Error);
  });

  it('keeps the call context and names the AWS error', () => {
    const e = translateAwsError(sdkError('ValidationException', 400), call);
    expect(e.context).toMatchObject({ rotationId: 'r-1', awsError: 'ValidationException', httpStatus: 400 });
  });

  it.each([
    ['ThrottlingException', {}, true],
    ['SomethingNew', { $retryable: { throttling: true } }, true],
    ['ServiceUnavailable', {}, false],
  ])('%s %j: throttled (a quota saturated, nothing done) is %s in the context', (name, extra, throttled) => {
    // Act
    const e = translateAwsError(sdkError(name, 503, extra), call);

    // Assess
    expect(e).toBeInstanceOf(TransientError);
    expect(e.context.throttled === true).toBe(throttled);
  });

  it('network failures below the SDK (moto down) are transient', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5000'), { code: 'ECONNREFUSED' });
    expect(translateAwsError(refused, call)).toBeInstanceOf(TransientError);
  });

  it('passes rekey errors through unchanged', () => {
    const own = new NotFoundError('x');
    expect(translateAwsError(own, call)).toBe(own);
  });
});
