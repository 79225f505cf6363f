// How busy the machine was with work other than the bench's own processes (from /proc/stat and the
// harness's own and reaped children's CPU time). On a shared machine a run's figures are only worth
// comparing when this stays low, so the bench prints it with them.
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100

/** User, nice, system and steal ticks of all CPUs. Interrupt time is left out: loopback traffic is counted there, not in a process. */
function machineBusyTicks(): number {
  const [, user, nice, system, , , , , steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .map(Number)
  return [user, nice, system, steal].reduce<number>((sum, ticks) => sum + (ticks ?? 0), 0)
}

/** This process's CPU time plus that of its children that have exited (the servers, once stopped). */
function ownTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  // utime, stime, cutime, cstime are fields 14-17 of the whole line, 12-15 after the name.
  return (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0)
}

/** Starts counting; `stop()` (after every server has exited) gives the cores kept busy by other processes. */
export function watchOtherLoad(): { stop(): { otherCores: number; cores: number } } {
  const startedAt = performance.now()
  const busy = machineBusyTicks()
  const own = ownTicks()
  return {
    stop() {
      const elapsedTicks = ((performance.now() - startedAt) / 1000) * TICKS_PER_SECOND
      const others = machineBusyTicks() - busy - (ownTicks() - own)
      return { otherCores: Math.max(0, others / elapsedTicks), cores: availableParallelism() }
    },
  }
}

/**
 * Waits until the machine's cores are mostly idle (below `busyCores` busy over a quarter second), at
 * most `timeoutMs`: a server started while another still drains its hashing queue would measure its
 * login timing floor on a loaded machine.
 */
export async function waitUntilQuiet(busyCores = 0.3, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const before = machineBusyTicks()
    await new Promise((resolve) => setTimeout(resolve, 250))
    if ((machineBusyTicks() - before) / (0.25 * TICKS_PER_SECOND) < busyCores) return
  }
}

/** User and system ticks of process `pid`, all its threads (the hashing threads included). */
function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  return (fields[11] ?? 0) + (fields[12] ?? 0)
}

/**
 * Waits until process `pid` is mostly idle (below `busyCores` over a quarter second), at most
 * `timeoutMs`: logins still in its hashing queue after a scenario would otherwise be measured in the
 * next one (on a slow machine eight bcrypt-12 logins in flight are seconds of hashing).
 */
export async function waitUntilIdle(
  pid: number,
  busyCores = 0.1,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const before = processTicks(pid)
    await new Promise((resolve) => setTimeout(resolve, 250))
    if ((processTicks(pid) - before) / (0.25 * TICKS_PER_SECOND) < busyCores) return
  }
}
