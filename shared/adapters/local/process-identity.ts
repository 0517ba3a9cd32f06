import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a process is, beyond its pid: a pid is reused once its process is gone, so a lock or a temporary file names
 * its writer by pid, start time (clock ticks after boot, /proc/<pid>/stat field 22) and boot id. A pid alive with
 * another start time, or a boot id that changed, is someone else.
 */
export interface ProcessIdentity {
  readonly pid: number;
  /** Start time in clock ticks since boot; undefined where /proc is missing (not Linux). */
  readonly startTicks?: number;
  readonly bootId?: string;
  readonly host: string;
}

/** Linux reports /proc times in USER_HZ, which the kernel ABI fixes at 100 on every architecture rekey runs on. */
const USER_HZ = 100;

const readOrUndefined = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so count from its end. */
export function startTicksOf(pid: number): number | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

export function bootId(): string | undefined {
  return readOrUndefined('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

/** The wall-clock time a process started, from its start ticks and the boot time (`btime` in /proc/stat). */
export function startedAt(startTicks: number | undefined): Date | undefined {
  if (startTicks === undefined) return undefined;
  const btime = /^btime (\d+)$/m.exec(readOrUndefined('/proc/stat') ?? '')?.[1];
  return btime ? new Date(Number(btime) * 1000 + (startTicks * 1000) / USER_HZ) : undefined;
}

export function selfIdentity(): ProcessIdentity {
  const startTicks = startTicksOf(process.pid);
  const boot = bootId();
  return { pid: process.pid, ...(startTicks !== undefined && { startTicks }), ...(boot && { bootId: boot }), host: hostname() };
}

/** Signal 0 probes without signalling; EPERM means the pid exists but belongs to another user. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const Liveness = { Alive: 'alive', Gone: 'gone', Unknown: 'unknown' } as const;
export type Liveness = (typeof Liveness)[keyof typeof Liveness];

/**
 * Whether the process a record names still runs here. Another host (or container with its own hostname) cannot be
 * checked: Unknown, so a caller never takes over what may be alive elsewhere.
 */
export function livenessOf(holder: Partial<ProcessIdentity> & { pid: number }, self: ProcessIdentity = selfIdentity()): Liveness {
  if (holder.host !== undefined && holder.host !== self.host) return Liveness.Unknown;
  if (holder.bootId && self.bootId && holder.bootId !== self.bootId) return Liveness.Gone;
  if (!isPidAlive(holder.pid)) return Liveness.Gone;
  if (holder.startTicks !== undefined) {
    const now = startTicksOf(holder.pid);
    if (now !== undefined && now !== holder.startTicks) return Liveness.Gone; // the pid was reused
  }
  return Liveness.Alive;
}
