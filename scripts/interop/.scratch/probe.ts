import { runScenario, libtorrentSetting, transmissionSetting, ctorrentSetting, ourFlows, mainWire, describeObservation, type PeerSetting } from '../scenario.js'
const settings: Record<string, PeerSetting> = {
  'lt-forced': libtorrentSetting('libtorrent forced', '', { out: 'forced', in: 'forced', level: 'rc4' }),
  'lt-enabled': libtorrentSetting('libtorrent enabled', '', { out: 'enabled', in: 'enabled', level: 'both' }),
  'lt-disabled': libtorrentSetting('libtorrent disabled', '', { out: 'disabled', in: 'disabled', level: 'both' }),
  'tr-2': transmissionSetting('Transmission required', '', 2),
  'tr-1': transmissionSetting('Transmission preferred', '', 1),
  'ct': ctorrentSetting('ctorrent', ''),
}
const [s, role, dial, policy, bound] = process.argv.slice(2)
const obs = await runScenario({ setting: settings[s!]!, role: role as 'seeds', dial: dial === 'they' ? 'they dial' : 'we dial', policy: policy as 'required', boundMs: Number(bound ?? 20000), capture: true })
console.log(s, role, dial, policy, describeObservation(obs))
console.log('main', JSON.stringify(mainWire(obs)))
for (const f of ourFlows(obs)) console.log(f.weDialed ? 'we dialed' : 'they dialed', f.peerEndpoint, f.flow.kind, 'fromUs', f.fromUs.bytes, f.fromUs.containsBtProtocol, 'toUs', f.toUs.bytes, f.toUs.containsBtProtocol)
process.exit(0)
