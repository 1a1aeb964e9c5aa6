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

// An optional file: a "Choose" button, the chosen file's name and a "Remove" button. The
// <input type=file> itself stays hidden outside the form, so the form has one text field.
function filePicker ({ label, accept }) {
  const picker = h('input', { type: 'file', accept, hidden: true, class: 'file-picker' })
  const name = h('span', { class: 'chosen' }, 'No file: a blank board')
  const remove = h('button', {
    type: 'button', class: 'secondary', hidden: true, 'aria-label': 'Remove the chosen file',
    onclick: () => { picker.value = ''; update() }
  }, 'Remove')
  const choose = h('button', {
    type: 'button', class: 'secondary choose', 'aria-describedby': 'chosen-file',
    onclick: () => picker.click()
  }, label)
  name.id = 'chosen-file'
  function update () {
    const file = picker.files.length ? picker.files[0] : null
    name.textContent = file ? file.name : 'No file: a blank board'
    remove.hidden = !file
  }
  picker.addEventListener('change', update)
  return {
    picker,
    el: h('div', { class: 'file' }, choose, name, remove),
    chosen: () => (picker.files.length ? picker.files[0] : null)
  }
}

/**
 * A modal form with one text field and, if `file` ({ label, accept }) is given, an optional file.
 * `onSubmit(value, file)` may throw an Error whose message is shown under the fields; the dialog
 * closes when it resolves.
 */
export function askText ({ title, text, label, value = '', button, file, onSubmit }) {
  const input = h('input', {
    name: 'name', type: 'text', maxlength: 64, required: true, autocomplete: 'nickname', value
  })
  const picker = file ? filePicker(file) : null
  const error = h('p', { class: 'error', role: 'alert' })
  const submit = h('button', { type: 'submit' }, button)
  const form = h('form', { class: 'dialog' },
    h('h1', {}, title),
    text ? h('p', {}, text) : null,
    h('label', {}, label, input),
    picker ? picker.el : null,
    submit,
    error
  )
  const backdrop = h('div', { class: 'backdrop' }, form, picker ? picker.picker : null)
  document.body.append(backdrop)
  input.focus()
  input.select()
  return new Promise(resolve => {
    form.addEventListener('submit', async event => {
      event.preventDefault()
      error.textContent = ''
      submit.disabled = true
      try {
        const result = await onSubmit(input.value.trim(), picker ? picker.chosen() : null)
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
