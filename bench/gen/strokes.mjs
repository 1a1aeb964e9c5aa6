// The `paths` document of docs/protocol.md §3, as a writer and as a reader.
//
// A stroke is one register that grows: version n has n+1 points. Point j
// carries the write time of version j in its y coordinate (ts mod 1e7, as
// "hhhhh.hh"), so a reader that only ever sees version n -- because a batching
// server merged n-1 and n into one update, and the writer deleted n-1 -- still
// knows when every earlier version was written, and credits each one as
// delivered when a version that contains it arrives. That is the fair count
// for batching and non-batching servers alike: "what the receiver's screen
// reflects", with the staleness each write actually had.

import * as Y from 'yjs'
import { createHash, randomBytes } from 'node:crypto'

const MOD = 10_000_000

export function newPathId () {
  return randomBytes(12).toString('base64url') // 96 bits, matches ^[A-Za-z0-9_-]{1,64}$
}

function canonicalValue (v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return '[' + v.map(canonicalValue).join(',') + ']'
  return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + canonicalValue(v[k])).join(',') + '}'
}
export const canonical = canonicalValue
export const wins = (a, b) => a.ts !== b.ts ? a.ts > b.ts : canonical(a) > canonical(b)
export const current = arr => arr.reduce((a, b) => (wins(a, b) ? a : b))

/** docs/protocol.md §3 writePath, verbatim in spirit: push, then delete what it supersedes. */
export function writePath (doc, id, value) {
  const paths = doc.getMap('paths')
  doc.transact(() => {
    let reg = paths.get(id)
    if (!reg) { reg = new Y.Array(); paths.set(id, reg) }
    const old = reg.toArray()
    reg.push([value])
    for (let i = old.length - 1; i >= 0; i--) if (wins(value, old[i])) reg.delete(i, 1)
  })
}

function encodeTs (ts) {
  const r = ts % MOD
  return `${Math.floor(r / 100)}.${String(r % 100).padStart(2, '0')}`
}

/** A writer's stroke: call next() for each version until done. */
export class Stroke {
  constructor (versions, color, seed) {
    this.id = newPathId()
    this.versions = versions
    this.color = color
    this.points = [] // "x y" strings, point j carrying ts_j
    this.x0 = 10 + (seed * 37) % 900
    this.n = 0
  }

  get done () { return this.n >= this.versions }

  nextValue () {
    const ts = Date.now()
    this.points.push(`${this.x0 + this.n * 4} ${encodeTs(ts)}`)
    this.n++
    const d = 'M ' + this.points.join(' L ')
    return { d, color: this.color, width: 2, ts }
  }
}

/**
 * Version index and the write times of versions 0..n, decoded from `d`.
 * Returns null for anything that is not one of our strokes (tombstones,
 * preloaded paths).
 */
export function decodeStroke (v) {
  if (!v || typeof v.d !== 'string' || typeof v.ts !== 'number') return null
  const pts = v.d.slice(2).split(' L ')
  const n = pts.length - 1
  const tsAt = j => {
    const y = pts[j].slice(pts[j].indexOf(' ') + 1)
    const low = Math.round(parseFloat(y) * 100)
    return v.ts - (((v.ts % MOD) - low + MOD) % MOD)
  }
  return { n, tsAt }
}

/** A stable hash of every register's winner, to compare replicas. */
export function pathsHash (doc) {
  const paths = doc.getMap('paths')
  const keys = [...paths.keys()].sort()
  const h = createHash('sha1')
  for (const k of keys) {
    const reg = paths.get(k)
    const arr = reg instanceof Y.Array ? reg.toArray() : []
    h.update(k)
    h.update('=')
    h.update(arr.length ? canonical(current(arr)) : '-')
    h.update('\n')
  }
  return { hash: h.digest('hex').slice(0, 16), size: keys.length }
}
