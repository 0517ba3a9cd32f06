import type { Remediation, RemediationStatus, RemediationStore } from '../../app/alerts/store.js';
import { writeFileAtomic } from './atomic-file.js';
import { readTextOrUndefined } from './missing-ok.js';
import { defined } from '../../domain/defined.js';

interface FileState {
  claims: Record<string, number>;
  remediations: Remediation[];
}

/** Remediations finished longer ago than this are dropped from the file (rate limits look back far less). */
const KEEP_MS = 30 * 86_400_000;

/**
 * The embedded RemediationStore: one JSON file (`<state>/remediations.json`), read and rewritten atomically under
 * an in-process lock (one `rekey serve` owns the state folder). Expired claims and old remediations are pruned on
 * each write, so the file stays small.
 */
export class RemediationFile implements RemediationStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  private async read(): Promise<FileState> {
    const text = await readTextOrUndefined(this.file);
    return text ? (JSON.parse(text) as FileState) : { claims: {}, remediations: [] };
  }

  private exclusive<T>(fn: (state: FileState) => Promise<{ result: T; write: boolean }>): Promise<T> {
    const run = this.queue.then(async () => {
      const state = await this.read();
      const { result, write } = await fn(state);
      if (write) {
        const nowSec = this.now() / 1000;
        state.claims = Object.fromEntries(Object.entries(state.claims).filter(([, exp]) => exp >= nowSec));
        state.remediations = state.remediations.filter((r) => r.status === 'pending' || this.now() - Date.parse(r.decidedAt) < KEEP_MS);
        await writeFileAtomic(this.file, JSON.stringify(state), { mode: 0o600 });
      }
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  claim(key: string, expiresAtSeconds: number): Promise<boolean> {
    return this.exclusive(async (s) => {
      const held = s.claims[key];
      if (held !== undefined && held >= this.now() / 1000) return { result: false, write: false };
      s.claims[key] = expiresAtSeconds;
      return { result: true, write: true };
    });
  }

  put(remediation: Remediation): Promise<void> {
    return this.exclusive(async (s) => {
      s.remediations = [...s.remediations.filter((r) => r.id !== remediation.id), remediation];
      return { result: undefined, write: true };
    });
  }

  async get(id: string): Promise<Remediation | undefined> {
    return this.exclusive(async (s) => ({ result: s.remediations.find((r) => r.id === id), write: false }));
  }

  async recent(rule: string, item: string, sinceIso: string): Promise<Remediation[]> {
    const since = Date.parse(sinceIso);
    return this.exclusive(async (s) => ({
      result: s.remediations.filter((r) => r.rule === rule && r.item === item && Date.parse(r.decidedAt) >= since),
      write: false,
    }));
  }

  async listPending(): Promise<Remediation[]> {
    return this.exclusive(async (s) => ({ result: s.remediations.filter((r) => r.status === 'pending'), write: false }));
  }

  transition(id: string, from: RemediationStatus, next: Remediation): Promise<boolean> {
    return this.exclusive(async (s) => {
      const i = s.remediations.findIndex((r) => r.id === id);
      if (i < 0 || defined(s.remediations[i]).status !== from) return { result: false, write: false };
      s.remediations[i] = next;
      return { result: true, write: true };
    });
  }
}
