// A tiny helper to build DOM trees: h('button', { class: 'x', onclick }, 'text', child…).

export function h (tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value)
    } else if (key === 'class') {
      el.className = value
    } else if (key === 'style' && typeof value === 'object') {
      for (const [name, v] of Object.entries(value)) {
        if (name.startsWith('--')) el.style.setProperty(name, v)
        else el.style[name] = v
      }
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value)
    } else if (key in el && typeof value !== 'string') {
      el[key] = value
    } else {
      el.setAttribute(key, value === true ? '' : value)
    }
  }
  append(el, children)
  return el
}

function append (el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(el, child)
    else el.append(child instanceof Node ? child : String(child))
  }
}

/** Shows a short message at the bottom of the page for a few seconds. */
export function toast (message, kind = 'info') {
  const box = document.getElementById('toasts')
  const item = h('div', { class: `toast toast-${kind}` }, message)
  box.append(item)
  setTimeout(() => item.remove(), 6000)
}

/** A modal dialog; resolves with the form's values on submit, or null when cancelled. */
export function dialog (title, fields, { submitLabel, cancelLabel, extra } = {}) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'dialog-form' },
      h('h2', {}, title),
      fields.map((f) => h('label', { class: 'field' },
        h('span', {}, f.label),
        f.options
          ? h('select', { name: f.name }, f.options.map(([value, label]) =>
            h('option', { value, selected: String(f.value ?? '') === String(value) }, label)))
          : f.multiline
            ? h('textarea', { name: f.name, rows: 3 }, f.value ?? '')
            : h('input', { name: f.name, type: f.type ?? 'text', value: f.value ?? '', step: f.step, required: f.required })
      )),
      extra ?? null,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => { dlg.close(); } }, cancelLabel ?? 'Cancel'),
        h('button', { type: 'submit', class: 'primary' }, submitLabel ?? 'OK'))
    )
    const dlg = h('dialog', { class: 'dialog' }, form)
    let result = null
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      result = Object.fromEntries(new FormData(form).entries())
      dlg.close()
    })
    dlg.addEventListener('close', () => {
      dlg.remove()
      resolve(result)
    })
    document.body.append(dlg)
    dlg.showModal()
  })
}
