// c8 ships no types. Only the programmatic report that scripts/fuzz/run.ts uses is declared.
declare module 'c8' {
  export interface ReportOptions {
    tempDirectory: string
    reportsDirectory: string
    reporter: string[]
    include?: string[]
    exclude?: string[]
    all?: boolean
    src?: string[]
    extension?: string[]
    excludeNodeModules?: boolean
  }
  export function Report (options: ReportOptions): { run: () => Promise<void> }
}
