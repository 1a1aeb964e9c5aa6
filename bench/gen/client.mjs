// One simulated user: a real Y.Doc, a y-websocket connection (optionally with
// Hocuspocus framing: every message prefixed with the document name as a
// varString, plus its auth handshake), awareness cursors, and the
// measurement hooks.

import WebSocket from 'ws'
import * as Y from 'yjs'
import * as syncProtocol from 'y-protocols/sync'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { decodeStroke } from './strokes.mjs'

const MSG_SYNC = 0
const MSG_AWARENESS = 1
const MSG_AUTH = 2
const MSG_QUERY_AWARENESS = 3
const MSG_HP_CLOSE = 7
const MSG_HP_SYNC_STATUS = 8
const AUTH_TOKEN = 0
const AUTH_DENIED = 1
const AUTH_OK = 2
const HOCUSPOCUS_PROVIDER_VERSION = '4.8.0'

const REMOTE = Symbol('remote')

// The send time of a cursor state, without a full JSON.parse: 100k states a
// second cost the generator less this way. Falls back to JSON.parse when the
// server rewrote the state into a shape this does not recognise.
function sendTime (json) {
  const i = json.indexOf('"t":')
  if (i < 0) return undefined
  let j = i + 4
  let v = 0
  for (let c = json.charCodeAt(j); c >= 48 && c <= 57; c = json.charCodeAt(++j)) v = v * 10 + (c - 48)
  return j > i + 4 ? v : undefined
}

export class BenchClient {
  /**
   * @param {object} o
   * @param {string} o.url websocket URL
   * @param {string} o.docName document name (hocuspocus framing) / room label
   * @param {boolean} o.hocuspocus use Hocuspocus framing + auth
   * @param {string} [o.token]
   * @param {string} o.name user name (must equal the token's name for ours)
   * @param {object} o.m shared metrics (see Metrics in main.mjs)
   * @param {boolean} o.deflate offer permessage-deflate, as browsers do
   */
  constructor (o) {
    this.o = o
    this.m = o.m
    this.doc = new Y.Doc()
    this.paths = this.doc.getMap('paths')
    this.ws = null
    this.synced = false
    this.closedByUs = false
    this.failed = null
    this.awarenessClock = 0
    this.color = o.color
    this.credited = new Map() // path id -> highest version index credited
    this.seenClocks = new Map() // remote awareness client id -> clock
    this.joinMs = null
    this.prefix = null
    if (o.hocuspocus) {
      const e = encoding.createEncoder()
      encoding.writeVarString(e, o.docName)
      this.prefix = encoding.toUint8Array(e)
    }
    this.doc.on('update', (update, origin) => {
      if (origin !== REMOTE) this.send(this.frame(MSG_SYNC, e => syncProtocol.writeUpdate(e, update)))
    })
    this.paths.observeDeep((events, txn) => { if (!txn.local) this.onPathEvents(events) })
  }

  frame (type, write) {
    const e = encoding.createEncoder()
    if (this.prefix) encoding.writeUint8Array(e, this.prefix)
    encoding.writeVarUint(e, type)
    write(e)
    return encoding.toUint8Array(e)
  }

  send (buf) {
    const ws = this.ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return
    this.m.msgsOut++
    this.m.bytesOut += buf.length
    ws.send(buf)
  }

  /** Connect; resolves once the first sync step 2 arrived, rejects on failure or timeout. */
  connect (timeoutMs) {
    const t0 = Date.now()
    return new Promise((resolve, reject) => {
      let settled = false
      const done = (err) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err) { this.failed = err; reject(new Error(err)) } else { this.joinMs = Date.now() - t0; resolve(this.joinMs) }
      }
      this.onSynced = () => done(null)
      const timer = setTimeout(() => { done('timeout'); this.close() }, timeoutMs)
      let ws
      try {
        ws = new WebSocket(this.o.url, { perMessageDeflate: this.o.deflate, handshakeTimeout: timeoutMs, maxPayload: 512 * 1024 * 1024 })
      } catch (err) {
        done('bad-url')
        return
      }
      this.ws = ws
      ws.on('open', () => {
        this.m.extensions = ws.extensions || 'none'
        if (this.o.hocuspocus) {
          this.send(this.frame(MSG_AUTH, e => {
            encoding.writeVarUint(e, AUTH_TOKEN)
            encoding.writeVarString(e, this.o.token || 'bench')
            encoding.writeVarString(e, HOCUSPOCUS_PROVIDER_VERSION)
          }))
        }
        this.send(this.frame(MSG_SYNC, e => syncProtocol.writeSyncStep1(e, this.doc)))
      })
      ws.on('message', (data) => this.onMessage(data))
      ws.on('unexpected-response', (_req, res) => { done(`http-${res.statusCode}`); ws.terminate() })
      ws.on('error', (err) => {
        const code = err.code || 'error'
        if (!settled) done(`ws-${code}`)
        else if (!this.closedByUs) this.m.fail(`error-${code}`)
      })
      ws.on('close', (code) => {
        if (!settled) done(`closed-${code}`)
        else if (!this.closedByUs && !this.failed) { this.failed = `closed-${code}`; this.m.fail(`dropped-${code}`) }
      })
    })
  }

  onMessage (data) {
    const u8 = new Uint8Array(data.buffer, data.byteOffset, data.length)
    this.m.msgsIn++
    this.m.bytesIn += u8.length
    const dec = decoding.createDecoder(u8)
    if (this.prefix) decoding.readVarString(dec)
    const type = decoding.readVarUint(dec)
    switch (type) {
      case MSG_SYNC: {
        const reply = encoding.createEncoder()
        if (this.prefix) encoding.writeUint8Array(reply, this.prefix)
        encoding.writeVarUint(reply, MSG_SYNC)
        const empty = encoding.length(reply)
        const t = Date.now()
        const st = syncProtocol.readSyncMessage(dec, reply, this.doc, REMOTE)
        this.m.applyMs += Date.now() - t
        if (encoding.length(reply) > empty) this.send(encoding.toUint8Array(reply))
        if (st === syncProtocol.messageYjsSyncStep2 && !this.synced) {
          this.synced = true
          this.onSynced?.()
        }
        break
      }
      case MSG_AWARENESS:
        this.onAwareness(decoding.readVarUint8Array(dec))
        break
      case MSG_QUERY_AWARENESS:
        if (this.lastCursor) this.sendCursor(this.lastCursor)
        break
      case MSG_AUTH: {
        const sub = decoding.readVarUint(dec)
        if (sub === AUTH_DENIED) { this.m.fail('auth-denied'); this.close() } else if (sub === AUTH_TOKEN) {
          this.send(this.frame(MSG_AUTH, e => { encoding.writeVarUint(e, AUTH_TOKEN); encoding.writeVarString(e, this.o.token || 'bench') }))
        } else if (sub !== AUTH_OK) this.m.fail('auth-unknown')
        break
      }
      case MSG_HP_SYNC_STATUS:
      case MSG_HP_CLOSE:
        break
      default:
        this.m.unknownMessages++
    }
  }

  // Awareness is decoded by hand (the y-protocols wire format: count, then
  // clientID, clock, JSON state per entry): a full Awareness instance per
  // simulated client would cost the generator more than the servers.
  onAwareness (update) {
    const dec = decoding.createDecoder(update)
    const n = decoding.readVarUint(dec)
    const now = Date.now()
    for (let i = 0; i < n; i++) {
      const id = decoding.readVarUint(dec)
      const clock = decoding.readVarUint(dec)
      const json = decoding.readVarString(dec)
      if (id === this.doc.clientID) continue
      const prev = this.seenClocks.get(id)
      if (prev !== undefined && clock <= prev) continue
      this.seenClocks.set(id, clock)
      if (json === 'null') continue
      let t = sendTime(json)
      if (t === undefined) {
        try {
          const s = JSON.parse(json)
          t = s.cursor?.t ?? s.t
        } catch { this.m.badAwareness++; continue }
      }
      if (typeof t === 'number' && t >= this.m.measureFrom && this.m.measuring) {
        this.m.cursorDelivered++
        this.m.cursorLat.record(now - t)
        // States this one superseded on the way (a server that coalesces awareness sends
        // only the newest per window): what the receiver shows reflects them, as a merged
        // path version does. Counted apart, never mixed into the latency.
        if (prev !== undefined && clock > prev + 1) this.m.cursorSuperseded += clock - prev - 1
      }
    }
  }

  sendCursor (cursor) {
    this.lastCursor = cursor
    const state = JSON.stringify({ user: { name: this.o.name, color: this.color }, cursor })
    this.send(this.frame(MSG_AWARENESS, e => {
      const inner = encoding.createEncoder()
      encoding.writeVarUint(inner, 1)
      encoding.writeVarUint(inner, this.doc.clientID)
      encoding.writeVarUint(inner, ++this.awarenessClock)
      encoding.writeVarString(inner, state)
      encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
    }))
  }

  onPathEvents (events) {
    const now = Date.now()
    const m = this.m
    for (const ev of events) {
      if (ev.target === this.paths) {
        for (const [key, change] of ev.changes.keys) {
          if (change.action === 'delete') continue
          const reg = this.paths.get(key)
          if (reg instanceof Y.Array) for (const v of reg.toArray()) this.credit(key, v, now)
        }
      } else {
        const key = ev.path[0]
        for (const d of ev.changes.delta) if (d.insert) for (const v of d.insert) this.credit(key, v, now)
      }
    }
    if (this.onPathsChanged) this.onPathsChanged()
    m.pathEvents++
  }

  credit (key, v, now) {
    const m = this.m
    if (!m.measuring) return
    const s = decodeStroke(v)
    if (s === null) return
    const last = this.credited.has(key) ? this.credited.get(key) : -1
    if (s.n <= last) return
    for (let j = last + 1; j <= s.n; j++) {
      const ts = s.tsAt(j)
      if (ts < m.measureFrom) continue
      m.pathDelivered++
      m.pathLat.record(now - ts)
    }
    this.credited.set(key, s.n)
  }

  close () {
    this.closedByUs = true
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) {
      try { this.ws.close(1000) } catch { this.ws.terminate() }
    }
  }

  destroy () {
    this.close()
    this.doc.destroy()
  }
}
