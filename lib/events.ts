/** EventEmitter with its event names and listener arguments typed by an event map. */
import { EventEmitter } from 'events'

/**
 * The EventEmitter methods that take an event name, narrowed to `Events` (event name ->
 * listener arguments): an unknown name or a listener reading a field its event does not have
 * does not compile. Everything else is EventEmitter's own.
 */
export interface TypedEvents<Events extends { [K in keyof Events]: unknown[] }> {
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  addListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  removeListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  prependListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  prependOnceListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
  emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean
}

/** @internal EventEmitter itself at run time (instanceof EventEmitter holds), typed by `Events`. */
export const TypedEmitter = EventEmitter as unknown as new <Events extends { [K in keyof Events]: unknown[] }>() =>
  TypedEvents<Events> & Omit<EventEmitter, keyof TypedEvents<Record<never, never>>>
