/**
 * Where a benchmark's CPU went, from /proc (Linux; elsewhere the figures are left out): the CPU seconds
 * of given process ids (their exited children included), of every process whose command line matches
 * (PostgreSQL's postmaster with its exited backends, and its live ones), of this process, and how busy
 * the whole machine was. Taken as a snapshot before and after a measured window; the difference is the
 * window's.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_S = 0.01; // USER_HZ is 100 on Linux

export interface CpuSnapshot {
  at: number;
  /** Busy and total jiffies of the whole machine (all cores). */
  machine: { busy: number; total: number };
  /** CPU seconds per named group. */
  groups: Record<string, number>;
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces), or undefined when it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime+stime (+cutime+cstime: its exited children) of one process, in seconds; 0 when it is gone. */
function processSeconds(pid: number, exitedChildren = true): number {
  const fields = statFields(pid);
  if (!fields) return 0;
  // After the command: state is field 3; utime, stime, cutime, cstime are fields 14–17 (index 11–14 here).
  const own = Number(fields[11]) + Number(fields[12]);
  return (exitedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) * TICK_S;
}

function pidsMatching(pattern: RegExp): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (pattern.test(readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' '))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function machine(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3] - cpu[4], total }; // idle and iowait are not busy
}

export const canAccount = (): boolean => {
  try {
    readFileSync('/proc/stat');
    return true;
  } catch {
    return false;
  }
};

/** A snapshot: `pids` groups by name; PostgreSQL found by its command line; this process as 'bench'. */
export function cpuSnapshot(pids: Record<string, number[]>): CpuSnapshot {
  const groups: Record<string, number> = {};
  for (const [name, list] of Object.entries(pids)) groups[name] = list.reduce((s, p) => s + processSeconds(p), 0);
  // The postmaster's cutime holds the backends that exited; live backends are counted one by one.
  groups.postgres = pidsMatching(/^(\S*\/)?postgres( |:)/).reduce((s, p) => s + processSeconds(p), 0);
  const self = process.cpuUsage();
  groups.bench = (self.user + self.system) / 1e6;
  return { at: performance.now(), machine: machine(), groups };
}

/** CPU µs per item of each group between two snapshots, and how busy the machine was (0–1 of all cores). */
export function cpuPerItem(a: CpuSnapshot, b: CpuSnapshot, items: number): { perItemUs: Record<string, number>; machineBusy: number } {
  const perItemUs: Record<string, number> = {};
  for (const name of Object.keys(b.groups)) perItemUs[name] = Math.round(((b.groups[name] - (a.groups[name] ?? 0)) / items) * 1e6);
  const total = b.machine.total - a.machine.total;
  return { perItemUs, machineBusy: total > 0 ? (b.machine.busy - a.machine.busy) / total : 0 };
}

/** A process and all its live descendants. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) parents.set(Number(name), Number(statFields(Number(name))?.[1] ?? 0));
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (!tree.has(pid) && tree.has(parent)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** The PostgreSQL backends serving one database (their process titles name it): one database's share of a shared server. */
export function backendsOf(database: string): number[] {
  return pidsMatching(new RegExp(`^postgres: .* ${database.replace(/\W/g, '\\$&')} `));
}

/**
 * Starts counting the CPU seconds (own, not exited children) of the processes `pids()` names, read at the
 * start and at the end (a process gone by the end counts nothing); call the result to read the total.
 */
export function cpuMeter(pids: () => number[]): () => number {
  const start = new Map(pids().map((p) => [p, processSeconds(p, false)]));
  return () => {
    let total = 0;
    for (const p of new Set([...start.keys(), ...pids()])) total += Math.max(0, processSeconds(p, false) - (start.get(p) ?? 0));
    return total;
  };
}
