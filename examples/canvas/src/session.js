// Who this browser is in each room: the token from POST /api/rooms(/{id}/join), kept in
// localStorage per room, so that a reload or a second visit goes straight to the board.

const roomKey = roomId => `whiteboard:room:${roomId}`
const NAME_KEY = 'whiteboard:name'

export class ApiError extends Error {
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

function readJson (key) {
  try { return JSON.parse(localStorage.getItem(key)) } catch { return null }
}

function expired (token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
    return typeof payload.exp === 'number' && payload.exp * 1000 < Date.now() + 60_000
  } catch {
    return true
  }
}

/** The stored session for a room, or null if there is none or its token has expired. */
export function loadSession (roomId) {
  const s = readJson(roomKey(roomId))
  return s && typeof s.token === 'string' && !expired(s.token) ? s : null
}

export function forgetSession (roomId) {
  localStorage.removeItem(roomKey(roomId))
}

export const lastName = () => localStorage.getItem(NAME_KEY) || ''

function keep (body) {
  const session = {
    token: body.token, name: body.user.name, userId: body.user.id, wsUrl: body.ws_url
  }
  localStorage.setItem(roomKey(body.room_id), JSON.stringify(session))
  localStorage.setItem(NAME_KEY, body.user.name)
  return session
}

/**
 * Calls the API: `json` is sent as JSON, `form` (a FormData) as multipart, `token` as a Bearer
 * token. Resolves to the response (`read` picks its body: 'json' or 'blob'); a failure throws an
 * ApiError whose message is for people.
 */
export async function request (url, { method = 'GET', json, form, token, read = 'json' } = {}) {
  const headers = {}
  if (json !== undefined) headers['content-type'] = 'application/json'
  if (token) headers.authorization = `Bearer ${token}`
  let response
  try {
    response = await fetch(url, {
      method, headers, body: json !== undefined ? JSON.stringify(json) : form
    })
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.')
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}))
    throw new ApiError(response.status, explain(response.status, data.detail))
  }
  return read === 'blob' ? response.blob() : response.json()
}

function explain (status, detail) {
  if (status === 404) {
    return 'This board does not exist. Check the invite link, or start a new board.'
  }
  if (status === 401) return 'Your pass for this board has expired: reload the page.'
  if (status === 422 && typeof detail !== 'string') return 'Please type a name: 1 to 64 characters.'
  if (typeof detail === 'string') return detail
  return `The server answered ${status}.`
}

export async function joinRoom (roomId, name) {
  return keep(await request(`/api/rooms/${encodeURIComponent(roomId)}/join`, {
    method: 'POST', json: { name }
  }))
}

/**
 * Creates a room, from an SVG file if one is given (sent as a multipart form); its token is kept
 * like a join's. Returns the created room (invite_url, imported_paths, ...).
 */
export async function createRoom (name, file = null) {
  let body
  if (file) {
    const form = new FormData()
    form.append('name', name)
    form.append('svg', file, file.name)
    try {
      body = await request('/api/rooms', { method: 'POST', form })
    } catch (e) {
      if (e.status === 0 || e.status === 422) throw e
      const why = e.message.replace(/\.$/, '')
      throw new ApiError(e.status, `${file.name} cannot be used: ${why}. Nothing was created.`)
    }
  } else {
    body = await request('/api/rooms', { method: 'POST', json: { name } })
  }
  keep(body)
  return body
}

/** The y-websocket server URL (the part before `/<room id>`) for a session. */
export function websocketBase (session, roomId) {
  const suffix = `/${roomId}`
  if (typeof session.wsUrl === 'string' && session.wsUrl.endsWith(suffix)) {
    return session.wsUrl.slice(0, -suffix.length)
  }
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
}
