// Drawing a journey board: the grid (stage heads with emotion and metrics, the emotion curve, lane
// heads, one cell per stage × lane), notes and the persona panel. The live board (board.js) and
// the read-only past versions of the history panel (history.js) both draw with these, so a past
// version looks exactly like the board did.
//
// Everything here takes plain values (as `Board.stageList()`, `laneList()`, `personaList()` and
// `card()` give them) and, for the live board, an `actions` object whose methods the controls
// call. Without `actions` nothing is editable: no tools, no add buttons, no drag and drop, no
// votes.

import { h } from './dom.js'
import { t } from './i18n.js'
import { PALETTE } from './identity.js'
import { NOTE_COLOURS } from './model.js'

export const COL = 232 // px, one stage column; the emotion curve is drawn on the same grid

/**
 * Fills `gridEl` with the board's skeleton: heads, the emotion curve and empty cells (each with
 * an empty `.notes` container for `renderCellNotes`). `fac` shows the facilitator's tools and
 * `mayEdit` the add-note buttons; both need `actions`.
 */
export function buildGrid (gridEl, stages, lanes, { fac = false, mayEdit = false, actions = null } = {}) {
  fac = fac && !!actions
  mayEdit = mayEdit && !!actions
  gridEl.style.gridTemplateColumns = `var(--lane-head) repeat(${stages.length}, ${COL}px)${fac ? ' 56px' : ''}`
  const cells = []
  cells.push(h('div', { class: 'corner' }, fac ? h('button', { class: 'ghost', onclick: () => actions.addLane() }, '+ ', t('addLane')) : null))
  for (const [i, stage] of stages.entries()) {
    cells.push(h('div', { class: 'stage-head', dataset: { stage: stage.id } },
      h('div', { class: 'head-row' },
        h('h2', {}, stage.name),
        fac ? h('span', { class: 'tools' },
          h('button', { class: 'icon', 'aria-label': `${t('moveLeft')}: ${stage.name}`, disabled: i === 0, onclick: () => actions.shift('stages', stage.id, -1) }, '‹'),
          h('button', { class: 'icon', 'aria-label': `${t('moveRight')}: ${stage.name}`, disabled: i === stages.length - 1, onclick: () => actions.shift('stages', stage.id, 1) }, '›'),
          h('button', { class: 'icon', 'aria-label': `${t('edit')}: ${stage.name}`, dataset: { fkey: `edit-stage-${stage.id}` }, onclick: () => actions.editStage(stage) }, '✎'))
          : null),
      stage.description ? h('p', { class: 'muted small' }, stage.description) : null,
      h('label', { class: 'emotion' },
        h('span', {}, t('emotion')),
        h('select', {
          disabled: !fac,
          dataset: { fkey: `emotion-${stage.id}` },
          'aria-label': `${t('emotion')}: ${stage.name}`,
          onchange: fac ? (e) => actions.setEmotion(stage.id, e.target.value === '' ? null : Number(e.target.value)) : null
        },
        h('option', { value: '', selected: stage.emotion === null }, '—'),
        [2, 1, 0, -1, -2].map((n) => h('option', { value: n, selected: stage.emotion === n }, `${emotionFace(n)} ${signed(n)}`)))),
      h('ul', { class: 'metrics', 'aria-label': t('metrics') },
        stage.metrics.map((m) => h('li', {},
          h('button', {
            class: 'metric',
            disabled: !fac,
            dataset: { fkey: `metric-${m.id}` },
            onclick: fac ? () => actions.editMetric(stage, m) : null
          }, h('span', {}, m.name), h('strong', {}, formatNumber(m.value), m.unit ? ` ${m.unit}` : ''),
          m.target !== null ? h('span', { class: 'muted' }, ` / ${formatNumber(m.target)}`) : null))),
        fac ? h('li', {}, h('button', { class: 'ghost small', onclick: () => actions.editMetric(stage, null) }, '+ ', t('addMetric'))) : null)))
  }
  if (fac) cells.push(h('div', { class: 'add-stage' }, h('button', { class: 'icon', 'aria-label': t('addStage'), title: t('addStage'), onclick: () => actions.addStage() }, '+')))

  // The emotion curve, on the stage columns' grid.
  cells.push(h('div', { class: 'lane-head curve-head' }, h('h3', {}, t('emotionCurve'))))
  cells.push(h('div', { class: 'curve', style: { gridColumn: `2 / span ${Math.max(1, stages.length)}` } }, emotionCurve(stages)))
  if (fac) cells.push(h('div', {}))

  for (const [i, lane] of lanes.entries()) {
    cells.push(h('div', { class: 'lane-head', dataset: { lane: lane.id } },
      h('div', { class: 'head-row' },
        h('h3', {}, lane.title),
        fac ? h('span', { class: 'tools' },
          h('button', { class: 'icon', 'aria-label': `${t('moveUp')}: ${lane.title}`, disabled: i === 0, onclick: () => actions.shift('lanes', lane.id, -1) }, '˄'),
          h('button', { class: 'icon', 'aria-label': `${t('moveDown')}: ${lane.title}`, disabled: i === lanes.length - 1, onclick: () => actions.shift('lanes', lane.id, 1) }, '˅'),
          h('button', { class: 'icon', 'aria-label': `${t('edit')}: ${lane.title}`, dataset: { fkey: `edit-lane-${lane.id}` }, onclick: () => actions.editLane(lane) }, '✎'))
          : null),
      lane.question ? h('p', { class: 'question' }, lane.question) : null))
    for (const stage of stages) {
      const label = t('addNoteIn', { stage: stage.name, lane: lane.title })
      cells.push(h('div', {
        class: 'cell',
        role: 'group',
        'aria-label': `${stage.name} × ${lane.title}`,
        dataset: { stage: stage.id, lane: lane.id },
        ondragover: mayEdit ? (e) => { if (e.dataTransfer.types.includes('text/x-parcours-card')) { e.preventDefault(); e.currentTarget.classList.add('drop') } } : null,
        ondragleave: mayEdit ? (e) => e.currentTarget.classList.remove('drop') : null,
        ondrop: mayEdit ? (e) => actions.drop(e, stage.id, lane.id) : null
      },
      h('div', { class: 'notes' }),
      mayEdit ? h('button', {
        class: 'add-note',
        'aria-label': label,
        title: label,
        dataset: { fkey: `add-${stage.id}-${lane.id}` },
        onclick: () => actions.newNote(stage.id, lane.id),
        onkeydown: (e) => actions.navKeys(e)
      }, '+') : null))
    }
    if (fac) cells.push(h('div', {}))
  }
  gridEl.replaceChildren(...cells)
}

/** The `.notes` container of a cell of a grid `buildGrid` drew, or null. */
export function cellNotes (gridEl, stage, lane) {
  return gridEl.querySelector(`.cell[data-stage="${CSS.escape(stage)}"][data-lane="${CSS.escape(lane)}"] .notes`)
}

/**
 * A new note element for card `id`. With `actions` it can be focused, selected, edited, dragged
 * and voted on; without, it is only read (focusable, so that keyboard users can read it).
 */
export function noteElement (id, actions = null) {
  const live = !!actions
  return h('article', {
    class: 'note' + (live ? '' : ' readonly'),
    tabindex: 0,
    draggable: live && actions.mayEdit ? 'true' : 'false',
    dataset: { card: id, fkey: `note-${id}` },
    onkeydown: live ? (e) => actions.noteKeys(e, id) : null,
    onclick: live ? (e) => { if (!e.target.closest('button,textarea')) actions.select(id) } : null,
    ondblclick: live ? (e) => { if (!e.target.closest('button')) actions.startEdit(id) } : null,
    ondragstart: live
      ? (e) => {
          e.dataTransfer.setData('text/x-parcours-card', id)
          e.dataTransfer.effectAllowed = 'move'
        }
      : null
  },
  h('div', { class: 'note-text' }),
  h('div', { class: 'note-meta' },
    h('span', { class: 'author' }),
    h('span', { class: 'reaction-summary' }),
    h('span', { class: 'comment-count' }),
    h('button', {
      class: 'vote-btn',
      tabindex: -1,
      disabled: !live,
      onclick: live ? (e) => { e.stopPropagation(); actions.vote(id, e.shiftKey ? -1 : 1) } : null
    }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'vote-count' }))),
  h('div', { class: 'editing-badge' }))
}

/**
 * Shows `card` (as `Board.card()` gives it, or a private draft with `draft: true`) on its note
 * element: cell, colour, author, votes (`meId`'s own marked), reactions, comments, label. The text
 * is left to the caller unless `withText`, since the live board may be editing it.
 */
export function fillNote (el, card, { meId = null, withText = false } = {}) {
  el.dataset.stage = card.stage
  el.dataset.lane = card.lane
  el.classList.toggle('private', !!card.draft)
  el.style.setProperty('--note', card.color || NOTE_COLOURS[0])
  if (withText) {
    const textEl = el.querySelector('.note-text')
    if (textEl.textContent !== card.text) textEl.textContent = card.text
  }
  el.querySelector('.author').textContent = card.draft ? t('privateNote') : card.author
  const mine = meId ? (card.votes[meId] ?? 0) : 0
  el.querySelector('.vote-count').textContent = card.voteTotal ? String(card.voteTotal) : ''
  const voteBtn = el.querySelector('.vote-btn')
  voteBtn.hidden = !!card.draft
  voteBtn.classList.toggle('mine', mine > 0)
  voteBtn.setAttribute('aria-label', `${t('vote')} (${card.voteTotal})`)
  el.querySelector('.reaction-summary').textContent = Object.entries(card.reactions).map(([emoji, ids]) => `${emoji}${ids.length}`).join(' ')
  el.querySelector('.comment-count').textContent = card.comments.length ? `💬${card.comments.length}` : ''
  el.setAttribute('aria-label', `${t('note')}: ${card.text || '…'}; ${card.draft ? t('privateNote') : t('noteBy', { name: card.author })}; ${t('votes')} ${card.voteTotal}`)
}

/** Fills `container` with the persona panel; `actions` (`editPersona`) for facilitators only. */
export function renderPersonas (container, personas, { fac = false, actions = null } = {}) {
  fac = fac && !!actions
  container.replaceChildren(
    h('div', { class: 'head-row' }, h('h2', {}, t('personas')),
      fac ? h('button', { class: 'icon', 'aria-label': t('addPersona'), title: t('addPersona'), onclick: () => actions.editPersona(null) }, '+') : null),
    h('ul', {}, personas.map((p, i) => h('li', { class: 'persona' },
      h('div', { class: 'head-row' },
        h('span', { class: 'avatar', style: { '--who': PALETTE[i % PALETTE.length] }, 'aria-hidden': 'true' }, initials(p.name)),
        h('h3', {}, p.name),
        fac ? h('button', { class: 'icon', 'aria-label': `${t('edit')}: ${p.name}`, onclick: () => actions.editPersona(p) }, '✎') : null),
      p.occupation ? h('p', { class: 'small' }, p.occupation) : null,
      p.ageRange ? h('p', { class: 'small muted' }, `${t('ageRange')}: ${p.ageRange}`) : null,
      p.goals ? h('p', { class: 'small' }, h('strong', {}, t('goals'), ': '), p.goals) : null,
      p.frustrations ? h('p', { class: 'small' }, h('strong', {}, t('frustrations'), ': '), p.frustrations) : null,
      p.buyingHabits ? h('p', { class: 'small' }, h('strong', {}, t('buyingHabits'), ': '), p.buyingHabits) : null))))
}

export function initials (name) {
  return String(name ?? '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0].toUpperCase()).join('') || '?'
}

export function emotionFace (n) {
  return ['😣', '🙁', '😐', '🙂', '😀'][n + 2]
}

/** An emotion score as shown: `+2`, `0`, `−1`. */
export function signed (n) {
  return n > 0 ? '+' + n : String(n)
}

export function formatNumber (n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '')
}

/** The emotion curve: one point per stage with a score, joined left to right. */
export function emotionCurve (stages) {
  const NS = 'http://www.w3.org/2000/svg'
  const height = 96
  const y = (score) => height / 2 - score * 20
  const svg = document.createElementNS(NS, 'svg')
  svg.setAttribute('width', String(Math.max(1, stages.length) * COL))
  svg.setAttribute('height', String(height))
  svg.setAttribute('role', 'img')
  const scored = stages.map((s, i) => ({ x: i * COL + COL / 2, s })).filter((p) => p.s.emotion !== null)
  svg.setAttribute('aria-label', `${t('emotionCurve')}: ${stages.map((s) => `${s.name} ${s.emotion ?? t('emotionNotSet')}`).join(', ')}`)
  const el = (tag, attrs) => {
    const node = document.createElementNS(NS, tag)
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
    svg.append(node)
    return node
  }
  el('line', { x1: 0, x2: stages.length * COL, y1: y(0), y2: y(0), class: 'baseline' })
  if (scored.length > 1) el('polyline', { points: scored.map((p) => `${p.x},${y(p.s.emotion)}`).join(' '), class: 'curve-line' })
  for (const p of scored) {
    el('circle', { cx: p.x, cy: y(p.s.emotion), r: 7, class: p.s.emotion > 0 ? 'good' : p.s.emotion < 0 ? 'bad' : 'neutral' })
    const label = el('text', { x: p.x + 11, y: y(p.s.emotion) + 4, class: 'curve-label' })
    label.textContent = `${emotionFace(p.s.emotion)} ${p.s.emotion > 0 ? '+' : ''}${p.s.emotion}`
  }
  return svg
}
