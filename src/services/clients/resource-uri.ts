// What a resource URI (RFC 8707 §2) must look like to register a client as a resource server: an
// absolute URI without a fragment, bounded in length, kept exactly as given, since tokens name it
// in `aud` and resource servers compare it as a string.
import { InvalidInput } from '../../errors.js'

const MAX_LENGTH = 512

/** The resource URI as registered; InvalidInput for anything RFC 8707 does not allow. */
export function checkResourceUri(text: string): string {
  // No spaces nor control characters: the URI is compared as a string, and printed in the CLI.
  const unprintable = [...text].some((char) => char.charCodeAt(0) <= 0x20 || char === '\u007f')
  if (text.length === 0 || text.length > MAX_LENGTH || unprintable)
    throw new InvalidInput(`A resource is an absolute URI of at most ${MAX_LENGTH} characters`)
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new InvalidInput('A resource must be an absolute URI, e.g. https://orders.example')
  }
  // A fragment is never sent to a server: a URI with one names no resource (RFC 8707 §2).
  if (text.includes('#') || parsed.hash !== '')
    throw new InvalidInput('A resource URI must not contain a fragment')
  return text
}
