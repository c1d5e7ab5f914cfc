// A stock Yjs client editing a journey board exactly as SCHEMA.md documents it.
//
//   node schema_client.mjs SERVER_URL BOARD_ID
//
// Waits for the first sync, finds the first stage and the pain-points lane, adds a card there
// (a Y.Map with a Y.Text), edits its text, adds a second card in the next stage, moves the first
// card to the next stage, votes on it, and sets the first stage's emotion to -1. Prints
// {"card": id, "other": id, "stage": id, "lane": id, "nextStage": id} and leaves once the server
// has everything (a second provider sees it). Bounded: exits 1 after 30 s.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [serverUrl, room] = process.argv.slice(2)
const deadline = setTimeout(() => { console.error('timed out'); process.exit(1) }, 30000)

const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket })
const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(8)),
  (b) => b.toString(16).padStart(2, '0')).join('')
const byPosition = (map) => [...map.entries()]
  .filter(([, v]) => v instanceof Y.Map)
  .sort(([ia, a], [ib, b]) => (a.get('position') ?? 0) - (b.get('position') ?? 0) || (ia < ib ? -1 : 1))

function addCard (cards, stage, lane, text) {
  const id = newId()
  const now = Date.now()
  doc.transact(() => {
    const card = new Y.Map()
    cards.set(id, card)
    card.set('stage', stage)
    card.set('lane', lane)
    const ytext = new Y.Text()
    card.set('text', ytext)
    ytext.insert(0, text)
    card.set('author', 'js-client')
    card.set('color', '#ffd166')
    card.set('team', 'support')
    card.set('createdAt', now)
    card.set('updatedAt', now)
    card.set('position', 1)
    card.set('votes', new Y.Map())
    card.set('comments', new Y.Map())
    card.set('reactions', new Y.Map())
  })
  return id
}

provider.once('sync', () => {
  const stages = byPosition(doc.getMap('stages'))
  const lanes = byPosition(doc.getMap('lanes'))
  const cards = doc.getMap('cards')
  const [stage] = stages[0]
  const [nextStage] = stages[1]
  const [lane] = lanes.find(([, l]) => l.get('kind') === 'painPoints')
  const card = addCard(cards, stage, lane, 'Hidden delivery fees')
  const other = addCard(cards, nextStage, lane, 'Too many steps at checkout')
  doc.transact(() => {
    cards.get(card).get('text').insert(0, 'Surprise: ')
    cards.get(card).set('stage', nextStage)
    cards.get(card).set('position', 0.5)
    cards.get(card).get('votes').set('participant-1', 2)
    doc.getMap('stages').get(stage).set('emotion', -1)
  })
  // A second, fresh provider seeing the last edit means the server stored all of them.
  const check = new Y.Doc()
  const checker = new WebsocketProvider(serverUrl, room, check, { WebSocketPolyfill: WebSocket })
  let finished = false
  const done = () => {
    const c = check.getMap('cards').get(card)
    if (finished) return
    if (c && c.get('stage') === nextStage && check.getMap('stages').get(stage)?.get('emotion') === -1) {
      finished = true
      clearTimeout(deadline)
      console.log(JSON.stringify({ card, other, stage, lane, nextStage }))
      provider.destroy()
      checker.destroy()
      setTimeout(() => process.exit(0), 100)
    }
  }
  check.on('update', done)
  checker.on('sync', done)
})
