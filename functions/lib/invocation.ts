import type { Deps } from '../../shared/app/deps.js';
import type { Logger } from '../../shared/ports/logger.js';
import type { LambdaContext } from './lambda.js';
import { remainingTimeSignal } from './lambda.js';
import type { LambdaRuntime } from './runtime.js';
import type { RuntimeSource } from './runtime-source.js';
import { onFirstUse } from './on-first-use.js';

/** What one invocation of a function gets: the shared runtime, a deadline, a logger, and Deps on demand. */
export interface Invocation {
  readonly rt: LambdaRuntime;
  /** Fires shortly before Lambda's timeout, so long waits stop in time to record where they got to. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * The use cases' Deps, with the inventory's clusters connected on the first call (once per invocation; a failed
   * connection fails every later call of the invocation alike instead of trying again per record). Call it only
   * once a valid record needs it: malformed input is rejected without touching the clusters.
   */
  readonly deps: () => Promise<Deps>;
}

/**
 * The runtime's module, imported once per process: a dynamic import goes through the module loader again at every
 * call (a real asynchronous round trip, which also lets the rotation simulation's virtual clock run ahead).
 */
const runtimeModule = onFirstUse(() => import('./runtime.js'));

/**
 * The per-invocation setup every handler needs, in one place: build (or reuse) the runtime, derive the deadline
 * signal from the context's remaining time, connect clusters lazily, dispose of the timer at the end.
 */
export function withInvocation<E, R>(
  runtime: RuntimeSource,
  body: (event: E, invocation: Invocation) => Promise<R>,
): (event: E, context?: LambdaContext) => Promise<R> {
  return async (event, context) => {
    const rt = await runtime();
    const { signal, dispose } = remainingTimeSignal(context);
    const log = rt.log;
    let deps: Promise<Deps> | undefined;
    const invocation: Invocation = {
      rt,
      signal,
      log,
      // The runtime's module is loaded by then (it built `rt`), unless a test handed a runtime ready-made.
      deps: () => (deps ??= rt.clusters().then(async (clusters) => (await runtimeModule()).depsFor(rt, clusters, { signal, log }))),
    };
    try {
      return await body(event, invocation);
    } finally {
      dispose();
    }
  };
}
