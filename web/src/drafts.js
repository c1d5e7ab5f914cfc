// Private brainstorm notes: kept on this device only (localStorage), never in the shared document,
// until the facilitator reveals the round; then each client publishes its own as ordinary cards.
// See SCHEMA.md §2.6 (`brainstormPrivate`, `brainstormRevealAt`).

import { newId, NOTE_COLOURS } from './model.js'

export class Drafts {
  constructor (boardId, participantId) {
    /** localStorage key: one list per board and participant. */
    this.key = `parcours.drafts.${boardId}.${participantId}`
  }

  list () {
    try {
      const list = JSON.parse(localStorage.getItem(this.key) ?? '[]')
      return Array.isArray(list) ? list : []
    } catch {
      return []
    }
  }

  save (list) {
    if (list.length) localStorage.setItem(this.key, JSON.stringify(list))
    else localStorage.removeItem(this.key)
  }

  get (id) {
    return this.list().find((d) => d.id === id) ?? null
  }

  add (stage, lane) {
    const draft = { id: newId(), stage, lane, text: '', color: NOTE_COLOURS[0], createdAt: Date.now() }
    this.save([...this.list(), draft])
    return draft.id
  }

  update (id, patch) {
    this.save(this.list().map((d) => (d.id === id ? { ...d, ...patch } : d)))
  }

  remove (id) {
    this.save(this.list().filter((d) => d.id !== id))
  }

  /** A draft shaped like a card read from the board, for the details panel. */
  asCard (id, me) {
    const d = this.get(id)
    return d && { ...d, draft: true, author: me.name, authorId: me.id, votes: {}, voteTotal: 0, reactions: {}, comments: [] }
  }
}
