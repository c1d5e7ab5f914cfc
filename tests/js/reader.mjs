// A stock Yjs client that only reads: joins ROOM, waits for the first sync, prints the board as
// one JSON line and leaves. Bounded: exits 1 after 30 s.
//
//   node reader.mjs SERVER_URL ROOM
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [serverUrl, room] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket })
const deadline = setTimeout(() => {
  console.error('timed out before the first sync')
  process.exit(1)
}, 30000)
provider.on('sync', (synced) => {
  if (!synced) return
  clearTimeout(deadline)
  console.log(JSON.stringify({
    cards: doc.getArray('cards').toJSON(),
    notes: doc.getText('notes').toString(),
    meta: doc.getMap('meta').toJSON()
  }))
  provider.destroy()
  setTimeout(() => process.exit(0), 100)
})
