// The journey board in the Yjs document, exactly as SCHEMA.md lays it out: reading it in display
// order, and every edit the page makes. Every local edit is a transaction with origin LOCAL, which
// is what the undo manager tracks (so undo only takes back this participant's own edits).

import * as Y from 'yjs'
import { randomHex } from './identity.js'

export const LOCAL = Symbol('parcours-local')

export const NOTE_COLOURS = ['#ffd166', '#ffadad', '#a0e7a0', '#9bd0ff', '#d7b8ff', '#ffffff']
export const REACTIONS = ['👍', '❤️', '💡', '😮', '❓']
export const LANE_KINDS = ['actions', 'motivations', 'questions', 'painPoints', 'touchpoints', 'channels',
  'emotions', 'needs', 'keyMoments', 'teamActions', 'expectations', 'received', 'objections',
  'opportunities', 'metrics', 'custom']

export const newId = () => randomHex(8)

/** Same rule as every other client (SCHEMA.md §3): after the last, before the first, or the midpoint. */
export function positionBetween (before, after) {
  if (before === undefined && after === undefined) return 1
  if (after === undefined) return Math.floor(before) + 1
  if (before === undefined) return Math.ceil(after) - 1
  const mid = before + (after - before) / 2
  return mid > before && mid < after ? mid : before
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
const str = (v) => (typeof v === 'string' ? v : v instanceof Y.Text ? v.toString() : '')

/** Sorts `[id, Y.Map]` entries by (position, id). */
function ordered (map) {
  return [...map.entries()]
    .filter(([, v]) => v instanceof Y.Map)
    .sort(([ia, a], [ib, b]) => num(a.get('position')) - num(b.get('position')) || (ia < ib ? -1 : ia > ib ? 1 : 0))
}

/** Entries of a Y.Map or a plain object (readers show both, SCHEMA.md §7). */
function entriesOf (value) {
  if (value instanceof Y.Map) return [...value.entries()]
  if (value && typeof value === 'object') return Object.entries(value)
  return []
}

export class Board {
  constructor (doc, me) {
    this.doc = doc
    this.me = me
    this.meta = doc.getMap('meta')
    this.personas = doc.getMap('personas')
    this.stages = doc.getMap('stages')
    this.lanes = doc.getMap('lanes')
    this.cards = doc.getMap('cards')
    this.workshop = doc.getMap('workshop')
  }

  transact (fn) {
    this.doc.transact(fn, LOCAL)
  }

  touch () {
    this.meta.set('updatedAt', Date.now())
  }

  // ----- reading ----------------------------------------------------------------------------

  stageList () {
    return ordered(this.stages).map(([id, m]) => ({
      id,
      name: str(m.get('name')),
      description: str(m.get('description')),
      position: num(m.get('position')),
      emotion: Number.isInteger(m.get('emotion')) ? m.get('emotion') : null,
      metrics: m.get('metrics') instanceof Y.Map
        ? ordered(m.get('metrics')).map(([mid, x]) => ({
          id: mid,
          name: str(x.get('name')),
          value: num(x.get('value')),
          unit: str(x.get('unit')),
          target: typeof x.get('target') === 'number' ? x.get('target') : null
        }))
        : []
    }))
  }

  laneList () {
    return ordered(this.lanes).map(([id, m]) => ({
      id,
      kind: str(m.get('kind')) || 'custom',
      title: str(m.get('title')),
      question: str(m.get('question')),
      position: num(m.get('position'))
    }))
  }

  personaList () {
    return ordered(this.personas).map(([id, m]) => ({
      id,
      name: str(m.get('name')),
      occupation: str(m.get('occupation')),
      ageRange: str(m.get('ageRange')),
      goals: str(m.get('goals')),
      frustrations: str(m.get('frustrations')),
      buyingHabits: str(m.get('buyingHabits')),
      pictureUrl: str(m.get('pictureUrl')),
      position: num(m.get('position'))
    }))
  }

  card (id) {
    const m = this.cards.get(id)
    if (!(m instanceof Y.Map)) return null
    const votes = {}
    let voteTotal = 0
    for (const [pid, n] of entriesOf(m.get('votes'))) {
      if (typeof n === 'number' && n > 0) {
        votes[pid] = n
        voteTotal += n
      }
    }
    const reactions = {}
    for (const [emoji, who] of entriesOf(m.get('reactions'))) {
      const ids = entriesOf(who).filter(([, v]) => v === true).map(([pid]) => pid)
      if (ids.length) reactions[emoji] = ids
    }
    const comments = entriesOf(m.get('comments'))
      .filter(([, c]) => c instanceof Y.Map)
      .map(([cid, c]) => ({
        id: cid,
        author: str(c.get('author')),
        authorId: str(c.get('authorId')),
        text: str(c.get('text')),
        createdAt: num(c.get('createdAt'))
      }))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return {
      id,
      stage: str(m.get('stage')),
      lane: str(m.get('lane')),
      text: str(m.get('text')),
      author: str(m.get('author')),
      authorId: str(m.get('authorId')),
      color: str(m.get('color')) || NOTE_COLOURS[0],
      position: num(m.get('position')),
      votes,
      voteTotal,
      reactions,
      comments
    }
  }

  /** Every card, grouped by cell `stage|lane`, each cell in display order. */
  cells () {
    const cells = new Map()
    for (const [id] of ordered(this.cards)) {
      const card = this.card(id)
      const key = `${card.stage}|${card.lane}`
      if (!cells.has(key)) cells.set(key, [])
      cells.get(key).push(card)
    }
    return cells
  }

  cellCards (stage, lane) {
    return this.cells().get(`${stage}|${lane}`) ?? []
  }

  // ----- notes ------------------------------------------------------------------------------

  addCard (stage, lane, text, { id = newId(), color = NOTE_COLOURS[0], createdAt = Date.now() } = {}) {
    const last = this.cellCards(stage, lane).at(-1)
    const now = Date.now()
    this.transact(() => {
      const card = new Y.Map()
      this.cards.set(id, card)
      card.set('stage', stage)
      card.set('lane', lane)
      const ytext = new Y.Text()
      card.set('text', ytext)
      if (text) ytext.insert(0, text)
      card.set('author', this.me.name)
      card.set('authorId', this.me.id)
      card.set('color', color)
      card.set('createdAt', createdAt)
      card.set('updatedAt', now)
      card.set('position', positionBetween(last?.position, undefined))
      card.set('votes', new Y.Map())
      card.set('comments', new Y.Map())
      card.set('reactions', new Y.Map())
      this.touch()
    })
    return id
  }

  /** The card's Y.Text, turning a plain string into one first (writers repair what they touch). */
  cardText (id) {
    const card = this.cards.get(id)
    if (!(card instanceof Y.Map)) return null
    let text = card.get('text')
    if (!(text instanceof Y.Text)) {
      const plain = str(text)
      text = new Y.Text()
      this.transact(() => {
        card.set('text', text)
        text.insert(0, plain)
      })
    }
    return text
  }

  /** Replaces the card's text with `next`, changing only the span that differs. */
  setCardText (id, next) {
    const text = this.cardText(id)
    if (!text) return
    const prev = text.toString()
    if (prev === next) return
    let start = 0
    while (start < prev.length && start < next.length && prev[start] === next[start]) start++
    let end = 0
    while (end < prev.length - start && end < next.length - start &&
      prev[prev.length - 1 - end] === next[next.length - 1 - end]) end++
    this.transact(() => {
      if (prev.length - start - end > 0) text.delete(start, prev.length - start - end)
      const inserted = next.slice(start, next.length - end)
      if (inserted) text.insert(start, inserted)
      this.cards.get(id).set('updatedAt', Date.now())
      this.touch()
    })
  }

  setCard (id, key, value) {
    const card = this.cards.get(id)
    if (!(card instanceof Y.Map)) return
    this.transact(() => {
      card.set(key, value)
      card.set('updatedAt', Date.now())
      this.touch()
    })
  }

  /** Moves a card to cell (stage, lane), before card `beforeId` or at the end. */
  moveCard (id, stage, lane, beforeId) {
    const card = this.cards.get(id)
    if (!(card instanceof Y.Map)) return
    const others = this.cellCards(stage, lane).filter((c) => c.id !== id)
    const index = beforeId ? others.findIndex((c) => c.id === beforeId) : -1
    const before = index === -1 ? others.at(-1) : others[index - 1]
    const after = index === -1 ? undefined : others[index]
    this.transact(() => {
      card.set('stage', stage)
      card.set('lane', lane)
      card.set('position', positionBetween(before?.position, after?.position))
      card.set('updatedAt', Date.now())
      this.touch()
    })
  }

  deleteCard (id) {
    this.transact(() => {
      this.cards.delete(id)
      if (this.meta.get('keyTouchpoint') === id) this.meta.delete('keyTouchpoint')
      this.touch()
    })
  }

  // ----- votes, reactions, comments ------------------------------------------------------------

  votingState () {
    const open = this.workshop.get('votingOpen')
    const budget = num(this.workshop.get('votesPerParticipant'))
    const round = num(this.workshop.get('votingRound'))
    let used = 0
    for (const [, card] of this.cards.entries()) {
      if (!(card instanceof Y.Map)) continue
      const mine = entriesOf(card.get('votes')).find(([pid]) => pid === this.me.id)
      if (mine && typeof mine[1] === 'number' && mine[1] > 0) used += mine[1]
    }
    return {
      frozen: open === false,
      open: open === true,
      round,
      budget,
      used,
      left: budget > 0 ? Math.max(0, budget - used) : Infinity
    }
  }

  /** The card's votes map, turning a plain object into a Y.Map first. */
  votesMap (card) {
    let votes = card.get('votes')
    if (!(votes instanceof Y.Map)) {
      const entries = entriesOf(votes)
      votes = new Y.Map()
      this.transact(() => {
        card.set('votes', votes)
        for (const [k, v] of entries) votes.set(k, v)
      })
    }
    return votes
  }

  /** Adds (+1) or removes (−1) one of this participant's dots; false if the round forbids it. */
  vote (id, delta) {
    const card = this.cards.get(id)
    if (!(card instanceof Y.Map)) return false
    const state = this.votingState()
    if (state.frozen) return false
    if (delta > 0 && state.left <= 0) return false
    const votes = this.votesMap(card)
    const current = num(votes.get(this.me.id))
    const next = current + delta
    if (next < 0) return false
    this.transact(() => {
      if (next === 0) votes.delete(this.me.id)
      else votes.set(this.me.id, next)
    })
    return true
  }

  toggleReaction (id, emoji) {
    const card = this.cards.get(id)
    if (!(card instanceof Y.Map)) return
    this.transact(() => {
      let reactions = card.get('reactions')
      if (!(reactions instanceof Y.Map)) {
        reactions = new Y.Map()
        card.set('reactions', reactions)
      }
      let who = reactions.get(emoji)
      if (!(who instanceof Y.Map)) {
        // The one nested map created lazily (SCHEMA.md §3).
        who = new Y.Map()
        reactions.set(emoji, who)
      }
      if (who.get(this.me.id) === true) who.delete(this.me.id)
      else who.set(this.me.id, true)
    })
  }

  addComment (id, text) {
    const card = this.cards.get(id)
    if (!(card instanceof Y.Map) || !text.trim()) return
    this.transact(() => {
      let comments = card.get('comments')
      if (!(comments instanceof Y.Map)) {
        comments = new Y.Map()
        card.set('comments', comments)
      }
      const comment = new Y.Map()
      comments.set(newId(), comment)
      comment.set('author', this.me.name)
      comment.set('authorId', this.me.id)
      comment.set('text', text.trim())
      comment.set('createdAt', Date.now())
    })
  }

  deleteComment (id, commentId) {
    const comments = this.cards.get(id)?.get('comments')
    if (comments instanceof Y.Map) this.transact(() => comments.delete(commentId))
  }

  // ----- stages, lanes, personas -----------------------------------------------------------------

  addStage (name) {
    const last = this.stageList().at(-1)
    const id = newId()
    this.transact(() => {
      const stage = new Y.Map()
      this.stages.set(id, stage)
      stage.set('name', name)
      stage.set('description', '')
      stage.set('position', positionBetween(last?.position, undefined))
      stage.set('metrics', new Y.Map())
      this.touch()
    })
    return id
  }

  setItem (root, id, values) {
    const item = this[root].get(id)
    if (!(item instanceof Y.Map)) return
    this.transact(() => {
      for (const [key, value] of Object.entries(values)) {
        if (value === null || value === undefined || value === '') {
          if (typeof item.get(key) !== 'string' || value === null) item.delete(key)
          else item.set(key, '')
        } else if (item.get(key) !== value) {
          item.set(key, value)
        }
      }
      this.touch()
    })
  }

  /** Moves stage/lane/persona `id` one place earlier (−1) or later (+1). */
  shift (root, id, delta) {
    const list = root === 'stages' ? this.stageList() : root === 'lanes' ? this.laneList() : this.personaList()
    const index = list.findIndex((x) => x.id === id)
    const target = index + delta
    if (index === -1 || target < 0 || target >= list.length) return
    // Placed at index `target` among the others.
    const rest = list.filter((x) => x.id !== id)
    const before = rest[target - 1]
    const after = rest[target]
    this.transact(() => {
      this[root].get(id).set('position', positionBetween(before?.position, after?.position))
      this.touch()
    })
  }

  /** Deletes a stage or a lane and the cards in it. */
  deleteColumnOrRow (root, id) {
    const key = root === 'stages' ? 'stage' : 'lane'
    this.transact(() => {
      for (const [cid, card] of [...this.cards.entries()]) {
        if (card instanceof Y.Map && card.get(key) === id) this.cards.delete(cid)
      }
      this[root].delete(id)
      this.touch()
    })
  }

  addLane (title, kind = 'custom', question = '') {
    const last = this.laneList().at(-1)
    const id = newId()
    this.transact(() => {
      const lane = new Y.Map()
      this.lanes.set(id, lane)
      lane.set('kind', kind)
      lane.set('title', title)
      lane.set('question', question)
      lane.set('position', positionBetween(last?.position, undefined))
      this.touch()
    })
    return id
  }

  addPersona (name) {
    const last = ordered(this.personas).at(-1)
    const id = newId()
    this.transact(() => {
      const persona = new Y.Map()
      this.personas.set(id, persona)
      persona.set('name', name)
      persona.set('position', positionBetween(last ? num(last[1].get('position')) : undefined, undefined))
      this.touch()
    })
    return id
  }

  deleteItem (root, id) {
    this.transact(() => {
      this[root].delete(id)
      this.touch()
    })
  }

  setEmotion (stageId, score) {
    const stage = this.stages.get(stageId)
    if (!(stage instanceof Y.Map)) return
    this.transact(() => {
      if (score === null) stage.delete('emotion')
      else stage.set('emotion', Math.max(-2, Math.min(2, Math.round(score))))
      this.touch()
    })
  }

  setMetric (stageId, metricId, values) {
    const stage = this.stages.get(stageId)
    if (!(stage instanceof Y.Map)) return
    this.transact(() => {
      let metrics = stage.get('metrics')
      if (!(metrics instanceof Y.Map)) {
        metrics = new Y.Map()
        stage.set('metrics', metrics)
      }
      let metric = metrics.get(metricId)
      if (!(metric instanceof Y.Map)) {
        metric = new Y.Map()
        metrics.set(metricId, metric)
        const last = ordered(metrics).filter(([mid]) => mid !== metricId).at(-1)
        metric.set('position', positionBetween(last ? num(last[1].get('position')) : undefined, undefined))
        metric.set('value', 0)
      }
      for (const [key, value] of Object.entries(values)) {
        if (value === null) metric.delete(key)
        else if (metric.get(key) !== value) metric.set(key, value)
      }
      this.touch()
    })
  }

  deleteMetric (stageId, metricId) {
    const metrics = this.stages.get(stageId)?.get('metrics')
    if (metrics instanceof Y.Map) this.transact(() => metrics.delete(metricId))
  }

  // ----- the facilitator's workshop keys (SCHEMA.md §2.6) ----------------------------------------

  setWorkshop (values) {
    this.transact(() => {
      for (const [key, value] of Object.entries(values)) {
        if (value === null) this.workshop.delete(key)
        else this.workshop.set(key, value)
      }
    })
  }

  /** Opens a fresh voting round: every card's dots cleared, the round number bumped. */
  openVotingRound (perParticipant) {
    this.transact(() => {
      for (const [, card] of this.cards.entries()) {
        const votes = card instanceof Y.Map ? card.get('votes') : null
        if (votes instanceof Y.Map) for (const key of [...votes.keys()]) votes.delete(key)
      }
      this.workshop.set('votingRound', num(this.workshop.get('votingRound')) + 1)
      this.workshop.set('votesPerParticipant', Math.max(0, Math.floor(perParticipant)))
      this.workshop.set('votingOpen', true)
    })
  }
}
