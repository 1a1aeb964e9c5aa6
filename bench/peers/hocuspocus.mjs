// Hocuspocus as its README starts it: no extensions, default configuration,
// listening on loopback. `--flush-delay MS` sets its optional broadcast batching
// window (default 0: coalesce within one event-loop turn).
import { Server } from '@hocuspocus/server'

const argv = process.argv.slice(2)
const opt = k => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined }
const port = Number(opt('--port') ?? 1234)
const flushDelay = opt('--flush-delay')

const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  ...(flushDelay !== undefined ? { flushDelay: Number(flushDelay) } : {})
})
await server.listen()
console.log(`hocuspocus listening on 127.0.0.1:${server.address.port}`)
