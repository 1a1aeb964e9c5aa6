// A real Yjs client (yjs + y-websocket's WebsocketProvider), driven by the pytest suite
// over stdin/stdout, one JSON object per line.
//   node client.mjs <ws base url> <room id> <token> <name>
// Commands: {"id", "op": "draw", "key", "value", "ts"?} | {"id", "op": "cursor", "cursor"}
//           {"id", "op": "state"} | {"id", "op": "quit"}
// Events:   {"event": "status" | "sync" | "close", ...}; replies: {"id", ...}
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import readline from 'node:readline'

const [, , serverUrl, roomId, token, name] = process.argv
const emit = obj => process.stdout.write(JSON.stringify(obj) + '\n')

const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, roomId, doc, {
  WebSocketPolyfill: WebSocket,
  params: { token },
  disableBc: true
})
provider.awareness.setLocalStateField('user', { name, color: '#1971c2' })
provider.on('status', e => emit({ event: 'status', status: e.status }))
provider.on('sync', synced => emit({ event: 'sync', synced }))
provider.on('connection-close', e => emit({ event: 'close', code: e ? e.code : null }))

// docs/protocol.md §3, as a frontend writes it.
const sortKeys = v => Array.isArray(v)
  ? v.map(sortKeys)
  : (v && typeof v === 'object'
      ? Object.fromEntries(Object.keys(v).sort().map(k => [k, sortKeys(v[k])]))
      : v)
const canonical = v => JSON.stringify(sortKeys(v))
const wins = (a, b) => a.ts !== b.ts ? a.ts > b.ts : canonical(a) > canonical(b)

function writePath (id, value, ts) {
  const paths = doc.getMap('paths')
  doc.transact(() => {
    let reg = paths.get(id)
    if (!reg) { reg = new Y.Array(); paths.set(id, reg) }
    const v = { ...value, ts: ts ?? Date.now() }
    const old = reg.toArray()
    reg.push([v])
    for (let i = old.length - 1; i >= 0; i--) if (wins(v, old[i])) reg.delete(i, 1)
  })
}
const current = reg => reg.toArray().reduce((a, b) => (wins(a, b) ? a : b))

function state () {
  const paths = {}
  doc.getMap('paths').forEach((reg, key) => {
    if (reg instanceof Y.Array && reg.length > 0) paths[key] = current(reg)
  })
  const awareness = {}
  provider.awareness.getStates().forEach((s, clientId) => { awareness[clientId] = s })
  return { paths, awareness, clientId: doc.clientID, synced: provider.synced }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', line => {
  const cmd = JSON.parse(line)
  switch (cmd.op) {
    case 'draw':
      writePath(cmd.key, cmd.value, cmd.ts)
      emit({ id: cmd.id, ok: true })
      break
    case 'cursor':
      provider.awareness.setLocalStateField('cursor', cmd.cursor)
      emit({ id: cmd.id, ok: true })
      break
    case 'state':
      emit({ id: cmd.id, ...state() })
      break
    case 'quit':
      provider.destroy()
      emit({ id: cmd.id, ok: true })
      setTimeout(() => process.exit(0), 50)
      break
    default:
      emit({ id: cmd.id, error: `unknown op ${cmd.op}` })
  }
})
rl.on('close', () => { provider.destroy(); process.exit(0) })
