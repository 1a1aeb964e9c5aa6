// Server CPU time and memory from /proc: utime+stime of the process and all
// its live descendants, plus cutime+cstime of children already reaped.

import { readFileSync, readdirSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let clkTck = 100
try { clkTck = parseInt(execFileSync('getconf', ['CLK_TCK']).toString().trim(), 10) || 100 } catch {}

function statFields (pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.slice(s.lastIndexOf(')') + 2).split(' ') // fields[0] is state (field 3)
  } catch { return null }
}

function descendants (root) {
  const children = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = statFields(name)
    if (!f) continue
    const ppid = f[1]
    if (!children.has(ppid)) children.set(ppid, [])
    children.get(ppid).push(name)
  }
  const out = []
  const stack = [String(root)]
  while (stack.length) {
    const p = stack.pop()
    out.push(p)
    for (const c of children.get(p) || []) stack.push(c)
  }
  return out
}

/** CPU seconds (user+system) used so far by pid and its descendants. */
export function cpuSeconds (pid) {
  if (!pid) return null
  let ticks = 0
  for (const p of descendants(pid)) {
    const f = statFields(p)
    if (!f) continue
    // utime=14, stime=15, cutime=16, cstime=17 (1-based); f[0] is field 3
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  }
  return ticks / clkTck
}

function statusKb (pid, key) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) : 0
  } catch { return 0 }
}

/** Peak and current resident memory (MiB), summed over the process tree. */
export function memory (pid) {
  if (!pid) return null
  let hwm = 0
  let rss = 0
  for (const p of descendants(pid)) { hwm += statusKb(p, 'VmHWM'); rss += statusKb(p, 'VmRSS') }
  return { peak_rss_mb: Math.round(hwm / 102.4) / 10, rss_mb: Math.round(rss / 102.4) / 10 }
}

/** Busy seconds (everything but idle and iowait) of each core so far, from /proc/stat. */
export function coreBusy () {
  const out = {}
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const mm = line.match(/^cpu(\d+) (.*)$/)
      if (!mm) continue
      const f = mm[2].trim().split(/\s+/).map(Number)
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0) // user..steal; guest is inside user
      out[mm[1]] = (total - f[3] - f[4]) / clkTck
    }
  } catch {}
  return out
}

/**
 * On-CPU seconds of pid and its live descendants, read from their POSIX CPU clocks
 * (clock_gettime on the clock id of each process, which Node cannot name; a short
 * python3 call does it): fine enough for short phases that CLK_TCK (10 ms) cannot
 * resolve, where /proc's schedstat is off on this kind of kernel. Children that
 * already ended are not counted.
 */
export function cpuSecondsPrecise (pid) {
  if (!pid) return null
  const script = 'import sys, time\n' +
    'total = 0.0\n' +
    'for p in map(int, sys.argv[1:]):\n' +
    '    try: total += time.clock_gettime(((~p) << 3) | 2)\n' +
    '    except OSError: pass\n' +
    'print(total)'
  try {
    return Number(execFileSync('python3', ['-c', script, ...descendants(pid)]).toString().trim())
  } catch { return null }
}
