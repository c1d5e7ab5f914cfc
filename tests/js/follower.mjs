// A stock Yjs client that stays on a board until every card reads TEXT and there are COUNT of
// them (say, after a restore in place), then prints the cards and leaves. Fails if its
// connection dropped on the way (a restore must not need a reload) or after TIMEOUT_MS.
//
//   node follower.mjs SERVER_URL ROOM COUNT TEXT TIMEOUT_MS
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [serverUrl, room, count, text, timeoutMs] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket })
let synced = false
let drops = 0
// Whether the board changed into the awaited state while this client was connected.
let waited = false
const deadline = setTimeout(() => {
  console.error(`timed out: ${JSON.stringify(doc.getMap('cards').toJSON())}`)
  process.exit(1)
}, Number(timeoutMs))
provider.on('status', ({ status }) => {
  if (status === 'disconnected' && synced) drops += 1
})
provider.on('sync', (s) => { if (s) synced = true; check() })
doc.on('update', () => check())

function check () {
  if (!synced) return
  const cards = Object.values(doc.getMap('cards').toJSON())
  if (cards.length === Number(count) && cards.every((c) => c.text === text)) {
    clearTimeout(deadline)
    console.log(JSON.stringify({ cards, drops, waited }))
    provider.destroy()
    setTimeout(() => process.exit(drops === 0 ? 0 : 2), 100)
  } else {
    waited = true
  }
}
