// The demo board that invite links open (/rooms/<room id>), and the "New board" page (/).
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import './board.css'
import { askText, h } from './dom.js'
import { CursorLayer } from './cursors.js'
import {
  createRoom, forgetSession, joinRoom, lastName, loadSession, websocketBase
} from './session.js'
import { StrokeLayer } from './strokes.js'
import { Tools } from './tools.js'

const PALETTE = ['#1e1e1e', '#e03131', '#2f9e44', '#1971c2', '#f08c00', '#9c36b5']
const CURSOR_COLORS = ['#e03131', '#c2255c', '#9c36b5', '#6741d9', '#3b5bdb', '#1971c2',
  '#0c8599', '#099268', '#2f9e44', '#e8590c']

function home () {
  document.title = 'Whiteboard'
  askText({
    title: 'Whiteboard',
    text: 'Start a board and share its link: everyone who opens it draws with you, live.',
    label: 'Your name',
    value: lastName(),
    button: 'New board',
    onSubmit: async name => { location.assign(await createRoom(name)) }
  })
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

function toolbar (state, roomId, session) {
  const toolButton = (tool, label, title) => h('button', {
    type: 'button', class: 'tool', 'data-tool': tool, title,
    onclick: () => setTool(tool)
  }, label)
  const tools = [toolButton('pen', 'Pen', 'Pen (P)'), toolButton('eraser', 'Eraser', 'Eraser (E): click or drag over strokes')]
  const colorInput = h('input', { type: 'color', value: state.color, title: 'Colour', oninput: e => setColor(e.target.value) })
  const swatches = PALETTE.map(c => h('button', {
    type: 'button', class: 'swatch', style: `--c: ${c}`, title: c, 'data-color': c, onclick: () => setColor(c)
  }))
  const widthOut = h('output', {}, String(state.width))
  const widthInput = h('input', {
    type: 'range', min: 1, max: 40, value: state.width, title: 'Width',
    oninput: e => { state.width = Number(e.target.value); widthOut.textContent = e.target.value }
  })
  const download = h('a', { class: 'download', download: true }, 'Download SVG')
  const status = h('button', { type: 'button', class: 'status', 'data-state': 'connecting' },
    h('span', { class: 'dot' }), h('span', { class: 'text' }, 'Connecting…'))
  const people = h('div', { class: 'people' })
  const bar = h('header', { class: 'toolbar' },
    h('a', { class: 'brand', href: '/', title: 'New board' }, 'Whiteboard'),
    h('div', { class: 'group' }, tools),
    h('div', { class: 'group' }, swatches, colorInput),
    h('label', { class: 'group width' }, widthInput, widthOut),
    h('div', { class: 'spacer' }),
    people, download, status)

  function setTool (tool) {
    state.tool = tool
    tools.forEach(b => b.setAttribute('aria-pressed', String(b.dataset.tool === tool)))
    document.body.classList.toggle('erasing', tool === 'eraser')
  }
  function setColor (color) {
    state.color = color
    colorInput.value = color
    swatches.forEach(b => b.setAttribute('aria-pressed', String(b.dataset.color === color)))
    setTool('pen')
  }
  function setToken (token) {
    download.href = `/api/rooms/${roomId}/svg?token=${encodeURIComponent(token)}`
  }
  function setStatus (kind, text) {
    status.dataset.state = kind
    status.lastChild.textContent = text
  }
  setTool('pen')
  setColor(state.color)
  setToken(session.token)
  window.addEventListener('keydown', e => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return
    if (e.key === 'p' || e.key === 'b') setTool('pen')
    if (e.key === 'e') setTool('eraser')
  })
  return { bar, people, status, setToken, setStatus }
}

async function board (roomId) {
  let session = loadSession(roomId) || await askName(roomId)
  const state = { tool: 'pen', color: PALETTE[0], width: 3 }
  const ui = toolbar(state, roomId, session)
  const svg = h('svg', { class: 'board', xmlns: 'http://www.w3.org/2000/svg' }, h('g', { class: 'strokes' }))
  const overlay = h('div', { class: 'cursors' })
  document.body.append(svg, overlay, ui.bar)

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

  provider.on('status', ({ status }) => {
    if (status === 'connected') ui.setStatus('connected', provider.synced ? 'Live' : 'Syncing…')
    else if (status === 'connecting') ui.setStatus('connecting', 'Connecting…')
    else ui.setStatus('offline', 'Offline, retrying…')
  })
  provider.on('sync', synced => { if (synced && provider.wsconnected) ui.setStatus('connected', 'Live') })
  // 4400-4499 closes are final for the provider (y-websocket's `closed` event).
  provider.on('closed', async ({ code }) => {
    if (code === 4401 || code === 4403) {
      ui.setStatus('offline', 'Signed out')
      forgetSession(roomId)
      session = await askName(roomId, 'Your pass for this board has expired: type your name to carry on.')
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
  window.addEventListener('blur', () => awareness.setLocalStateField('cursor', null))
}

const match = location.pathname.match(/^\/rooms\/([^/]+)\/?$/)
if (match) board(decodeURIComponent(match[1]).toLowerCase())
else home()
