// Latency histogram: 1 ms buckets (Date.now() has ms resolution anyway) up to
// MAX_MS, exact max. Recording is O(1) and allocation-free, so hundreds of
// clients can record tens of thousands of samples a second.

const MAX_MS = 120_000

export class Histogram {
  constructor () {
    this.buckets = new Uint32Array(MAX_MS + 1)
    this.count = 0
    this.max = 0
    this.sum = 0
  }

  record (ms) {
    if (!(ms >= 0)) ms = 0
    const b = ms > MAX_MS ? MAX_MS : Math.round(ms)
    this.buckets[b]++
    this.count++
    this.sum += ms
    if (ms > this.max) this.max = ms
  }

  percentile (p) {
    if (this.count === 0) return null
    const rank = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    for (let i = 0; i <= MAX_MS; i++) {
      seen += this.buckets[i]
      if (seen >= rank) return i
    }
    return MAX_MS
  }

  summary () {
    if (this.count === 0) return { count: 0, p50: null, p95: null, p99: null, max: null, mean: null }
    return {
      count: this.count,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: Math.round(this.max),
      mean: Math.round((this.sum / this.count) * 10) / 10
    }
  }
}

/** Percentiles of a small plain array (join times and the like). */
export function summarize (values) {
  if (values.length === 0) return { count: 0, p50: null, p95: null, p99: null, max: null }
  const s = [...values].sort((a, b) => a - b)
  const at = p => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
  return { count: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] }
}
