// A stock Yjs client given a token: yjs + y-websocket exactly as a browser app would use them,
// passing the token as y-websocket's `params` (it becomes `?token=` on the URL).
//
//   node viewer.mjs SERVER_URL ROOM TOKEN NAME WAIT_FOR_PEER
//
// Joins ROOM, announces presence {user: {name: NAME}}, waits until a peer named WAIT_FOR_PEER is
// present, then tries two edits: a new card "intruder" and a new board title. Waits until the
// server's permission-denied message arrived and its own view of the board is back to the
// server's (no intruder card, the original title), and until WAIT_FOR_PEER's presence says it saw
// this client (`saw: NAME`), then prints one JSON line and leaves cleanly.
// Bounded: exits 1 after 30 s.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [serverUrl, room, token, name, waitForPeer] = process.argv.slice(2)
const denied = []

const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, room, doc, {
  WebSocketPolyfill: WebSocket,
  params: { token }
})
provider.awareness.setLocalStateField('user', { name })
const cards = doc.getMap('cards')
const meta = doc.getMap('meta')
const peersSeen = new Set()
let seenByPeer = false
let titleBefore
let tried = false
let finished = false

const snapshot = () => ({
  denied,
  cardIds: [...cards.keys()].sort(),
  title: meta.get('title'),
  titleBefore,
  peersSeen: [...peersSeen].sort()
})

const tryEdits = () => {
  if (tried || !provider.synced || !peersSeen.has(waitForPeer)) return
  tried = true
  titleBefore = meta.get('title')
  doc.transact(() => {
    const card = new Y.Map()
    cards.set('intruder', card)
    card.set('author', name)
  })
  doc.transact(() => meta.set('title', 'Hijacked'))
}

const check = () => {
  tryEdits()
  if (finished || !tried || denied.length < 2 || !seenByPeer) return
  if (cards.has('intruder') || meta.get('title') !== titleBefore) return
  finished = true
  clearTimeout(deadline)
  console.log(JSON.stringify(snapshot()))
  provider.destroy()
  setTimeout(() => process.exit(0), 100)
}
// y-websocket reports a permission-denied message through console.warn; the correction that
// follows it arrives as ordinary updates.
const warn = console.warn
console.warn = (...args) => {
  const text = args.join(' ')
  if (!text.includes('Permission denied')) return warn(...args)
  denied.push(text)
  setTimeout(check, 0)
}

provider.awareness.on('change', () => {
  for (const state of provider.awareness.getStates().values()) {
    if (state.user && state.user.name) peersSeen.add(state.user.name)
    if (state.user && state.user.name === waitForPeer && state.saw === name) seenByPeer = true
  }
  check()
})
provider.on('sync', check)
doc.on('update', check)

const deadline = setTimeout(() => {
  console.error('timed out; board as seen:', JSON.stringify(snapshot()))
  process.exit(1)
}, 30000)
