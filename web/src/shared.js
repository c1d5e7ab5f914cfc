// What both pages use: REST API calls and links that carry the page's token, and the language switch.

import { h } from './dom.js'
import { t, currentLang, setLang, LANGS } from './i18n.js'
import { pageToken } from './identity.js'

/** Fetches a REST API path with the page's token; resolves with the JSON body or throws. */
export async function api (path, options = {}) {
  const token = pageToken()
  const headers = { ...(options.headers ?? {}) }
  if (token) headers.Authorization = `Bearer ${token}`
  if (options.body) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, { ...options, headers })
  const body = response.status === 204 ? null : await response.json().catch(() => null)
  if (!response.ok) {
    const error = new Error(body?.detail ?? `HTTP ${response.status}`)
    error.code = body?.error ?? String(response.status)
    throw error
  }
  return body
}

/** A same-site link that keeps the page's token. */
export function withToken (path) {
  const token = pageToken()
  if (!token) return path
  return path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token)
}

export function langSwitch () {
  return h('label', { class: 'lang-switch' },
    h('span', { class: 'sr-only' }, t('language')),
    h('select', {
      'aria-label': t('language'),
      onchange: (e) => setLang(e.target.value)
    }, LANGS.map((l) => h('option', { value: l, selected: l === currentLang() }, l.toUpperCase()))))
}

