// Pointer input on the board: the pen writes a stroke's register while it is drawn, the eraser
// writes tombstones onto the strokes it touches, and every move updates this user's cursor.
import { erasePath, newPathId, writePath } from './lww.js'

const PUSH_EVERY_MS = 50
const CURSOR_EVERY_MS = 30

const num = v => String(Math.round(v * 10) / 10)

// A smooth path through the points: quadratic curves between the midpoints of successive
// segments (the points themselves are the control points).
export function pathData (points) {
  const [first] = points
  if (points.length < 3) {
    const last = points[points.length - 1]
    return `M ${num(first.x)} ${num(first.y)} L ${num(last.x)} ${num(last.y)}`
  }
  let d = `M ${num(first.x)} ${num(first.y)}`
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]
    const q = points[i + 1]
    d += ` Q ${num(p.x)} ${num(p.y)} ${num((p.x + q.x) / 2)} ${num((p.y + q.y) / 2)}`
  }
  const last = points[points.length - 1]
  return d + ` L ${num(last.x)} ${num(last.y)}`
}

export class Tools {
  constructor (svg, doc, awareness, style) {
    this.svg = svg
    this.doc = doc
    this.awareness = awareness
    this.style = style // () => ({ tool, color, width })
    this.stroke = null // the stroke being drawn
    this.erasing = false
    this.cursor = null // the latest pointer position, sent at most every CURSOR_EVERY_MS
    this.cursorTimer = null
    svg.addEventListener('pointerdown', e => this.down(e))
    svg.addEventListener('pointermove', e => this.move(e))
    svg.addEventListener('pointerup', e => this.up(e))
    svg.addEventListener('pointercancel', e => this.up(e))
    svg.addEventListener('pointerleave', () => { this.cursor = null; this.setCursor(null) })
  }

  point (e) {
    const rect = this.svg.getBoundingClientRect()
    return { x: e.clientX - rect.left, y: e.clientY - rect.top }
  }

  down (e) {
    if (e.button !== 0 || !e.isPrimary) return
    e.preventDefault()
    this.svg.setPointerCapture(e.pointerId)
    const { tool, color, width } = this.style()
    if (tool === 'eraser') {
      this.erasing = true
      this.eraseAt(e)
      return
    }
    this.stroke = {
      id: newPathId(), color, width, points: [this.point(e)],
      ts: 0, pushedAt: 0, timer: null, dirty: true
    }
    this.push()
  }

  move (e) {
    this.trackCursor(this.point(e))
    if (this.erasing) {
      this.eraseAt(e)
      return
    }
    const stroke = this.stroke
    if (!stroke) return
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : []
    for (const ev of events.length ? events : [e]) {
      const q = this.point(ev)
      const last = stroke.points[stroke.points.length - 1]
      if (Math.hypot(q.x - last.x, q.y - last.y) >= 1.5) {
        stroke.points.push(q)
        stroke.dirty = true
      }
    }
    // A new version at most every PUSH_EVERY_MS while drawing, the last one on release.
    const wait = stroke.pushedAt + PUSH_EVERY_MS - performance.now()
    if (wait <= 0) this.push()
    else if (!stroke.timer) stroke.timer = setTimeout(() => this.push(), wait)
  }

  up (e) {
    this.erasing = false
    if (!this.stroke) return
    this.push()
    this.stroke = null
    if (this.svg.hasPointerCapture(e.pointerId)) this.svg.releasePointerCapture(e.pointerId)
  }

  push () {
    const stroke = this.stroke
    if (!stroke) return
    clearTimeout(stroke.timer)
    stroke.timer = null
    if (!stroke.dirty) return
    stroke.dirty = false
    stroke.pushedAt = performance.now()
    const value = { d: pathData(stroke.points), color: stroke.color, width: stroke.width }
    stroke.ts = writePath(this.doc, stroke.id, value, stroke.ts + 1).ts
  }

  // The topmost stroke under the pointer. The pointer is captured while the button is down, so
  // look under it rather than at e.target; the wide invisible `.hit` paths make thin strokes
  // easy to catch.
  eraseAt (e) {
    const hit = document.elementsFromPoint(e.clientX, e.clientY)
      .find(el => el.classList && el.classList.contains('hit'))
    if (hit) erasePath(this.doc, hit.dataset.id)
  }

  trackCursor (p) {
    this.cursor = p
    if (this.cursorTimer) return
    this.setCursor(p)
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null
      if (this.cursor && this.cursor !== p) this.trackCursor(this.cursor)
    }, CURSOR_EVERY_MS)
  }

  setCursor (cursor) {
    this.awareness.setLocalStateField('cursor', cursor)
  }
}
