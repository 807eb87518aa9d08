import { join } from 'node:path'
import { makeRandomTorrent } from '../torrents.js'
import { startCtorrent } from '../peers/ctorrent.js'
import { startCapture, describeFlows } from '../capture.js'
import { makeTempDir, removeDir, sleep } from '../peers/common.js'
import { createOurClient, ourListeningPort, destroyOurClient, WireRecorder } from '../ours-side.js'
const policy = (process.argv[2] ?? 'preferred') as 'preferred'
const dir = makeTempDir('probe')
const t = await makeRandomTorrent({ dir: join(dir, 'src'), size: 1024 * 1024 })
const ct = await startCtorrent({ torrent: t, mode: 'seed', seedFrom: t.contentPath })
const client = createOurClient(policy)
const port = await ourListeningPort(client)
const cap = await startCapture({ ports: [ct.port, port] })
const torrent = client.add(t.torrentBuffer, { path: join(dir, 'wt') })
const rec = new WireRecorder(torrent)
await new Promise(r => torrent.once('ready', r))
torrent.addPeer(`${ct.address}:${ct.port}`)
const t0 = Date.now()
while (!torrent.done && Date.now() - t0 < 3000) await sleep(100)
console.log('done', torrent.done, Date.now() - t0, JSON.stringify(client.mseStats), JSON.stringify(rec.records()))
const a = await cap.stopAndAnalyse()
console.log(describeFlows(a.flows))
await destroyOurClient(client); await ct.stop(); cap.dispose(); removeDir(dir)
process.exit(0)
