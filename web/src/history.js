// The board's history, beside the live board: a side panel with the timeline (work sessions, each
// opening onto its entries a page at a time) and the milestones, and a read-only view of any past
// version drawn by the live board's own renderer (render.js), with what changed against the board
// now, or against the version before, marked on it. From a past version: fork it into a new board,
// or (owners) restore the board to it. All of it is the history API (PROTOCOL.md §7.1.1); the
// server checks every role again.

import { h, toast, dialog } from './dom.js'
import { t, tn, currentLang, onLangChange } from './i18n.js'
import { canFacilitate, canRestore, canCreateBoardBeside, randomHex } from './identity.js'
import { NOTE_COLOURS } from './model.js'
import { buildGrid, cellNotes, noteElement, fillNote, renderPersonas, signed } from './render.js'
import { api, withToken } from './shared.js'

/** Entries fetched per page when a session is opened or "load more" is pressed. */
const PAGE = 20
/** Sessions shown before "older sessions". */
const SESSIONS_SHOWN = 8

export class HistoryPanel {
  constructor (page) {
    this.page = page
    this.boardId = page.boardId
    this.me = page.me
    this.isOpen = false
    /** Work sessions, newest first (`GET …/history/sessions`). */
    this.sessions = []
    this.sessionsShown = SESSIONS_SHOWN
    /** Opened sessions by their `after`: `{ entries, next, loading }`. */
    this.opened = new Map()
    this.milestones = []
    /** `{board, seq}` this board was forked from, if it was. */
    this.forkedFrom = null
    /** The board's newest version as last seen here: what a restore expects it still is. */
    this.head = null
    /** The version shown read-only: `{ seq, against, board, diff, from, to }`, or null. */
    this.shown = null
    /** Bumped on every version load, so that an older, slower load does not win. */
    this.loadCount = 0
    this.panelEl = h('aside', {
      class: 'history-panel',
      id: 'history-panel',
      hidden: true,
      'aria-labelledby': 'history-heading',
      onkeydown: (e) => { if (e.key === 'Escape' && !e.target.closest('input, select, dialog')) this.close() }
    })
    this.viewEl = h('main', { class: 'history-view', hidden: true })
    onLangChange(() => {
      this.renderPanel()
      if (this.shown) this.renderView()
    })
  }

  get path () {
    return `/api/boards/${encodeURIComponent(this.boardId)}/history`
  }

  get mayName () { return canFacilitate(this.me.role) }
  get mayRestore () { return canRestore(this.me.role) }
  get mayFork () { return canCreateBoardBeside(this.me, this.boardId) }

  /** The top bar's button that opens and closes the panel (made anew with the page's chrome). */
  button () {
    this.toggleBtn = h('button', {
      class: 'history-toggle',
      'aria-expanded': String(this.isOpen),
      'aria-controls': 'history-panel',
      onclick: () => (this.isOpen ? this.close() : this.open())
    }, '🕓 ', t('history'))
    return this.toggleBtn
  }

  async open () {
    this.isOpen = true
    this.panelEl.hidden = false
    this.page.root.classList.add('history-open')
    this.toggleBtn?.setAttribute('aria-expanded', 'true')
    this.renderPanel()
    this.panelEl.querySelector('h2')?.focus()
    await this.refresh()
  }

  /** Hides the panel; a version on screen stays (on a narrow screen the panel covers it). */
  close () {
    this.isOpen = false
    this.panelEl.hidden = true
    this.page.root.classList.remove('history-open')
    this.toggleBtn?.setAttribute('aria-expanded', 'false')
    this.toggleBtn?.focus()
  }

  // ----- loading -------------------------------------------------------------------------------

  /** Loads sessions and milestones again, and the entries of the sessions that are open. */
  async refresh () {
    this.panelEl.setAttribute('aria-busy', 'true')
    try {
      const [sessions, milestones] = await Promise.all([api(`${this.path}/sessions`), api(`${this.path}/milestones`)])
      this.sessions = sessions
      this.milestones = milestones
      const keep = new Set(this.opened.keys())
      this.opened.clear()
      // The newest session is always open (its `after` changes with every edit); the others the
      // participant opened stay open, back at their first page.
      const loads = []
      for (const [i, session] of sessions.entries()) {
        if (i === 0 || keep.has(session.after)) loads.push(this.loadEntries(session))
      }
      // The newest entry's page also says where the board was forked from.
      const newest = await api(`${this.path}?limit=1`)
      this.forkedFrom = newest.forkedFrom ?? null
      if (!sessions.length) this.head = newest.head
      await Promise.all(loads)
    } catch (error) {
      toast(t('error', { detail: error.message }), 'error')
    }
    this.panelEl.removeAttribute('aria-busy')
    this.renderPanel()
  }

  /** The session's next page of entries (its first page if none is loaded yet). */
  async loadEntries (session) {
    const state = this.opened.get(session.after) ?? { entries: [], next: null, loading: false }
    this.opened.set(session.after, state)
    state.loading = true
    const before = state.entries.length ? state.next : session.after + 1
    try {
      const page = await api(`${this.path}?after=${session.before}&before=${before}&limit=${PAGE}`)
      state.entries.push(...page.entries)
      state.next = page.next ?? null
      // The head the timeline showed when it was loaded, not a later one met while paging.
      if (session === this.sessions[0] && state.entries.length === page.entries.length) this.head = page.head
    } finally {
      state.loading = false
    }
  }

  // ----- the panel -------------------------------------------------------------------------------

  renderPanel () {
    if (!this.isOpen) return
    const focusKey = document.activeElement?.dataset?.hkey
    this.panelEl.replaceChildren(
      h('div', { class: 'head-row history-head' },
        h('h2', { id: 'history-heading', tabindex: -1 }, t('history')),
        h('button', { class: 'icon', 'aria-label': t('refresh'), title: t('refresh'), dataset: { hkey: 'refresh' }, onclick: () => this.refresh() }, '↻'),
        h('button', { class: 'icon', 'aria-label': t('closeHistory'), title: t('closeHistory'), onclick: () => this.close() }, '×')),
      this.renderMilestones(),
      this.renderTimeline())
    if (focusKey) this.panelEl.querySelector(`[data-hkey="${CSS.escape(focusKey)}"]`)?.focus()
  }

  renderMilestones () {
    const target = this.shown ? t('namesVersion', { seq: this.shown.seq }) : t('namesHead')
    const form = this.mayName
      ? h('form', { class: 'milestone-form', onsubmit: (e) => this.nameVersion(e) },
        h('label', { class: 'field' },
          h('span', {}, t('nameThisVersion')),
          h('input', { name: 'name', required: true, maxlength: 200, autocomplete: 'off', placeholder: t('milestonePlaceholder'), 'aria-describedby': 'milestone-target' })),
        h('div', { class: 'row' },
          h('span', { class: 'muted small', id: 'milestone-target' }, target),
          h('span', { class: 'spacer' }),
          h('button', { type: 'submit', class: 'primary' }, t('nameIt'))))
      : null
    return h('section', { class: 'history-section', 'aria-labelledby': 'milestones-heading' },
      h('h3', { id: 'milestones-heading' }, t('milestones')),
      form,
      this.milestones.length === 0
        ? h('p', { class: 'muted small' }, t('noMilestones'))
        : h('ul', { class: 'milestone-list' }, newestFirst(this.milestones).map((m) => h('li', {
          class: 'milestone' + (this.shown?.seq === m.seq ? ' current' : ''),
          dataset: { milestone: m.id, kind: m.kind }
        },
        h('button', {
          class: 'link milestone-open',
          dataset: { hkey: `ms-${m.id}` },
          'aria-label': t('openMilestone', { name: milestoneName(m) }),
          onclick: () => this.showVersion(m.seq)
        }, h('span', { class: 'flag', 'aria-hidden': 'true' }, '⚑'), ' ', milestoneName(m)),
        this.mayName ? h('span', { class: 'tools' },
          h('button', { class: 'icon small', 'aria-label': t('renameMilestone', { name: m.name }), title: t('rename'), dataset: { hkey: `ms-rename-${m.id}` }, onclick: () => this.renameMilestone(m) }, '✎'),
          h('button', { class: 'icon small danger', 'aria-label': t('deleteMilestone', { name: m.name }), title: t('delete'), onclick: () => this.deleteMilestone(m) }, '×'))
          : null,
        h('span', { class: 'muted small milestone-meta' },
          [t('versionShort', { seq: m.seq }), formatWhen(m.createdMs), who([m.createdBy])].filter(Boolean).join(' · '),
          m.kind !== 'named' ? h('span', { class: 'kind' }, t(m.kind === 'fork' ? 'kindFork' : 'kindBeforeRestore')) : null)))))
  }

  renderTimeline () {
    const sessions = this.sessions.slice(0, this.sessionsShown)
    return h('section', { class: 'history-section', 'aria-labelledby': 'timeline-heading' },
      h('h3', { id: 'timeline-heading' }, t('timeline')),
      this.forkedFrom
        ? h('p', { class: 'muted small forked-from' },
          h('a', { href: withToken(`/b/${encodeURIComponent(this.forkedFrom.board)}`) },
            t('forkedFrom', { board: this.forkedFrom.board, seq: this.forkedFrom.seq })))
        : null,
      this.sessions.length === 0 ? h('p', { class: 'muted small' }, t('noHistory')) : null,
      h('ol', { class: 'sessions' }, sessions.map((s) => this.renderSession(s))),
      this.sessions.length > sessions.length
        ? h('button', { class: 'ghost more', dataset: { hkey: 'older' }, onclick: () => { this.sessionsShown += SESSIONS_SHOWN; this.renderPanel() } }, t('olderSessions'))
        : null)
  }

  renderSession (session) {
    const state = this.opened.get(session.after)
    const open = !!state
    const flags = this.milestones.filter((m) => m.seq > session.before && m.seq <= session.after)
    const listId = `entries-${session.after}`
    return h('li', { class: 'session' + (open ? ' open' : ''), dataset: { after: session.after } },
      h('button', {
        class: 'session-head',
        'aria-expanded': String(open),
        'aria-controls': listId,
        dataset: { hkey: `session-${session.after}` },
        onclick: () => this.toggleSession(session)
      },
      h('span', { class: 'chevron', 'aria-hidden': 'true' }, open ? '▾' : '▸'),
      h('span', { class: 'session-when' }, formatSpan(session.startMs, session.endMs)),
      h('span', { class: 'muted small' }, tn('updatesCount', session.updates))),
      h('p', { class: 'small session-authors' }, who(session.authors)),
      flags.length ? h('ul', { class: 'flags', 'aria-label': t('milestones') }, flags.map((m) => h('li', { class: 'flag-chip' }, '⚑ ', milestoneName(m)))) : null,
      open ? h('ol', { class: 'entries', id: listId },
        state.entries.map((e) => this.renderEntry(e)),
        state.loading ? h('li', { class: 'muted small' }, t('loading')) : null)
        : null,
      open && state.next && !state.loading
        ? h('button', { class: 'ghost small more', dataset: { hkey: `more-${session.after}` }, onclick: () => this.more(session) }, t('loadMore'))
        : null)
  }

  renderEntry (entry) {
    const flags = this.milestones.filter((m) => m.seq === entry.seq)
    const current = this.shown?.seq === entry.seq
    return h('li', {},
      h('button', {
        class: 'entry' + (current ? ' current' : ''),
        'aria-current': current ? 'true' : null,
        dataset: { seq: entry.seq, hkey: `entry-${entry.seq}` },
        title: t('viewVersion', { seq: entry.seq }),
        onclick: () => this.showVersion(entry.seq)
      },
      h('span', { class: 'entry-seq' }, t('versionShort', { seq: entry.seq })),
      h('span', { class: 'entry-time' }, formatTime(entry.timeMs)),
      h('span', { class: 'entry-who' }, who(entry.authors)),
      entry.updates > 1 ? h('span', { class: 'muted small' }, tn('updatesCount', entry.updates)) : null,
      flags.length ? h('span', { class: 'entry-flags' }, flags.map((m) => h('span', { class: 'flag-chip' }, '⚑ ', milestoneName(m)))) : null))
  }

  async toggleSession (session) {
    if (this.opened.has(session.after)) {
      this.opened.delete(session.after)
      this.renderPanel()
      return
    }
    const loading = this.loadEntries(session)
    this.renderPanel()
    await loading.catch((error) => toast(t('error', { detail: error.message }), 'error'))
    this.renderPanel()
  }

  async more (session) {
    const loading = this.loadEntries(session)
    this.renderPanel()
    await loading.catch((error) => toast(t('error', { detail: error.message }), 'error'))
    this.renderPanel()
  }

  // ----- milestones -----------------------------------------------------------------------------

  async nameVersion (event) {
    event.preventDefault()
    const input = event.currentTarget.querySelector('input[name=name]')
    const body = { name: input.value.trim() }
    if (!body.name) return
    if (this.shown) body.version = String(this.shown.seq)
    try {
      const milestone = await api(`${this.path}/milestones`, { method: 'POST', body: JSON.stringify(body) })
      toast(t('milestoneNamed', { name: milestone.name, seq: milestone.seq }))
      input.value = ''
      this.milestones = await api(`${this.path}/milestones`)
      this.renderPanel()
    } catch (error) {
      toast(t('error', { detail: error.message }), 'error')
    }
  }

  async renameMilestone (milestone) {
    const values = await dialog(t('renameMilestone', { name: milestone.name }), [
      { name: 'name', label: t('name'), value: milestone.name, required: true }
    ], { submitLabel: t('save'), cancelLabel: t('cancel') })
    const name = values?.name?.trim()
    if (!name || name === milestone.name) return
    try {
      await api(`${this.path}/milestones/${encodeURIComponent(milestone.id)}`, { method: 'PATCH', body: JSON.stringify({ name }) })
      this.milestones = await api(`${this.path}/milestones`)
      this.renderPanel()
    } catch (error) {
      toast(t('error', { detail: error.message }), 'error')
    }
  }

  async deleteMilestone (milestone) {
    if (!confirm(t('confirmDeleteMilestone', { name: milestone.name }))) return
    try {
      await api(`${this.path}/milestones/${encodeURIComponent(milestone.id)}`, { method: 'DELETE' })
      this.milestones = await api(`${this.path}/milestones`)
      this.renderPanel()
    } catch (error) {
      toast(t('error', { detail: error.message }), 'error')
    }
  }

  // ----- a past version, read-only -------------------------------------------------------------

  /** Shows version `seq` read-only, compared with the board now (`head`) or the version before. */
  async showVersion (seq, against = this.shown?.against ?? 'head') {
    const load = ++this.loadCount
    this.viewEl.setAttribute('aria-busy', 'true')
    try {
      // The version's own entry (when, who) and the one before it.
      const [version, around] = await Promise.all([
        api(`${this.path}/versions/${seq}?format=json`),
        api(`${this.path}?before=${seq + 1}&limit=2`)
      ])
      const entry = around.entries[0]?.seq === seq ? around.entries[0] : null
      const previous = around.entries.find((e) => e.seq < seq)?.seq ?? 0
      const query = against === 'previous' ? `from=${previous}&to=${seq}` : `from=${seq}`
      const diff = await api(`${this.path}/diff?${query}`)
      if (load !== this.loadCount) return
      if (against === 'head') this.head = diff.to
      this.shown = { seq, against, entry, board: readBoard(version), diff }
    } catch (error) {
      if (load === this.loadCount) toast(t('error', { detail: error.message }), 'error')
      return
    } finally {
      if (load === this.loadCount) this.viewEl.removeAttribute('aria-busy')
    }
    this.viewEl.hidden = false
    this.page.root.classList.add('viewing-version')
    this.renderView()
    this.renderPanel()
  }

  backToLive () {
    if (!this.shown) return
    this.shown = null
    this.loadCount++
    this.viewEl.hidden = true
    this.viewEl.replaceChildren()
    this.page.root.classList.remove('viewing-version')
    this.renderPanel()
  }

  renderView () {
    const { seq, against, entry, board, diff } = this.shown
    const changes = diff.changes ?? []
    const names = new Names(board, this.page.board)
    const gridEl = h('div', { class: 'grid' })
    const personaEl = h('aside', { class: 'personas', 'aria-label': t('personas') })
    buildGrid(gridEl, board.stages, board.lanes)
    renderPersonas(personaEl, board.personas)
    for (const card of board.cards) {
      const container = cellNotes(gridEl, card.stage, card.lane)
      if (!container) continue
      const el = noteElement(card.id)
      fillNote(el, card, { withText: true })
      container.append(el)
    }
    markChanges(gridEl, changes, names, against)

    const legend = against === 'head'
      ? t('diffSince', { seq, head: diff.to })
      : t('diffPrevious', { seq, from: diff.from })
    this.viewEl.replaceChildren(
      h('section', { class: 'version-banner', 'aria-labelledby': 'version-title' },
        h('div', { class: 'row' },
          h('span', { class: 'readonly-badge' }, t('readOnly')),
          h('h2', { class: 'version-title', id: 'version-title', tabindex: -1 },
            entry ? t('versionOf', { seq, when: formatWhen(entry.timeMs) }) : t('viewVersion', { seq })),
          entry ? h('span', { class: 'muted' }, who(entry.authors)) : null,
          h('span', { class: 'spacer' }),
          h('button', { class: 'primary back-live', onclick: () => this.backToLive() }, t('backToLive'))),
        h('div', { class: 'row' },
          h('label', { class: 'compare' }, h('span', {}, t('compareWith')),
            h('select', {
              name: 'against',
              onchange: (e) => this.showVersion(seq, e.target.value)
            },
            h('option', { value: 'head', selected: against === 'head' }, t('compareHead')),
            h('option', { value: 'previous', selected: against === 'previous' }, t('comparePrevious')))),
          this.mayFork ? h('button', { class: 'fork', onclick: () => this.fork(seq) }, t('fork')) : null,
          this.mayRestore ? h('button', { class: 'danger restore', onclick: () => this.restore(seq) }, t('restore')) : null),
        h('p', { class: 'small diff-legend' }, legend, ' ',
          h('span', { class: 'chip chip-added' }, t('tagAdded')),
          h('span', { class: 'chip chip-removed' }, t('tagRemoved')),
          h('span', { class: 'chip chip-edited' }, t('tagEdited')),
          h('span', { class: 'chip chip-moved' }, t('tagMoved'))),
        h('details', { class: 'change-list', open: changes.length > 0 && changes.length <= 6 },
          h('summary', {}, changes.length ? tn('changesCount', changes.length) : t('noChanges')),
          h('ul', {}, changes.map((c) => h('li', { dataset: { change: c.change } }, describe(c, names), by(c.authors)))))),
      h('div', { class: 'layout history-layout' },
        personaEl,
        h('section', { class: 'board-scroll', 'aria-label': t('viewVersion', { seq }) },
          h('div', { class: 'grid-wrap' }, gridEl))))
  }

  // ----- fork and restore -----------------------------------------------------------------------

  async fork (seq) {
    // A readable id next to the board's own, so that a token for a prefix of boards covers it.
    const id = `${this.boardId}-v${seq}-${randomHex(2)}`.slice(-128)
    try {
      const forked = await api(`${this.path}/versions/${seq}/fork`, { method: 'POST', body: JSON.stringify({ id }) })
      location.assign(withToken(`/b/${encodeURIComponent(forked.id)}`))
    } catch (error) {
      toast(t('error', { detail: error.message }), 'error')
    }
  }

  async restore (seq) {
    if (!confirm(t('confirmRestore', { seq }))) return
    try {
      if (this.head === null) this.head = (await api(`${this.path}?limit=1`)).head
      const done = await api(`${this.path}/versions/${seq}/restore`, { method: 'POST', body: JSON.stringify({ expectedHead: this.head }) })
      toast(t('restored', { seq: done.restored }))
      this.backToLive()
      await this.refresh()
    } catch (error) {
      if (error.code === 'board_moved') {
        // Someone edited since this participant looked: show them what the board is now first.
        toast(t('boardMoved'), 'error')
        await this.refresh()
        if (this.shown?.seq === seq) await this.showVersion(seq)
      } else {
        toast(t('error', { detail: error.message }), 'error')
      }
    }
  }
}

// ----- a version's JSON as the renderer reads boards -------------------------------------------------

const byPosition = (a, b) => (a.position ?? 0) - (b.position ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
const text = (v) => (typeof v === 'string' ? v : '')

/**
 * The board JSON of `GET …/versions/{v}` (the server's typed board, SCHEMA.md) in the shapes the
 * renderer takes, which are those of `Board.stageList()`, `laneList()`, `personaList()`, `card()`.
 */
export function readBoard (json) {
  const stages = (json.stages ?? []).slice().sort(byPosition).map((s) => ({
    id: s.id,
    name: text(s.name),
    description: text(s.description),
    position: s.position ?? 0,
    emotion: Number.isInteger(s.emotion) ? s.emotion : null,
    metrics: (s.metrics ?? []).slice().sort(byPosition).map((m) => ({
      id: m.id,
      name: text(m.name),
      value: typeof m.value === 'number' ? m.value : 0,
      unit: text(m.unit),
      target: typeof m.target === 'number' ? m.target : null
    }))
  }))
  const lanes = (json.lanes ?? []).slice().sort(byPosition).map((l) => ({
    id: l.id, kind: text(l.kind) || 'custom', title: text(l.title), question: text(l.question), position: l.position ?? 0
  }))
  const personas = (json.personas ?? []).slice().sort(byPosition).map((p) => ({
    id: p.id,
    name: text(p.name),
    occupation: text(p.occupation),
    ageRange: text(p.ageRange),
    goals: text(p.goals),
    frustrations: text(p.frustrations),
    buyingHabits: text(p.buyingHabits),
    position: p.position ?? 0
  }))
  const cards = (json.cards ?? []).slice().sort(byPosition).map((c) => {
    const votes = Object.fromEntries(Object.entries(c.votes ?? {}).filter(([, n]) => typeof n === 'number' && n > 0))
    return {
      id: c.id,
      stage: text(c.stage),
      lane: text(c.lane),
      text: text(c.text),
      author: text(c.author),
      authorId: text(c.authorId),
      color: text(c.color) || NOTE_COLOURS[0],
      position: c.position ?? 0,
      votes,
      voteTotal: Object.values(votes).reduce((a, b) => a + b, 0),
      reactions: Object.fromEntries(Object.entries(c.reactions ?? {}).filter(([, ids]) => Array.isArray(ids) && ids.length)),
      comments: c.comments ?? []
    }
  })
  return { title: text(json.meta?.title), stages, lanes, personas, cards }
}

/** Names of stages, lanes, personas and cards, from the version shown, else the live board. */
class Names {
  constructor (version, live) {
    this.version = version
    this.live = live
  }

  stage (id) {
    return this.version.stages.find((s) => s.id === id)?.name ?? this.live.stageList().find((s) => s.id === id)?.name ?? '?'
  }

  lane (id) {
    return this.version.lanes.find((l) => l.id === id)?.title ?? this.live.laneList().find((l) => l.id === id)?.title ?? '?'
  }

  cell (cell) {
    return cell ? `${this.stage(cell.stage)} · ${this.lane(cell.lane)}` : '?'
  }

  persona (id) {
    return this.version.personas.find((p) => p.id === id)?.name ?? this.live.personaList().find((p) => p.id === id)?.name ?? '?'
  }

  card (id, fallback = '') {
    return this.version.cards.find((c) => c.id === id)?.text ?? this.live.card(id)?.text ?? fallback
  }
}

// ----- what changed, on the board and in words -------------------------------------------------------

/**
 * Marks the changes of a diff (SCHEMA.md §9) on the grid of the version shown. The version is the
 * diff's `from` when compared with the board now, its `to` when compared with the version before:
 * a card the diff adds or removes is on the grid in one case and drawn as a ghost in its cell in
 * the other.
 */
function markChanges (gridEl, changes, names, against) {
  const noteOf = (id) => gridEl.querySelector(`.note[data-card="${CSS.escape(id)}"]`)
  const ghost = (id, cell, textValue) => {
    const container = cell && cellNotes(gridEl, cell.stage, cell.lane)
    if (!container) return null
    const el = noteElement(`ghost-${id}`)
    el.dataset.card = id
    el.classList.add('ghost')
    fillNote(el, { id, stage: cell.stage, lane: cell.lane, text: textValue, author: '', color: '#ffffff', votes: {}, voteTotal: 0, reactions: {}, comments: [] }, { withText: true })
    container.append(el)
    return el
  }
  const tag = (el, kind, label, authors, extra = null) => {
    if (!el) return
    el.classList.add(`diff-${kind}`)
    const line = h('div', { class: `diff-tag diff-tag-${kind}` }, label, by(authors))
    el.insertBefore(line, el.querySelector('.note-meta') ?? null)
    if (extra) el.insertBefore(extra, line.nextSibling)
    el.setAttribute('aria-label', `${el.getAttribute('aria-label') ?? ''}; ${line.textContent}${extra ? ': ' + extra.textContent : ''}`)
  }
  const head = (selector, id) => gridEl.querySelector(`${selector}[data-${selector === '.stage-head' ? 'stage' : 'lane'}="${CSS.escape(id)}"]`)
  const headTag = (el, kind, label) => {
    if (!el) return
    el.classList.add(`diff-${kind}`)
    el.append(h('div', { class: `diff-tag diff-tag-${kind}` }, label))
  }
  // Where a card the diff adds or removes is drawn: on the grid if the version has it, else a ghost.
  const present = (c) => noteOf(c.card) ?? ghost(c.card, c.cell, c.text)
  for (const c of changes) {
    switch (c.change) {
      case 'cardAdded': tag(present(c), 'added', t('tagAdded'), c.authors); break
      case 'cardRemoved': tag(present(c), 'removed', t('tagRemoved'), c.authors); break
      case 'cardEdited':
        tag(noteOf(c.card), 'edited', t('tagEdited'), c.authors,
          h('p', { class: 'diff-text' }, h('del', {}, c.before), ' → ', h('ins', {}, c.after)))
        break
      case 'cardMoved':
        tag(noteOf(c.card), 'moved', t('tagMoved'), c.authors,
          h('p', { class: 'diff-text' }, `${names.cell(c.from)} → ${names.cell(c.to)}`))
        break
      case 'votesChanged':
        tag(noteOf(c.card), 'votes', t('tagVotes', { before: c.before, after: c.after }), c.authors)
        break
      case 'cardRestyled':
        tag(noteOf(c.card), 'restyled', t('tagRestyled', { field: fieldName(c.field) }), c.authors)
        break
      case 'commentAdded':
      case 'commentRemoved':
        tag(noteOf(c.card), 'comment', t(c.change === 'commentAdded' ? 'tagCommentAdded' : 'tagCommentRemoved'), c.authors)
        break
      case 'emotionChanged':
        headTag(head('.stage-head', c.stage), 'edited', `${t('emotion')} ${score(c.before)} → ${score(c.after)}${by(c.authors)}`)
        break
      case 'metricChanged':
        headTag(head('.stage-head', c.stage), 'edited', `${c.name} ${c.before ?? '—'} → ${c.after ?? '—'}${by(c.authors)}`)
        break
      case 'stageAdded': case 'stageRemoved': case 'stageRenamed':
        headTag(head('.stage-head', c.stage), c.change === 'stageAdded' ? 'added' : c.change === 'stageRemoved' ? 'removed' : 'edited', describe(c, names) + by(c.authors))
        break
      case 'laneAdded': case 'laneRemoved': case 'laneRenamed':
        headTag(head('.lane-head', c.lane), c.change === 'laneAdded' ? 'added' : c.change === 'laneRemoved' ? 'removed' : 'edited', describe(c, names) + by(c.authors))
        break
    }
  }
  gridEl.classList.add(`compared-${against}`)
}

/** One change in words (the change list under the version's banner). */
function describe (c, names) {
  const q = (s) => `“${s ?? ''}”`
  switch (c.change) {
    case 'metaChanged': return t('chMeta', { field: c.field, before: q(c.before), after: q(c.after) })
    case 'personaAdded': return t('chPersonaAdded', { name: c.name })
    case 'personaRemoved': return t('chPersonaRemoved', { name: c.name })
    case 'personaEdited': return t('chPersonaEdited', { name: names.persona(c.persona), fields: (c.fields ?? []).join(', ') })
    case 'stageAdded': return t('chStageAdded', { name: c.name })
    case 'stageRemoved': return t('chStageRemoved', { name: c.name })
    case 'stageRenamed': return t('chStageRenamed', { before: q(c.before), after: q(c.after) })
    case 'emotionChanged': return t('chEmotion', { stage: names.stage(c.stage), before: score(c.before), after: score(c.after) })
    case 'metricChanged': return t('chMetric', { name: c.name, stage: names.stage(c.stage), before: c.before ?? '—', after: c.after ?? '—' })
    case 'laneAdded': return t('chLaneAdded', { name: c.title })
    case 'laneRemoved': return t('chLaneRemoved', { name: c.title })
    case 'laneRenamed': return t('chLaneRenamed', { before: q(c.before), after: q(c.after) })
    case 'cardAdded': return t('chCardAdded', { text: q(c.text), cell: names.cell(c.cell) })
    case 'cardRemoved': return t('chCardRemoved', { text: q(c.text), cell: names.cell(c.cell) })
    case 'cardEdited': return t('chCardEdited', { before: q(c.before), after: q(c.after) })
    case 'cardMoved': return t('chCardMoved', { text: q(names.card(c.card)), from: names.cell(c.from), to: names.cell(c.to) })
    case 'cardRestyled': return t('chCardRestyled', { text: q(names.card(c.card)), field: fieldName(c.field), before: c.before || '—', after: c.after || '—' })
    case 'votesChanged': return t('chVotes', { text: q(names.card(c.card)), before: c.before, after: c.after })
    case 'commentAdded': return t('chCommentAdded', { text: q(names.card(c.card)), comment: q(c.text), author: c.author })
    case 'commentRemoved': return t('chCommentRemoved', { text: q(names.card(c.card)) })
    default: return c.change
  }
}

/**
 * A milestone's name as shown. The server names the milestones it makes itself in English
 * ("before restoring version 12", "forked to q3-what-if"); while they keep that name, they are
 * shown in the interface's language.
 */
function milestoneName (m) {
  const restore = m.kind === 'beforeRestore' && m.name.match(/^before restoring version (\d+)$/)
  if (restore) return t('milestoneBeforeRestore', { seq: restore[1] })
  const fork = m.kind === 'fork' && m.name.match(/^forked to (.+)$/)
  if (fork) return t('milestoneFork', { board: fork[1] })
  return m.name
}

/** Milestones by version, newest first, and by when they were named within a version. */
function newestFirst (milestones) {
  return [...milestones].sort((a, b) => b.seq - a.seq || b.createdMs - a.createdMs)
}

function fieldName (field) {
  return { color: t('colour'), team: t('team'), priority: t('priority') }[field] ?? field
}

function score (n) {
  return n === null || n === undefined ? '—' : signed(n)
}

/** ` · Ana, Chloé` after a change (its authors are `{sub, name}`), or nothing when the server
 * could not tell who. */
function by (authors) {
  return authors?.length ? ` · ${who(authors)}` : ''
}

/** Display names of history authors (`{sub, name}`), or "someone" for edits nobody signed. */
function who (authors) {
  const names = [...new Set((authors ?? []).map((a) => a?.name || a?.sub).filter(Boolean))]
  return names.length ? names.join(', ') : t('someone')
}

function formatTime (ms) {
  return new Date(ms).toLocaleTimeString(currentLang(), { hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

function formatWhen (ms) {
  return ms ? new Date(ms).toLocaleString(currentLang(), { dateStyle: 'medium', timeStyle: 'short' }) : ''
}

/** A session's span: its day and start, and its end time (same day) or end date. */
function formatSpan (startMs, endMs) {
  const start = new Date(startMs)
  const end = new Date(endMs)
  const endText = start.toDateString() === end.toDateString()
    ? end.toLocaleTimeString(currentLang(), { hour: '2-digit', minute: '2-digit' })
    : formatWhen(endMs)
  return `${formatWhen(startMs)} – ${endText}`
}
