// Memory of a server process as Linux reports it in /proc/<pid>/status: resident set (VmRSS) and its
// high-water mark (VmHWM, the true peak even between samples), plus a sampler for "did it stay flat".
import { readFileSync } from 'node:fs'

const MB = 1024 * 1024

function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
  if (!match?.[1]) throw new Error(`no ${field} for process ${pid}`)
  return Number(match[1])
}

/** Current resident memory in MB. */
export const rssMb = (pid: number): number => (readStatusKb(pid, 'VmRSS') * 1024) / MB
/** Peak resident memory since the process started, in MB. */
export const peakRssMb = (pid: number): number => (readStatusKb(pid, 'VmHWM') * 1024) / MB

export interface RssTrace {
  firstMb: number
  maxMb: number
  lastMb: number
  /** Every sample, oldest first. */
  samplesMb: number[]
}

/** Samples the resident memory of `pid` every `intervalMs` until stopped. */
export function sampleRss(pid: number, intervalMs = 200): { stop(): RssTrace } {
  const samples = [rssMb(pid)]
  const timer = setInterval(() => samples.push(rssMb(pid)), intervalMs)
  return {
    stop() {
      clearInterval(timer)
      samples.push(rssMb(pid))
      return {
        firstMb: samples[0]!,
        maxMb: Math.max(...samples),
        lastMb: samples[samples.length - 1]!,
        samplesMb: samples,
      }
    },
  }
}
