// An outsider on the no-man's broker (tests/test_router_aedes.c): MQTT.js
// subscribed to everything, one line "TOPIC HEX" per message appended to
// FILE, the way mosquitto_sub -F '%t %x' writes them.
//
//   node sniff.mjs URL FILE
//
// Prints "subscribed to #" once the broker granted the subscription.
import { appendFileSync } from 'node:fs'
import mqtt from 'mqtt'

const [url, file] = process.argv.slice(2)
if (url === undefined || file === undefined) {
  console.error('usage: node sniff.mjs URL FILE')
  process.exit(2)
}

const client = mqtt.connect(url, {
  clientId: `outsider-${process.pid}`,
  protocolVersion: 4,
  clean: true,
  reconnectPeriod: 500
})

client.on('connect', () => {
  client.subscribe('#', { qos: 1 }, (err, granted) => {
    if (err || granted.some((g) => g.qos > 2)) {
      console.error(`subscribe refused: ${err ?? JSON.stringify(granted)}`)
      process.exit(1)
    }
    console.log('subscribed to #')
  })
})
client.on('message', (topic, payload) => {
  appendFileSync(file, `${topic} ${payload.toString('hex')}\n`)
})
client.on('error', (err) => console.error(`mqtt: ${err.message}`))

process.on('SIGTERM', () => client.end(false, () => process.exit(0)))
