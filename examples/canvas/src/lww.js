// The `paths` document (docs/protocol.md §3): one last-write-wins register per stroke, a Y.Array of
// versions whose winner has the greatest `ts`, ties broken by the greater canonical JSON text.
import * as Y from 'yjs'

const sortKeys = v => Array.isArray(v)
  ? v.map(sortKeys)
  : (v && typeof v === 'object'
      ? Object.fromEntries(Object.keys(v).sort().map(k => [k, sortKeys(v[k])]))
      : v)
export const canonical = v => JSON.stringify(sortKeys(v))
export const wins = (a, b) => a.ts !== b.ts ? a.ts > b.ts : canonical(a) > canonical(b)
export const current = reg => reg.toArray().reduce((a, b) => (wins(a, b) ? a : b))

// Push `value` (without ts) as the register's new version and, in the same transaction, delete
// the versions it supersedes. `ts` is the writer's clock; `minTs` lets one writer keep its own
// successive versions of a stroke in order when two land in the same millisecond.
export function writePath (doc, id, value, minTs = 0) {
  const paths = doc.getMap('paths')
  const v = { ...value, ts: Math.max(Date.now(), minTs) }
  doc.transact(() => {
    let reg = paths.get(id)
    if (!(reg instanceof Y.Array)) { reg = new Y.Array(); paths.set(id, reg) }
    const old = reg.toArray()
    reg.push([v])
    for (let i = old.length - 1; i >= 0; i--) if (wins(v, old[i])) reg.delete(i, 1)
  })
  return v
}

export const erasePath = (doc, id) => writePath(doc, id, { deleted: true })

// 16 characters of [A-Za-z0-9_-]: 96 random bits.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'
export function newPathId () {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, b => ALPHABET[b & 63]).join('')
}

const COLOR = /^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/

// The winner of a register if it is a stroke to draw; null for a tombstone, an empty register
// or anything malformed (the server cleans those, but a page must never trust its input).
export function drawable (reg) {
  if (!(reg instanceof Y.Array) || reg.length === 0) return null
  if (!reg.toArray().every(v => v && typeof v === 'object' && typeof v.ts === 'number')) return null
  const v = current(reg)
  if (v.deleted === true) return null
  const ok = typeof v.d === 'string' && typeof v.color === 'string' && COLOR.test(v.color) &&
    typeof v.width === 'number' && v.width > 0 && v.width <= 1000
  return ok ? v : null
}
