// The board page: the live journey board laid out as CX teams draw it (persona panel, stage
// columns with their emotion and metrics, lane rows with their guiding question, sticky notes in
// each cell), synced with y-websocket, with the workshop around it.
//
// Rendering: the grid's skeleton (stages, lanes, emotion curve, personas) is rebuilt only when its
// content changes; notes are kept by id and updated in place, so that a note being edited, or the
// focused one, survives every remote change.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import * as decoding from 'lib0/decoding'
import { h, toast, dialog } from './dom.js'
import { t, onLangChange, currentLang } from './i18n.js'
import { rememberName, rememberColour, canFacilitate, canEdit, PALETTE } from './identity.js'
import { Board, LOCAL, NOTE_COLOURS, REACTIONS, LANE_KINDS } from './model.js'
import { buildGrid, cellNotes, noteElement, fillNote, renderPersonas as drawPersonas, initials } from './render.js'
import { Workshop } from './workshop.js'
import { Drafts } from './drafts.js'
import { HistoryPanel } from './history.js'
import { withToken, langSwitch } from './shared.js'

const STATUS_TEXT = { connected: 'statusConnected', connecting: 'statusConnecting', disconnected: 'statusDisconnected', syncing: 'statusSyncing' }

export async function openBoard (root, boardId, me) {
  if (!me.name) {
    const values = await dialog(t('namePrompt'), [
      { name: 'name', label: t('yourName'), required: true },
      { name: 'colour', label: t('colour'), options: PALETTE.map((c, i) => [c, `● ${i + 1}`]), value: me.colour }
    ], { submitLabel: t('save'), cancelLabel: t('cancel') })
    me.name = (values?.name ?? '').trim() || 'Guest'
    rememberName(me.name)
    if (values?.colour) {
      me.colour = values.colour
      rememberColour(me.colour)
    }
  }
  const page = new BoardPage(root, boardId, me)
  page.start()
  window.parcours = page // handy from the devtools console, and for the browser tests
}

class BoardPage {
  constructor (root, boardId, me) {
    /** The page's element. */
    this.root = root
    this.boardId = boardId
    /** `{ id, name, colour, role, token }` of this participant. */
    this.me = me
    this.doc = new Y.Doc()
    this.board = new Board(this.doc, me)
    /** Notes by card (or draft) id: kept across renders so that focus and editors survive. */
    this.noteEls = new Map()
    /** The note being edited here: `{ id, draft, textarea }`, or null. */
    this.editing = null
    /** The note shown in the details panel. */
    this.selected = null
    /** What the skeleton was last built from, to rebuild it only when that changes. */
    this.skeletonKey = ''
    this.renderQueued = false
    this.status = 'connecting'
    this.synced = false
    this.drafts = new Drafts(boardId, me.id)
  }

  start () {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    this.provider = new WebsocketProvider(`${scheme}://${location.host}/boards`, this.boardId, this.doc, {
      params: this.me.token ? { token: this.me.token } : {},
      // Every tab goes through the server, so that the server judges every edit.
      disableBc: true,
      maxBackoffTime: 2500
    })
    // y-protocols permission-denied: the server refused an edit this role may not make.
    this.provider.messageHandlers[2] = (_encoder, decoder) => {
      if (decoding.readVarUint(decoder) === 0) toast(t('denied', { reason: decoding.readVarString(decoder) }), 'error')
    }
    this.provider.on('status', ({ status }) => {
      this.status = status
      if (status !== 'connected') this.synced = false
      this.renderStatus()
    })
    this.provider.on('sync', (synced) => {
      this.synced = synced
      this.renderStatus()
      if (synced) this.workshop.publishDraftsIfRevealed()
    })
    this.provider.on('closed', ({ code, reason }) => toast(t('error', { detail: `${code} ${reason}` }), 'error'))
    // The browser knows before the socket does when the network goes away.
    window.addEventListener('offline', () => this.provider.disconnect())
    window.addEventListener('online', () => this.provider.connect())

    this.awareness = this.provider.awareness
    this.awareness.setLocalStateField('user', { name: this.me.name, color: this.me.colour, id: this.me.id, role: this.me.role })
    this.awareness.on('change', () => this.renderPresence())

    this.undo = new Y.UndoManager([this.board.cards, this.board.stages, this.board.lanes, this.board.personas, this.board.meta], {
      trackedOrigins: new Set([LOCAL]),
      captureTimeout: 400
    })
    this.undo.on('stack-item-added', () => this.renderUndo())
    this.undo.on('stack-item-popped', () => this.renderUndo())

    this.workshop = new Workshop(this)
    this.history = new HistoryPanel(this)
    this.doc.on('update', () => this.scheduleRender())
    onLangChange(() => {
      this.skeletonKey = ''
      this.buildChrome()
      this.render()
    })
    this.buildChrome()
    this.render()
    document.addEventListener('keydown', (e) => this.globalKeys(e))
    setInterval(() => this.workshop.renderTimer(), 500)
  }

  get mayFacilitate () { return canFacilitate(this.me.role) }
  get mayEdit () { return canEdit(this.me.role) }

  scheduleRender () {
    if (this.renderQueued) return
    this.renderQueued = true
    requestAnimationFrame(() => {
      this.renderQueued = false
      this.render()
    })
  }

  // ----- the page around the board --------------------------------------------------------------

  buildChrome () {
    const exportLink = (format, label) => h('a', {
      href: withToken(format === 'svg' ? `/api/boards/${encodeURIComponent(this.boardId)}/map.svg`
        : `/api/boards/${encodeURIComponent(this.boardId)}/export?format=${format}`),
      download: `${this.boardId}.${format === 'markdown' ? 'md' : format}`,
      class: 'menu-item'
    }, label)
    this.titleEl = h('h1', { class: 'board-title' }, '')
    this.statusEl = h('span', { class: 'conn', id: 'conn', role: 'status' })
    this.presenceEl = h('ul', { class: 'presence', 'aria-label': t('here') })
    this.undoBtn = h('button', { class: 'icon', title: `${t('undo')} (Ctrl+Z)`, 'aria-label': t('undo'), onclick: () => this.undo.undo(), disabled: true }, '↶')
    this.redoBtn = h('button', { class: 'icon', title: `${t('redo')} (Ctrl+Shift+Z)`, 'aria-label': t('redo'), onclick: () => this.undo.redo(), disabled: true }, '↷')
    // A name from the token is the one the server checks: it cannot be changed here.
    const meBtn = this.me.nameFromToken
      ? h('span', { class: 'me', style: { '--who': this.me.colour } }, this.me.name)
      : h('button', { class: 'me', style: { '--who': this.me.colour }, onclick: () => this.editMe(), title: t('yourName') }, this.me.name)
    const header = h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: withToken('/'), title: t('backToBoards') }, t('appName')),
      this.titleEl,
      this.statusEl,
      h('span', { class: 'spacer' }),
      this.presenceEl,
      this.undoBtn, this.redoBtn,
      this.history.button(),
      h('details', { class: 'menu' },
        h('summary', {}, t('export')),
        h('div', { class: 'menu-list' },
          exportLink('markdown', t('exportMarkdown')), exportLink('csv', t('exportCsv')), exportLink('svg', t('exportSvg')))),
      langSwitch(),
      meBtn,
      this.me.role !== 'owner' ? h('span', { class: 'role' }, this.mayEdit ? t('role', { role: this.me.role }) : t('readOnly')) : null)

    this.workshopBar = h('div', { class: 'workshop-bar' })
    this.gridEl = h('div', { class: 'grid' })
    this.cursorLayer = h('div', { class: 'cursors', 'aria-hidden': 'true' })
    this.emptyEl = h('div', { class: 'empty', hidden: true }, h('h2', {}, t('notFound')), h('a', { href: withToken('/') }, t('backToBoards')))
    this.scrollEl = h('section', { class: 'board-scroll', 'aria-label': t('appName') }, this.emptyEl, h('div', { class: 'grid-wrap' }, this.gridEl, this.cursorLayer))
    this.personaEl = h('aside', { class: 'personas', 'aria-label': t('personas') })
    this.detailsEl = h('aside', { class: 'details', hidden: true, 'aria-label': t('note') })
    this.root.replaceChildren(header, this.workshopBar,
      h('main', { class: 'layout' }, this.personaEl, this.scrollEl, this.detailsEl),
      this.history.viewEl, this.history.panelEl,
      h('p', { class: 'help muted' }, t('keyboardHelp')))
    this.workshop.buildBar(this.workshopBar)

    // Live cursors: where this participant's pointer is on the grid, in grid coordinates.
    let last = 0
    this.scrollEl.addEventListener('pointermove', (e) => {
      const now = performance.now()
      if (now - last < 50) return
      last = now
      const rect = this.gridEl.getBoundingClientRect()
      this.awareness.setLocalStateField('cursor', { x: Math.round(e.clientX - rect.left), y: Math.round(e.clientY - rect.top) })
    })
    this.scrollEl.addEventListener('pointerleave', () => this.awareness.setLocalStateField('cursor', null))
    this.scrollEl.addEventListener('scroll', () => this.workshop.onScroll(), { passive: true })
    this.renderStatus()
    this.renderUndo()
  }

  async editMe () {
    const values = await dialog(t('yourName'), [
      { name: 'name', label: t('yourName'), value: this.me.name, required: true },
      { name: 'colour', label: t('colour'), options: PALETTE.map((c, i) => [c, `● ${i + 1}`]), value: this.me.colour }
    ], { submitLabel: t('save'), cancelLabel: t('cancel') })
    if (!values) return
    this.me.name = values.name.trim() || this.me.name
    this.me.colour = values.colour || this.me.colour
    rememberName(this.me.name)
    rememberColour(this.me.colour)
    this.awareness.setLocalStateField('user', { name: this.me.name, color: this.me.colour, id: this.me.id, role: this.me.role })
    this.buildChrome()
    this.skeletonKey = ''
    this.render()
  }

  renderStatus () {
    const state = this.status === 'connected' && !this.synced ? 'syncing' : this.status
    this.statusEl.dataset.state = state
    this.statusEl.textContent = t(STATUS_TEXT[state])
  }

  renderUndo () {
    this.undoBtn.disabled = this.undo.undoStack.length === 0
    this.redoBtn.disabled = this.undo.redoStack.length === 0
  }

  /** Who is here, their cursors, and which note each is editing. */
  renderPresence () {
    const mine = this.doc.clientID
    const states = [...this.awareness.getStates().entries()].filter(([, s]) => s?.user)
    this.presenceEl.replaceChildren(...states.map(([client, s]) => h('li', {
      class: 'avatar' + (client === mine ? ' me' : ''),
      style: { '--who': s.user.color ?? '#666' },
      title: s.user.name
    }, initials(s.user.name))))
    this.cursorLayer.replaceChildren(...states.filter(([client, s]) => client !== mine && s.cursor)
      .map(([, s]) => h('div', {
        class: 'cursor',
        style: { left: `${s.cursor.x}px`, top: `${s.cursor.y}px`, '--who': s.user.color ?? '#666' }
      }, h('span', {}, s.user.name))))
    const editors = new Map()
    for (const [client, s] of states) {
      if (client !== mine && s.editingCard) editors.set(s.editingCard, s.user)
    }
    for (const [id, el] of this.noteEls) {
      const who = editors.get(id)
      const badge = el.querySelector('.editing-badge')
      badge.textContent = who ? t('editingBy', { name: who.name }) : ''
      el.classList.toggle('being-edited', !!who)
      el.style.setProperty('--editor', who?.color ?? 'transparent')
    }
    this.workshop.follow(states)
  }

  // ----- rendering the board --------------------------------------------------------------------

  render () {
    const focusKey = document.activeElement?.dataset?.fkey
    const caret = this.editing ? [this.editing.textarea.selectionStart, this.editing.textarea.selectionEnd] : null
    const stages = this.board.stageList()
    const lanes = this.board.laneList()
    const personas = this.board.personaList()
    const title = String(this.board.meta.get('title') ?? '')
    this.titleEl.textContent = title
    document.title = `${title || this.boardId} · Parcours`
    const key = JSON.stringify([stages, lanes, currentLang(), this.me.role])
    if (key !== this.skeletonKey) {
      this.skeletonKey = key
      this.buildSkeleton(stages, lanes)
    }
    const personaKey = JSON.stringify(personas)
    if (personaKey !== this.personaKey) {
      this.personaKey = personaKey
      this.renderPersonas(personas)
    }
    this.renderNotes()
    this.workshop.render()
    this.renderDetails()
    this.renderPresence()
    this.emptyEl.hidden = !(this.synced && stages.length === 0 && lanes.length === 0 && !title)
    // A rebuilt skeleton detaches the notes for a moment: put focus (and an editor's caret) back.
    if (this.editing && document.activeElement !== this.editing.textarea && this.editing.textarea.isConnected) {
      this.editing.textarea.focus()
      this.editing.textarea.setSelectionRange(...caret)
    } else if (focusKey && (document.activeElement === document.body || !document.activeElement)) {
      this.root.querySelector(`[data-fkey="${CSS.escape(focusKey)}"]`)?.focus()
    }
  }

  buildSkeleton (stages, lanes) {
    const focusKey = document.activeElement?.dataset?.fkey
    buildGrid(this.gridEl, stages, lanes, { fac: this.mayFacilitate, mayEdit: this.mayEdit, actions: this })
    if (focusKey) this.gridEl.querySelector(`[data-fkey="${CSS.escape(focusKey)}"]`)?.focus()
  }

  // What the grid's controls call (render.js), besides the methods below of the same names.
  shift (kind, id, delta) { this.board.shift(kind, id, delta) }
  setEmotion (stage, score) { this.board.setEmotion(stage, score) }

  cellEl (stage, lane) {
    return cellNotes(this.gridEl, stage, lane)
  }

  renderNotes () {
    const cells = this.board.cells()
    for (const draft of this.drafts.list()) {
      const key = `${draft.stage}|${draft.lane}`
      if (!cells.has(key)) cells.set(key, [])
      cells.get(key).push({ ...draft, draft: true, votes: {}, voteTotal: 0, reactions: {}, comments: [], author: this.me.name, authorId: this.me.id })
    }
    const seen = new Set()
    for (const [key, cards] of cells) {
      const [stage, lane] = key.split('|')
      const container = this.cellEl(stage, lane)
      if (!container) continue // a card whose stage or lane is gone (SCHEMA.md `card_stage_missing`)
      const wanted = cards.map((card) => {
        seen.add(card.id)
        return this.noteEl(card)
      })
      // Reorder only what is out of place: moving a focused element would blur it.
      wanted.forEach((el, i) => {
        if (container.children[i] !== el) container.insertBefore(el, container.children[i] ?? null)
      })
    }
    for (const [id, el] of this.noteEls) {
      if (seen.has(id)) continue
      if (el.contains(document.activeElement)) el.closest('.cell')?.querySelector('.add-note')?.focus()
      el.remove()
      this.noteEls.delete(id)
      if (this.editing?.id === id) this.stopEdit(false)
      if (this.selected === id) this.select(null)
    }
  }

  /** The element of a note, made or updated. */
  noteEl (card) {
    let el = this.noteEls.get(card.id)
    if (!el) {
      el = noteElement(card.id, this)
      this.noteEls.set(card.id, el)
    }
    el.classList.toggle('selected', this.selected === card.id)
    const textEl = el.querySelector('.note-text')
    if (this.editing?.id === card.id) {
      const area = this.editing.textarea
      if (area.value !== card.text) replaceKeepingCaret(area, card.text)
    } else if (textEl.textContent !== card.text) {
      textEl.textContent = card.text
    }
    fillNote(el, card, { meId: this.me.id })
    return el
  }

  // ----- editing notes ------------------------------------------------------------------------------

  newNote (stage, lane) {
    const id = this.workshop.isPrivateRound()
      ? this.drafts.add(stage, lane)
      : this.board.addCard(stage, lane, '')
    this.render()
    this.startEdit(id, { fresh: true })
  }

  startEdit (id, { fresh = false } = {}) {
    if (!this.mayEdit) return
    if (this.editing) this.stopEdit(true)
    const el = this.noteEls.get(id)
    if (!el) return
    const draft = el.classList.contains('private')
    const textEl = el.querySelector('.note-text')
    const textarea = h('textarea', {
      class: 'note-editor',
      'aria-label': t('note'),
      placeholder: t('notePlaceholder'),
      rows: 3
    })
    textarea.value = draft ? this.drafts.get(id)?.text ?? '' : this.board.card(id)?.text ?? ''
    textarea.addEventListener('input', () => {
      if (draft) {
        this.drafts.update(id, { text: textarea.value })
      } else {
        this.board.setCardText(id, textarea.value)
      }
    })
    textarea.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' || (e.key === 'Enter' && !e.shiftKey)) {
        e.preventDefault()
        e.stopPropagation()
        this.stopEdit(true)
      }
    })
    textarea.addEventListener('blur', () => {
      // A remote change may rebuild the grid and detach the editor for a moment: leave editing
      // only when the participant really moved on.
      setTimeout(() => {
        if (this.editing?.textarea === textarea && document.activeElement !== textarea) this.stopEdit(false)
      }, 0)
    })
    this.editing = { id, draft, textarea, fresh }
    textEl.replaceChildren(textarea)
    el.draggable = false
    textarea.focus()
    textarea.setSelectionRange(textarea.value.length, textarea.value.length)
    if (!draft) this.awareness.setLocalStateField('editingCard', id)
  }

  stopEdit (refocus) {
    const editing = this.editing
    if (!editing) return
    this.editing = null
    this.awareness.setLocalStateField('editingCard', null)
    const el = this.noteEls.get(editing.id)
    const text = editing.textarea.value
    if (editing.fresh && text.trim() === '') {
      // A note left empty right after adding it is taken back.
      if (editing.draft) this.drafts.remove(editing.id)
      else this.board.deleteCard(editing.id)
      this.render()
      return
    }
    if (el) {
      el.querySelector('.note-text').textContent = text
      el.draggable = this.mayEdit
      if (refocus) el.focus()
    }
    this.render()
  }

  async deleteNote (id) {
    const el = this.noteEls.get(id)
    if (!el) return
    if (el.classList.contains('private')) {
      this.drafts.remove(id)
    } else {
      const card = this.board.card(id)
      if (!card) return
      // The server refuses it anyway (PROTOCOL.md §7.3); saying so here keeps the view whole.
      if (card.authorId !== this.me.id && !this.mayFacilitate) return toast(t('denied', { reason: t('notYourNote') }), 'error')
      if (!confirm(t('confirmDeleteNote'))) return
      this.board.deleteCard(id)
    }
    this.render()
  }

  vote (id, delta) {
    if (this.noteEls.get(id)?.classList.contains('private')) return
    const state = this.board.votingState()
    if (state.frozen) return toast(t('votingClosed'))
    if (!this.board.vote(id, delta) && delta > 0) toast(t('votesLeft', { n: 0, total: state.budget }))
  }

  drop (e, stage, lane) {
    e.preventDefault()
    e.currentTarget.classList.remove('drop')
    const id = e.dataTransfer.getData('text/x-parcours-card')
    if (!id) return
    const before = e.target.closest('.note')?.dataset.card
    this.moveNote(id, stage, lane, before !== id ? before : undefined)
  }

  moveNote (id, stage, lane, beforeId) {
    if (this.noteEls.get(id)?.classList.contains('private')) {
      this.drafts.update(id, { stage, lane })
    } else {
      this.board.moveCard(id, stage, lane, beforeId)
    }
    this.render()
    this.noteEls.get(id)?.focus()
  }

  // ----- keyboard -------------------------------------------------------------------------------

  /** Keys on a focused note: Enter edits, V votes, Delete deletes, arrows move focus, Alt+arrows move the note. */
  noteKeys (e, id) {
    if (e.target !== e.currentTarget) return
    if (e.key === 'Enter') {
      e.preventDefault()
      this.startEdit(id)
    } else if (e.key === 'Escape') {
      this.select(null)
    } else if (e.key === 'v' || e.key === 'V') {
      this.vote(id, e.shiftKey ? -1 : 1)
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault()
      this.deleteNote(id)
    } else if (e.altKey && e.key.startsWith('Arrow')) {
      e.preventDefault()
      this.altMove(id, e.key)
    } else {
      this.navKeys(e)
    }
  }

  /** Arrow keys between notes and cells: up and down within a cell then to the next lane; left and right to the next stage. */
  navKeys (e) {
    if (!['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'].includes(e.key) || e.altKey || e.ctrlKey || e.metaKey) return
    const cell = e.currentTarget.closest('.cell')
    if (!cell) return
    e.preventDefault()
    const items = (c) => [...c.querySelectorAll('.note, .add-note')]
    const index = items(cell).indexOf(e.currentTarget)
    const cells = [...this.gridEl.querySelectorAll('.cell')]
    const stages = [...new Set(cells.map((c) => c.dataset.stage))]
    const col = stages.indexOf(cell.dataset.stage)
    const row = Math.floor(cells.indexOf(cell) / stages.length)
    const at = (r, c) => cells[r * stages.length + c]
    let target
    if (e.key === 'ArrowDown') {
      target = items(cell)[index + 1] ?? (at(row + 1, col) ? items(at(row + 1, col))[0] : null)
    } else if (e.key === 'ArrowUp') {
      target = index > 0 ? items(cell)[index - 1] : (at(row - 1, col) ? items(at(row - 1, col)).at(-1) : null)
    } else {
      const nextCol = col + (e.key === 'ArrowRight' ? 1 : -1)
      const next = nextCol >= 0 && nextCol < stages.length ? at(row, nextCol) : null
      if (next) {
        const list = items(next)
        target = list[Math.min(index, list.length - 1)]
      }
    }
    target?.focus()
    target?.scrollIntoView({ block: 'nearest', inline: 'nearest' })
  }

  altMove (id, key) {
    const el = this.noteEls.get(id)
    const cell = el?.closest('.cell')
    if (!cell) return
    const stages = this.board.stageList().map((s) => s.id)
    const lanes = this.board.laneList().map((l) => l.id)
    const siblings = [...cell.querySelectorAll('.note')].map((n) => n.dataset.card)
    const index = siblings.indexOf(id)
    let stage = cell.dataset.stage
    let lane = cell.dataset.lane
    let before
    if (key === 'ArrowLeft' || key === 'ArrowRight') {
      stage = stages[stages.indexOf(stage) + (key === 'ArrowLeft' ? -1 : 1)]
    } else if (key === 'ArrowUp') {
      if (index > 0) before = siblings[index - 1]
      else lane = lanes[lanes.indexOf(lane) - 1]
    } else if (key === 'ArrowDown') {
      // Below the next note (before the one after it, or at the end), or into the lane below.
      if (index < siblings.length - 1) before = siblings[index + 2]
      else lane = lanes[lanes.indexOf(lane) + 1]
    }
    if (!stage || !lane) return
    this.moveNote(id, stage, lane, before)
  }

  globalKeys (e) {
    // A past version is on screen: undo would change the live board out of sight.
    if (this.history.shown) return
    const inField = e.target.closest?.('input, select, dialog, textarea:not(.note-editor)')
    if ((e.ctrlKey || e.metaKey) && !inField && (e.key === 'z' || e.key === 'Z' || e.key === 'y')) {
      e.preventDefault()
      if (e.key === 'y' || e.shiftKey) this.undo.redo()
      else this.undo.undo()
    }
  }

  // ----- the note's details: colour, votes, reactions, comments, move, delete -------------------------

  select (id) {
    this.selected = id
    this.awareness.setLocalStateField('selectedCard', id && !this.drafts.get(id) ? id : null)
    for (const [cid, el] of this.noteEls) el.classList.toggle('selected', cid === id)
    this.commentDraft = ''
    this.renderDetails(true)
  }

  renderDetails (rebuild = false) {
    const id = this.selected
    const card = id ? (this.board.card(id) ?? this.drafts.asCard(id, this.me)) : null
    if (!card) {
      this.detailsEl.hidden = true
      this.detailsEl.replaceChildren()
      this.selected = null
      return
    }
    const key = JSON.stringify([card, this.board.votingState(), currentLang(), this.board.stageList().map((s) => s.name), this.board.laneList().map((l) => l.title)])
    if (!rebuild && key === this.detailsKey) return
    this.detailsKey = key
    const focusKey = document.activeElement?.dataset?.fkey
    const commentInput = this.detailsEl.querySelector('.comment-input')
    const typed = commentInput?.value ?? ''
    const mine = card.authorId === this.me.id
    const voting = this.board.votingState()
    const stages = this.board.stageList()
    const lanes = this.board.laneList()
    this.detailsEl.hidden = false
    this.detailsEl.replaceChildren(h('div', { class: 'details-body' },
      h('div', { class: 'head-row' },
        h('h2', {}, t('note')),
        h('button', { class: 'icon', 'aria-label': t('close'), onclick: () => { this.select(null); this.noteEls.get(id)?.focus() } }, '×')),
      h('p', { class: 'details-text' }, card.text || '…'),
      h('p', { class: 'muted small' }, card.draft ? t('privateNote') : t('noteBy', { name: card.author })),
      this.mayEdit ? h('div', { class: 'row' },
        h('button', { dataset: { fkey: 'd-edit' }, onclick: () => this.startEdit(id) }, t('edit')),
        (mine || this.mayFacilitate || card.draft) ? h('button', { class: 'danger', dataset: { fkey: 'd-delete' }, onclick: () => this.deleteNote(id) }, t('delete')) : null) : null,
      this.mayEdit ? h('fieldset', { class: 'colours' }, h('legend', {}, t('colour')),
        NOTE_COLOURS.map((c) => h('button', {
          class: 'swatch' + (c === card.color ? ' on' : ''),
          style: { background: c },
          'aria-label': `${t('colour')} ${c}`,
          'aria-pressed': String(c === card.color),
          dataset: { fkey: `d-colour-${c}` },
          onclick: () => card.draft ? (this.drafts.update(id, { color: c }), this.render()) : this.board.setCard(id, 'color', c)
        }))) : null,
      this.mayEdit ? h('div', { class: 'row move' },
        h('label', {}, h('span', {}, t('stage')), h('select', {
          dataset: { fkey: 'd-stage' },
          onchange: (e) => this.moveNote(id, e.target.value, card.lane)
        }, stages.map((s) => h('option', { value: s.id, selected: s.id === card.stage }, s.name)))),
        h('label', {}, h('span', {}, t('lane')), h('select', {
          dataset: { fkey: 'd-lane' },
          onchange: (e) => this.moveNote(id, card.stage, e.target.value)
        }, lanes.map((l) => h('option', { value: l.id, selected: l.id === card.lane }, l.title))))) : null,
      card.draft ? '' : h('div', { class: 'social' },
        h('div', { class: 'row votes' },
          h('strong', {}, `${t('votes')}: ${card.voteTotal}`),
          this.mayEdit ? [
            h('button', { dataset: { fkey: 'd-unvote' }, 'aria-label': t('unvote'), disabled: voting.frozen || !(card.votes[this.me.id] > 0), onclick: () => this.vote(id, -1) }, '−'),
            h('span', { class: 'my-votes' }, String(card.votes[this.me.id] ?? 0)),
            h('button', { dataset: { fkey: 'd-vote' }, 'aria-label': t('vote'), disabled: voting.frozen || voting.left <= 0, onclick: () => this.vote(id, 1) }, '+')
          ] : null),
        h('div', { class: 'row reactions', role: 'group', 'aria-label': t('reactions') },
          REACTIONS.map((emoji) => {
            const ids = card.reactions[emoji] ?? []
            return h('button', {
              class: 'reaction' + (ids.includes(this.me.id) ? ' on' : ''),
              'aria-pressed': String(ids.includes(this.me.id)),
              disabled: !this.mayEdit,
              dataset: { fkey: `d-react-${emoji}` },
              onclick: () => this.board.toggleReaction(id, emoji)
            }, emoji, ids.length ? ` ${ids.length}` : '')
          })),
        h('h3', {}, t('comments')),
        h('ul', { class: 'comments' }, card.comments.map((c) => h('li', {},
          h('strong', {}, c.author), ' ', h('span', {}, c.text),
          (c.authorId === this.me.id || this.mayFacilitate)
            ? h('button', { class: 'icon small', 'aria-label': t('delete'), onclick: () => this.board.deleteComment(id, c.id) }, '×')
            : null))),
        this.mayEdit ? h('form', {
          class: 'row',
          onsubmit: (e) => {
            e.preventDefault()
            const input = e.currentTarget.querySelector('input')
            this.board.addComment(id, input.value)
            input.value = ''
          }
        }, h('input', { class: 'comment-input', dataset: { fkey: 'd-comment' }, 'aria-label': t('addComment'), placeholder: t('addComment') }),
        h('button', { type: 'submit' }, t('add'))) : '')))
    const input = this.detailsEl.querySelector('.comment-input')
    if (input && typed) input.value = typed
    if (focusKey) this.detailsEl.querySelector(`[data-fkey="${CSS.escape(focusKey)}"]`)?.focus()
  }

  // ----- stages, lanes, personas, metrics (facilitators) ---------------------------------------------

  async addStage () {
    const values = await dialog(t('addStage'), [{ name: 'name', label: t('name'), required: true }], { submitLabel: t('add'), cancelLabel: t('cancel') })
    if (values?.name) this.board.addStage(values.name.trim())
  }

  async editStage (stage) {
    const remove = h('button', { type: 'button', class: 'danger', onclick: () => {
      if (confirm(t('confirmDeleteStage', { name: stage.name }))) {
        this.board.deleteColumnOrRow('stages', stage.id)
        remove.closest('dialog').close()
      }
    } }, t('delete'))
    const values = await dialog(`${t('stage')}: ${stage.name}`, [
      { name: 'name', label: t('name'), value: stage.name, required: true },
      { name: 'description', label: t('description'), value: stage.description, multiline: true }
    ], { submitLabel: t('save'), cancelLabel: t('cancel'), extra: remove })
    if (values) this.board.setItem('stages', stage.id, { name: values.name.trim(), description: values.description.trim() })
  }

  async addLane () {
    const values = await dialog(t('addLane'), [
      { name: 'title', label: t('name'), required: true },
      { name: 'question', label: t('question') },
      { name: 'kind', label: t('kind'), options: LANE_KINDS.map((k) => [k, k]), value: 'custom' }
    ], { submitLabel: t('add'), cancelLabel: t('cancel') })
    if (values?.title) this.board.addLane(values.title.trim(), values.kind, values.question.trim())
  }

  async editLane (lane) {
    const remove = h('button', { type: 'button', class: 'danger', onclick: () => {
      if (confirm(t('confirmDeleteLane', { name: lane.title }))) {
        this.board.deleteColumnOrRow('lanes', lane.id)
        remove.closest('dialog').close()
      }
    } }, t('delete'))
    const values = await dialog(`${t('lane')}: ${lane.title}`, [
      { name: 'title', label: t('name'), value: lane.title, required: true },
      { name: 'question', label: t('question'), value: lane.question, multiline: true },
      { name: 'kind', label: t('kind'), options: LANE_KINDS.map((k) => [k, k]), value: lane.kind }
    ], { submitLabel: t('save'), cancelLabel: t('cancel'), extra: remove })
    if (values) this.board.setItem('lanes', lane.id, { title: values.title.trim(), question: values.question.trim(), kind: values.kind })
  }

  async editMetric (stage, metric) {
    const remove = metric ? h('button', { type: 'button', class: 'danger', onclick: () => {
      this.board.deleteMetric(stage.id, metric.id)
      remove.closest('dialog').close()
    } }, t('delete')) : null
    const values = await dialog(`${t('metrics')}: ${stage.name}`, [
      { name: 'name', label: t('name'), value: metric?.name ?? '', required: true },
      { name: 'value', label: t('value'), type: 'number', step: 'any', value: metric?.value ?? 0 },
      { name: 'unit', label: t('unit'), value: metric?.unit ?? '' },
      { name: 'target', label: t('target'), type: 'number', step: 'any', value: metric?.target ?? '' }
    ], { submitLabel: t('save'), cancelLabel: t('cancel'), extra: remove })
    if (!values) return
    const number = (v) => (v === '' || !Number.isFinite(Number(v)) ? null : Number(v))
    this.board.setMetric(stage.id, metric?.id ?? newMetricId(), {
      name: values.name.trim(),
      value: number(values.value) ?? 0,
      unit: values.unit.trim(),
      target: number(values.target)
    })
  }

  renderPersonas (personas) {
    drawPersonas(this.personaEl, personas, { fac: this.mayFacilitate, actions: this })
  }

  async editPersona (persona) {
    const remove = persona ? h('button', { type: 'button', class: 'danger', onclick: () => {
      this.board.deleteItem('personas', persona.id)
      remove.closest('dialog').close()
    } }, t('delete')) : null
    const values = await dialog(persona ? `${t('persona')}: ${persona.name}` : t('addPersona'), [
      { name: 'name', label: t('name'), value: persona?.name ?? '', required: true },
      { name: 'occupation', label: t('occupation'), value: persona?.occupation ?? '' },
      { name: 'ageRange', label: t('ageRange'), value: persona?.ageRange ?? '' },
      { name: 'goals', label: t('goals'), value: persona?.goals ?? '', multiline: true },
      { name: 'frustrations', label: t('frustrations'), value: persona?.frustrations ?? '', multiline: true },
      { name: 'buyingHabits', label: t('buyingHabits'), value: persona?.buyingHabits ?? '' }
    ], { submitLabel: t('save'), cancelLabel: t('cancel'), extra: remove })
    if (!values) return
    const id = persona?.id ?? this.board.addPersona(values.name.trim())
    const trimmed = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.trim()]))
    this.board.setItem('personas', id, trimmed)
  }
}

// ----- helpers -----------------------------------------------------------------------------------

function newMetricId () {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Sets a textarea's text to `next`, keeping the caret where it was relative to the text around it. */
function replaceKeepingCaret (area, next) {
  const prev = area.value
  const caret = area.selectionStart
  let prefix = 0
  while (prefix < prev.length && prefix < next.length && prev[prefix] === next[prefix]) prefix++
  area.value = next
  const moved = caret > prefix ? Math.max(prefix, caret + next.length - prev.length) : caret
  area.setSelectionRange(moved, moved)
}
