// The floating toolbar: pen and eraser, colour, width, who is here, the History button, the SVG
// download link and the connection status. `state` ({ tool, color, width }) is what the pen reads on each stroke.
import { h } from './dom.js'

export const PALETTE = ['#1e1e1e', '#e03131', '#2f9e44', '#1971c2', '#f08c00', '#9c36b5']

export function toolbar (state, roomId) {
  const toolButton = (tool, label, title) => h('button', {
    type: 'button', class: 'tool', 'data-tool': tool, title, onclick: () => setTool(tool)
  }, label)
  const tools = [
    toolButton('pen', 'Pen', 'Pen (P)'),
    toolButton('eraser', 'Eraser', 'Eraser (E): click or drag over strokes')
  ]
  const swatches = PALETTE.map(color => h('button', {
    type: 'button', class: 'swatch', style: `--c: ${color}`, title: color, 'data-color': color,
    onclick: () => setColor(color)
  }))
  const colorInput = h('input', {
    type: 'color', value: state.color, title: 'Any colour', oninput: e => setColor(e.target.value)
  })
  const widthOut = h('output', {}, String(state.width))
  const widthInput = h('input', {
    type: 'range', min: 1, max: 40, value: state.width, title: 'Width',
    oninput: e => { state.width = Number(e.target.value); widthOut.textContent = e.target.value }
  })
  const people = h('div', { class: 'people' })
  const history = h('button', { type: 'button', class: 'tool history-toggle' }, 'History')
  const download = h('a', { class: 'download', download: true }, 'Download SVG')
  const status = h('button', { type: 'button', class: 'status', 'data-state': 'connecting' },
    h('span', { class: 'dot' }), h('span', { class: 'text' }, 'Connecting…'))
  const bar = h('header', { class: 'toolbar' },
    h('a', { class: 'brand', href: '/', title: 'Start a new board' }, 'Whiteboard'),
    h('div', { class: 'group' }, tools),
    h('div', { class: 'group' }, swatches, colorInput),
    h('label', { class: 'group width' }, widthInput, widthOut),
    h('div', { class: 'spacer' }),
    people, history, download, status)

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
  window.addEventListener('keydown', e => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return
    if (e.key === 'p') setTool('pen')
    if (e.key === 'e') setTool('eraser')
  })
  setColor(state.color)

  return {
    bar,
    people,
    history,
    status,
    setToken (token) {
      download.href = `/api/rooms/${roomId}/svg?token=${encodeURIComponent(token)}`
    },
    setStatus (kind, text) {
      status.dataset.state = kind
      status.lastChild.textContent = text
    }
  }
}
