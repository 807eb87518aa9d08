/**
 * Deep-packet-inspection verdicts for the flows of a capture, from two independent classifiers:
 *
 * - nDPI (`ndpiReader`, Debian package libndpi-bin), the DPI engine many ISPs' and firewalls' traffic
 *   classification is built on. It labels BitTorrent from plaintext signatures and then caches both
 *   endpoints (IP:port, also port+1/+2) of every flow it labelled, so that later flows between the same
 *   endpoints, encrypted ones included, are labelled BitTorrent too ("Confidence: DPI (cache)"). One
 *   plaintext connection in a capture would therefore taint an encrypted one on the same ports (the
 *   fallback scenarios have both). Each flow is therefore cut into its own pcap (tcpdump -r with the
 *   flow's 4-tuple) and classified by a fresh ndpiReader: the verdict is about that flow's bytes only.
 * - Wireshark's BitTorrent dissector (`tshark`), forced onto the scenario's ports with decode-as
 *   (`-d tcp.port==X,bittorrent`), so it does not depend on its heuristics: a flow counts as BitTorrent
 *   when the dissector finds the BitTorrent handshake (`bittorrent.protocol.name`). Random bytes pushed
 *   through the forced dissector come out as junk "messages", never as the handshake. tshark reassembles
 *   and dissects each TCP stream on its own, so one run over the whole capture is enough. uTP flows go
 *   through its uTP dissector (`-d udp.port==X,bt-utp`), which hands the payload to the same dissector.
 *
 * uTP's own header is in the clear whatever MSE does inside it, and nDPI labels uTP BitTorrent from that
 * header alone: an encrypted uTP flow stays visible. The suite reports those verdicts and asserts
 * invisibility for TCP flows only.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FlowRecord } from './flows.js'
import { findTcpdump } from './capture.js'
import { findTshark } from './tshark.js'
import { makeTempDir, removeDir, which } from './peers/common.js'

const run = promisify(execFile)
const TOOL_TIMEOUT_MS = 60_000

export interface DpiVerdict {
  /** nDPI's protocol label for the flow (e.g. `Unknown`, `BitTorrent`). */
  ndpi: string
  ndpiBitTorrent: boolean
  /** tshark's BitTorrent dissector found the BitTorrent handshake in the flow. */
  tsharkBitTorrent: boolean
}

export function findNdpiReader (): string | undefined {
  return which('ndpiReader')
}

/** One verdict per flow (by `flow.index`). `ports`: where tshark's dissector is forced. */
export async function dpiVerdicts (file: string, flows: FlowRecord[], ports: number[]): Promise<Map<number, DpiVerdict>> {
  const tsharkFlows = await tsharkBitTorrentFlows(file, ports)
  const out = new Map<number, DpiVerdict>()
  const dir = makeTempDir('dpi')
  try {
    for (const flow of flows) {
      const ndpi = await ndpiLabel(flows.length === 1 ? file : await cutFlow(file, flow, join(dir, `flow-${flow.index}.pcap`)))
      out.set(flow.index, { ndpi, ndpiBitTorrent: /BitTorrent/i.test(ndpi), tsharkBitTorrent: tsharkFlows.has(flowKey(flow.initiator, flow.responder)) })
    }
  } finally {
    removeDir(dir)
  }
  return out
}

function flowKey (a: { ip: string; port: number }, b: { ip: string; port: number }): string {
  const x = `${a.ip.replace(/^::ffff:/, '')}:${a.port}`
  const y = `${b.ip.replace(/^::ffff:/, '')}:${b.port}`
  return x < y ? `${x}|${y}` : `${y}|${x}`
}

/** The flows (4-tuple keys) in which the forced BitTorrent dissector finds the handshake. */
async function tsharkBitTorrentFlows (file: string, ports: number[]): Promise<Set<string>> {
  const tshark = findTshark()
  if (!tshark) throw new Error('tshark not found (scripts/install-peers installs it)')
  const decodeAs = [...new Set(ports)].flatMap((p) => ['-d', `tcp.port==${p},bittorrent`, '-d', `udp.port==${p},bt-utp`])
  const { stdout } = await run(tshark, [
    '-r', file, '-n', ...decodeAs, '-Y', 'bittorrent.protocol.name',
    '-T', 'fields', '-E', 'separator=|', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport', '-e', 'udp.dstport',
  ], { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 })
  const keys = new Set<string>()
  for (const line of stdout.split('\n')) {
    const [src4, src6, tcpSport, udpSport, dst4, dst6, tcpDport, udpDport] = line.split('|')
    const sport = tcpSport || udpSport
    const dport = tcpDport || udpDport
    if (!sport || !dport) continue
    keys.add(flowKey({ ip: src4 || src6 || '', port: Number(sport) }, { ip: dst4 || dst6 || '', port: Number(dport) }))
  }
  return keys
}

/** Writes the packets of one flow (its transport and 4-tuple) to `out`. */
async function cutFlow (file: string, flow: FlowRecord, out: string): Promise<string> {
  const tcpdump = findTcpdump()
  if (!tcpdump) throw new Error('tcpdump not found')
  const { initiator: a, responder: b } = flow
  const filter = `${flow.transport === 'utp' ? 'udp' : 'tcp'} and host ${a.ip} and port ${a.port} and host ${b.ip} and port ${b.port}`
  await run(tcpdump, ['-r', file, '-w', out, filter], { timeout: TOOL_TIMEOUT_MS })
  return out
}

/** nDPI's label for the (single) flow in `file`: the first `[proto: N/Name]` of ndpiReader's flow list. */
async function ndpiLabel (file: string): Promise<string> {
  const ndpi = findNdpiReader()
  if (!ndpi) throw new Error('ndpiReader not found (scripts/install-peers installs libndpi-bin)')
  const { stdout } = await run(ndpi, ['-i', file, '-v', '2'], { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 })
  const m = /\[proto: [\d.]+\/([^\]]+)\]/.exec(stdout)
  return m ? m[1]! : 'Unknown'
}
