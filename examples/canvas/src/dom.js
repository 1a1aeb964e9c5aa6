// A tiny element builder: h('button', { class: 'x', onclick }, 'Label').
const SVG_NS = 'http://www.w3.org/2000/svg'
const SVG_TAGS = new Set(['svg', 'g', 'path', 'circle'])

export function h (tag, attrs = {}, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else el.setAttribute(key, value === true ? '' : value)
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) el.append(child)
  }
  return el
}

/**
 * A modal form with one text field. `onSubmit(value)` may throw an Error whose message is shown
 * under the field; the dialog closes when it resolves.
 */
export function askText ({ title, text, label, value = '', button, onSubmit }) {
  const input = h('input', {
    name: 'name', type: 'text', maxlength: 64, required: true, autocomplete: 'nickname', value
  })
  const error = h('p', { class: 'error', role: 'alert' })
  const submit = h('button', { type: 'submit' }, button)
  const form = h('form', { class: 'dialog' },
    h('h1', {}, title),
    text ? h('p', {}, text) : null,
    h('label', {}, label, input),
    submit,
    error
  )
  const backdrop = h('div', { class: 'backdrop' }, form)
  document.body.append(backdrop)
  input.focus()
  input.select()
  return new Promise(resolve => {
    form.addEventListener('submit', async event => {
      event.preventDefault()
      error.textContent = ''
      submit.disabled = true
      try {
        const result = await onSubmit(input.value.trim())
        backdrop.remove()
        resolve(result)
      } catch (e) {
        error.textContent = e.message
        submit.disabled = false
        input.focus()
      }
    })
  })
}
