import { pipeline } from 'node:stream/promises'
import { CliError } from './errors.js'
import { debug, type Output } from './output.js'

/**
 * webtorrent's own HTTP server (`client.createServer()`), which serves every file of every torrent with
 * range requests at `file.streamURL`: what the players open. Listens on -p/--port (webtorrent-cli's
 * default 8000), on a free port when that one is taken, as webtorrent-cli does. Loopback only, unless a
 * network player needs the LAN.
 */
export class StreamServer {
  /** Somebody opened a connection to the server (webtorrent-cli then keeps running after the download). */
  served = false
  private instance: any
  private host = '127.0.0.1'
  private port = 0

  constructor (private readonly client: any, private readonly out: Output) {}

  async listen (port: number, host: string): Promise<number> {
    this.host = host
    this.instance = this.client.createServer({}, 'node')
    const server = this.instance.server
    server.on('connection', () => { this.served = true })
    const tryListen = async (p: number): Promise<number> => await new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        server.removeListener('listening', onListening)
        reject(error)
      }
      const onListening = (): void => {
        server.removeListener('error', onError)
        resolve(server.address().port)
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen(p, host)
    })
    try {
      this.port = await tryListen(port)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'EADDRINUSE' && code !== 'EACCES') throw new CliError(`the HTTP server cannot listen on port ${port}: ${(error as Error).message}`, 'server-failed')
      debug('HTTP port %d: %s; taking a free one', port, code)
      this.port = await tryListen(0)
    }
    const url = `http://${this.urlHost()}:${this.port}/webtorrent/`
    this.out.event('server', { port: this.port, url })
    this.out.info(`HTTP server at ${url}`)
    return this.port
  }

  /** The URL a player opens for a torrent file. */
  urlOf (file: any): string {
    return new URL(`http://${this.urlHost()}:${this.port}${file.streamURL as string}`).toString()
  }

  /** Writes the whole file to `stream` (standard output), in order, as it downloads. */
  async pipeFile (file: any, stream: NodeJS.WritableStream): Promise<void> {
    await pipeline(file.createReadStream(), stream, { end: false })
  }

  async close (): Promise<void> {
    if (!this.instance) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, 3000)
      try {
        this.instance.close(() => {
          clearTimeout(timer)
          resolve()
        })
      } catch (error) {
        debug('closing the HTTP server: %o', error)
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private urlHost (): string {
    return this.host === '0.0.0.0' ? '127.0.0.1' : this.host
  }
}
