// bench/tunnel.js's target lines are computed from the run's own cells: a target whose cells
// were not in the run (BENCH_CONFIGS left them out) says so, never a value from no cells.
import t from 'tap'
import * as path from 'path'

interface Cell {
  config: string
  streams: number
  direction: string
  gbps: number
  runs: number[]
  cpuSeconds: number[]
  syscallsPerGB: number | null
  peakRssMiB: number[]
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { targets } = require(path.join(__dirname, '..', 'bench', 'tunnel.js')) as { targets: (results: Cell[]) => string }

function cells (configs: Array<[string, number | null]>): Cell[] {
  const out: Cell[] = []
  for (const [config, syscallsPerGB] of configs) {
    for (const streams of [1, 8, 32]) {
      for (const direction of ['a->b', 'b->a (-R)']) {
        out.push({ config, streams, direction, gbps: 5, runs: [5], cpuSeconds: [], syscallsPerGB, peakRssMiB: [40, 40] })
      }
    }
  }
  return out
}

const sysLine = (text: string): string | undefined => text.split('\n').find((l) => l.includes('syscalls per GB'))

t.test('syscalls per GB: not measured when no tunio offload on cell counted them', async (t) => {
  const line = sysLine(targets(cells([['direct', null], ['tunio native forward', 1000], ['C reference', 1000]])))
  t.ok(line, 'the line is there')
  t.match(line, /not measured in this run/)
  t.notMatch(line, /Infinity|met|MISSED/)
})

t.test('syscalls per GB: the worst cell of tunio offload on, judged against the target', async (t) => {
  const results = cells([['tunio offload on', 120000]])
  results[3].syscallsPerGB = 160000
  t.match(sysLine(targets(results)), /at most 160000 over all cells \(target ≤ 150000: MISSED\)/)
  t.match(sysLine(targets(cells([['tunio offload on', 120000]]))), /at most 120000 .*: met\)/)
})
