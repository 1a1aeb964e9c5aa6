// Other people from awareness: their cursors with name labels on the board, and a row of
// name badges in the toolbar. Awareness states look like
// {"user": {"name", "color"}, "cursor": {"x", "y"} | null} (docs/protocol.md §3).
import { h } from './dom.js'

const COLOR = /^#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?$/
const ARROW = 'M1 1 L1 17 L5.5 12.5 L8.5 19.5 L11 18.5 L8 11.5 L14 11.5 Z'

const colorOf = user => (user && typeof user.color === 'string' && COLOR.test(user.color)
  ? user.color.slice(0, 7)
  : '#868e96')
const nameOf = user => (user && typeof user.name === 'string' ? user.name : 'Someone')
const initials = name => name.trim().split(/\s+/).slice(0, 2).map(w => w[0]).join('').toUpperCase()

export class CursorLayer {
  constructor (overlay, people, awareness) {
    this.overlay = overlay
    this.people = people
    this.awareness = awareness
    this.cursors = new Map() // client id -> element
    awareness.on('change', () => this.render())
    this.render()
  }

  render () {
    const me = this.awareness.clientID
    const seen = new Set()
    const badges = []
    this.awareness.getStates().forEach((state, clientId) => {
      if (!state || !state.user) return
      const color = colorOf(state.user)
      const name = nameOf(state.user)
      badges.push(h('span', {
        class: clientId === me ? 'badge me' : 'badge',
        style: `--c: ${color}`,
        title: clientId === me ? `${name} (you)` : name
      }, initials(name) || '?'))
      const cursor = state.cursor
      if (clientId === me || !cursor) return
      if (!Number.isFinite(cursor.x) || !Number.isFinite(cursor.y)) return
      seen.add(clientId)
      let el = this.cursors.get(clientId)
      if (!el) {
        el = h('div', { class: 'cursor' },
          h('svg', { width: 20, height: 22, viewBox: '0 0 20 22' }, h('path', { d: ARROW })),
          h('span', { class: 'label' }))
        this.overlay.append(el)
        this.cursors.set(clientId, el)
      }
      el.style.setProperty('--c', color)
      el.style.transform = `translate(${cursor.x}px, ${cursor.y}px)`
      el.lastChild.textContent = name
    })
    for (const [clientId, el] of this.cursors) {
      if (!seen.has(clientId)) { el.remove(); this.cursors.delete(clientId) }
    }
    this.people.replaceChildren(...badges)
  }
}
