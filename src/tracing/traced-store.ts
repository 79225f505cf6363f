// The store behind a proxy that makes one span per call (`store.<method>`, with the database system
// and the method's name, never its arguments or results), when tracing is on. Off, the store is not
// wrapped at all.
import { ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME } from '@opentelemetry/semantic-conventions'
import type { Store } from '../store/contract.js'
import type { StartSpan } from './tracing.js'

/** Synchronous bookkeeping, not a database call: not traced. */
const UNTRACED = new Set<PropertyKey>(['poolStats', 'delivered', 'pending', 'constructor'])

/** `db.system.name` from the database URL: `postgresql` or `sqlite`. */
export function databaseSystem(databaseUrl: string): string {
  return /^postgres(ql)?:/i.test(databaseUrl) ? 'postgresql' : 'sqlite'
}

export function traceStore<S extends Store>(store: S, system: string, startSpan: StartSpan): S {
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property)
      if (typeof value !== 'function' || UNTRACED.has(property)) return value
      let traced = wrapped.get(property)
      if (traced === undefined) {
        const method = String(property)
        const attributes = {
          [ATTR_DB_SYSTEM_NAME]: system,
          // The older name, still what many backends group by.
          'db.system': system,
          [ATTR_DB_OPERATION_NAME]: method,
        }
        const call = value as (...args: unknown[]) => unknown
        // Called on the store itself whatever `this` is (the owner cache's wrapper inherits from the
        // proxy): a driver's methods use its private state, and calls between them are not traced twice.
        traced = (...args: unknown[]): unknown => {
          const end = startSpan(`store.${method}`, attributes)
          let result: unknown
          try {
            result = call.apply(target, args)
          } catch (error) {
            end(error)
            throw error
          }
          if (result instanceof Promise)
            return result.then(
              (settled: unknown) => {
                end()
                return settled
              },
              (error: unknown) => {
                end(error)
                throw error
              },
            )
          end()
          return result
        }
        wrapped.set(property, traced)
      }
      return traced
    },
  })
}
