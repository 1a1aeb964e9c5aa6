// The History panel (docs/protocol.md §7): the board's history points, newest first, each with a
// preview (GET .../svg?at=) and "Restore this version" (POST .../restore). A restore is a change
// like any other: the board itself shows it through the normal sync, here and for everyone.
import { h } from './dom.js'
import { request } from './session.js'

const strokes = n => n === 1 ? '1 stroke' : `${n} strokes`
const when = at => new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

export class HistoryPanel {
  /** `token()` is the room's current token (it changes when an expired one is renewed). */
  constructor (roomId, token, toggle) {
    this.base = `/api/rooms/${encodeURIComponent(roomId)}`
    this.token = token
    this.toggle = toggle // the toolbar's History button
    this.previews = [] // blob URLs of the shown previews, revoked when the list is rebuilt
    this.loads = 0 // the latest list request; an older one that answers late is dropped
    this.list = h('ol', { class: 'points' })
    this.message = h('p', { class: 'message', role: 'status' })
    this.el = h('aside', {
      class: 'panel history', id: 'history-panel', 'aria-labelledby': 'history-title', hidden: true
    },
    h('header', {},
      h('h2', { id: 'history-title' }, 'History'),
      h('button', { type: 'button', class: 'tool refresh', onclick: () => this.refresh() }, 'Refresh'),
      h('button', {
        type: 'button', class: 'close', 'aria-label': 'Close history', onclick: () => this.close()
      }, '×')),
    h('p', { class: 'hint' },
      'The board as it stood at each point. Restoring one changes the board for everyone; ' +
      'nothing drawn since is lost: restore a newer point to bring it back.'),
    this.message,
    this.list)
    // Previews are fetched as they scroll into view: a board may have hundreds of points.
    this.observer = new IntersectionObserver(entries => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue
        this.observer.unobserve(entry.target)
        this.preview(entry.target)
      }
    }, { root: this.list })
    toggle.setAttribute('aria-controls', this.el.id)
    toggle.setAttribute('aria-expanded', 'false')
    toggle.addEventListener('click', () => (this.el.hidden ? this.open() : this.close()))
    window.addEventListener('keydown', e => { if (e.key === 'Escape' && !this.el.hidden) this.close() })
  }

  open () {
    this.el.hidden = false
    this.toggle.setAttribute('aria-expanded', 'true')
    this.el.querySelector('.refresh').focus()
    return this.refresh()
  }

  close () {
    this.el.hidden = true
    this.toggle.setAttribute('aria-expanded', 'false')
    this.toggle.focus()
  }

  say (text, kind = 'info') {
    this.message.textContent = text
    this.message.dataset.kind = kind
  }

  async refresh () {
    const load = ++this.loads
    this.el.setAttribute('aria-busy', 'true')
    try {
      const { points } = await request(`${this.base}/history`, { token: this.token() })
      if (load !== this.loads) return
      this.show(points)
    } catch (e) {
      if (load === this.loads) this.say(e.message, 'error')
    } finally {
      if (load === this.loads) {
        this.el.setAttribute('aria-busy', 'false')
        this.el.dataset.loads = String(load)
      }
    }
  }

  show (points) {
    this.observer.disconnect()
    this.previews.forEach(url => URL.revokeObjectURL(url))
    this.previews = []
    this.list.replaceChildren(...points.map((point, i) => {
      const time = h('time', { datetime: point.at, id: `history-point-${i}` }, when(point.at))
      const image = h('div', { class: 'preview' })
      const item = h('li', { class: 'point', 'data-at': point.at, 'data-paths': point.paths },
        image,
        h('div', { class: 'meta' }, time, h('span', { class: 'count' }, strokes(point.paths))),
        h('button', {
          type: 'button', class: 'tool restore', 'aria-describedby': time.id,
          onclick: () => this.restore(point.at)
        }, 'Restore this version'))
      this.observer.observe(image)
      return item
    }))
    if (this.message.dataset.kind !== 'done') this.say('')
    if (points.length === 0) this.say('No history yet: points are taken while people draw.')
  }

  async preview (box) {
    const { at, paths } = box.parentElement.dataset
    if (paths === '0') {
      box.append(h('span', { class: 'missing' }, 'Empty board'))
      box.dataset.state = 'empty'
      return
    }
    try {
      const blob = await request(`${this.base}/svg?at=${encodeURIComponent(at)}`, {
        token: this.token(), read: 'blob'
      })
      if (!box.isConnected) return
      const url = URL.createObjectURL(blob)
      this.previews.push(url)
      const img = h('img', { src: url, alt: `The board on ${when(at)}` })
      img.addEventListener('load', () => { box.dataset.state = 'loaded' })
      img.addEventListener('error', () => this.missing(box, 'the image cannot be shown'))
      box.append(img)
    } catch (e) {
      this.missing(box, e.message)
    }
  }

  missing (box, why) {
    if (!box.isConnected) return
    box.replaceChildren(h('span', { class: 'missing' }, `No preview: ${why}`))
    box.dataset.state = 'failed'
  }

  async restore (at) {
    const buttons = [...this.list.querySelectorAll('button.restore')]
    buttons.forEach(b => { b.disabled = true })
    this.say('Restoring…')
    try {
      const result = await request(`${this.base}/restore`, {
        method: 'POST', json: { at }, token: this.token()
      })
      const changed = result.changed_paths
      this.say(changed === 0
        ? `The board already looks as it did on ${when(result.at)}: nothing to change.`
        : `Restored the board as it was on ${when(result.at)}: ${strokes(changed)} changed.`,
      'done')
    } catch (e) {
      this.say(e.message, 'error')
    } finally {
      buttons.forEach(b => { b.disabled = false })
    }
  }
}
