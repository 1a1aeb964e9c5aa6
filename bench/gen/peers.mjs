// How each server is addressed: where to connect, which framing, and (for
// ours) the REST calls that hand out tokens. Only loopback addresses.

const HOST = '127.0.0.1'

async function postJson (url, body, timeoutMs = 15000) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await res.text()
  let json = null
  try { json = JSON.parse(text) } catch {}
  if (!res.ok) throw new Error(`POST ${new URL(url).pathname} -> ${res.status} ${text.slice(0, 200)}`)
  return { status: res.status, json }
}

function loopbackWs (wsUrl, port) {
  // Keep the path the server gave us, but never leave loopback.
  const u = new URL(wsUrl)
  u.protocol = 'ws:'
  u.hostname = HOST
  u.port = String(port)
  return u.toString()
}

/** Run async jobs with bounded concurrency. */
export async function pool (items, limit, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/**
 * A room on the given peer. `seats(n)` returns n connection descriptors:
 * { url, docName, hocuspocus, token, name }.
 */
export async function openRoom (peer, port, label) {
  const base = `http://${HOST}:${port}`
  switch (peer) {
    case 'yws':
    case 'pycrdt':
      return {
        label,
        seats: async n => Array.from({ length: n }, (_, i) => ({ url: `ws://${HOST}:${port}/${label}`, docName: label, hocuspocus: false, token: null, name: `u${i}` }))
      }
    case 'hocuspocus':
    case 'hocuspocus100':
      return {
        label,
        seats: async n => Array.from({ length: n }, (_, i) => ({ url: `ws://${HOST}:${port}`, docName: label, hocuspocus: true, token: 'bench', name: `u${i}` }))
      }
    case 'ours': {
      const created = await postJson(`${base}/api/rooms`, { name: 'bench' })
      if (created.status !== 201) throw new Error(`POST /api/rooms answered ${created.status}, expected 201`)
      const { room_id: roomId, ws_url: wsUrl, token, user } = created.json
      let first = true
      return {
        label: roomId,
        seats: async n => pool(Array.from({ length: n }, (_, i) => i), 16, async i => {
          if (first) {
            first = false
            return { url: `${loopbackWs(wsUrl, port)}?token=${encodeURIComponent(token)}`, docName: roomId, hocuspocus: false, token, name: user?.name ?? 'bench' }
          }
          const name = `u${i}-${Math.random().toString(36).slice(2, 6)}`
          const j = await postJson(`${base}/api/rooms/${roomId}/join`, { name })
          return { url: `${loopbackWs(j.json.ws_url, port)}?token=${encodeURIComponent(j.json.token)}`, docName: roomId, hocuspocus: false, token: j.json.token, name: j.json.user?.name ?? name }
        })
      }
    }
    default:
      throw new Error(`unknown peer ${peer}`)
  }
}
