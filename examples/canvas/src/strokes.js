// Draws the winner of every `paths` register into an SVG group, in the SVG export's order
// (ts, then key), and keeps it up to date as registers change, locally or from the server.
import { drawable } from './lww.js'
import { h } from './dom.js'

const HIT_MIN_WIDTH = 14

const before = (a, b) => a.ts !== b.ts ? a.ts < b.ts : a.id < b.id

export class StrokeLayer {
  constructor (group, paths) {
    this.group = group
    this.paths = paths
    this.shown = new Map() // id -> { id, ts, el, ink, hit }
    paths.forEach((_, id) => this.update(id))
    paths.observeDeep(events => {
      const ids = new Set()
      for (const event of events) {
        if (event.target === paths) event.keysChanged.forEach(id => ids.add(id))
        else if (event.path.length > 0) ids.add(String(event.path[0]))
      }
      ids.forEach(id => this.update(id))
    })
  }

  update (id) {
    const version = drawable(this.paths.get(id))
    const shown = this.shown.get(id)
    if (!version) {
      if (shown) { shown.el.remove(); this.shown.delete(id) }
      return
    }
    const entry = shown ?? this.create(id)
    entry.ink.setAttribute('d', version.d)
    entry.hit.setAttribute('d', version.d)
    entry.ink.setAttribute('stroke', version.color.slice(0, 7))
    entry.ink.setAttribute('stroke-opacity', version.color.length === 9
      ? String(parseInt(version.color.slice(7), 16) / 255)
      : '1')
    entry.ink.setAttribute('stroke-width', String(version.width))
    entry.hit.setAttribute('stroke-width', String(Math.max(version.width, HIT_MIN_WIDTH)))
    if (!shown || entry.ts !== version.ts) {
      entry.ts = version.ts
      this.place(entry)
    }
  }

  create (id) {
    const ink = h('path', { class: 'ink', 'data-id': id })
    const hit = h('path', { class: 'hit', 'data-id': id })
    const entry = { id, ts: 0, ink, hit, el: h('g', { class: 'stroke', 'data-id': id }, hit, ink) }
    this.shown.set(id, entry)
    return entry
  }

  // Keep the group ordered; a stroke being drawn has the newest ts, so this is nearly always an
  // append.
  place (entry) {
    let next = null
    for (let el = this.group.lastElementChild; el; el = el.previousElementSibling) {
      const other = this.shown.get(el.dataset.id)
      if (!other || other === entry) continue
      if (before(other, entry)) break
      next = el
    }
    if (next) this.group.insertBefore(entry.el, next)
    else if (entry.el !== this.group.lastElementChild) this.group.append(entry.el)
  }
}
