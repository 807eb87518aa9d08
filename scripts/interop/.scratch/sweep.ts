import { runScenario, libtorrentSetting, transmissionSetting, ctorrentSetting, ourFlows, mainWire, type PeerSetting } from '../scenario.js'
const settings: Record<string, PeerSetting> = {
  'lt-forced': libtorrentSetting('libtorrent forced', '', { out: 'forced', in: 'forced', level: 'rc4' }),
  'lt-enabled': libtorrentSetting('libtorrent enabled', '', { out: 'enabled', in: 'enabled', level: 'both' }),
  'lt-disabled': libtorrentSetting('libtorrent disabled', '', { out: 'disabled', in: 'disabled', level: 'both' }),
  'tr-2': transmissionSetting('Transmission required', '', 2),
  'tr-1': transmissionSetting('Transmission preferred', '', 1),
  'ct': ctorrentSetting('ctorrent', ''),
}
const names = process.argv[2]!.split(',')
const dials = (process.argv[3] ?? 'we,they').split(',')
const bound = Number(process.argv[4] ?? 8000)
for (const s of names) for (const role of ['downloads', 'seeds'] as const) for (const d of dials) for (const policy of ['required', 'preferred'] as const) {
  const setting = settings[s]!
  if (d === 'they' && !setting.canDial) continue
  try {
    const obs = await runScenario({ setting, role, dial: d === 'they' ? 'they dial' : 'we dial', policy, boundMs: bound, capture: true })
    const w = mainWire(obs)
    console.log(`${s} ${role} ${d} ${policy}: completed=${obs.completed} sha=${obs.receivedSha256 === obs.expectedSha256} ${(obs.elapsedMs/1000).toFixed(1)}s main=${JSON.stringify(w?.mse)} stats=${JSON.stringify(obs.stats)} view=${JSON.stringify(obs.peerView.map(v=>v.encryption))}`)
    for (const f of ourFlows(obs)) console.log(`    ${f.weDialed ? 'we dialed' : 'they dialed'} ${f.peerEndpoint} ${f.flow.kind} fromUs=${f.fromUs.bytes}${f.fromUs.containsBtProtocol ? '+BT@' + f.fromUs.btProtocolOffset : ''} toUs=${f.toUs.bytes}${f.toUs.containsBtProtocol ? '+BT@' + f.toUs.btProtocolOffset : ''}`)
  } catch (e) { console.log(`${s} ${role} ${d} ${policy}: ERROR ${(e as Error).message.slice(0, 500)}`) }
}
process.exit(0)
