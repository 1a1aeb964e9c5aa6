#!/usr/bin/env node
// Load generator: runs one scenario against one server and prints one JSON
// result on stdout (progress goes to stderr). Every phase has a deadline and
// the whole process has a hard one, so it always stops by itself.
//
//   node gen/main.mjs --peer ours --port 8000 --server-pid 1234 --scenario S1 --duration 30

import { monitorEventLoopDelay } from 'node:perf_hooks'
import * as Y from 'yjs'
import { writeFileSync } from 'node:fs'
import { BenchClient } from './client.mjs'
import { openRoom, pool } from './peers.mjs'
import { Histogram, summarize } from './stats.mjs'
import { Stroke, writePath, pathsHash, newPathId } from './strokes.mjs'
import { SCENARIOS, STROKE_VERSIONS } from './scenarios.mjs'
import { cpuSeconds, cpuSecondsPrecise, memory, coreBusy } from './procstat.mjs'

const args = parseArgs(process.argv.slice(2))
const PEER = args.peer
const PORT = Number(args.port)
const SERVER_PID = args['server-pid'] ? Number(args['server-pid']) : null
const SCEN = args.scenario
const DURATION_S = Number(args.duration ?? 30)
const SETTLE_S = Number(args.settle ?? 10)
const CONNECT_TIMEOUT_MS = Number(args['connect-timeout'] ?? 20000)
const DEFLATE = (args.deflate ?? 'on') !== 'off'
const S4_PATHS = Number(args['s4-paths'] ?? SCENARIOS.S4.paths)
const HARD_LIMIT_S = SCEN === 'S4' ? 600 : DURATION_S + SETTLE_S + 240

if (!PEER || !PORT || !SCENARIOS[SCEN]) {
  console.error('usage: main.mjs --peer yws|hocuspocus|pycrdt|ours --port P --scenario S1..S5 [--server-pid PID] [--duration S] [--settle S] [--deflate on|off] [--out FILE]')
  process.exit(2)
}

const hardStop = setTimeout(() => {
  log(`hard time limit of ${HARD_LIMIT_S}s reached, giving up`)
  emit({ event: 'result', ok: false, error: 'hard time limit', peer: PEER, scenario: SCEN })
  process.exit(3)
}, HARD_LIMIT_S * 1000)

function parseArgs (argv) {
  const o = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) continue
    const k = a.slice(2)
    if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) o[k] = argv[++i]
    else o[k] = true
  }
  return o
}
function log (...a) { console.error(`[gen ${PEER} ${SCEN}]`, ...a) }
function emit (obj) { process.stdout.write(JSON.stringify(obj) + '\n') }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const COLORS = ['#e03131', '#2f9e44', '#1971c2', '#f08c00', '#9c36b5', '#0c8599', '#1e1e1e']

class Metrics {
  constructor () {
    this.pathLat = new Histogram()
    this.cursorLat = new Histogram()
    this.pathDelivered = 0
    this.pathExpected = 0
    this.pathWrites = 0
    this.cursorDelivered = 0
    this.cursorSuperseded = 0
    this.cursorExpected = 0
    this.cursorSent = 0
    this.msgsIn = 0
    this.bytesIn = 0
    this.msgsOut = 0
    this.bytesOut = 0
    this.applyMs = 0
    this.pathEvents = 0
    this.unknownMessages = 0
    this.badAwareness = 0
    this.measuring = false
    this.measureFrom = Infinity
    this.failures = {}
    this.failCount = 0
    this.extensions = null
  }

  fail (reason) {
    this.failures[reason] = (this.failures[reason] || 0) + 1
    this.failCount++
  }

  traffic () { return { msgsIn: this.msgsIn, bytesIn: this.bytesIn, msgsOut: this.msgsOut, bytesOut: this.bytesOut } }
}

const m = new Metrics()

function serverSample () {
  return { cpu_s: cpuSeconds(SERVER_PID), mem: memory(SERVER_PID), cores: coreBusy(), gen: process.cpuUsage(), at: Date.now() }
}

/**
 * CPU used on each core by anything but the server (core 0) and this generator
 * (core 1): other processes on a shared machine, which make a run noisy.
 */
function background (a, b) {
  const secs = (b.at - a.at) / 1000
  if (!(secs > 0) || !a.cores['0'] || !b.cores['0']) return null
  const pct = x => round((x / secs) * 100, 1)
  const genCpu = ((b.gen.user - a.gen.user) + (b.gen.system - a.gen.system)) / 1e6
  return {
    core0_other_pct: pct((b.cores['0'] - a.cores['0']) - ((b.cpu_s ?? 0) - (a.cpu_s ?? 0))),
    core1_other_pct: b.cores['1'] !== undefined ? pct((b.cores['1'] - a.cores['1']) - genCpu) : null
  }
}

async function connectAll (rooms, { storm }) {
  const t0 = Date.now()
  const attempt = async c => {
    try { await c.connect(CONNECT_TIMEOUT_MS); return true } catch (err) { m.fail(`connect-${err.message}`); return false }
  }
  if (storm) {
    // Every socket opened in the same tick.
    await Promise.all(rooms.flatMap(r => r.clients).map(attempt))
  } else {
    // The way rooms fill in real use: someone opens the room, the others join
    // after. (pycrdt-websocket loses concurrent first joiners of a fresh room;
    // S5 is the scenario that measures that, not S1-S3.)
    await pool(rooms.map(r => r.clients[0]), 25, attempt)
    await pool(rooms.flatMap(r => r.clients.slice(1)), 25, attempt)
  }
  return Date.now() - t0
}

async function makeRooms (spec) {
  const rooms = []
  await pool(Array.from({ length: spec.rooms }, (_, i) => i), 8, async i => {
    const label = `bench-${SCEN}-${i}-${Math.random().toString(36).slice(2, 8)}`
    const room = await openRoom(PEER, PORT, label)
    const seats = await room.seats(spec.perRoom)
    const clients = seats.map((s, j) => new BenchClient({ ...s, m, deflate: DEFLATE, color: COLORS[j % COLORS.length] }))
    rooms[i] = { label: room.label, clients, writes: 0 }
  })
  return rooms
}

/** Central scheduler: fires each task at its rate until the deadline; never bursts to catch up. */
async function drive (tasks, durationMs) {
  const start = Date.now()
  const end = start + durationMs
  for (const t of tasks) t.next = start + t.offset
  let iterations = 0
  while (Date.now() < end && iterations < durationMs * 2) {
    iterations++
    const now = Date.now()
    for (const t of tasks) {
      if (t.next <= now) {
        t.fn(now)
        t.next += t.period
        if (t.next <= now) t.next = now + t.period
      }
    }
    await sleep(2)
  }
  return Date.now() - start
}

function live (room) { return room.clients.filter(c => c.synced && !c.failed) }

function buildTasks (rooms, spec) {
  const tasks = []
  rooms.forEach((room, ri) => {
    room.clients.forEach((c, ci) => {
      if (spec.cursorHz > 0) {
        const period = 1000 / spec.cursorHz
        let phase = (ci * 0.7 + ri) % (2 * Math.PI)
        tasks.push({
          period,
          offset: Math.random() * period,
          fn: now => {
            if (!c.synced || c.failed) return
            phase += 0.05
            c.sendCursor({ x: Math.round((500 + 300 * Math.cos(phase)) * 10) / 10, y: Math.round((400 + 300 * Math.sin(phase)) * 10) / 10, t: now })
            m.cursorSent++
            m.cursorExpected += live(room).length - 1
          }
        })
      }
      if (ci < spec.writers && spec.writeHz > 0) {
        const period = 1000 / spec.writeHz
        let stroke = null
        let seed = ri * 100 + ci
        tasks.push({
          period,
          offset: Math.random() * period,
          fn: () => {
            if (!c.synced || c.failed) return
            if (!stroke || stroke.done) stroke = new Stroke(STROKE_VERSIONS, c.color, seed++)
            writePath(c.doc, stroke.id, stroke.nextValue())
            m.pathWrites++
            room.writes++
            m.pathExpected += live(room).length - 1
          }
        })
      }
    })
  })
  return tasks
}

/** Poll until every live client of every room holds the same winners, or the deadline passes. */
async function settle (rooms, settleMs) {
  const t0 = Date.now()
  let state = null
  for (let i = 0; i < 1000; i++) {
    await sleep(i === 0 ? 200 : 250)
    state = rooms.map(r => {
      const hashes = new Map()
      for (const c of live(r)) {
        const { hash } = pathsHash(c.doc)
        hashes.set(hash, (hashes.get(hash) || 0) + 1)
      }
      return { label: r.label, distinct: hashes.size, live: live(r).length, clients: r.clients.length, writes: r.writes }
    })
    if (state.every(s => s.distinct <= 1)) break
    if (Date.now() - t0 > settleMs) break
  }
  const rooms_converged = state.filter(s => s.distinct <= 1 && s.live === s.clients).length
  return {
    converged: rooms_converged === rooms.length,
    rooms: rooms.length,
    rooms_converged,
    rooms_with_same_hash_among_live: state.filter(s => s.distinct <= 1).length,
    settle_ms: Date.now() - t0,
    worst: state.reduce((a, s) => (s.distinct > (a?.distinct ?? 0) ? s : a), null)
  }
}

async function runLoadScenario (spec) {
  const result = { peer: PEER, scenario: SCEN, title: spec.title, params: { ...spec, duration_s: DURATION_S, deflate: DEFLATE } }
  const tSetup = Date.now()
  const rooms = await makeRooms(spec)
  const clients = rooms.flatMap(r => r.clients)
  log(`${clients.length} clients in ${rooms.length} rooms, tokens in ${Date.now() - tSetup} ms; connecting${spec.storm ? ' all at once' : ''}`)
  const connectMs = await connectAll(rooms, spec)
  const joins = clients.filter(c => c.joinMs !== null).map(c => c.joinMs)
  const connected = clients.filter(c => c.synced).length
  result.connect = { attempted: clients.length, connected, failed: clients.length - connected, wall_ms: connectMs, join_ms: summarize(joins) }
  log(`connected ${connected}/${clients.length} in ${connectMs} ms`)

  // Send everyone's first cursor, let the initial awareness exchange settle.
  if (spec.cursorHz > 0) for (const c of clients) if (c.synced) c.sendCursor({ x: 0, y: 0, t: 0 })
  await sleep(1000)

  const tasks = buildTasks(rooms, spec)
  const loop = monitorEventLoopDelay({ resolution: 10 })
  const s0 = serverSample()
  const g0 = process.cpuUsage()
  const tr0 = m.traffic()
  const fails0 = m.failCount
  m.measureFrom = Date.now()
  m.measuring = true
  emit({ event: 'load-start' })
  loop.enable()
  const loadMs = await drive(tasks, DURATION_S * 1000)
  loop.disable()
  const g1 = process.cpuUsage(g0)
  const tr1 = m.traffic()
  const s1 = serverSample()
  emit({ event: 'load-end' })
  const conv = await settle(rooms, SETTLE_S * 1000)
  m.measuring = false
  const s2 = serverSample()

  const secs = loadMs / 1000
  const nClients = clients.length
  const serverCpu = s1.cpu_s - s0.cpu_s
  result.load_s = Math.round(secs * 100) / 100
  result.paths = {
    writes: m.pathWrites,
    writes_per_s: round(m.pathWrites / secs),
    expected: m.pathExpected,
    delivered: m.pathDelivered,
    delivered_per_s: round(m.pathDelivered / secs),
    delivery_ratio: m.pathExpected ? round(m.pathDelivered / m.pathExpected, 4) : null,
    delivered_per_server_cpu_s: serverCpu > 0 ? round(m.pathDelivered / serverCpu) : null,
    latency_ms: m.pathLat.summary()
  }
  result.cursors = {
    sent: m.cursorSent,
    sent_per_s: round(m.cursorSent / secs),
    expected: m.cursorExpected,
    delivered: m.cursorDelivered,
    delivered_per_s: round(m.cursorDelivered / secs),
    superseded: m.cursorSuperseded,
    superseded_per_s: round(m.cursorSuperseded / secs),
    latency_ms: m.cursorLat.summary()
  }
  // The measure: delivered updates, paths and cursors, per server CPU-second;
  // "credited" counts cursor states a coalescing server superseded, as merged paths are.
  result.updates = {
    delivered_per_server_cpu_s: serverCpu > 0 ? round((m.pathDelivered + m.cursorDelivered) / serverCpu) : null,
    credited_per_server_cpu_s: serverCpu > 0 ? round((m.pathDelivered + m.cursorDelivered + m.cursorSuperseded) / serverCpu) : null
  }
  result.traffic = {
    msgs_in_per_client_s: round((tr1.msgsIn - tr0.msgsIn) / secs / nClients, 2),
    bytes_in_per_client_s: round((tr1.bytesIn - tr0.bytesIn) / secs / nClients),
    msgs_out_per_client_s: round((tr1.msgsOut - tr0.msgsOut) / secs / nClients, 2),
    bytes_out_per_client_s: round((tr1.bytesOut - tr0.bytesOut) / secs / nClients)
  }
  result.server = {
    cpu_s: round(serverCpu, 2),
    cpu_pct: round((serverCpu / secs) * 100, 1),
    cpu_s_incl_settle: round(s2.cpu_s - s0.cpu_s, 2),
    ...s2.mem
  }
  result.failures = { during_connect: result.connect.failed, during_load: m.failCount - fails0, reasons: m.failures }
  result.background = background(s0, s1)
  result.convergence = conv
  result.generator = {
    cpu_s: round((g1.user + g1.system) / 1e6, 2),
    cpu_pct: round(((g1.user + g1.system) / 1e6 / secs) * 100, 1),
    event_loop_delay_p99_ms: round(loop.percentile(99) / 1e6, 1),
    event_loop_delay_max_ms: round(loop.max / 1e6, 1),
    yjs_apply_ms: m.applyMs,
    unknown_messages: m.unknownMessages,
    bad_awareness: m.badAwareness,
    ws_extensions: m.extensions
  }
  for (const c of clients) c.destroy()
  return result
}

// ---- S4: cold join ---------------------------------------------------------

function holdsAll (c, n) { return c.paths.size >= n }

async function timedJoin (seat, n, timeoutMs) {
  const c = new BenchClient({ ...seat, m, deflate: DEFLATE, color: '#1e1e1e' })
  const t0 = Date.now()
  try {
    await c.connect(timeoutMs)
    await new Promise((resolve, reject) => {
      if (holdsAll(c, n)) return resolve()
      const left = Math.max(1, timeoutMs - (Date.now() - t0))
      const timer = setTimeout(() => reject(new Error(`timeout holding ${c.paths.size}/${n}`)), left)
      c.onPathsChanged = () => { if (holdsAll(c, n)) { clearTimeout(timer); resolve() } }
    })
    return { ms: Date.now() - t0, ok: true, client: c }
  } catch (err) {
    m.fail(`join-${err.message.split(' ')[0]}`)
    c.destroy()
    return { ms: Date.now() - t0, ok: false, error: err.message, held: c.paths.size }
  }
}

async function runColdJoin (spec) {
  const n = S4_PATHS
  const result = { peer: PEER, scenario: SCEN, title: spec.title.replace('20,000', n.toLocaleString('en')), params: { ...spec, paths: n, deflate: DEFLATE } }
  const joinTimeout = Math.max(60000, CONNECT_TIMEOUT_MS)
  const room = await openRoom(PEER, PORT, `bench-S4-${Math.random().toString(36).slice(2, 8)}`)
  const seats = await room.seats(1 + 1 + spec.sequential + spec.concurrent)
  // Warm up first (a small room, one stroke, one client that leaves): what a server
  // allocates once, on its first room and connection, is not the big room's cost.
  const warm = await openRoom(PEER, PORT, `bench-S4-warm-${Math.random().toString(36).slice(2, 8)}`)
  const [warmSeat] = await warm.seats(1)
  const warmClient = new BenchClient({ ...warmSeat, m, deflate: DEFLATE, color: '#1e1e1e' })
  await warmClient.connect(CONNECT_TIMEOUT_MS)
  writePath(warmClient.doc, newPathId(), { d: 'M 0 0 L 1 1', color: '#1e1e1e', width: 2, ts: Date.now() })
  await sleep(1000)
  warmClient.destroy()
  await sleep(1000)
  const idle = serverSample()

  // Preload through one client that stays connected (servers without
  // persistence drop a document when its last client leaves).
  const loader = new BenchClient({ ...seats[0], m, deflate: DEFLATE, color: '#1e1e1e' })
  await loader.connect(CONNECT_TIMEOUT_MS)
  const tLoad = Date.now()
  const chunk = 500
  const ts0 = Date.now()
  for (let i = 0; i < n; i += chunk) {
    loader.doc.transact(() => {
      const paths = loader.paths
      for (let k = i; k < Math.min(n, i + chunk); k++) {
        const x = k % 1000
        const y = Math.floor(k / 1000) * 10
        const reg = new Y.Array()
        reg.push([{ d: `M ${x} ${y} L ${x + 3} ${y + 4} L ${x + 8} ${y + 1} L ${x + 12} ${y + 6}`, color: COLORS[k % COLORS.length], width: 2, ts: ts0 + k }])
        paths.set(newPathId(), reg)
      }
    })
    for (let w = 0; w < 2000 && loader.ws.bufferedAmount > 1 << 20; w++) await sleep(5)
  }
  for (let w = 0; w < 6000 && loader.ws.bufferedAmount > 0; w++) await sleep(5)
  const sentMs = Date.now() - tLoad
  log(`preload of ${n} paths sent in ${sentMs} ms`)
  // The first fresh client doubles as the check that the server holds everything.
  const first = await timedJoin(seats[1], n, 120000)
  if (first.client) first.client.destroy()
  const afterLoad = serverSample()
  result.preload = { paths: n, send_ms: sentMs, verified: first.ok, first_join_ms: first.ms, first_join_error: first.error ?? null, held: first.held ?? n }
  log(`first join ${first.ok ? 'held all' : 'FAILED: ' + first.error} in ${first.ms} ms`)

  const j0 = serverSample()
  const cpu0 = j0.cpu_s
  const fine0 = cpuSecondsPrecise(SERVER_PID)
  const t0 = Date.now()
  const sequential = []
  if (!first.ok) {
    // The server never held the preload: more joins would only wait out their deadlines.
    loader.destroy()
    result.cold_join = { one_at_a_time_ms: summarize([]), ten_at_once_ms: summarize([]), failed: 1 + spec.sequential + spec.concurrent, errors: [first.error], skipped: 'first join failed' }
    result.server = { ...afterLoad.mem, rss_idle_mb: idle.mem?.rss_mb ?? null, rss_after_preload_mb: afterLoad.mem?.rss_mb ?? null }
    result.failures = { during_connect: 0, during_load: m.failCount, reasons: m.failures }
    return result
  }
  for (let i = 0; i < spec.sequential; i++) {
    const r = await timedJoin(seats[2 + i], n, joinTimeout)
    if (r.client) r.client.destroy()
    sequential.push(r)
  }
  const fineMid = cpuSecondsPrecise(SERVER_PID)
  const concurrent = await Promise.all(seats.slice(2 + spec.sequential).map(s => timedJoin(s, n, joinTimeout)))
  const cpu1 = cpuSeconds(SERVER_PID)
  const fine1 = cpuSecondsPrecise(SERVER_PID)
  const end = serverSample()
  for (const r of concurrent) if (r.client) r.client.destroy()
  // The loaded room at rest: only the loader left, nothing drawn for 25 s (longer than
  // ours' default WHITEBOARD_ROOM_SLEEP_AFTER_S, after which a quiet document sleeps).
  await sleep(25000)
  const settled = serverSample()
  const docBytes = Y.encodeStateAsUpdate(loader.doc).length
  loader.destroy()
  const ok = rs => rs.filter(r => r.ok).map(r => r.ms)
  result.cold_join = {
    one_at_a_time_ms: summarize(ok(sequential)),
    ten_at_once_ms: summarize(ok(concurrent)),
    failed: sequential.filter(r => !r.ok).length + concurrent.filter(r => !r.ok).length,
    errors: [...sequential, ...concurrent].filter(r => !r.ok).map(r => r.error),
    bytes_per_join: Math.round(m.bytesIn / (2 + spec.sequential + spec.concurrent))
  }
  const oneJoinCpu = sequential.length ? (fineMid - fine0) / sequential.length : null
  const roomMb = settled.mem?.rss_mb != null && idle.mem?.rss_mb != null ? settled.mem.rss_mb - idle.mem.rss_mb : null
  result.server = {
    cpu_s: round(cpu1 - cpu0, 2),
    // Server CPU of one join alone, and of the 10 that came at once together.
    cpu_one_join_s: round(oneJoinCpu, 3),
    cpu_ten_joins_s: round(fine1 - fineMid, 3),
    ten_joins_cost_x: oneJoinCpu ? round((fine1 - fineMid) / oneJoinCpu, 1) : null,
    doc_mb: round(docBytes / 1048576, 2),
    rss_settled_mb: settled.mem?.rss_mb ?? null,
    // What holding the loaded room costs: RSS at rest over RSS before it existed.
    room_rss_mb: round(roomMb, 1),
    room_rss_per_doc_x: roomMb != null ? round(roomMb / (docBytes / 1048576), 1) : null,
    cpu_pct: round(((cpu1 - cpu0) / ((Date.now() - t0) / 1000)) * 100, 1),
    rss_idle_mb: idle.mem?.rss_mb ?? null,
    rss_after_preload_mb: afterLoad.mem?.rss_mb ?? null,
    ...end.mem
  }
  result.failures = { during_connect: 0, during_load: m.failCount, reasons: m.failures }
  result.background = background(j0, end)
  return result
}

function round (x, digits = 1) {
  if (x === null || x === undefined || !isFinite(x)) return null
  const f = 10 ** digits
  return Math.round(x * f) / f
}

const spec = SCENARIOS[SCEN]
let result
try {
  result = spec.cold ? await runColdJoin(spec) : await runLoadScenario(spec)
  result.ok = true
} catch (err) {
  log('failed:', err.stack || err.message)
  result = { peer: PEER, scenario: SCEN, ok: false, error: String(err.message || err), failures: { reasons: m.failures } }
}
result.event = 'result'
if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2))
emit(result)
clearTimeout(hardStop)
setTimeout(() => process.exit(0), 200)
