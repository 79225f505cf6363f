// The parser for application/x-www-form-urlencoded bodies. Unlike a general form parser it refuses
// repeated parameters (RFC 6749 §3.1: parameters MUST NOT be included more than once) and charsets
// other than UTF-8, instead of guessing which value was meant.
import type { FastifyInstance } from 'fastify'
import { InvalidRequest } from '../errors.js'

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'

export function parseForm(body: string, contentType: string | undefined): Record<string, string> {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase()
  if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new InvalidRequest(`Unsupported charset '${charset.slice(0, 40)}': send UTF-8`)
  }
  const fields: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in fields)
      throw new InvalidRequest(`Parameter '${name.slice(0, 40)}' must not be repeated`)
    fields[name] = value
  }
  return fields
}

const FORM_MEDIA_TYPE = /^[ \t]*application\/x-www-form-urlencoded[ \t]*(;|$)/i

/** In this plugin scope, accept only form bodies; anything else is an invalid request, not a 415. */
export function acceptOnlyForms(app: FastifyInstance): void {
  // A content type Fastify cannot read at all (blank, garbage) would otherwise be its own 415, before
  // any parser runs, without the RFC 6749 error code that clients of these endpoints look for.
  app.addHook('preParsing', async (request) => {
    const type = request.headers['content-type']
    if (type !== undefined && !FORM_MEDIA_TYPE.test(type))
      throw new InvalidRequest(`The body must be ${FORM_CONTENT_TYPE}`)
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(FORM_CONTENT_TYPE, { parseAs: 'string' }, (request, body, done) => {
    try {
      done(null, parseForm(body as string, request.headers['content-type']))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(new InvalidRequest(`The body must be ${FORM_CONTENT_TYPE}`), undefined)
  })
}
