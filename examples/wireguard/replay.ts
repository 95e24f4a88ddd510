/**
 * The receive side's sliding replay window (RFC 6479): a ring of 32-bit words, one bit per
 * counter, the highest counter seen so far at the front. A counter is accepted once, and only
 * while it is within WINDOW of the highest; moving the front clears whole words, so the cost
 * does not grow with the distance jumped.
 *
 * Counters are numbers: a session carries far fewer than 2^53 packets (keys change every two
 * minutes), so a counter at or above 2^53 is refused like any other out-of-range one.
 */
const WORD_BITS = 32
const WORDS = 256 // 8,192 bits
/** Counters this far behind the highest one accepted are refused (one word is kept free). */
export const REPLAY_WINDOW = (WORDS - 1) * WORD_BITS
const MAX_COUNTER = Number.MAX_SAFE_INTEGER

export class ReplayWindow {
  #bits = new Uint32Array(WORDS)
  /** The highest counter accepted, -1 before the first. */
  #top = -1

  /** Accepts `counter` (and remembers it) if it was not seen and is not too old. */
  accept (counter: number): boolean {
    if (!(counter >= 0 && counter <= MAX_COUNTER)) return false
    const block = Math.floor(counter / WORD_BITS)
    if (counter > this.#top) {
      const topBlock = this.#top < 0 ? -1 : Math.floor(this.#top / WORD_BITS)
      const clear = Math.min(block - topBlock, WORDS)
      for (let i = 1; i <= clear; i++) this.#bits[(topBlock + i) % WORDS] = 0
      this.#top = counter
    } else if (this.#top - counter >= REPLAY_WINDOW) {
      return false
    }
    const word = block % WORDS
    const mask = 1 << (counter % WORD_BITS)
    if ((this.#bits[word] & mask) !== 0) return false
    this.#bits[word] |= mask
    return true
  }

  /** Forget everything (a new session starts from counter 0). */
  reset (): void {
    this.#bits.fill(0)
    this.#top = -1
  }
}
