// A no-man's broker for the router tests (tests/test_router_aedes.c):
// aedes, in memory, behind a WebSocket server (ws), one MQTT stream per
// WebSocket connection.
//
//   node aedes-broker.mjs PORT [HOST]
//
// Prints "aedes listening on ws://HOST:PORT" once it accepts connections,
// one line per client connecting or leaving, and exits on SIGTERM.
import { createServer } from 'node:http'
import { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'

const port = Number(process.argv[2])
const host = process.argv[3] ?? '127.0.0.1'
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node aedes-broker.mjs PORT [HOST]')
  process.exit(2)
}

const aedes = await Aedes.createBroker()
const http = createServer()
const wss = new WebSocketServer({ server: http })

wss.on('connection', (socket, req) => {
  aedes.handle(createWebSocketStream(socket), req)
})
aedes.on('client', (c) => console.log(`client ${c.id} connected`))
aedes.on('clientDisconnect', (c) => console.log(`client ${c.id} left`))

http.listen(port, host, () => {
  console.log(`aedes ${process.versions.node} listening on ws://${host}:${port}`)
})

process.on('SIGTERM', () => {
  wss.close()
  aedes.close(() => http.close(() => process.exit(0)))
})
