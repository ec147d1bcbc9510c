/**
 * CPU time spent by processes during a measured run, read from /proc (Linux). On a shared, noisy
 * 2-core box the CPU a request costs is steadier than its throughput: throughput says what the box gave
 * this run, CPU per request says what the code costs.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** user + system CPU seconds of one process (0 if it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0;
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** A process and all its descendants now. */
export function processTree(root: number): number[] {
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const pid of pids) {
      if (!tree.has(pid) && tree.has(parentOf(pid))) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** PostgreSQL server processes serving one database (their titles name it), e.g. an external server's backends. */
export function backendsOf(database: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => commandOf(pid).startsWith('postgres: ') && commandOf(pid).includes(` ${database} `));
}

/** Starts counting the CPU of the processes `pids()` names (read at start and at end). */
export function cpuMeter(pids: () => number[]): () => number {
  const start = new Map(pids().map((p) => [p, cpuSeconds(p)]));
  return () => {
    let total = 0;
    for (const p of new Set([...start.keys(), ...pids()])) total += Math.max(0, cpuSeconds(p) - (start.get(p) ?? 0)); // a process gone reads 0
    return total;
  };
}
