// The demo board that invite links open (/rooms/<room id>), and the "New board" page (/).
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import './board.css'
import { askText, h } from './dom.js'
import { CursorLayer } from './cursors.js'
import { HistoryPanel } from './history.js'
import {
  createRoom, forgetSession, joinRoom, lastName, loadSession, websocketBase
} from './session.js'
import { StrokeLayer } from './strokes.js'
import { PALETTE, toolbar } from './toolbar.js'
import { Tools } from './tools.js'

const CURSOR_COLORS = ['#e03131', '#c2255c', '#9c36b5', '#6741d9', '#3b5bdb', '#1971c2',
  '#0c8599', '#099268', '#2f9e44', '#e8590c']

const IMPORTED_KEY = 'whiteboard:imported'

function home () {
  askText({
    title: 'Whiteboard',
    text: 'Start a board and share its link: everyone who opens it draws with you, live.',
    label: 'Your name',
    value: lastName(),
    file: { label: 'Start from an SVG file…', accept: '.svg,image/svg+xml' },
    button: 'New board',
    onSubmit: async (name, file) => {
      const room = await createRoom(name, file)
      if (file) {
        sessionStorage.setItem(IMPORTED_KEY, JSON.stringify({
          room: room.room_id, file: file.name, paths: room.imported_paths
        }))
      }
      location.assign(room.invite_url)
    }
  })
}

// The note "Started from <file>: N strokes imported", once, on the board the home page created.
function showImported (roomId) {
  let imported = null
  try { imported = JSON.parse(sessionStorage.getItem(IMPORTED_KEY)) } catch {}
  if (!imported || imported.room !== roomId) return
  sessionStorage.removeItem(IMPORTED_KEY)
  const n = imported.paths
  const note = h('div', { class: 'notice', role: 'status' },
    h('span', {}, `Started from ${imported.file}: ${n} ${n === 1 ? 'stroke' : 'strokes'} imported.`),
    h('button', { type: 'button', 'aria-label': 'Dismiss', onclick: () => note.remove() }, '×'))
  note.dataset.imported = String(n)
  document.body.append(note)
}

function askName (roomId, reason) {
  return askText({
    title: 'Join the board',
    text: reason || 'Type your name: the others see it next to your cursor.',
    label: 'Your name',
    value: lastName(),
    button: 'Join',
    onSubmit: name => joinRoom(roomId, name)
  })
}

async function board (roomId) {
  let session = loadSession(roomId) || await askName(roomId)
  const state = { tool: 'pen', color: PALETTE[0], width: 3 }
  const ui = toolbar(state, roomId)
  ui.setToken(session.token)
  const svg = h('svg', { class: 'board' }, h('g', { class: 'strokes' }))
  const overlay = h('div', { class: 'cursors' })
  const history = new HistoryPanel(roomId, () => session.token, ui.history)
  document.body.append(svg, overlay, ui.bar, history.el)
  showImported(roomId)

  const doc = new Y.Doc()
  const provider = new WebsocketProvider(websocketBase(session, roomId), roomId, doc, {
    params: { token: session.token }
  })
  const awareness = provider.awareness
  const color = CURSOR_COLORS[Math.floor(Math.random() * CURSOR_COLORS.length)]
  awareness.setLocalState({ user: { name: session.name, color }, cursor: null })

  new StrokeLayer(svg.firstChild, doc.getMap('paths')) // eslint-disable-line no-new
  new Tools(svg, doc, awareness, () => state) // eslint-disable-line no-new
  new CursorLayer(overlay, ui.people, awareness) // eslint-disable-line no-new
  window.addEventListener('blur', () => awareness.setLocalStateField('cursor', null))

  provider.on('status', ({ status }) => {
    if (status === 'connected') ui.setStatus('connected', provider.synced ? 'Live' : 'Syncing…')
    else if (status === 'connecting') ui.setStatus('connecting', 'Connecting…')
    else ui.setStatus('offline', 'Offline, retrying…')
  })
  provider.on('sync', synced => {
    if (synced && provider.wsconnected) ui.setStatus('connected', 'Live')
  })
  // The server's 4400-4499 closes are final for the provider (its `closed` event).
  provider.on('closed', async ({ code }) => {
    if (code === 4401 || code === 4403) {
      ui.setStatus('offline', 'Signed out')
      forgetSession(roomId)
      session = await askName(roomId, 'Your pass for this board has expired: type your name again.')
      awareness.setLocalStateField('user', { name: session.name, color })
      provider.params.token = session.token
      ui.setToken(session.token)
      provider.connect()
    } else if (code === 4404) {
      ui.setStatus('offline', 'Board not found')
    } else {
      ui.setStatus('offline', `Closed (${code}): click to retry`)
    }
  })
  ui.status.addEventListener('click', () => { if (!provider.wsconnected) provider.connect() })
}

const match = location.pathname.match(/^\/rooms\/([^/]+)\/?$/)
if (match) board(decodeURIComponent(match[1]).toLowerCase())
else home()
