// The page's entry point: `/` lists boards and creates one from a template; `/b/{id}` opens a
// board. Both keep the page's `?token=` (an access token for a server that requires one).

import { h, toast } from './dom.js'
import { t, currentLang, LANGS, onLangChange } from './i18n.js'
import { identify } from './identity.js'
import { openBoard } from './board.js'
import { api, withToken, langSwitch } from './shared.js'

// ----- `/`: the list of boards ------------------------------------------------------------------

async function renderHome (root) {
  const list = h('div', { class: 'board-list', 'aria-busy': 'true' })
  const templateSelect = h('select', { name: 'template', id: 'template' })
  const langSelect = h('select', { name: 'lang', id: 'board-lang' },
    LANGS.map((l) => h('option', { value: l, selected: l === currentLang() }, l.toUpperCase())))
  const form = h('form', { class: 'create-board', onsubmit: create },
    h('h2', {}, t('newBoard')),
    h('label', { class: 'field' }, h('span', {}, t('title')), h('input', { name: 'title', id: 'board-title', required: true })),
    h('label', { class: 'field' }, h('span', {}, t('template')), templateSelect),
    h('label', { class: 'field' }, h('span', {}, t('boardLang')), langSelect),
    h('label', { class: 'field' }, h('span', {}, t('boardId')),
      h('input', { name: 'id', id: 'board-id', pattern: '[A-Za-z0-9_.\\-]+', autocomplete: 'off' })),
    h('button', { type: 'submit', class: 'primary' }, t('create')))
  root.replaceChildren(
    h('header', { class: 'topbar' }, h('span', { class: 'brand' }, t('appName')), h('span', { class: 'spacer' }), langSwitch()),
    h('main', { class: 'home' },
      h('section', {}, h('h1', {}, t('boards')), list),
      form))

  async function create (event) {
    event.preventDefault()
    const values = Object.fromEntries(new FormData(form).entries())
    const body = { title: values.title, template: values.template, lang: values.lang }
    if (values.id) body.id = values.id
    try {
      const created = await api('/api/boards', { method: 'POST', body: JSON.stringify(body) })
      location.assign(withToken(`/b/${encodeURIComponent(created.id)}`))
    } catch (error) {
      toast(t('error', { detail: error.message }), 'error')
    }
  }

  api(`/api/templates?lang=${currentLang()}`).then((templates) => {
    const items = Array.isArray(templates) ? templates : templates.templates ?? []
    templateSelect.replaceChildren(...items.map((tpl) =>
      h('option', { value: tpl.id, title: tpl.description ?? '' }, tpl.name ?? tpl.id)))
  }).catch((error) => toast(t('error', { detail: error.message }), 'error'))

  try {
    const page = await api('/api/boards?limit=100')
    const boards = page.boards ?? []
    list.replaceChildren(boards.length === 0
      ? h('p', {}, t('noBoards'))
      : h('ul', {}, boards.map((b) => h('li', { class: 'board-item' },
        h('a', { href: withToken(`/b/${encodeURIComponent(b.id)}`) }, b.title || b.id),
        h('span', { class: 'muted' }, ' · ', t('cards', { n: b.cards ?? 0 }),
          b.participants ? [' · ', t('live', { n: b.participants })] : null,
          b.updatedAt ? [' · ', t('updated', { date: new Date(b.updatedAt).toLocaleString(currentLang()) })] : null)))))
  } catch (error) {
    list.replaceChildren(h('p', { class: 'muted' }, t('boardsUnavailable', { detail: error.code })))
  }
  list.removeAttribute('aria-busy')
}

// ----- routing ------------------------------------------------------------------------------------

function start () {
  const root = document.getElementById('app')
  const match = location.pathname.match(/^\/b\/([^/]+)\/?$/)
  if (match) {
    openBoard(root, decodeURIComponent(match[1]), identify())
  } else {
    renderHome(root)
    onLangChange(() => renderHome(root))
  }
}

start()
