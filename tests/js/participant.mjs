// A stock Yjs participant: yjs + y-websocket exactly as a browser app would use them.
//
//   node participant.mjs SERVER_URL ROOM NAME EXPECTED_CARDS [WAIT_FOR_PEERS [together]]
//
// Joins ROOM, announces presence {user: {name: NAME}}, and once synced pushes NAME to the array
// "cards", appends it to the text "notes" and sets meta[NAME] = "here". Waits until "cards" holds
// EXPECTED_CARDS entries (and, if given, until every peer named in the comma-separated
// WAIT_FOR_PEERS is present), then prints the board and the names it saw present as one JSON line
// and leaves cleanly. With "together", the peers are participants like this one, and each stays
// until all of them have seen everyone (each says so in the map "seen"), so that nobody leaves
// before the others have seen it. Bounded: exits 1 after 30 s.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [serverUrl, room, name, expectedRaw, peersRaw, together] = process.argv.slice(2)
const peers = peersRaw ? peersRaw.split(',') : []
const expected = Number(expectedRaw)
const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket })
provider.awareness.setLocalStateField('user', { name })

const cards = doc.getArray('cards')
const notes = doc.getText('notes')
const meta = doc.getMap('meta')
const seen = doc.getMap('seen')
const peersSeen = new Set()

const snapshot = () => ({
  cards: cards.toJSON(),
  notes: notes.toString(),
  meta: meta.toJSON(),
  peersSeen: [...peersSeen].sort()
})

let wrote = false
let finished = false
const check = () => {
  if (finished || !wrote) return
  if (cards.length < expected) return
  if (!peers.every((peer) => peersSeen.has(peer))) return
  if (together === 'together') {
    if (!seen.has(name)) seen.set(name, true)
    if (!peers.every((peer) => seen.has(peer))) return
  }
  finished = true
  clearTimeout(deadline)
  console.log(JSON.stringify(snapshot()))
  provider.destroy()
  setTimeout(() => process.exit(0), 100)
}

provider.awareness.on('change', () => {
  for (const state of provider.awareness.getStates().values()) {
    if (state.user && state.user.name) peersSeen.add(state.user.name)
  }
  check()
})
provider.on('sync', (synced) => {
  if (!synced || wrote) return
  doc.transact(() => {
    cards.push([name])
    notes.insert(notes.length, name)
    meta.set(name, 'here')
  })
  wrote = true
  check()
})
doc.on('update', check)

const deadline = setTimeout(() => {
  console.error('timed out; board as seen:', JSON.stringify(snapshot()))
  process.exit(1)
}, 30000)
